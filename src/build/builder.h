#pragma once
// The build pipeline as a short list of phases (mold-style driver):
// plan the files layer, build or reuse it, assemble config, manifest and
// index per platform. Destinations are written by oci/layout.
#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "archive/tar.h"
#include "base/thread_pool.h"
#include "build/spec.h"
#include "compress/compress.h"
#include "oci/image.h"
#include "store/store.h"
#include "ui/status.h"

namespace distill {

/// A count that layers built at once may bump; reads as an int.
class Counter {
 public:
  Counter& operator++() {
    m_value.fetch_add(1, std::memory_order_relaxed);
    return *this;
  }
  operator int() const { return m_value.load(std::memory_order_relaxed); }

 private:
  std::atomic<int> m_value{0};
};
inline void to_json(nlohmann::json& j, const Counter& c) { j = static_cast<int>(c); }

/// A layer cache shared between machines (--cache-repo): consulted after
/// the local cache misses, filled after a layer is built.
class RemoteLayerCache {
 public:
  virtual ~RemoteLayerCache() = default;
  /// The layer stored under `key` (its blob now in the local store), if any.
  virtual std::optional<BuiltLayer> get(const Digest& key, const std::string& media_type) = 0;
  virtual void put(const Digest& key, const BuiltLayer& layer) = 0;
  Counter hits, misses, stored;
  /// Held by the builder around get() and put(): layers built in parallel
  /// call them one at a time, so implementations need no locking of their own.
  std::mutex calls;
};

struct BuildOptions {
  Compression compression;
  int64_t epoch = 0;           // SOURCE_DATE_EPOCH: every mtime and "created"
  bool use_layer_cache = true;
  RemoteLayerCache* remote = nullptr;
  /// A layer's share of the pool when several are built at once (0: all).
  unsigned compression_threads = 0;
};

/// Builds one layer from ordered entries into the store, or reuses the layer
/// the same inputs produced before (keyed by entry metadata, content hashes,
/// compression and epoch).
BuiltLayer build_layer(Store& store, ThreadPool& pool, const std::vector<LayerEntry>& entries,
                       const BuildOptions& options, const std::string& created_by, Status& status);

/// The same with a key computed by the caller; `produce` makes the entries
/// only when the cache has no layer for `key`.
BuiltLayer build_layer_keyed(Store& store, ThreadPool& pool, const Digest& key,
                             const std::function<const std::vector<LayerEntry>&()>& produce, const BuildOptions& options,
                             const std::string& created_by, Status& status);

/// Layers of one platform's image, bottom first.
struct PlatformLayers {
  Platform platform;
  std::vector<BuiltLayer> layers;
  nlohmann::json base_config = nullptr;  // the base image's config, if any
  size_t base_layers = 0;                // how many of `layers` are the base's
};

/// Writes config and manifest per platform (and an index over several)
/// into the store.
BuiltArtifact assemble(Store& store, const Spec& spec, const std::vector<PlatformLayers>& images, const BuildOptions& options);

/// The OCI image config for one platform (exposed for tests).
/// `base` is a base image's config (null for scratch); its first
/// `base_layers` layers keep their history.
nlohmann::json image_config(const Spec& spec, const Platform& platform, const std::vector<BuiltLayer>& layers,
                            int64_t epoch, const nlohmann::json& base = nullptr, size_t base_layers = 0);

/// SOURCE_DATE_EPOCH from the environment (0 when unset); UsageError if bad.
int64_t source_date_epoch();

}  // namespace distill
