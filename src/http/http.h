#pragma once
// An HTTP client over libcurl: retries with backoff on dropped connections,
// 429 and 5xx; bodies into memory (bounded) or streamed into a sink;
// resumable downloads verified against a digest into the store.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compress/sink.h"
#include "digest/digest.h"

namespace distill {

class Store;

namespace http {

struct Request {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  uint64_t resume_from = 0;  // sends Range: bytes=N-
  /// A body streamed from a file slice instead of `body` (blob uploads).
  std::string body_file;
  uint64_t body_offset = 0, body_length = 0;
  int attempts = 0;  // 0: the client's default
};

struct Response {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string url;  // after redirects
};

struct Options {
  bool tls_verify = true;
  std::string ca_file;
  std::string ca_path;         // a directory of CA certificates (--cert-dir)
  std::string client_cert, client_key;
  int attempts = 5;            // tries for transient failures
  long connect_timeout = 30;   // seconds
  long stall_timeout = 60;     // abort if under 1 kB/s for this long
  int backoff_ms = 250;        // first retry delay; doubles
};

class Client {
 public:
  explicit Client(Options options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Sends the request and returns the response with its body (at most
  /// `max_body` bytes). Transient failures are retried; HTTP errors are
  /// returned, not thrown. Throws Error when the server cannot be reached.
  Response fetch(const Request& request, size_t max_body = 256 << 20);

  /// Streams a successful (2xx) body into `sink`; `on_bytes` sees progress.
  /// Throws Error naming the URL on failure. No retries: callers resume.
  Response fetch_to(const Request& request, ByteSink& sink, const std::function<void(uint64_t)>& on_bytes = {});

  const Options& options() const { return m_options; }

 private:
  Options m_options;
};

/// Downloads `url` into the store as the blob `expected` (of `size` bytes,
/// if known), resuming a partial download, retrying transient failures and
/// checking the digest before the blob is kept. Does nothing if the store
/// already has it. Errors name `what`.
void download_blob(Client& client, const std::string& url, const Digest& expected, std::optional<uint64_t> size,
                   Store& store, const std::string& what, const std::function<void(uint64_t)>& on_bytes = {},
                   const std::vector<std::string>& headers = {});

/// True for statuses worth retrying: 408, 429, 5xx.
bool transient_status(long status);

}  // namespace http
}  // namespace distill
