#pragma once
// Reading .deb files (ar archives holding debian-binary, control.tar.* and
// data.tar.*) without dpkg: the control metadata, and the file entries of
// data.tar turned into layer entries. Entry data is decompressed once into
// a payload file the entries point into, so they can be written sorted
// without holding a package in memory.
#include <set>
#include <string>
#include <vector>

#include "archive/tar.h"
#include "base/fs.h"

namespace distill::deb {

struct DebOptions {
  /// Rewrite bin/, sbin/, lib*/ to usr/ (merged-/usr, as trixie images are).
  bool merged_usr = true;
  /// Strip classes: "docs" (/usr/share/doc except copyright files), "man",
  /// "info", "locales" (/usr/share/locale except C.UTF-8), "lintian".
  std::set<std::string> strip;
};

struct DebContents {
  std::string package;   // from the control file
  std::string control;   // the control file, as shipped
  std::string md5sums;   // the md5sums file, paths rewritten like the entries
  std::vector<LayerEntry> entries;  // sorted for tar; sources point into `payload`
  fs::path payload;
};

/// Reads `deb`, writing entry data to `payload`. `what` names the package in
/// errors. Refuses paths that leave the root, device files, and malformed
/// archives.
DebContents read_deb(const fs::path& deb, const fs::path& payload, const DebOptions& options, const std::string& what);

/// Where merged-/usr puts a path: "bin/ls" -> "usr/bin/ls"; others unchanged.
std::string merged_usr_path(const std::string& path);

/// True if the strip classes drop `path` (relative, no leading '/').
bool stripped(const std::string& path, const std::set<std::string>& strip);

}  // namespace distill::deb
