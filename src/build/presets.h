#pragma once
// Built-in presets: specs shipped inside distill that reproduce Google's
// distroless images (static, base-nossl, base, cc, python3, java, nodejs) for
// Debian 13 (trixie) and 12 (bookworm), in the variants latest, nonroot,
// debug and debug-nonroot.
#include <string>

#include "build/spec.h"

namespace distill {

struct PresetRef {
  std::string name;     // static, base-nossl, base, cc, python3, java, nodejs
  std::string variant;  // latest, nonroot, debug, debug-nonroot
  bool debug() const { return variant.starts_with("debug"); }
  bool nonroot() const { return variant.ends_with("nonroot"); }
  /// Parses "NAME[:VARIANT]"; throws UsageError listing the choices.
  static PresetRef parse(const std::string& text);
};

/// What the generated layer of a preset holds beyond package effects.
struct PresetExtras {
  bool rootfs = false;  // passwd, group, nsswitch.conf, os-release, /tmp, /root, /home/nonroot
  bool busybox = false; // /busybox with applet links (debug variants)
  std::string suite;
};

/// The preset as a spec: packages (as distroless lists them, installed
/// without following dependencies, except the language runtimes nodejs and
/// openjdk, whose dependencies are resolved on top), paths and config.
Spec preset_spec(const PresetRef& preset, const std::string& suite);

/// Applies `spec` on top of `base` (for `from: preset:NAME`): packages,
/// files and paths are added; config fields the spec sets replace the
/// base's; env and labels merge.
Spec overlay(Spec base, const Spec& spec);

/// The busybox applets linked under /busybox in debug images (as distroless).
const std::vector<std::string>& busybox_applets();

}  // namespace distill
