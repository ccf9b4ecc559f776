#pragma once
// Deterministic tar layers (written with libarchive, PAX where needed) and a
// reader for tar streams in any compression libarchive knows.
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/fs.h"
#include "compress/sink.h"
#include "digest/digest.h"

namespace distill {

/// One entry of a layer, as it will appear in the image.
struct LayerEntry {
  enum class Type { file, directory, symlink, hardlink };
  std::string path;         // clean relative path ("usr/bin/app"), no trailing '/'
  Type type = Type::file;
  uint32_t mode = 0644;     // permission bits including setuid/setgid/sticky
  uint32_t uid = 0, gid = 0;
  uint64_t size = 0;        // regular files only
  std::string source;       // host file to read, when not inline (a string: fs::path copies are costly)
  /// Identity of a host source when the layer was planned (dev, inode,
  /// size, mtime and ctime in ns): the layer cache keys on it, as git's
  /// index does, instead of reading every file twice.
  std::string stat_key;
  uint64_t source_offset = 0;  // where the content starts in `source`
  bool slice = false;          // `source` holds more than this entry
  std::string content;      // inline content (when source is empty)
  std::string link_target;  // symlink target, or the path a hardlink points to
  std::map<std::string, std::string> xattrs;  // kept: security.capability only
  /// Host files: take security.capability from `source` when the tar is
  /// written, with the file open anyway, rather than by another path lookup
  /// per file while planning. Setting it changes the ctime in `stat_key`.
  bool source_capability = false;
  std::string origin;       // where it was declared, for error messages
  std::optional<Digest> verify;  // when set, the source must hash to this
};

const char* type_name(LayerEntry::Type type);

/// Sorts entries by path bytes, so parents precede children, and makes each
/// hardlink group's first path (in that order) the regular file, since tar
/// readers need a link's target to come before the link.
void order_for_tar(std::vector<LayerEntry>& entries);

/// Writes entries as a tar stream into `out`: numeric owners only, no user or
/// group names, every mtime `mtime`, no atime/ctime, PAX headers only where
/// ustar cannot hold a field. Entries must already be ordered.
void write_tar(const std::vector<LayerEntry>& entries, int64_t mtime, ByteSink& out);

/// The version of write_tar's byte layout, part of every layer cache key:
/// a change to the bytes it writes for the same entries must change it.
/// 2: xattrs as SCHILY.xattr records only (no LIBARCHIVE.xattr twin).
inline constexpr const char* kTarLayoutVersion = "tar-layout-2";

/// An entry read back from a tar stream.
struct TarEntry {
  std::string path;  // as stored, without a leading "./" or trailing '/'
  char type = '0';   // '0' file, '5' dir, '2' symlink, '1' hardlink, '3','4','6' special
  uint32_t mode = 0;
  uint32_t uid = 0, gid = 0;
  uint64_t size = 0;
  std::string link_target;
  std::map<std::string, std::string> xattrs;
};

/// Reads data of the current entry; returns 0 at its end.
using ReadData = std::function<size_t(char* buffer, size_t size)>;

/// Calls `visit` for every entry of the (optionally compressed) tar file.
void read_tar(const fs::path& file, const std::function<void(const TarEntry&, const ReadData&)>& visit);

}  // namespace distill

namespace distill {
/// Reads a file compressed with gzip, xz, zstd or bzip2 (or not at all) into
/// memory, refusing more than `max_size` bytes of output.
std::string read_decompressed(const fs::path& file, size_t max_size);
}  // namespace distill
