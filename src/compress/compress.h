#pragma once
#include <memory>
#include <string>
#include <string_view>

#include "compress/sink.h"

namespace distill {

class ThreadPool;

/// How layers are compressed: `--compression gzip[:LEVEL]|zstd[:LEVEL]|none`.
struct Compression {
  enum class Algorithm { gzip, zstd, none };
  /// libdeflate's level 5 is the default: on real layers (a python3 image's
  /// tar, 60 MB) it is smaller than GNU `gzip -6` and `pigz -6` of the same
  /// bytes (20.58 against 20.77 and 20.70 MB), and needs about a fifth less
  /// CPU than libdeflate's level 6, which is only 0.6% smaller. It is also
  /// the level podman and buildah push with.
  static constexpr int kDefaultGzipLevel = 5;
  static constexpr int kDefaultZstdLevel = 3;
  Algorithm algorithm = Algorithm::gzip;
  int level = kDefaultGzipLevel;

  /// Parses the flag's value; throws UsageError naming the mistake.
  static Compression parse(std::string_view text);
  /// "gzip:5", stable; part of layer cache keys.
  std::string str() const;
  /// The OCI layer media type for this compression.
  std::string layer_media_type() const;
};

/// Bytes written to the returned sink come out compressed into `out`.
/// Parallel on `pool`; the output bytes never depend on the thread count:
/// gzip is cut into fixed 1 MiB shards, each a gzip member (RFC 1952 allows
/// a file of several members), and zstd's multi-threaded mode is
/// deterministic for any number of workers. `threads` (0: the pool's size)
/// is this stream's share when several are compressed at once: it bounds
/// gzip's shards in flight and sets zstd's workers, and so the memory.
std::unique_ptr<ByteSink> make_compressor(const Compression& compression, ByteSink& out, ThreadPool& pool,
                                          unsigned threads = 0);

/// True if `data` starts like a gzip member (RFC 1952 magic).
bool looks_gzipped(std::string_view data);

/// Decompresses a whole gzip file held in memory (every member, CRC and
/// size checked) with libdeflate, which decodes several times faster than
/// zlib's stream: Debian's 56 MB Packages index in 0.07 CPU s against 0.36.
/// Throws, naming `what`, on corrupt data or more than `max_size` bytes.
std::string gunzip(std::string_view data, size_t max_size, const std::string& what);

}  // namespace distill
