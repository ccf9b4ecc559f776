#include "registry/client.h"

#include <algorithm>
#include <mutex>
#include <regex>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "oci/image.h"
#include "oci/reference.h"

namespace distill::registry {

Reference Reference::parse(const std::string& text) {
  std::string rest = text;
  while (rest.starts_with("/")) rest.erase(0, 1);
  Reference r;
  if (auto at = rest.find('@'); at != std::string::npos) {
    r.digest = Digest::parse(rest.substr(at + 1), "docker://" + text);
    rest.erase(at);
  }
  auto slash = rest.find('/');
  std::string first = rest.substr(0, slash);
  if (slash != std::string::npos && (first.find_first_of(".:") != std::string::npos || first == "localhost")) {
    r.host = first;
    rest.erase(0, slash + 1);
  } else {
    r.host = "docker.io";
  }
  auto colon = rest.rfind(':');
  if (colon != std::string::npos && rest.find('/', colon) == std::string::npos) {
    r.tag = rest.substr(colon + 1);
    rest.erase(colon);
  }
  if (r.host == "docker.io" && rest.find('/') == std::string::npos) rest = "library/" + rest;
  static const std::regex repo_grammar("[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*(/[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*)*");
  static const std::regex tag_grammar("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
  if (rest.empty() || !std::regex_match(rest, repo_grammar))
    throw UsageError("docker://" + text + ": \"" + rest + "\" is not a repository name (lower-case, e.g. team/app)");
  if (!r.tag.empty() && !std::regex_match(r.tag, tag_grammar))
    throw UsageError("docker://" + text + ": \"" + r.tag + "\" is not a valid tag");
  if (r.tag.empty() && !r.digest) r.tag = "latest";
  r.repository = rest;
  return r;
}

std::string Reference::str() const {
  std::string s = "docker://" + host + "/" + repository;
  if (!tag.empty()) s += ":" + tag;
  if (digest) s += "@" + digest->str();
  return s;
}

struct Client::State {
  std::string host;       // as written
  std::string endpoint;   // host to contact
  std::string scheme = "https";
  Options options;
  Credentials creds;
  bool creds_loaded = false;
  std::unique_ptr<http::Client> http;
  std::string ca_bundle;  // temp file with the cert dir's CAs
  std::mutex mutex;
  std::map<std::string, std::string> authorization;  // scope -> header
  std::string challenge;  // last WWW-Authenticate
  Stats stats;
  bool pinged = false;
};

namespace {

const char* kAcceptManifests =
    "Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v2+json";

/// WWW-Authenticate: Bearer realm="...",service="...",scope="..."
std::map<std::string, std::string> parse_challenge(const std::string& header, std::string& scheme) {
  std::map<std::string, std::string> out;
  auto space = header.find(' ');
  scheme = header.substr(0, space);
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
  static const std::regex param("([A-Za-z_]+)=\"([^\"]*)\"");
  std::string rest = space == std::string::npos ? "" : header.substr(space + 1);
  for (std::sregex_iterator it(rest.begin(), rest.end(), param), end; it != end; ++it) out[(*it)[1]] = (*it)[2];
  return out;
}

std::string url_escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
    else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

/// The registry's error message from a JSON error body, for messages.
std::string registry_error(const http::Response& r) {
  nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
  std::string out = "HTTP " + std::to_string(r.status);
  if (!j.is_discarded() && j.contains("errors") && j["errors"].is_array())
    for (const auto& e : j["errors"]) out += ": " + e.value("code", "") + " " + e.value("message", "");
  return out;
}

}  // namespace

Client::Client(const std::string& host, const Options& options) : m(std::make_unique<State>()) {
  m->host = host;
  m->endpoint = host == "docker.io" ? "registry-1.docker.io" : host;
  m->options = options;
  http::Options ho;
  ho.tls_verify = options.tls_verify;
  if (!options.cert_dir.empty()) {
    // Like podman's certs.d: *.crt are CAs, NAME.cert + NAME.key a client cert.
    std::string bundle;
    std::error_code ec;
    if (fs::exists("/etc/ssl/certs/ca-certificates.crt", ec)) bundle = read_file("/etc/ssl/certs/ca-certificates.crt");
    std::vector<fs::path> files;
    for (fs::directory_iterator it(options.cert_dir, ec), end; !ec && it != end; it.increment(ec)) files.push_back(it->path());
    if (ec) throw Error("--cert-dir " + options.cert_dir + ": " + ec.message());
    std::sort(files.begin(), files.end());
    for (const fs::path& f : files) {
      if (f.extension() == ".crt") bundle += read_file(f) + "\n";
      if (f.extension() == ".cert") {
        ho.client_cert = f.string();
        ho.client_key = (f.parent_path() / (f.stem().string() + ".key")).string();
      }
    }
    char name[] = "/tmp/distill-ca-XXXXXX";
    int fd = ::mkstemp(name);
    if (fd < 0) throw_errno("cannot create a CA bundle file");
    write_all(fd, bundle, name);
    ::close(fd);
    m->ca_bundle = name;
    ho.ca_file = name;
  }
  m->http = std::make_unique<http::Client>(ho);
}

Client::~Client() {
  if (!m->ca_bundle.empty()) ::unlink(m->ca_bundle.c_str());
}

std::string Client::url(const std::string& path) const { return m->scheme + "://" + m->endpoint + path; }

Client::Stats Client::stats() const {
  std::lock_guard lock(m->mutex);
  return m->stats;
}

http::Response Client::send(http::Request request, const std::string& scope) {
  {
    std::lock_guard lock(m->mutex);
    if (!m->pinged) {
      // Find the scheme: HTTPS, or plain HTTP when TLS checks are off and
      // the registry does not speak TLS (as skopeo does).
      m->pinged = true;
      try {
        // One try over TLS when checks are off: a plain-HTTP registry fails at once.
        m->http->fetch({.url = url("/v2/"), .attempts = m->options.tls_verify ? 0 : 1}, 1 << 20);
      } catch (const Error& e) {
        if (m->options.tls_verify) throw Error(m->host + ": " + e.what() + " (for a registry without valid TLS: --tls-verify=false or --cert-dir)");
        m->scheme = "http";
        m->http->fetch({.url = url("/v2/")}, 1 << 20);
      }
    }
  }
  if (!request.url.starts_with("http")) request.url = url(request.url);
  for (int attempt = 0; attempt < 2; ++attempt) {
    http::Request r = request;
    {
      std::lock_guard lock(m->mutex);
      ++m->stats.requests;
      if (auto it = m->authorization.find(scope); it != m->authorization.end()) r.headers.push_back(it->second);
    }
    http::Response resp = m->http->fetch(r, 64 << 20);
    if (resp.status != 401 || attempt == 1) {
      if (resp.status == 401 || resp.status == 403)
        throw Error(m->host + ": access denied" + (scope.empty() ? std::string() : " for " + scope) + " (" + registry_error(resp) +
                    (m->creds.empty() ? "; no credentials found: distill login " + m->host + " or --creds"
                                      : "; check the user's permissions and password") + ")");
      return resp;
    }
    // Answer the challenge, then try once more.
    std::string scheme;
    auto params = parse_challenge(resp.headers["www-authenticate"], scheme);
    std::lock_guard lock(m->mutex);
    if (!m->creds_loaded) {
      m->creds = find_credentials(m->host, m->options.auth);
      m->creds_loaded = true;
    }
    if (scheme == "basic") {
      if (m->creds.empty())
        throw Error(m->host + ": the registry needs a login; run distill login " + m->host + " or pass --creds");
      m->authorization[scope] = "Authorization: Basic " + base64_encode(m->creds.username + ":" + m->creds.password);
    } else if (scheme == "bearer") {
      std::string token_url = params["realm"] + (params["realm"].find('?') == std::string::npos ? "?" : "&") +
                              "service=" + url_escape(params["service"]);
      for (size_t start = 0; start < scope.size();) {
        size_t end = scope.find(' ', start);
        if (end == std::string::npos) end = scope.size();
        token_url += "&scope=" + url_escape(scope.substr(start, end - start));
        start = end + 1;
      }
      http::Request t{.url = token_url};
      if (!m->creds.empty())
        t.headers.push_back("Authorization: Basic " + base64_encode(m->creds.username + ":" + m->creds.password));
      http::Response tr = m->http->fetch(t, 1 << 20);
      if (tr.status == 401 || tr.status == 403)
        throw Error(m->host + ": the token server refused " + (m->creds.empty() ? "anonymous access" : "the credentials for " + m->creds.username) +
                    " (HTTP " + std::to_string(tr.status) + ")");
      if (tr.status != 200) throw Error(m->host + ": the token server answered HTTP " + std::to_string(tr.status));
      nlohmann::json j = nlohmann::json::parse(tr.body, nullptr, false);
      std::string token = j.is_object() ? j.value("token", j.value("access_token", "")) : "";
      if (token.empty()) throw Error(m->host + ": the token server's answer holds no token");
      m->authorization[scope] = "Authorization: Bearer " + token;
    } else {
      throw Error(m->host + ": unsupported authentication scheme \"" + scheme + "\"");
    }
  }
  throw Error("unreachable");
}

void Client::check_login() {
  {
    std::lock_guard lock(m->mutex);
    m->creds = find_credentials(m->host, m->options.auth);
    m->creds_loaded = true;
  }
  http::Response r = send({.url = "/v2/"}, "");
  if (r.status != 200) throw Error(m->host + ": login failed (" + registry_error(r) + ")");
}

Manifest Client::get_manifest(const std::string& repo, const std::string& reference) {
  http::Response r = send({.url = "/v2/" + repo + "/manifests/" + reference, .headers = {kAcceptManifests}},
                          "repository:" + repo + ":pull");
  if (r.status == 404) throw Error(m->host + "/" + repo + ":" + reference + " does not exist (manifest unknown)");
  if (r.status != 200) throw Error(m->host + "/" + repo + ": cannot read manifest " + reference + ": " + registry_error(r));
  Manifest man;
  man.bytes = r.body;
  man.digest = sha256_of(r.body);
  man.media_type = r.headers["content-type"];
  if (auto semi = man.media_type.find(';'); semi != std::string::npos) man.media_type.erase(semi);
  if (reference.starts_with("sha256:") && man.digest.str() != reference)
    throw Error(m->host + "/" + repo + "@" + reference + ": the registry sent a manifest with digest " + man.digest.str() +
                " (corrupt or tampered); nothing was written");
  nlohmann::json j = nlohmann::json::parse(man.bytes, nullptr, false);
  if (j.is_discarded()) throw Error(m->host + "/" + repo + ":" + reference + ": the manifest is not JSON");
  if (j.contains("mediaType") && j["mediaType"].is_string()) man.media_type = j["mediaType"].get<std::string>();
  return man;
}

void Client::put_manifest(const std::string& repo, const std::string& reference, const Manifest& manifest) {
  http::Response r = send({.method = "PUT",
                           .url = "/v2/" + repo + "/manifests/" + reference,
                           .headers = {"Content-Type: " + manifest.media_type},
                           .body = manifest.bytes},
                          "repository:" + repo + ":pull,push");
  if (r.status != 201 && r.status != 200)
    throw Error(m->host + "/" + repo + ": cannot store manifest " + reference + ": " + registry_error(r));
}

std::optional<uint64_t> Client::blob_size(const std::string& repo, const Digest& digest) {
  http::Response r = send({.method = "HEAD", .url = "/v2/" + repo + "/blobs/" + digest.str()}, "repository:" + repo + ":pull");
  if (r.status == 404) return std::nullopt;
  if (r.status != 200) throw Error(m->host + "/" + repo + ": HEAD blob " + digest.str() + ": HTTP " + std::to_string(r.status));
  auto it = r.headers.find("content-length");
  return it == r.headers.end() ? 0 : std::stoull(it->second);
}

void Client::pull_blob(const std::string& repo, const Digest& digest, uint64_t size, Store& store,
                       const std::function<void(uint64_t)>& on_bytes) {
  if (store.has_blob(digest)) return;
  std::string scope = "repository:" + repo + ":pull";
  // A HEAD through send() answers the auth challenge and leaves the header.
  send({.method = "HEAD", .url = "/v2/" + repo + "/blobs/" + digest.str()}, scope);
  std::vector<std::string> headers;
  {
    std::lock_guard lock(m->mutex);
    if (auto it = m->authorization.find(scope); it != m->authorization.end()) headers.push_back(it->second);
  }
  http::download_blob(*m->http, url("/v2/" + repo + "/blobs/" + digest.str()), digest, size, store,
                      m->host + "/" + repo + " blob " + digest.str(), on_bytes, headers);
}

namespace {

/// Resolves a Location header against the registry URL, keeping its query.
std::string absolute(const std::string& base, const std::string& location) {
  if (location.starts_with("http://") || location.starts_with("https://")) return location;
  auto scheme_end = base.find("://");
  auto host_end = base.find('/', scheme_end + 3);
  return base.substr(0, host_end) + (location.starts_with("/") ? "" : "/") + location;
}

}  // namespace

Client::Upload Client::push_blob(const std::string& repo, const Digest& digest, uint64_t size, const std::string& file,
                                 const std::string& mount_from) {
  std::string scope = "repository:" + repo + ":pull,push";
  if (!mount_from.empty() && mount_from != repo) scope += " repository:" + mount_from + ":pull";
  http::Response head = send({.method = "HEAD", .url = "/v2/" + repo + "/blobs/" + digest.str()}, scope);
  if (head.status == 200) {
    std::lock_guard lock(m->mutex);
    ++m->stats.blobs_skipped;
    return Upload::skipped;
  }
  std::string last_error;
  for (int attempt = 0; attempt < 4; ++attempt) {
    std::string start = "/v2/" + repo + "/blobs/uploads/";
    if (!mount_from.empty() && mount_from != repo && attempt == 0)
      start += "?mount=" + digest.str() + "&from=" + url_escape(mount_from);
    http::Response r = send({.method = "POST", .url = start, .headers = {"Content-Length: 0"}}, scope);
    if (r.status == 201) {
      std::lock_guard lock(m->mutex);
      ++m->stats.blobs_mounted;
      return Upload::mounted;
    }
    if (r.status != 202) {
      last_error = registry_error(r);
      if (!http::transient_status(r.status)) break;
      continue;
    }
    std::string location = absolute(url("/"), r.headers["location"]);
    uint64_t chunk = 32ull << 20;
    if (auto it = r.headers.find("oci-chunk-min-length"); it != r.headers.end()) chunk = std::max<uint64_t>(chunk, std::stoull(it->second));
    try {
      uint64_t offset = 0;
      if (size > chunk) {
        // Chunked: PATCH each piece, always continuing at the newest Location.
        while (offset < size) {
          uint64_t len = std::min(chunk, size - offset);
          http::Response p = send({.method = "PATCH",
                                   .url = location,
                                   .headers = {"Content-Type: application/octet-stream",
                                               "Content-Range: " + std::to_string(offset) + "-" + std::to_string(offset + len - 1)},
                                   .body_file = file,
                                   .body_offset = offset,
                                   .body_length = len},
                                  scope);
          if (p.status != 202) throw Error("PATCH: " + registry_error(p));
          location = absolute(url("/"), p.headers["location"]);
          offset += len;
        }
      }
      std::string put_url = location + (location.find('?') == std::string::npos ? "?" : "&") + "digest=" + digest.str();
      http::Request put{.method = "PUT", .url = put_url, .headers = {"Content-Type: application/octet-stream"}};
      if (offset < size) {
        put.body_file = file;
        put.body_offset = offset;
        put.body_length = size - offset;
      } else {
        put.headers.push_back("Content-Length: 0");
      }
      http::Response done = send(put, scope);
      if (done.status != 201) throw Error("PUT: " + registry_error(done));
      std::lock_guard lock(m->mutex);
      ++m->stats.blobs_uploaded;
      return Upload::uploaded;
    } catch (const Error& e) {
      last_error = e.what();
    }
  }
  throw Error(m->host + "/" + repo + ": cannot upload blob " + digest.str() + ": " + last_error);
}

}  // namespace distill::registry
