#include "oci/tree.h"

#include <map>

namespace distill {

namespace {

void remove_subtree(std::map<std::string, TreeEntry>& tree, const std::string& dir, bool keep_dir) {
  auto it = tree.lower_bound(dir);
  if (!keep_dir && it != tree.end() && it->first == dir) it = tree.erase(it);
  std::string prefix = dir.empty() ? "" : dir + "/";
  it = tree.lower_bound(prefix);
  while (it != tree.end() && it->first.starts_with(prefix)) it = tree.erase(it);
}

}  // namespace

std::vector<TreeEntry> merged_tree(const ImageView& image) {
  std::map<std::string, TreeEntry> tree;
  for (size_t i = 0; i < image.layers.size(); ++i) {
    std::vector<TarEntry> added;
    read_tar(image.layers[i].file, [&](const TarEntry& e, const ReadData&) {
      if (e.path.empty()) return;
      std::string base = e.path.substr(e.path.rfind('/') == std::string::npos ? 0 : e.path.rfind('/') + 1);
      std::string dir = e.path.size() > base.size() ? e.path.substr(0, e.path.size() - base.size() - 1) : "";
      if (base == ".wh..wh..opq") {
        remove_subtree(tree, dir, true);
      } else if (base.starts_with(".wh.")) {
        remove_subtree(tree, (dir.empty() ? "" : dir + "/") + base.substr(4), false);
      } else {
        added.push_back(e);
      }
    });
    for (TarEntry& e : added) {
      auto old = tree.find(e.path);
      // A non-directory replacing anything drops what was below it.
      if (old != tree.end() && (e.type != '5' || old->second.entry.type != '5')) remove_subtree(tree, e.path, false);
      std::string path = e.path;
      tree[path] = TreeEntry{std::move(e), i};
    }
  }
  std::vector<TreeEntry> out;
  out.reserve(tree.size());
  for (auto& [path, e] : tree) out.push_back(std::move(e));
  return out;
}

std::string mode_string(const TarEntry& e) {
  std::string s(10, '-');
  switch (e.type) {
    case '5': s[0] = 'd'; break;
    case '2': s[0] = 'l'; break;
    case '1': s[0] = 'h'; break;
    case '3': s[0] = 'c'; break;
    case '4': s[0] = 'b'; break;
    case '6': s[0] = 'p'; break;
    default: break;
  }
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i)
    if (e.mode & (1u << (8 - i))) s[1 + i] = rwx[i];
  if (e.mode & 04000) s[3] = (e.mode & 0100) ? 's' : 'S';
  if (e.mode & 02000) s[6] = (e.mode & 010) ? 's' : 'S';
  if (e.mode & 01000) s[9] = (e.mode & 01) ? 't' : 'T';
  return s;
}

}  // namespace distill
