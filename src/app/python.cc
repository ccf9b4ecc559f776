// Python apps: dependencies (a virtualenv or a site-packages tree) go into
// the base interpreter's site directory, the app's code under /app, each in
// its own layer. Compiled files stay consistent with their sources: a .pyc
// for another Python or older than its source is dropped (Python compiles
// in memory instead), a current one gets the source's mtime in the image.
#include <sys/stat.h>

#include <fstream>

#include "app/app_internal.h"
#include "app/libraries.h"
#include "base/error.h"
#include "elf/closure.h"

namespace distill::app_internal {

namespace {

/// "3.13" from "/usr/bin/python3.13" as the base resolves the interpreter.
std::string base_python_version(const AppContext& context, const std::string& interpreter) {
  std::string real = context.base.resolve(interpreter).value_or(interpreter);
  std::string name = real.substr(real.rfind('/') + 1);
  if (name.starts_with("python3.") && name.size() > 8 && name.find_first_not_of("0123456789", 8) == std::string::npos)
    return name.substr(6);
  for (const std::string& dir : context.base.list("/usr/lib"))
    if (dir.starts_with("python3.") && context.base.exists("/usr/lib/" + dir + "/os.py")) return dir.substr(6);
  throw Error("cannot tell which Python the base runs (" + interpreter + " is no python3.N and no /usr/lib/python3.N/os.py)");
}

/// The site-packages of a virtualenv, or `deps` itself.
fs::path site_packages(const fs::path& deps) {
  std::error_code ec;
  if (!fs::exists(deps / "pyvenv.cfg", ec)) return deps;
  std::vector<fs::path> found;
  for (const char* lib : {"lib", "lib64"}) {
    if (!fs::is_directory(deps / lib, ec) || fs::is_symlink(deps / lib, ec)) continue;
    for (const auto& e : fs::directory_iterator(deps / lib, ec))
      if (e.path().filename().string().starts_with("python") && fs::is_directory(e.path() / "site-packages", ec))
        found.push_back(e.path() / "site-packages");
  }
  if (found.size() != 1)
    throw Error(deps.string() + " is a virtualenv but has " + std::to_string(found.size()) +
                " lib/pythonX.Y/site-packages directories; give the one to use with --deps");
  return found.front();
}

uint32_t le32(const std::string& b, size_t at) {
  return uint32_t(uint8_t(b[at])) | uint32_t(uint8_t(b[at + 1])) << 8 | uint32_t(uint8_t(b[at + 2])) << 16 |
         uint32_t(uint8_t(b[at + 3])) << 24;
}

class PythonTrees {
 public:
  PythonTrees(std::string version, int64_t epoch) : m_version(std::move(version)), m_epoch(epoch) {
    m_tag = "cpython-" + m_version.substr(0, 1) + m_version.substr(2);
  }

  /// Copies a tree, handling .pyc and extension modules; false: unchanged.
  bool file(const fs::path& host, const std::string& image, ImageFiles& out) {
    std::string name = host.filename().string();
    if (name.ends_with(".pyc") && host.parent_path().filename() == "__pycache__") return pyc(host, image, out);
    if (name.ends_with(".so") && is_elf(host)) extension(host);
    return false;
  }

  const std::vector<std::string>& extensions() const { return m_extensions; }
  const std::vector<std::pair<std::string, std::string>>& dropped() const { return m_dropped; }

 private:
  // PEP 3147 name NAME.TAG[.opt-N].pyc; PEP 552 header: magic, flags, then
  // source mtime and size (flags 0) or a source hash (flags bit 0).
  bool pyc(const fs::path& host, const std::string& image, ImageFiles& out) {
    std::string name = host.filename().string();
    auto dot = name.find('.');
    std::string stem = name.substr(0, dot);
    std::string tag = name.substr(dot + 1, name.find('.', dot + 1) - dot - 1);
    if (tag != m_tag) return drop(image, "compiled for " + tag + "; the base runs Python " + m_version);
    fs::path source = host.parent_path().parent_path() / (stem + ".py");
    struct stat st;
    if (::stat(source.c_str(), &st) != 0) return drop(image, "no " + stem + ".py beside it");
    std::string bytes = read_file(host);
    if (bytes.size() < 16) return drop(image, "truncated");
    uint32_t flags = le32(bytes, 4);
    if (flags & 1) return false;  // hash-based: Python checks it against the source itself
    if (le32(bytes, 8) != uint32_t(st.st_mtime) || le32(bytes, 12) != uint32_t(st.st_size))
      return drop(image, "older than " + stem + ".py");
    uint32_t mtime = uint32_t(m_epoch);  // every mtime in the image is SOURCE_DATE_EPOCH
    for (int i = 0; i < 4; ++i) bytes[8 + i] = char((mtime >> (8 * i)) & 0xff);
    struct stat pst;
    if (::stat(host.c_str(), &pst) != 0) throw_errno("stat " + host.string());
    out.add_content(image, std::move(bytes), pst.st_mode & 07777, "compiled " + stem + ".py, stamped with its image mtime");
    return true;
  }

  bool drop(const std::string& image, const std::string& why) {
    m_dropped.emplace_back(image, "left out: " + why + " (Python compiles the source when imported)");
    return true;
  }

  // NAME.cpython-311-x86_64-linux-gnu.so loads only in that Python;
  // NAME.abi3.so and NAME.so in any.
  void extension(const fs::path& host) {
    std::string name = host.filename().string();
    auto first = name.find('.');
    std::string tag = name.substr(first + 1, name.size() - 3 - first - 1);
    if (tag.starts_with("cpython-")) {
      std::string wanted = m_tag.substr(8);
      std::string got = tag.substr(8, tag.find('-', 8) - 8);
      if (got != wanted)
        throw Error(host.string() + " is an extension module for Python " + got.substr(0, 1) + "." + got.substr(1) +
                    ", but the base runs Python " + m_version +
                    "; rebuild it (and its virtualenv) with python" + m_version + ", or pick a base with that Python");
    }
    m_extensions.push_back(host.string());
  }

  std::string m_version, m_tag;
  int64_t m_epoch;
  std::vector<std::string> m_extensions;
  std::vector<std::pair<std::string, std::string>> m_dropped;
};

fs::path default_deps(const fs::path& dir) {
  std::error_code ec;
  for (const char* name : {".venv", "venv"})
    if (fs::exists(dir / name / "pyvenv.cfg", ec)) return dir / name;
  return {};
}

}  // namespace

AppPlan plan_python(const AppSpec& app, const AppContext& context) {
  if (app.sysroot != "/") throw Error("app.sysroot is for native programs; a Python app is read from the host");
  std::error_code ec;
  fs::path program = fs::absolute(app.program).lexically_normal();
  if (!fs::exists(program, ec)) throw Error(program.string() + " does not exist");
  bool dir_program = fs::is_directory(program, ec);
  fs::path dir = app.dir.empty() ? (dir_program ? program : program.parent_path()) : fs::absolute(app.dir).lexically_normal();
  if (!fs::is_directory(dir, ec)) throw Error("the app directory " + dir.string() + " is not a directory");
  fs::path rel = program.lexically_relative(dir);
  if (rel.empty() || rel.string().starts_with("..")) throw Error(program.string() + " is not inside the app directory " + dir.string());
  fs::path deps = app.deps.empty() ? default_deps(dir) : fs::absolute(app.deps).lexically_normal();
  if (!deps.empty() && !fs::is_directory(deps, ec)) throw Error("--deps " + deps.string() + " is not a directory");

  std::string interpreter = base_interpreter(context, "python", "/usr/bin/python3", "preset:python3");
  std::string version = base_python_version(context, interpreter);
  PythonTrees trees(version, context.epoch);
  ImageFiles libs("/", context.base), dep_files("/", context.base), code("/", context.base);
  std::vector<fs::path> skip = {dir / ".git"};
  if (!deps.empty()) skip.push_back(deps);
  for (const char* name : {".venv", "venv"})
    if (fs::exists(dir / name / "pyvenv.cfg", ec)) skip.push_back(dir / name);  // a venv is never app code
  std::string site = "/usr/local/lib/python" + version + "/dist-packages";
  std::vector<std::pair<std::string, std::string>> dropped_installers;
  if (!deps.empty()) {
    fs::path sp = site_packages(deps);
    // pip installs packages; no app imports it at run time, and a package
    // manager is what a distroless image leaves out.
    std::vector<fs::path> installers;
    for (const auto& e : fs::directory_iterator(sp, ec)) {
      std::string name = e.path().filename().string();
      if (name == "pip" || (name.starts_with("pip-") && name.ends_with(".dist-info"))) {
        installers.push_back(e.path());
        dropped_installers.emplace_back(site + "/" + name, "left out: pip is an installer, not a run-time dependency");
      }
    }
    copy_tree(sp, site, dep_files, installers, "dependency from " + sp.string(),
              [&](const fs::path& h, const std::string& i) { return trees.file(h, i, dep_files); });
  }
  copy_tree(dir, "/app", code, skip, "app code from " + dir.string(),
            [&](const fs::path& h, const std::string& i) { return trees.file(h, i, code); });
  std::vector<std::string> copied = {dir.string()};
  if (!deps.empty()) copied.push_back(deps.string());
  LibraryResolver resolver("/", context.base, libs, library_path(context.env), copied);
  for (const std::string& ext : trees.extensions()) resolver.add_shared_object(ext, ext);
  resolver.add_rules(app.tzdata);

  AppPlan plan;
  plan.user = context.user;
  if (!libs.empty()) plan.layers.push_back(libs.layer("distill app: libraries for extension modules"));
  if (!dep_files.empty()) plan.layers.push_back(dep_files.layer("distill app: python dependencies"));
  plan.layers.push_back(code.layer("distill app: python app " + dir.filename().string()));
  plan.entrypoint = {interpreter, dir_program && rel == "." ? "/app" : "/app/" + rel.string()};
  plan.entrypoint.insert(plan.entrypoint.end(), app.args.begin(), app.args.end());
  plan.workdir = "/app";
  collect_explain(plan, {&libs, &dep_files, &code});
  for (const auto& d : trees.dropped()) plan.explain.push_back(d);
  for (const auto& d : dropped_installers) plan.explain.push_back(d);
  return plan;
}

}  // namespace distill::app_internal
