#include "oci/artifact.h"

#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "archive/tar.h"
#include "base/error.h"

namespace distill {

namespace {

bool is_index(const std::string& media_type) {
  return media_type == media_type::index || media_type == media_type::docker_list;
}

nlohmann::json read_json(const Store& store, const Descriptor& d) {
  nlohmann::json j = nlohmann::json::parse(store.read_blob(d.digest), nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error("manifest " + d.digest.str() + " is not a JSON object");
  return j;
}

BuiltImage describe_image(const Store& store, const Descriptor& manifest) {
  BuiltImage img;
  img.manifest = manifest;
  nlohmann::json j = read_json(store, manifest);
  img.config = Descriptor::from_json(j.value("config", nlohmann::json()), "manifest " + manifest.digest.str() + " config");
  nlohmann::json config = read_json(store, img.config);
  std::vector<std::string> diff_ids;
  if (config.contains("rootfs") && config["rootfs"].contains("diff_ids"))
    for (const auto& d : config["rootfs"]["diff_ids"]) diff_ids.push_back(d.get<std::string>());
  img.platform.os = config.value("os", "linux");
  img.platform.architecture = config.value("architecture", "");
  img.platform.variant = config.value("variant", "");
  if (manifest.platform) img.platform = *manifest.platform;
  const auto& layers = j.value("layers", nlohmann::json::array());
  for (size_t i = 0; i < layers.size(); ++i) {
    BuiltLayer l;
    l.blob = Descriptor::from_json(layers[i], "manifest " + manifest.digest.str() + " layers[" + std::to_string(i) + "]");
    if (i < diff_ids.size()) l.diff_id = Digest::parse(diff_ids[i], "config rootfs.diff_ids");
    l.reused = true;
    img.layers.push_back(l);
  }
  return img;
}

}  // namespace

BuiltArtifact describe_artifact(const Store& store, const Descriptor& top) {
  BuiltArtifact a;
  if (!is_index(top.media_type)) {
    a.images.push_back(describe_image(store, top));
    return a;
  }
  a.index = top;
  nlohmann::json index = read_json(store, top);
  const auto& list = index.value("manifests", nlohmann::json::array());
  for (size_t i = 0; i < list.size(); ++i) {
    Descriptor d = Descriptor::from_json(list[i], "index manifests[" + std::to_string(i) + "]");
    if (is_index(d.media_type)) throw Error("nested image indexes are not supported yet (" + d.digest.str() + ")");
    a.images.push_back(describe_image(store, d));
  }
  return a;
}

BuiltArtifact to_oci(Store& store, const BuiltArtifact& artifact) {
  static const std::map<std::string, std::string> layer_types = {
      {"application/vnd.docker.image.rootfs.diff.tar.gzip", "application/vnd.oci.image.layer.v1.tar+gzip"},
      {"application/vnd.docker.image.rootfs.diff.tar.zstd", "application/vnd.oci.image.layer.v1.tar+zstd"},
      {"application/vnd.docker.image.rootfs.diff.tar", "application/vnd.oci.image.layer.v1.tar"},
      {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"}};
  bool docker = artifact.index ? artifact.index->media_type == media_type::docker_list : false;
  for (const BuiltImage& img : artifact.images) docker = docker || img.manifest.media_type == media_type::docker_manifest;
  if (!docker) return artifact;
  auto put = [&](const nlohmann::json& j, const char* type) {
    std::string bytes = canonical_json(j);
    return Descriptor{type, store.put_blob(bytes), bytes.size(), {}, std::nullopt};
  };
  BuiltArtifact out = artifact;
  for (BuiltImage& img : out.images) {
    if (img.manifest.media_type != media_type::docker_manifest) continue;
    nlohmann::json m = read_json(store, img.manifest);
    m["mediaType"] = media_type::manifest;
    m["config"]["mediaType"] = media_type::config;
    for (auto& l : m["layers"]) {
      auto it = layer_types.find(l.value("mediaType", ""));
      if (it != layer_types.end()) l["mediaType"] = it->second;
    }
    for (size_t i = 0; i < img.layers.size() && i < m["layers"].size(); ++i)
      img.layers[i].blob.media_type = m["layers"][i]["mediaType"].get<std::string>();
    img.config.media_type = media_type::config;
    std::optional<Platform> platform = img.manifest.platform;
    img.manifest = put(m, media_type::manifest);
    img.manifest.platform = platform;
  }
  if (out.index) {
    nlohmann::json manifests = nlohmann::json::array();
    for (const BuiltImage& img : out.images) {
      Descriptor d = img.manifest;
      d.platform = img.platform;
      manifests.push_back(d.to_json());
    }
    out.index = put({{"schemaVersion", 2}, {"mediaType", media_type::index}, {"manifests", manifests}}, media_type::index);
  }
  return out;
}

std::vector<Descriptor> blobs_in_push_order(const BuiltArtifact& a) {
  std::vector<Descriptor> out;
  std::set<std::string> seen;
  auto add = [&](const Descriptor& d) {
    if (seen.insert(d.digest.hex).second) out.push_back(d);
  };
  for (const BuiltImage& img : a.images) {
    for (const BuiltLayer& l : img.layers) add(l.blob);
    add(img.config);
  }
  for (const BuiltImage& img : a.images) add(img.manifest);
  if (a.index) add(*a.index);
  return out;
}

namespace {

/// Copies a blob from a layout directory into the store, verified.
void import_blob(const fs::path& dir, const Digest& d, Store& store) {
  if (store.has_blob(d)) return;
  fs::path src = dir / "blobs" / "sha256" / d.hex;
  std::error_code ec;
  if (!fs::exists(src, ec)) throw Error(dir.string() + ": blob " + d.str() + " is missing");
  copy_verified(src, d, store.blob_path(d), src.string());
}

void import_tree(const fs::path& dir, const Descriptor& top, Store& store) {
  import_blob(dir, top.digest, store);
  if (is_index(top.media_type)) {
    nlohmann::json index = read_json(store, top);
    for (const auto& m : index.value("manifests", nlohmann::json::array()))
      import_tree(dir, Descriptor::from_json(m, "index"), store);
    return;
  }
  nlohmann::json j = read_json(store, top);
  import_blob(dir, Descriptor::from_json(j.value("config", nlohmann::json()), "config").digest, store);
  for (const auto& l : j.value("layers", nlohmann::json::array())) import_blob(dir, Descriptor::from_json(l, "layer").digest, store);
}

Descriptor pick(const nlohmann::json& index, const ImageRef& ref) {
  std::vector<Descriptor> found;
  for (const auto& m : index.value("manifests", nlohmann::json::array())) {
    Descriptor d = Descriptor::from_json(m, "index.json");
    auto name = d.annotations.find(annotation::ref_name);
    if (ref.tag.empty() || (name != d.annotations.end() && name->second == ref.tag)) found.push_back(d);
  }
  if (found.empty()) throw Error(ref.str() + ": " + (ref.tag.empty() ? "holds no image" : "no image is tagged \"" + ref.tag + "\""));
  if (found.size() > 1) throw UsageError(ref.str() + ": holds " + std::to_string(found.size()) + " images; name one with :TAG");
  return found[0];
}

}  // namespace

Descriptor import_local(const ImageRef& ref, Store& store) {
  if (ref.transport == ImageRef::Transport::oci_dir) {
    fs::path dir = ref.path;
    std::error_code ec;
    if (!fs::exists(dir / "index.json", ec)) throw Error(ref.path + " is not an OCI layout (no index.json)");
    nlohmann::json index = nlohmann::json::parse(read_file(dir / "index.json"), nullptr, false);
    if (index.is_discarded()) throw Error(ref.path + "/index.json is not valid JSON");
    Descriptor top = pick(index, ref);
    import_tree(dir, top, store);
    top.annotations.clear();
    top.platform.reset();
    return top;
  }
  // Archives: unpack into a private directory (members checked), then as above.
  TempDir tmp(store.root() / "tmp", "import-");
  read_tar(ref.path, [&](const TarEntry& e, const ReadData& read) {
    if (e.type != '0') return;
    if (!is_clean_relative(e.path)) throw Error(ref.path + ": member \"" + e.path + "\" escapes the archive; refusing it");
    if (!(e.path == "index.json" || e.path.starts_with("blobs/sha256/") || e.path == "manifest.json")) return;
    fs::path out = tmp.path() / e.path;
    fs::create_directories(out.parent_path());
    AtomicFile f(out);
    std::vector<char> buffer(1 << 20);
    for (size_t n; (n = read(buffer.data(), buffer.size())) > 0;) f.write(std::string_view(buffer.data(), n));
    f.commit();
  });
  std::error_code ec;
  if (!fs::exists(tmp.path() / "index.json", ec))
    throw Error(ref.path + " has no index.json; copying docker save archives of Docker before 25 is not supported yet");
  ImageRef inner = ref;
  inner.transport = ImageRef::Transport::oci_dir;
  inner.path = tmp.path().string();
  if (ref.transport == ImageRef::Transport::docker_archive && !ref.tag.empty()) inner.tag = DockerName::parse(ref.tag).tag;
  nlohmann::json index = nlohmann::json::parse(read_file(tmp.path() / "index.json"), nullptr, false);
  if (index.is_discarded()) throw Error(ref.path + ": index.json is not valid JSON");
  Descriptor top = pick(index, inner);
  import_tree(tmp.path(), top, store);
  top.annotations.clear();
  top.platform.reset();
  return top;
}

}  // namespace distill
