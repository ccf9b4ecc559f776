#pragma once
// Looking after the local store (distill cache info / prune), as ccache's
// -s and -M/-c: what it holds, and dropping the least recently used blobs
// to fit a size, or everything. Pruning holds the store's lock exclusively,
// so it never removes a blob a running build is using.
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "base/fs.h"

namespace distill {

struct CacheUsage {
  uint64_t blobs = 0, blob_bytes = 0;
  uint64_t actions = 0, action_bytes = 0;
  uint64_t temporaries = 0, temporary_bytes = 0;  // left by a build that was killed, or in use
  uint64_t bytes() const { return blob_bytes + action_bytes + temporary_bytes; }
  nlohmann::json to_json() const;
};

/// What the store at `root` holds (nothing if it does not exist).
CacheUsage cache_usage(const fs::path& root);

struct PruneOptions {
  std::optional<uint64_t> max_size;  // drop the least recently used blobs until the store fits
  bool all = false;                  // drop everything
  bool dry_run = false;              // only say what would go
};

struct PruneResult {
  uint64_t blobs = 0, blob_bytes = 0, actions = 0, temporaries = 0;  // removed (or, dry run, to remove)
  CacheUsage remaining;
};

/// Prunes the store at `root`. Throws if another distill is using it.
/// Action records whose blob is gone go too (they would only miss).
PruneResult prune_cache(const fs::path& root, const PruneOptions& options);

/// After a command (ccache's max_size): when the store at `root` holds more
/// than `max_size`, prunes the least recently used blobs down to 90% of it,
/// so that not every build prunes. Skipped (nullopt) when another distill
/// holds the store or it fits.
std::optional<PruneResult> prune_if_over(const fs::path& root, uint64_t max_size);

/// "500M", "2G", "1.5GiB", "4096": bytes (K, M, G, T are powers of 1024).
/// Throws UsageError naming `what` if the text is not a size.
uint64_t parse_size(const std::string& text, const std::string& what);

}  // namespace distill
