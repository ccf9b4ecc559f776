#include "http/http.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>

#include "base/error.h"
#include "store/store.h"

namespace distill::http {

namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
  Response* response;
  ByteSink* sink = nullptr;
  size_t max_body = 0;
  uint64_t received = 0;
  bool too_big = false;
  bool sink_failed = false;
  std::string sink_error;
  const std::function<void(uint64_t)>* on_bytes = nullptr;
  int body_fd = -1;
  uint64_t body_left = 0;
};

size_t on_read(char* buffer, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t want = static_cast<size_t>(std::min<uint64_t>(size * n, t->body_left));
  if (want == 0) return 0;
  ssize_t got = ::read(t->body_fd, buffer, want);
  if (got <= 0) return CURL_READFUNC_ABORT;
  t->body_left -= static_cast<uint64_t>(got);
  return static_cast<size_t>(got);
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) t->response->headers.clear();  // a new response (redirect, 100)
  auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.remove_suffix(1);
    t->response->headers[name] = std::string(value);
  }
  return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t bytes = size * n;
  if (t->sink) {
    long status = 0;
    (void)status;
    try {
      t->sink->write(std::string_view(data, bytes));
    } catch (const std::exception& e) {
      t->sink_failed = true;
      t->sink_error = e.what();
      return 0;
    }
  } else {
    if (t->response->body.size() + bytes > t->max_body) {
      t->too_big = true;
      return 0;
    }
    t->response->body.append(data, bytes);
  }
  t->received += bytes;
  if (t->on_bytes && *t->on_bytes) (*t->on_bytes)(t->received);
  return bytes;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* s) const { curl_slist_free_all(s); }
};

/// Writes to `sink` only once the status is known to be 2xx.
class StatusGate : public ByteSink {
 public:
  StatusGate(CURL* curl, ByteSink& next, Response& response) : m_curl(curl), m_next(next), m_response(response) {}
  void write(std::string_view data) override {
    long status = 0;
    curl_easy_getinfo(m_curl, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status >= 300) {
      // Keep a little of an error body for the message.
      if (m_response.body.size() < 4096) m_response.body.append(data.substr(0, 4096 - m_response.body.size()));
      return;
    }
    m_next.write(data);
  }

 private:
  CURL* m_curl;
  ByteSink& m_next;
  Response& m_response;
};

/// This thread's easy handle (perform resets it after each request). curl
/// keeps live connections, TLS sessions and DNS answers across a reset, so
/// a thread's requests to one host share a keep-alive connection instead of
/// a TCP (and TLS) handshake each: the .debs of a build, a registry's blobs.
/// Requests on one thread never nest (sinks write files), so one handle
/// suffices.
CURL* thread_handle() {
  thread_local std::unique_ptr<CURL, CurlDeleter> handle(curl_easy_init());
  if (!handle) throw Error("libcurl: cannot create a handle");
  return handle.get();
}

/// One attempt. Returns the curl result; fills `response`.
CURLcode perform(const Options& options, const Request& request, Transfer& transfer, std::string& error) {
  CURL* c = thread_handle();
  // Options point into this frame (error buffer, headers, callbacks' data):
  // cleared on the way out, so the idle handle holds no dangling pointer.
  struct ResetOnExit {
    CURL* c;
    ~ResetOnExit() { curl_easy_reset(c); }
  } reset_on_exit{c};
  char errbuf[CURL_ERROR_SIZE] = {0};
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  for (const std::string& h : request.headers) headers.reset(curl_slist_append(headers.release(), h.c_str()));
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  // Credentials set by distill never follow a redirect to another host.
  curl_easy_setopt(c, CURLOPT_UNRESTRICTED_AUTH, 0L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_USERAGENT, "distill");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, options.connect_timeout);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, options.stall_timeout);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, options.tls_verify ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, options.tls_verify ? 2L : 0L);
  if (!options.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, options.ca_file.c_str());
  if (!options.ca_path.empty()) curl_easy_setopt(c, CURLOPT_CAPATH, options.ca_path.c_str());
  if (!options.client_cert.empty()) curl_easy_setopt(c, CURLOPT_SSLCERT, options.client_cert.c_str());
  if (!options.client_key.empty()) curl_easy_setopt(c, CURLOPT_SSLKEY, options.client_key.c_str());
  if (headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  Fd body_fd;
  if (!request.body_file.empty()) {
    body_fd = Fd(::open(request.body_file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!body_fd) {
      error = "cannot open " + request.body_file;
      return CURLE_READ_ERROR;
    }
    ::lseek(body_fd.get(), static_cast<off_t>(request.body_offset), SEEK_SET);
    transfer.body_fd = body_fd.get();
    transfer.body_left = request.body_length;
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body_length));
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &transfer);
  } else if (request.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (request.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }
  if (request.resume_from) curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, static_cast<curl_off_t>(request.resume_from));
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &transfer);
  std::optional<StatusGate> gate;
  ByteSink* original_sink = transfer.sink;
  if (transfer.sink) {
    gate.emplace(c, *transfer.sink, *transfer.response);
    transfer.sink = &*gate;
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &transfer);
  CURLcode rc = curl_easy_perform(c);
  transfer.sink = original_sink;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &transfer.response->status);
  char* effective = nullptr;
  curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &effective);
  if (effective) transfer.response->url = effective;
  // file:// answers have no status; treat a completed read as 200.
  if (rc == CURLE_OK && transfer.response->status == 0 && request.url.starts_with("file:")) transfer.response->status = 200;
  if (rc == CURLE_FILE_COULDNT_READ_FILE && request.url.starts_with("file:")) {
    transfer.response->status = 404;
    rc = CURLE_OK;
  }
  error = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  return rc;
}

bool transient_curl(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

}  // namespace

bool transient_status(long status) { return status == 408 || status == 429 || (status >= 500 && status <= 599); }

Client::Client(Options options) : m_options(std::move(options)) { global_init(); }
Client::~Client() = default;

Response Client::fetch(const Request& request, size_t max_body) {
  int delay = m_options.backoff_ms;
  for (int attempt = 1;; ++attempt) {
    Response response;
    Transfer t{&response};
    t.max_body = max_body;
    std::string error;
    CURLcode rc = perform(m_options, request, t, error);
    if (t.too_big) throw Error(request.url + ": the answer is larger than " + std::to_string(max_body) + " bytes");
    bool retry = rc != CURLE_OK ? transient_curl(rc) : transient_status(response.status);
    int attempts = request.attempts ? request.attempts : m_options.attempts;
    if (!retry || attempt >= attempts) {
      if (rc != CURLE_OK) throw Error(request.method + " " + request.url + ": " + error);
      return response;
    }
    // Honour a short Retry-After from 429/503, else back off exponentially.
    int wait = delay;
    if (auto it = response.headers.find("retry-after"); it != response.headers.end()) {
      try {
        wait = std::clamp(std::stoi(it->second) * 1000, delay, 10000);
      } catch (...) {
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(wait));
    delay *= 2;
  }
}

Response Client::fetch_to(const Request& request, ByteSink& sink, const std::function<void(uint64_t)>& on_bytes) {
  Response response;
  Transfer t{&response};
  t.sink = &sink;
  t.on_bytes = &on_bytes;
  std::string error;
  CURLcode rc = perform(m_options, request, t, error);
  if (t.sink_failed) throw Error(t.sink_error);
  if (rc != CURLE_OK) throw Error(request.method + " " + request.url + ": " + error);
  return response;
}

namespace {

/// Appends to a partial download file, hashing nothing (verified at the end).
class AppendSink : public ByteSink {
 public:
  AppendSink(int fd, fs::path path) : m_fd(fd), m_path(std::move(path)) {}
  void write(std::string_view data) override {
    write_all(m_fd, data, m_path);
    m_written += data.size();
  }
  uint64_t written() const { return m_written; }

 private:
  int m_fd;
  fs::path m_path;
  uint64_t m_written = 0;
};

}  // namespace

void download_blob(Client& client, const std::string& url, const Digest& expected, std::optional<uint64_t> size,
                   Store& store, const std::string& what, const std::function<void(uint64_t)>& on_bytes,
                   const std::vector<std::string>& headers) {
  if (store.has_blob(expected)) return;
  fs::path partial = store.root() / "tmp" / (expected.hex + ".partial");
  int delay = client.options().backoff_ms;
  std::string last_error;
  for (int attempt = 1; attempt <= client.options().attempts; ++attempt) {
    Fd fd(::open(partial.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!fd) throw_errno("cannot write " + partial.string());
    struct stat st;
    ::fstat(fd.get(), &st);
    uint64_t have = static_cast<uint64_t>(st.st_size);
    if (size && have > *size) {
      ::ftruncate(fd.get(), 0);
      have = 0;
    }
    bool complete = size && have == *size;
    if (!complete) {
      Request request;
      request.url = url;
      request.resume_from = have;
      request.headers = headers;
      AppendSink sink(fd.get(), partial);
      try {
        Response r = client.fetch_to(request, sink, [&](uint64_t n) {
          if (on_bytes) on_bytes(have + n);
        });
        if (r.status == 200 && have > 0) {
          // The server ignored the range and sent everything: start over.
          ::ftruncate(fd.get(), 0);
          last_error = "the server does not resume downloads";
          std::error_code ec;
          fs::remove(partial, ec);
          continue;
        }
        if (r.status == 416 && size && have == *size) {
          complete = true;
        } else if (r.status < 200 || r.status >= 300) {
          last_error = "HTTP " + std::to_string(r.status);
          if (!transient_status(r.status)) {
            std::error_code ec;
            if (r.status == 416) fs::remove(partial, ec);
            throw Error(what + ": " + url + ": HTTP " + std::to_string(r.status));
          }
        } else {
          complete = true;
        }
      } catch (const Error& e) {
        last_error = e.what();
        if (std::string(e.what()).starts_with(what + ": ")) throw;
      }
    }
    if (complete) {
      fd = Fd();
      uint64_t got = 0;
      Digest actual = hash_file(partial, &got);
      if (actual != expected || (size && got != *size)) {
        std::error_code ec;
        fs::remove(partial, ec);
        throw Error(what + ": the bytes from " + url + " (sha256 " + actual.hex + ", " + std::to_string(got) +
                    " bytes) do not match the expected digest " + expected.str() +
                    (size ? " and size " + std::to_string(*size) : "") + " (corrupt or tampered); nothing was kept");
      }
      if (::rename(partial.c_str(), store.blob_path(expected).c_str()) != 0)
        throw_errno("cannot store " + store.blob_path(expected).string());
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    delay *= 2;
  }
  throw Error(what + ": " + url + ": " + last_error + " (after " + std::to_string(client.options().attempts) + " tries)");
}

}  // namespace distill::http
