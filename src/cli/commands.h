#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace distill {

/// Options every command shares.
struct GlobalOptions {
  std::string cache_dir;      // empty: Store::default_root()
  std::string format = "text";
  bool quiet = false;
};

/// Flags for talking to registries (push, pull, copy, build, login).
struct RegistryFlags {
  bool tls_verify = true;
  std::string cert_dir;
  std::string creds;
  std::string authfile;
};

struct CopyCommand {
  std::string source, destination;
  RegistryFlags registry;
};

struct LoginCommand {
  std::string host, username, password;
  bool password_stdin = false;
  RegistryFlags registry;
};

/// Flags that shape package resolution (build, lock, why).
struct PackageFlags {
  std::string suite = "trixie";
  std::string mirror;
  bool allow_expired = false;
  bool any_suite = false;
  std::vector<std::string> keyrings;  // --keyring
};

struct BuildCommand {
  std::string spec;
  std::string output;
  std::string compression = "gzip";
  bool no_cache = false;
  bool update_lock = false;
  std::string preset;               // --preset NAME[:VARIANT]
  std::vector<std::string> archs;   // --arch, overrides the spec
  PackageFlags packages;
  RegistryFlags registry;
  std::string cache_repo;           // --cache-repo docker://HOST/REPO
  bool explain = false;             // print why each app file is there (distill app --explain)
};

struct AppCommand {
  std::vector<std::string> program;  // PROGRAM [ARGS...]
  std::string sysroot = "/";
  std::vector<std::string> env;      // K=V; LD_LIBRARY_PATH shapes the search
  std::string base;                 // "" (scratch, or the interpreted app's preset) | preset:NAME[:VARIANT] | docker://... | oci:...
  std::string user;
  std::string kind;                 // native | python | node | java ("": from the program)
  std::string dir, deps, main;      // interpreted apps: app directory, dependencies, Java main class
  std::vector<std::string> include; // more host files
  bool explain = false;
  bool tzdata = false;
  BuildCommand build;                // -o, --compression, registry flags
};

struct LockCommand {
  std::string spec;
  PackageFlags packages;
};

struct WhyCommand {
  std::string package;
  std::string spec;
  std::string arch;
  PackageFlags packages;
};

struct InspectCommand {
  std::string image;
  std::optional<std::string> arch;
  bool no_files = false;
  RegistryFlags registry;  // docker:// images
};

struct CachePruneCommand {
  std::string max_size;  // --max-size SIZE
  bool all = false;
  bool dry_run = false;
};

int run_build(const GlobalOptions& global, const BuildCommand& cmd);
struct Spec;
/// A build of an in-memory spec (distill app), with cmd's flags.
int run_build_with(const GlobalOptions& global, const BuildCommand& cmd, const Spec* spec);
int run_lock(const GlobalOptions& global, const LockCommand& cmd);
int run_app(const GlobalOptions& global, const AppCommand& cmd);
int run_copy(const GlobalOptions& global, const CopyCommand& cmd);
int run_login(const GlobalOptions& global, const LoginCommand& cmd);
int run_logout(const GlobalOptions& global, const LoginCommand& cmd);
int run_why(const GlobalOptions& global, const WhyCommand& cmd);
int run_inspect(const GlobalOptions& global, const InspectCommand& cmd);
int run_cache_info(const GlobalOptions& global);
int run_cache_prune(const GlobalOptions& global, const CachePruneCommand& cmd);
/// DISTILL_CACHE_MAX_SIZE (`max_size`, as the user wrote it): prunes the
/// cache if a command left it larger.
void prune_after_command(const GlobalOptions& global, const std::string& max_size);

}  // namespace distill
