#pragma once
// The local content-addressed store (ccache-style): every blob lives once
// under its digest, written to a temporary file and renamed into place, and
// checked against its digest whenever it is read back. Beside the blobs, an
// action cache maps a layer's input key to the layer it produced, so a
// rebuild with unchanged inputs reuses the compressed blob.
//
// Safe to use from several threads (package layers are built in parallel)
// and processes: temporary files get unique random names (O_EXCL), and
// every file appears by an atomic rename; two writers of the same blob or
// action write the same bytes, so whichever rename lands last is right.
//
//   ROOT/blobs/sha256/<hex>        blob bytes; atime: last use
//   ROOT/actions/<key hex>.json    {"digest","diff_id","size","media_type"}
//   ROOT/tmp/                      blobs being written
//   ROOT/lock                      flock: shared while a Store is open,
//                                  exclusive while the cache is pruned
//
// A blob's atime is set each time distill finds it in the store (whatever
// the mount's atime policy), so pruning can drop the least recently used.
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "base/fs.h"
#include "compress/sink.h"
#include "digest/digest.h"

namespace distill {

class Store {
 public:
  /// Opens (creating if needed) the store at `root`, holding its lock
  /// shared (waiting while `distill cache prune` runs).
  explicit Store(fs::path root);

  /// --cache-dir, else DISTILL_CACHE_DIR, else $XDG_CACHE_HOME/distill,
  /// else ~/.cache/distill.
  static fs::path default_root();

  const fs::path& root() const { return m_root; }
  fs::path blob_path(const Digest& digest) const;
  bool has_blob(const Digest& digest) const;

  /// Streams a new blob into the store; commit() hashes, names and keeps it.
  class BlobWriter : public ByteSink {
   public:
    explicit BlobWriter(Store& store);
    void write(std::string_view data) override;
    /// Moves the blob into place; returns its digest.
    Digest commit();
    uint64_t size() const { return m_size; }

   private:
    Store& m_store;
    AtomicFile m_file;
    Sha256 m_hash;
    uint64_t m_size = 0;
  };

  Digest put_blob(std::string_view data);
  /// Reads a whole (small) blob, verifying its digest; throws if absent,
  /// larger than `max_size` or corrupt.
  std::string read_blob(const Digest& digest, size_t max_size = 16 << 20) const;
  /// Copies a blob to `dest` atomically, verifying its digest on the way.
  void copy_blob(const Digest& digest, const fs::path& dest) const;

  std::optional<nlohmann::json> get_action(const Digest& key) const;
  void put_action(const Digest& key, const nlohmann::json& record);

  /// Records that this process wrote `digest` itself (hashing the bytes on
  /// the way in), so copying it out need not hash it again.
  void mark_fresh(const Digest& digest);
  /// True if this process wrote (or downloaded and verified) `digest`.
  bool is_fresh(const Digest& digest) const;

 private:
  /// Records a use of the blob (its atime) for pruning.
  void touch(const fs::path& blob) const;

  fs::path m_root;
  Fd m_lock;
  mutable std::mutex m_mutex;
  std::set<std::string> m_fresh;
};

/// Hashes a file's content; throws an error naming it if it cannot be read.
Digest hash_file(const fs::path& path, uint64_t* size = nullptr);

/// Copies `from` to `dest` atomically, checking the bytes hash to `expected`;
/// on mismatch nothing is left at `dest` and the error names `what`.
void copy_verified(const fs::path& from, const Digest& expected, const fs::path& dest, const std::string& what);

}  // namespace distill
