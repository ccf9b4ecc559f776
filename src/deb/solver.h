#pragma once
// Dependency resolution that gives apt's answers: requested packages are
// installed at their candidate version (the highest version the
// repositories offer, or the pinned one), then, depth first, every
// Pre-Depends and Depends group not yet satisfied is satisfied by its first
// alternative whose candidate fits (for a virtual package: its best
// provider), as apt's MarkInstall does. Conflicts and Breaks are honoured.
// Failures explain the chain that led to them.
#include <map>
#include <string>
#include <vector>

#include "deb/control.h"
#include "deb/repository.h"

namespace distill::deb {

/// A package as a spec names it: "name", "name=VERSION", "name:ARCH",
/// "!name" (excluded: counts as installed, never unpacked).
struct PackageRequest {
  std::string name, arch, version;
  bool exclude = false;
  bool nodeps = false;  // installed as listed, its dependencies not followed (presets, as distroless)
  std::string text;
  static PackageRequest parse(const std::string& text);
};

struct SolveOptions {
  bool recommends = false;
  bool suggests = false;
};

struct Reason {
  std::string parent;   // "" when requested
  std::string version;  // of the parent
  std::string via;      // the relation that pulled it in, "Depends: libc6 (>= 2.36)"
};

struct Resolution {
  std::vector<const IndexedPackage*> packages;  // to install, sorted by name
  std::vector<const IndexedPackage*> excluded;  // treated as installed
  std::map<std::string, Reason> reasons;        // why each package is there
};

/// Resolves `requests` against `index`; throws Error explaining failures.
Resolution solve(const PackageIndex& index, const std::vector<PackageRequest>& requests, const SolveOptions& options);

/// "python3.13-minimal <- needed by python3.13 3.13.5-2 (Depends: ...) <- requested".
std::string explain(const Resolution& r, const std::string& name);

}  // namespace distill::deb
