#include "registry/layer_cache.h"

#include <nlohmann/json.hpp>

#include "base/error.h"

namespace distill::registry {

namespace {

std::string tag_for(const Digest& key) { return "layer-" + key.hex; }

}  // namespace

RegistryLayerCache::RegistryLayerCache(const Reference& repo, const Options& options, Store& store, Status& status)
    : m_repo(repo), m_client(repo.host, options), m_store(store), m_status(status) {}

std::optional<BuiltLayer> RegistryLayerCache::get(const Digest& key, const std::string& media_type) {
  if (m_unreachable) return std::nullopt;
  try {
    Manifest m = m_client.get_manifest(m_repo.repository, tag_for(key));
    m_store.put_blob(m.bytes);
    nlohmann::json j = nlohmann::json::parse(m.bytes);
    Descriptor config = Descriptor::from_json(j.at("config"), "cache manifest config");
    m_client.pull_blob(m_repo.repository, config.digest, config.size, m_store);
    nlohmann::json cfg = nlohmann::json::parse(m_store.read_blob(config.digest));
    Descriptor blob = Descriptor::from_json(j.at("layers").at(0), "cache manifest layer");
    if (blob.media_type != media_type) return std::nullopt;
    m_client.pull_blob(m_repo.repository, blob.digest, blob.size, m_store);
    BuiltLayer layer;
    layer.blob = blob;
    layer.diff_id = Digest::parse(cfg.at("rootfs").at("diff_ids").at(0).get<std::string>(), "cache config diff_id");
    return layer;
  } catch (const Error& e) {
    if (std::string(e.what()).find("does not exist") == std::string::npos) {
      m_status.warn("cache repository " + m_repo.str() + ": " + e.what() + "; building without it");
      m_unreachable = true;
    }
    return std::nullopt;
  } catch (const std::exception& e) {
    m_status.warn("cache repository " + m_repo.str() + ": malformed cache entry " + tag_for(key));
    return std::nullopt;
  }
}

void RegistryLayerCache::put(const Digest& key, const BuiltLayer& layer) {
  if (m_unreachable) return;
  try {
    // A real one-layer image: inspectable with skopeo, kept by any registry.
    nlohmann::json cfg = {{"architecture", "amd64"},
                          {"os", "linux"},
                          {"rootfs", {{"type", "layers"}, {"diff_ids", {layer.diff_id.str()}}}},
                          {"config", nlohmann::json::object()}};
    std::string cfg_bytes = cfg.dump();
    Digest cfg_digest = m_store.put_blob(cfg_bytes);
    m_client.push_blob(m_repo.repository, layer.blob.digest, layer.blob.size, m_store.blob_path(layer.blob.digest).string(), "");
    m_client.push_blob(m_repo.repository, cfg_digest, cfg_bytes.size(), m_store.blob_path(cfg_digest).string(), "");
    Descriptor config{media_type::config, cfg_digest, cfg_bytes.size(), {}, std::nullopt};
    nlohmann::json manifest = {{"schemaVersion", 2},
                               {"mediaType", media_type::manifest},
                               {"config", config.to_json()},
                               {"layers", {layer.blob.to_json()}},
                               {"annotations", {{"dev.distill.cache.key", key.str()}}}};
    std::string bytes = manifest.dump();
    m_client.put_manifest(m_repo.repository, tag_for(key), {bytes, media_type::manifest, sha256_of(bytes)});
  } catch (const Error& e) {
    m_status.warn("cache repository " + m_repo.str() + ": cannot store a layer: " + e.what() + "; building without it");
    m_unreachable = true;
  }
}

}  // namespace distill::registry
