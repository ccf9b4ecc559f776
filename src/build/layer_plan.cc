#include "build/layer_plan.h"

#include <dirent.h>
#include <malloc.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "base/error.h"
#include "base/thread_pool.h"

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

/// A symlink's target, read relative to its open directory.
std::string read_link_at(int dir, const std::string& name, const std::string& path, const SpecPlace& place) {
  std::string target(256, '\0');
  for (;;) {
    ssize_t n = ::readlinkat(dir, name.c_str(), target.data(), target.size());
    if (n < 0) throw_errno(place.str() + ": cannot read the symlink " + path);
    if (static_cast<size_t>(n) < target.size()) {
      target.resize(static_cast<size_t>(n));
      return target;
    }
    target.resize(target.size() * 2);  // it may have been cut: read again with room to spare
  }
}

struct Child {
  std::string name;
  struct stat st;
  std::string link_target;  // symlinks
};

/// A directory's children, each lstat'ed (and its link read) relative to
/// the open directory: one path component to look up per file instead of
/// the whole path. The directory is closed before anything descends, so
/// deep trees hold one descriptor at a time.
std::vector<Child> list_dir(const std::string& dir, const SpecPlace& place) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) throw_errno(place.str() + ": cannot list " + dir);
  std::unique_ptr<DIR, int (*)(DIR*)> owned(d, ::closedir);
  std::vector<Child> children;
  errno = 0;
  while (const dirent* ent = ::readdir(d)) {
    std::string_view name = ent->d_name;
    if (name != "." && name != "..") children.push_back(Child{std::string(name), {}, {}});
  }
  if (errno != 0) throw_errno(place.str() + ": cannot list " + dir);
  for (Child& c : children) {
    std::string path = dir + "/" + c.name;
    if (::fstatat(::dirfd(d), c.name.c_str(), &c.st, AT_SYMLINK_NOFOLLOW) != 0) throw_errno(place.str() + ": " + path);
    if (S_ISLNK(c.st.st_mode)) c.link_target = read_link_at(::dirfd(d), c.name, path, place);
  }
  return children;
}

/// A host file, directory or symlink as the walk finds it.
struct Found {
  LayerEntry entry;
  bool linked = false;  // a file with other names, which may become a hardlink
  dev_t dev = 0;
  ino_t ino = 0;
  std::exception_ptr error;  // what cannot go into an image, raised where the walk meets it
};

Found host_entry(const FileSpec& f, const std::string& src, const struct stat& st, std::string path,
                 std::string link_target) {
  Found found;
  LayerEntry& e = found.entry;
  e.path = std::move(path);
  e.uid = f.owner ? f.owner->uid : 0;
  e.gid = f.owner ? f.owner->gid : 0;
  e.mode = f.mode ? *f.mode : (st.st_mode & 07777);
  if (S_ISREG(st.st_mode)) {
    e.type = LayerEntry::Type::file;
    e.source = src;
    e.size = static_cast<uint64_t>(st.st_size);
    e.stat_key = stat_key(st);
    e.source_capability = true;
    found.linked = st.st_nlink > 1;
    found.dev = st.st_dev;
    found.ino = st.st_ino;
  } else if (S_ISLNK(st.st_mode)) {
    e.type = LayerEntry::Type::symlink;
    e.mode = 0777;
    e.link_target = std::move(link_target);
  } else if (S_ISDIR(st.st_mode)) {
    e.type = LayerEntry::Type::directory;
  } else {
    found.error = std::make_exception_ptr(Error(f.src_place.str() + ": " + src +
                                                " is a socket, FIFO or device; only files, directories and symlinks can be copied"));
  }
  return found;
}

/// A walked host directory: its children and, under their name with a '/'
/// after it, each subdirectory's contents. Sorted by name, the items give
/// the entries in path order ("a", "a.txt", "a/b"), as tar wants them.
/// Items are kept small (the entries are made as they go into the plan):
/// a big tree is held whole between the walk and the plan.
struct WalkedDir {
  struct Item {
    Child child;
    std::unique_ptr<WalkedDir> contents;
  };
  std::string src, path;  // host path, entry path
  std::vector<Item> items;
  std::exception_ptr error;  // it could not be listed
  size_t total = 0;          // the root's: entries in the whole tree
};

/// Walks a host directory on several threads: each directory is listed by
/// a job of its own (stat calls are most of a walk), and the result does not
/// depend on which thread saw what.
class TreeWalk {
 public:
  explicit TreeWalk(const FileSpec& f) : m_spec(f), m_pool(ThreadPool::default_threads()) {}

  /// The contents of `src`, whose entry is `path`; errors stay in the tree.
  std::unique_ptr<WalkedDir> walk(const std::string& src, const std::string& path) {
    auto root = std::make_unique<WalkedDir>();
    root->src = src;
    root->path = path;
    start(*root);
    std::unique_lock lock(m_mutex);
    m_idle.wait(lock, [&] { return m_pending == 0; });
    root->total = m_total;
    return root;
  }

 private:
  void start(WalkedDir& dir) {
    {
      std::lock_guard lock(m_mutex);
      ++m_pending;
    }
    m_pool.post([this, &dir] {
      try {
        list(dir);
      } catch (...) {
        dir.error = std::current_exception();
      }
      std::lock_guard lock(m_mutex);
      if (--m_pending == 0) m_idle.notify_all();
    });
  }

  void list(WalkedDir& dir) {
    std::vector<Child> children = list_dir(dir.src, m_spec.src_place);
    m_total += children.size();
    dir.items.reserve(children.size() * 2);
    for (Child& c : children) {
      if (S_ISDIR(c.st.st_mode)) {
        auto contents = std::make_unique<WalkedDir>();
        contents->src = dir.src + "/" + c.name;
        contents->path = dir.path.empty() ? c.name : dir.path + "/" + c.name;
        start(*contents);
        dir.items.push_back({Child{c.name + "/", {}, {}}, std::move(contents)});
      }
      dir.items.push_back({std::move(c), nullptr});
    }
    std::sort(dir.items.begin(), dir.items.end(), [](const auto& a, const auto& b) { return a.child.name < b.child.name; });
    dir.items.shrink_to_fit();
  }

  const FileSpec& m_spec;
  std::mutex m_mutex;
  std::condition_variable m_idle;
  size_t m_pending = 0;
  std::atomic<size_t> m_total{0};
  ThreadPool m_pool;  // last: joined before the rest goes
};

/// The plan: entries in path order in one vector, as tree walks produce
/// them (no node per entry: a big tree is planned in about the memory of
/// its entries), and those added out of order in a map until the end.
struct Planner {
  std::vector<LayerEntry> sorted;
  std::map<std::string, LayerEntry> others;
  std::map<std::pair<dev_t, ino_t>, std::string> inodes;  // hardlink detection within one walk

  LayerEntry* find(const std::string& path) {
    auto it = std::lower_bound(sorted.begin(), sorted.end(), path,
                               [](const LayerEntry& e, const std::string& p) { return e.path < p; });
    if (it != sorted.end() && it->path == path) return &*it;
    auto other = others.find(path);
    return other == others.end() ? nullptr : &other->second;
  }

  void add(LayerEntry e, const std::string& origin) {
    e.origin = origin;
    if ((sorted.empty() || sorted.back().path < e.path) && !others.count(e.path)) {
      sorted.push_back(std::move(e));
      return;
    }
    LayerEntry* old = find(e.path);
    if (!old) {
      std::string key = e.path;
      others.emplace(std::move(key), std::move(e));
      return;
    }
    bool same_dir = old->type == LayerEntry::Type::directory && e.type == LayerEntry::Type::directory &&
                    old->mode == e.mode && old->uid == e.uid && old->gid == e.gid;
    if (!same_dir)
      throw Error(origin + ": /" + e.path + " is already provided by " + old->origin +
                  "; each path in the image may come from one entry only");
  }

  /// Everything into `sorted`, in path order.
  void merge_others() {
    if (others.empty()) return;
    size_t middle = sorted.size();
    sorted.reserve(middle + others.size());
    while (!others.empty()) sorted.push_back(std::move(others.extract(others.begin()).mapped()));
    std::inplace_merge(sorted.begin(), sorted.begin() + static_cast<long>(middle), sorted.end(),
                       [](const LayerEntry& a, const LayerEntry& b) { return a.path < b.path; });
  }

  void add(LayerEntry e, const SpecPlace& place) { add(std::move(e), place.str()); }

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
    std::string path = dst.substr(1), origin = f.src_place.str();
    inodes.clear();
    if (!S_ISDIR(st.st_mode)) {
      std::string target;
      if (S_ISLNK(st.st_mode)) {
        std::error_code ec;
        target = fs::read_symlink(src, ec).string();
        if (ec) throw Error(origin + ": cannot read the symlink " + src.string() + ": " + ec.message());
      }
      return add_found(host_entry(f, src.string(), st, path, target), origin);
    }
    if (!path.empty()) add_found(host_entry(f, src.string(), st, path, ""), origin);
    std::unique_ptr<WalkedDir> tree = TreeWalk(f).walk(src.string(), path);
    sorted.reserve(sorted.size() + tree->total);
    add_walked(f, *tree, origin);
    tree.reset();
    // The walk's threads freed its tree into their own malloc arenas, where
    // the plan and the layer's buffers, allocated elsewhere, would never
    // reuse it: give it back, so peak memory is not the sum of both.
    ::malloc_trim(0);
  }

  /// Takes the walked entries, freeing each directory's items once they
  /// are in the plan, so a big tree is not held twice.
  void add_walked(const FileSpec& f, WalkedDir& dir, const std::string& origin) {
    if (dir.error) std::rethrow_exception(dir.error);
    std::string src = dir.src + "/", path = dir.path.empty() ? "" : dir.path + "/";
    for (WalkedDir::Item& item : dir.items) {
      if (item.contents) {
        add_walked(f, *item.contents, origin);
        item.contents.reset();
        continue;
      }
      Child& c = item.child;
      add_found(host_entry(f, src + c.name, c.st, path + c.name, std::move(c.link_target)), origin);
    }
    std::vector<WalkedDir::Item>().swap(dir.items);
  }

  /// The first name of a linked file (in path order) stays the file; the
  /// others become hardlinks to it.
  void add_found(Found found, const std::string& origin) {
    if (found.error) std::rethrow_exception(found.error);
    LayerEntry& e = found.entry;
    if (found.linked) {
      auto [it, first] = inodes.try_emplace({found.dev, found.ino}, e.path);
      if (!first) {
        e.type = LayerEntry::Type::hardlink;
        e.link_target = it->second;
        e.source.clear();
        e.size = 0;
        e.stat_key.clear();
        e.source_capability = false;
      }
    }
    add(std::move(e), origin);
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
      const LayerEntry* target = find(p.target.substr(1));
      if (!target || (target->type != LayerEntry::Type::file && target->type != LayerEntry::Type::hardlink))
        throw Error(p.target_place.str() + ": " + p.target +
                    " is not a regular file in this image; a hardlink needs a file from files: as its target");
      // Point at the group's file, not at another link.
      if (target->type == LayerEntry::Type::hardlink) find(p.path.substr(1))->link_target = target->link_target;
    }
  }

  /// Every parent must be a directory; missing ones are made 0755 0:0.
  /// Each entry checks its nearest ancestor the plan has: entries come in
  /// path order, so an ancestor that is an entry was checked before its
  /// descendants, and the first bad path found is the one reported.
  void add_parents() {
    merge_others();
    std::set<std::string> missing;
    std::string_view checked;  // the last parent found good: siblings come together, and share it
    for (const LayerEntry& e : sorted) {
      const std::string& path = e.path;
      size_t last_slash = path.rfind('/');
      if (last_slash != std::string::npos && std::string_view(path).substr(0, last_slash) == checked) continue;
      if (last_slash != std::string::npos) checked = {};
      for (size_t slash = path.rfind('/'); slash != std::string::npos && slash > 0; slash = path.rfind('/', slash - 1)) {
        std::string parent = path.substr(0, slash);
        if (const LayerEntry* p = find(parent)) {
          if (p->type != LayerEntry::Type::directory)
            throw Error(e.origin + ": /" + path + " needs /" + parent + " to be a directory, but " + p->origin +
                        " makes it a " + type_name(p->type));
          if (slash == last_slash) checked = p->path;  // an entry of `sorted`: stays put until merge_others
          break;
        }
        if (!missing.insert(std::move(parent)).second) break;  // its ancestors were seen with it
      }
    }
    for (const std::string& dir : missing) {
      LayerEntry d;
      d.path = dir;
      d.type = LayerEntry::Type::directory;
      d.mode = 0755;
      d.origin = "(parent directory)";
      others.emplace(dir, std::move(d));
    }
    merge_others();
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
  std::vector<LayerEntry> out = std::move(planner.sorted);
  std::erase_if(out, [](const LayerEntry& e) { return e.path.empty(); });
  order_for_tar(out);
  return out;
}

}  // namespace distill
