#pragma once
// The OCI data model distill writes: descriptors, platforms and the blobs of
// a built image (config, manifest, layers, optional index), all in the store.
// JSON is serialized compactly with keys sorted, so equal content gives
// equal bytes and equal digests.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "digest/digest.h"

namespace distill {

namespace media_type {
inline constexpr const char* manifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* index = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* config = "application/vnd.oci.image.config.v1+json";
inline constexpr const char* docker_manifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr const char* docker_list = "application/vnd.docker.distribution.manifest.list.v2+json";
}  // namespace media_type

namespace annotation {
inline constexpr const char* ref_name = "org.opencontainers.image.ref.name";
inline constexpr const char* containerd_name = "io.containerd.image.name";
}  // namespace annotation

struct Platform {
  std::string os = "linux";
  std::string architecture;
  std::string variant;

  /// From a Debian or OCI architecture name: amd64, arm64, armhf, i386, ...
  static Platform from_arch(std::string_view name);
  static Platform host();
  std::string str() const;  // linux/arm/v7
  nlohmann::json to_json() const;
  bool operator==(const Platform&) const = default;
};

struct Descriptor {
  std::string media_type;
  Digest digest;
  uint64_t size = 0;
  std::map<std::string, std::string> annotations;
  std::optional<Platform> platform;

  nlohmann::json to_json() const;
  /// Reads and checks a descriptor; errors name `where`.
  static Descriptor from_json(const nlohmann::json& j, const std::string& where);
};

/// The manifest an index lists for `arch` (default: this machine's
/// platform, else the index's first manifest). Throws naming `what` if the
/// index lists none, or none for an `arch` asked for.
Descriptor pick_manifest(const nlohmann::json& index, const std::optional<std::string>& arch, const std::string& what);

/// Compact JSON with sorted keys: the exact bytes that get hashed.
std::string canonical_json(const nlohmann::json& j);

struct BuiltLayer {
  Descriptor blob;
  Digest diff_id;
  std::string created_by;
  bool reused = false;  // came from the layer cache
};

struct BuiltImage {
  Platform platform;
  Descriptor manifest;
  Descriptor config;
  std::vector<BuiltLayer> layers;
};

/// What a build produced: one image per platform and, with several
/// platforms, an index blob over them. top() is what a tag points to.
struct BuiltArtifact {
  std::vector<BuiltImage> images;
  std::optional<Descriptor> index;
  Descriptor top() const;
};

/// "1970-01-01T00:00:00Z" for a Unix time.
std::string rfc3339(int64_t seconds);

}  // namespace distill
