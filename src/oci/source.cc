#include "oci/source.h"

#include <sys/stat.h>

#include <map>
#include <set>

#include "archive/tar.h"
#include "base/error.h"

namespace distill {

namespace {

constexpr size_t kMaxJson = 8 << 20;

/// Where a source keeps its blobs and named files.
class BlobAccess {
 public:
  virtual ~BlobAccess() = default;
  /// A path to a file holding exactly the blob's bytes (verified).
  virtual fs::path blob(const Digest& d) = 0;
  /// A named member ("index.json"); nullopt if absent.
  virtual std::optional<fs::path> named(const std::string& name) = 0;
  std::string read_json_blob(const Digest& d) {
    fs::path p = blob(d);
    if (fs::file_size(p) > kMaxJson) throw Error("blob " + d.str() + " is too large to be a manifest or config");
    return read_file(p);
  }
};

class DirAccess : public BlobAccess {
 public:
  explicit DirAccess(fs::path dir) : m_dir(std::move(dir)) {}
  fs::path blob(const Digest& d) override {
    fs::path p = m_dir / "blobs" / "sha256" / d.hex;
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) throw Error(m_dir.string() + ": blob " + d.str() + " is missing");
    if (!m_verified.count(d.hex)) {
      if (hash_file(p) != d) throw Error(p.string() + " does not match its digest (corrupt or tampered)");
      m_verified[d.hex] = true;
    }
    return p;
  }
  std::optional<fs::path> named(const std::string& name) override {
    fs::path p = m_dir / name;
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) return std::nullopt;
    return p;
  }

 private:
  fs::path m_dir;
  std::map<std::string, bool> m_verified;
};

/// Reads an archive once into the store.
class ArchiveAccess : public BlobAccess {
 public:
  ArchiveAccess(const fs::path& file, Store& store) : m_store(store) {
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) throw Error(file.string() + " does not exist or is not a file");
    read_tar(file, [&](const TarEntry& e, const ReadData& read) {
      if (e.type != '0') return;
      if (!is_clean_relative(e.path))
        throw Error(file.string() + ": member \"" + e.path + "\" escapes the archive; refusing it");
      Store::BlobWriter writer(store);
      std::vector<char> buffer(1 << 20);
      for (size_t n; (n = read(buffer.data(), buffer.size())) > 0;) writer.write(std::string_view(buffer.data(), n));
      Digest d = writer.commit();
      if (e.path.starts_with("blobs/sha256/")) {
        std::string hex = e.path.substr(13);
        if (hex != d.hex)
          throw Error(file.string() + ": " + e.path + " does not match its digest (corrupt or tampered)");
      }
      m_members[e.path] = d;
    });
  }
  fs::path blob(const Digest& d) override {
    if (!m_store.has_blob(d)) throw Error("blob " + d.str() + " is missing from the archive");
    return m_store.blob_path(d);
  }
  std::optional<fs::path> named(const std::string& name) override {
    auto it = m_members.find(name);
    if (it == m_members.end()) return std::nullopt;
    return m_store.blob_path(it->second);
  }
  std::optional<Digest> member_digest(const std::string& name) const {
    auto it = m_members.find(name);
    if (it == m_members.end()) return std::nullopt;
    return it->second;
  }

 private:
  Store& m_store;
  std::map<std::string, Digest> m_members;
};

nlohmann::json parse_json(const std::string& text, const std::string& what) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error(what + " is not a valid JSON object");
  return j;
}

ImageView view_from_manifest(BlobAccess& blobs, const Descriptor& desc, const std::string& reference,
                             bool with_layer_files = true) {
  ImageView view;
  view.reference = reference;
  view.manifest = desc;
  std::string bytes = blobs.read_json_blob(desc.digest);
  nlohmann::json manifest = parse_json(bytes, "manifest " + desc.digest.str());
  if (!manifest.contains("config")) throw Error("manifest " + desc.digest.str() + " has no config");
  Descriptor config = Descriptor::from_json(manifest["config"], "manifest config");
  view.config_digest = config.digest;
  view.config = parse_json(blobs.read_json_blob(config.digest), "config " + config.digest.str());
  std::vector<std::string> diff_ids;
  if (view.config.contains("rootfs") && view.config["rootfs"].contains("diff_ids"))
    for (const auto& d : view.config["rootfs"]["diff_ids"]) diff_ids.push_back(d.get<std::string>());
  const auto& layers = manifest.value("layers", nlohmann::json::array());
  for (size_t i = 0; i < layers.size(); ++i) {
    LayerView l;
    l.blob = Descriptor::from_json(layers[i], "manifest layers[" + std::to_string(i) + "]");
    if (i < diff_ids.size()) l.diff_id = Digest::parse(diff_ids[i], "config rootfs.diff_ids");
    if (with_layer_files) l.file = blobs.blob(l.blob.digest);
    view.layers.push_back(std::move(l));
  }
  return view;
}

/// Blobs already in the store (pulled from a registry), checked when read.
class StoreAccess : public BlobAccess {
 public:
  explicit StoreAccess(Store& store) : m_store(store) {}
  fs::path blob(const Digest& d) override {
    if (!m_store.has_blob(d)) throw Error("blob " + d.str() + " is not in the cache " + m_store.root().string());
    if (!m_store.is_fresh(d) && !m_verified.count(d.hex)) {
      if (hash_file(m_store.blob_path(d)) != d)
        throw Error("cache blob " + m_store.blob_path(d).string() + " is corrupt (its content does not match its digest); delete it and try again");
      m_verified.insert(d.hex);
    }
    return m_store.blob_path(d);
  }
  std::optional<fs::path> named(const std::string&) override { return std::nullopt; }

 private:
  Store& m_store;
  std::set<std::string> m_verified;
};

/// docker-archive layers carry no media type: tell it from the magic bytes.
std::string sniff_layer_media_type(const fs::path& file) {
  Fd fd = open_read(file);
  char magic[4] = {0};
  size_t n = read_some(fd.get(), magic, file);
  if (n >= 2 && static_cast<unsigned char>(magic[0]) == 0x1f && static_cast<unsigned char>(magic[1]) == 0x8b)
    return "application/vnd.docker.image.rootfs.diff.tar.gzip";
  if (n >= 4 && std::string_view(magic, 4) == std::string_view("\x28\xb5\x2f\xfd", 4))
    return "application/vnd.docker.image.rootfs.diff.tar.zstd";
  return "application/vnd.docker.image.rootfs.diff.tar";
}

ImageView view_from_oci(BlobAccess& blobs, const ImageRef& ref, const std::optional<std::string>& arch) {
  auto index_path = blobs.named("index.json");
  if (!index_path) throw Error(ref.path + " is not an OCI layout (no index.json)");
  nlohmann::json index = parse_json(read_file(*index_path), ref.path + "/index.json");
  const auto& manifests = index.value("manifests", nlohmann::json::array());
  std::vector<Descriptor> candidates;
  for (size_t i = 0; i < manifests.size(); ++i) {
    Descriptor d = Descriptor::from_json(manifests[i], "index.json manifests[" + std::to_string(i) + "]");
    auto name = d.annotations.find(annotation::ref_name);
    if (ref.tag.empty() || (name != d.annotations.end() && name->second == ref.tag)) candidates.push_back(d);
  }
  if (candidates.empty())
    throw Error(ref.str() + ": " + (ref.tag.empty() ? "the layout holds no image" : "no image is tagged \"" + ref.tag + "\""));
  if (candidates.size() > 1)
    throw UsageError(ref.str() + ": the layout holds " + std::to_string(candidates.size()) + " images; name one with :TAG");
  Descriptor desc = candidates[0];
  // Follow indexes down to the manifest for the wanted platform.
  for (int depth = 0; desc.media_type == media_type::index || desc.media_type == media_type::docker_list; ++depth) {
    if (depth > 4) throw Error(ref.str() + ": indexes nest too deeply");
    nlohmann::json sub = parse_json(blobs.read_json_blob(desc.digest), "index " + desc.digest.str());
    desc = pick_manifest(sub, arch, ref.str() + ": the index");
  }
  return view_from_manifest(blobs, desc, ref.str());
}

/// docker-archive: read manifest.json as `docker load` does.
ImageView view_from_docker_archive(ArchiveAccess& blobs, const ImageRef& ref) {
  auto path = blobs.named("manifest.json");
  if (!path) throw Error(ref.path + " is not a docker-archive (no manifest.json)");
  nlohmann::json list = nlohmann::json::parse(read_file(*path), nullptr, false);
  if (list.is_discarded() || !list.is_array() || list.empty())
    throw Error(ref.path + ": manifest.json is not a non-empty JSON array");
  const nlohmann::json* entry = nullptr;
  if (ref.tag.empty()) {
    if (list.size() > 1) throw UsageError(ref.str() + ": the archive holds several images; name one with :REPO:TAG");
    entry = &list[0];
  } else {
    std::string want = DockerName::parse(ref.tag).familiar;
    for (const auto& e : list)
      if (e.contains("RepoTags") && e["RepoTags"].is_array())
        for (const auto& t : e["RepoTags"])
          if (t.is_string() && t.get<std::string>() == want) entry = &e;
    if (!entry) throw Error(ref.str() + ": no image is tagged " + want);
  }
  ImageView view;
  view.reference = ref.str();
  std::string config_name = entry->value("Config", "");
  auto config_digest = blobs.member_digest(config_name);
  if (!config_digest) throw Error(ref.path + ": manifest.json names a missing config \"" + config_name + "\"");
  view.config_digest = *config_digest;
  view.config = parse_json(blobs.read_json_blob(*config_digest), ref.path + ": " + config_name);
  std::vector<std::string> diff_ids;
  if (view.config.contains("rootfs") && view.config["rootfs"].contains("diff_ids"))
    for (const auto& d : view.config["rootfs"]["diff_ids"]) diff_ids.push_back(d.get<std::string>());
  const auto& layers = entry->value("Layers", nlohmann::json::array());
  if (layers.size() != diff_ids.size())
    throw Error(ref.path + ": manifest.json lists " + std::to_string(layers.size()) + " layers but the config has " +
                std::to_string(diff_ids.size()) + " diff_ids");
  for (size_t i = 0; i < layers.size(); ++i) {
    std::string name = layers[i].get<std::string>();
    auto d = blobs.member_digest(name);
    if (!d) throw Error(ref.path + ": manifest.json names a missing layer \"" + name + "\"");
    LayerView l;
    l.blob.digest = *d;
    l.file = blobs.blob(*d);
    l.blob.size = fs::file_size(l.file);
    l.blob.media_type = sniff_layer_media_type(l.file);
    l.diff_id = Digest::parse(diff_ids[i], "config rootfs.diff_ids");
    view.layers.push_back(std::move(l));
  }
  return view;
}

}  // namespace

ImageView open_stored_image(Store& store, const Descriptor& manifest, const std::string& reference, bool with_layer_files) {
  StoreAccess blobs(store);
  return view_from_manifest(blobs, manifest, reference, with_layer_files);
}

ImageView open_image(const ImageRef& ref, Store& store, const std::optional<std::string>& arch) {
  switch (ref.transport) {
    case ImageRef::Transport::oci_dir: {
      std::error_code ec;
      if (!fs::is_directory(ref.path, ec)) throw Error(ref.path + " does not exist or is not a directory");
      DirAccess blobs(ref.path);
      return view_from_oci(blobs, ref, arch);
    }
    case ImageRef::Transport::oci_archive: {
      ArchiveAccess blobs(ref.path, store);
      return view_from_oci(blobs, ref, arch);
    }
    case ImageRef::Transport::docker_archive: {
      ArchiveAccess blobs(ref.path, store);
      return view_from_docker_archive(blobs, ref);
    }
    case ImageRef::Transport::docker:
      break;
  }
  // Registry images come through registry::pull_platform_image and
  // open_stored_image: this layer knows no network.
  throw UsageError(ref.str() + ": a registry image; read it with distill inspect or pull it first (distill pull)");
}

}  // namespace distill
