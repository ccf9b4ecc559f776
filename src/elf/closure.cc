#include "elf/closure.h"

#include <elf.h>

#include <cstring>
#include <deque>
#include <set>

#include "base/error.h"
#include "elf/ldcache.h"
#include "elf/rootfs.h"

namespace distill::elf {

namespace {

/// The Debian architecture whose ldconfig flags ld.so accepts for `machine`.
std::string debian_arch(uint16_t machine) {
  switch (machine) {
    case EM_X86_64: return "amd64";
    case EM_AARCH64: return "arm64";
    case EM_ARM: return "armhf";
    case EM_S390: return "s390x";
    case EM_PPC64: return "ppc64el";
    case EM_RISCV: return "riscv64";
  }
  return "i386";  // no arch flag: FLAG_ELF_LIBC6 alone
}

/// LDSO_ARCH of musl's loader name (/lib/ld-musl-<arch>.so.1).
std::string musl_arch(uint16_t machine) {
  switch (machine) {
    case EM_X86_64: return "x86_64";
    case EM_AARCH64: return "aarch64";
    case EM_386: return "i386";
    case EM_ARM: return "armhf";
    case EM_S390: return "s390x";
    case EM_PPC64: return "powerpc64le";
    case EM_RISCV: return "riscv64";
  }
  return "unknown";
}

std::string join(const std::string& dir, const std::string& rest) {
  // Not normalized: the loader keeps "bin/../lib" as it built it.
  return (dir.ends_with("/") ? dir : dir + "/") + rest;
}

std::string join_list(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

void replace_all(std::string& s, const std::string& token, const std::string& value) {
  for (size_t at = 0; (at = s.find(token, at)) != std::string::npos; at += value.size()) s.replace(at, token.size(), value);
}

/// musl's names for parts of its libc, all served by the loader itself
/// (load_library's "reserved" list: lib + one of these + anything).
bool is_musl_libc_name(const std::string& name) {
  for (const char* part : {"c.", "pthread.", "rt.", "m.", "dl.", "util.", "xnet."})
    if (name.starts_with("lib") && name.compare(3, std::strlen(part), part) == 0) return true;
  return false;
}

/// The directory whose glibc-hwcaps subdirectories hold variants of a
/// library at `path`: D for D/NAME and for D/glibc-hwcaps/X/NAME.
std::string hwcaps_family(const std::string& path) {
  std::string dir = dirname(path);
  return basename(dirname(dir)) == "glibc-hwcaps" ? dirname(dirname(dir)) : dir;
}

/// A library as a search found it; `family` is where its glibc-hwcaps
/// variants live ("" when variants do not apply).
struct Hit {
  std::string path;
  ElfInfo info;
  std::string via;
  std::string family;
};

class Resolver {
 public:
  Resolver(const ClosureOptions& options, const ElfInfo& target, std::string interpreter);

  /// The program or library at the top, then everything it loads.
  Closure run(const std::string& path, const ElfInfo& info, bool is_program);

 private:
  struct Node {
    std::string path;
    ElfInfo info;
    int parent;          // the loader's index, -1 for the root
    std::string origin;  // $ORIGIN
  };

  void add_interpreter(const std::string& needed_by, bool report);
  int add_node(const std::string& path, const ElfInfo& info, int parent, std::string origin);
  void load(int loader, const std::string& name);
  void add_found(int loader, const std::string& name, const Hit& hit);
  void add_variants(int loader, const std::string& name, const Hit& hit);
  void add_libc_alias(int loader, const std::string& name);

  std::optional<ElfInfo> compatible(const std::string& path) const;
  std::optional<Hit> search_dir(const std::string& dir, const std::string& name, const std::string& via) const;
  std::optional<Hit> from_base(const std::string& name, std::vector<std::string>& looked) const;
  std::string expand(const std::string& entry, const std::string& origin) const;
  std::optional<Hit> search_glibc(int loader, const std::string& name, std::vector<std::string>& looked) const;
  std::optional<Hit> search_glibc_system(int loader, const std::string& name, std::vector<std::string>& looked) const;
  std::optional<Hit> search_musl(int loader, const std::string& name, std::vector<std::string>& looked,
                                 std::string& problem) const;
  std::optional<Hit> musl_open(const std::string& path, const std::string& via, std::string& problem) const;
  std::vector<std::string> musl_rpath(int i) const;
  std::pair<std::vector<std::string>, std::string> musl_system_path() const;

  const ClosureOptions& m_options;
  RootFs m_fs;
  uint16_t m_machine;
  bool m_is64;
  std::string m_interpreter;
  bool m_musl;
  std::string m_triplet;
  std::vector<std::string> m_defaults;
  std::optional<LdCache> m_cache;
  LoadedObject m_loader_object;  // what the interpreter resolved to (path, found_via)

  Closure m_closure;
  std::vector<Node> m_nodes;
  std::set<std::string> m_loaded_names, m_loaded_paths;
  std::deque<std::pair<int, std::string>> m_queue;  // (loader, needed name): breadth first
};

Resolver::Resolver(const ClosureOptions& options, const ElfInfo& target, std::string interpreter)
    : m_options(options),
      m_fs(options.root),
      m_machine(target.machine),
      m_is64(target.is64),
      m_interpreter(std::move(interpreter)),
      m_musl(is_musl_interpreter(m_interpreter)),
      m_triplet(triplet_for_machine(target.machine, target.is64)),
      m_defaults({"/lib/" + m_triplet, "/usr/lib/" + m_triplet, "/lib", "/usr/lib"}) {
  if (!m_musl)
    if (auto text = m_fs.read_text("/etc/ld.so.cache")) m_cache = LdCache::parse(*text);
}

Closure Resolver::run(const std::string& path, const ElfInfo& info, bool is_program) {
  m_closure.interpreter = m_interpreter;
  m_closure.musl = m_musl;
  // A program's $ORIGIN comes from /proc/self/exe (symlinks resolved); a
  // dlopened object's from the path it was opened by.
  add_node(path, info, -1, dirname(is_program ? m_fs.resolve(path) : path));
  m_closure.objects.push_back({path, path, "", is_program ? "program" : "library"});
  if (!m_interpreter.empty()) add_interpreter(path, is_program);
  while (!m_queue.empty()) {
    auto [loader, name] = m_queue.front();
    m_queue.pop_front();
    load(loader, name);
  }
  return std::move(m_closure);
}

void Resolver::add_interpreter(const std::string& needed_by, bool report) {
  // The kernel maps the interpreter first; the loader counts it as loaded.
  m_loaded_names.insert(basename(m_interpreter));
  std::optional<std::string> base = m_options.base_provides ? m_options.base_provides(m_interpreter) : std::nullopt;
  if (base) {
    m_loader_object = {m_interpreter, *base, needed_by, "base image"};
  } else if (auto interp = m_fs.read_elf(m_interpreter)) {
    m_loader_object = {m_interpreter, m_interpreter, needed_by, "interpreter"};
    m_loaded_paths.insert(m_fs.resolve(m_interpreter));
    if (!interp->soname.empty()) m_loaded_names.insert(interp->soname);
  } else {
    m_closure.missing.push_back(m_interpreter + " (the program interpreter of " + needed_by + ")");
    return;
  }
  if (report) m_closure.objects.push_back(m_loader_object);
}

int Resolver::add_node(const std::string& path, const ElfInfo& info, int parent, std::string origin) {
  int index = static_cast<int>(m_nodes.size());
  m_nodes.push_back({path, info, parent, std::move(origin)});
  for (const std::string& n : info.needed) m_queue.emplace_back(index, n);
  return index;
}

void Resolver::load(int loader, const std::string& name) {
  if (m_loaded_names.count(name)) return;
  if (m_musl && (is_musl_libc_name(name) || name == m_interpreter)) return add_libc_alias(loader, name);
  m_loaded_names.insert(name);
  std::vector<std::string> looked;
  std::string problem;
  std::optional<Hit> hit = m_musl ? search_musl(loader, name, looked, problem) : search_glibc(loader, name, looked);
  // A copy: m_nodes grows below.
  const std::string loader_path = m_nodes[static_cast<size_t>(loader)].path;
  if (!hit) {
    m_closure.missing.push_back(name + " (needed by " + loader_path + "; " +
                                (problem.empty() ? "looked in " + join_list(looked) : problem) + ")");
  } else if (hit->via == "base image") {
    m_closure.objects.push_back({name, hit->path, loader_path, hit->via});
  } else {
    add_found(loader, name, *hit);
  }
}

void Resolver::add_found(int loader, const std::string& name, const Hit& hit) {
  // glibc also matches later names against SONAMEs; musl only by file name.
  if (!m_musl && !hit.info.soname.empty()) m_loaded_names.insert(hit.info.soname);
  if (!m_loaded_paths.insert(m_fs.resolve(hit.path)).second) return;  // the same object under another name
  m_closure.objects.push_back({name, hit.path, m_nodes[static_cast<size_t>(loader)].path, hit.via});
  add_node(hit.path, hit.info, loader, dirname(hit.path));
  if (!hit.family.empty()) add_variants(loader, name, hit);
}

void Resolver::add_variants(int loader, const std::string& name, const Hit& hit) {
  // Another CPU loads D/glibc-hwcaps/X/NAME (or D/NAME) instead: all of them
  // go in, each with its own dependencies, loaded by the same loader.
  std::string file = basename(hit.path);
  std::vector<std::string> candidates = {join(hit.family, file)};
  for (const std::string& sub : m_fs.list(join(hit.family, "glibc-hwcaps")))
    candidates.push_back(join(hit.family, "glibc-hwcaps/" + sub + "/" + file));
  for (const std::string& path : candidates) {
    if (path == hit.path) continue;
    auto info = compatible(path);
    if (!info || !m_loaded_paths.insert(m_fs.resolve(path)).second) continue;
    m_closure.objects.push_back({name, path, hit.path, "glibc-hwcaps variant"});
    add_node(path, *info, loader, dirname(path));
  }
}

void Resolver::add_libc_alias(int loader, const std::string& name) {
  m_loaded_names.insert(name);
  const std::string& by = m_nodes[static_cast<size_t>(loader)].path;
  if (m_loader_object.found_via.empty())
    m_closure.missing.push_back(name + " (needed by " + by + "; it is musl's loader " + m_interpreter + ", which is missing)");
  else
    m_closure.objects.push_back({name, m_loader_object.path, by, m_loader_object.found_via});
}

std::optional<ElfInfo> Resolver::compatible(const std::string& path) const {
  if (!m_fs.is_file(path)) return std::nullopt;
  auto info = m_fs.read_elf(path);
  if (!info || info->machine != m_machine || info->is64 != m_is64) return std::nullopt;  // wrong class or machine
  return info;
}

std::optional<Hit> Resolver::search_dir(const std::string& dir, const std::string& name, const std::string& via) const {
  if (dir.empty()) return std::nullopt;
  // glibc tries D/glibc-hwcaps/<active subdirectory>/ best first, then D.
  for (const std::string& sub : m_options.glibc_hwcaps) {
    std::string path = join(dir, "glibc-hwcaps/" + sub + "/" + name);
    if (auto info = compatible(path)) return Hit{path, *info, via, dir};
  }
  std::string path = join(dir, name);
  if (auto info = compatible(path)) return Hit{path, *info, via, dir};
  return std::nullopt;
}

std::optional<Hit> Resolver::from_base(const std::string& name, std::vector<std::string>& looked) const {
  if (!m_options.base_provides) return std::nullopt;
  looked.push_back("the base image");
  if (auto path = m_options.base_provides(name)) return Hit{*path, {}, "base image", ""};
  return std::nullopt;
}

std::string Resolver::expand(const std::string& entry, const std::string& origin) const {
  std::string out = entry;
  for (const char* token : {"${ORIGIN}", "$ORIGIN"}) replace_all(out, token, origin);
  for (const char* token : {"${LIB}", "$LIB"}) replace_all(out, token, "lib/" + m_triplet);
  std::string platform = m_machine == EM_X86_64 ? "x86_64" : m_machine == EM_AARCH64 ? "aarch64" : "";
  for (const char* token : {"${PLATFORM}", "$PLATFORM"}) replace_all(out, token, platform);
  return out;
}

std::optional<Hit> Resolver::search_glibc(int loader, const std::string& name, std::vector<std::string>& looked) const {
  const Node& l = m_nodes[static_cast<size_t>(loader)];
  if (name.find('/') != std::string::npos) {
    std::string path = expand(name, l.origin);
    looked.push_back(path);
    if (auto info = compatible(path)) return Hit{path, *info, "path", ""};
    return std::nullopt;
  }
  // RPATH of the loader, then up its chain of loaders to the program; an
  // object with RUNPATH has no RPATH (elf_get_dynamic_info drops it).
  if (!l.info.has_runpath)
    for (int i = loader; i >= 0; i = m_nodes[static_cast<size_t>(i)].parent) {
      const Node& n = m_nodes[static_cast<size_t>(i)];
      if (n.info.has_runpath) continue;
      for (const std::string& d : n.info.rpath) {
        std::string dir = expand(d, n.origin);
        looked.push_back(dir);
        if (auto hit = search_dir(dir, name, "RPATH")) return hit;
      }
    }
  for (const std::string& d : m_options.library_path) {
    looked.push_back(d);
    if (auto hit = search_dir(d, name, "LD_LIBRARY_PATH")) return hit;
  }
  for (const std::string& d : l.info.runpath) {
    std::string dir = expand(d, l.origin);
    looked.push_back(dir);
    if (auto hit = search_dir(dir, name, "RUNPATH")) return hit;
  }
  if (auto hit = from_base(name, looked)) return hit;
  return search_glibc_system(loader, name, looked);
}

std::optional<Hit> Resolver::search_glibc_system(int loader, const std::string& name, std::vector<std::string>& looked) const {
  bool nodeflib = m_nodes[static_cast<size_t>(loader)].info.nodeflib;
  auto in_defaults = [&](const std::string& path) {
    for (const std::string& d : m_defaults)
      if (path.starts_with(d + "/")) return true;
    return false;
  };
  if (m_cache) {
    looked.push_back("/etc/ld.so.cache");
    auto cached = m_cache->lookup(name, cache_flags(debian_arch(m_machine)), m_options.glibc_hwcaps);
    // A stale entry (gone, or of another class) is passed over, to the defaults.
    if (cached && !(nodeflib && in_defaults(*cached)))
      if (auto info = compatible(*cached)) return Hit{*cached, *info, "ld.so.cache", hwcaps_family(*cached)};
  }
  if (nodeflib) return std::nullopt;
  for (const std::string& d : m_defaults) {
    looked.push_back(d);
    if (auto hit = search_dir(d, name, "default path")) return hit;
  }
  return std::nullopt;
}

std::optional<Hit> Resolver::search_musl(int loader, const std::string& name, std::vector<std::string>& looked,
                                         std::string& problem) const {
  if (name.find('/') != std::string::npos) {
    looked.push_back(name);
    return m_fs.exists(name) ? musl_open(name, "path", problem) : std::nullopt;
  }
  // The first path that opens ends the search, whatever it holds.
  auto try_dirs = [&](const std::vector<std::string>& dirs, const std::string& via) -> std::optional<std::optional<Hit>> {
    for (const std::string& d : dirs) {
      if (d.empty()) continue;
      looked.push_back(d);
      if (std::string path = join(d, name); m_fs.exists(path)) return musl_open(path, via, problem);
    }
    return std::nullopt;
  };
  if (auto r = try_dirs(m_options.library_path, "LD_LIBRARY_PATH")) return *r;
  for (int i = loader; i >= 0; i = m_nodes[static_cast<size_t>(i)].parent)
    if (auto r = try_dirs(musl_rpath(i), m_nodes[static_cast<size_t>(i)].info.has_runpath ? "RUNPATH" : "RPATH")) return *r;
  if (auto hit = from_base(name, looked)) return hit;
  auto [dirs, via] = musl_system_path();
  if (auto r = try_dirs(dirs, via)) return *r;
  return std::nullopt;
}

std::optional<Hit> Resolver::musl_open(const std::string& path, const std::string& via, std::string& problem) const {
  if (auto info = compatible(path)) return Hit{path, *info, via, ""};
  problem = "found " + path + ", which is not a " + m_triplet + " ELF object, and musl stops at the first file it opens";
  return std::nullopt;
}

std::vector<std::string> Resolver::musl_rpath(int i) const {
  // fixup_rpath: DT_RUNPATH if present, else DT_RPATH; only $ORIGIN is
  // known, and any other '$' voids the object's whole list.
  const Node& n = m_nodes[static_cast<size_t>(i)];
  std::vector<std::string> dirs = n.info.has_runpath ? n.info.runpath : n.info.rpath;
  for (std::string& d : dirs) {
    for (size_t at = 0; (at = d.find('$', at)) != std::string::npos; ++at)
      if (d.compare(at, 7, "$ORIGIN") != 0 && d.compare(at, 9, "${ORIGIN}") != 0) return {};
    for (const char* token : {"${ORIGIN}", "$ORIGIN"}) replace_all(d, token, n.origin);
  }
  return dirs;
}

std::pair<std::vector<std::string>, std::string> Resolver::musl_system_path() const {
  // <prefix>/etc/ld-musl-<arch>.path, where the loader is
  // <prefix>/<dir>/ld-musl-<arch>.so.1; a file that exists replaces the
  // defaults even when empty.
  std::string name = basename(m_interpreter);
  std::string arch = name.substr(8, name.find(".so") == std::string::npos ? std::string::npos : name.find(".so") - 8);
  std::string prefix = dirname(dirname(m_interpreter));
  std::string file = (prefix == "/" ? "" : prefix) + "/etc/ld-musl-" + arch + ".path";
  auto text = m_fs.read_text(file);
  if (!text) return {{"/lib", "/usr/local/lib", "/usr/lib"}, "default path"};
  std::vector<std::string> dirs;
  for (size_t start = 0; start <= text->size();) {
    size_t end = text->find_first_of(":\n", start);
    if (end == std::string::npos) end = text->size();
    dirs.push_back(text->substr(start, end - start));
    start = end + 1;
  }
  return {dirs, "musl path file"};
}

}  // namespace

std::string normalize_path(const std::string& path) { return lexical_normal(path); }

std::string triplet_for_machine(uint16_t machine, bool is64) {
  switch (machine) {
    case EM_X86_64: return "x86_64-linux-gnu";
    case EM_AARCH64: return "aarch64-linux-gnu";
    case EM_386: return "i386-linux-gnu";
    case EM_ARM: return "arm-linux-gnueabihf";
    case EM_PPC64: return "powerpc64le-linux-gnu";
    case EM_S390: return "s390x-linux-gnu";
    case EM_RISCV: return is64 ? "riscv64-linux-gnu" : "riscv32-linux-gnu";
  }
  return "unknown-linux-gnu";
}

bool is_musl_interpreter(const std::string& interpreter) { return basename(interpreter).starts_with("ld-musl-"); }

std::string glibc_hwcaps_subdir(const std::string& path) {
  std::string dir = dirname(path);
  return basename(dirname(dir)) == "glibc-hwcaps" ? basename(dir) : "";
}

std::vector<std::string> host_glibc_hwcaps() {
  std::vector<std::string> out;
#if defined(__x86_64__)
  // libgcc's checks follow the psABI levels, as glibc's do (CPU and OS support).
  __builtin_cpu_init();
  if (__builtin_cpu_supports("x86-64-v4")) out.push_back("x86-64-v4");
  if (__builtin_cpu_supports("x86-64-v3")) out.push_back("x86-64-v3");
  if (__builtin_cpu_supports("x86-64-v2")) out.push_back("x86-64-v2");
#endif
  return out;
}

Closure resolve_closure(const std::string& program, const ClosureOptions& options) {
  RootFs fs(options.root);
  std::optional<ElfInfo> main = fs.read_elf(program);
  if (!main) throw Error(program + " is not an ELF program (or cannot be read)");
  if (main->interpreter.empty()) throw Error(program + " is statically linked: it needs no libraries (add it with files:)");
  return Resolver(options, *main, main->interpreter).run(program, *main, true);
}

Closure resolve_library_closure(const std::string& library, const ClosureOptions& options) {
  RootFs fs(options.root);
  std::optional<ElfInfo> info = fs.read_elf(library);
  if (!info || info->type != ET_DYN) throw Error(library + " is not an ELF shared object (or cannot be read)");
  std::string interpreter = options.interpreter;
  bool needs_musl_libc = false;
  for (const std::string& n : info->needed) needs_musl_libc = needs_musl_libc || n == "libc.so";
  if (interpreter.empty() && needs_musl_libc) interpreter = "/lib/ld-musl-" + musl_arch(info->machine) + ".so.1";
  return Resolver(options, *info, interpreter).run(library, *info, false);
}

}  // namespace distill::elf
