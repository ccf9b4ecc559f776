#pragma once
// The image spec users write (format: examples/image.yaml, docs/formats.md).
// Parsing checks every field and reports mistakes with the file, line,
// column and field path: "image.yaml:12:11: files[1].mode: ...".
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/fs.h"
#include "deb/solver.h"
#include "deb/sources.h"

namespace distill {

/// Where something was written in the spec, for messages.
struct SpecPlace {
  std::string file;
  int line = 0, column = 0;
  std::string field;  // "files[1].mode"
  std::string str() const;  // "image.yaml:12:11: files[1].mode"
};

struct Owner {
  uint32_t uid = 0, gid = 0;
};

struct FileSpec {
  SpecPlace place;
  std::optional<fs::path> src;  // resolved against the spec's directory
  SpecPlace src_place;
  std::optional<std::string> content;
  std::string dst;  // normalized absolute path
  SpecPlace dst_place;
  bool dst_is_dir = false;  // written with a trailing '/'
  std::optional<uint32_t> mode;
  std::optional<Owner> owner;
};

struct PathSpec {
  enum class Type { directory, symlink, hardlink };
  SpecPlace place;
  std::string path;  // normalized absolute path
  Type type = Type::directory;
  std::string target;  // symlink target as written; hardlink target normalized
  SpecPlace target_place;
  std::optional<uint32_t> mode;
  std::optional<Owner> owner;
};

/// `contents:` — Debian packages.
struct ContentsSpec {
  SpecPlace place;
  std::vector<deb::Source> repositories;  // empty: the defaults (host sources, --mirror)
  std::vector<std::string> keyrings;      // for repositories without signed-by
  std::vector<deb::PackageRequest> packages;
  std::vector<SpecPlace> package_places;
  bool recommends = false, suggests = false;
};

/// Files a build makes itself instead of maintainer scripts (presets).
struct GeneratedSpec {
  bool rootfs = false;   // passwd, group, nsswitch.conf, os-release, /tmp, /root, /home/nonroot
  bool busybox = false;  // /busybox/busybox and applet links (debug variants)
  std::string suite;     // for os-release
  std::set<std::string> derived;  // packages reduced to their effect (ca-certificates: the bundle)
};

/// `app:` (and `distill app`): a program or an interpreted app and exactly
/// what it needs at run time, laid out on the base (src/app/app.h).
struct AppSpec {
  SpecPlace place;
  std::string program;                // host path (inside `sysroot` when given): ELF, .py, .js, .jar, or a directory
  std::vector<std::string> args;      // after the program in the entrypoint
  std::vector<std::string> include;   // more host files or directories (ELF files get their closure)
  std::string kind;                   // "" (from the program) | native | python | node | java
  std::string dir;                    // interpreted apps: the app directory (default: the program's)
  std::string deps;                   // venv or site-packages, node_modules, directory of jars (default: found in dir)
  std::string main;                   // java: the main class (default: the jar's Main-Class)
  std::string sysroot = "/";          // where programs and libraries are read from
  bool tzdata = false;                // add /usr/share/zoneinfo
};

struct Spec {
  fs::path file;      // the spec file
  fs::path base_dir;  // relative src paths start here
  std::vector<FileSpec> files;
  std::vector<PathSpec> paths;
  std::optional<std::vector<std::string>> entrypoint, cmd;
  std::vector<std::pair<std::string, std::string>> env;  // in the order written
  std::optional<std::string> user, workdir, stop_signal;
  std::vector<std::string> ports;    // "8080/tcp"
  std::vector<std::string> volumes;  // absolute paths
  std::map<std::string, std::string> labels, annotations;
  std::vector<std::string> archs;    // as written; empty = the host's
  std::optional<ContentsSpec> contents;
  std::set<std::string> strip = {"docs", "man", "info", "locales", "lintian"};
  size_t max_layers = 0;             // layering.max-layers; 0: one layer per package
  SpecPlace max_layers_place;        // where max-layers was written, for errors found at build time
  GeneratedSpec generated;
  std::string from;                  // "scratch" or "preset:NAME[:VARIANT]"
  std::optional<AppSpec> app;
};

/// Parses and validates a spec file. Throws Error with the place.
Spec parse_spec_file(const fs::path& file);
/// Parses spec text; `name` is used in messages, `base_dir` for src paths.
Spec parse_spec(const std::string& text, const std::string& name, const fs::path& base_dir);

/// Normalizes an absolute image path ("/a//b/./c/" -> "/a/b/c"); rejects
/// relative paths and ".." with a message for `field`.
std::string normalize_image_path(const std::string& path, const SpecPlace& place);

}  // namespace distill
