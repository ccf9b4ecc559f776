#include "build/layer_plan.h"

#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include "base/error.h"

namespace distill {

namespace {

// Only file capabilities travel into images: other xattrs (SELinux labels,
// user.*) describe the build host, not the application.
constexpr const char* kKeptXattr = "security.capability";

struct Planner {
  std::map<std::string, LayerEntry> entries;  // key: relative path
  std::map<std::pair<dev_t, ino_t>, std::string> inodes;  // hardlink detection within one walk

  void add(LayerEntry e, const SpecPlace& place) {
    e.origin = place.str();
    auto it = entries.find(e.path);
    if (it == entries.end()) {
      std::string key = e.path;
      entries.emplace(std::move(key), std::move(e));
      return;
    }
    LayerEntry& old = it->second;
    bool same_dir = old.type == LayerEntry::Type::directory && e.type == LayerEntry::Type::directory &&
                    old.mode == e.mode && old.uid == e.uid && old.gid == e.gid;
    if (!same_dir)
      throw Error(place.str() + ": /" + e.path + " is already provided by " + old.origin +
                  "; each path in the image may come from one entry only");
  }

  void add_host_tree(const FileSpec& f) {
    const fs::path& src = *f.src;
    struct stat st;
    if (::lstat(src.c_str(), &st) != 0) {
      int err = errno;
      if (err == ENOENT) throw Error(f.src_place.str() + ": " + src.string() + " does not exist");
      throw_errno(f.src_place.str() + ": " + src.string(), err);
    }
    std::string dst = f.dst;
    if (f.dst_is_dir && !S_ISDIR(st.st_mode)) dst = (dst == "/" ? "" : dst) + "/" + src.filename().string();
    if (!S_ISDIR(st.st_mode) && dst == "/") throw Error(f.dst_place.str() + ": a file cannot replace /");
    inodes.clear();
    add_host_entry(f, src, st, dst);
  }

  void add_host_entry(const FileSpec& f, const fs::path& src, const struct stat& st, const std::string& dst) {
    LayerEntry e;
    e.path = dst == "/" ? "" : dst.substr(1);
    e.uid = f.owner ? f.owner->uid : 0;
    e.gid = f.owner ? f.owner->gid : 0;
    e.mode = f.mode ? *f.mode : (st.st_mode & 07777);
    if (S_ISREG(st.st_mode)) {
      if (st.st_nlink > 1) {
        auto [it, first] = inodes.try_emplace({st.st_dev, st.st_ino}, e.path);
        if (!first) {
          e.type = LayerEntry::Type::hardlink;
          e.link_target = it->second;
          add(std::move(e), f.src_place);
          return;
        }
      }
      e.type = LayerEntry::Type::file;
      e.source = src.string();
      e.size = static_cast<uint64_t>(st.st_size);
      e.stat_key = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
                   std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + ":" +
                   std::to_string(st.st_ctim.tv_sec) + "." + std::to_string(st.st_ctim.tv_nsec);
      char value[1024];
      ssize_t n = ::lgetxattr(src.c_str(), kKeptXattr, value, sizeof value);
      if (n > 0) e.xattrs[kKeptXattr] = std::string(value, static_cast<size_t>(n));
      add(std::move(e), f.src_place);
    } else if (S_ISLNK(st.st_mode)) {
      e.type = LayerEntry::Type::symlink;
      e.mode = 0777;
      std::error_code ec;
      e.link_target = fs::read_symlink(src, ec).string();
      if (ec) throw Error(f.src_place.str() + ": cannot read the symlink " + src.string() + ": " + ec.message());
      add(std::move(e), f.src_place);
    } else if (S_ISDIR(st.st_mode)) {
      if (!e.path.empty()) {
        e.type = LayerEntry::Type::directory;
        add(e, f.src_place);
      }
      std::error_code ec;
      std::vector<std::string> children;
      for (fs::directory_iterator it(src, ec), end; !ec && it != end; it.increment(ec))
        children.push_back(it->path().filename().string());
      if (ec) throw Error(f.src_place.str() + ": cannot list " + src.string() + ": " + ec.message());
      // Sorted (as bytes) so hardlink groups pick the same first path on every host.
      std::sort(children.begin(), children.end());
      std::string base = src.string() + "/";
      for (const std::string& name : children) {
        std::string child = base + name;
        struct stat cst;
        if (::lstat(child.c_str(), &cst) != 0) throw_errno(f.src_place.str() + ": " + child);
        add_host_entry(f, child, cst, (dst == "/" ? "" : dst) + "/" + name);
      }
    } else {
      throw Error(f.src_place.str() + ": " + src.string() +
                  " is a socket, FIFO or device; only files, directories and symlinks can be copied");
    }
  }

  void add_inline(const FileSpec& f) {
    LayerEntry e;
    e.path = f.dst.substr(1);
    e.type = LayerEntry::Type::file;
    e.content = *f.content;
    e.size = e.content.size();
    e.mode = f.mode ? *f.mode : 0644;
    e.uid = f.owner ? f.owner->uid : 0;
    e.gid = f.owner ? f.owner->gid : 0;
    add(std::move(e), f.dst_place);
  }

  void add_path(const PathSpec& p) {
    LayerEntry e;
    e.path = p.path.substr(1);
    e.uid = p.owner ? p.owner->uid : 0;
    e.gid = p.owner ? p.owner->gid : 0;
    switch (p.type) {
      case PathSpec::Type::directory:
        e.type = LayerEntry::Type::directory;
        e.mode = p.mode ? *p.mode : 0755;
        break;
      case PathSpec::Type::symlink:
        e.type = LayerEntry::Type::symlink;
        e.mode = 0777;
        e.link_target = p.target;
        break;
      case PathSpec::Type::hardlink:
        e.type = LayerEntry::Type::hardlink;
        e.link_target = p.target.substr(1);
        break;
    }
    add(std::move(e), p.place);
  }

  /// Hardlinks must name a regular file of this layer.
  void check_hardlinks(const Spec& spec) {
    for (const PathSpec& p : spec.paths) {
      if (p.type != PathSpec::Type::hardlink) continue;
      auto it = entries.find(p.target.substr(1));
      if (it == entries.end() || (it->second.type != LayerEntry::Type::file && it->second.type != LayerEntry::Type::hardlink))
        throw Error(p.target_place.str() + ": " + p.target +
                    " is not a regular file in this image; a hardlink needs a file from files: as its target");
      // Point at the group's file, not at another link.
      if (it->second.type == LayerEntry::Type::hardlink) entries[p.path.substr(1)].link_target = it->second.link_target;
    }
  }

  /// Every parent must be a directory; missing ones are made 0755 0:0.
  void add_parents() {
    std::vector<std::string> missing;
    for (const auto& [path, e] : entries) {
      for (size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1)) {
        std::string parent = path.substr(0, slash);
        auto it = entries.find(parent);
        if (it == entries.end()) missing.push_back(parent);
        else if (it->second.type != LayerEntry::Type::directory)
          throw Error(e.origin + ": /" + path + " needs /" + parent + " to be a directory, but " + it->second.origin +
                      " makes it a " + type_name(it->second.type));
      }
    }
    for (const std::string& dir : missing) {
      LayerEntry d;
      d.path = dir;
      d.type = LayerEntry::Type::directory;
      d.mode = 0755;
      d.origin = "(parent directory)";
      entries.try_emplace(dir, std::move(d));
    }
  }
};

}  // namespace

std::vector<LayerEntry> plan_files_layer(const Spec& spec) {
  Planner planner;
  for (const FileSpec& f : spec.files) {
    if (f.content) planner.add_inline(f);
    else planner.add_host_tree(f);
  }
  for (const PathSpec& p : spec.paths) planner.add_path(p);
  planner.check_hardlinks(spec);
  planner.add_parents();
  std::vector<LayerEntry> out;
  out.reserve(planner.entries.size());
  for (auto& [path, e] : planner.entries)
    if (!path.empty()) out.push_back(std::move(e));
  order_for_tar(out);
  return out;
}

}  // namespace distill
