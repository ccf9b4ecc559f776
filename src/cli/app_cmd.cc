// distill app: an image holding a program and exactly its run-time closure.
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "base/error.h"
#include "build/spec.h"
#include "cli/commands.h"
#include "elf/closure.h"
#include "elf/ldcache.h"

namespace distill {

namespace {

/// Everything to copy for one path: each directory symlink on the way, each
/// link of a symlink chain, and the file at the end (reference: minify.md §3.7).
class PathCollector {
 public:
  explicit PathCollector(std::string root) : m_root(std::move(root)) {}

  void add(const std::string& path, const std::string& reason) { follow(normalize(path), reason, 0); }

  const std::map<std::string, std::string>& files() const { return m_files; }        // path -> reason
  const std::map<std::string, std::string>& links() const { return m_links; }        // path -> target
  const std::map<std::string, std::string>& reasons() const { return m_reasons; }

 private:
  std::string host(const std::string& p) const { return m_root == "/" ? p : m_root + p; }

  static std::string normalize(const std::string& p) { return elf::normalize_path(p); }

  void follow(const std::string& path, const std::string& reason, int depth) {
    if (depth > 40) throw Error("too many symlinks resolving " + path);
    // Walk the components; a symlinked directory on the way is kept and followed.
    std::string cur;
    size_t start = 1;
    while (start <= path.size()) {
      size_t end = path.find('/', start);
      if (end == std::string::npos) end = path.size();
      cur += "/" + path.substr(start, end - start);
      struct stat st;
      if (::lstat(host(cur).c_str(), &st) != 0) throw Error(cur + " does not exist under " + m_root);
      if (S_ISLNK(st.st_mode)) {
        char buf[4096];
        ssize_t n = ::readlink(host(cur).c_str(), buf, sizeof buf - 1);
        if (n < 0) throw_errno("readlink " + cur);
        std::string target(buf, static_cast<size_t>(n));
        m_links[cur] = target;
        m_reasons.try_emplace(cur, "symlink on the way to " + path + " (" + reason + ")");
        std::string resolved = target.starts_with("/") ? target : cur.substr(0, cur.rfind('/')) + "/" + target;
        std::string tail = end < path.size() ? path.substr(end) : "";
        follow(normalize(resolved + tail), reason, depth + 1);
        return;
      }
      start = end + 1;
    }
    m_files.emplace(path, reason);
    m_reasons.try_emplace(path, reason);
  }

  std::string m_root;
  std::map<std::string, std::string> m_files, m_links, m_reasons;
};

}  // namespace

int run_app(const GlobalOptions& global, const AppCommand& cmd) {
  if (cmd.program.empty()) throw UsageError("name the program: distill app PROGRAM [ARGS...] -o DEST");
  std::string root = cmd.sysroot.empty() ? "/" : fs::absolute(cmd.sysroot).string();
  while (root.size() > 1 && root.ends_with("/")) root.pop_back();
  std::string program = cmd.program[0];
  if (!program.starts_with("/")) {
    // Relative programs are host paths (./build/server); with a sysroot, look in it.
    if (root != "/") throw UsageError("with --sysroot, name the program by its absolute path inside the root");
    program = fs::absolute(program).lexically_normal().string();
  }
  elf::ClosureOptions options;
  options.root = root;
  for (const std::string& kv : cmd.env)
    if (kv.starts_with("LD_LIBRARY_PATH="))
      for (size_t start = 16; start <= kv.size();) {
        size_t end = kv.find_first_of(":;", start);
        if (end == std::string::npos) end = kv.size();
        if (end > start) options.library_path.push_back(kv.substr(start, end - start));
        start = end + 1;
      }
  auto host_info = elf::read_elf(root == "/" ? program : root + program);
  if (!host_info) throw Error(program + " is not an ELF program (scripts and other files: add them with a spec's files:)");
  if (auto self = elf::read_elf("/proc/self/exe"); self && root == "/" && self->machine != host_info->machine)
    throw Error(program + " is built for " + elf::triplet_for_machine(host_info->machine, host_info->is64) +
                ", but this machine is " + elf::triplet_for_machine(self->machine, self->is64) +
                "; give the program's own root with --sysroot");
  elf::Closure closure = elf::resolve_closure(program, options);
  if (!closure.missing.empty()) {
    std::string msg = "cannot find what " + program + " needs:";
    for (const std::string& m : closure.missing) msg += "\n  " + m;
    throw Error(msg);
  }
  PathCollector files(root);
  for (const elf::LoadedObject& o : closure.objects)
    files.add(o.path, o.found_via == "program" ? "the program" : o.found_via == "interpreter" ? "PT_INTERP of " + program
                                                                                              : "DT_NEEDED " + o.name + " of " + o.needed_by + " (found via " + o.found_via + ")");
  // What static analysis cannot see, added by rule (minify.md §3.8).
  std::string triplet = elf::triplet_for_machine(host_info->machine, host_info->is64);
  bool glibc = false;
  for (const elf::LoadedObject& o : closure.objects) glibc = glibc || o.name == "libc.so.6";
  auto exists = [&](const std::string& p) {
    struct stat st;
    return ::lstat((root == "/" ? p : root + p).c_str(), &st) == 0;
  };
  if (glibc) {
    for (const std::string& dir : {"/lib/" + triplet, "/usr/lib/" + triplet})
      if (exists(dir + "/libgcc_s.so.1")) {
        files.add(dir + "/libgcc_s.so.1", "rule: glibc dlopens libgcc_s.so.1 for thread cancellation and unwinding");
        break;
      }
    if (exists("/etc/nsswitch.conf")) {
      files.add("/etc/nsswitch.conf", "rule: NSS configuration");
      std::string conf = read_file(root == "/" ? "/etc/nsswitch.conf" : root + "/etc/nsswitch.conf");
      std::set<std::string> services;
      std::istringstream in(conf);
      for (std::string line; std::getline(in, line);) {
        if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::istringstream words(line.substr(colon + 1));
        for (std::string w; words >> w;)
          if (!w.starts_with("[")) services.insert(w);
      }
      // files and dns are built into glibc since 2.34; others are modules.
      for (const std::string& s : services) {
        if (s == "files" || s == "dns") continue;
        for (const std::string& dir : {"/lib/" + triplet, "/usr/lib/" + triplet})
          if (exists(dir + "/libnss_" + s + ".so.2")) {
            files.add(dir + "/libnss_" + s + ".so.2", "rule: NSS service \"" + s + "\" in nsswitch.conf");
            break;
          }
      }
    }
  }
  if (exists("/etc/ssl/certs/ca-certificates.crt")) files.add("/etc/ssl/certs/ca-certificates.crt", "rule: the CA bundle");
  if (cmd.tzdata && exists("/usr/share/zoneinfo")) files.add("/usr/share/zoneinfo", "rule: --tzdata");

  Spec spec;
  spec.file = "app";
  spec.base_dir = "/";
  spec.from = cmd.base;
  SpecPlace place{"distill app", 0, 0, "files"};
  auto add_file = [&](const std::string& path) {
    FileSpec f;
    f.place = f.src_place = f.dst_place = place;
    f.src = root == "/" ? path : root + path;
    f.dst = path;
    spec.files.push_back(f);
  };
  for (const auto& [path, reason] : files.files()) add_file(path);
  for (const auto& [path, target] : files.links()) {
    PathSpec p;
    p.place = place;
    p.path = path;
    p.type = PathSpec::Type::symlink;
    p.target = target;
    spec.paths.push_back(p);
  }
  // Regenerated /etc/ld.so.cache over the libraries in the image.
  std::vector<elf::CacheEntry> cache;
  for (const elf::LoadedObject& o : closure.objects)
    if (o.found_via != "program" && o.found_via != "interpreter" && o.name.find('/') == std::string::npos)
      cache.push_back({o.name, o.path});
  if (glibc) {
    FileSpec f;
    f.place = f.dst_place = place;
    f.dst = "/etc/ld.so.cache";
    f.content = elf::write_ld_so_cache(cache, elf::cache_flags(triplet.starts_with("x86_64") ? "amd64" : triplet.starts_with("aarch64") ? "arm64" : ""));
    spec.files.push_back(f);
  }
  if (cmd.base == "scratch") {
    std::string user = cmd.user.empty() ? "65532" : cmd.user;
    FileSpec passwd;
    passwd.place = passwd.dst_place = place;
    passwd.dst = "/etc/passwd";
    passwd.content = "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
                     "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n";
    spec.files.push_back(passwd);
    FileSpec group = passwd;
    group.dst = "/etc/group";
    group.content = "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n";
    spec.files.push_back(group);
    PathSpec tmp;
    tmp.place = place;
    tmp.path = "/tmp";
    tmp.mode = 01777;
    spec.paths.push_back(tmp);
    spec.user = user;
  } else if (!cmd.user.empty()) {
    spec.user = cmd.user;
  }
  spec.entrypoint = cmd.program;
  (*spec.entrypoint)[0] = program;
  for (const std::string& kv : cmd.env) {
    auto eq = kv.find('=');
    if (eq == std::string::npos) throw UsageError("--env takes KEY=VALUE, not \"" + kv + "\"");
    spec.env.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  if (cmd.explain) {
    // Why each file is there, on stderr so --format json stays clean.
    for (const auto& [path, reason] : files.reasons()) std::cerr << path << "\t" << reason << "\n";
    if (glibc) std::cerr << "/etc/ld.so.cache\trule: regenerated for the libraries in the image\n";
  }
  return run_build_with(global, cmd.build, &spec);
}

}  // namespace distill
