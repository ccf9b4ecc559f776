#include "registry/transfer.h"

#include <atomic>
#include <set>
#include <future>
#include <mutex>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "oci/artifact.h"

namespace distill::registry {

namespace {

/// Where each blob was last seen on a registry, so a push to another
/// repository there can mount it instead of uploading.
class MountHints {
 public:
  MountHints(const Store& store, const std::string& host)
      : m_path(store.root() / "registry" / (sanitize(host) + ".json")) {
    std::error_code ec;
    if (fs::exists(m_path, ec)) {
      m_hints = nlohmann::json::parse(read_file(m_path), nullptr, false);
      if (!m_hints.is_object()) m_hints = nlohmann::json::object();
    }
  }
  std::string repo_of(const Digest& d) const { return m_hints.value(d.hex, ""); }
  void seen(const Digest& d, const std::string& repo) {
    std::lock_guard lock(m_mutex);
    m_hints[d.hex] = repo;
  }
  void save() {
    std::error_code ec;
    fs::create_directories(m_path.parent_path(), ec);
    write_file_atomic(m_path, m_hints.dump());
  }

 private:
  static std::string sanitize(std::string s) {
    for (char& c : s)
      if (c == ':' || c == '/') c = '_';
    return s;
  }
  fs::path m_path;
  nlohmann::json m_hints = nlohmann::json::object();
  std::mutex m_mutex;
};

}  // namespace

PushReport push_artifact(Store& store, const BuiltArtifact& artifact, const Reference& ref, Client& client,
                         Status& status, ThreadPool& pool) {
  PushReport report;
  report.top = artifact.top();
  MountHints hints(store, ref.host);
  std::vector<Descriptor> blobs = blobs_in_push_order(artifact);
  std::vector<Descriptor> data;  // configs and layers
  std::set<std::string> manifests;
  for (const BuiltImage& img : artifact.images) manifests.insert(img.manifest.digest.hex);
  if (artifact.index) manifests.insert(artifact.index->digest.hex);
  uint64_t total = 0;
  for (const Descriptor& d : blobs)
    if (!manifests.count(d.digest.hex)) {
      data.push_back(d);
      total += d.size;
    }
  status.phase("pushing " + std::to_string(data.size()) + " blobs to " + ref.str(), total);
  std::mutex mutex;
  std::vector<std::future<void>> jobs;
  ThreadPool uploads(std::max(4u, pool.size()));
  for (const Descriptor& d : data)
    jobs.push_back(uploads.submit([&, d] {
      Client::Upload u = client.push_blob(ref.repository, d.digest, d.size, store.blob_path(d.digest).string(),
                                          hints.repo_of(d.digest));
      hints.seen(d.digest, ref.repository);
      std::lock_guard lock(mutex);
      (u == Client::Upload::uploaded ? report.pushed : u == Client::Upload::mounted ? report.mounted : report.skipped)
          .push_back(d.digest.str());
    }));
  wait_all(jobs);
  // Manifests by digest, then the tag (or the digest) on the top one.
  for (const BuiltImage& img : artifact.images) {
    if (!artifact.index) break;
    Manifest m{store.read_blob(img.manifest.digest), img.manifest.media_type, img.manifest.digest};
    client.put_manifest(ref.repository, img.manifest.digest.str(), m);
  }
  Descriptor top = artifact.top();
  Manifest m{store.read_blob(top.digest), top.media_type, top.digest};
  client.put_manifest(ref.repository, ref.digest ? top.digest.str() : ref.reference(), m);
  hints.save();
  status.done(std::to_string(report.pushed.size()) + " uploaded, " + std::to_string(report.mounted.size()) + " mounted, " +
              std::to_string(report.skipped.size()) + " already there");
  return report;
}

namespace {

/// Downloads `blobs` into the store, several at once, with progress.
void pull_blobs(const Reference& ref, const std::vector<Descriptor>& blobs, Client& client, Store& store, Status& status,
                ThreadPool& pool) {
  uint64_t total = 0;
  for (const Descriptor& d : blobs) total += d.size;
  status.phase("pulling " + std::to_string(blobs.size()) + " blobs", total);
  std::atomic<uint64_t> done{0};
  ThreadPool downloads(std::max(4u, pool.size()));
  std::vector<std::future<void>> jobs;
  for (const Descriptor& d : blobs)
    jobs.push_back(downloads.submit([&, d] {
      uint64_t last = 0;
      client.pull_blob(ref.repository, d.digest, d.size, store, [&](uint64_t n) {
        done += n - last;
        last = n;
        status.progress(done);
      });
    }));
  wait_all(jobs);
  status.done(human_size(total));
}

}  // namespace

Descriptor pull_platform_image(const Reference& ref, const std::optional<std::string>& arch, bool with_layers, Client& client,
                               Store& store, Status& status, ThreadPool& pool) {
  status.phase("reading " + ref.str());
  Manifest top = client.get_manifest(ref.repository, ref.reference());
  if (ref.digest && top.digest != *ref.digest)
    throw Error(ref.str() + ": the registry sent a manifest with digest " + top.digest.str() + "; refusing it");
  Descriptor desc{top.media_type, store.put_blob(top.bytes), top.bytes.size(), {}, std::nullopt};
  auto object = [&](const std::string& bytes, const Digest& digest) {
    nlohmann::json j = nlohmann::json::parse(bytes, nullptr, false);
    if (!j.is_object()) throw Error(ref.str() + ": manifest " + digest.str() + " is not a JSON object");
    return j;
  };
  nlohmann::json manifest = object(top.bytes, desc.digest);
  for (int depth = 0; desc.media_type == media_type::index || desc.media_type == media_type::docker_list; ++depth) {
    if (depth > 4) throw Error(ref.str() + ": indexes nest too deeply");
    desc = pick_manifest(manifest, arch, ref.str() + ": the index");
    Manifest child = client.get_manifest(ref.repository, desc.digest.str());  // checked against the digest
    store.put_blob(child.bytes);
    manifest = object(child.bytes, desc.digest);
  }
  if (!manifest.contains("config")) throw Error(ref.str() + ": manifest " + desc.digest.str() + " has no config");
  std::vector<Descriptor> blobs = {Descriptor::from_json(manifest["config"], ref.str() + " config")};
  if (with_layers)
    for (const auto& l : manifest.value("layers", nlohmann::json::array())) blobs.push_back(Descriptor::from_json(l, ref.str() + " layer"));
  status.done(desc.platform ? desc.platform->str() : "one image");
  pull_blobs(ref, blobs, client, store, status, pool);
  return desc;
}

Descriptor pull_artifact(const Reference& ref, Client& client, Store& store, Status& status, ThreadPool& pool) {
  status.phase("reading " + ref.str());
  Manifest top = client.get_manifest(ref.repository, ref.reference());
  if (ref.digest && top.digest != *ref.digest)
    throw Error(ref.str() + ": the registry sent a manifest with digest " + top.digest.str() + "; refusing it");
  Descriptor desc{top.media_type, store.put_blob(top.bytes), top.bytes.size(), {}, std::nullopt};
  nlohmann::json j = nlohmann::json::parse(top.bytes);
  std::vector<nlohmann::json> images;
  if (desc.media_type == media_type::index || desc.media_type == media_type::docker_list) {
    for (const auto& m : j.value("manifests", nlohmann::json::array())) {
      Descriptor d = Descriptor::from_json(m, ref.str() + " index");
      Manifest child = client.get_manifest(ref.repository, d.digest.str());
      store.put_blob(child.bytes);
      images.push_back(nlohmann::json::parse(child.bytes));
    }
  } else {
    images.push_back(j);
  }
  std::vector<Descriptor> blobs;
  for (const auto& m : images) {
    blobs.push_back(Descriptor::from_json(m.value("config", nlohmann::json()), ref.str() + " config"));
    for (const auto& l : m.value("layers", nlohmann::json::array())) blobs.push_back(Descriptor::from_json(l, ref.str() + " layer"));
  }
  status.done(std::to_string(images.size()) + " image(s)");
  pull_blobs(ref, blobs, client, store, status, pool);
  MountHints hints(store, ref.host);
  for (const Descriptor& d : blobs) hints.seen(d.digest, ref.repository);
  hints.save();
  return desc;
}

}  // namespace distill::registry
