#include "archive/tar.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <optional>

#include "base/error.h"
#include "compress/compress.h"

namespace distill {

const char* type_name(LayerEntry::Type type) {
  switch (type) {
    case LayerEntry::Type::file: return "file";
    case LayerEntry::Type::directory: return "directory";
    case LayerEntry::Type::symlink: return "symlink";
    case LayerEntry::Type::hardlink: return "hardlink";
  }
  return "?";
}

void order_for_tar(std::vector<LayerEntry>& entries) {
  auto by_path = [](const LayerEntry& a, const LayerEntry& b) { return a.path < b.path; };
  if (!std::is_sorted(entries.begin(), entries.end(), by_path)) std::sort(entries.begin(), entries.end(), by_path);
  if (std::none_of(entries.begin(), entries.end(), [](const LayerEntry& e) { return e.type == LayerEntry::Type::hardlink; }))
    return;
  // Hardlinks name their target; find each group's earliest path. Sorted
  // entries are searched in place: no index of every path for a few links.
  auto index_of = [&](const std::string& path) -> std::optional<size_t> {
    auto it = std::lower_bound(entries.begin(), entries.end(), path,
                               [](const LayerEntry& e, const std::string& p) { return e.path < p; });
    if (it == entries.end() || it->path != path) return std::nullopt;
    return static_cast<size_t>(it - entries.begin());
  };
  for (size_t i = 0; i < entries.size(); ++i) {
    LayerEntry& link = entries[i];
    if (link.type != LayerEntry::Type::hardlink) continue;
    auto found = index_of(link.link_target);
    if (!found) continue;  // validated by the caller
    size_t target = *found;
    if (target < i) continue;
    // The link sorts first: it takes the file's content and the file
    // becomes a link to it. Any other links to the old target follow.
    LayerEntry& file = entries[target];
    std::string link_path = link.path, file_path = file.path;
    std::swap(link, file);
    link.path = link_path;
    file.path = file_path;
    file.type = LayerEntry::Type::hardlink;
    file.link_target = link_path;
    file.size = 0;
    for (size_t j = i + 1; j < entries.size(); ++j)
      if (entries[j].type == LayerEntry::Type::hardlink && entries[j].link_target == file_path)
        entries[j].link_target = link_path;
  }
  // A hardlink names the same inode as its target: readers (runc, Docker)
  // apply the link header's mode and owner to that inode, so they must be
  // the file's.
  for (LayerEntry& e : entries) {
    if (e.type != LayerEntry::Type::hardlink) continue;
    auto found = index_of(e.link_target);
    if (!found) continue;
    const LayerEntry& file = entries[*found];
    e.mode = file.mode;
    e.uid = file.uid;
    e.gid = file.gid;
  }
}

namespace {

struct ArchiveWriteDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

la_ssize_t sink_write(archive*, void* client, const void* buffer, size_t length) {
  auto* sink = static_cast<ByteSink*>(client);
  try {
    sink->write(std::string_view(static_cast<const char*>(buffer), length));
  } catch (...) {
    return -1;
  }
  return static_cast<la_ssize_t>(length);
}

void check(archive* a, int rc, const std::string& what) {
  if (rc < ARCHIVE_WARN) throw Error(what + ": " + (archive_error_string(a) ? archive_error_string(a) : "libarchive error"));
}

/// Opens the host files of a tar's entries, which come in path order, so
/// files of one directory come together: each is opened relative to its
/// directory (one path component to look up instead of the whole path),
/// and the slices of one payload file (a .deb's data) share a descriptor.
/// An unreadable source is found here, not by an extra access() per file
/// while planning; the message still names where the spec asked for it.
class Sources {
 public:
  /// The descriptor to read `e` from, valid until the next call.
  int open(const LayerEntry& e) {
    if (e.slice) {
      if (e.source != m_payload_path) {
        m_payload = open_at(AT_FDCWD, e.source.c_str(), e);
        m_payload_path = e.source;
      }
      return m_payload.get();
    }
    size_t slash = e.source.rfind('/');
    if (slash == std::string::npos || slash == 0) return (m_file = open_at(AT_FDCWD, e.source.c_str(), e)).get();
    std::string_view dir(e.source.data(), slash);
    if (dir != m_dir_path) {
      // O_PATH: only a handle to look names up in; if it fails, the file
      // is opened by its whole path below and any error is about the file.
      m_dir = Fd(::open(std::string(dir).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      m_dir_path = m_dir ? std::string(dir) : std::string();
    }
    if (!m_dir) return (m_file = open_at(AT_FDCWD, e.source.c_str(), e)).get();
    return (m_file = open_at(m_dir.get(), e.source.c_str() + slash + 1, e)).get();
  }

 private:
  static Fd open_at(int dir, const char* name, const LayerEntry& e) {
    int fd = ::openat(dir, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) throw_errno((e.origin.empty() ? "" : e.origin + ": ") + "cannot read " + e.source);
    return Fd(fd);
  }
  Fd m_dir, m_file, m_payload;
  std::string m_dir_path, m_payload_path;
};

/// Only file capabilities travel into images: other xattrs (SELinux labels,
/// user.*) describe the build host, not the application.
void add_source_capability(archive_entry* en, int fd) {
  static constexpr const char* kCapability = "security.capability";
  char value[1024];
  ssize_t n = ::fgetxattr(fd, kCapability, value, sizeof value);
  if (n > 0) archive_entry_xattr_add_entry(en, kCapability, value, static_cast<size_t>(n));
}

void write_inline_data(archive* a, const LayerEntry& e) {
  if (!e.content.empty() && archive_write_data(a, e.content.data(), e.content.size()) < 0)
    check(a, ARCHIVE_FATAL, "writing " + e.path);
}

/// One read(2) (a slice: one pread(2) at `offset`, as its descriptor is
/// shared), retried on EINTR; the source is named only on failure (an
/// fs::path per call would parse it every time).
size_t read_once(int fd, char* buffer, size_t size, const LayerEntry& e, uint64_t offset) {
  for (;;) {
    ssize_t n = e.slice ? ::pread(fd, buffer, size, static_cast<off_t>(offset)) : ::read(fd, buffer, size);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) throw_errno("cannot read " + e.source);
  }
}

void write_source_data(archive* a, const LayerEntry& e, int fd) {
  // One buffer for all files: a fresh 1 MiB allocation per small file costs
  // an mmap and munmap each.
  static thread_local std::vector<char> buffer(1 << 20);
  uint64_t left = e.size;
  Sha256 hash;
  for (;;) {
    // A whole file asks for one byte more than it should have: a short read
    // is its end (regular files), a long one means it grew. A slice of a
    // larger file stops at its size.
    uint64_t wanted = e.slice ? left : left + 1;
    size_t want = static_cast<size_t>(std::min<uint64_t>(buffer.size(), wanted));
    if (want == 0) break;
    size_t n = read_once(fd, buffer.data(), want, e, e.source_offset + (e.size - left));
    if (n > left) throw Error(e.source + " grew while it was being read; try the build again");
    if (n == 0) break;
    if (e.verify) hash.update(std::string_view(buffer.data(), n));
    if (archive_write_data(a, buffer.data(), n) < 0) check(a, ARCHIVE_FATAL, "writing " + e.path);
    left -= n;
    if (!e.slice && n < want && left == 0) break;
  }
  if (left != 0) throw Error(e.source + " shrank while it was being read; try the build again");
  if (e.verify && hash.finish() != *e.verify)
    throw Error(e.source + " does not match its digest " + e.verify->str() + " (corrupt or tampered); delete it and try again");
}

}  // namespace

void write_tar(const std::vector<LayerEntry>& entries, int64_t mtime, ByteSink& out) {
  std::unique_ptr<archive, ArchiveWriteDeleter> a(archive_write_new());
  archive* ar = a.get();
  check(ar, archive_write_set_format_pax_restricted(ar), "tar");
  // xattrs as SCHILY.xattr records, which Go's archive/tar (containerd,
  // Docker), GNU tar and libarchive read; libarchive's default adds a
  // LIBARCHIVE.xattr twin that GNU tar warns about and no peer needs.
  check(ar, archive_write_set_format_option(ar, "pax", "xattrheader", "SCHILY"), "tar");
  // No blocking: libarchive passes bytes straight on; the archive ends with
  // the two zero records and no padding to a 10 KiB block.
  check(ar, archive_write_set_bytes_per_block(ar, 0), "tar");
  check(ar, archive_write_open2(ar, &out, nullptr, sink_write, nullptr, nullptr), "tar");
  std::unique_ptr<archive_entry, EntryDeleter> entry(archive_entry_new());
  Sources sources;
  for (const LayerEntry& e : entries) {
    archive_entry* en = entry.get();
    archive_entry_clear(en);
    std::string name = e.type == LayerEntry::Type::directory ? e.path + "/" : e.path;
    archive_entry_copy_pathname(en, name.c_str());
    archive_entry_set_uid(en, e.uid);
    archive_entry_set_gid(en, e.gid);
    archive_entry_set_perm(en, e.mode & 07777);
    archive_entry_set_mtime(en, mtime, 0);
    switch (e.type) {
      case LayerEntry::Type::file:
        archive_entry_set_filetype(en, AE_IFREG);
        archive_entry_set_size(en, static_cast<la_int64_t>(e.source.empty() ? e.content.size() : e.size));
        break;
      case LayerEntry::Type::directory:
        archive_entry_set_filetype(en, AE_IFDIR);
        archive_entry_set_size(en, 0);
        break;
      case LayerEntry::Type::symlink:
        archive_entry_set_filetype(en, AE_IFLNK);
        archive_entry_copy_symlink(en, e.link_target.c_str());
        archive_entry_set_size(en, 0);
        break;
      case LayerEntry::Type::hardlink:
        archive_entry_set_filetype(en, AE_IFREG);
        archive_entry_copy_hardlink(en, e.link_target.c_str());
        archive_entry_set_size(en, 0);
        break;
    }
    for (const auto& [key, value] : e.xattrs) archive_entry_xattr_add_entry(en, key.c_str(), value.data(), value.size());
    // A host file is opened before its header, which may carry its capability.
    int source = e.type == LayerEntry::Type::file && !e.source.empty() ? sources.open(e) : -1;
    if (source >= 0 && e.source_capability) add_source_capability(en, source);
    check(ar, archive_write_header(ar, en), "writing " + e.path);
    if (source >= 0) write_source_data(ar, e, source);
    else if (e.type == LayerEntry::Type::file) write_inline_data(ar, e);
  }
  check(ar, archive_write_close(ar), "tar");
}

namespace {

struct ArchiveReadDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};

std::string clean_member_name(std::string name) {
  while (name.starts_with("./")) name.erase(0, 2);
  while (!name.empty() && name.front() == '/') name.erase(0, 1);
  while (!name.empty() && name.back() == '/') name.pop_back();
  return name;
}

}  // namespace

void read_tar(const fs::path& file, const std::function<void(const TarEntry&, const ReadData&)>& visit) {
  std::unique_ptr<archive, ArchiveReadDeleter> a(archive_read_new());
  archive* ar = a.get();
  archive_read_support_filter_gzip(ar);
  archive_read_support_filter_zstd(ar);
  archive_read_support_filter_xz(ar);
  archive_read_support_filter_bzip2(ar);
  archive_read_support_format_tar(ar);
  if (archive_read_open_filename(ar, file.c_str(), 1 << 16) != ARCHIVE_OK)
    throw Error(file.string() + ": " + archive_error_string(ar));
  archive_entry* en = nullptr;
  for (;;) {
    int rc = archive_read_next_header(ar, &en);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) throw Error(file.string() + ": not a readable tar archive: " + archive_error_string(ar));
    TarEntry t;
    t.path = clean_member_name(archive_entry_pathname(en) ? archive_entry_pathname(en) : "");
    t.mode = archive_entry_perm(en);
    t.uid = static_cast<uint32_t>(archive_entry_uid(en));
    t.gid = static_cast<uint32_t>(archive_entry_gid(en));
    t.size = static_cast<uint64_t>(archive_entry_size(en));
    if (const char* hl = archive_entry_hardlink(en)) {
      t.type = '1';
      t.link_target = clean_member_name(hl);
    } else {
      switch (archive_entry_filetype(en)) {
        case AE_IFREG: t.type = '0'; break;
        case AE_IFDIR: t.type = '5'; break;
        case AE_IFLNK:
          t.type = '2';
          t.link_target = archive_entry_symlink(en) ? archive_entry_symlink(en) : "";
          break;
        case AE_IFCHR: t.type = '3'; break;
        case AE_IFBLK: t.type = '4'; break;
        case AE_IFIFO: t.type = '6'; break;
        default: t.type = '?';
      }
    }
    archive_entry_xattr_reset(en);
    const char* name;
    const void* value;
    size_t size;
    while (archive_entry_xattr_next(en, &name, &value, &size) == ARCHIVE_OK)
      t.xattrs[name] = std::string(static_cast<const char*>(value), size);
    ReadData read = [&](char* buffer, size_t n) -> size_t {
      la_ssize_t got = archive_read_data(ar, buffer, n);
      if (got < 0) throw Error(file.string() + ": " + t.path + ": " + archive_error_string(ar));
      return static_cast<size_t>(got);
    };
    visit(t, read);
  }
}

}  // namespace distill

namespace distill {

std::string read_decompressed(const fs::path& file, size_t max_size) {
  {
    // gzip (the Packages index distill prefers) is decoded whole by
    // libdeflate; everything else streams through libarchive.
    Fd fd = open_read(file);
    char magic[2];
    if (::pread(fd.get(), magic, 2, 0) == 2 && looks_gzipped(std::string_view(magic, 2)))
      return gunzip(read_file(file), max_size, file.string());
  }
  std::unique_ptr<archive, ArchiveReadDeleter> a(archive_read_new());
  archive* ar = a.get();
  archive_read_support_filter_all(ar);
  archive_read_support_format_raw(ar);
  archive_read_support_format_empty(ar);
  if (archive_read_open_filename(ar, file.c_str(), 1 << 16) != ARCHIVE_OK)
    throw Error(file.string() + ": " + archive_error_string(ar));
  archive_entry* en = nullptr;
  std::string out;
  int rc = archive_read_next_header(ar, &en);
  if (rc == ARCHIVE_EOF) return out;
  if (rc < ARCHIVE_WARN) throw Error(file.string() + ": cannot decompress: " + archive_error_string(ar));
  char buf[1 << 16];
  for (;;) {
    la_ssize_t n = archive_read_data(ar, buf, sizeof buf);
    if (n < 0) throw Error(file.string() + ": corrupt compressed data: " + archive_error_string(ar));
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_size)
      throw Error(file.string() + ": decompresses to more than " + std::to_string(max_size) + " bytes");
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace distill
