#include "elf/elf.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "base/fs.h"

namespace distill::elf {

namespace {

class Reader {
 public:
  Reader(int fd, uint64_t offset, uint64_t size) : m_fd(fd), m_offset(offset), m_size(size) {}
  bool read(uint64_t at, void* out, size_t n) const {
    if (at > m_size || n > m_size - at) return false;
    return ::pread(m_fd, out, n, static_cast<off_t>(m_offset + at)) == static_cast<ssize_t>(n);
  }
  uint64_t size() const { return m_size; }

 private:
  int m_fd;
  uint64_t m_offset, m_size;
};

template <typename T>
T fix(T v, bool little) {
  if (little) return v;  // hosts running distill are little-endian
  T out = 0;
  for (size_t i = 0; i < sizeof(T); ++i) out = static_cast<T>((out << 8) | ((v >> (8 * i)) & 0xff));
  return out;
}

template <typename Ehdr, typename Phdr, typename Dyn>
std::optional<SharedObject> parse(const Reader& r, bool little) {
  Ehdr eh;
  if (!r.read(0, &eh, sizeof eh)) return std::nullopt;
  SharedObject so;
  so.is64 = sizeof(Ehdr) == sizeof(Elf64_Ehdr);
  so.little_endian = little;
  so.machine = fix(eh.e_machine, little);
  if (fix(eh.e_type, little) != ET_DYN) return std::nullopt;
  uint64_t phoff = fix(eh.e_phoff, little);
  uint16_t phnum = fix(eh.e_phnum, little), phentsize = fix(eh.e_phentsize, little);
  if (phentsize != sizeof(Phdr) || phnum > 512) return std::nullopt;
  std::vector<Phdr> ph(phnum);
  if (!r.read(phoff, ph.data(), phnum * sizeof(Phdr))) return std::nullopt;
  uint64_t dyn_off = 0, dyn_size = 0;
  for (const Phdr& p : ph)
    if (fix(p.p_type, little) == PT_DYNAMIC) {
      dyn_off = fix(p.p_offset, little);
      dyn_size = fix(p.p_filesz, little);
    }
  if (!dyn_size || dyn_size > (1 << 20)) return so;
  std::vector<Dyn> dyn(dyn_size / sizeof(Dyn));
  if (!r.read(dyn_off, dyn.data(), dyn.size() * sizeof(Dyn))) return std::nullopt;
  uint64_t strtab = 0, soname = 0;
  bool has_soname = false;
  for (const Dyn& d : dyn) {
    auto tag = fix(d.d_tag, little);
    if (tag == DT_NULL) break;
    if (tag == DT_STRTAB) strtab = fix(d.d_un.d_ptr, little);
    if (tag == DT_SONAME) {
      soname = fix(d.d_un.d_val, little);
      has_soname = true;
    }
  }
  if (!has_soname) return so;
  // DT_STRTAB is an address: map it to a file offset through PT_LOAD.
  for (const Phdr& p : ph) {
    if (fix(p.p_type, little) != PT_LOAD) continue;
    uint64_t vaddr = fix(p.p_vaddr, little), filesz = fix(p.p_filesz, little), off = fix(p.p_offset, little);
    if (strtab < vaddr || strtab >= vaddr + filesz) continue;
    uint64_t at = off + (strtab - vaddr) + soname;
    char buf[256];
    size_t n = static_cast<size_t>(std::min<uint64_t>(sizeof buf, r.size() > at ? r.size() - at : 0));
    if (!n || !r.read(at, buf, n)) return std::nullopt;
    size_t len = ::strnlen(buf, n);
    if (len == n) return std::nullopt;
    so.soname.assign(buf, len);
    return so;
  }
  return so;
}

/// The dynamic section's strings, read at DT_STRTAB (an address, mapped to a
/// file offset through the PT_LOAD that holds it) for DT_STRSZ bytes (or to
/// the segment's end when DT_STRSZ is absent).
template <typename Phdr>
std::string read_strtab(const Reader& r, const std::vector<Phdr>& ph, uint64_t strtab, uint64_t strsz) {
  for (const Phdr& p : ph) {
    if (p.p_type != PT_LOAD || strtab < p.p_vaddr || strtab >= p.p_vaddr + p.p_filesz) continue;
    uint64_t at = p.p_offset + (strtab - p.p_vaddr);
    uint64_t in_segment = p.p_vaddr + p.p_filesz - strtab;
    uint64_t n = std::min<uint64_t>({strsz ? strsz : in_segment, in_segment, r.size() > at ? r.size() - at : 0, 64u << 20});
    std::string out(static_cast<size_t>(n), '\0');
    if (!r.read(at, out.data(), out.size())) return "";
    return out;
  }
  return "";
}

std::vector<std::string> split_path_list(const std::string& s) {
  std::vector<std::string> out;
  for (size_t start = 0; start <= s.size();) {
    size_t end = s.find(':', start);
    if (end == std::string::npos) end = s.size();
    out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

/// Little-endian objects only (ElfInfo readers run on little-endian hosts).
template <typename Ehdr, typename Phdr, typename Dyn>
std::optional<ElfInfo> parse_info(const Reader& r) {
  Ehdr eh;
  if (!r.read(0, &eh, sizeof eh)) return std::nullopt;
  ElfInfo info;
  info.is64 = sizeof(Ehdr) == sizeof(Elf64_Ehdr);
  info.machine = eh.e_machine;
  info.type = eh.e_type;
  // A header that does not fit its class (a patched or foreign file) still
  // tells class and machine, which is all the loader checks before skipping it.
  if (eh.e_phentsize != sizeof(Phdr) || eh.e_phnum > 4096) return info;
  std::vector<Phdr> ph(eh.e_phnum);
  if (!r.read(eh.e_phoff, ph.data(), ph.size() * sizeof(Phdr))) return info;
  uint64_t dyn_off = 0, dyn_size = 0;
  for (const Phdr& p : ph) {
    if (p.p_type == PT_INTERP && p.p_filesz < 4096) {
      std::string s(static_cast<size_t>(p.p_filesz), '\0');
      if (r.read(p.p_offset, s.data(), s.size())) info.interpreter = s.substr(0, s.find('\0'));
    }
    if (p.p_type == PT_DYNAMIC) {
      dyn_off = p.p_offset;
      dyn_size = p.p_filesz;
    }
  }
  if (!dyn_size || dyn_size > (1 << 20)) return info;
  std::vector<Dyn> dyn(dyn_size / sizeof(Dyn));
  if (!r.read(dyn_off, dyn.data(), dyn.size() * sizeof(Dyn))) return info;
  uint64_t strtab = 0, strsz = 0;
  for (const Dyn& d : dyn) {
    if (d.d_tag == DT_NULL) break;
    if (d.d_tag == DT_STRTAB) strtab = d.d_un.d_ptr;
    if (d.d_tag == DT_STRSZ) strsz = d.d_un.d_val;
  }
  std::string strings = read_strtab(r, ph, strtab, strsz);
  auto str = [&](uint64_t o) { return o < strings.size() ? std::string(strings.c_str() + o) : std::string(); };
  for (const Dyn& d : dyn) {
    if (d.d_tag == DT_NULL) break;
    if (d.d_tag == DT_NEEDED) info.needed.push_back(str(d.d_un.d_val));
    if (d.d_tag == DT_SONAME) info.soname = str(d.d_un.d_val);
    if (d.d_tag == DT_RPATH) info.rpath = split_path_list(str(d.d_un.d_val));
    if (d.d_tag == DT_RUNPATH) {
      info.runpath = split_path_list(str(d.d_un.d_val));
      info.has_runpath = true;
    }
    if (d.d_tag == DT_FLAGS_1 && (d.d_un.d_val & DF_1_NODEFLIB)) info.nodeflib = true;
  }
  return info;
}

}  // namespace

std::optional<SharedObject> read_shared_object(const std::string& file, uint64_t offset, uint64_t size) {
  Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  Reader r(fd.get(), offset, size);
  unsigned char ident[EI_NIDENT];
  if (!r.read(0, ident, sizeof ident) || std::memcmp(ident, ELFMAG, SELFMAG) != 0) return std::nullopt;
  bool little = ident[EI_DATA] == ELFDATA2LSB;
  if (ident[EI_CLASS] == ELFCLASS64) return parse<Elf64_Ehdr, Elf64_Phdr, Elf64_Dyn>(r, little);
  if (ident[EI_CLASS] == ELFCLASS32) return parse<Elf32_Ehdr, Elf32_Phdr, Elf32_Dyn>(r, little);
  return std::nullopt;
}

std::optional<ElfInfo> read_elf(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  Reader r(fd.get(), 0, static_cast<uint64_t>(st.st_size));
  unsigned char ident[EI_NIDENT];
  if (!r.read(0, ident, sizeof ident) || std::memcmp(ident, ELFMAG, SELFMAG) != 0) return std::nullopt;
  if (ident[EI_DATA] != ELFDATA2LSB) return std::nullopt;  // big-endian objects: not read yet
  if (ident[EI_CLASS] == ELFCLASS64) return parse_info<Elf64_Ehdr, Elf64_Phdr, Elf64_Dyn>(r);
  if (ident[EI_CLASS] == ELFCLASS32) return parse_info<Elf32_Ehdr, Elf32_Phdr, Elf32_Dyn>(r);
  return std::nullopt;
}

}  // namespace distill::elf
