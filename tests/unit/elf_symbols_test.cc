// elf::imported_symbols against binutils' `nm -D --undefined-only` (names
// without "@VERSION") on host objects and test-built ones, through either
// source of the table (dynamic segment, section headers), in both byte
// orders and classes, and on truncated and corrupted copies.
#include <elf.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <random>
#include <sstream>

#include "base/error.h"
#include "base/fs.h"
#include "elf/elf.h"
#include "fixtures/elf_fixture.h"

using namespace distill;

namespace {

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

/// `nm -D --undefined-only`'s names, versions cut, sorted.
std::vector<std::string> nm_undefined(const std::string& path) {
  int st = 0;
  std::string out = distill::test::run("nm -D --undefined-only '" + path + "' 2>/dev/null", &st);
  EXPECT_EQ(st, 0) << "nm -D failed on " << path;
  std::vector<std::string> names;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string type, name;
    fields >> type >> name;  // "U name@VERSION" or "w name"
    names.push_back(name.substr(0, name.find('@')));
  }
  return sorted(names);
}

std::vector<std::string> ours(const std::string& path) { return sorted(elf::imported_symbols(path)); }

bool contains(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

/// A 64-bit little-endian ELF image in memory, for writing altered copies.
struct Image {
  std::string bytes;

  explicit Image(const std::string& path) : bytes(read_file(path)) {}
  template <typename T>
  T* at(uint64_t offset) { return reinterpret_cast<T*>(bytes.data() + offset); }
  Elf64_Ehdr* ehdr() { return at<Elf64_Ehdr>(0); }
  Elf64_Phdr* phdr(int type) {
    for (int i = 0; i < ehdr()->e_phnum; ++i)
      if (Elf64_Phdr* p = at<Elf64_Phdr>(ehdr()->e_phoff + i * sizeof(Elf64_Phdr)); p->p_type == static_cast<uint32_t>(type)) return p;
    return nullptr;
  }
  Elf64_Dyn* dyn(int64_t tag) {
    Elf64_Phdr* d = phdr(PT_DYNAMIC);
    for (uint64_t o = d->p_offset; o + sizeof(Elf64_Dyn) <= d->p_offset + d->p_filesz; o += sizeof(Elf64_Dyn))
      if (at<Elf64_Dyn>(o)->d_tag == tag) return at<Elf64_Dyn>(o);
    return nullptr;
  }
  /// The file offset of an address, through PT_LOAD.
  uint64_t offset(uint64_t addr) {
    for (int i = 0; i < ehdr()->e_phnum; ++i) {
      Elf64_Phdr* p = at<Elf64_Phdr>(ehdr()->e_phoff + i * sizeof(Elf64_Phdr));
      if (p->p_type == PT_LOAD && addr >= p->p_vaddr && addr < p->p_vaddr + p->p_filesz) return p->p_offset + addr - p->p_vaddr;
    }
    ADD_FAILURE() << "address not loaded";
    return 0;
  }
  /// Without section headers, as sstrip leaves a file.
  void drop_section_headers() {
    ehdr()->e_shoff = 0;
    ehdr()->e_shnum = 0;
    ehdr()->e_shstrndx = 0;
  }
  /// The hash tables' tags turned into DT_DEBUG: the dynamic segment cannot size the symbol table.
  void hide_hash_tables() {
    for (int64_t tag : {DT_HASH, DT_GNU_HASH})
      if (Elf64_Dyn* d = dyn(tag)) d->d_tag = DT_DEBUG;
  }
  std::string write(const fs::path& path) const {
    write_file_atomic(path, bytes, 0755);
    return path.string();
  }
};

// --- Byte-order conversion of a little-endian object into a big-endian one,
// field by field, through its section headers (test-built objects only).

template <typename T>
void swap(T& v) { v = std::byteswap(v); }

void swap(Elf64_Ehdr& e) {
  swap(e.e_type), swap(e.e_machine), swap(e.e_version), swap(e.e_entry), swap(e.e_phoff), swap(e.e_shoff), swap(e.e_flags);
  swap(e.e_ehsize), swap(e.e_phentsize), swap(e.e_phnum), swap(e.e_shentsize), swap(e.e_shnum), swap(e.e_shstrndx);
}
void swap(Elf32_Ehdr& e) {
  swap(e.e_type), swap(e.e_machine), swap(e.e_version), swap(e.e_entry), swap(e.e_phoff), swap(e.e_shoff), swap(e.e_flags);
  swap(e.e_ehsize), swap(e.e_phentsize), swap(e.e_phnum), swap(e.e_shentsize), swap(e.e_shnum), swap(e.e_shstrndx);
}
void swap(Elf64_Phdr& p) {
  swap(p.p_type), swap(p.p_flags), swap(p.p_offset), swap(p.p_vaddr), swap(p.p_paddr), swap(p.p_filesz), swap(p.p_memsz), swap(p.p_align);
}
void swap(Elf32_Phdr& p) {
  swap(p.p_type), swap(p.p_offset), swap(p.p_vaddr), swap(p.p_paddr), swap(p.p_filesz), swap(p.p_memsz), swap(p.p_flags), swap(p.p_align);
}
template <typename Shdr>
void swap_shdr(Shdr& s) {
  swap(s.sh_name), swap(s.sh_type), swap(s.sh_flags), swap(s.sh_addr), swap(s.sh_offset), swap(s.sh_size), swap(s.sh_link);
  swap(s.sh_info), swap(s.sh_addralign), swap(s.sh_entsize);
}
template <typename Sym>
void swap_sym(Sym& s) { swap(s.st_name), swap(s.st_value), swap(s.st_size), swap(s.st_shndx); }
template <typename Dyn>
void swap_dyn(Dyn& d) { swap(d.d_tag), swap(d.d_un.d_val); }

/// A T stored at `offset` in `b`.
template <typename T>
T& field(std::string& b, uint64_t offset) { return *reinterpret_cast<T*>(b.data() + offset); }

template <typename Ehdr, typename Phdr, typename Shdr, typename Dyn, typename Sym, typename Word>
std::string to_big_endian(std::string b) {
  Ehdr eh = field<Ehdr>(b, 0);
  for (int i = 0; i < eh.e_phnum; ++i) swap(field<Phdr>(b, eh.e_phoff + i * sizeof(Phdr)));
  for (int i = 0; i < eh.e_shnum; ++i) {
    Shdr& s = field<Shdr>(b, eh.e_shoff + i * sizeof(Shdr));
    uint64_t o = s.sh_offset, n = s.sh_size;
    if (s.sh_type == SHT_DYNSYM)
      for (uint64_t k = 0; k < n; k += sizeof(Sym)) swap_sym(field<Sym>(b, o + k));
    if (s.sh_type == SHT_DYNAMIC)
      for (uint64_t k = 0; k + sizeof(Dyn) <= n; k += sizeof(Dyn)) swap_dyn(field<Dyn>(b, o + k));
    if (s.sh_type == SHT_REL || s.sh_type == SHT_RELA)  // every field a Word
      for (uint64_t k = 0; k < n; k += sizeof(Word)) swap(field<Word>(b, o + k));
    if (s.sh_type == SHT_HASH)
      for (uint64_t k = 0; k < n; k += 4) swap(field<uint32_t>(b, o + k));
    if (s.sh_type == SHT_GNU_HASH) {  // 32-bit words but for the bloom filter's
      uint64_t bloom_end = 16 + field<uint32_t>(b, o + 8) * sizeof(Word);
      for (uint64_t k = 0; k < 16; k += 4) swap(field<uint32_t>(b, o + k));
      for (uint64_t k = 16; k < bloom_end; k += sizeof(Word)) swap(field<Word>(b, o + k));
      for (uint64_t k = bloom_end; k < n; k += 4) swap(field<uint32_t>(b, o + k));
    }
    swap_shdr(s);
  }
  swap(field<Ehdr>(b, 0));
  b[EI_DATA] = ELFDATA2MSB;
  return b;
}

/// The same file with e_shoff/e_shnum/e_shstrndx zeroed, either class and byte order.
std::string without_section_headers(std::string b) {
  if (b[EI_CLASS] == ELFCLASS64) {
    std::memset(b.data() + offsetof(Elf64_Ehdr, e_shoff), 0, 8);
    std::memset(b.data() + offsetof(Elf64_Ehdr, e_shnum), 0, 4);  // e_shnum, e_shstrndx
  } else {
    std::memset(b.data() + offsetof(Elf32_Ehdr, e_shoff), 0, 4);
    std::memset(b.data() + offsetof(Elf32_Ehdr, e_shnum), 0, 4);
  }
  return b;
}

struct Scratch {
  TempDir dir{fs::temp_directory_path(), "distill-elfsym-"};
  std::string path(const std::string& name) const { return (dir.path() / name).string(); }
  std::string write(const std::string& name, const std::string& bytes) const {
    write_file_atomic(dir.path() / name, bytes, 0755);
    return path(name);
  }
  /// Compiles C with the host gcc; "" if it fails.
  std::string cc(const std::string& name, const std::string& source, const std::string& flags = "") const {
    write_file_atomic(dir.path() / (name + ".c"), source);
    int st = 0;
    std::string out = distill::test::run("gcc " + flags + " -o '" + path(name) + "' '" + path(name + ".c") + "' 2>&1", &st);
    EXPECT_EQ(st, 0) << out;
    return st == 0 ? path(name) : "";
  }
  /// Assembles and links a shared object with binutils alone (no libc needed).
  std::string asm_so(const std::string& name, const std::string& source, const std::string& as_flags,
                     const std::string& ld_flags) const {
    write_file_atomic(dir.path() / (name + ".s"), source);
    int st = 0;
    std::string out = distill::test::run("as " + as_flags + " -o '" + path(name + ".o") + "' '" + path(name + ".s") + "' 2>&1 && ld -shared " +
                             ld_flags + " -o '" + path(name) + "' '" + path(name + ".o") + "' 2>&1",
                         &st);
    EXPECT_EQ(st, 0) << out;
    return st == 0 ? path(name) : "";
  }
};

const char* kIconvProgram =
    "#include <iconv.h>\n"
    "#include <stdio.h>\n"
    "int main(void) {\n"
    "  iconv_t cd = iconv_open(\"UTF-8\", \"LATIN1\");\n"
    "  if (cd == (iconv_t)-1) return 1;\n"
    "  puts(\"ok\");\n"
    "  return iconv_close(cd);\n"
    "}\n";

/// A shared object with imports reached by data relocations (so any
/// x86 ABI links it), one of them weak, and a function and a table that it
/// exports, or not (then ld writes an empty GNU hash table, which cannot
/// tell the number of symbols).
std::string data_import_asm(const char* word, bool exports = true) {
  std::string global = exports ? ".globl" : ".local";
  return ".data\n" + global + " table\ntable:\n\t" + word + " iconv_open\n\t" + word + " setlocale\n\t" + word +
         " maybe_there\n.weak maybe_there\n.text\n" + global + " defined_here\n.type defined_here,@function\ndefined_here:\n\tret\n";
}

}  // namespace

TEST(ElfSymbols, MatchHostNmOnHostObjects) {
  const char* candidates[] = {
      "/usr/bin/curl", "/usr/bin/iconv", "/usr/bin/python3", "/usr/bin/bash", "/usr/bin/ls", "/usr/bin/git", "/usr/bin/perl",
      "/usr/bin/openssl", "/usr/bin/cmake", "/usr/bin/ninja", "/usr/bin/tar", "/usr/bin/as",
      "/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
      "/usr/lib/x86_64-linux-gnu/libcurl.so.4", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
      "/usr/lib/x86_64-linux-gnu/libssl.so.3", "/usr/lib/x86_64-linux-gnu/libcrypto.so.3", "/usr/lib/x86_64-linux-gnu/libz.so.1",
      "/usr/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/x86_64-linux-gnu/libarchive.so.13", "/usr/lib/x86_64-linux-gnu/libzstd.so.1",
      "/usr/lib/x86_64-linux-gnu/libgcc_s.so.1", "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0",
      "/usr/lib/x86_64-linux-gnu/gconv/UTF-16.so", "/usr/lib/x86_64-linux-gnu/gconv/libJIS.so"};
  Scratch s;
  int checked = 0;
  for (const char* path : candidates) {
    if (!fs::is_regular_file(path)) continue;
    ++checked;
    std::vector<std::string> expected = nm_undefined(path);
    EXPECT_EQ(ours(path), expected) << path;
    // sstrip's view: no section headers, the same answer from the dynamic segment.
    if (fs::file_size(path) < (16u << 20)) {
      Image copy(path);
      copy.drop_section_headers();
      EXPECT_EQ(ours(copy.write(s.path("nosections"))), expected) << path << " without section headers";
    }
  }
  EXPECT_GE(checked, 15) << "too few of the host objects exist";
  if (fs::exists("/usr/bin/iconv")) {
    EXPECT_TRUE(contains(elf::imported_symbols("/usr/bin/iconv"), "iconv_open"));
  }
  if (fs::exists("/usr/bin/curl")) {
    EXPECT_FALSE(contains(elf::imported_symbols("/usr/bin/curl"), "iconv_open"));
  }
}

TEST(ElfSymbols, TellsAProgramThatCallsIconvOpenFromOneThatDoesNot) {
  Scratch s;
  // Each hash style: DT_HASH alone, DT_GNU_HASH alone, both.
  for (std::string style : {"sysv", "gnu", "both"}) {
    std::string flags = "-Wl,--hash-style=" + style;
    std::string with = s.cc("with-" + style, kIconvProgram, flags);
    std::string without = s.cc("without-" + style, "#include <stdio.h>\nint main(void) { puts(\"x\"); return 0; }\n", flags);
    ASSERT_FALSE(with.empty() || without.empty());
    EXPECT_EQ(distill::test::run("'" + with + "'"), "ok\n");  // it does reach iconv_open
    std::vector<std::string> names = ours(with);
    EXPECT_TRUE(contains(names, "iconv_open")) << style;
    EXPECT_TRUE(contains(names, "iconv_close")) << style;
    EXPECT_EQ(names, nm_undefined(with)) << style;
    EXPECT_FALSE(contains(ours(without), "iconv_open")) << style;
    EXPECT_TRUE(contains(ours(without), "puts")) << style;
    EXPECT_EQ(ours(without), nm_undefined(without)) << style;
    // Without section headers: DT_SYMTAB sized by whichever hash table there is.
    EXPECT_EQ(ours(s.write("with-nosections", without_section_headers(read_file(with)))), names) << style;
    // Without a hash table: the section headers size it.
    Image nohash(with);
    nohash.hide_hash_tables();
    EXPECT_EQ(ours(nohash.write(s.path("nohash"))), names) << style;
    // Neither: the relocations, which name every symbol the loader binds, size it.
    nohash.drop_section_headers();
    EXPECT_EQ(ours(nohash.write(s.path("nohash-nosections"))), names) << style;
  }
}

TEST(ElfSymbols, ReadsElf32AndBigEndianObjects) {
  Scratch s;
  struct Variant {
    std::string name, as_flags, ld_flags;
    const char* word;
  };
  for (const Variant& v : {Variant{"i386", "--32", "-m elf_i386", ".long"}, Variant{"x32", "--x32", "-m elf32_x86_64", ".long"},
                           Variant{"amd64", "--64", "-m elf_x86_64", ".quad"}}) {
    for (std::string style : {"sysv", "gnu", "both", "gnu-exporting-nothing"}) {
      std::string name = v.name + "-" + style;
      bool exports = style != "gnu-exporting-nothing";
      std::string so = s.asm_so(name + ".so", data_import_asm(v.word, exports), v.as_flags,
                                v.ld_flags + " --hash-style=" + (exports ? style : "gnu"));
      ASSERT_FALSE(so.empty()) << name;
      std::vector<std::string> names = ours(so);
      EXPECT_EQ(names, (std::vector<std::string>{"iconv_open", "maybe_there", "setlocale"})) << name;
      EXPECT_EQ(names, nm_undefined(so)) << name;
      EXPECT_EQ(ours(s.write(name + "-nosh.so", without_section_headers(read_file(so)))), names) << name;
      // The same object with every field it uses in big-endian order.
      std::string big = v.name == "amd64"
                            ? to_big_endian<Elf64_Ehdr, Elf64_Phdr, Elf64_Shdr, Elf64_Dyn, Elf64_Sym, uint64_t>(read_file(so))
                            : to_big_endian<Elf32_Ehdr, Elf32_Phdr, Elf32_Shdr, Elf32_Dyn, Elf32_Sym, uint32_t>(read_file(so));
      EXPECT_EQ(ours(s.write(name + "-be.so", big)), names) << name << " big-endian";
      EXPECT_EQ(ours(s.write(name + "-be-nosh.so", without_section_headers(big))), names) << name << " big-endian, no sections";
      // Read as little-endian, the big-endian copy must not pass silently.
      std::string confused = big;
      confused[EI_DATA] = ELFDATA2LSB;
      try {
        EXPECT_NE(ours(s.write(name + "-confused.so", confused)), names) << name;
      } catch (const Error&) {
      }
    }
  }
}

TEST(ElfSymbols, NotElfOrNoDynamicSymbolsIsEmpty) {
  Scratch s;
  EXPECT_TRUE(elf::imported_symbols("/etc/passwd").empty());
  EXPECT_TRUE(elf::imported_symbols(s.dir.path().string()).empty());  // a directory
  EXPECT_TRUE(elf::imported_symbols(s.write("empty", "")).empty());
  EXPECT_TRUE(elf::imported_symbols(s.write("magic", "\x7f" "ELF")).empty());
  // A relocatable object has a .symtab but no .dynsym; an executable linked
  // without shared objects has no dynamic section.
  std::string so = s.asm_so("x.so", data_import_asm(".quad"), "--64", "");
  ASSERT_FALSE(so.empty());
  EXPECT_TRUE(elf::imported_symbols(s.path("x.so.o")).empty());
  int st = 0;
  distill::test::run("ld -e defined_here -o '" + s.path("static") + "' '" + s.path("x.so.o") + "' --unresolved-symbols=ignore-all 2>&1", &st);
  if (st == 0) {
    EXPECT_TRUE(elf::imported_symbols(s.path("static")).empty());
  }
  try {
    elf::imported_symbols(s.path("missing"));
    ADD_FAILURE() << "a missing file read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(s.path("missing")), std::string::npos) << e.what();
  }
}

TEST(ElfSymbols, TruncatedCopiesGiveAPrefixOrAnErrorNamingTheFile) {
  Scratch s;
  const std::string lib = "/usr/lib/x86_64-linux-gnu/libcurl.so.4";
  std::vector<std::string> source_paths = {s.cc("iconv-prog", kIconvProgram)};
  if (fs::exists(lib)) source_paths.push_back(lib);
  for (const std::string& source : source_paths) {
    ASSERT_FALSE(source.empty());
    std::string bytes = read_file(source);
    std::vector<std::string> full = elf::imported_symbols(source);
    // Only the section headers (at the end) cut off: the dynamic segment still tells all.
    const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(bytes.data());
    EXPECT_EQ(elf::imported_symbols(s.write("noshdrs", bytes.substr(0, eh->e_shoff + 100))), full) << source;
    std::vector<size_t> sizes;
    for (size_t n : {size_t{0}, size_t{4}, size_t{16}, size_t{63}, size_t{64}, size_t{100}, size_t{4095}})
      sizes.push_back(n);
    // Every 97th length through the file's first 64 KiB, then eighths.
    for (size_t n = 0; n < std::min<size_t>(bytes.size(), 65536); n += 97) sizes.push_back(n);
    for (int k = 1; k < 8; ++k) sizes.push_back(bytes.size() * k / 8);
    sizes.push_back(bytes.size() - 1);
    std::string path = s.path("truncated");
    int errors = 0;
    for (size_t n : sizes) {
      write_file_atomic(path, bytes.substr(0, n));
      try {
        std::vector<std::string> got = elf::imported_symbols(path);
        // Whatever is returned is really there, in order.
        EXPECT_LE(got.size(), full.size()) << n;
        EXPECT_TRUE(std::equal(got.begin(), got.end(), full.begin())) << source << " cut at " << n;
      } catch (const Error& e) {
        ++errors;
        EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      }
    }
    EXPECT_GT(errors, 0) << source;
  }
}

TEST(ElfSymbols, HostileFieldsThrowInsteadOfReadingOrAllocatingWildly) {
  Scratch s;
  std::string prog = s.cc("prog", kIconvProgram, "-Wl,--hash-style=both");
  ASSERT_FALSE(prog.empty());
  std::vector<std::string> full = elf::imported_symbols(prog);
  auto expect_error = [&](const std::string& what, auto&& patch) {
    Image img(prog);
    patch(img);
    std::string path = img.write(s.path("hostile"));
    try {
      std::vector<std::string> got = elf::imported_symbols(path);
      ADD_FAILURE() << what << ": read " << got.size() << " names";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << what << ": " << e.what();
    }
  };
  auto gnu_hash = [](Image& img) { return img.at<uint32_t>(img.offset(img.dyn(DT_GNU_HASH)->d_un.d_ptr)); };
  auto gnu_only = [](Image& img) { img.dyn(DT_HASH)->d_tag = DT_DEBUG; };
  expect_error("huge nchain", [](Image& img) { img.at<uint32_t>(img.offset(img.dyn(DT_HASH)->d_un.d_ptr))[1] = 0xffffffff; });
  expect_error("huge GNU nbuckets", [&](Image& img) { gnu_only(img), gnu_hash(img)[0] = 0xfffffff0; });
  expect_error("huge bloom size", [&](Image& img) { gnu_only(img), gnu_hash(img)[2] = 0xfffffff0; });
  expect_error("bucket below symoffset", [&](Image& img) { gnu_only(img), gnu_hash(img)[1] = 0x7fffffff; });
  expect_error("chains without an end", [&](Image& img) {
    gnu_only(img);
    uint32_t* h = gnu_hash(img);
    uint32_t* chains = h + 4 + h[2] * 2 + h[0];  // 64-bit bloom words
    // No word with the end bit to the end of the segment (the walk's bound).
    uint64_t end = 0;
    for (int i = 0; i < img.ehdr()->e_phnum; ++i)
      if (auto* p = img.at<Elf64_Phdr>(img.ehdr()->e_phoff + i * sizeof(Elf64_Phdr));
          p->p_type == PT_LOAD && p->p_offset <= img.offset(img.dyn(DT_GNU_HASH)->d_un.d_ptr))
        end = p->p_offset + p->p_filesz;
    for (uint32_t* c = chains; reinterpret_cast<char*>(c + 1) <= img.bytes.data() + end; ++c) *c &= ~1u;
  });
  expect_error("DT_SYMTAB unmapped", [](Image& img) { img.dyn(DT_SYMTAB)->d_un.d_ptr = 0x7fff00000000; });
  expect_error("DT_STRTAB unmapped", [](Image& img) { img.dyn(DT_STRTAB)->d_un.d_ptr = ~uint64_t{0} - 8; });
  expect_error("DT_STRSZ huge", [](Image& img) { img.dyn(DT_STRSZ)->d_un.d_val = uint64_t{1} << 62; });
  expect_error("DT_SYMENT wrong", [](Image& img) { img.dyn(DT_SYMENT)->d_un.d_val = 16; });
  expect_error("st_name outside", [](Image& img) {
    Elf64_Sym* syms = img.at<Elf64_Sym>(img.offset(img.dyn(DT_SYMTAB)->d_un.d_ptr));
    syms[1].st_name = 0x7ffffff0;
  });
  expect_error("PT_DYNAMIC outside", [](Image& img) { img.phdr(PT_DYNAMIC)->p_offset = uint64_t{1} << 60; });
  expect_error("PT_LOAD past the file", [](Image& img) {
    for (int i = 0; i < img.ehdr()->e_phnum; ++i) {
      auto* p = img.at<Elf64_Phdr>(img.ehdr()->e_phoff + i * sizeof(Elf64_Phdr));
      if (p->p_type == PT_LOAD) p->p_offset += uint64_t{1} << 62;
    }
  });
  expect_error("phdrs outside", [](Image& img) { img.ehdr()->e_phoff = ~uint64_t{0} - 16; img.ehdr()->e_phnum = 0xffff; });
  expect_error("e_phentsize wrong", [](Image& img) { img.ehdr()->e_phentsize = 32; });
  // Sized by relocations (no hash table, no section headers).
  auto relocations_only = [](Image& img) {
    img.hide_hash_tables();
    img.drop_section_headers();
  };
  expect_error("relocation naming a symbol far past the table", [&](Image& img) {
    relocations_only(img);
    img.at<Elf64_Rela>(img.offset(img.dyn(DT_JMPREL)->d_un.d_ptr))->r_info = uint64_t{0xfffffff0} << 32 | R_X86_64_JUMP_SLOT;
  });
  expect_error("DT_RELASZ huge", [&](Image& img) { relocations_only(img), img.dyn(DT_RELASZ)->d_un.d_val = uint64_t{1} << 61; });
  expect_error("DT_PLTRELSZ past the segment", [&](Image& img) {
    relocations_only(img), img.dyn(DT_PLTRELSZ)->d_un.d_val += uint64_t{1} << 30;
  });
  expect_error("DT_RELAENT wrong", [&](Image& img) { relocations_only(img), img.dyn(DT_RELAENT)->d_un.d_val = 16; });
  expect_error("sections: huge count through section 0", [](Image& img) {
    img.hide_hash_tables();
    img.at<Elf64_Shdr>(img.ehdr()->e_shoff)->sh_size = uint64_t{1} << 40;
    img.ehdr()->e_shnum = 0;
  });
  expect_error("sections: .dynsym outside", [](Image& img) {
    img.hide_hash_tables();
    for (int i = 0; i < img.ehdr()->e_shnum; ++i)
      if (auto* sh = img.at<Elf64_Shdr>(img.ehdr()->e_shoff + i * sizeof(Elf64_Shdr)); sh->sh_type == SHT_DYNSYM)
        sh->sh_size = uint64_t{1} << 50;
  });

  // Random corruption of the first 4 KiB (headers, hash tables, .dynsym,
  // .dynstr) and of the dynamic section: names or an Error, never a crash.
  std::mt19937_64 rng(20240607);
  Image base(prog);
  Elf64_Phdr* dyn = base.phdr(PT_DYNAMIC);
  uint64_t dyn_off = dyn->p_offset, dyn_size = dyn->p_filesz;
  int ok = 0, errors = 0;
  for (int round = 0; round < 3000; ++round) {
    Image img = base;
    for (int k = 0, n = 1 + static_cast<int>(rng() % 8); k < n; ++k) {
      uint64_t at = rng() % 2 ? rng() % 4096 : dyn_off + rng() % dyn_size;
      img.bytes[at] = static_cast<char>(rng() % 3 == 0 ? 0xff : rng());
    }
    std::string path = img.write(s.path("fuzzed"));
    try {
      elf::imported_symbols(path);
      ++ok;
    } catch (const Error&) {
      ++errors;
    }
  }
  EXPECT_GT(ok, 0);
  EXPECT_GT(errors, 0);
  EXPECT_EQ(elf::imported_symbols(prog), full);
}
