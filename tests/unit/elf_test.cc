#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <elf.h>

#include <bit>
#include <cstdio>
#include <sstream>

#include "base/fs.h"
#include "elf/closure.h"
#include "elf/elf.h"
#include "elf/ldcache.h"

using namespace distill;

TEST(LdCache, LibcmpComparesDigitRunsAsNumbers) {
  EXPECT_LT(elf::libcmp("libc.so.6", "libc.so.10"), 0);
  EXPECT_GT(elf::libcmp("libz.so.1", "libc.so.6"), 0);
  EXPECT_EQ(elf::libcmp("libc.so.6", "libc.so.6"), 0);
  EXPECT_LT(elf::libcmp("libc.so", "libc.so.6"), 0);
}

TEST(LdCache, NamesLdconfigTakesAsLibraries) {
  for (const char* yes : {"libc.so.6", "libssl.so.3", "ld-linux-x86-64.so.2", "ld64.so.1", "ld64.so.2", "ld.so.1", "libfoo-1.2.so"})
    EXPECT_TRUE(elf::looks_like_dso(yes)) << yes;
  for (const char* no : {"libc", "gconv-modules", "ld64", "ld.so", "crt1.o", "python3.11", "foo.so.1"})
    EXPECT_FALSE(elf::looks_like_dso(no)) << no;
}

TEST(LdCache, HostLdconfigReadsWhatWeWrite) {
  // glibc's own ldconfig is the oracle: it must list every entry.
  std::string cache = elf::write_ld_so_cache({{"libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6"},
                                              {"libz.so.1", "/usr/lib/x86_64-linux-gnu/libz.so.1"},
                                              {"libssl.so.3", "/usr/lib/x86_64-linux-gnu/libssl.so.3"},
                                              {"ld-linux-x86-64.so.2", "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"}},
                                             elf::cache_flags("amd64"));
  TempDir dir(fs::temp_directory_path(), "distill-ldcache-");
  write_file_atomic(dir.path() / "ld.so.cache", cache);
  std::string cmd = "/sbin/ldconfig -p -C " + (dir.path() / "ld.so.cache").string();
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  EXPECT_EQ(::pclose(p), 0) << out;
  EXPECT_NE(out.find("4 libs found"), std::string::npos) << out;
  EXPECT_NE(out.find("libc.so.6 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libc.so.6"), std::string::npos) << out;
  // Descending order, as ld.so's binary search expects.
  EXPECT_LT(out.find("libz.so.1"), out.find("libssl.so.3"));
  EXPECT_LT(out.find("libssl.so.3"), out.find("libc.so.6"));
}

TEST(Elf, ReadsTheSonameOfAHostLibrary) {
  // libc's SONAME is libc.so.6 on every glibc system.
  const char* libc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
  if (!fs::exists(libc)) GTEST_FAIL() << "this test expects an x86-64 Debian host";
  auto so = elf::read_shared_object(libc, 0, fs::file_size(libc));
  ASSERT_TRUE(so);
  EXPECT_EQ(so->soname, "libc.so.6");
  EXPECT_TRUE(so->is64);
  EXPECT_FALSE(elf::read_shared_object("/etc/passwd", 0, fs::file_size("/etc/passwd")));
}

namespace {

std::string sh(const std::string& cmd, int* status = nullptr) {
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int st = ::pclose(p);
  if (status) *status = WEXITSTATUS(st);
  return out;
}

/// ldconfig -p's entry lines, for comparing two caches as glibc reads them.
std::string listing(const std::string& cache_file) {
  std::string out = sh("/sbin/ldconfig -p -C '" + cache_file + "' 2>&1");
  std::string lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("\t")) lines += line + "\n";
  return lines;
}

/// A root holding libq.so.1 in /opt/lib and two glibc-hwcaps builds of it,
/// its cache written by the real ldconfig (-r chroots: root only).
struct LdconfigRoot {
  TempDir dir{fs::temp_directory_path(), "distill-ldcache-"};
  std::string root() const { return dir.path().string(); }
  std::string cache() const { return root() + "/etc/ld.so.cache"; }

  bool make(const std::string& format) {
    fs::create_directories(dir.path() / "etc");
    fs::create_directories(dir.path() / "opt/lib/glibc-hwcaps/x86-64-v2");
    fs::create_directories(dir.path() / "opt/lib/glibc-hwcaps/x86-64-v3");
    write_file_atomic(dir.path() / "q.c", "int q(void) { return 1; }\n");
    write_file_atomic(dir.path() / "etc/ld.so.conf", "/opt/lib\n");
    for (const char* d : {"opt/lib", "opt/lib/glibc-hwcaps/x86-64-v2", "opt/lib/glibc-hwcaps/x86-64-v3"}) {
      int st = 0;
      sh("gcc -shared -fPIC -Wl,-soname,libq.so.1 -o '" + root() + "/" + d + "/libq.so.1' '" + root() + "/q.c' 2>&1", &st);
      if (st != 0) return false;
    }
    int st = 0;
    sh("/sbin/ldconfig -X -c " + format + " -r '" + root() + "' 2>&1", &st);
    return st == 0;
  }
};

}  // namespace

TEST(LdCache, ReadsGlibcHwcapsEntriesAsLdconfigWritesThem) {
  if (::geteuid() != 0) GTEST_SKIP() << "ldconfig -r needs root";
  LdconfigRoot r;
  ASSERT_TRUE(r.make("new"));
  auto cache = elf::LdCache::parse(read_file(r.cache()));
  ASSERT_TRUE(cache);
  std::vector<std::pair<std::string, std::string>> got;
  for (const elf::CacheEntry& e : cache->entries()) got.emplace_back(e.path, e.hwcaps);
  EXPECT_EQ(got, (std::vector<std::pair<std::string, std::string>>{
                     {"/opt/lib/glibc-hwcaps/x86-64-v2/libq.so.1", "x86-64-v2"},
                     {"/opt/lib/glibc-hwcaps/x86-64-v3/libq.so.1", "x86-64-v3"},
                     {"/opt/lib/libq.so.1", ""}}));
  int amd64 = elf::cache_flags("amd64");
  EXPECT_EQ(cache->lookup("libq.so.1", amd64, {}), "/opt/lib/libq.so.1");
  EXPECT_EQ(cache->lookup("libq.so.1", amd64, {"x86-64-v4", "x86-64-v3", "x86-64-v2"}),
            "/opt/lib/glibc-hwcaps/x86-64-v3/libq.so.1");
  EXPECT_EQ(cache->lookup("libq.so.1", amd64, {"x86-64-v2"}), "/opt/lib/glibc-hwcaps/x86-64-v2/libq.so.1");
  EXPECT_EQ(cache->lookup("libq.so.1", elf::cache_flags("arm64"), {}), std::nullopt);
  EXPECT_EQ(cache->lookup("libz.so.1", amd64, {}), std::nullopt);

  // Written back by distill, glibc's reader sees the same cache.
  TempDir out(fs::temp_directory_path(), "distill-ldcache-");
  write_file_atomic(out.path() / "ld.so.cache", elf::write_ld_so_cache(cache->entries(), amd64));
  EXPECT_EQ(listing((out.path() / "ld.so.cache").string()), listing(r.cache()));
  EXPECT_NE(listing(r.cache()).find("hwcap: \"x86-64-v3\""), std::string::npos) << listing(r.cache());
}

TEST(LdCache, ReadsTheOldAndTheCompatFormats) {
  if (::geteuid() != 0) GTEST_SKIP() << "ldconfig -r needs root";
  // The old format has no hwcaps field: ldconfig writes the glibc-hwcaps
  // builds as ordinary entries, and ld.so takes the first (x86-64-v2) for
  // every CPU. The compat format hides the new one inside, which is read.
  for (auto [format, path] : {std::pair{"old", "/opt/lib/glibc-hwcaps/x86-64-v2/libq.so.1"},
                              std::pair{"compat", "/opt/lib/libq.so.1"}}) {
    LdconfigRoot r;
    ASSERT_TRUE(r.make(format)) << format;
    auto cache = elf::LdCache::parse(read_file(r.cache()));
    ASSERT_TRUE(cache) << format;
    EXPECT_EQ(cache->entries().size(), 3u) << format;
    EXPECT_EQ(cache->lookup("libq.so.1", elf::cache_flags("amd64"), {}), path) << format;
  }
}

TEST(LdCache, LookupFollowsLdSosSearch) {
  // Another architecture's entry of the same name is passed over; an i386
  // lookup takes it. Ties keep their order, as ldconfig's directory order.
  std::string data = elf::write_ld_so_cache({{"libq.so.1", "/usr/lib/x86_64-linux-gnu/libq.so.1"},
                                             {"libq.so.1", "/usr/lib/i386-linux-gnu/libq.so.1", "", elf::cache_flags("i386")},
                                             {"libq.so.1", "/usr/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libq.so.1", "x86-64-v3"},
                                             {"libq.so.1", "/usr/local/lib/libq.so.1"}},
                                            elf::cache_flags("amd64"));
  auto cache = elf::LdCache::parse(data);
  ASSERT_TRUE(cache);
  ASSERT_EQ(cache->entries().size(), 4u);
  EXPECT_EQ(cache->entries()[0].hwcaps, "x86-64-v3");  // a name's hwcaps entries first
  int amd64 = elf::cache_flags("amd64");
  EXPECT_EQ(cache->lookup("libq.so.1", amd64, {}), "/usr/lib/x86_64-linux-gnu/libq.so.1");
  EXPECT_EQ(cache->lookup("libq.so.1", amd64, {"x86-64-v3"}), "/usr/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libq.so.1");
  EXPECT_EQ(cache->lookup("libq.so.1", elf::cache_flags("i386"), {"x86-64-v3"}), "/usr/lib/i386-linux-gnu/libq.so.1");
  EXPECT_FALSE(elf::LdCache::parse("not a cache"));
  EXPECT_FALSE(elf::LdCache::parse(data.substr(0, 60)));
}

TEST(LdCache, ReadsTheHostCacheAsLdconfigDoes) {
  if (!fs::exists("/etc/ld.so.cache")) GTEST_SKIP() << "no /etc/ld.so.cache";
  auto cache = elf::LdCache::parse(read_file("/etc/ld.so.cache"));
  ASSERT_TRUE(cache);
  // ldconfig -p: "\tNAME (FLAGS[, hwcap: "SUB"]) => PATH", in file order.
  std::vector<std::string> theirs, ours;
  std::istringstream in(listing("/etc/ld.so.cache"));
  for (std::string line; std::getline(in, line);) {
    std::string hwcaps = line.find("hwcap: \"") == std::string::npos ? "" : line.substr(line.find("hwcap: \"") + 8);
    theirs.push_back(line.substr(1, line.find(" (") - 1) + " " + hwcaps.substr(0, hwcaps.find('"')) + " " +
                     line.substr(line.find(" => ") + 4));
  }
  for (const elf::CacheEntry& e : cache->entries()) ours.push_back(e.soname + " " + e.hwcaps + " " + e.path);
  EXPECT_EQ(ours.size(), theirs.size());
  EXPECT_TRUE(ours == theirs) << "the host cache read differently from ldconfig -p";
  EXPECT_EQ(cache->lookup("libc.so.6", elf::cache_flags("amd64"), elf::host_glibc_hwcaps()),
            "/lib/x86_64-linux-gnu/libc.so.6");
}

namespace {

/// A minimal ELF64 shared object in either byte order: PT_INTERP, one
/// PT_LOAD over the whole file and PT_DYNAMIC with DT_NEEDED, DT_SONAME,
/// DT_RUNPATH, DT_STRTAB and DT_STRSZ. Built here because the test must not
/// depend on a foreign architecture's files being on the host.
std::string tiny_elf64(bool big, uint16_t machine) {
  std::string out;
  auto put = [&](auto v) {
    if (big != (std::endian::native == std::endian::big)) v = std::byteswap(v);
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
  };
  const std::string interp("/lib/ld64.so.1\0", 15);
  const std::string strtab("\0libc.so.6\0libq.so.1\0/opt/q\0", 28);
  const uint64_t vaddr = 0x10000, phoff = 64, interp_at = phoff + 3 * 56, strtab_at = interp_at + 16,
                 dyn_at = strtab_at + 32, dyn_size = 6 * 16, size = dyn_at + dyn_size;
  out.append("\x7f" "ELF", 4);
  out += static_cast<char>(ELFCLASS64);
  out += static_cast<char>(big ? ELFDATA2MSB : ELFDATA2LSB);
  out += static_cast<char>(EV_CURRENT);
  out.append(9, '\0');
  put(uint16_t{ET_DYN}), put(machine), put(uint32_t{EV_CURRENT}), put(uint64_t{0}), put(phoff), put(uint64_t{0});
  put(uint32_t{0}), put(uint16_t{64}), put(uint16_t{56}), put(uint16_t{3}), put(uint16_t{64}), put(uint16_t{0}), put(uint16_t{0});
  auto phdr = [&](uint32_t type, uint64_t off, uint64_t n) {
    put(type), put(uint32_t{PF_R}), put(off), put(vaddr + off), put(vaddr + off), put(n), put(n), put(uint64_t{8});
  };
  phdr(PT_INTERP, interp_at, interp.size());
  phdr(PT_LOAD, 0, size);
  phdr(PT_DYNAMIC, dyn_at, dyn_size);
  out += interp;
  out.append(strtab_at - out.size(), '\0');
  out += strtab;
  out.append(dyn_at - out.size(), '\0');
  for (auto [tag, val] : {std::pair<int64_t, uint64_t>{DT_NEEDED, 1}, {DT_SONAME, 11}, {DT_RUNPATH, 21},
                          {DT_STRTAB, vaddr + strtab_at}, {DT_STRSZ, strtab.size()}, {DT_NULL, 0}})
    put(tag), put(val);
  return out;
}

}  // namespace

TEST(Elf, ReadsObjectsOfEitherByteOrder) {
  // s390x is big-endian, ppc64el little: the same object in both orders
  // reads the same.
  TempDir dir(fs::temp_directory_path(), "distill-elf-");
  for (auto [big, machine] : {std::pair{true, uint16_t{EM_S390}}, std::pair{false, uint16_t{EM_PPC64}}}) {
    std::string path = (dir.path() / (big ? "big.so" : "little.so")).string();
    write_file_atomic(path, tiny_elf64(big, machine));
    auto info = elf::read_elf(path);
    ASSERT_TRUE(info) << path;
    EXPECT_EQ(info->little_endian, !big);
    EXPECT_EQ(info->machine, machine);
    EXPECT_EQ(info->type, ET_DYN);
    EXPECT_EQ(info->interpreter, "/lib/ld64.so.1");
    EXPECT_EQ(info->needed, std::vector<std::string>{"libc.so.6"});
    EXPECT_EQ(info->soname, "libq.so.1");
    EXPECT_EQ(info->runpath, std::vector<std::string>{"/opt/q"});
    EXPECT_TRUE(info->has_runpath);
    auto so = elf::read_shared_object(path, 0, fs::file_size(path));
    ASSERT_TRUE(so) << path;
    EXPECT_EQ(so->soname, "libq.so.1");
    EXPECT_EQ(so->machine, machine);
  }
}

TEST(LdCache, BigEndianTargetsGetABigEndianCache) {
  // ld.so ignores a cache whose byte-order flag is not its own; s390x's
  // reads every number big-endian.
  EXPECT_TRUE(elf::big_endian_arch("s390x"));
  EXPECT_FALSE(elf::big_endian_arch("ppc64el"));
  EXPECT_FALSE(elf::big_endian_arch("amd64"));
  std::vector<elf::CacheEntry> entries = {{"libc.so.6", "/lib/s390x-linux-gnu/libc.so.6"},
                                          {"libssl.so.3", "/usr/lib/s390x-linux-gnu/libssl.so.3"},
                                          {"libq.so.1", "/opt/glibc-hwcaps/z15/libq.so.1", "z15"}};
  int s390x = elf::cache_flags("s390x");
  std::string big = elf::write_ld_so_cache(entries, s390x, true);
  std::string little = elf::write_ld_so_cache(entries, s390x, false);
  ASSERT_EQ(big.size(), little.size());
  EXPECT_EQ(big[28], 3);  // cache_file_new_flags_endian_big
  EXPECT_EQ(little[28], 2);
  EXPECT_EQ(big.substr(20, 4), std::string("\0\0\0\3", 4));  // nlibs
  EXPECT_EQ(little.substr(20, 4), std::string("\3\0\0\0", 4));
  auto read_back = [](const std::string& data) {
    auto cache = elf::LdCache::parse(data);
    std::vector<std::string> out;
    if (cache)
      for (const elf::CacheEntry& e : cache->entries())
        out.push_back(e.soname + " " + e.path + " " + e.hwcaps + " " + std::to_string(e.flags));
    return out;
  };
  EXPECT_EQ(read_back(big), read_back(little));
  EXPECT_EQ(read_back(big).size(), 3u);
  EXPECT_EQ(read_back(big)[0], "libssl.so.3 /usr/lib/s390x-linux-gnu/libssl.so.3  " + std::to_string(s390x));
  auto cache = elf::LdCache::parse(big);
  ASSERT_TRUE(cache);
  EXPECT_EQ(cache->lookup("libq.so.1", s390x, {"z15"}), "/opt/glibc-hwcaps/z15/libq.so.1");
  // An unset byte-order flag (glibc before 2.32): the order in which the
  // entry count fits the file.
  std::string unset = big;
  unset[28] = 0;
  EXPECT_EQ(read_back(unset), read_back(big));
}
