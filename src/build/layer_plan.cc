#include "build/layer_plan.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <set>

#include "base/error.h"

namespace distill {

namespace {

/// "dev:ino:size:mtime:ctime" (ns): a host file's identity for the layer
/// cache, built without the temporary strings of std::to_string.
std::string stat_key(const struct stat& st) {
  char buf[160];
  int n = std::snprintf(buf, sizeof buf, "%ju:%ju:%jd:%jd.%ld:%jd.%ld", uintmax_t(st.st_dev), uintmax_t(st.st_ino),
                        intmax_t(st.st_size), intmax_t(st.st_mtim.tv_sec), st.st_mtim.tv_nsec,
                        intmax_t(st.st_ctim.tv_sec), st.st_ctim.tv_nsec);
  return std::string(buf, static_cast<size_t>(n));
}

using Child = std::pair<std::string, struct stat>;  // name, lstat

/// A directory's children, sorted as bytes (so hardlink groups pick the
/// same first path on every host), each lstat'ed relative to the open
/// directory: one path component to look up per file instead of the
/// whole path. The directory is closed before the caller descends, so
/// deep trees hold one descriptor at a time.
std::vector<Child> list_dir(const std::string& dir, const SpecPlace& place) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) throw_errno(place.str() + ": cannot list " + dir);
  std::unique_ptr<DIR, int (*)(DIR*)> owned(d, ::closedir);
  std::vector<Child> children;
  errno = 0;
  while (const dirent* ent = ::readdir(d)) {
    std::string_view name = ent->d_name;
    if (name != "." && name != "..") children.push_back(Child{std::string(name), {}});
  }
  if (errno != 0) throw_errno(place.str() + ": cannot list " + dir);
  std::sort(children.begin(), children.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [name, st] : children)
    if (::fstatat(::dirfd(d), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) throw_errno(place.str() + ": " + dir + "/" + name);
  return children;
}

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
    add_host_entry(f, src.string(), st, dst);
  }

  void add_host_entry(const FileSpec& f, const std::string& src, const struct stat& st, const std::string& dst) {
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
      e.source = src;
      e.size = static_cast<uint64_t>(st.st_size);
      e.stat_key = stat_key(st);
      e.source_capability = true;
      add(std::move(e), f.src_place);
    } else if (S_ISLNK(st.st_mode)) {
      e.type = LayerEntry::Type::symlink;
      e.mode = 0777;
      std::error_code ec;
      e.link_target = fs::read_symlink(src, ec).string();
      if (ec) throw Error(f.src_place.str() + ": cannot read the symlink " + src + ": " + ec.message());
      add(std::move(e), f.src_place);
    } else if (S_ISDIR(st.st_mode)) {
      if (!e.path.empty()) {
        e.type = LayerEntry::Type::directory;
        add(std::move(e), f.src_place);
      }
      std::string base = src + "/", dst_base = (dst == "/" ? "" : dst) + "/";
      for (const auto& [name, child] : list_dir(src, f.src_place)) add_host_entry(f, base + name, child, dst_base + name);
    } else {
      throw Error(f.src_place.str() + ": " + src +
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
  /// Each entry checks its nearest ancestor the plan has: entries come in
  /// path order, so an ancestor that is an entry was checked before its
  /// descendants, and the first bad path found is the one reported.
  void add_parents() {
    std::set<std::string> missing;
    for (const auto& [path, e] : entries) {
      for (size_t slash = path.rfind('/'); slash != std::string::npos; slash = path.rfind('/', slash - 1)) {
        std::string parent = path.substr(0, slash);
        auto it = entries.find(parent);
        if (it != entries.end()) {
          if (it->second.type != LayerEntry::Type::directory)
            throw Error(e.origin + ": /" + path + " needs /" + parent + " to be a directory, but " + it->second.origin +
                        " makes it a " + type_name(it->second.type));
          break;
        }
        if (!missing.insert(std::move(parent)).second || slash == 0) break;  // its ancestors were seen with it
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
