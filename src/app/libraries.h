#pragma once
// The run-time closures of an app's ELF objects (its program, Python
// extension modules, Node addons) added to a layer, minus what the base
// provides, plus what static analysis cannot see, added by rule
// (minify.md §3.8): libgcc_s, NSS modules, gconv modules (for objects that
// import iconv_open), the CA bundle,
// a regenerated /etc/ld.so.cache.
#include <set>
#include <string>
#include <vector>

#include "app/base_tree.h"
#include "app/image_files.h"
#include "elf/closure.h"
#include "elf/ldcache.h"

namespace distill {

class LibraryResolver {
 public:
  /// `root`: where objects are read ("/" or a sysroot); `library_path`:
  /// LD_LIBRARY_PATH of the image; `copied`: host directories whose files
  /// are in the image anyway (the app's own trees), not added again.
  LibraryResolver(std::string root, const BaseTree& base, ImageFiles& out, std::vector<std::string> library_path,
                  std::vector<std::string> copied);

  /// A program's interpreter and libraries (not the program itself).
  void add_program(const std::string& program);
  /// The libraries a shared object (an extension module or addon) needs.
  void add_shared_object(const std::string& host_path, const std::string& what);
  /// Rule-added files; call once after every object is added.
  void add_rules(bool tzdata);

  bool uses_glibc() const { return m_glibc; }
  const std::string& triplet() const { return m_triplet; }

 private:
  elf::ClosureOptions options_for(const std::string& object);
  void add_closure(const elf::Closure& closure, const std::string& what);
  bool copied_anyway(const std::string& path) const;
  bool exists(const std::string& path) const;

  std::string m_root;
  const BaseTree& m_base;
  ImageFiles& m_out;
  std::vector<std::string> m_library_path, m_copied;
  std::string m_triplet;
  bool m_glibc = false;
  std::string m_iconv_user;              // an object that imports iconv_open
  std::vector<elf::CacheEntry> m_cache;  // libraries added, for ld.so.cache
  std::set<std::string> m_added;         // host paths of objects added
};

}  // namespace distill
