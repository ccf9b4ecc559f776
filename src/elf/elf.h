#pragma once
// Just enough ELF to index shared libraries: class, byte order, machine and
// the DT_SONAME of a shared object, read with pread from a file or from a
// slice of one (package payloads).
#include <cstdint>
#include <optional>
#include <string>

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

}  // namespace distill::elf
