#include "elf/rootfs.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "base/fs.h"

namespace distill::elf {

std::string dirname(const std::string& p) {
  auto slash = p.rfind('/');
  return slash == 0 ? "/" : slash == std::string::npos ? "." : p.substr(0, slash);
}

std::string basename(const std::string& p) { return p.substr(p.rfind('/') + 1); }

std::string lexical_normal(const std::string& p) {
  std::vector<std::string> parts;
  for (size_t start = 0; start <= p.size();) {
    size_t end = p.find('/', start);
    if (end == std::string::npos) end = p.size();
    std::string part = p.substr(start, end - start);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = end + 1;
  }
  std::string out;
  for (const auto& part : parts) out += "/" + part;
  return out.empty() ? "/" : out;
}

RootFs::RootFs(std::string root) : m_root(std::move(root)) {
  while (m_root.ends_with("/")) m_root.pop_back();
}

std::string RootFs::host(const std::string& path) const { return m_root + path; }

std::string RootFs::resolve(const std::string& path) const {
  // A relative path (a relative DT_RPATH entry) means the loader's working
  // directory: left to the kernel.
  if (!path.starts_with("/")) return path;
  // Restarts from the top after each link; 64 links at most, as a kernel
  // would give up with ELOOP (40) a little earlier.
  std::string rest = lexical_normal(path);
  for (int hops = 0; hops < 64; ++hops) {
    std::string cur;
    bool changed = false;
    for (size_t start = 1; start <= rest.size() && !changed;) {
      size_t end = rest.find('/', start);
      if (end == std::string::npos) end = rest.size();
      cur += "/" + rest.substr(start, end - start);
      char buf[4096];
      ssize_t n = ::readlink(host(cur).c_str(), buf, sizeof buf);
      if (n > 0 && static_cast<size_t>(n) < sizeof buf) {
        std::string target(buf, static_cast<size_t>(n));
        std::string tail = end < rest.size() ? rest.substr(end) : "";
        rest = lexical_normal((target.starts_with("/") ? target : dirname(cur) + "/" + target) + tail);
        changed = true;
      }
      start = end + 1;
    }
    if (!changed) return rest;
  }
  return rest;
}

bool RootFs::exists(const std::string& path) const {
  struct stat st;
  return ::stat(host(resolve(path)).c_str(), &st) == 0;
}

bool RootFs::is_file(const std::string& path) const {
  struct stat st;
  return ::stat(host(resolve(path)).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::optional<ElfInfo> RootFs::read_elf(const std::string& path) const { return elf::read_elf(host(resolve(path))); }

std::optional<std::string> RootFs::read_text(const std::string& path) const {
  if (!is_file(path)) return std::nullopt;
  try {
    return read_file(host(resolve(path)));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::vector<std::string> RootFs::list(const std::string& dir) const {
  std::vector<std::string> names;
  DIR* d = ::opendir(host(resolve(dir)).c_str());
  if (!d) return names;
  while (const dirent* e = ::readdir(d))
    if (std::string n = e->d_name; n != "." && n != "..") names.push_back(n);
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace distill::elf
