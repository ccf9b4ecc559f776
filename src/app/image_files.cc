#include "app/image_files.h"

#include <sys/stat.h>
#include <unistd.h>

#include <deque>

#include "base/error.h"
#include "elf/closure.h"
#include "elf/rootfs.h"

namespace distill {

namespace {

}  // namespace

void ImageFiles::put(const std::string& dst, Entry entry, const std::string& reason) {
  auto [it, added] = m_entries.emplace(dst, entry);
  if (!added && (it->second.kind != entry.kind || it->second.source != entry.source || it->second.content != entry.content))
    throw Error(dst + " would be added twice with different content (" + m_reasons[dst] + "; " + reason + ")");
  m_reasons.try_emplace(dst, reason);
}

void ImageFiles::add_file(const std::string& dst, const std::string& source, const std::string& reason) {
  put(dst, Entry{Entry::Kind::file, source, "", std::nullopt}, reason);
}

void ImageFiles::add_content(const std::string& dst, std::string content, uint32_t mode, const std::string& reason) {
  put(dst, Entry{Entry::Kind::content, "", std::move(content), mode}, reason);
}

void ImageFiles::add_symlink(const std::string& dst, const std::string& target, const std::string& reason) {
  put(dst, Entry{Entry::Kind::symlink, "", target, std::nullopt}, reason);
}

void ImageFiles::add_directory(const std::string& dst, uint32_t mode, const std::string& reason) {
  put(dst, Entry{Entry::Kind::directory, "", "", mode}, reason);
}

void ImageFiles::add_host_path(const std::string& path, const std::string& reason) {
  std::string image = walk(elf::normalize_path(path), reason, true);
  put(image, Entry{Entry::Kind::file, host(m_last_host), "", std::nullopt}, reason);
}

// Walks `path` component by component, on the host (`hostp`) and in the
// image (`image`) at once. Host symlinks on the way are added to the image
// (so the loader's and kernel's lookups of `path` work there too), except
// where the base keeps a real directory at that place: the host's content
// then goes under the base's directory and the two walks part until an
// absolute symlink joins them again. Returns the image path of the end;
// `m_last_host` is its host path.
std::string ImageFiles::walk(const std::string& path, const std::string& reason, bool emit) {
  std::deque<std::string> rest;
  auto push_front = [&](const std::string& p) {
    std::vector<std::string> parts;
    for (size_t start = 0; start <= p.size();) {
      size_t end = p.find('/', start);
      if (end == std::string::npos) end = p.size();
      if (end > start) parts.push_back(p.substr(start, end - start));
      start = end + 1;
    }
    rest.insert(rest.begin(), parts.begin(), parts.end());
  };
  push_front(path);
  std::string hostp, image;  // walked so far; "" is the root
  int links = 0;
  while (!rest.empty()) {
    std::string name = rest.front();
    rest.pop_front();
    if (name == ".") continue;
    if (name == "..") {
      hostp = hostp.empty() ? "" : elf::dirname(hostp) == "/" ? "" : elf::dirname(hostp);
      image = image.empty() ? "" : elf::dirname(image) == "/" ? "" : elf::dirname(image);
      continue;
    }
    std::string h = hostp + "/" + name, i = image + "/" + name;
    struct stat st;
    if (::lstat(host(h).c_str(), &st) != 0) throw Error(h + " does not exist under " + m_root + " (looking up " + path + ")");
    if (!S_ISLNK(st.st_mode)) {
      hostp = h;
      image = i;
      continue;
    }
    if (++links > 40) throw Error("too many symlinks resolving " + path + " under " + m_root);
    char buf[4096];
    ssize_t n = ::readlink(host(h).c_str(), buf, sizeof buf - 1);
    if (n < 0) throw_errno("readlink " + host(h));
    std::string target(buf, static_cast<size_t>(n));
    if (emit && !rest.empty() && m_base.is_real_directory(i)) {
      // The base has a real directory here (bookworm's /lib): keep it.
      hostp = walk(h, reason, false);
      if (hostp == "/") hostp = "";
      image = i;
      continue;
    }
    const BaseTree::Node* in_base = m_base.find(i);
    if (emit && !(in_base && in_base->type == '2' && in_base->target == target))
      put(i, Entry{Entry::Kind::symlink, "", target, std::nullopt}, "symlink on the way to " + path + " (" + reason + ")");
    push_front(target);
    if (target.starts_with("/")) hostp = image = "";
  }
  m_last_host = hostp.empty() ? "/" : hostp;
  return image.empty() ? "/" : image;
}

AppLayer ImageFiles::layer(const std::string& created_by) const {
  AppLayer layer;
  layer.created_by = created_by;
  SpecPlace place{created_by, 0, 0, "app"};
  for (const auto& [dst, e] : m_entries) {
    if (e.kind == Entry::Kind::file || e.kind == Entry::Kind::content) {
      FileSpec f;
      f.place = f.src_place = f.dst_place = place;
      f.dst = dst;
      if (e.kind == Entry::Kind::file) f.src = e.source;
      else f.content = e.content;
      f.mode = e.mode;
      layer.files.push_back(std::move(f));
    } else {
      PathSpec p;
      p.place = p.target_place = place;
      p.path = dst;
      p.type = e.kind == Entry::Kind::symlink ? PathSpec::Type::symlink : PathSpec::Type::directory;
      p.target = e.content;
      p.mode = e.mode;
      layer.paths.push_back(std::move(p));
    }
  }
  return layer;
}

}  // namespace distill
