#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <set>

#include "base/fs.h"
#include "elf/closure.h"
#include "fixtures/elf_fixture.h"

using namespace distill;
using test::run;

TEST(Closure, MatchesTheRealLoaderOnHostPrograms) {
  const char* candidates[] = {
      "curl", "openssl", "python3", "git", "ssh", "gpg", "sqlite3", "perl", "ls", "cp", "mv", "cat", "sort", "tar",
      "gzip", "xz", "zstd", "jq", "skopeo", "podman", "umoci", "runc", "cmake", "ninja", "gpgv", "dpkg", "apt-get",
      "bash", "dash", "grep", "sed", "awk", "find", "xargs", "ps", "top", "ip", "ss", "mount", "wget", "rsync",
      "pigz", "file", "gdb", "valgrind", "docker", "dockerd", "containerd", "less", "diff", "patch", "make", "g++",
      "gcc", "ld", "objdump", "readelf", "strace", "ldd", "id", "stat", "du", "df", "date", "env", "sha256sum",
      "openssl", "ssh-keygen", "scp", "gpg-agent", "dirmngr", "mmdebstrap", "qemu-aarch64-static", "java", "node"};
  std::set<std::string> checked;
  for (const char* name : candidates) {
    std::string path = run(std::string("command -v ") + name + " 2>/dev/null");
    while (!path.empty() && path.back() == '\n') path.pop_back();
    if (path.empty() || checked.count(path)) continue;
    std::error_code ec;
    std::string real = fs::canonical(path, ec).string();
    auto info = elf::read_elf(real);
    if (!info || info->interpreter.empty()) continue;  // scripts and static programs
    checked.insert(path);
    // The loader picks glibc-hwcaps builds for this CPU: so must we, here.
    elf::ClosureOptions options;
    options.glibc_hwcaps = elf::host_glibc_hwcaps();
    elf::Closure c = elf::resolve_closure(path, options);
    EXPECT_EQ(test::found(c), test::glibc_trace(path)) << path;
    EXPECT_TRUE(c.missing.empty()) << path;
  }
  EXPECT_GE(checked.size(), 40u) << "the oracle test needs at least 40 dynamically linked host programs";
}

TEST(Closure, RefusesStaticAndNonElf) {
  EXPECT_THROW(elf::resolve_closure("/etc/passwd", {}), std::exception);
}
