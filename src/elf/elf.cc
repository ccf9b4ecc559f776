#include "elf/elf.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <vector>

#include "base/error.h"
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

/// A field stored in the file's byte order, in the host's.
template <typename T>
T host_order(T v, bool little) {
  return little == (std::endian::native == std::endian::little) ? v : std::byteswap(v);
}

template <typename Ehdr, typename Phdr, typename Dyn>
std::optional<SharedObject> parse(const Reader& r, bool little) {
  Ehdr eh;
  if (!r.read(0, &eh, sizeof eh)) return std::nullopt;
  SharedObject so;
  so.is64 = sizeof(Ehdr) == sizeof(Elf64_Ehdr);
  so.little_endian = little;
  so.machine = host_order(eh.e_machine, little);
  if (host_order(eh.e_type, little) != ET_DYN) return std::nullopt;
  uint64_t phoff = host_order(eh.e_phoff, little);
  uint16_t phnum = host_order(eh.e_phnum, little), phentsize = host_order(eh.e_phentsize, little);
  if (phentsize != sizeof(Phdr) || phnum > 512) return std::nullopt;
  std::vector<Phdr> ph(phnum);
  if (!r.read(phoff, ph.data(), phnum * sizeof(Phdr))) return std::nullopt;
  uint64_t dyn_off = 0, dyn_size = 0;
  for (const Phdr& p : ph)
    if (host_order(p.p_type, little) == PT_DYNAMIC) {
      dyn_off = host_order(p.p_offset, little);
      dyn_size = host_order(p.p_filesz, little);
    }
  if (!dyn_size || dyn_size > (1 << 20)) return so;
  std::vector<Dyn> dyn(dyn_size / sizeof(Dyn));
  if (!r.read(dyn_off, dyn.data(), dyn.size() * sizeof(Dyn))) return std::nullopt;
  uint64_t strtab = 0, soname = 0;
  bool has_soname = false;
  for (const Dyn& d : dyn) {
    auto tag = host_order(d.d_tag, little);
    if (tag == DT_NULL) break;
    if (tag == DT_STRTAB) strtab = host_order(d.d_un.d_ptr, little);
    if (tag == DT_SONAME) {
      soname = host_order(d.d_un.d_val, little);
      has_soname = true;
    }
  }
  if (!has_soname) return so;
  // DT_STRTAB is an address: map it to a file offset through PT_LOAD.
  for (const Phdr& p : ph) {
    if (host_order(p.p_type, little) != PT_LOAD) continue;
    uint64_t vaddr = host_order(p.p_vaddr, little), filesz = host_order(p.p_filesz, little), off = host_order(p.p_offset, little);
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

/// Objects of either byte order: every field read goes through host_order.
template <typename Ehdr, typename Phdr, typename Dyn>
std::optional<ElfInfo> parse_info(const Reader& r, bool little) {
  Ehdr eh;
  if (!r.read(0, &eh, sizeof eh)) return std::nullopt;
  auto h = [little](auto v) { return host_order(v, little); };
  ElfInfo info;
  info.is64 = sizeof(Ehdr) == sizeof(Elf64_Ehdr);
  info.little_endian = little;
  info.machine = h(eh.e_machine);
  info.type = h(eh.e_type);
  // A header that does not fit its class (a patched or foreign file) still
  // tells class and machine, which is all the loader checks before skipping it.
  if (h(eh.e_phentsize) != sizeof(Phdr) || h(eh.e_phnum) > 4096) return info;
  std::vector<Phdr> ph(h(eh.e_phnum));
  if (!r.read(h(eh.e_phoff), ph.data(), ph.size() * sizeof(Phdr))) return info;
  for (Phdr& p : ph) {
    p.p_type = h(p.p_type);
    p.p_offset = h(p.p_offset);
    p.p_vaddr = h(p.p_vaddr);
    p.p_filesz = h(p.p_filesz);
  }
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
  for (Dyn& d : dyn) {
    d.d_tag = h(d.d_tag);
    d.d_un.d_val = h(d.d_un.d_val);
  }
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

template <typename Ehdr_, typename Phdr_, typename Shdr_, typename Dyn_, typename Sym_, typename Rel_, typename Rela_>
struct Layout {
  using Ehdr = Ehdr_;
  using Phdr = Phdr_;
  using Shdr = Shdr_;
  using Dyn = Dyn_;
  using Sym = Sym_;
  using Rel = Rel_;
  using Rela = Rela_;
  static constexpr uint64_t addr_size = sizeof(Ehdr_::e_entry);  // a GNU hash bloom word
  static uint64_t reloc_symbol(uint64_t r_info) { return addr_size == 8 ? r_info >> 32 : r_info >> 8; }
};
using Layout64 = Layout<Elf64_Ehdr, Elf64_Phdr, Elf64_Shdr, Elf64_Dyn, Elf64_Sym, Elf64_Rel, Elf64_Rela>;
using Layout32 = Layout<Elf32_Ehdr, Elf32_Phdr, Elf32_Shdr, Elf32_Dyn, Elf32_Sym, Elf32_Rel, Elf32_Rela>;

/// Reads the undefined entries of an object's dynamic symbol table. Every
/// count and offset is checked against the file (and against the segment
/// an address falls in) before anything is read or allocated; whatever does
/// not fit throws Error naming the file.
template <typename L>
class DynsymReader {
 public:
  using Ehdr = typename L::Ehdr;
  using Phdr = typename L::Phdr;
  using Shdr = typename L::Shdr;
  using Dyn = typename L::Dyn;
  using Sym = typename L::Sym;

  DynsymReader(const Reader& r, bool little, const std::string& path) : m_r(r), m_little(little), m_path(path) {}

  std::vector<std::string> read() {
    if (!m_r.read(0, &m_eh, sizeof m_eh)) fail("truncated ELF header");
    uint64_t phnum = get(m_eh.e_phnum);
    if (phnum) {
      if (get(m_eh.e_phentsize) != sizeof(Phdr)) fail("unexpected e_phentsize " + std::to_string(get(m_eh.e_phentsize)));
      m_ph = read_array<Phdr>(get(m_eh.e_phoff), phnum, "the program header table");
    }
    if (auto names = from_dynamic()) return std::move(*names);
    return from_sections();
  }

 private:
  /// A stretch of the file, known to lie within it.
  struct Range {
    uint64_t offset = 0, size = 0;
  };

  template <typename T>
  T get(T v) const { return host_order(v, m_little); }

  [[noreturn]] void fail(const std::string& why) const { throw Error(m_path + ": malformed ELF: " + why); }

  /// The part of the file [offset, offset+size) that lies within it.
  Range in_file(uint64_t offset, uint64_t size, const std::string& what) const {
    if (offset > m_r.size() || size > m_r.size() - offset) fail(what + " extends past the end of the file");
    return {offset, size};
  }

  /// `count` entries of T at `offset` (checked before allocating).
  template <typename T>
  std::vector<T> read_array(uint64_t offset, uint64_t count, const std::string& what) const {
    if (count > m_r.size() / sizeof(T)) fail(what + " extends past the end of the file");
    Range at = in_file(offset, count * sizeof(T), what);
    std::vector<T> out(static_cast<size_t>(count));
    if (!m_r.read(at.offset, out.data(), static_cast<size_t>(at.size))) fail("cannot read " + what);
    return out;
  }

  /// The file bytes behind address `addr`: from its offset to the end of the
  /// file part of the PT_LOAD segment holding it (cut at the file's end).
  Range map(uint64_t addr, const std::string& what) const {
    for (const Phdr& p : m_ph) {
      if (get(p.p_type) != PT_LOAD) continue;
      uint64_t vaddr = get(p.p_vaddr), filesz = get(p.p_filesz), offset = get(p.p_offset);
      if (addr < vaddr || addr - vaddr >= filesz) continue;
      uint64_t delta = addr - vaddr, at = 0;
      if (__builtin_add_overflow(offset, delta, &at) || at >= m_r.size())
        fail(what + " (address 0x" + hex(addr) + ") lies past the end of the file");
      return {at, std::min(filesz - delta, m_r.size() - at)};
    }
    fail(what + " (address 0x" + hex(addr) + ") is in no loaded segment");
  }

  static std::string hex(uint64_t v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
    return buf;
  }

  /// nchain of the SysV hash table: the number of symbols.
  uint64_t sysv_hash_count(uint64_t addr) const {
    Range h = map(addr, "DT_HASH");
    uint16_t machine = get(m_eh.e_machine);
    // 64-bit s390 and Alpha use 8-byte hash entries.
    bool wide = L::addr_size == 8 && (machine == EM_S390 || machine == EM_ALPHA);
    if (wide) {
      uint64_t head[2];
      if (h.size < sizeof head || !m_r.read(h.offset, head, sizeof head)) fail("DT_HASH is truncated");
      return get(head[1]);
    }
    uint32_t head[2];
    if (h.size < sizeof head || !m_r.read(h.offset, head, sizeof head)) fail("DT_HASH is truncated");
    return get(head[1]);
  }

  /// The number of symbols from the GNU hash table: the symbols before
  /// symoffset are not hashed (the undefined ones among them); the last
  /// hashed symbol ends the chain that starts at the highest bucket. When
  /// nothing is hashed (an object that exports nothing), ld writes a dummy
  /// table whose symoffset is not the count: nullopt then.
  std::optional<uint64_t> gnu_hash_count(uint64_t addr) const {
    Range h = map(addr, "DT_GNU_HASH");
    uint32_t head[4];
    if (h.size < sizeof head || !m_r.read(h.offset, head, sizeof head)) fail("DT_GNU_HASH is truncated");
    uint64_t nbuckets = get(head[0]), symoffset = get(head[1]), bloom_size = get(head[2]);
    uint64_t buckets = sizeof head + bloom_size * L::addr_size;
    if (buckets > h.size || nbuckets > (h.size - buckets) / 4) fail("DT_GNU_HASH's buckets extend past their segment");
    constexpr uint64_t chunk = 4096;
    std::vector<uint32_t> words;
    uint64_t last = 0;
    for (uint64_t i = 0; i < nbuckets; i += chunk) {
      words.resize(static_cast<size_t>(std::min(chunk, nbuckets - i)));
      if (!m_r.read(h.offset + buckets + 4 * i, words.data(), 4 * words.size())) fail("cannot read DT_GNU_HASH");
      for (uint32_t w : words) last = std::max<uint64_t>(last, get(w));
    }
    if (last == 0) return std::nullopt;  // nothing hashed
    if (last < symoffset) fail("DT_GNU_HASH has a bucket below symoffset");
    uint64_t chains = buckets + 4 * nbuckets;
    uint64_t nchains = (h.size - chains) / 4;
    for (uint64_t i = last - symoffset; i < nchains;) {
      words.resize(static_cast<size_t>(std::min(chunk, nchains - i)));
      if (!m_r.read(h.offset + chains + 4 * i, words.data(), 4 * words.size())) fail("cannot read DT_GNU_HASH");
      for (uint32_t w : words) {
        if (get(w) & 1) return symoffset + i + 1;
        ++i;
      }
    }
    fail("a DT_GNU_HASH chain runs past its segment");
  }

  /// One more than the highest symbol index named by the `size` bytes of
  /// relocations at `addr`: no symbol past it is ever bound by the loader.
  template <typename Rel>
  uint64_t relocation_bound(uint64_t addr, uint64_t size, uint64_t entsize, const std::string& what) const {
    if (!size) return 0;
    if (entsize && entsize != sizeof(Rel)) fail("unexpected " + what + " entry size " + std::to_string(entsize));
    Range at = map(addr, what);
    if (size > at.size) fail(what + " extends past its segment or the file");
    constexpr uint64_t chunk = 1024;
    std::vector<Rel> buf;
    uint64_t bound = 0;
    for (uint64_t i = 0, n = size / sizeof(Rel); i < n; i += buf.size()) {
      buf.resize(static_cast<size_t>(std::min(chunk, n - i)));
      if (!m_r.read(at.offset + i * sizeof(Rel), buf.data(), buf.size() * sizeof(Rel))) fail("cannot read " + what);
      for (const Rel& r : buf) bound = std::max(bound, L::reloc_symbol(get(r.r_info)) + 1);
    }
    return bound;
  }

  /// The undefined entries of `count` symbols at `syms`, named from `strtab`.
  std::vector<std::string> undefined(Range syms, uint64_t count, std::string_view strtab) const {
    if (count > syms.size / sizeof(Sym))
      fail("the dynamic symbol table (" + std::to_string(count) + " entries) extends past its segment or the file");
    std::vector<std::string> names;
    constexpr uint64_t chunk = 1024;
    std::vector<Sym> buf;
    for (uint64_t i = 0; i < count; i += chunk) {
      buf.resize(static_cast<size_t>(std::min(chunk, count - i)));
      if (!m_r.read(syms.offset + i * sizeof(Sym), buf.data(), buf.size() * sizeof(Sym)))
        fail("cannot read the dynamic symbol table");
      for (size_t j = 0; j < buf.size(); ++j) {
        if (i + j == 0 || get(buf[j].st_shndx) != SHN_UNDEF) continue;  // entry 0 is the null symbol
        uint64_t name = get(buf[j].st_name);
        size_t end = name < strtab.size() ? strtab.find('\0', static_cast<size_t>(name)) : std::string_view::npos;
        if (end == std::string_view::npos) fail("symbol " + std::to_string(i + j) + "'s name lies outside the string table");
        if (end > name) names.emplace_back(strtab.substr(static_cast<size_t>(name), end - static_cast<size_t>(name)));
      }
    }
    return names;
  }

  std::string read_string_table(Range at, const std::string& what) const {
    std::string out(static_cast<size_t>(at.size), '\0');
    if (!m_r.read(at.offset, out.data(), out.size())) fail("cannot read " + what);
    return out;
  }

  /// Through PT_DYNAMIC, as the loader sees the object; nullopt (for the
  /// section headers) if there is no dynamic section or no DT_SYMTAB, or no
  /// hash table sizes the symbol table and there are section headers.
  std::optional<std::vector<std::string>> from_dynamic() const {
    const Phdr* dynamic = nullptr;
    for (const Phdr& p : m_ph)
      if (get(p.p_type) == PT_DYNAMIC) {
        dynamic = &p;
        break;
      }
    if (!dynamic) return std::nullopt;
    Range dyn = in_file(get(dynamic->p_offset), get(dynamic->p_filesz), "the dynamic section");
    uint64_t symtab = 0, strtab = 0, strsz = 0, syment = 0, hash = 0, gnu_hash = 0;
    uint64_t rela = 0, relasz = 0, relaent = 0, rel = 0, relsz = 0, relent = 0, jmprel = 0, pltrelsz = 0, pltrel = 0;
    bool has_symtab = false, has_strtab = false, has_strsz = false;
    std::vector<Dyn> buf;
    bool done = false;
    for (uint64_t i = 0, n = dyn.size / sizeof(Dyn); i < n && !done; i += buf.size()) {
      buf.resize(static_cast<size_t>(std::min<uint64_t>(256, n - i)));
      if (!m_r.read(dyn.offset + i * sizeof(Dyn), buf.data(), buf.size() * sizeof(Dyn))) fail("cannot read the dynamic section");
      for (const Dyn& d : buf) {
        auto tag = get(d.d_tag);
        uint64_t val = get(d.d_un.d_val);
        if (tag == DT_NULL) {
          done = true;
          break;
        }
        if (tag == DT_SYMTAB) {
          symtab = val;
          has_symtab = true;
        }
        if (tag == DT_STRTAB) {
          strtab = val;
          has_strtab = true;
        }
        if (tag == DT_STRSZ) {
          strsz = val;
          has_strsz = true;
        }
        if (tag == DT_SYMENT) syment = val;
        if (tag == DT_HASH) hash = val;
        if (tag == DT_GNU_HASH) gnu_hash = val;
        if (tag == DT_RELA) rela = val;
        if (tag == DT_RELASZ) relasz = val;
        if (tag == DT_RELAENT) relaent = val;
        if (tag == DT_REL) rel = val;
        if (tag == DT_RELSZ) relsz = val;
        if (tag == DT_RELENT) relent = val;
        if (tag == DT_JMPREL) jmprel = val;
        if (tag == DT_PLTRELSZ) pltrelsz = val;
        if (tag == DT_PLTREL) pltrel = val;
      }
    }
    if (!has_symtab) return std::nullopt;
    if (!has_strtab) fail("DT_SYMTAB without DT_STRTAB");
    if (syment && syment != sizeof(Sym)) fail("unexpected DT_SYMENT " + std::to_string(syment));
    std::optional<uint64_t> count;
    if (hash)
      count = sysv_hash_count(hash);
    else if (gnu_hash)
      count = gnu_hash_count(gnu_hash);
    if (!count) {
      // No hash table sizes the symbol table: the section headers do if
      // there are any; else it reaches at least as far as the relocations
      // refer, which covers every symbol the loader binds.
      if (get(m_eh.e_shoff)) return std::nullopt;
      bool plt_rela = pltrel ? pltrel == DT_RELA : rela != 0;
      count = std::max({relocation_bound<typename L::Rela>(rela, relasz, relaent, "DT_RELA"),
                        relocation_bound<typename L::Rel>(rel, relsz, relent, "DT_REL"),
                        plt_rela ? relocation_bound<typename L::Rela>(jmprel, pltrelsz, 0, "DT_JMPREL")
                                 : relocation_bound<typename L::Rel>(jmprel, pltrelsz, 0, "DT_JMPREL")});
    }
    Range strings = map(strtab, "DT_STRTAB");
    if (has_strsz) {
      if (strsz > strings.size) fail("DT_STRSZ extends past its segment or the file");
      strings.size = strsz;
    }
    std::string table = read_string_table(strings, "DT_STRTAB");
    return undefined(map(symtab, "DT_SYMTAB"), *count, table);
  }

  /// Through the section headers: SHT_DYNSYM and its sh_link string table.
  std::vector<std::string> from_sections() const {
    uint64_t shoff = get(m_eh.e_shoff);
    if (!shoff) return {};
    if (get(m_eh.e_shentsize) != sizeof(Shdr)) fail("unexpected e_shentsize " + std::to_string(get(m_eh.e_shentsize)));
    uint64_t shnum = get(m_eh.e_shnum);
    if (shnum == 0) shnum = get(read_array<Shdr>(shoff, 1, "the section header table")[0].sh_size);  // extended numbering
    std::vector<Shdr> sh = read_array<Shdr>(shoff, shnum, "the section header table");
    for (const Shdr& s : sh) {
      if (get(s.sh_type) != SHT_DYNSYM) continue;
      if (get(s.sh_entsize) != sizeof(Sym)) fail("unexpected .dynsym sh_entsize " + std::to_string(get(s.sh_entsize)));
      uint64_t link = get(s.sh_link);
      if (link >= sh.size() || get(sh[link].sh_type) != SHT_STRTAB) fail(".dynsym's sh_link is not a string table");
      Range syms = in_file(get(s.sh_offset), get(s.sh_size), ".dynsym");
      Range strings = in_file(get(sh[link].sh_offset), get(sh[link].sh_size), ".dynsym's string table");
      std::string table = read_string_table(strings, ".dynsym's string table");
      return undefined(syms, syms.size / sizeof(Sym), table);
    }
    return {};
  }

  const Reader& m_r;
  bool m_little;
  const std::string& m_path;
  Ehdr m_eh{};
  std::vector<Phdr> m_ph;
};

}  // namespace

std::vector<std::string> imported_symbols(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw_errno("cannot open " + path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw_errno("cannot stat " + path);
  if (!S_ISREG(st.st_mode)) return {};
  Reader r(fd.get(), 0, static_cast<uint64_t>(st.st_size));
  unsigned char ident[EI_NIDENT];
  if (!r.read(0, ident, sizeof ident) || std::memcmp(ident, ELFMAG, SELFMAG) != 0) return {};
  if (ident[EI_DATA] != ELFDATA2LSB && ident[EI_DATA] != ELFDATA2MSB) return {};
  bool little = ident[EI_DATA] == ELFDATA2LSB;
  if (ident[EI_CLASS] == ELFCLASS64) return DynsymReader<Layout64>(r, little, path).read();
  if (ident[EI_CLASS] == ELFCLASS32) return DynsymReader<Layout32>(r, little, path).read();
  return {};
}

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
  if (ident[EI_DATA] != ELFDATA2LSB && ident[EI_DATA] != ELFDATA2MSB) return std::nullopt;
  bool little = ident[EI_DATA] == ELFDATA2LSB;
  if (ident[EI_CLASS] == ELFCLASS64) return parse_info<Elf64_Ehdr, Elf64_Phdr, Elf64_Dyn>(r, little);
  if (ident[EI_CLASS] == ELFCLASS32) return parse_info<Elf32_Ehdr, Elf32_Phdr, Elf32_Dyn>(r, little);
  return std::nullopt;
}

}  // namespace distill::elf
