#include "build/builder.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <future>

#include "base/error.h"

namespace distill {

namespace {

/// Reports uncompressed bytes to the status printer as they pass.
class ProgressSink : public ByteSink {
 public:
  ProgressSink(ByteSink& next, Status& status) : m_next(next), m_status(status) {}
  void write(std::string_view data) override {
    m_done += data.size();
    m_next.write(data);
    if (m_done - m_reported >= (4 << 20)) {
      m_reported = m_done;
      m_status.progress(m_done);
    }
  }
  void finish() override { m_next.finish(); }

 private:
  ByteSink& m_next;
  Status& m_status;
  uint64_t m_done = 0, m_reported = 0;
};

/// The layer's input key: everything that decides its bytes. Host files
/// count by identity and timestamps (stat_key), not content, so a cache
/// check costs no reading; a file rewritten in place, or given another
/// capability (read when the tar is written), changes its ctime.
Digest layer_key(const std::vector<LayerEntry>& entries, const BuildOptions& options) {
  Sha256 key;
  // A big tree has hundreds of thousands of small fields: they are
  // formatted without temporary strings and hashed in 64 KiB batches.
  std::string batch;
  batch.reserve(1 << 16);
  auto field_of = [&](std::initializer_list<std::string_view> parts) {  // "SIZE:" then the parts
    size_t size = 0;
    for (std::string_view part : parts) size += part.size();
    char len[24];
    char* end = std::to_chars(len, len + sizeof len, size).ptr;
    batch.append(len, end).push_back(':');
    for (std::string_view part : parts) batch.append(part);
    if (batch.size() >= (1 << 16) - 4096) {
      key.update(batch);
      batch.clear();
    }
  };
  auto field = [&](std::string_view s) { field_of({s}); };
  auto numbers = [&](std::initializer_list<uint64_t> values) {  // "1/2/3"
    char buf[96];
    char* p = buf;
    for (uint64_t v : values) {
      if (p != buf) *p++ = '/';
      p = std::to_chars(p, buf + sizeof buf, v).ptr;
    }
    field(std::string_view(buf, static_cast<size_t>(p - buf)));
  };
  field("distill-layer-v3");
  field(kTarLayoutVersion);
  field(options.compression.str());
  field(std::to_string(options.epoch));
  for (const LayerEntry& e : entries) {
    field(e.path);
    field(type_name(e.type));
    numbers({e.mode, e.uid, e.gid, e.size});
    field(e.link_target);
    for (const auto& [k, v] : e.xattrs) {
      field(k);
      field(hex_encode(v));
    }
    if (e.type == LayerEntry::Type::file) {
      if (!e.source.empty() && e.stat_key.empty())
        throw Error("internal: " + e.path + " has no stat key for the layer cache");
      if (e.source.empty()) field(sha256_of(e.content).hex);
      else field_of({e.source, "@", e.stat_key, e.source_capability ? "+capability" : ""});
    }
  }
  key.update(batch);
  return key.finish();
}

uint64_t total_bytes(const std::vector<LayerEntry>& entries) {
  uint64_t total = 0;
  for (const LayerEntry& e : entries) total += 512 + (e.type == LayerEntry::Type::file ? e.size : 0);
  return total;
}

/// Writes the tar of `entries` through the compressor into a new blob.
BuiltLayer write_layer(Store& store, ThreadPool& pool, const std::vector<LayerEntry>& entries,
                       const BuildOptions& options, const std::string& created_by, Status& status) {
  BuiltLayer layer;
  layer.created_by = created_by;
  layer.blob.media_type = options.compression.layer_media_type();
  status.phase("building layer " + created_by + " (" + options.compression.str() + ")", total_bytes(entries));
  Store::BlobWriter blob(store);
  std::unique_ptr<ByteSink> compressor = make_compressor(options.compression, blob, pool, options.compression_threads);
  HashingSink uncompressed(*compressor);
  ProgressSink progress(uncompressed, status);
  write_tar(entries, options.epoch, progress);
  progress.finish();
  layer.blob.size = blob.size();
  layer.blob.digest = blob.commit();
  layer.diff_id = uncompressed.digest();
  status.done(human_size(uncompressed.size()) + " -> " + human_size(layer.blob.size));
  return layer;
}

/// Remembers a built layer under its key, here and in the cache repository.
void record_layer(Store& store, const Digest& key, const BuiltLayer& layer, const BuildOptions& options) {
  store.put_action(key, {{"digest", layer.blob.digest.str()},
                         {"diff_id", layer.diff_id.str()},
                         {"size", layer.blob.size},
                         {"media_type", layer.blob.media_type}});
  if (options.remote) {
    std::lock_guard lock(options.remote->calls);
    options.remote->put(key, layer);
    ++options.remote->stored;
  }
}

}  // namespace

BuiltLayer build_layer(Store& store, ThreadPool& pool, const std::vector<LayerEntry>& entries,
                       const BuildOptions& options, const std::string& created_by, Status& status) {
  if (!options.use_layer_cache && !options.remote) {
    // Nothing to look up first: the key is only recorded afterwards, so it
    // is computed beside the build rather than before it.
    auto key = std::async(std::launch::async, [&] { return layer_key(entries, options); });
    BuiltLayer layer;
    try {
      layer = write_layer(store, pool, entries, options, created_by, status);
    } catch (...) {
      key.wait();
      throw;
    }
    record_layer(store, key.get(), layer, options);
    return layer;
  }
  Digest key = layer_key(entries, options);
  // The entries are only read: hand them over without a copy.
  return build_layer_keyed(store, pool, key, [&]() -> const std::vector<LayerEntry>& { return entries; }, options,
                           created_by, status);
}

BuiltLayer build_layer_keyed(Store& store, ThreadPool& pool, const Digest& key,
                             const std::function<const std::vector<LayerEntry>&()>& produce, const BuildOptions& options,
                             const std::string& created_by, Status& status) {
  BuiltLayer layer;
  layer.created_by = created_by;
  layer.blob.media_type = options.compression.layer_media_type();
  if (options.use_layer_cache) {
    if (auto record = store.get_action(key)) {
      try {
        Digest digest = Digest::parse(record->at("digest").get<std::string>());
        if (store.has_blob(digest) && record->value("media_type", "") == layer.blob.media_type) {
          layer.blob.digest = digest;
          layer.blob.size = record->at("size").get<uint64_t>();
          layer.diff_id = Digest::parse(record->at("diff_id").get<std::string>());
          layer.reused = true;
          return layer;
        }
      } catch (const std::exception&) {
        // a damaged record is rebuilt below
      }
    }
  }
  if (options.remote) {
    std::optional<BuiltLayer> remote;
    {
      std::lock_guard lock(options.remote->calls);
      remote = options.remote->get(key, layer.blob.media_type);
    }
    if (remote) {
      ++options.remote->hits;
      remote->created_by = created_by;
      remote->reused = true;
      store.put_action(key, {{"digest", remote->blob.digest.str()},
                             {"diff_id", remote->diff_id.str()},
                             {"size", remote->blob.size},
                             {"media_type", remote->blob.media_type}});
      return *remote;
    }
    ++options.remote->misses;
  }
  layer = write_layer(store, pool, produce(), options, created_by, status);
  record_layer(store, key, layer, options);
  return layer;
}

nlohmann::json image_config(const Spec& spec, const Platform& platform, const std::vector<BuiltLayer>& layers,
                            int64_t epoch, const nlohmann::json& base, size_t base_layers) {
  std::string created = rfc3339(epoch);
  // A base image's config is the starting point; the spec's fields win.
  nlohmann::json cfg = base.is_object() && base.contains("config") && base["config"].is_object() ? base["config"]
                                                                                                   : nlohmann::json::object();
  std::vector<std::pair<std::string, std::string>> env;
  for (const auto& e : cfg.value("Env", nlohmann::json::array())) {
    std::string s = e.get<std::string>();
    auto eq = s.find('=');
    env.emplace_back(s.substr(0, eq), eq == std::string::npos ? "" : s.substr(eq + 1));
  }
  for (const auto& [k, v] : spec.env) {
    auto it = std::find_if(env.begin(), env.end(), [&](const auto& e) { return e.first == k; });
    if (it != env.end()) it->second = v;
    else env.emplace_back(k, v);
  }
  // As distroless: a PATH unless the spec (or base) sets its own.
  if (std::none_of(env.begin(), env.end(), [](const auto& e) { return e.first == "PATH"; }))
    env.insert(env.begin(), {"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"});
  nlohmann::json env_list = nlohmann::json::array();
  for (const auto& [k, v] : env) env_list.push_back(k + "=" + v);
  cfg["Env"] = env_list;
  if (spec.entrypoint) {
    cfg["Entrypoint"] = *spec.entrypoint;
    if (!spec.cmd) cfg.erase("Cmd");  // as Dockerfile ENTRYPOINT: a new entrypoint drops the old cmd
  }
  if (spec.cmd) cfg["Cmd"] = *spec.cmd;
  if (spec.user) cfg["User"] = *spec.user;
  if (spec.workdir) cfg["WorkingDir"] = *spec.workdir;
  if (spec.stop_signal) cfg["StopSignal"] = *spec.stop_signal;
  for (const auto& [k, v] : spec.labels) cfg["Labels"][k] = v;
  for (const std::string& p : spec.ports) cfg["ExposedPorts"][p] = nlohmann::json::object();
  for (const std::string& v : spec.volumes) cfg["Volumes"][v] = nlohmann::json::object();
  for (const char* key : {"Labels", "ExposedPorts", "Volumes", "Entrypoint", "Cmd"})
    if (cfg.contains(key) && cfg[key].is_null()) cfg.erase(key);
  nlohmann::json diff_ids = nlohmann::json::array(), history = nlohmann::json::array();
  if (base.is_object() && base.contains("history") && base["history"].is_array()) history = base["history"];
  for (size_t i = 0; i < layers.size(); ++i) {
    diff_ids.push_back(layers[i].diff_id.str());
    if (i >= base_layers) history.push_back({{"created", created}, {"created_by", layers[i].created_by}});
  }
  nlohmann::json config = {{"created", created},
                           {"architecture", platform.architecture},
                           {"os", platform.os},
                           {"config", cfg},
                           {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}},
                           {"history", history}};
  if (!platform.variant.empty()) config["variant"] = platform.variant;
  return config;
}

static Descriptor put_json(Store& store, const nlohmann::json& j, const char* media_type) {
  std::string bytes = canonical_json(j);
  Descriptor d;
  d.media_type = media_type;
  d.digest = store.put_blob(bytes);
  d.size = bytes.size();
  return d;
}

BuiltArtifact assemble(Store& store, const Spec& spec, const std::vector<PlatformLayers>& images, const BuildOptions& options) {
  BuiltArtifact artifact;
  for (const PlatformLayers& source : images) {
    const Platform& platform = source.platform;
    const std::vector<BuiltLayer>& layers = source.layers;
    BuiltImage img;
    img.platform = platform;
    img.layers = layers;
    img.config = put_json(store, image_config(spec, platform, layers, options.epoch, source.base_config, source.base_layers),
                          media_type::config);
    nlohmann::json layer_list = nlohmann::json::array();
    for (const BuiltLayer& l : layers) layer_list.push_back(l.blob.to_json());
    nlohmann::json manifest = {{"schemaVersion", 2},
                               {"mediaType", media_type::manifest},
                               {"config", img.config.to_json()},
                               {"layers", layer_list}};
    if (!spec.annotations.empty()) manifest["annotations"] = spec.annotations;
    img.manifest = put_json(store, manifest, media_type::manifest);
    img.manifest.platform = platform;
    artifact.images.push_back(std::move(img));
  }
  if (artifact.images.size() > 1) {
    nlohmann::json manifests = nlohmann::json::array();
    for (const BuiltImage& img : artifact.images) manifests.push_back(img.manifest.to_json());
    nlohmann::json index = {{"schemaVersion", 2}, {"mediaType", media_type::index}, {"manifests", manifests}};
    if (!spec.annotations.empty()) index["annotations"] = spec.annotations;
    artifact.index = put_json(store, index, media_type::index);
  }
  return artifact;
}

int64_t source_date_epoch() {
  const char* text = std::getenv("SOURCE_DATE_EPOCH");
  if (!text || !*text) return 0;
  int64_t value = 0;
  std::string_view s(text);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || p != s.data() + s.size() || value < 0 || value > 253402300799)
    throw UsageError("SOURCE_DATE_EPOCH=\"" + std::string(s) + "\" is not a Unix time in seconds (e.g. 1700000000)");
  return value;
}

}  // namespace distill
