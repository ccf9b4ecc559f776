#include "deb/deb_file.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>

#include <map>
#include <memory>

#include "base/error.h"

namespace distill::deb {

std::string merged_usr_path(const std::string& path) {
  static const char* kMerged[] = {"bin", "sbin", "lib", "lib32", "lib64", "libx32", "libo32"};
  for (const char* dir : kMerged) {
    std::string d = dir;
    if (path == d || path.starts_with(d + "/")) return "usr/" + path;
  }
  return path;
}

bool stripped(const std::string& path, const std::set<std::string>& strip) {
  auto under = [&](const char* dir) {
    std::string_view d(dir);
    return path.size() > d.size() && path.starts_with(d) && path[d.size()] == '/';
  };
  if (strip.count("docs") && under("usr/share/doc")) {
    // Copyright files stay: licences require them and scanners read them.
    std::string rest = path.substr(std::string("usr/share/doc/").size());
    auto slash = rest.find('/');
    if (slash == std::string::npos) return false;  // the package's doc directory itself
    return rest.substr(slash + 1) != "copyright";
  }
  if (strip.count("man") && under("usr/share/man")) return true;
  if (strip.count("info") && under("usr/share/info")) return true;
  if (strip.count("lintian") && under("usr/share/lintian")) return true;
  if (strip.count("locales") && under("usr/share/locale")) {
    std::string rest = path.substr(std::string("usr/share/locale/").size());
    return !(rest == "locale.alias" || rest.starts_with("C.UTF-8/") || rest == "C.UTF-8");
  }
  return false;
}

namespace {

struct ReadDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};

/// Feeds an inner archive (control.tar.xz inside the .deb) from the outer one.
struct Nested {
  archive* outer;
  char buffer[1 << 16];
};

la_ssize_t nested_read(archive*, void* client, const void** out) {
  auto* n = static_cast<Nested*>(client);
  la_ssize_t got = archive_read_data(n->outer, n->buffer, sizeof n->buffer);
  *out = n->buffer;
  return got;
}

std::unique_ptr<archive, ReadDeleter> open_nested(archive* outer, Nested& nested, const std::string& what) {
  std::unique_ptr<archive, ReadDeleter> inner(archive_read_new());
  archive_read_support_filter_all(inner.get());
  archive_read_support_format_tar(inner.get());
  nested.outer = outer;
  if (archive_read_open(inner.get(), &nested, nullptr, nested_read, nullptr) != ARCHIVE_OK)
    throw Error(what + ": " + archive_error_string(inner.get()));
  return inner;
}

std::string clean(const std::string& name, const std::string& what) {
  std::string p = name;
  while (p.starts_with("./")) p.erase(0, 2);
  while (p.starts_with("/")) p.erase(0, 1);
  while (p.ends_with("/")) p.pop_back();
  if (p.empty() || p == ".") return "";
  if (!is_clean_relative(p)) throw Error(what + ": the entry \"" + name + "\" leaves the root; refusing the package");
  return p;
}

std::string read_member_text(archive* a, const std::string& what) {
  std::string out;
  char buf[65536];
  for (;;) {
    la_ssize_t n = archive_read_data(a, buf, sizeof buf);
    if (n < 0) throw Error(what + ": " + archive_error_string(a));
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (64 << 20)) throw Error(what + ": a control file larger than 64 MiB");
  }
  return out;
}

void read_control(archive* outer, DebContents& deb, const std::string& what) {
  Nested nested{};
  auto inner = open_nested(outer, nested, what + " control.tar");
  archive_entry* en;
  for (;;) {
    int rc = archive_read_next_header(inner.get(), &en);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) throw Error(what + ": corrupt control.tar: " + archive_error_string(inner.get()));
    std::string name = archive_entry_pathname(en) ? archive_entry_pathname(en) : "";
    while (name.starts_with("./")) name.erase(0, 2);
    if (name == "control") deb.control = read_member_text(inner.get(), what);
    else if (name == "md5sums") deb.md5sums = read_member_text(inner.get(), what);
  }
}

void read_data(archive* outer, DebContents& deb, const DebOptions& options, const std::string& what) {
  Nested nested{};
  auto inner = open_nested(outer, nested, what + " data.tar");
  Fd payload(::open(deb.payload.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!payload) throw_errno("cannot write " + deb.payload.string());
  uint64_t offset = 0;
  std::map<std::string, LayerEntry> entries;
  std::map<std::string, std::string> renamed;  // original path -> final path (for hardlinks)
  archive_entry* en;
  char buf[1 << 16];
  for (;;) {
    int rc = archive_read_next_header(inner.get(), &en);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) throw Error(what + ": corrupt data.tar: " + archive_error_string(inner.get()));
    std::string original = clean(archive_entry_pathname(en) ? archive_entry_pathname(en) : "", what);
    if (original.empty()) continue;
    // The merged-/usr symlinks themselves (base-files ships "bin -> usr/bin") stay.
    bool usr_link = archive_entry_filetype(en) == AE_IFLNK && merged_usr_path(original) == "usr/" + original &&
                    original.find('/') == std::string::npos;
    std::string path = options.merged_usr && !usr_link ? merged_usr_path(original) : original;
    renamed[original] = path;
    LayerEntry e;
    e.path = path;
    e.mode = archive_entry_perm(en) & 07777;
    e.uid = static_cast<uint32_t>(archive_entry_uid(en));
    e.gid = static_cast<uint32_t>(archive_entry_gid(en));
    e.origin = what;
    if (const char* hl = archive_entry_hardlink(en)) {
      std::string target = clean(hl, what);
      e.type = LayerEntry::Type::hardlink;
      e.link_target = renamed.count(target) ? renamed[target] : (options.merged_usr ? merged_usr_path(target) : target);
    } else {
      switch (archive_entry_filetype(en)) {
        case AE_IFREG: {
          e.type = LayerEntry::Type::file;
          e.source = deb.payload.string();
          e.slice = true;
          e.source_offset = offset;
          for (;;) {
            la_ssize_t n = archive_read_data(inner.get(), buf, sizeof buf);
            if (n < 0) throw Error(what + ": corrupt data.tar: " + archive_error_string(inner.get()));
            if (n == 0) break;
            write_all(payload.get(), std::string_view(buf, static_cast<size_t>(n)), deb.payload);
            offset += static_cast<uint64_t>(n);
          }
          e.size = offset - e.source_offset;
          break;
        }
        case AE_IFDIR: e.type = LayerEntry::Type::directory; break;
        case AE_IFLNK:
          e.type = LayerEntry::Type::symlink;
          e.mode = 0777;
          e.link_target = archive_entry_symlink(en) ? archive_entry_symlink(en) : "";
          break;
        default:
          throw Error(what + ": " + original + " is a device, FIFO or socket; packages in images may not create them");
      }
    }
    archive_entry_xattr_reset(en);
    const char* name;
    const void* value;
    size_t size;
    while (archive_entry_xattr_next(en, &name, &value, &size) == ARCHIVE_OK)
      if (std::string_view(name) == "security.capability") e.xattrs[name] = std::string(static_cast<const char*>(value), size);
    if (stripped(path, options.strip)) continue;
    // A merged-/usr directory may arrive twice (bin/ and usr/bin/): keep one.
    if (auto it = entries.find(path); it != entries.end()) {
      if (it->second.type == LayerEntry::Type::directory && e.type == LayerEntry::Type::directory) continue;
      throw Error(what + ": ships both /" + original + " and /" + path + "; they are the same file on a merged-/usr system");
    }
    entries.emplace(path, std::move(e));
  }
  // Hardlinks to stripped files lose their target: make them the file.
  for (auto& [path, e] : entries) {
    if (e.type != LayerEntry::Type::hardlink || entries.count(e.link_target)) continue;
    throw Error(what + ": /" + path + " is a hardlink to /" + e.link_target + ", which the package does not ship");
  }
  for (auto& [path, e] : entries) deb.entries.push_back(std::move(e));
  order_for_tar(deb.entries);
}

}  // namespace

DebContents read_deb(const fs::path& file, const fs::path& payload, const DebOptions& options, const std::string& what) {
  DebContents deb;
  deb.payload = payload;
  std::unique_ptr<archive, ReadDeleter> a(archive_read_new());
  archive_read_support_format_ar(a.get());
  if (archive_read_open_filename(a.get(), file.c_str(), 1 << 16) != ARCHIVE_OK)
    throw Error(what + ": " + archive_error_string(a.get()));
  archive_entry* en;
  bool saw_binary = false, saw_control = false, saw_data = false;
  for (;;) {
    int rc = archive_read_next_header(a.get(), &en);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) throw Error(what + ": not a valid .deb (ar archive): " + archive_error_string(a.get()));
    std::string name = archive_entry_pathname(en) ? archive_entry_pathname(en) : "";
    if (name == "debian-binary") {
      std::string v = read_member_text(a.get(), what);
      if (!v.starts_with("2.")) throw Error(what + ": unsupported .deb format version \"" + v.substr(0, 10) + "\"");
      saw_binary = true;
    } else if (name.starts_with("control.tar")) {
      read_control(a.get(), deb, what);
      saw_control = true;
    } else if (name.starts_with("data.tar")) {
      read_data(a.get(), deb, options, what);
      saw_data = true;
    }
  }
  if (!saw_binary || !saw_control || !saw_data)
    throw Error(what + ": not a valid .deb (needs debian-binary, control.tar and data.tar)");
  if (deb.control.empty()) throw Error(what + ": control.tar has no control file");
  // md5sums list paths as shipped; rewrite them like the entries.
  if (options.merged_usr && !deb.md5sums.empty()) {
    std::string out;
    size_t pos = 0;
    while (pos < deb.md5sums.size()) {
      size_t eol = deb.md5sums.find('\n', pos);
      if (eol == std::string::npos) eol = deb.md5sums.size();
      std::string line = deb.md5sums.substr(pos, eol - pos);
      pos = eol + 1;
      if (line.size() > 34) {
        std::string path = line.substr(34);
        std::string moved = merged_usr_path(path);
        if (stripped(moved, options.strip)) continue;
        line = line.substr(0, 34) + moved;
      }
      if (!line.empty()) out += line + "\n";
    }
    deb.md5sums = out;
  }
  return deb;
}

}  // namespace distill::deb
