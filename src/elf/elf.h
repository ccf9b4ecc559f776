#pragma once
// Just enough ELF for the loader's view of an object: class, byte order,
// machine, PT_INTERP and the dynamic section's DT_NEEDED, DT_RPATH,
// DT_RUNPATH, DT_SONAME and DF_1_NODEFLIB. Read by hand (the format is
// small and stable) from a file, or from a slice of one (package payloads).
// Also the names a file imports through its dynamic symbol table.
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

/// Reads an ELF file (a host path) of either byte order; nullopt if it is not ELF.
std::optional<ElfInfo> read_elf(const std::string& path);

/// The names of the undefined (imported) symbols in the dynamic symbol table
/// of the ELF file `path`: every .dynsym entry after the null one whose
/// st_shndx is SHN_UNDEF, weak ones included, in table order (a name appears
/// once per entry; entries with an empty name are left out). Names are as in
/// .dynstr, so without the "@VERSION" that `nm -D` appends (versions live in
/// .gnu.version). ELF32 and ELF64, either byte order.
///
/// The table is found as the loader finds it, through PT_DYNAMIC: DT_SYMTAB,
/// DT_STRTAB and DT_STRSZ, with the number of symbols from DT_HASH's nchain
/// or from walking DT_GNU_HASH's buckets and chains. When no hash table gives
/// the number (there is none, or only the empty GNU hash table of an object
/// that exports nothing, whose symoffset is a placeholder), the section
/// headers do (SHT_DYNSYM's size); and without section headers (sstrip) the
/// table is read as far as the highest symbol index a DT_RELA, DT_REL or
/// DT_JMPREL relocation names: every symbol the loader binds, though an
/// undefined entry past the last one a relocation names (never bound) is then
/// not seen. Without DT_SYMTAB, SHT_DYNSYM and its sh_link string table.
///
/// Empty if the file is not ELF (or not a regular file), or has neither a
/// dynamic symbol table nor section headers naming one (static executables,
/// relocatable objects). Throws distill::Error naming `path` if it cannot be
/// opened, or if it is ELF but the table cannot be read whole: truncated, an
/// offset or address outside the file or its segment, a count larger than
/// the file can hold, an unknown entry size. Never reads outside the file;
/// memory used is bounded by the file's size.
std::vector<std::string> imported_symbols(const std::string& path);

}  // namespace distill::elf
