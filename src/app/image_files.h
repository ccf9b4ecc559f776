#pragma once
// The files of one app layer, keyed by image path, each with the reason it
// is there (for --explain). Host paths are copied the way the loader and the
// kernel will look them up: every symlink on the way is kept, unless the
// base already has that path as a real directory (then the file goes under
// the base's directory and no symlink replaces it).
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "app/base_tree.h"
#include "build/spec.h"

namespace distill {

/// One layer of an app: files and paths as a spec would write them.
struct AppLayer {
  std::string created_by;
  std::vector<FileSpec> files;
  std::vector<PathSpec> paths;
};

class ImageFiles {
 public:
  /// `root`: where host paths are read ("/" or a sysroot).
  ImageFiles(std::string root, const BaseTree& base) : m_root(std::move(root)), m_base(base) {}

  /// The host file or directory at `path` (inside the root), at the same
  /// path in the image, with the symlinks on the way. Throws when absent.
  void add_host_path(const std::string& path, const std::string& reason);
  /// A host file (or directory tree) copied to `dst`, mode kept.
  void add_file(const std::string& dst, const std::string& source, const std::string& reason);
  void add_content(const std::string& dst, std::string content, uint32_t mode, const std::string& reason);
  void add_symlink(const std::string& dst, const std::string& target, const std::string& reason);
  void add_directory(const std::string& dst, uint32_t mode, const std::string& reason);

  bool empty() const { return m_entries.empty(); }
  bool contains(const std::string& dst) const { return m_entries.count(dst) > 0; }
  const std::map<std::string, std::string>& reasons() const { return m_reasons; }
  AppLayer layer(const std::string& created_by) const;

  /// The host path behind `path` inside the root ("/" root: itself).
  std::string host(const std::string& path) const { return m_root == "/" ? path : m_root + path; }

 private:
  struct Entry {
    enum class Kind { file, content, symlink, directory } kind = Kind::file;
    std::string source;   // host file
    std::string content;  // inline content, or the symlink target
    std::optional<uint32_t> mode;
  };
  void put(const std::string& dst, Entry entry, const std::string& reason);
  std::string walk(const std::string& path, const std::string& reason, bool emit);

  std::string m_root;
  const BaseTree& m_base;
  std::map<std::string, Entry> m_entries;
  std::map<std::string, std::string> m_reasons;
  std::string m_last_host;
};

}  // namespace distill
