#pragma once
// Registry credentials where docker, podman and skopeo keep them:
// --creds, --authfile, $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/
// auth.json, ~/.docker/config.json ("auths", "credHelpers", "credsStore"
// through docker-credential-NAME helpers). Secrets never go to messages.
#include <string>

namespace distill::registry {

struct Credentials {
  std::string username, password;
  bool empty() const { return username.empty() && password.empty(); }
};

struct AuthOptions {
  std::string creds;     // --creds USER:PASS
  std::string authfile;  // --authfile FILE
  std::string repository;  // for namespaced auth.json keys ("host/team/app")
};

/// The credentials for `host` ("127.0.0.1:5000", "docker.io"), or empty.
Credentials find_credentials(const std::string& host, const AuthOptions& options);

/// Where `distill login` writes: --authfile, $REGISTRY_AUTH_FILE,
/// $XDG_RUNTIME_DIR/containers/auth.json, else ~/.docker/config.json.
std::string login_file(const AuthOptions& options);

/// Stores or removes `host` in the auth file (mode 0600).
void save_login(const std::string& host, const Credentials& creds, const AuthOptions& options);
bool remove_login(const std::string& host, const AuthOptions& options);

std::string base64_encode(const std::string& in);
std::string base64_decode(const std::string& in);

}  // namespace distill::registry
