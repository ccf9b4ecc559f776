#include "elf/ldcache.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <string_view>

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

bool looks_like_dso(const std::string& n) {
  return ((n.starts_with("lib") || n.starts_with("ld-")) && n.find(".so") != std::string::npos) || n.starts_with("ld.so.") ||
         n.starts_with("ld64.so.");
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

bool big_endian_arch(const std::string& arch) {
  // Debian's big-endian architectures (released and ports).
  static const std::set<std::string> big = {"s390x", "powerpc", "ppc64", "sparc64", "hppa", "m68k", "mips", "mips64"};
  return big.contains(arch);
}

namespace {

// The cache is read by the target's ld.so, in the target's byte order:
// every number goes through these, never a host-order memcpy alone.
template <typename T>
T target_order(T v, bool big) {
  return big == (std::endian::native == std::endian::big) ? v : std::byteswap(v);
}

template <typename T>
void put(std::string& s, T v, bool big) {
  v = target_order(v, big);
  s.append(reinterpret_cast<const char*>(&v), sizeof v);
}

template <typename T>
T get(std::string_view d, bool big, size_t at) {
  T v = 0;
  if (at <= d.size() && d.size() - at >= sizeof v) std::memcpy(&v, d.data() + at, sizeof v);
  return target_order(v, big);
}

std::string get_string(std::string_view d, size_t at) {
  if (at >= d.size()) return "";
  return std::string(d.data() + at, ::strnlen(d.data() + at, d.size() - at));
}

constexpr std::string_view kMagicNew = "glibc-ld.so.cache1.1";
constexpr std::string_view kMagicOld = "ld.so-1.7.0";
constexpr uint32_t kHeaderNew = 48, kEntryNew = 24, kHeaderOld = 16, kEntryOld = 12;
constexpr uint32_t kExtensionMagic = 0xeaa42174;
constexpr uint32_t kTagGlibcHwcaps = 1;
// dl-cache.h: bit 62 marks an index into the glibc-hwcaps section in the
// low 32 bits; bits 32..41 may hold an x86 ISA level.
constexpr uint64_t kHwcapExtension = 1ull << 62;
constexpr uint64_t kIsaLevelMask = (1ull << 10) - 1;

bool is_hwcaps_extension(uint64_t hwcap) { return ((hwcap >> 32) & ~kIsaLevelMask) == (kHwcapExtension >> 32); }

/// ldconfig's order (cache.c compare): names descending, then flags
/// descending, then a name's glibc-hwcaps entries (by subdirectory) before
/// its ordinary one.
bool cache_order(const CacheEntry& a, const CacheEntry& b) {
  if (int c = libcmp(b.soname.c_str(), a.soname.c_str()); c != 0) return c < 0;
  if (a.flags != b.flags) return a.flags > b.flags;
  if (a.hwcaps.empty() != b.hwcaps.empty()) return !a.hwcaps.empty();
  return a.hwcaps < b.hwcaps;
}

/// The extension directory with one section: the glibc-hwcaps names, as
/// string table offsets.
std::string hwcaps_extension(uint32_t at, const std::vector<uint32_t>& name_offsets, bool big) {
  std::string out;
  put<uint32_t>(out, kExtensionMagic, big);
  put<uint32_t>(out, 1, big);
  put<uint32_t>(out, kTagGlibcHwcaps, big);
  put<uint32_t>(out, 0, big);
  put<uint32_t>(out, at + 8 + 16, big);
  put<uint32_t>(out, static_cast<uint32_t>(4 * name_offsets.size()), big);
  for (uint32_t o : name_offsets) put<uint32_t>(out, o, big);
  return out;
}

}  // namespace

std::string write_ld_so_cache(std::vector<CacheEntry> entries, int flags, bool big) {
  for (CacheEntry& e : entries)
    if (e.flags < 0) e.flags = flags;
  // Ties keep their given order (directory order), as ldconfig's insertion.
  std::stable_sort(entries.begin(), entries.end(), cache_order);
  std::vector<std::string> hwcaps_names;
  for (const CacheEntry& e : entries)
    if (!e.hwcaps.empty()) hwcaps_names.push_back(e.hwcaps);
  std::sort(hwcaps_names.begin(), hwcaps_names.end());
  hwcaps_names.erase(std::unique(hwcaps_names.begin(), hwcaps_names.end()), hwcaps_names.end());

  uint32_t str_offset = kHeaderNew + kEntryNew * static_cast<uint32_t>(entries.size());
  std::string strings;
  auto add_string = [&](const std::string& s) {
    uint32_t at = str_offset + static_cast<uint32_t>(strings.size());
    strings += s;
    strings += '\0';
    return at;
  };
  std::string table;
  for (const CacheEntry& e : entries) {
    uint64_t hwcap = 0;
    if (!e.hwcaps.empty())
      hwcap = kHwcapExtension | static_cast<uint64_t>(std::lower_bound(hwcaps_names.begin(), hwcaps_names.end(), e.hwcaps) - hwcaps_names.begin());
    put<uint32_t>(table, static_cast<uint32_t>(e.flags), big);
    put<uint32_t>(table, add_string(e.soname), big);
    put<uint32_t>(table, add_string(e.path), big);
    put<uint32_t>(table, 0, big);  // osversion
    put<uint64_t>(table, hwcap, big);
  }
  std::vector<uint32_t> name_offsets;
  for (const std::string& n : hwcaps_names) name_offsets.push_back(add_string(n));
  uint32_t end = str_offset + static_cast<uint32_t>(strings.size());
  uint32_t extension_at = hwcaps_names.empty() ? 0 : (end + 3) & ~3u;

  std::string out(kMagicNew);
  put<uint32_t>(out, static_cast<uint32_t>(entries.size()), big);
  put<uint32_t>(out, static_cast<uint32_t>(strings.size()), big);
  // cache_file_new_flags_endian_big or _little: ld.so ignores a cache
  // marked with the other byte order.
  out += static_cast<char>(big ? 3 : 2);
  out.append(3, '\0');
  put<uint32_t>(out, extension_at, big);
  out.append(12, '\0');
  out += table;
  out += strings;
  if (extension_at) {
    out.append(extension_at - end, '\0');
    out += hwcaps_extension(extension_at, name_offsets, big);
  }
  return out;
}

namespace {

/// The glibc-hwcaps subdirectory names of a new-format cache at `base`;
/// section offsets count from the file's start, name offsets from `base`.
std::vector<std::string> read_hwcaps_names(std::string_view d, size_t base, bool big) {
  std::vector<std::string> names;
  uint32_t ext = get<uint32_t>(d, big, base + 32);
  if (!ext || get<uint32_t>(d, big, ext) != kExtensionMagic) return names;
  uint32_t count = std::min<uint32_t>(get<uint32_t>(d, big, ext + 4), 64);
  for (uint32_t i = 0; i < count; ++i) {
    size_t section = ext + 8 + 16 * size_t(i);
    if (get<uint32_t>(d, big, section) != kTagGlibcHwcaps) continue;
    uint32_t offset = get<uint32_t>(d, big, section + 8), size = get<uint32_t>(d, big, section + 12);
    for (uint32_t j = 0; j + 4 <= size && offset + j + 4 <= d.size(); j += 4)
      names.push_back(get_string(d, base + get<uint32_t>(d, big, offset + j)));
  }
  return names;
}

}  // namespace

std::optional<LdCache> LdCache::parse(std::string_view d) {
  LdCache cache;
  auto add = [&](CacheEntry e, uint64_t hwcap) {
    cache.m_by_name[e.soname].push_back(cache.m_entries.size());
    cache.m_entries.push_back(std::move(e));
    cache.m_legacy_hwcap.push_back(hwcap);
  };
  // The old format does not say its byte order: it is the one in which
  // the entry count fits the file.
  auto fits = [&](bool big_endian, size_t count_at, size_t header, size_t entry) {
    return d.size() >= header && (d.size() - header) / entry >= get<uint32_t>(d, big_endian, count_at);
  };
  size_t base = 0;
  bool big = false;
  if (!d.starts_with(kMagicNew)) {
    if (!d.starts_with(kMagicOld) || d.size() < kHeaderOld) return std::nullopt;
    big = !fits(false, 12, kHeaderOld, kEntryOld) && fits(true, 12, kHeaderOld, kEntryOld);
    uint32_t n = get<uint32_t>(d, big, 12);
    if ((d.size() - kHeaderOld) / kEntryOld < n) return std::nullopt;
    // The new format may follow the old entries, aligned as struct cache_file_new.
    base = (kHeaderOld + size_t(n) * kEntryOld + 7) & ~size_t(7);
    if (d.size() < base + kHeaderNew || !d.substr(base).starts_with(kMagicNew)) {
      size_t strings = kHeaderOld + size_t(n) * kEntryOld;
      for (uint32_t i = 0; i < n; ++i) {
        size_t e = kHeaderOld + size_t(i) * kEntryOld;
        add({get_string(d, strings + get<uint32_t>(d, big, e + 4)), get_string(d, strings + get<uint32_t>(d, big, e + 8)), "",
             static_cast<int>(get<uint32_t>(d, big, e))}, 0);
      }
      return cache;
    }
  }
  if (d.size() < base + kHeaderNew) return std::nullopt;
  // cache_file_new.flags: 2 little-endian, 3 big-endian, 0 unset (glibc
  // before 2.32): then the order in which the count fits.
  switch (d[base + 28] & 3) {
    case 2: big = false; break;
    case 3: big = true; break;
    default: big = !fits(false, base + 20, base + kHeaderNew, kEntryNew) && fits(true, base + 20, base + kHeaderNew, kEntryNew);
  }
  uint32_t n = get<uint32_t>(d, big, base + 20);
  if ((d.size() - base - kHeaderNew) / kEntryNew < n) return std::nullopt;
  std::vector<std::string> hwcaps_names = read_hwcaps_names(d, base, big);
  for (uint32_t i = 0; i < n; ++i) {
    size_t e = base + kHeaderNew + size_t(i) * kEntryNew;
    uint64_t hwcap = get<uint64_t>(d, big, e + 16);
    CacheEntry entry{get_string(d, base + get<uint32_t>(d, big, e + 4)), get_string(d, base + get<uint32_t>(d, big, e + 8)), "",
                     static_cast<int>(get<uint32_t>(d, big, e))};
    if (is_hwcaps_extension(hwcap)) {
      uint32_t index = static_cast<uint32_t>(hwcap);
      // A name ld.so could not find is never used: kept as a legacy entry.
      if (index < hwcaps_names.size()) {
        entry.hwcaps = hwcaps_names[index];
        hwcap = 0;
      }
    }
    add(std::move(entry), hwcap);
  }
  return cache;
}

std::optional<std::string> LdCache::lookup(const std::string& name, int flags, const std::vector<std::string>& hwcaps) const {
  auto it = m_by_name.find(name);
  if (it == m_by_name.end()) return std::nullopt;
  // i386 and other arches without a FLAG_*: generic ELF entries fit too.
  auto fits = [&](int f) { return f == flags || (flags == 3 && f == 1); };
  std::optional<std::string> best;
  size_t best_priority = 0;
  for (size_t i : it->second) {
    const CacheEntry& e = m_entries[i];
    if (!fits(e.flags)) continue;
    bool named = !e.hwcaps.empty();
    if (!named && best) break;  // the hwcaps entries come first: the best of them wins
    if (!named && m_legacy_hwcap[i] != 0) continue;
    if (named) {
      auto at = std::find(hwcaps.begin(), hwcaps.end(), e.hwcaps);
      if (at == hwcaps.end()) continue;  // a level this CPU lacks
      size_t priority = static_cast<size_t>(at - hwcaps.begin()) + 1;
      if (best && priority >= best_priority) continue;
      best_priority = priority;
    }
    best = e.path;
    if (!named && e.flags == flags) break;
  }
  return best;
}

}  // namespace distill::elf
