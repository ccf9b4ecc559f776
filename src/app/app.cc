#include "app/app.h"

#include <sys/stat.h>

#include <fstream>

#include "app/app_internal.h"
#include "app/libraries.h"
#include "base/error.h"
#include "build/packages.h"
#include "elf/closure.h"

namespace distill {

namespace ai = app_internal;

AppKind app_kind(const AppSpec& app) {
  if (app.kind == "python") return AppKind::python;
  if (app.kind == "node") return AppKind::node;
  if (app.kind == "java") return AppKind::java;
  if (app.kind == "native") return AppKind::native;
  fs::path p = app.sysroot == "/" ? fs::path(app.program) : fs::path(app.sysroot + app.program);
  std::error_code ec;
  if (fs::is_directory(p, ec)) {
    if (fs::exists(p / "__main__.py", ec)) return AppKind::python;
    if (fs::exists(p / "package.json", ec)) return AppKind::node;
    return AppKind::native;  // refused later with a hint
  }
  std::string ext = p.extension().string();
  if (ext == ".py") return AppKind::python;
  if (ext == ".js" || ext == ".mjs" || ext == ".cjs") return AppKind::node;
  if (ext == ".jar") return AppKind::java;
  return AppKind::native;
}

const char* kind_name(AppKind kind) {
  switch (kind) {
    case AppKind::python: return "python";
    case AppKind::node: return "node";
    case AppKind::java: return "java";
    default: return "native";
  }
}

std::string default_app_base(const AppSpec& app) {
  switch (app_kind(app)) {
    case AppKind::python: return "preset:python3";
    case AppKind::node: return "preset:nodejs";
    case AppKind::java: return "preset:java";
    default: return "scratch";
  }
}

void check_app_paths(const AppSpec& app) {
  std::error_code ec;
  auto check = [&](const std::string& field, const std::string& path, bool in_root) {
    if (path.empty()) return;
    std::string host = in_root && app.sysroot != "/" ? app.sysroot + path : path;
    if (!fs::exists(fs::symlink_status(host, ec)))
      throw Error(app.place.str() + "." + field + ": " + path + " does not exist" +
                  (in_root && app.sysroot != "/" ? " under " + app.sysroot : ""));
  };
  check("program", app.program, true);
  check("dir", app.dir, false);
  check("deps", app.deps, false);
  for (const std::string& inc : app.include) check("include", inc, true);
}

std::string app_arch(const AppSpec& app) {
  if (app_kind(app) != AppKind::native) return "";
  std::string path = app.sysroot == "/" ? app.program : app.sysroot + app.program;
  auto info = elf::read_elf(path);
  if (!info) return "";
  return debian_arch_of_triplet(elf::triplet_for_machine(info->machine, info->is64));
}

AppPlan plan_app(const AppSpec& app, const AppContext& context) {
  switch (app_kind(app)) {
    case AppKind::python: return ai::plan_python(app, context);
    case AppKind::node: return ai::plan_node(app, context);
    case AppKind::java: return ai::plan_java(app, context);
    default: return ai::plan_native(app, context);
  }
}

namespace app_internal {

std::vector<std::string> library_path(const std::vector<std::pair<std::string, std::string>>& env) {
  std::vector<std::string> dirs;
  for (const auto& [k, v] : env)
    if (k == "LD_LIBRARY_PATH")
      for (size_t start = 0; start <= v.size();) {
        size_t end = v.find_first_of(":;", start);
        if (end == std::string::npos) end = v.size();
        if (end > start) dirs.push_back(v.substr(start, end - start));
        start = end + 1;
      }
  return dirs;
}

bool is_elf(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in.gcount() == 4 && magic[0] == 0x7f && magic[1] == 'E' && magic[2] == 'L' && magic[3] == 'F';
}

void copy_tree(const fs::path& dir, const std::string& image_dir, ImageFiles& out, const std::vector<fs::path>& skip,
               const std::string& reason,
               const std::function<bool(const fs::path& host, const std::string& image)>& file) {
  std::error_code ec;
  auto skipped = [&](const fs::path& p) {
    for (const fs::path& s : skip)
      if (p == s) return true;
    return false;
  };
  // Sorted, so errors and --explain read the same on every run.
  std::vector<fs::directory_entry> entries;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) entries.push_back(*it);
  if (ec) throw Error("cannot read " + dir.string() + ": " + ec.message());
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.path() < b.path(); });
  for (const fs::directory_entry& e : entries) {
    if (skipped(e.path())) continue;
    std::string image = image_dir + "/" + e.path().filename().string();
    struct stat st;
    if (::lstat(e.path().c_str(), &st) != 0) throw_errno("lstat " + e.path().string());
    if (S_ISLNK(st.st_mode)) {
      out.add_symlink(image, fs::read_symlink(e.path()).string(), reason);
    } else if (S_ISDIR(st.st_mode)) {
      out.add_directory(image, st.st_mode & 07777, reason);
      copy_tree(e.path(), image, out, skip, reason, file);
    } else if (S_ISREG(st.st_mode)) {
      if (!file(e.path(), image)) out.add_file(image, e.path().string(), reason);
    } else {
      throw Error(e.path().string() + " is a special file (device, socket or fifo); an app cannot hold it");
    }
  }
}

void add_user_files(ImageFiles& out, const BaseTree& base, const std::optional<std::string>& user) {
  if (!base.exists("/tmp")) out.add_directory("/tmp", 01777, "rule: /tmp for programs that write temporary files");
  if (base.exists("/etc/passwd")) return;
  std::string passwd = "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
                       "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n";
  std::string group = "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n";
  if (user) {
    std::string uid = user->substr(0, user->find(':'));
    std::string gid = user->find(':') == std::string::npos ? uid : user->substr(user->find(':') + 1);
    bool numeric = !uid.empty() && uid.find_first_not_of("0123456789") == std::string::npos &&
                   !gid.empty() && gid.find_first_not_of("0123456789") == std::string::npos;
    if (!numeric && uid != "root" && uid != "nobody" && uid != "nonroot")
      throw Error("user " + *user + " is not in the image's /etc/passwd (root, nobody, nonroot); give a numeric UID[:GID]");
    if (numeric && uid != "0" && uid != "65532" && uid != "65534") {
      passwd += "app:x:" + uid + ":" + gid + ":app:/nonexistent:/sbin/nologin\n";
      if (gid != "0" && gid != "65532" && gid != "65534") group += "app:x:" + gid + ":\n";
    }
  }
  out.add_content("/etc/passwd", passwd, 0644, "rule: /etc/passwd with root, nobody, nonroot and the image's user");
  out.add_content("/etc/group", group, 0644, "rule: /etc/group to match /etc/passwd");
}

std::string base_interpreter(const AppContext& context, const std::string& name, const std::string& fallback,
                             const std::string& preset) {
  if (!context.base_entrypoint.empty()) {
    std::string first = context.base_entrypoint.front();
    std::string base = first.substr(first.rfind('/') + 1);
    if (base.starts_with(name) && context.base.exists(first)) return first;
  }
  if (context.base.exists(fallback)) return fallback;
  throw Error("the base has no " + fallback + " to run the app with; build on " + preset + " (the default) or a base that has it");
}

void collect_explain(AppPlan& plan, const std::vector<const ImageFiles*>& layers) {
  for (const ImageFiles* files : layers)
    for (const auto& [path, reason] : files->reasons()) plan.explain.emplace_back(path, reason);
}

AppPlan plan_native(const AppSpec& app, const AppContext& context) {
  std::string root = app.sysroot;
  std::string program = app.program;
  std::string host_program = root == "/" ? program : root + program;
  std::error_code ec;
  if (fs::is_directory(host_program, ec))
    throw Error(program + " is a directory; name the program in it (or give a Python app's __main__.py, a Node app's package.json)");
  auto info = elf::read_elf(host_program);
  if (!info)
    throw Error(program + " is not an ELF program (a script? name it as app.py, app.js or app.jar, or add it with files:)");
  if (auto self = elf::read_elf("/proc/self/exe"); self && root == "/" && self->machine != info->machine)
    throw Error(program + " is built for " + elf::triplet_for_machine(info->machine, info->is64) + ", but this machine is " +
                elf::triplet_for_machine(self->machine, self->is64) + "; give the program's own root with --sysroot");
  ImageFiles libs(root, context.base), top(root, context.base);
  std::vector<std::string> included_dirs;  // in the image whole: what they hold is not added again
  for (const std::string& path : app.include) {
    std::string host = root == "/" ? path : root + path;
    if (!fs::exists(host, ec)) throw Error("app.include: " + path + " does not exist" + (root == "/" ? "" : " under " + root));
    if (fs::is_directory(host, ec)) included_dirs.push_back(path);
  }
  LibraryResolver resolver(root, context.base, libs, library_path(context.env), included_dirs);
  resolver.add_program(program);
  top.add_host_path(program, "the program");
  // ELF files among the included ones need their libraries too (Python's
  // lib-dynload modules, plugins).
  auto add_elf = [&](const std::string& path) {
    auto inc = elf::read_elf(root == "/" ? path : root + path);
    if (!inc || (inc->interpreter.empty() && inc->needed.empty())) return;
    if (!inc->interpreter.empty()) resolver.add_program(path);
    else resolver.add_shared_object(path, path);
  };
  for (const std::string& path : app.include) {
    std::string host = root == "/" ? path : root + path;
    top.add_host_path(path, "included");
    if (!fs::is_directory(host, ec)) {
      if (fs::is_regular_file(host, ec) && is_elf(host)) add_elf(path);
      continue;
    }
    std::vector<std::string> found;
    for (fs::recursive_directory_iterator it(host, ec), end; !ec && it != end; it.increment(ec))
      if (it->is_regular_file(ec) && !it->is_symlink(ec) && is_elf(it->path()))
        found.push_back(root == "/" ? it->path().string() : it->path().string().substr(root.size()));
    std::sort(found.begin(), found.end());
    for (const std::string& f : found) add_elf(f);
  }
  resolver.add_rules(app.tzdata);
  AppPlan plan;
  plan.user = context.user;
  if (context.base.empty() && !plan.user) plan.user = "65532";
  add_user_files(libs, context.base, plan.user);
  plan.layers.push_back(libs.layer("distill app: libraries and rules"));
  plan.layers.push_back(top.layer("distill app: " + program));
  plan.entrypoint = {program};
  plan.entrypoint.insert(plan.entrypoint.end(), app.args.begin(), app.args.end());
  collect_explain(plan, {&libs, &top});
  return plan;
}

}  // namespace app_internal

}  // namespace distill
