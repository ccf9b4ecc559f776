#pragma once
// Byte sinks compose like go-containerregistry's writers: the tar writer
// feeds a hashing sink (diff_id), which feeds a compressor, which feeds a
// hashing sink (digest), which feeds the blob file. Nothing holds a layer.
#include <cstdint>
#include <string_view>

#include "base/fs.h"
#include "digest/digest.h"

namespace distill {

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual void write(std::string_view data) = 0;
  /// Flushes everything buffered; no write may follow.
  virtual void finish() {}
};

/// Passes bytes on while computing their SHA-256 and count.
class HashingSink : public ByteSink {
 public:
  explicit HashingSink(ByteSink& next) : m_next(next) {}
  void write(std::string_view data) override {
    m_hash.update(data);
    m_size += data.size();
    m_next.write(data);
  }
  void finish() override {
    m_digest = m_hash.finish();
    m_next.finish();
  }
  const Digest& digest() const { return m_digest; }
  uint64_t size() const { return m_size; }

 private:
  ByteSink& m_next;
  Sha256 m_hash;
  Digest m_digest;
  uint64_t m_size = 0;
};

class FdSink : public ByteSink {
 public:
  FdSink(int fd, fs::path what) : m_fd(fd), m_what(std::move(what)) {}
  void write(std::string_view data) override { write_all(m_fd, data, m_what); }

 private:
  int m_fd;
  fs::path m_what;
};

class NullSink : public ByteSink {
 public:
  void write(std::string_view) override {}
};

}  // namespace distill
