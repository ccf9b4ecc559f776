#include "app/base_tree.h"

#include "archive/tar.h"
#include "base/error.h"
#include "elf/closure.h"
#include "elf/rootfs.h"
#include "oci/tree.h"

namespace distill {

namespace {

std::string from_hex(const std::string& hex) {
  std::string out;
  auto value = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out += char(value(hex[i]) << 4 | value(hex[i + 1]));
  return out;
}

/// The bytes of `path` in layer `file` (a tar blob), at most 16 MiB.
std::string file_in_layer(const fs::path& file, const std::string& path) {
  std::string data;
  read_tar(file, [&](const TarEntry& e, const ReadData& read) {
    if (e.path != path || e.type != '0') return;
    data.clear();
    char buf[65536];
    for (size_t n; (n = read(buf, sizeof buf)) > 0 && data.size() < (16u << 20);) data.append(buf, n);
  });
  return data;
}

Digest cache_key(const std::vector<BuiltLayer>& layers) {
  std::string key = "distill-base-tree-v2";
  for (const BuiltLayer& l : layers) key += "\n" + l.blob.digest.str();
  return sha256_of(key);
}

}  // namespace

BaseTree BaseTree::read(const std::vector<BuiltLayer>& layers, Store& store) {
  BaseTree tree;
  if (layers.empty()) return tree;
  Digest key = cache_key(layers);
  if (auto record = store.get_action(key)) {
    try {
      for (const auto& [path, node] : record->at("nodes").items())
        tree.m_nodes[path] = Node{node.at(0).get<std::string>().at(0), node.at(1).get<std::string>()};
      tree.m_ld_so_cache = from_hex(record->at("ld_so_cache").get<std::string>());
      return tree;
    } catch (const std::exception&) {
      tree.m_nodes.clear();  // a damaged record is read again below
    }
  }
  ImageView view;
  for (const BuiltLayer& l : layers) view.layers.push_back(LayerView{l.blob, l.diff_id, store.blob_path(l.blob.digest)});
  nlohmann::json nodes = nlohmann::json::object();
  for (const TreeEntry& e : merged_tree(view)) {
    std::string path = "/" + e.entry.path;
    tree.m_nodes[path] = Node{e.entry.type, e.entry.link_target};
    nodes[path] = {std::string(1, e.entry.type), e.entry.link_target};
    if (e.entry.path == "etc/ld.so.cache" && e.entry.type == '0')
      tree.m_ld_so_cache = file_in_layer(view.layers[e.layer].file, e.entry.path);
  }
  store.put_action(key, {{"nodes", nodes}, {"ld_so_cache", hex_encode(tree.m_ld_so_cache)}});
  return tree;
}

const BaseTree::Node* BaseTree::find(const std::string& path) const {
  if (path == "/") {
    static const Node root{'5', ""};
    return &root;
  }
  auto it = m_nodes.find(path);
  return it == m_nodes.end() ? nullptr : &it->second;
}

std::optional<std::string> BaseTree::resolve(const std::string& path) const {
  std::string pending = elf::normalize_path(path);
  for (int hops = 0; hops < 40; ++hops) {
    // Walk component by component; restart at a symlink with its target.
    std::string cur;
    bool restarted = false;
    size_t start = 1;
    while (start <= pending.size() && !restarted) {
      size_t end = pending.find('/', start);
      if (end == std::string::npos) end = pending.size();
      if (end == start) break;
      cur += "/" + pending.substr(start, end - start);
      const Node* node = find(cur);
      if (!node) return std::nullopt;
      if (node->type == '2') {
        std::string target = node->target.starts_with("/") ? node->target : elf::dirname(cur) + "/" + node->target;
        pending = elf::normalize_path(target + pending.substr(end));
        restarted = true;
      }
      start = end + 1;
    }
    if (!restarted) return cur.empty() ? "/" : cur;
  }
  return std::nullopt;
}

bool BaseTree::is_real_directory(const std::string& path) const {
  const Node* node = find(path);
  return node && node->type == '5';
}

std::vector<std::string> BaseTree::list(const std::string& dir) const {
  std::vector<std::string> names;
  auto real = resolve(dir);
  if (!real) return names;
  std::string prefix = *real == "/" ? "/" : *real + "/";
  for (auto it = m_nodes.lower_bound(prefix); it != m_nodes.end() && it->first.starts_with(prefix); ++it)
    if (it->first.find('/', prefix.size()) == std::string::npos) names.push_back(it->first.substr(prefix.size()));
  return names;
}

std::optional<std::string> BaseTree::library(const std::string& soname, const std::string& triplet) const {
  // glibc's default search path for a multiarch Debian system (minify.md §3.3).
  for (const std::string& dir : {"/lib/" + triplet, "/usr/lib/" + triplet, std::string("/lib"), std::string("/usr/lib")}) {
    std::string path = dir + "/" + soname;
    if (auto real = resolve(path)) {
      const Node* node = find(*real);
      if (node && node->type != '5') return path;
    }
  }
  return std::nullopt;
}

}  // namespace distill
