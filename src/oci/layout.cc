#include "oci/layout.h"

#include <sys/stat.h>
#include <unistd.h>

#include <set>

#include "archive/tar.h"
#include "base/error.h"

namespace distill {

namespace {

const char* kLayoutFile = R"({"imageLayoutVersion":"1.0.0"})";

/// Every blob an artifact references, in a stable order.
std::vector<Digest> all_blobs(const BuiltArtifact& a) {
  std::set<Digest> seen;
  std::vector<Digest> out;
  auto add = [&](const Digest& d) {
    if (seen.insert(d).second) out.push_back(d);
  };
  if (a.index) add(a.index->digest);
  for (const BuiltImage& img : a.images) {
    add(img.manifest.digest);
    add(img.config.digest);
    for (const BuiltLayer& l : img.layers) add(l.blob.digest);
  }
  return out;
}

/// The names a tag is known by: ref.name for OCI readers (skopeo, podman),
/// io.containerd.image.name for containerd and Docker's containerd store.
std::map<std::string, std::string> name_annotations(const ImageRef& dest) {
  if (dest.transport == ImageRef::Transport::docker_archive) {
    if (dest.tag.empty()) return {};
    DockerName n = DockerName::parse(dest.tag);
    return {{annotation::ref_name, n.tag}, {annotation::containerd_name, n.full}};
  }
  std::string tag = dest.tag.empty() ? "latest" : dest.tag;
  if (tag.find('/') != std::string::npos) {
    // A full reference used as the tag: keep it whole in both.
    return {{annotation::ref_name, tag}, {annotation::containerd_name, DockerName::parse(tag).full}};
  }
  std::string repo = fs::path(dest.path).filename().string();
  if (auto dot = repo.find('.'); dot != std::string::npos && dest.transport == ImageRef::Transport::oci_archive)
    repo.erase(dot);
  std::string clean;
  for (char c : repo) {
    char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    clean += (std::isalnum(static_cast<unsigned char>(l)) || l == '-' || l == '_' || l == '.') ? l : '-';
  }
  while (!clean.empty() && !std::isalnum(static_cast<unsigned char>(clean.front()))) clean.erase(0, 1);
  while (!clean.empty() && !std::isalnum(static_cast<unsigned char>(clean.back()))) clean.pop_back();
  if (clean.empty()) clean = "image";
  std::map<std::string, std::string> out = {{annotation::ref_name, tag}};
  try {
    out[annotation::containerd_name] = DockerName::parse("localhost/" + clean + ":" + tag).full;
  } catch (const Error&) {
    // a tag docker cannot spell (e.g. with '+'): OCI readers still find it
  }
  return out;
}

std::string index_json(const BuiltArtifact& a, const ImageRef& dest, const nlohmann::json* existing) {
  Descriptor top = a.top();
  top.annotations = name_annotations(dest);
  if (!a.index) top.platform = a.images.at(0).platform;
  nlohmann::json manifests = nlohmann::json::array();
  if (existing && existing->contains("manifests") && (*existing)["manifests"].is_array()) {
    // Keep other images; the new one replaces any with the same tag.
    std::string ref = top.annotations.count(annotation::ref_name) ? top.annotations[annotation::ref_name] : "";
    for (const auto& m : (*existing)["manifests"]) {
      bool same_tag = m.contains("annotations") && m["annotations"].value(annotation::ref_name, "") == ref;
      if (!same_tag) manifests.push_back(m);
    }
  }
  manifests.push_back(top.to_json());
  nlohmann::json index = {{"schemaVersion", 2}, {"mediaType", media_type::index}, {"manifests", manifests}};
  return canonical_json(index);
}

void write_oci_dir(const Store& store, const BuiltArtifact& a, const ImageRef& dest) {
  fs::path dir = dest.path;
  std::error_code ec;
  // An empty directory counts as new: the finished layout is renamed over it.
  bool exists = fs::exists(dir, ec) && !fs::is_empty(dir, ec);
  std::optional<TempDir> fresh;
  fs::path target = dir;
  nlohmann::json existing;
  if (exists) {
    existing = nlohmann::json::parse(read_file(dir / "index.json"), nullptr, false);
    if (existing.is_discarded()) throw Error(dir.string() + "/index.json is not valid JSON; choose another destination");
  } else {
    // Build the new layout beside its final place and rename it in at the end.
    fs::path parent = dir.parent_path().empty() ? fs::path(".") : dir.parent_path();
    fresh.emplace(parent, "." + dir.filename().string() + ".distill-");
    ::chmod(fresh->path().c_str(), 0755);
    target = fresh->path();
    fs::create_directories(target / "blobs" / "sha256");
    write_file_atomic(target / "oci-layout", kLayoutFile);
  }
  for (const Digest& d : all_blobs(a)) {
    fs::path path = target / "blobs" / "sha256" / d.hex;
    if (!fs::exists(path, ec)) store.copy_blob(d, path);
  }
  write_file_atomic(target / "index.json", index_json(a, dest, exists ? &existing : nullptr));
  if (fresh) {
    if (::rename(fresh->path().c_str(), dir.c_str()) != 0) throw_errno("cannot create " + dir.string());
    fresh->release();
  }
}

LayerEntry archive_file(std::string path, std::string content) {
  LayerEntry e;
  e.path = std::move(path);
  e.content = std::move(content);
  e.mode = 0644;
  return e;
}

LayerEntry archive_dir(std::string path) {
  LayerEntry e;
  e.path = std::move(path);
  e.type = LayerEntry::Type::directory;
  e.mode = 0755;
  return e;
}

/// Docker's manifest.json: Config and Layers point into blobs/sha256.
std::string docker_manifest_json(const Store& store, const BuiltImage& img, const ImageRef& dest) {
  nlohmann::json layers = nlohmann::json::array();
  for (const BuiltLayer& l : img.layers) layers.push_back("blobs/sha256/" + l.blob.digest.hex);
  nlohmann::json tags = nullptr;
  if (!dest.tag.empty()) tags = nlohmann::json::array({DockerName::parse(dest.tag).familiar});
  (void)store;
  nlohmann::json entry = {{"Config", "blobs/sha256/" + img.config.digest.hex}, {"RepoTags", tags}, {"Layers", layers}};
  return canonical_json(nlohmann::json::array({entry}));
}

void write_archive(const Store& store, const BuiltArtifact& a, const ImageRef& dest, int64_t mtime) {
  bool docker = dest.transport == ImageRef::Transport::docker_archive;
  if (docker && a.images.size() != 1)
    throw UsageError("docker-archive holds one platform, but the spec builds " + std::to_string(a.images.size()) +
                     "; use oci: or oci-archive: for a multi-platform image");
  std::vector<LayerEntry> entries;
  entries.push_back(archive_file("oci-layout", kLayoutFile));
  entries.push_back(archive_file("index.json", index_json(a, dest, nullptr)));
  entries.push_back(archive_dir("blobs"));
  entries.push_back(archive_dir("blobs/sha256"));
  for (const Digest& d : all_blobs(a)) {
    LayerEntry e;
    e.path = "blobs/sha256/" + d.hex;
    e.source = store.blob_path(d).string();
    e.verify = d;
    e.mode = 0644;
    std::error_code ec;
    e.size = fs::file_size(e.source, ec);
    if (ec) throw Error("blob " + d.str() + " is missing from the cache " + store.root().string());
    entries.push_back(std::move(e));
  }
  if (docker) {
    const BuiltImage& img = a.images.at(0);
    entries.push_back(archive_file("manifest.json", docker_manifest_json(store, img, dest)));
    if (!dest.tag.empty()) {
      DockerName n = DockerName::parse(dest.tag);
      // Legacy file; Docker reads manifest.json first. Maps to the top layer.
      nlohmann::json repos = {{n.repository_familiar, {{n.tag, img.layers.back().diff_id.hex}}}};
      entries.push_back(archive_file("repositories", canonical_json(repos)));
    }
  }
  order_for_tar(entries);
  AtomicFile out(dest.path, 0644);
  FdSink sink(out.fd(), dest.path);
  write_tar(entries, mtime, sink);
  out.commit();
}

}  // namespace

void check_destination(const ImageRef& dest) {
  if (dest.transport == ImageRef::Transport::docker) return;  // the registry answers for itself
  fs::path path = dest.path;
  fs::path parent = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  std::error_code ec;
  if (!fs::is_directory(parent, ec))
    throw Error("cannot write " + dest.str() + ": the directory " + parent.string() + " does not exist");
  if (dest.transport == ImageRef::Transport::oci_dir && fs::exists(path, ec)) {
    if (!fs::is_directory(path, ec)) throw Error("cannot write " + dest.str() + ": " + path.string() + " is not a directory");
    if (!fs::is_empty(path, ec) && !fs::exists(path / "oci-layout", ec))
      throw Error("cannot write " + dest.str() + ": " + path.string() +
                  " exists and is not an OCI layout; choose an empty or new directory");
    if (::access(path.c_str(), W_OK) != 0) throw_errno("cannot write " + dest.str());
    if (fs::is_empty(path, ec) && ::access(parent.c_str(), W_OK | X_OK) != 0)
      throw_errno("cannot write " + dest.str() + " (in " + parent.string() + ")");
    return;
  }
  if (fs::is_directory(path, ec)) throw Error("cannot write " + dest.str() + ": " + path.string() + " is a directory");
  if (::access(parent.c_str(), W_OK | X_OK) != 0) throw_errno("cannot write " + dest.str() + " (in " + parent.string() + ")");
}

/// What a killed distill left at the destination: its temporary beside it
/// (AtomicFile's "NAME.tmp-", the new layout's ".NAME.distill-") and, in an
/// existing layout, half-copied blobs and index.json.
void remove_stale_destination_temporaries(const ImageRef& dest) {
  fs::path path = dest.path;
  fs::path parent = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  std::string name = path.filename().string();
  constexpr auto age = std::chrono::minutes(1);
  remove_stale_temporaries(parent, age, [&](const std::string& entry) {
    return entry.starts_with(name + ".tmp-") || entry.starts_with("." + name + ".distill-");
  });
  std::error_code ec;
  if (dest.transport == ImageRef::Transport::oci_dir && fs::is_directory(path / "blobs" / "sha256", ec)) {
    remove_stale_temporaries(path, age, [](const std::string& entry) { return entry.starts_with("index.json.tmp-"); });
    remove_stale_temporaries(path / "blobs" / "sha256", age,
                             [](const std::string& entry) { return entry.find(".tmp-") != std::string::npos; });
  }
}

void write_destination(const Store& store, const BuiltArtifact& artifact, const ImageRef& dest, int64_t mtime) {
  remove_stale_destination_temporaries(dest);
  if (dest.transport == ImageRef::Transport::oci_dir) write_oci_dir(store, artifact, dest);
  else write_archive(store, artifact, dest, mtime);
}

}  // namespace distill
