#include "oci/reference.h"

#include <regex>

#include "base/error.h"

namespace distill {

const char* transport_name(ImageRef::Transport t) {
  switch (t) {
    case ImageRef::Transport::oci_dir: return "oci";
    case ImageRef::Transport::oci_archive: return "oci-archive";
    case ImageRef::Transport::docker_archive: return "docker-archive";
    case ImageRef::Transport::docker: return "docker";
  }
  return "?";
}

ImageRef ImageRef::parse(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos)
    throw UsageError("\"" + std::string(text) +
                     "\" has no transport; write oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE[:REPO:TAG]");
  std::string_view transport = text.substr(0, colon), rest = text.substr(colon + 1);
  ImageRef ref;
  if (transport == "oci") ref.transport = Transport::oci_dir;
  else if (transport == "oci-archive") ref.transport = Transport::oci_archive;
  else if (transport == "docker-archive") ref.transport = Transport::docker_archive;
  else if (transport == "docker") {
    if (!rest.starts_with("//")) throw UsageError("\"" + std::string(text) + "\": write registries as docker://HOST/REPO[:TAG]");
    ref.transport = Transport::docker;
    ref.path = std::string(rest.substr(2));
    if (ref.path.empty()) throw UsageError("\"" + std::string(text) + "\" names no repository");
    return ref;
  }
  else
    throw UsageError("unknown transport \"" + std::string(transport) + "\" in \"" + std::string(text) +
                     "\" (use oci:, oci-archive:, docker-archive: or docker://)");
  // As in skopeo: the path ends at the first ':'; the rest names the image.
  auto sep = rest.find(':');
  ref.path = std::string(rest.substr(0, sep));
  if (sep != std::string_view::npos) ref.tag = std::string(rest.substr(sep + 1));
  if (ref.path.empty()) throw UsageError("\"" + std::string(text) + "\" names no path");
  if (sep != std::string_view::npos && ref.tag.empty()) throw UsageError("\"" + std::string(text) + "\" ends with an empty tag");
  if (ref.transport == Transport::docker_archive) {
    if (!ref.tag.empty()) DockerName::parse(ref.tag);  // validates
  } else if (!ref.tag.empty() && !valid_ref_name(ref.tag)) {
    throw UsageError("\"" + ref.tag + "\" is not a valid image tag (letters, digits and . _ - : @ + /)");
  }
  return ref;
}

std::string ImageRef::str() const {
  if (transport == Transport::docker) return "docker://" + path;
  std::string s = std::string(transport_name(transport)) + ":" + path;
  if (!tag.empty()) s += ":" + tag;
  return s;
}

bool valid_ref_name(std::string_view s) {
  static const std::regex grammar(
      "[A-Za-z0-9]+(([-._:@+]|--)[A-Za-z0-9]+)*(/[A-Za-z0-9]+(([-._:@+]|--)[A-Za-z0-9]+)*)*");
  return std::regex_match(s.begin(), s.end(), grammar);
}

DockerName DockerName::parse(std::string_view text) {
  // distribution/reference: [domain/]path[:tag]; path components lower-case.
  static const std::regex grammar(
      "(([a-zA-Z0-9-]+(\\.[a-zA-Z0-9-]+)*(:[0-9]+)?)/)?"
      "([a-z0-9]+(([._]|__|-+)[a-z0-9]+)*(/[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*)*)"
      "(:([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?");
  std::match_results<std::string_view::const_iterator> m;
  if (!std::regex_match(text.begin(), text.end(), m, grammar))
    throw UsageError("\"" + std::string(text) + "\" is not a valid image name (e.g. example/app:1.0, lower-case)");
  std::string domain = m[2].str(), path = m[5].str();
  // A first component without '.', ':' or "localhost" is part of the path.
  if (!domain.empty() && domain.find_first_of(".:") == std::string::npos && domain != "localhost") {
    path = domain + "/" + path;
    domain.clear();
    static const std::regex lower("[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*(/[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*)*");
    if (!std::regex_match(path, lower))
      throw UsageError("\"" + std::string(text) + "\" is not a valid image name (repository names are lower-case)");
  }
  DockerName n;
  n.tag = m[12].matched ? m[12].str() : "latest";
  if (domain.empty()) {
    n.repository_familiar = path;
    n.full = "docker.io/" + (path.find('/') == std::string::npos ? "library/" + path : path) + ":" + n.tag;
  } else {
    n.repository_familiar = domain + "/" + path;
    n.full = n.repository_familiar + ":" + n.tag;
  }
  n.familiar = n.repository_familiar + ":" + n.tag;
  return n;
}

}  // namespace distill
