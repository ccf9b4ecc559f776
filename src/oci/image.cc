#include "oci/image.h"

#include <sys/utsname.h>

#include <ctime>

#include "base/error.h"

namespace distill {

Platform Platform::from_arch(std::string_view name) {
  static const std::map<std::string, Platform, std::less<>> table = {
      {"amd64", {"linux", "amd64", ""}},     {"x86_64", {"linux", "amd64", ""}},
      {"arm64", {"linux", "arm64", "v8"}},   {"aarch64", {"linux", "arm64", "v8"}},
      {"armhf", {"linux", "arm", "v7"}},     {"arm", {"linux", "arm", "v7"}},
      {"armel", {"linux", "arm", "v5"}},     {"i386", {"linux", "386", ""}},
      {"386", {"linux", "386", ""}},         {"ppc64el", {"linux", "ppc64le", ""}},
      {"ppc64le", {"linux", "ppc64le", ""}}, {"s390x", {"linux", "s390x", ""}},
      {"riscv64", {"linux", "riscv64", ""}}, {"mips64el", {"linux", "mips64le", ""}},
      {"mips64le", {"linux", "mips64le", ""}},
  };
  auto it = table.find(name);
  if (it == table.end())
    throw Error("unknown architecture \"" + std::string(name) +
                "\" (use amd64, arm64, armhf, armel, i386, ppc64el, s390x, riscv64 or mips64el)");
  return it->second;
}

Platform Platform::host() {
  struct utsname u;
  ::uname(&u);
  return from_arch(u.machine);
}

std::string Platform::str() const {
  return os + "/" + architecture + (variant.empty() ? "" : "/" + variant);
}

nlohmann::json Platform::to_json() const {
  nlohmann::json j = {{"os", os}, {"architecture", architecture}};
  if (!variant.empty()) j["variant"] = variant;
  return j;
}

nlohmann::json Descriptor::to_json() const {
  nlohmann::json j = {{"mediaType", media_type}, {"digest", digest.str()}, {"size", size}};
  if (!annotations.empty()) j["annotations"] = annotations;
  if (platform) j["platform"] = platform->to_json();
  return j;
}

Descriptor Descriptor::from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": a descriptor must be a JSON object");
  Descriptor d;
  if (!j.contains("mediaType") || !j["mediaType"].is_string()) throw Error(where + ": mediaType is missing");
  d.media_type = j["mediaType"].get<std::string>();
  if (!j.contains("digest") || !j["digest"].is_string()) throw Error(where + ": digest is missing");
  d.digest = Digest::parse(j["digest"].get<std::string>(), where + ".digest");
  if (!j.contains("size") || !j["size"].is_number_unsigned()) throw Error(where + ": size is missing or negative");
  d.size = j["size"].get<uint64_t>();
  if (j.contains("annotations") && j["annotations"].is_object())
    for (auto& [k, v] : j["annotations"].items())
      if (v.is_string()) d.annotations[k] = v.get<std::string>();
  if (j.contains("platform") && j["platform"].is_object()) {
    Platform p;
    p.os = j["platform"].value("os", "");
    p.architecture = j["platform"].value("architecture", "");
    p.variant = j["platform"].value("variant", "");
    d.platform = p;
  }
  return d;
}

std::string canonical_json(const nlohmann::json& j) { return j.dump(); }

Descriptor BuiltArtifact::top() const { return index ? *index : images.at(0).manifest; }

std::string rfc3339(int64_t seconds) {
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Descriptor pick_manifest(const nlohmann::json& index, const std::optional<std::string>& arch, const std::string& what) {
  Platform want = arch ? Platform::from_arch(*arch) : Platform::host();
  std::optional<Descriptor> first, match;
  const auto& list = index.value("manifests", nlohmann::json::array());
  for (size_t i = 0; i < list.size(); ++i) {
    Descriptor d = Descriptor::from_json(list[i], what + " manifests[" + std::to_string(i) + "]");
    if (!first) first = d;
    if (!match && d.platform && d.platform->architecture == want.architecture && d.platform->os == want.os) match = d;
  }
  if (!first) throw Error(what + " lists no images");
  if (!match && arch) throw Error(what + " has no image for " + want.str());
  return match ? *match : *first;
}

}  // namespace distill
