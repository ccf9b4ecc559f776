#pragma once
// Image references with transports, spelled as skopeo and podman spell them:
//   oci:DIR[:TAG]   oci-archive:FILE[:TAG]   docker-archive:FILE[:REPO[:TAG]]
#include <optional>
#include <string>
#include <string_view>

namespace distill {

struct ImageRef {
  enum class Transport { oci_dir, oci_archive, docker_archive, docker };
  Transport transport;
  std::string path;  // directory or archive file; for docker: HOST/REPO[:TAG][@DIGEST]
  std::string tag;   // oci: the ref.name; docker-archive: the docker reference (may be empty)

  static ImageRef parse(std::string_view text);
  std::string str() const;
};

const char* transport_name(ImageRef::Transport t);

/// A docker reference split into familiar and fully qualified forms:
/// "app:1" -> familiar "app:1", full "docker.io/library/app:1".
struct DockerName {
  std::string familiar;  // as docker prints it, with tag
  std::string full;      // as containerd names it
  std::string repository_familiar;  // without the tag
  std::string tag;
  static DockerName parse(std::string_view text);
};

/// True if `s` matches the OCI ref.name grammar (annotations.md).
bool valid_ref_name(std::string_view s);

}  // namespace distill
