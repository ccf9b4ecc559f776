#pragma once
// Pieces the app planners share (src/app/*.cc only).
#include <functional>
#include <string>
#include <vector>

#include "app/app.h"
#include "base/fs.h"

namespace distill::app_internal {

/// LD_LIBRARY_PATH of the image's env, split.
std::vector<std::string> library_path(const std::vector<std::pair<std::string, std::string>>& env);

/// Copies the host tree `dir` to `image_dir`, entry by entry: directories
/// with their modes, symlinks as they are, files through `file` (which
/// returns false to copy the file unchanged). Paths in `skip` (host paths)
/// are left out with everything below them.
void copy_tree(const fs::path& dir, const std::string& image_dir, ImageFiles& out, const std::vector<fs::path>& skip,
               const std::string& reason,
               const std::function<bool(const fs::path& host, const std::string& image)>& file);

/// Whether `path` is an ELF shared object or program (reads 4 bytes).
bool is_elf(const fs::path& path);

/// /etc/passwd, /etc/group with root, nobody, nonroot and the image's
/// numeric user, and /tmp, when the base has none.
void add_user_files(ImageFiles& out, const BaseTree& base, const std::optional<std::string>& user);

/// The interpreter of an interpreted app: the base entrypoint's first word
/// when its name starts with `name`, else `fallback` in the base; Error
/// naming the base otherwise.
std::string base_interpreter(const AppContext& context, const std::string& name, const std::string& fallback,
                             const std::string& preset);

AppPlan plan_native(const AppSpec& app, const AppContext& context);
AppPlan plan_python(const AppSpec& app, const AppContext& context);
AppPlan plan_node(const AppSpec& app, const AppContext& context);
AppPlan plan_java(const AppSpec& app, const AppContext& context);

/// Every reason of every layer, in image path order per layer.
void collect_explain(AppPlan& plan, const std::vector<const ImageFiles*>& layers);

}  // namespace distill::app_internal
