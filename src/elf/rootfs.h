#pragma once
// A directory tree seen as "/" (a sysroot, or the host itself): paths are
// absolute inside it and symlinks, absolute ones included, resolve inside
// it as they would in a chroot. Internal to the closure resolver.
#include <optional>
#include <string>
#include <vector>

#include "elf/elf.h"

namespace distill::elf {

class RootFs {
 public:
  explicit RootFs(std::string root);
  /// The host path of `path` with no symlink resolved (root + path).
  std::string host(const std::string& path) const;
  /// `path` with every symlink on it resolved inside the root.
  std::string resolve(const std::string& path) const;
  bool exists(const std::string& path) const;
  bool is_file(const std::string& path) const;
  std::optional<ElfInfo> read_elf(const std::string& path) const;
  /// The file's text; nullopt if it does not exist or cannot be read.
  std::optional<std::string> read_text(const std::string& path) const;
  /// The names in a directory, sorted; empty if it is not one.
  std::vector<std::string> list(const std::string& dir) const;

 private:
  std::string m_root;  // "" for the host
};

std::string dirname(const std::string& path);
std::string basename(const std::string& path);
/// "/a//b/../c/." -> "/a/c", lexically (no symlinks followed).
std::string lexical_normal(const std::string& path);

}  // namespace distill::elf
