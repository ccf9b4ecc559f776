#include <gtest/gtest.h>

#include <cstdio>

#include "base/fs.h"
#include "elf/elf.h"
#include "elf/ldcache.h"

using namespace distill;

TEST(LdCache, LibcmpComparesDigitRunsAsNumbers) {
  EXPECT_LT(elf::libcmp("libc.so.6", "libc.so.10"), 0);
  EXPECT_GT(elf::libcmp("libz.so.1", "libc.so.6"), 0);
  EXPECT_EQ(elf::libcmp("libc.so.6", "libc.so.6"), 0);
  EXPECT_LT(elf::libcmp("libc.so", "libc.so.6"), 0);
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
