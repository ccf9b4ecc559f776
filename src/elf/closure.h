#pragma once
// The run-time closure of a dynamically linked program as its loader finds
// it (reference: minify.md §3).
//
// glibc (any PT_INTERP that is not musl's): PT_INTERP, DT_NEEDED breadth
// first, DT_RPATH (inherited along the load chain, ignored when the loader
// has DT_RUNPATH), LD_LIBRARY_PATH, DT_RUNPATH (the loader's only), the
// root's /etc/ld.so.cache, then the default directories of the multiarch
// triplet; $ORIGIN, $LIB and $PLATFORM expanded; in every directory the
// glibc-hwcaps subdirectories first; objects of the wrong class or machine
// passed over; a name already loaded (by path or SONAME) reused.
//
// musl (PT_INTERP /lib/ld-musl-<arch>.so.1, ldso/dynlink.c): libc, libm,
// libpthread, librt, libdl, libutil and libxnet are the loader itself;
// LD_LIBRARY_PATH, then the DT_RUNPATH (else DT_RPATH) of the loader and of
// every object up its chain to the program ($ORIGIN only; an entry with any
// other $ token voids that object's list), then the root's
// <prefix>/etc/ld-musl-<arch>.path (':' or newline separated) if it exists,
// else /lib:/usr/local/lib:/usr/lib. No cache, no hwcaps, no SONAME
// matching; the first file that exists wins, compatible or not.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "elf/elf.h"

namespace distill::elf {

struct LoadedObject {
  std::string name;       // as asked for (DT_NEEDED, the program, or the library root)
  std::string path;       // where the loader finds it (absolute, inside the root; the base's path for "base image")
  std::string needed_by;  // the object whose DT_NEEDED named it ("" for the root); for a
                          // "glibc-hwcaps variant", the path of the object it stands in for
  /// "program", "library" (the root of resolve_library_closure),
  /// "interpreter" (PT_INTERP; with musl also each libc name, pointing at the loader),
  /// "RPATH", "LD_LIBRARY_PATH", "RUNPATH", "ld.so.cache", "default path",
  /// "musl path file", "path" (a DT_NEEDED holding a '/'),
  /// "glibc-hwcaps variant" (see ClosureOptions::glibc_hwcaps),
  /// "base image" (see ClosureOptions::base_provides).
  std::string found_via;
};

struct ClosureOptions {
  std::string root = "/";                     // --sysroot
  std::vector<std::string> library_path;      // LD_LIBRARY_PATH from --env

  /// The glibc-hwcaps subdirectories the target CPU supports, best first
  /// (host_glibc_hwcaps() for this machine's). They only decide which copy
  /// is "the" object found for a name; the others are in the closure anyway:
  /// for every library found in a directory D (or its D/glibc-hwcaps/X/),
  /// each other compatible D/glibc-hwcaps/*/NAME and D/NAME is added as a
  /// "glibc-hwcaps variant" object (needed_by = the chosen object's path),
  /// and its own DT_NEEDED resolved, so that the image runs on any CPU.
  /// Empty (the default): a baseline CPU, which loads D/NAME.
  std::vector<std::string> glibc_hwcaps;

  /// Libraries the base image already has. Asked with a DT_NEEDED name (no
  /// '/') only after the RPATH, LD_LIBRARY_PATH and RUNPATH directories
  /// (musl: LD_LIBRARY_PATH and the RUNPATH/RPATH chain) did not have it, as
  /// those come before the system directories; also asked with the PT_INTERP
  /// path before the interpreter is looked for in the root. An answer is the
  /// path at which the base has it (the caller follows the base's symlinks):
  /// the object is recorded with found_via "base image" and that path, it is
  /// not looked for in the root, and its own DT_NEEDED are not walked (the
  /// base provides its own closure). nullopt: searched in the root as usual.
  std::function<std::optional<std::string>(const std::string& name)> base_provides;

  /// resolve_library_closure only: the PT_INTERP of the program that will
  /// load the library (python3's, node's). It picks glibc or musl rules and
  /// counts as loaded (it is not itself reported). Empty: musl if the
  /// library needs "libc.so" (musl's libc name), else glibc.
  std::string interpreter;
};

struct Closure {
  std::string interpreter;            // PT_INTERP (or ClosureOptions::interpreter for a library)
  bool musl = false;                  // resolved by musl's rules
  std::vector<LoadedObject> objects;  // the root first, then in load order
  std::vector<std::string> missing;   // "libfoo.so.1 (needed by /usr/bin/x; looked in ...)"
};

/// Resolves `program` (a path inside the root). Throws Error if the program
/// is not a dynamically linked ELF file.
Closure resolve_closure(const std::string& program, const ClosureOptions& options);

/// Resolves a shared object that is loaded by dlopen rather than run: a
/// Python extension module, a Node addon. It is the first object (found_via
/// "library"); its $ORIGIN is the directory of `library` as given; its
/// DT_RPATH/DT_RUNPATH apply as the loader's; the root's cache and default
/// directories are those of its own machine. Throws Error if it is not an
/// ELF shared object.
Closure resolve_library_closure(const std::string& library, const ClosureOptions& options);

/// The glibc-hwcaps subdirectories this CPU supports, best first, as
/// glibc's loader on this machine would search them (x86-64: x86-64-v4,
/// -v3, -v2 as supported; other machines: none).
std::vector<std::string> host_glibc_hwcaps();

/// "x86-64-v3" for ".../glibc-hwcaps/x86-64-v3/libfoo.so.1", else "" (for
/// the CacheEntry::hwcaps of a variant).
std::string glibc_hwcaps_subdir(const std::string& path);

/// True for a musl loader path (/lib/ld-musl-x86_64.so.1).
bool is_musl_interpreter(const std::string& interpreter);

/// "/a//b/../c/." -> "/a/c", lexically (no symlinks followed).
std::string normalize_path(const std::string& path);

/// The Debian multiarch triplet for an ELF machine (x86_64-linux-gnu).
std::string triplet_for_machine(uint16_t machine, bool is64);

}  // namespace distill::elf
