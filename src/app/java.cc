// Java apps, laid out as Jib does: dependency jars in their own layer under
// /app/libs, the app's jar (or classes directory) above it, and an explicit,
// sorted class path instead of a wildcard, so the order never depends on a
// directory listing.
#include <archive.h>
#include <archive_entry.h>

#include <memory>
#include <set>
#include <sstream>

#include "app/app_internal.h"
#include "base/error.h"

namespace distill::app_internal {

namespace {

using ArchivePtr = std::unique_ptr<archive, decltype(&archive_read_free)>;

/// A jar opened through its central directory (libarchive's seekable zip
/// reader), so a truncated or damaged jar fails here, before it is copied,
/// not when the JVM opens it.
ArchivePtr open_jar(const fs::path& jar) {
  ArchivePtr ar(archive_read_new(), archive_read_free);
  archive_read_support_format_zip_seekable(ar.get());
  if (archive_read_open_filename(ar.get(), jar.c_str(), 1 << 16) != ARCHIVE_OK)
    throw Error(jar.string() + " is not a readable jar (zip): " + archive_error_string(ar.get()));
  return ar;
}

std::string parse_main_class(const std::string& manifest) {
  // Manifest lines are continued by a leading space (JAR File Specification).
  std::string joined;
  std::istringstream in(manifest);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.starts_with(" ")) joined += line.substr(1);
    else joined += "\n" + line;
  }
  std::istringstream lines(joined);
  for (std::string line; std::getline(lines, line);)
    if (line.starts_with("Main-Class:")) {
      std::string v = line.substr(11);
      v.erase(0, v.find_first_not_of(' '));
      while (!v.empty() && v.back() == ' ') v.pop_back();
      return v;
    }
  return "";
}

/// Checks every entry header of the jar; returns its manifest's
/// Main-Class ("" when it has none).
std::string check_jar(const fs::path& jar) {
  ArchivePtr ar = open_jar(jar);
  archive_entry* entry = nullptr;
  std::string main;
  int r;
  while ((r = archive_read_next_header(ar.get(), &entry)) == ARCHIVE_OK) {
    const char* name = archive_entry_pathname(entry);
    if (!name || std::string(name) != "META-INF/MANIFEST.MF") continue;
    std::string text;
    char buf[8192];
    la_ssize_t n;
    while ((n = archive_read_data(ar.get(), buf, sizeof buf)) > 0 && text.size() < (1 << 20)) text.append(buf, size_t(n));
    if (n < 0) throw Error(jar.string() + ": cannot read its manifest: " + archive_error_string(ar.get()));
    main = parse_main_class(text);
  }
  if (r != ARCHIVE_EOF) throw Error(jar.string() + " is a damaged jar: " + archive_error_string(ar.get()));
  return main;
}

fs::path default_libs(const fs::path& dir) {
  std::error_code ec;
  for (const char* name : {"lib", "libs"})
    if (fs::is_directory(dir / name, ec)) return dir / name;
  return {};
}

}  // namespace

AppPlan plan_java(const AppSpec& app, const AppContext& context) {
  if (app.sysroot != "/") throw Error("app.sysroot is for native programs; a Java app is read from the host");
  std::error_code ec;
  fs::path program = fs::absolute(app.program).lexically_normal();
  if (!fs::exists(program, ec)) throw Error(program.string() + " does not exist");
  bool classes = fs::is_directory(program, ec);
  fs::path dir = app.dir.empty() ? program.parent_path() : fs::absolute(app.dir).lexically_normal();
  fs::path libs_dir = app.deps.empty() ? default_libs(dir) : fs::absolute(app.deps).lexically_normal();
  if (!app.deps.empty() && !fs::is_directory(libs_dir, ec)) throw Error("--deps " + libs_dir.string() + " is not a directory");
  std::string main = classes ? app.main : check_jar(program);
  if (!app.main.empty()) main = app.main;
  if (main.empty())
    throw Error(classes ? program.string() + " is a classes directory: name the main class with --main (app.main)"
                        : program.string() + " has no Main-Class in its manifest: name the main class with --main (app.main)");

  std::string java = base_interpreter(context, "java", "/usr/bin/java", "preset:java");
  ImageFiles deps(std::string("/"), context.base), code(std::string("/"), context.base);
  std::vector<std::string> classpath;
  if (!libs_dir.empty()) {
    std::vector<fs::path> jars;
    for (fs::recursive_directory_iterator it(libs_dir, ec), end; !ec && it != end; it.increment(ec))
      if (it->is_regular_file() && it->path().extension() == ".jar" && it->path() != program) jars.push_back(it->path());
    std::sort(jars.begin(), jars.end());
    std::map<std::string, fs::path> seen;
    for (const fs::path& jar : jars) {
      std::string name = jar.filename().string();
      if (auto [it, added] = seen.emplace(name, jar); !added)
        throw Error("two dependency jars are both named " + name + ": " + it->second.string() + " and " + jar.string());
      check_jar(jar);
      deps.add_file("/app/libs/" + name, jar.string(), "dependency jar from " + libs_dir.string());
      classpath.push_back("/app/libs/" + name);
    }
  }
  if (classes) {
    code.add_directory("/app/classes", 0755, "the app's classes");
    copy_tree(program, "/app/classes", code, {}, "the app's classes from " + program.string(),
              [](const fs::path&, const std::string&) { return false; });
    classpath.insert(classpath.begin(), "/app/classes");
  } else {
    code.add_file("/app/" + program.filename().string(), program.string(), "the app's jar");
    classpath.insert(classpath.begin(), "/app/" + program.filename().string());
  }
  std::string cp;
  for (const std::string& p : classpath) cp += (cp.empty() ? "" : ":") + p;

  AppPlan plan;
  plan.user = context.user;
  if (!deps.empty()) plan.layers.push_back(deps.layer("distill app: dependency jars"));
  plan.layers.push_back(code.layer("distill app: java app " + program.filename().string()));
  plan.entrypoint = {java, "-cp", cp, main};
  plan.entrypoint.insert(plan.entrypoint.end(), app.args.begin(), app.args.end());
  plan.workdir = "/app";
  collect_explain(plan, {&deps, &code});
  return plan;
}

}  // namespace distill::app_internal
