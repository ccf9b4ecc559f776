#pragma once
// Files a build writes itself where a Debian system would run maintainer
// scripts or distroless would add generated layers: users and groups,
// nsswitch.conf, os-release, /tmp, /root, /home/nonroot, the CA bundle, the
// Java keystore, the alternatives symlinks, merged-/usr links.
#include <string>
#include <vector>

#include "archive/tar.h"
#include "build/spec.h"
#include "deb/deb_file.h"

namespace distill {

/// /etc/ssl/certs/ca-certificates.crt from the certificates a
/// ca-certificates package ships under /usr/share/ca-certificates: every
/// file in path order, line by line, as distroless's cacerts rule does.
std::string ca_bundle(const deb::DebContents& deb);

/// A JKS keystore (the format Java's cacerts uses) of every certificate in
/// a PEM bundle, as trusted-certificate entries, with the password
/// "changeit". Aliases are the lower-cased subject DNs, entry dates the
/// certificates' notBefore, so the bytes depend only on the bundle.
std::string java_keystore(const std::string& pem_bundle);

/// The generated layer of one architecture. `installed` names the packages
/// in the image; `bundle` is the CA bundle when ca-certificates is one: the
/// Java keystore's source, and /etc/ssl/certs/ca-certificates.crt itself
/// unless the spec derives ca-certificates (its package layer has it then).
std::vector<LayerEntry> generated_entries(const Spec& spec, const std::string& arch, bool merged_usr,
                                          const std::vector<std::string>& installed, const std::string& bundle,
                                          const std::string& ld_so_cache);

/// Keeps only what a preset takes of a package whose effect distroless
/// generates (ca-certificates: the bundle and copyright; busybox-static:
/// /busybox/busybox and applet links; libc-bin: the C.UTF-8 locale). Returns false if `name` is not one.
bool derive_package(const std::string& name, deb::DebContents& deb, std::vector<LayerEntry>& entries);

}  // namespace distill
