// Node apps: node_modules in its own layer under /app/node_modules, the
// app's code above it under /app; native addons (.node files, ELF shared
// objects) get their library closures.
#include "app/app_internal.h"
#include "app/libraries.h"
#include "base/error.h"

#include <nlohmann/json.hpp>

namespace distill::app_internal {

namespace {

/// The script to run: the program itself, or package.json's "main" (index.js).
fs::path node_entry(const fs::path& program) {
  std::error_code ec;
  if (!fs::is_directory(program, ec)) return program;
  nlohmann::json pkg = nlohmann::json::parse(read_file(program / "package.json"), nullptr, false);
  if (pkg.is_discarded() || !pkg.is_object()) throw Error(program.string() + "/package.json is not valid JSON");
  std::string main = pkg.contains("main") && pkg["main"].is_string() ? pkg["main"].get<std::string>() : "index.js";
  fs::path entry = (program / main).lexically_normal();
  if (!fs::exists(entry, ec) && fs::exists(entry.string() + ".js", ec)) entry += ".js";
  if (!fs::exists(entry, ec)) throw Error(program.string() + "/package.json names main " + main + ", which does not exist");
  return entry;
}

}  // namespace

AppPlan plan_node(const AppSpec& app, const AppContext& context) {
  if (app.sysroot != "/") throw Error("app.sysroot is for native programs; a Node app is read from the host");
  std::error_code ec;
  fs::path program = fs::absolute(app.program).lexically_normal();
  if (!fs::exists(program, ec)) throw Error(program.string() + " does not exist");
  fs::path dir = app.dir.empty() ? (fs::is_directory(program, ec) ? program : program.parent_path())
                                 : fs::absolute(app.dir).lexically_normal();
  fs::path entry = node_entry(program);
  fs::path rel = entry.lexically_relative(dir);
  if (rel.empty() || rel.string().starts_with("..")) throw Error(entry.string() + " is not inside the app directory " + dir.string());
  fs::path modules = app.deps.empty() ? dir / "node_modules" : fs::absolute(app.deps).lexically_normal();
  bool has_modules = fs::is_directory(modules, ec);
  if (!app.deps.empty() && !has_modules) throw Error("--deps " + modules.string() + " is not a directory");

  std::string node = base_interpreter(context, "node", "/usr/bin/node", "preset:nodejs");
  ImageFiles libs("/", context.base), dep_files("/", context.base), code("/", context.base);
  std::vector<std::string> addons;
  auto file = [&](const fs::path& host, const std::string&) {
    if (host.extension() == ".node" && is_elf(host)) addons.push_back(host.string());
    return false;
  };
  if (has_modules) {
    dep_files.add_directory("/app/node_modules", 0755, "node_modules from " + modules.string());
    copy_tree(modules, "/app/node_modules", dep_files, {}, "dependency from " + modules.string(), file);
  }
  copy_tree(dir, "/app", code, {dir / ".git", dir / "node_modules", modules}, "app code from " + dir.string(), file);
  LibraryResolver resolver("/", context.base, libs, library_path(context.env), {dir.string(), modules.string()});
  for (const std::string& addon : addons) resolver.add_shared_object(addon, addon);
  resolver.add_rules(app.tzdata);

  AppPlan plan;
  plan.user = context.user;
  if (!libs.empty()) plan.layers.push_back(libs.layer("distill app: libraries for native addons"));
  if (!dep_files.empty()) plan.layers.push_back(dep_files.layer("distill app: node_modules"));
  plan.layers.push_back(code.layer("distill app: node app " + dir.filename().string()));
  plan.entrypoint = {node, "/app/" + rel.string()};
  plan.entrypoint.insert(plan.entrypoint.end(), app.args.begin(), app.args.end());
  plan.workdir = "/app";
  collect_explain(plan, {&libs, &dep_files, &code});
  return plan;
}

}  // namespace distill::app_internal
