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
  Algorithm algorithm = Algorithm::gzip;
  int level = 6;

  /// Parses the flag's value; throws UsageError naming the mistake.
  static Compression parse(std::string_view text);
  /// "gzip:6", stable; part of layer cache keys.
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

}  // namespace distill
