#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <set>

#include "base/fs.h"
#include "elf/closure.h"

using namespace distill;

namespace {

std::string run(const std::string& cmd) {
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ::pclose(p);
  return out;
}

/// What glibc's loader loads (LD_TRACE_LOADED_OBJECTS=1), as name -> path.
std::map<std::string, std::string> loader_oracle(const std::string& program) {
  std::map<std::string, std::string> out;
  // Executed (not ld.so --list): $ORIGIN then comes from /proc/self/exe,
  // as in a real run of a symlinked program such as /usr/bin/java.
  std::string text = run("LD_TRACE_LOADED_OBJECTS=1 " + program + " 2>/dev/null");
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    std::string line = text.substr(pos, eol - pos);
    pos = eol == std::string::npos ? text.size() : eol + 1;
    auto arrow = line.find(" => ");
    if (arrow == std::string::npos) continue;  // vdso and the interpreter line
    std::string name = line.substr(line.find_first_not_of(" \t"), arrow - line.find_first_not_of(" \t"));
    std::string path = line.substr(arrow + 4, line.find(" (") - arrow - 4);
    out[name] = path;
  }
  return out;
}

}  // namespace

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
    elf::Closure c = elf::resolve_closure(path, {});
    std::map<std::string, std::string> ours;
    for (const elf::LoadedObject& o : c.objects)
      if (o.found_via != "program" && o.found_via != "interpreter") ours[o.name] = o.path;
    EXPECT_EQ(ours, loader_oracle(path)) << path;
    EXPECT_TRUE(c.missing.empty()) << path;
  }
  EXPECT_GE(checked.size(), 40u) << "the oracle test needs at least 40 dynamically linked host programs";
}

TEST(Closure, RefusesStaticAndNonElf) {
  EXPECT_THROW(elf::resolve_closure("/etc/passwd", {}), std::exception);
}
