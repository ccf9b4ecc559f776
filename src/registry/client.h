#pragma once
// A client for the OCI distribution API (and Docker Registry HTTP API v2):
// token and basic auth answered from WWW-Authenticate challenges, manifests
// by tag or digest, blobs checked with HEAD before upload, mounted across
// repositories, uploaded whole or in chunks, downloaded into the store and
// verified. distribution 2.8 quirks: relative Location headers, a _state
// query parameter that must be kept, the newest Location always used.
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "digest/digest.h"
#include "http/http.h"
#include "registry/auth.h"
#include "store/store.h"

namespace distill::registry {

/// docker://HOST[:PORT]/REPO[:TAG][@sha256:...]
struct Reference {
  std::string host;        // as written ("127.0.0.1:5000", "docker.io")
  std::string repository;  // "library/busybox"
  std::string tag;         // "" when only a digest is given
  std::optional<Digest> digest;
  static Reference parse(const std::string& text);  // without "docker://"
  std::string str() const;                          // docker://...
  std::string reference() const { return digest ? digest->str() : (tag.empty() ? "latest" : tag); }
};

struct Options {
  bool tls_verify = true;
  std::string cert_dir;
  AuthOptions auth;
};

struct Manifest {
  std::string bytes;
  std::string media_type;
  Digest digest;
};

class Client {
 public:
  Client(const std::string& host, const Options& options);
  ~Client();

  Manifest get_manifest(const std::string& repo, const std::string& reference);
  void put_manifest(const std::string& repo, const std::string& reference, const Manifest& manifest);
  /// The blob's size if the repository has it.
  std::optional<uint64_t> blob_size(const std::string& repo, const Digest& digest);
  /// Downloads a blob into the store, verified against `digest`.
  void pull_blob(const std::string& repo, const Digest& digest, uint64_t size, Store& store,
                 const std::function<void(uint64_t)>& on_bytes = {});

  enum class Upload { skipped, mounted, uploaded };
  /// Uploads a blob from `file` unless the repository has it; tries a mount
  /// from `mount_from` (another repository on this registry) first.
  Upload push_blob(const std::string& repo, const Digest& digest, uint64_t size, const std::string& file,
                   const std::string& mount_from);

  /// Checks the credentials against the registry (for distill login).
  void check_login();

  /// Counters for reports and tests.
  struct Stats {
    int blobs_uploaded = 0, blobs_skipped = 0, blobs_mounted = 0, requests = 0;
  };
  Stats stats() const;

 private:
  struct State;
  std::unique_ptr<State> m;
  http::Response send(http::Request request, const std::string& scope);
  std::string url(const std::string& path) const;
};

}  // namespace distill::registry
