#include "app/libraries.h"

#include <sys/stat.h>

#include <algorithm>
#include <sstream>

#include "base/error.h"
#include "base/fs.h"
#include "build/packages.h"
#include "elf/ldcache.h"

namespace distill {

LibraryResolver::LibraryResolver(std::string root, const BaseTree& base, ImageFiles& out,
                                 std::vector<std::string> library_path, std::vector<std::string> copied)
    : m_root(std::move(root)), m_base(base), m_out(out), m_library_path(std::move(library_path)), m_copied(std::move(copied)) {}

bool LibraryResolver::exists(const std::string& path) const {
  struct stat st;
  return ::lstat(m_out.host(path).c_str(), &st) == 0;
}

bool LibraryResolver::copied_anyway(const std::string& path) const {
  for (const std::string& dir : m_copied)
    if (path == dir || path.starts_with(dir + "/")) return true;
  return false;
}

elf::ClosureOptions LibraryResolver::options_for(const std::string& object) {
  if (m_triplet.empty()) {
    auto info = elf::read_elf(m_out.host(object));
    if (!info) throw Error(object + " is not an ELF file");
    m_triplet = elf::triplet_for_machine(info->machine, info->is64);
  }
  elf::ClosureOptions options;
  options.root = m_root;
  options.library_path = m_library_path;
  // What the base's loader finds by its system directories is the base's:
  // never copy a second (older or newer) copy over it.
  options.base_provides = [this](const std::string& name) -> std::optional<std::string> {
    if (name.starts_with("/")) return m_base.exists(name) ? std::optional<std::string>(name) : std::nullopt;
    return m_base.library(name, m_triplet);
  };
  return options;
}

void LibraryResolver::add_program(const std::string& program) {
  add_closure(elf::resolve_closure(program, options_for(program)), program);
}

void LibraryResolver::add_shared_object(const std::string& host_path, const std::string& what) {
  elf::ClosureOptions options = options_for(host_path);
  // The program that dlopens it (python3, node) runs under the glibc
  // loader of the library's machine; distill's own PT_INTERP names it.
  auto self = elf::read_elf("/proc/self/exe");
  auto object = elf::read_elf(m_out.host(host_path));
  bool musl = object && std::find(object->needed.begin(), object->needed.end(), "libc.so") != object->needed.end();
  if (self && object && !musl && self->machine == object->machine) options.interpreter = self->interpreter;
  add_closure(elf::resolve_library_closure(host_path, options), what);
}

void LibraryResolver::add_closure(const elf::Closure& closure, const std::string& what) {
  if (!closure.missing.empty()) {
    std::string msg = "cannot find what " + what + " needs:";
    for (const std::string& m : closure.missing) msg += "\n  " + m;
    throw Error(msg);
  }
  for (const elf::LoadedObject& o : closure.objects) {
    m_glibc = m_glibc || (o.name == "libc.so.6" && !closure.musl);
    // libstdc++ imports iconv only for std::codecvt of named locales, which
    // need locale data these images do not have: it alone does not count.
    if (m_iconv_user.empty() && o.found_via != "base image" && !o.name.starts_with("libstdc++.so")) {
      std::vector<std::string> imports = elf::imported_symbols(m_out.host(o.path));
      if (std::find(imports.begin(), imports.end(), "iconv_open") != imports.end()) m_iconv_user = o.path;
    }
    if (o.found_via == "program" || o.found_via == "library" || o.found_via == "base image") continue;
    if (copied_anyway(o.path) || !m_added.insert(o.path).second) continue;
    std::string reason = o.found_via == "interpreter"          ? "PT_INTERP of " + what
                         : o.found_via == "glibc-hwcaps variant" ? "glibc-hwcaps variant of " + o.needed_by + " (for other CPUs)"
                                                                 : "DT_NEEDED " + o.name + " of " + o.needed_by + " (found via " + o.found_via + ")";
    m_out.add_host_path(o.path, reason);
    if (o.found_via != "interpreter" && o.name.find('/') == std::string::npos)
      m_cache.push_back({o.name, o.path, elf::glibc_hwcaps_subdir(o.path)});
  }
}

void LibraryResolver::add_rules(bool tzdata) {
  const std::string& t = m_triplet;
  auto add_first = [&](const std::string& name, const std::string& reason) {
    if (m_base.library(name, t)) return;
    for (const std::string& dir : {"/lib/" + t, "/usr/lib/" + t})
      if (exists(dir + "/" + name)) {
        if (m_added.insert(dir + "/" + name).second) {
          m_out.add_host_path(dir + "/" + name, reason);
          m_cache.push_back({name, dir + "/" + name});
        }
        return;
      }
  };
  if (m_glibc) {
    add_first("libgcc_s.so.1", "rule: glibc dlopens libgcc_s.so.1 for thread cancellation and unwinding");
    if (!m_base.exists("/etc/nsswitch.conf") && exists("/etc/nsswitch.conf")) {
      m_out.add_host_path("/etc/nsswitch.conf", "rule: NSS configuration");
      std::istringstream in(read_file(m_out.host("/etc/nsswitch.conf")));
      std::set<std::string> services;
      for (std::string line; std::getline(in, line);) {
        if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::istringstream words(line.substr(colon + 1));
        for (std::string w; words >> w;)
          if (!w.starts_with("[")) services.insert(w);
      }
      // files and dns are built into glibc since 2.34; others are modules.
      for (const std::string& s : services)
        if (s != "files" && s != "dns") add_first("libnss_" + s + ".so.2", "rule: NSS service \"" + s + "\" in nsswitch.conf");
    }
    // iconv_open loads converters from gconv/ by name at run time: which
    // ones the program will ask for is unknowable, so all of them.
    std::string gconv = "/usr/lib/" + t + "/gconv";
    if (!m_iconv_user.empty() && !m_base.exists(gconv) && exists(gconv))
      m_out.add_host_path(gconv, "rule: " + m_iconv_user + " imports iconv_open, which loads gconv modules at run time");
    // A regenerated cache over the libraries added, keeping the base's
    // entries (its libraries stay where its cache says they are).
    if (!m_cache.empty()) {
      std::vector<elf::CacheEntry> entries = m_cache;
      std::set<std::string> ours;
      for (const elf::CacheEntry& e : m_cache) ours.insert(e.soname + "\n" + e.hwcaps);
      if (!m_base.ld_so_cache().empty()) {
        auto base_cache = elf::LdCache::parse(m_base.ld_so_cache());
        if (!base_cache) throw Error("the base's /etc/ld.so.cache (" + std::to_string(m_base.ld_so_cache().size()) + " bytes) is not a cache glibc reads; rebuild the base");
        for (const elf::CacheEntry& e : base_cache->entries())
          if (!ours.count(e.soname + "\n" + e.hwcaps)) entries.push_back(e);
      }
      std::string arch = debian_arch_of_triplet(t);
      m_out.add_content("/etc/ld.so.cache", elf::write_ld_so_cache(entries, elf::cache_flags(arch), elf::big_endian_arch(arch)), 0644,
                        m_base.ld_so_cache().empty() ? "rule: regenerated for the libraries in the image"
                                                     : "rule: the base's ld.so.cache plus the libraries added");
    }
  }
  if (!m_base.exists("/etc/ssl/certs/ca-certificates.crt") && exists("/etc/ssl/certs/ca-certificates.crt"))
    m_out.add_host_path("/etc/ssl/certs/ca-certificates.crt", "rule: the CA bundle");
  if (tzdata && !m_base.exists("/usr/share/zoneinfo") && exists("/usr/share/zoneinfo"))
    m_out.add_host_path("/usr/share/zoneinfo", "rule: tzdata asked for");
}

}  // namespace distill
