#pragma once
#include <optional>
#include <string>

namespace distill {

/// Options every command shares.
struct GlobalOptions {
  std::string cache_dir;      // empty: Store::default_root()
  std::string format = "text";
  bool quiet = false;
};

struct BuildCommand {
  std::string spec;
  std::string output;
  std::string compression = "gzip";
  bool no_cache = false;
};

struct InspectCommand {
  std::string image;
  std::optional<std::string> arch;
  bool no_files = false;
};

int run_build(const GlobalOptions& global, const BuildCommand& cmd);
int run_inspect(const GlobalOptions& global, const InspectCommand& cmd);

}  // namespace distill
