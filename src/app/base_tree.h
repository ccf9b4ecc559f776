#pragma once
// What the layers below an app already hold: their merged file tree, read
// once from the layer blobs and cached in the store by the layers' digests,
// so a rebuild does not decompress the base again.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "oci/image.h"
#include "store/store.h"

namespace distill {

class BaseTree {
 public:
  struct Node {
    char type = '0';     // '0' file, '5' directory, '2' symlink, '1' hardlink
    std::string target;  // symlink target as stored
  };

  BaseTree() = default;  // scratch: nothing below

  /// The merged tree of `layers` (bottom first), whiteouts applied.
  static BaseTree read(const std::vector<BuiltLayer>& layers, Store& store);

  bool empty() const { return m_nodes.empty(); }
  void add(const std::string& path, Node node) { m_nodes[path] = std::move(node); }

  /// The entry at `path` itself (no symlink followed at the end).
  const Node* find(const std::string& path) const;
  /// `path` with every symlink on the way followed inside the tree, or
  /// nullopt when it does not exist (or loops).
  std::optional<std::string> resolve(const std::string& path) const;
  bool exists(const std::string& path) const { return resolve(path).has_value(); }
  /// Whether `path` is a real directory (not a symlink) in the tree.
  bool is_real_directory(const std::string& path) const;
  /// Names directly inside directory `dir` (after resolving it).
  std::vector<std::string> list(const std::string& dir) const;

  /// Where glibc's loader finds `soname` in the base by its default
  /// directories for `triplet`: the path, or nullopt.
  std::optional<std::string> library(const std::string& soname, const std::string& triplet) const;

  /// The base's /etc/ld.so.cache bytes ("" when it has none), so an app's
  /// cache can keep the base's entries.
  const std::string& ld_so_cache() const { return m_ld_so_cache; }

 private:
  std::map<std::string, Node> m_nodes;  // absolute paths, "/usr/bin/python3"
  std::string m_ld_so_cache;
};

}  // namespace distill
