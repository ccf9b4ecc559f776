#pragma once
// /etc/ld.so.cache in glibc's "glibc-ld.so.cache1.1" format, as ldconfig
// writes it (elf/cache.c): a header, entries sorted in descending
// _dl_cache_libcmp order of their SONAME, then the string table. Written by
// distill because ldconfig -r needs root (it chroots).
#include <string>
#include <vector>

namespace distill::elf {

struct CacheEntry {
  std::string soname;  // key
  std::string path;    // absolute path in the image
};

/// The ldconfig flags for a Debian architecture's libraries
/// (FLAG_ELF_LIBC6 | the architecture's FLAG_*_LIB64 etc.).
int cache_flags(const std::string& debian_arch);

/// glibc's comparison: runs of digits compare as numbers.
int libcmp(const char* a, const char* b);

std::string write_ld_so_cache(std::vector<CacheEntry> entries, int flags);

}  // namespace distill::elf
