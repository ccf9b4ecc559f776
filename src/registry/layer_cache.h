#pragma once
// --cache-repo docker://HOST/REPO: layers stored in a registry repository,
// each as a one-layer OCI image tagged "layer-<input key>", so any machine
// building the same inputs pulls the layer instead of building it (as
// BuildKit and kaniko use a cache repository). Failures to reach the cache
// are warnings: the build goes on without it.
#include <memory>

#include "build/builder.h"
#include "registry/client.h"

namespace distill::registry {

class RegistryLayerCache : public RemoteLayerCache {
 public:
  RegistryLayerCache(const Reference& repo, const Options& options, Store& store, Status& status);
  std::optional<BuiltLayer> get(const Digest& key, const std::string& media_type) override;
  void put(const Digest& key, const BuiltLayer& layer) override;

 private:
  Reference m_repo;
  Client m_client;
  Store& m_store;
  Status& m_status;
  bool m_unreachable = false;  // after one failure to reach it, the build goes on without it
};

}  // namespace distill::registry
