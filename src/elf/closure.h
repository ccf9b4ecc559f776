#pragma once
// The run-time closure of a dynamically linked program as glibc's loader
// finds it (reference: minify.md §3): PT_INTERP, DT_NEEDED breadth first,
// DT_RPATH (inherited along the load chain, ignored when the loader has
// DT_RUNPATH), LD_LIBRARY_PATH, DT_RUNPATH (the loader's only), the root's
// /etc/ld.so.cache, then the default directories of the multiarch triplet;
// $ORIGIN, $LIB and $PLATFORM expanded; objects of the wrong class or
// machine passed over; a name already loaded (by path or SONAME) reused.
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace distill::elf {

struct ElfInfo {
  bool is64 = true;
  bool little_endian = true;
  uint16_t machine = 0;
  uint16_t type = 0;
  std::string interpreter;             // PT_INTERP
  std::vector<std::string> needed;     // DT_NEEDED in order
  std::vector<std::string> rpath;      // DT_RPATH, split on ':'
  std::vector<std::string> runpath;    // DT_RUNPATH, split on ':'
  bool has_runpath = false;
  std::string soname;
  bool nodeflib = false;               // DF_1_NODEFLIB
};

/// Reads an ELF file; nullopt if it is not ELF.
std::optional<ElfInfo> read_elf(const std::string& path);

struct LoadedObject {
  std::string name;       // as asked for (DT_NEEDED or the program)
  std::string path;       // where the loader finds it (absolute, inside the root)
  std::string needed_by;  // the object whose DT_NEEDED named it ("" for the program)
  std::string found_via;  // "RPATH", "LD_LIBRARY_PATH", "RUNPATH", "ld.so.cache", "default path", "interpreter"
};

struct ClosureOptions {
  std::string root = "/";                     // --sysroot
  std::vector<std::string> library_path;      // LD_LIBRARY_PATH from --env
};

struct Closure {
  std::string interpreter;
  std::vector<LoadedObject> objects;  // the program first, then in load order
  std::vector<std::string> missing;   // "libfoo.so.1 (needed by /usr/bin/x; looked in ...)"
};

/// Resolves `program` (a path inside the root). Throws Error if the program
/// is not a dynamically linked ELF file for this root's architecture.
Closure resolve_closure(const std::string& program, const ClosureOptions& options);

/// "/a//b/../c/." -> "/a/c", lexically (no symlinks followed).
std::string normalize_path(const std::string& path);

/// The Debian multiarch triplet for an ELF machine (x86_64-linux-gnu).
std::string triplet_for_machine(uint16_t machine, bool is64);

}  // namespace distill::elf
