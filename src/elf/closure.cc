#include "elf/closure.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <deque>
#include <set>

#include "base/error.h"
#include "base/fs.h"

namespace distill::elf {

namespace {

template <typename Ehdr, typename Phdr, typename Dyn>
std::optional<ElfInfo> parse(const std::string& data) {
  if (data.size() < sizeof(Ehdr)) return std::nullopt;
  Ehdr eh;
  std::memcpy(&eh, data.data(), sizeof eh);
  ElfInfo info;
  info.is64 = sizeof(Ehdr) == sizeof(Elf64_Ehdr);
  info.machine = eh.e_machine;
  info.type = eh.e_type;
  if (eh.e_phentsize != sizeof(Phdr) || eh.e_phoff + uint64_t(eh.e_phnum) * sizeof(Phdr) > data.size()) return info;
  std::vector<Phdr> ph(eh.e_phnum);
  std::memcpy(ph.data(), data.data() + eh.e_phoff, eh.e_phnum * sizeof(Phdr));
  uint64_t dyn_off = 0, dyn_size = 0;
  for (const Phdr& p : ph) {
    if (p.p_type == PT_INTERP && p.p_offset + p.p_filesz <= data.size())
      info.interpreter = std::string(data.data() + p.p_offset, ::strnlen(data.data() + p.p_offset, p.p_filesz));
    if (p.p_type == PT_DYNAMIC) {
      dyn_off = p.p_offset;
      dyn_size = p.p_filesz;
    }
  }
  if (!dyn_size || dyn_off + dyn_size > data.size()) return info;
  std::vector<Dyn> dyn(dyn_size / sizeof(Dyn));
  std::memcpy(dyn.data(), data.data() + dyn_off, dyn.size() * sizeof(Dyn));
  uint64_t strtab = 0;
  for (const Dyn& d : dyn)
    if (d.d_tag == DT_STRTAB) strtab = d.d_un.d_ptr;
  uint64_t str_off = 0;
  bool mapped = false;
  for (const Phdr& p : ph)
    if (p.p_type == PT_LOAD && strtab >= p.p_vaddr && strtab < p.p_vaddr + p.p_filesz) {
      str_off = p.p_offset + (strtab - p.p_vaddr);
      mapped = true;
    }
  if (!mapped) return info;
  auto str = [&](uint64_t o) -> std::string {
    if (str_off + o >= data.size()) return "";
    const char* s = data.data() + str_off + o;
    return std::string(s, ::strnlen(s, data.size() - str_off - o));
  };
  auto split = [](const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= s.size()) {
      size_t end = s.find(':', start);
      if (end == std::string::npos) end = s.size();
      out.push_back(s.substr(start, end - start));
      start = end + 1;
    }
    return out;
  };
  for (const Dyn& d : dyn) {
    if (d.d_tag == DT_NULL) break;
    if (d.d_tag == DT_NEEDED) info.needed.push_back(str(d.d_un.d_val));
    if (d.d_tag == DT_SONAME) info.soname = str(d.d_un.d_val);
    if (d.d_tag == DT_RPATH) info.rpath = split(str(d.d_un.d_val));
    if (d.d_tag == DT_RUNPATH) {
      info.runpath = split(str(d.d_un.d_val));
      info.has_runpath = true;
    }
    if (d.d_tag == DT_FLAGS_1 && (d.d_un.d_val & DF_1_NODEFLIB)) info.nodeflib = true;
  }
  return info;
}

/// Joins an absolute path onto the root, following symlinks inside it
/// (absolute targets stay inside the root, as in a chroot).
std::string in_root(const std::string& root, const std::string& path) {
  if (root == "/" || root.empty()) return path;
  return (root.ends_with("/") ? root.substr(0, root.size() - 1) : root) + path;
}

bool is_file(const std::string& root, const std::string& path) {
  struct stat st;
  return ::stat(in_root(root, path).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string dirname(const std::string& p) {
  auto slash = p.rfind('/');
  return slash == 0 ? "/" : slash == std::string::npos ? "." : p.substr(0, slash);
}

std::string normalize_impl(const std::string& p) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string::npos) end = p.size();
    std::string part = p.substr(start, end - start);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = end + 1;
  }
  std::string out;
  for (const auto& part : parts) out += "/" + part;
  return out.empty() ? "/" : out;
}

/// The path with every symlink resolved inside the root.
std::string resolve_links(const std::string& root, const std::string& path) {
  std::string done;
  std::string rest = normalize_impl(path);
  for (int hops = 0; hops < 64;) {
    size_t start = 1;
    std::string cur;
    bool changed = false;
    while (start <= rest.size()) {
      size_t end = rest.find('/', start);
      if (end == std::string::npos) end = rest.size();
      cur += "/" + rest.substr(start, end - start);
      char buf[4096];
      ssize_t n = ::readlink(in_root(root, cur).c_str(), buf, sizeof buf - 1);
      if (n > 0) {
        buf[n] = 0;
        std::string target = buf;
        std::string tail = end < rest.size() ? rest.substr(end) : "";
        rest = normalize_impl((target.starts_with("/") ? target : dirname(cur) + "/" + target) + tail);
        changed = true;
        ++hops;
        break;
      }
      start = end + 1;
    }
    if (!changed) return rest;
  }
  return rest;
}

std::optional<std::map<std::string, std::string>> read_ld_cache(const std::string& root) {
  std::string file = in_root(root, "/etc/ld.so.cache");
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::nullopt;
  std::string data = read_file(file);
  size_t base = data.find("glibc-ld.so.cache1.1");
  if (base == std::string::npos) return std::nullopt;
  auto u32 = [&](size_t at) {
    uint32_t v = 0;
    if (at + 4 <= data.size()) std::memcpy(&v, data.data() + at, 4);
    return v;
  };
  uint32_t n = u32(base + 20);
  std::map<std::string, std::string> out;  // first entry per soname wins, as ld.so's search
  for (uint32_t i = 0; i < n; ++i) {
    size_t e = base + 48 + size_t(i) * 24;
    if (e + 24 > data.size()) break;
    uint32_t key = u32(e + 4), value = u32(e + 8);
    uint64_t hwcap = 0;
    std::memcpy(&hwcap, data.data() + e + 16, 8);
    if (hwcap != 0) continue;  // glibc-hwcaps entries: the plain ones suffice here
    if (base + key >= data.size() || base + value >= data.size()) continue;
    out.emplace(std::string(data.c_str() + base + key), std::string(data.c_str() + base + value));
  }
  return out;
}

}  // namespace

std::string normalize_path(const std::string& path) { return normalize_impl(path); }

std::optional<ElfInfo> read_elf(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 64) return std::nullopt;
  // Program and dynamic headers sit in the first pages of any real object,
  // but the string table may not: read the file whole (objects are small
  // next to layers, and this runs once per object).
  std::string data(static_cast<size_t>(st.st_size), '\0');
  if (read_some(fd.get(), data, path) != data.size()) return std::nullopt;
  if (std::memcmp(data.data(), ELFMAG, SELFMAG) != 0) return std::nullopt;
  if (data[EI_DATA] != ELFDATA2LSB) return std::nullopt;  // big-endian objects: not read yet
  std::optional<ElfInfo> info = data[EI_CLASS] == ELFCLASS64 ? parse<Elf64_Ehdr, Elf64_Phdr, Elf64_Dyn>(data)
                                                             : parse<Elf32_Ehdr, Elf32_Phdr, Elf32_Dyn>(data);
  return info;
}

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

Closure resolve_closure(const std::string& program, const ClosureOptions& options) {
  const std::string& root = options.root;
  std::optional<ElfInfo> main = read_elf(in_root(root, program));
  if (!main) throw Error(program + " is not an ELF program (or cannot be read)");
  if (main->interpreter.empty()) throw Error(program + " is statically linked: it needs no libraries (add it with files:)");
  Closure closure;
  closure.interpreter = main->interpreter;
  std::string triplet = triplet_for_machine(main->machine, main->is64);
  auto cache = read_ld_cache(root);
  std::vector<std::string> defaults = {"/lib/" + triplet, "/usr/lib/" + triplet, "/lib", "/usr/lib"};

  struct Node {
    std::string path;
    ElfInfo info;
    int parent;  // index of the loader, -1 for the program
  };
  std::vector<Node> nodes;
  std::set<std::string> loaded_names, loaded_paths;
  auto compatible = [&](const ElfInfo& i) { return i.machine == main->machine && i.is64 == main->is64; };
  auto expand = [&](const std::string& entry, const std::string& origin) {
    std::string out = entry;
    for (const char* token : {"$ORIGIN", "${ORIGIN}"})
      for (size_t at; (at = out.find(token)) != std::string::npos;) out.replace(at, std::strlen(token), origin);
    for (const char* token : {"$LIB", "${LIB}"})
      for (size_t at; (at = out.find(token)) != std::string::npos;) out.replace(at, std::strlen(token), "lib/" + triplet);
    std::string platform = main->machine == EM_X86_64 ? "x86_64" : main->machine == EM_AARCH64 ? "aarch64" : "";
    for (const char* token : {"$PLATFORM", "${PLATFORM}"})
      for (size_t at; (at = out.find(token)) != std::string::npos;) out.replace(at, std::strlen(token), platform);
    return out;
  };
  auto origin_of = [&](int i) {
    // The program's $ORIGIN is its resolved path's directory (/proc/self/exe);
    // a library's is the directory of the path it was found at.
    return i == 0 ? dirname(resolve_links(root, nodes[0].path)) : dirname(nodes[static_cast<size_t>(i)].path);
  };
  auto try_dir = [&](const std::string& dir, const std::string& name) -> std::optional<std::pair<std::string, ElfInfo>> {
    if (dir.empty()) return std::nullopt;
    // Not normalized: the loader keeps "bin/../lib" as it built it.
    std::string path = (dir.ends_with("/") ? dir : dir + "/") + name;
    if (!is_file(root, path)) return std::nullopt;
    auto info = read_elf(in_root(root, path));
    if (!info || !compatible(*info)) return std::nullopt;  // wrong class or machine: search on
    return std::make_pair(path, *info);
  };

  nodes.push_back({program, *main, -1});
  closure.objects.push_back({program, program, "", "program"});
  // The interpreter is loaded first by the kernel; ld.so counts it as loaded.
  if (auto interp = read_elf(in_root(root, main->interpreter))) {
    closure.objects.push_back({main->interpreter, main->interpreter, program, "interpreter"});
    loaded_paths.insert(resolve_links(root, main->interpreter));
    loaded_names.insert(main->interpreter.substr(main->interpreter.rfind('/') + 1));
    if (!interp->soname.empty()) loaded_names.insert(interp->soname);
  } else {
    closure.missing.push_back(main->interpreter + " (the program interpreter of " + program + ")");
  }
  std::deque<std::pair<int, std::string>> queue;  // (loader, needed name): breadth first
  for (const std::string& n : main->needed) queue.emplace_back(0, n);
  while (!queue.empty()) {
    auto [loader, name] = queue.front();
    queue.pop_front();
    if (loaded_names.count(name)) continue;
    // A copy: nodes grows below, which would leave a reference dangling.
    const Node l = nodes[static_cast<size_t>(loader)];
    std::optional<std::pair<std::string, ElfInfo>> found;
    std::string via;
    std::vector<std::string> looked;
    if (name.find('/') != std::string::npos) {
      found = try_dir(dirname(expand(name, origin_of(loader))), name.substr(name.rfind('/') + 1));
      via = "path";
    } else {
      if (!l.info.has_runpath) {
        // RPATH of the loader, then up its chain of loaders, then the program's.
        for (int i = loader; i >= 0 && !found; i = nodes[static_cast<size_t>(i)].parent)
          for (const std::string& d : nodes[static_cast<size_t>(i)].info.rpath) {
            if (nodes[static_cast<size_t>(i)].info.has_runpath) break;
            std::string dir = expand(d, origin_of(i));
            looked.push_back(dir);
            if ((found = try_dir(dir, name))) break;
          }
        if (found) via = "RPATH";
      }
      if (!found)
        for (const std::string& d : options.library_path) {
          looked.push_back(d);
          if ((found = try_dir(d, name))) {
            via = "LD_LIBRARY_PATH";
            break;
          }
        }
      if (!found)
        for (const std::string& d : l.info.runpath) {
          std::string dir = expand(d, origin_of(loader));
          looked.push_back(dir);
          if ((found = try_dir(dir, name))) {
            via = "RUNPATH";
            break;
          }
        }
      if (!found && cache) {
        looked.push_back("/etc/ld.so.cache");
        if (auto it = cache->find(name); it != cache->end()) {
          bool in_default = false;
          for (const std::string& d : defaults) in_default = in_default || dirname(it->second) == d;
          if (!(l.info.nodeflib && in_default))
            if ((found = try_dir(dirname(it->second), it->second.substr(it->second.rfind('/') + 1)))) via = "ld.so.cache";
        }
      }
      if (!found && !l.info.nodeflib)
        for (const std::string& d : defaults) {
          looked.push_back(d);
          if ((found = try_dir(d, name))) {
            via = "default path";
            break;
          }
        }
    }
    if (!found) {
      std::string where;
      for (const std::string& d : looked) where += (where.empty() ? "" : ", ") + d;
      closure.missing.push_back(name + " (needed by " + l.path + "; looked in " + where + ")");
      loaded_names.insert(name);
      continue;
    }
    loaded_names.insert(name);
    std::string real = resolve_links(root, found->first);
    if (!found->second.soname.empty()) loaded_names.insert(found->second.soname);
    if (loaded_paths.count(real)) continue;  // the same object under another name
    loaded_paths.insert(real);
    int index = static_cast<int>(nodes.size());
    nodes.push_back({found->first, found->second, loader});
    closure.objects.push_back({name, found->first, l.path, via});
    for (const std::string& n : found->second.needed) queue.emplace_back(index, n);
  }
  return closure;
}

}  // namespace distill::elf
