#include "elf/ldcache.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>

namespace distill::elf {

int cache_flags(const std::string& arch) {
  constexpr int kElfLibc6 = 0x0003;
  static const std::map<std::string, int> arch_flags = {
      {"amd64", 0x0300},    // FLAG_X8664_LIB64
      {"arm64", 0x0a00},    // FLAG_AARCH64_LIB64
      {"armhf", 0x0900},    // FLAG_ARM_LIBHF
      {"s390x", 0x0400},    // FLAG_S390_LIB64
      {"ppc64el", 0x0500},  // FLAG_POWERPC_LIB64
      {"riscv64", 0x1000},  // FLAG_RISCV_FLOAT_ABI_DOUBLE
      {"i386", 0x0000},
  };
  auto it = arch_flags.find(arch);
  return kElfLibc6 | (it == arch_flags.end() ? 0 : it->second);
}

int libcmp(const char* p1, const char* p2) {
  while (*p1 != '\0') {
    if (*p1 >= '0' && *p1 <= '9') {
      if (*p2 >= '0' && *p2 <= '9') {
        int v1 = *p1++ - '0', v2 = *p2++ - '0';
        while (*p1 >= '0' && *p1 <= '9') v1 = v1 * 10 + *p1++ - '0';
        while (*p2 >= '0' && *p2 <= '9') v2 = v2 * 10 + *p2++ - '0';
        if (v1 != v2) return v1 - v2;
      } else {
        return 1;
      }
    } else if (*p2 >= '0' && *p2 <= '9') {
      return -1;
    } else if (*p1 != *p2) {
      return *p1 - *p2;
    } else {
      ++p1;
      ++p2;
    }
  }
  return *p1 - *p2;
}

namespace {

void put32(std::string& s, uint32_t v) { s.append(reinterpret_cast<const char*>(&v), 4); }
void put64(std::string& s, uint64_t v) { s.append(reinterpret_cast<const char*>(&v), 8); }

}  // namespace

std::string write_ld_so_cache(std::vector<CacheEntry> entries, int flags) {
  // Descending library order, as ldconfig's compare() sorts; ld.so's binary
  // search depends on it. Ties keep their given order (directory order).
  std::stable_sort(entries.begin(), entries.end(),
                   [](const CacheEntry& a, const CacheEntry& b) { return libcmp(b.soname.c_str(), a.soname.c_str()) < 0; });
  const uint32_t header = 48, entry_size = 24;
  uint32_t str_offset = header + entry_size * static_cast<uint32_t>(entries.size());
  std::string strings;
  std::vector<std::pair<uint32_t, uint32_t>> offsets;
  for (const CacheEntry& e : entries) {
    uint32_t key = str_offset + static_cast<uint32_t>(strings.size());
    strings += e.soname;
    strings += '\0';
    uint32_t value = str_offset + static_cast<uint32_t>(strings.size());
    strings += e.path;
    strings += '\0';
    offsets.emplace_back(key, value);
  }
  std::string out = "glibc-ld.so.cache1.1";
  put32(out, static_cast<uint32_t>(entries.size()));
  put32(out, static_cast<uint32_t>(strings.size()));
  out += static_cast<char>(2);  // cache_file_new_flags_endian_little
  out.append(3, '\0');
  put32(out, 0);  // no extension directory
  out.append(12, '\0');
  for (size_t i = 0; i < entries.size(); ++i) {
    put32(out, static_cast<uint32_t>(flags));
    put32(out, offsets[i].first);
    put32(out, offsets[i].second);
    put32(out, 0);  // osversion
    put64(out, 0);  // hwcap
  }
  out += strings;
  return out;
}

}  // namespace distill::elf
