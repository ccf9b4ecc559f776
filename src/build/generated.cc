#include "build/generated.h"

#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <algorithm>
#include <ctime>
#include <map>

#include "base/error.h"
#include "build/presets.h"

namespace distill {

namespace {

LayerEntry file(std::string path, std::string content, uint32_t mode = 0644) {
  LayerEntry e;
  e.path = std::move(path);
  e.content = std::move(content);
  e.size = e.content.size();
  e.mode = mode;
  return e;
}

LayerEntry dir(std::string path, uint32_t mode = 0755, uint32_t owner = 0) {
  LayerEntry e;
  e.path = std::move(path);
  e.type = LayerEntry::Type::directory;
  e.mode = mode;
  e.uid = e.gid = owner;
  return e;
}

LayerEntry symlink(std::string path, std::string target) {
  LayerEntry e;
  e.path = std::move(path);
  e.type = LayerEntry::Type::symlink;
  e.mode = 0777;
  e.link_target = std::move(target);
  return e;
}

/// Adds parents of every entry that are not entries themselves.
void add_parents(std::vector<LayerEntry>& entries) {
  std::map<std::string, bool> have;
  for (const LayerEntry& e : entries) have[e.path] = true;
  std::vector<LayerEntry> parents;
  for (const LayerEntry& e : entries)
    for (size_t slash = e.path.find('/'); slash != std::string::npos; slash = e.path.find('/', slash + 1)) {
      std::string p = e.path.substr(0, slash);
      if (!have[p]) {
        have[p] = true;
        parents.push_back(dir(p));
      }
    }
  entries.insert(entries.end(), parents.begin(), parents.end());
}

std::string read_slice(const LayerEntry& e) {
  if (e.source.empty()) return e.content;
  Fd fd = open_read(e.source);
  std::string out(e.size, '\0');
  if (::pread(fd.get(), out.data(), out.size(), static_cast<off_t>(e.source_offset)) != static_cast<ssize_t>(out.size()))
    throw Error("cannot read " + e.path + " from " + e.source);
  return out;
}

const char* kNsswitch =
    "# /etc/nsswitch.conf\n"
    "#\n"
    "# Example configuration of GNU Name Service Switch functionality.\n"
    "# If you have the `glibc-doc-reference' and `info' packages installed, try:\n"
    "# `info libc \"Name Service Switch\"' for information about this file.\n"
    "\n"
    "passwd:         compat\n"
    "group:          compat\n"
    "shadow:         compat\n"
    "gshadow:        files\n"
    "\n"
    "hosts:          files dns\n"
    "networks:       files\n"
    "\n"
    "protocols:      db files\n"
    "services:       db files\n"
    "ethers:         db files\n"
    "rpc:            db files\n"
    "\n"
    "netgroup:       nis\n";

std::string os_release(const std::string& suite) {
  std::string number = suite == "bookworm" ? "12" : "13";
  return "PRETTY_NAME=\"Distroless\"\n"
         "NAME=\"Debian GNU/Linux\"\n"
         "ID=\"debian\"\n"
         "VERSION_ID=\"" + number + "\"\n"
         "VERSION=\"Debian GNU/Linux " + number + " (" + suite + ")\"\n"
         "HOME_URL=\"https://github.com/GoogleContainerTools/distroless\"\n"
         "SUPPORT_URL=\"https://github.com/GoogleContainerTools/distroless/blob/master/README.md\"\n"
         "BUG_REPORT_URL=\"https://github.com/GoogleContainerTools/distroless/issues/new\"\n";
}

void put_u16(std::string& s, uint16_t v) {
  s += static_cast<char>(v >> 8);
  s += static_cast<char>(v & 0xff);
}
void put_u32(std::string& s, uint32_t v) {
  put_u16(s, static_cast<uint16_t>(v >> 16));
  put_u16(s, static_cast<uint16_t>(v & 0xffff));
}
void put_u64(std::string& s, uint64_t v) {
  put_u32(s, static_cast<uint32_t>(v >> 32));
  put_u32(s, static_cast<uint32_t>(v & 0xffffffff));
}
void put_utf(std::string& s, const std::string& v) {
  // Java's modified UTF-8; DNs here are ASCII or plain UTF-8 without NULs.
  put_u16(s, static_cast<uint16_t>(v.size()));
  s += v;
}

std::vector<std::string> applets_in(const std::string& binary) {
  // Several places may hold "[\0[[\0"; the applet table is the one that
  // reads as the longest sorted run of names.
  std::vector<std::string> best;
  static const std::string start("[\0[[\0", 5);
  for (size_t at = binary.find(start); at != std::string::npos; at = binary.find(start, at + 1)) {
    std::vector<std::string> out;
    size_t pos = at;
    while (pos < binary.size()) {
      size_t end = binary.find('\0', pos);
      if (end == std::string::npos || end == pos) break;
      std::string name = binary.substr(pos, end - pos);
      bool ok = name.size() < 32;
      for (char c : name)
        ok = ok && (std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '[' ||
                    c == '-' || c == '_' || c == '.');
      if (!ok || (!out.empty() && name <= out.back())) break;
      out.push_back(name);
      pos = end + 1;
    }
    if (out.size() > best.size()) best = std::move(out);
  }
  return best;
}

}  // namespace

std::string ca_bundle(const deb::DebContents& deb) {
  std::vector<const LayerEntry*> certs;
  for (const LayerEntry& e : deb.entries)
    if (e.type == LayerEntry::Type::file && e.path.starts_with("usr/share/ca-certificates/")) certs.push_back(&e);
  std::sort(certs.begin(), certs.end(), [](const LayerEntry* a, const LayerEntry* b) { return a->path < b->path; });
  std::string out;
  for (const LayerEntry* e : certs) {
    std::string text = read_slice(*e);
    size_t pos = 0;
    while (pos < text.size()) {
      size_t eol = text.find('\n', pos);
      if (eol == std::string::npos) eol = text.size();
      out.append(text, pos, eol - pos);
      out += '\n';
      pos = eol + 1;
    }
  }
  return out;
}

std::string java_keystore(const std::string& pem_bundle) {
  BIO* bio = BIO_new_mem_buf(pem_bundle.data(), static_cast<int>(pem_bundle.size()));
  std::map<std::string, std::pair<uint64_t, std::string>> entries;  // alias -> (date ms, DER)
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    char* dn = X509_NAME_oneline(X509_get_subject_name(cert), nullptr, 0);
    std::string alias = dn ? dn : "certificate";
    OPENSSL_free(dn);
    std::transform(alias.begin(), alias.end(), alias.begin(), [](unsigned char c) { return std::tolower(c); });
    std::tm tm{};
    ASN1_TIME_to_tm(X509_get0_notBefore(cert), &tm);
    uint64_t ms = static_cast<uint64_t>(::timegm(&tm)) * 1000;
    int len = i2d_X509(cert, nullptr);
    std::string der(static_cast<size_t>(len), '\0');
    unsigned char* p = reinterpret_cast<unsigned char*>(der.data());
    i2d_X509(cert, &p);
    X509_free(cert);
    std::string unique = alias;
    for (int n = 2; entries.count(unique); ++n) unique = alias + " [" + std::to_string(n) + "]";
    entries[unique] = {ms, der};
  }
  BIO_free(bio);
  std::string ks;
  put_u32(ks, 0xFEEDFEED);
  put_u32(ks, 2);
  put_u32(ks, static_cast<uint32_t>(entries.size()));
  for (const auto& [alias, value] : entries) {
    put_u32(ks, 2);  // trusted certificate entry
    put_utf(ks, alias);
    put_u64(ks, value.first);
    put_utf(ks, "X.509");
    put_u32(ks, static_cast<uint32_t>(value.second.size()));
    ks += value.second;
  }
  // Integrity check: SHA-1 over the password (UTF-16BE), "Mighty Aphrodite"
  // and the keystore bytes (sun.security.provider.JavaKeyStore).
  std::string keyed;
  for (char c : std::string("changeit")) {
    keyed += '\0';
    keyed += c;
  }
  keyed += "Mighty Aphrodite";
  keyed += ks;
  unsigned char sha[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(keyed.data()), keyed.size(), sha);
  ks.append(reinterpret_cast<const char*>(sha), sizeof sha);
  return ks;
}

bool derive_package(const std::string& name, deb::DebContents& deb, std::vector<LayerEntry>& entries) {
  if (name == "ca-certificates") {
    std::string bundle = ca_bundle(deb);
    entries.clear();
    for (const LayerEntry& e : deb.entries)
      if (e.path == "usr/share/doc/ca-certificates/copyright") {
        LayerEntry c = e;
        c.mode = 0555;
        entries.push_back(c);
      }
    entries.push_back(file("etc/ssl/certs/ca-certificates.crt", bundle, 0555));
    add_parents(entries);
    return true;
  }
  if (name == "libc-bin") {
    // distroless's java images: only the C.UTF-8 locale, which LANG=C.UTF-8
    // names (without it Java 17 falls back to ASCII), and none of the tools.
    entries.clear();
    for (const LayerEntry& e : deb.entries)
      if (e.path.starts_with("usr/lib/locale/C.utf8/") || e.path == "usr/share/doc/libc-bin/copyright")
        entries.push_back(e);
    if (std::none_of(entries.begin(), entries.end(),
                     [](const LayerEntry& e) { return e.path == "usr/lib/locale/C.utf8/LC_CTYPE"; }))
      throw Error("libc-bin: the package has no /usr/lib/locale/C.utf8/LC_CTYPE");
    add_parents(entries);
    return true;
  }
  if (name == "busybox-static") {
    entries.clear();
    for (const LayerEntry& e : deb.entries) {
      if (e.path == "usr/bin/busybox" || e.path == "bin/busybox") {
        LayerEntry b = e;
        b.path = "busybox/busybox";
        b.mode = 0755;
        entries.push_back(b);
      } else if (e.path == "usr/share/doc/busybox-static/copyright") {
        entries.push_back(e);
      }
    }
    if (entries.empty() || entries.front().path != "busybox/busybox")
      if (std::none_of(entries.begin(), entries.end(), [](const LayerEntry& e) { return e.path == "busybox/busybox"; }))
        throw Error("busybox-static: the package has no /bin/busybox");
    // Link only applets this busybox has: its sorted, NUL-separated
    // applet_names table ("[\0[[\0acpid\0...") is read from the binary (it
    // cannot be run for another architecture). distroless's list is the
    // fallback when the table is not found.
    std::string binary;
    for (const LayerEntry& e : entries)
      if (e.path == "busybox/busybox") binary = read_slice(e);
    std::vector<std::string> applets = applets_in(binary);
    if (applets.size() < 50) applets = busybox_applets();
    for (const std::string& applet : applets)
      if (applet != "busybox") entries.push_back(symlink("busybox/" + applet, "/busybox/busybox"));
    add_parents(entries);
    return true;
  }
  return false;
}

std::vector<LayerEntry> generated_entries(const Spec& spec, const std::string& arch, bool merged_usr,
                                          const std::vector<std::string>& installed, const std::string& bundle,
                                          const std::string& ld_so_cache) {
  std::vector<LayerEntry> out;
  auto has = [&](const std::string& name) { return std::find(installed.begin(), installed.end(), name) != installed.end(); };
  if (merged_usr) {
    std::vector<std::string> dirs = {"bin", "lib", "sbin"};
    if (arch == "amd64" || arch == "ppc64el" || arch == "s390x" || arch == "mips64el") dirs.push_back("lib64");
    for (const std::string& d : dirs) out.push_back(symlink(d, "usr/" + d));
  }
  if (spec.generated.rootfs) {
    out.push_back(file("etc/passwd",
                       "root:x:0:0:root:/root:/sbin/nologin\n"
                       "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
                       "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"));
    out.push_back(file("etc/group", "root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n"));
    out.push_back(file("etc/nsswitch.conf", kNsswitch));
    out.push_back(file("usr/lib/os-release", os_release(spec.generated.suite), 0555));
    out.push_back(symlink("etc/os-release", "../usr/lib/os-release"));
    out.push_back(dir("tmp", 01777));
    out.push_back(dir("root", 0700));
    out.push_back(dir("home"));
    out.push_back(dir("home/nonroot", 0700, 65532));
  }
  // Java: the alternatives symlink and the keystore its cacerts points at.
  for (const std::string& name : installed) {
    if (!(name.starts_with("openjdk-") && name.ends_with("-jre-headless"))) continue;
    std::string major = name.substr(8, name.find('-', 8) - 8);
    out.push_back(symlink("usr/bin/java", "/usr/lib/jvm/java-" + major + "-openjdk-" + arch + "/bin/java"));
    if (!bundle.empty()) out.push_back(file("etc/ssl/certs/java/cacerts", java_keystore(bundle), 0555));
  }
  // ca-certificates' postinst (update-ca-certificates): the bundle, unless a
  // preset derives the package (its own layer holds the bundle then, as
  // distroless's does).
  if (has("ca-certificates") && !spec.generated.derived.count("ca-certificates") && !bundle.empty())
    out.push_back(file("etc/ssl/certs/ca-certificates.crt", bundle));
  // What libc-bin's trigger (ldconfig) would leave: find_library() needs it.
  if (!ld_so_cache.empty()) out.push_back(file("etc/ld.so.cache", ld_so_cache));
  add_parents(out);
  order_for_tar(out);
  return out;
}

}  // namespace distill
