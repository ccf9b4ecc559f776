#pragma once
// Just enough ELF for the loader's view of an object: class, byte order,
// machine, PT_INTERP and the dynamic section's DT_NEEDED, DT_RPATH,
// DT_RUNPATH, DT_SONAME and DF_1_NODEFLIB. Read by hand (the format is
// small and stable) from a file, or from a slice of one (package payloads).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace distill::elf {

struct SharedObject {
  bool is64 = true;
  bool little_endian = true;
  uint16_t machine = 0;
  std::string soname;  // empty if the object has none
};

/// Reads the ELF header and dynamic section of the object stored at
/// [offset, offset+size) in `file`. nullopt if it is not an ELF shared
/// object (ET_DYN) or is malformed.
std::optional<SharedObject> read_shared_object(const std::string& file, uint64_t offset, uint64_t size);

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

/// Reads an ELF file (a host path); nullopt if it is not little-endian ELF.
std::optional<ElfInfo> read_elf(const std::string& path);

}  // namespace distill::elf
