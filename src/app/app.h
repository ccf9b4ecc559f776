#pragma once
// Application images (`distill app`, `app:` in a spec): a program, or a
// Python, Node or Java app, and exactly what it needs at run time, laid out
// on a base in layers that change as rarely as they can: libraries and
// rule-added files, then the app's dependencies, then its own code on top.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "app/base_tree.h"
#include "app/image_files.h"
#include "build/spec.h"

namespace distill {

enum class AppKind { native, python, node, java };

/// From app.kind, else from the program: .py or a directory with
/// __main__.py is Python, .js/.mjs/.cjs or a directory with package.json is
/// Node, .jar is Java, anything else native.
AppKind app_kind(const AppSpec& app);
const char* kind_name(AppKind kind);

/// The base an app gets when the spec names none: scratch for programs,
/// the matching preset for interpreted apps.
std::string default_app_base(const AppSpec& app);

/// Checks that the app's host paths exist; Error naming the spec place.
void check_app_paths(const AppSpec& app);

/// The Debian architecture the app's image is for: a native program's own
/// (read from its ELF header), else "" (the spec's or the host's).
std::string app_arch(const AppSpec& app);

struct AppContext {
  const BaseTree& base;                      // the layers below the app
  std::vector<std::string> base_entrypoint;  // the interpreter of python/node/java bases
  std::vector<std::pair<std::string, std::string>> env;  // the image's env (LD_LIBRARY_PATH guides the search)
  std::optional<std::string> user;           // the image's user, if set
  int64_t epoch = 0;                         // SOURCE_DATE_EPOCH: mtimes in the image
};

struct AppPlan {
  std::vector<AppLayer> layers;  // bottom first; the app's own code last
  std::vector<std::string> entrypoint;
  std::optional<std::string> workdir, user;
  std::vector<std::pair<std::string, std::string>> explain;  // image path, why it is there
};

/// Plans the app's layers. Throws Error naming the file or library at fault.
AppPlan plan_app(const AppSpec& app, const AppContext& context);

}  // namespace distill
