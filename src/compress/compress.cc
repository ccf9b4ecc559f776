#include "compress/compress.h"

#include <libdeflate.h>
#include <zstd.h>

#include <charconv>
#include <deque>
#include <memory>
#include <future>
#include <vector>

#include "base/error.h"
#include "base/thread_pool.h"

namespace distill {

Compression Compression::parse(std::string_view text) {
  Compression c;
  std::string_view name = text, level;
  if (auto colon = text.find(':'); colon != std::string_view::npos) {
    name = text.substr(0, colon);
    level = text.substr(colon + 1);
  }
  int max_level = 0;
  if (name == "gzip") {
    c.algorithm = Algorithm::gzip;
    c.level = kDefaultGzipLevel;
    max_level = 12;  // libdeflate's levels go to 12
  } else if (name == "zstd") {
    c.algorithm = Algorithm::zstd;
    c.level = kDefaultZstdLevel;
    max_level = ZSTD_maxCLevel();
  } else if (name == "none") {
    c.algorithm = Algorithm::none;
    c.level = 0;
    if (!level.empty()) throw UsageError("--compression none takes no level");
    return c;
  } else {
    throw UsageError("--compression: unknown algorithm \"" + std::string(name) + "\" (use gzip[:1-12], zstd[:1-" +
                     std::to_string(ZSTD_maxCLevel()) + "] or none)");
  }
  if (!level.empty()) {
    int n = 0;
    auto [p, ec] = std::from_chars(level.data(), level.data() + level.size(), n);
    if (ec != std::errc() || p != level.data() + level.size() || n < 1 || n > max_level)
      throw UsageError("--compression: level \"" + std::string(level) + "\" for " + std::string(name) +
                       " must be a number from 1 to " + std::to_string(max_level));
    c.level = n;
  }
  return c;
}

std::string Compression::str() const {
  switch (algorithm) {
    case Algorithm::gzip: return "gzip:" + std::to_string(level);
    case Algorithm::zstd: return "zstd:" + std::to_string(level);
    case Algorithm::none: return "none";
  }
  return "";
}

std::string Compression::layer_media_type() const {
  switch (algorithm) {
    case Algorithm::gzip: return "application/vnd.oci.image.layer.v1.tar+gzip";
    case Algorithm::zstd: return "application/vnd.oci.image.layer.v1.tar+zstd";
    case Algorithm::none: return "application/vnd.oci.image.layer.v1.tar";
  }
  return "";
}

namespace {

constexpr size_t kGzipShard = 1 << 20;

/// Cuts the stream into fixed shards compressed concurrently as gzip members
/// and written out in order, with at most 2 shards per thread in flight.
class ParallelGzip : public ByteSink {
 public:
  ParallelGzip(int level, ByteSink& out, ThreadPool& pool, unsigned threads)
      : m_level(level), m_out(out), m_pool(pool), m_in_flight(2 * threads) {
    m_buffer.reserve(kGzipShard);
  }

  void write(std::string_view data) override {
    while (!data.empty()) {
      size_t take = std::min(data.size(), kGzipShard - m_buffer.size());
      m_buffer.append(data.substr(0, take));
      data.remove_prefix(take);
      if (m_buffer.size() == kGzipShard) submit();
    }
  }

  void finish() override {
    if (!m_buffer.empty() || !m_wrote_any) submit();
    while (!m_pending.empty()) drain_one();
    m_out.finish();
  }

 private:
  void submit() {
    m_wrote_any = true;
    while (m_pending.size() >= m_in_flight) drain_one();
    auto shard = std::make_shared<std::string>(std::move(m_buffer));
    m_buffer = std::string();
    m_buffer.reserve(kGzipShard);
    int level = m_level;
    m_pending.push_back(m_pool.submit([shard, level] { return compress_shard(*shard, level); }));
  }

  void drain_one() {
    std::string compressed = m_pending.front().get();
    m_pending.pop_front();
    m_out.write(compressed);
  }

  static std::string compress_shard(const std::string& in, int level) {
    // One compressor per worker thread and level; libdeflate compressors
    // are not thread-safe but are reusable.
    thread_local libdeflate_compressor* compressor = nullptr;
    thread_local int compressor_level = -1;
    if (compressor_level != level) {
      if (compressor) libdeflate_free_compressor(compressor);
      compressor = libdeflate_alloc_compressor(level);
      compressor_level = level;
      if (!compressor) throw Error("libdeflate: cannot allocate a compressor");
    }
    std::string out(libdeflate_gzip_compress_bound(compressor, in.size()), '\0');
    size_t n = libdeflate_gzip_compress(compressor, in.data(), in.size(), out.data(), out.size());
    if (n == 0) throw Error("libdeflate: gzip compression failed");
    out.resize(n);
    return out;
  }

  int m_level;
  ByteSink& m_out;
  ThreadPool& m_pool;
  size_t m_in_flight;
  std::string m_buffer;
  std::deque<std::future<std::string>> m_pending;
  bool m_wrote_any = false;
};

class ZstdSink : public ByteSink {
 public:
  ZstdSink(int level, ByteSink& out, unsigned threads) : m_out(out), m_ctx(ZSTD_createCCtx()) {
    if (!m_ctx) throw Error("zstd: cannot create a compression context");
    check(ZSTD_CCtx_setParameter(m_ctx, ZSTD_c_compressionLevel, level));
    check(ZSTD_CCtx_setParameter(m_ctx, ZSTD_c_checksumFlag, 1));
    // nbWorkers >= 1 always: zstd's output is then the same for any count,
    // whereas 0 (single-threaded mode) frames differently.
    check(ZSTD_CCtx_setParameter(m_ctx, ZSTD_c_nbWorkers, static_cast<int>(std::max(1u, threads))));
    // A fixed 4 MiB job: about half the memory of zstd's default for level
    // 3 at 0.2% larger output, and bytes that do not move with the library's
    // defaults.
    check(ZSTD_CCtx_setParameter(m_ctx, ZSTD_c_jobSize, 4 << 20));
    m_outbuf.resize(ZSTD_CStreamOutSize());
  }
  ~ZstdSink() override { ZSTD_freeCCtx(m_ctx); }

  void write(std::string_view data) override { run(data, ZSTD_e_continue); }
  void finish() override {
    run({}, ZSTD_e_end);
    m_out.finish();
  }

 private:
  static size_t check(size_t rc) {
    if (ZSTD_isError(rc)) throw Error(std::string("zstd: ") + ZSTD_getErrorName(rc));
    return rc;
  }
  void run(std::string_view data, ZSTD_EndDirective mode) {
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    for (;;) {
      ZSTD_outBuffer out{m_outbuf.data(), m_outbuf.size(), 0};
      size_t remaining = check(ZSTD_compressStream2(m_ctx, &out, &in, mode));
      if (out.pos) m_out.write(std::string_view(m_outbuf.data(), out.pos));
      bool done = mode == ZSTD_e_end ? remaining == 0 : in.pos == in.size;
      if (done) break;
    }
  }
  ByteSink& m_out;
  ZSTD_CCtx* m_ctx;
  std::vector<char> m_outbuf;
};

class Passthrough : public ByteSink {
 public:
  explicit Passthrough(ByteSink& out) : m_out(out) {}
  void write(std::string_view data) override { m_out.write(data); }
  void finish() override { m_out.finish(); }

 private:
  ByteSink& m_out;
};

}  // namespace

bool looks_gzipped(std::string_view data) {
  return data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1f && static_cast<unsigned char>(data[1]) == 0x8b;
}

std::string gunzip(std::string_view data, size_t max_size, const std::string& what) {
  std::unique_ptr<libdeflate_decompressor, void (*)(libdeflate_decompressor*)> d(libdeflate_alloc_decompressor(),
                                                                               libdeflate_free_decompressor);
  if (!d) throw Error("libdeflate: cannot allocate a decompressor");
  std::string out;
  size_t pos = 0;
  while (pos < data.size()) {
    std::string_view member = data.substr(pos);
    if (!looks_gzipped(member)) throw Error(what + ": corrupt gzip data (no gzip member at byte " + std::to_string(pos) + ")");
    // Only the last member's size is known (the file's last 4 bytes, its
    // size mod 2^32): a first guess, doubled until the member fits.
    const auto* tail = reinterpret_cast<const unsigned char*>(data.data() + data.size() - 4);
    size_t guess = data.size() >= 4 ? (size_t(tail[0]) | size_t(tail[1]) << 8 | size_t(tail[2]) << 16 | size_t(tail[3]) << 24) : 0;
    size_t room = std::min(std::max(guess, member.size() * 4), max_size - out.size());
    for (;;) {
      size_t start = out.size(), used = 0, got = 0;
      out.resize(start + room);
      libdeflate_result r =
          libdeflate_gzip_decompress_ex(d.get(), member.data(), member.size(), out.data() + start, room, &used, &got);
      if (r == LIBDEFLATE_SUCCESS) {
        out.resize(start + got);
        pos += used;
        break;
      }
      out.resize(start);
      if (r != LIBDEFLATE_INSUFFICIENT_SPACE) throw Error(what + ": corrupt gzip data");
      if (start + room >= max_size) throw Error(what + ": decompresses to more than " + std::to_string(max_size) + " bytes");
      room = std::min(room * 2, max_size - start);
    }
  }
  return out;
}

std::unique_ptr<ByteSink> make_compressor(const Compression& c, ByteSink& out, ThreadPool& pool, unsigned threads) {
  if (threads == 0) threads = pool.size();
  switch (c.algorithm) {
    case Compression::Algorithm::gzip: return std::make_unique<ParallelGzip>(c.level, out, pool, threads);
    case Compression::Algorithm::zstd: return std::make_unique<ZstdSink>(c.level, out, threads);
    case Compression::Algorithm::none: return std::make_unique<Passthrough>(out);
  }
  return nullptr;
}

}  // namespace distill
