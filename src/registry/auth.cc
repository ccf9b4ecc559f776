#include "registry/auth.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/fs.h"
#include "base/subprocess.h"

namespace distill::registry {

std::string base64_encode(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string base64_decode(const std::string& in) {
  std::string clean;
  for (char c : in)
    if (!std::isspace(static_cast<unsigned char>(c))) clean += c;
  if (clean.empty()) return "";
  std::string out(clean.size() * 3 / 4 + 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(clean.data()),
                          static_cast<int>(clean.size()));
  if (n < 0) return "";
  size_t pad = 0;
  for (size_t i = clean.size(); i > 0 && clean[i - 1] == '='; --i) ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::vector<std::string> candidate_files(const AuthOptions& options) {
  if (!options.authfile.empty()) return {options.authfile};
  std::vector<std::string> files;
  if (!env("REGISTRY_AUTH_FILE").empty()) files.push_back(env("REGISTRY_AUTH_FILE"));
  if (!env("XDG_RUNTIME_DIR").empty()) files.push_back(env("XDG_RUNTIME_DIR") + "/containers/auth.json");
  std::string docker = env("DOCKER_CONFIG");
  if (docker.empty() && !env("HOME").empty()) docker = env("HOME") + "/.docker";
  if (!docker.empty()) files.push_back(docker + "/config.json");
  return files;
}

/// Keys an auth file may use for a host.
std::vector<std::string> host_keys(const std::string& host) {
  std::vector<std::string> keys = {host, "https://" + host, "http://" + host, "https://" + host + "/v1/",
                                   "https://" + host + "/v2/"};
  if (host == "docker.io" || host == "registry-1.docker.io" || host == "index.docker.io")
    keys.insert(keys.end(), {"https://index.docker.io/v1/", "index.docker.io", "docker.io"});
  return keys;
}

Credentials from_helper(const std::string& helper, const std::string& host) {
  ProcessResult r;
  std::string program = "docker-credential-" + helper;
  try {
    r = run_process({program, "get"}, host);
  } catch (const Error&) {
    throw Error("the credential helper " + program + " (configured for " + host + ") is not on PATH");
  }
  if (r.exit_code != 0) return {};  // "credentials not found" is not an error
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error(program + " answered something that is not JSON");
  return {j.value("Username", ""), j.value("Secret", "")};
}

}  // namespace

Credentials find_credentials(const std::string& host, const AuthOptions& options) {
  if (!options.creds.empty()) {
    auto colon = options.creds.find(':');
    if (colon == std::string::npos) throw UsageError("--creds must be USER:PASSWORD");
    return {options.creds.substr(0, colon), options.creds.substr(colon + 1)};
  }
  for (const std::string& file : candidate_files(options)) {
    std::error_code ec;
    if (!fs::exists(file, ec)) {
      if (!options.authfile.empty()) throw Error("the auth file " + file + " does not exist");
      continue;
    }
    nlohmann::json j = nlohmann::json::parse(read_file(file), nullptr, false);
    if (j.is_discarded() || !j.is_object()) throw Error(file + " is not valid JSON");
    // containers-auth.json: "host/ns/repo" keys, the most specific first.
    std::vector<std::string> keys;
    for (std::string repo = options.repository; !repo.empty();) {
      keys.push_back(host + "/" + repo);
      auto slash = repo.rfind('/');
      repo = slash == std::string::npos ? "" : repo.substr(0, slash);
    }
    for (const std::string& k : host_keys(host)) keys.push_back(k);
    for (const std::string& key : keys) {
      if (j.contains("credHelpers") && j["credHelpers"].contains(key))
        return from_helper(j["credHelpers"][key].get<std::string>(), host);
      if (j.contains("auths") && j["auths"].contains(key)) {
        const auto& entry = j["auths"][key];
        std::string auth = base64_decode(entry.value("auth", ""));
        auto colon = auth.find(':');
        if (colon != std::string::npos) return {auth.substr(0, colon), auth.substr(colon + 1)};
        if (entry.contains("username")) return {entry.value("username", ""), entry.value("password", "")};
      }
    }
    if (j.contains("credsStore") && j["credsStore"].is_string()) {
      Credentials c = from_helper(j["credsStore"].get<std::string>(), host);
      if (!c.empty()) return c;
    }
  }
  return {};
}

std::string login_file(const AuthOptions& options) {
  if (!options.authfile.empty()) return options.authfile;
  if (!env("REGISTRY_AUTH_FILE").empty()) return env("REGISTRY_AUTH_FILE");
  if (!env("XDG_RUNTIME_DIR").empty()) return env("XDG_RUNTIME_DIR") + "/containers/auth.json";
  if (env("HOME").empty()) throw UsageError("no place for credentials: set HOME, REGISTRY_AUTH_FILE or --authfile");
  return env("HOME") + "/.docker/config.json";
}

void save_login(const std::string& host, const Credentials& creds, const AuthOptions& options) {
  std::string file = login_file(options);
  nlohmann::json j = nlohmann::json::object();
  std::error_code ec;
  if (fs::exists(file, ec)) {
    j = nlohmann::json::parse(read_file(file), nullptr, false);
    if (j.is_discarded() || !j.is_object()) throw Error(file + " is not valid JSON; fix or remove it");
  }
  j["auths"][host] = {{"auth", base64_encode(creds.username + ":" + creds.password)}};
  fs::create_directories(fs::path(file).parent_path(), ec);
  write_file_atomic(file, j.dump(1, '\t') + "\n", 0600);
}

bool remove_login(const std::string& host, const AuthOptions& options) {
  std::string file = login_file(options);
  std::error_code ec;
  if (!fs::exists(file, ec)) return false;
  nlohmann::json j = nlohmann::json::parse(read_file(file), nullptr, false);
  if (j.is_discarded() || !j.contains("auths")) return false;
  bool removed = false;
  for (const std::string& key : host_keys(host)) removed = j["auths"].erase(key) > 0 || removed;
  if (removed) write_file_atomic(file, j.dump(1, '\t') + "\n", 0600);
  return removed;
}

}  // namespace distill::registry
