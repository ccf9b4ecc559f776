#include "store/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "base/error.h"
#include "base/fs.h"

namespace distill {

Store::Store(fs::path root) : m_root(std::move(root)) {
  std::error_code ec;
  for (const char* sub : {"blobs/sha256", "actions", "tmp"}) {
    fs::create_directories(m_root / sub, ec);
    if (ec) throw Error("cannot create the cache directory " + (m_root / sub).string() + ": " + ec.message() +
                        " (set --cache-dir or DISTILL_CACHE_DIR to a writable directory)");
  }
  m_lock = Fd(::open((m_root / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!m_lock) throw_errno("cannot open " + (m_root / "lock").string());
  while (::flock(m_lock.get(), LOCK_SH) != 0)
    if (errno != EINTR) throw_errno("cannot lock " + (m_root / "lock").string());
  // A killed build's temporaries (SIGKILL, a crash) would stay forever.
  remove_stale_temporaries(m_root / "tmp", std::chrono::minutes(1));
}

void Store::touch(const fs::path& blob) const {
  // atime only: the mtime stays the time the blob was written, and a
  // destination hardlinked to the blob keeps its own.
  const struct timespec times[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
  ::utimensat(AT_FDCWD, blob.c_str(), times, 0);  // best effort: a read-only cache still works
}

fs::path Store::default_root() {
  if (const char* dir = std::getenv("DISTILL_CACHE_DIR"); dir && *dir) return dir;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return fs::path(xdg) / "distill";
  if (const char* home = std::getenv("HOME"); home && *home) return fs::path(home) / ".cache" / "distill";
  throw UsageError("no cache directory: set HOME, XDG_CACHE_HOME, DISTILL_CACHE_DIR or --cache-dir");
}

fs::path Store::blob_path(const Digest& digest) const { return m_root / "blobs" / "sha256" / digest.hex; }

bool Store::has_blob(const Digest& digest) const {
  struct stat st;
  fs::path path = blob_path(digest);
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  touch(path);
  return true;
}

Store::BlobWriter::BlobWriter(Store& store) : m_store(store), m_file(store.m_root / "tmp" / "blob") {}

void Store::BlobWriter::write(std::string_view data) {
  m_hash.update(data);
  m_size += data.size();
  m_file.write(data);
}

Digest Store::BlobWriter::commit() {
  Digest digest = m_hash.finish();
  fs::path final_path = m_store.blob_path(digest);
  // Rename the finished temporary file into its content address.
  if (::rename(m_file.temp_path().c_str(), final_path.c_str()) != 0) throw_errno("cannot store " + final_path.string());
  m_file.commit_as_renamed();
  m_store.mark_fresh(digest);
  return digest;
}

Digest Store::put_blob(std::string_view data) {
  Digest digest = sha256_of(data);
  if (!has_blob(digest)) {
    write_file_atomic(blob_path(digest), data);
    mark_fresh(digest);
  }
  return digest;
}

std::string Store::read_blob(const Digest& digest, size_t max_size) const {
  fs::path path = blob_path(digest);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw Error("blob " + digest.str() + " is missing from the cache " + m_root.string());
  if (static_cast<uint64_t>(st.st_size) > max_size)
    throw Error("blob " + digest.str() + " is " + std::to_string(st.st_size) + " bytes, more than expected");
  std::string data = read_file(path);
  touch(path);
  if (sha256_of(data) != digest)
    throw Error("cache blob " + path.string() + " is corrupt (its content does not match its digest); delete it and build again");
  return data;
}

void Store::mark_fresh(const Digest& digest) {
  std::lock_guard lock(m_mutex);
  m_fresh.insert(digest.hex);
}

bool Store::is_fresh(const Digest& digest) const {
  std::lock_guard lock(m_mutex);
  return m_fresh.count(digest.hex) > 0;
}

void Store::copy_blob(const Digest& digest, const fs::path& dest) const {
  touch(blob_path(digest));
  // Blobs from earlier runs are checked on the way out; blobs this process
  // just hashed on the way in are copied (reflinked where possible).
  if (is_fresh(digest)) {
    // Same filesystem: share the inode (blobs are never written in place;
    // a later read from the cache checks the digest anyway).
    if (::link(blob_path(digest).c_str(), dest.c_str()) == 0) return;
    copy_file_contents(blob_path(digest), dest);
  }
  else copy_verified(blob_path(digest), digest, dest, "cache blob " + blob_path(digest).string());
}

std::optional<nlohmann::json> Store::get_action(const Digest& key) const {
  fs::path path = m_root / "actions" / (key.hex + ".json");
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  try {
    return nlohmann::json::parse(read_file(path));
  } catch (const std::exception&) {
    return std::nullopt;  // a damaged record is a miss, not a failure
  }
}

void Store::put_action(const Digest& key, const nlohmann::json& record) {
  write_file_atomic(m_root / "actions" / (key.hex + ".json"), record.dump());
}

Digest hash_file(const fs::path& path, uint64_t* size) {
  Fd fd = open_read(path);
  Sha256 hash;
  static thread_local std::vector<char> buffer(1 << 20);  // reused: hashing many small files
  uint64_t total = 0;
  for (;;) {
    size_t n = read_some(fd.get(), buffer, path);
    hash.update(std::string_view(buffer.data(), n));
    total += n;
    if (n < buffer.size()) break;
  }
  if (size) *size = total;
  return hash.finish();
}

void copy_verified(const fs::path& from, const Digest& expected, const fs::path& dest, const std::string& what) {
  Fd in = open_read(from);
  AtomicFile out(dest);
  Sha256 hash;
  std::vector<char> buffer(1 << 20);
  for (;;) {
    size_t n = read_some(in.get(), buffer, from);
    std::string_view chunk(buffer.data(), n);
    hash.update(chunk);
    out.write(chunk);
    if (n < buffer.size()) break;
  }
  if (hash.finish() != expected)
    throw Error(what + " does not match its digest " + expected.str() + " (corrupt or tampered); delete it and try again");
  out.commit();
}

}  // namespace distill
