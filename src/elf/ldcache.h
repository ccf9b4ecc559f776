#pragma once
// /etc/ld.so.cache in glibc's "glibc-ld.so.cache1.1" format, as ldconfig
// writes it (elf/cache.c): a header, entries sorted in descending
// _dl_cache_libcmp order of their SONAME, the string table, then (with
// glibc-hwcaps entries) the extension directory. Written by distill because
// ldconfig -r needs root (it chroots); read as ld.so reads it (dl-cache.c).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace distill::elf {

struct CacheEntry {
  std::string soname;  // key
  std::string path;    // absolute path in the image
  /// The glibc-hwcaps subdirectory ("x86-64-v3") of a variant that ld.so
  /// prefers on CPUs with that level; empty for the ordinary entry.
  std::string hwcaps = "";
  /// Written: the entry's flags, or -1 for the flags given to
  /// write_ld_so_cache. Read: the entry's flags.
  int flags = -1;
};

/// The ldconfig flags for a Debian architecture's libraries
/// (FLAG_ELF_LIBC6 | the architecture's FLAG_*_LIB64 etc.).
int cache_flags(const std::string& debian_arch);

/// Whether a Debian architecture is big-endian (its ld.so.cache is).
bool big_endian_arch(const std::string& debian_arch);

/// ldconfig's test of a directory entry's name (glibc's _dl_is_dso):
/// lib*.so*, ld-*.so*, ld.so.* and ld64.so.* (the s390x and ppc64el loaders).
bool looks_like_dso(const std::string& file_name);

/// glibc's comparison: runs of digits compare as numbers.
int libcmp(const char* a, const char* b);

/// Sorted as ldconfig sorts (glibc-hwcaps entries of a name before its
/// ordinary one, which ld.so's search relies on); the extension directory
/// is written only when some entry has `hwcaps`.
/// `big`: the target's byte order (big_endian_arch), which ld.so checks.
std::string write_ld_so_cache(std::vector<CacheEntry> entries, int flags, bool big = false);

/// A cache as ld.so reads it: the new format alone or inside the old one,
/// or the old format alone, in either byte order.
class LdCache {
 public:
  /// nullopt if `data` is not a cache ld.so would read.
  static std::optional<LdCache> parse(std::string_view data);

  const std::vector<CacheEntry>& entries() const { return m_entries; }

  /// What ld.so's search_cache answers for `name`: among the entries whose
  /// flags fit `flags` (cache_flags of the architecture), the glibc-hwcaps
  /// entry whose subdirectory comes first in `hwcaps` (the CPU's active
  /// subdirectories, in priority order), else the ordinary entry. Entries of
  /// the legacy hwcap mechanism (removed in glibc 2.37) are passed over.
  std::optional<std::string> lookup(const std::string& name, int flags, const std::vector<std::string>& hwcaps) const;

 private:
  std::vector<CacheEntry> m_entries;  // file order
  std::vector<uint64_t> m_legacy_hwcap;  // per entry: nonzero for legacy hwcap entries
  std::map<std::string, std::vector<size_t>> m_by_name;
};

}  // namespace distill::elf
