// distill app: an image holding a program (or a Python, Node or Java app)
// and exactly its run-time closure. The command line is a spec's app: key;
// src/app plans the layers and the build pipeline does the rest.
#include "app/app.h"
#include "base/error.h"
#include "build/spec.h"
#include "cli/commands.h"

namespace distill {

int run_app(const GlobalOptions& global, const AppCommand& cmd) {
  if (cmd.program.empty()) throw UsageError("name the program: distill app -o DEST -- PROGRAM [ARGS...]");
  SpecPlace place{"distill app", 0, 0, "app"};
  AppSpec app;
  app.place = place;
  std::string root = cmd.sysroot.empty() || cmd.sysroot == "/" ? "/" : fs::absolute(cmd.sysroot).lexically_normal().string();
  while (root.size() > 1 && root.ends_with("/")) root.pop_back();
  if (root != "/" && !fs::is_directory(root)) throw UsageError("--sysroot " + cmd.sysroot + " is not a directory");
  app.sysroot = root;
  app.program = cmd.program[0];
  if (!app.program.starts_with("/")) {
    // Relative programs are host paths (./build/server); with a sysroot, paths are inside it.
    if (root != "/") throw UsageError("with --sysroot, name the program by its absolute path inside the root");
    app.program = fs::absolute(app.program).lexically_normal().string();
  }
  app.args.assign(cmd.program.begin() + 1, cmd.program.end());
  if (!cmd.kind.empty() && cmd.kind != "native" && cmd.kind != "python" && cmd.kind != "node" && cmd.kind != "java")
    throw UsageError("--kind " + cmd.kind + ": write native, python, node or java");
  app.kind = cmd.kind;
  auto host_path = [](const std::string& p) { return p.empty() ? p : fs::absolute(p).lexically_normal().string(); };
  app.dir = host_path(cmd.dir);
  app.deps = host_path(cmd.deps);
  app.main = cmd.main;
  for (const std::string& inc : cmd.include)
    app.include.push_back(root == "/" ? host_path(inc) : inc);
  app.tzdata = cmd.tzdata;

  Spec spec;
  spec.file = "distill app";
  spec.base_dir = fs::current_path();
  spec.from = cmd.base;
  spec.app = app;
  if (!cmd.user.empty()) spec.user = cmd.user;
  for (const std::string& kv : cmd.env) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) throw UsageError("--env takes KEY=VALUE, not \"" + kv + "\"");
    spec.env.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  BuildCommand build = cmd.build;
  build.explain = cmd.explain;
  return run_build_with(global, build, &spec);
}

}  // namespace distill
