#pragma once
// Debian packages in a build: resolve the spec's `contents:` per
// architecture (or read the lockfile), download the .debs verified against
// the index, and turn each into a layer.
#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "build/builder.h"
#include "build/spec.h"
#include "deb/deb_file.h"
#include "deb/solver.h"
#include "http/http.h"
#include "ui/status.h"

namespace distill {

/// Options from the command line that shape resolution.
struct ResolveOptions {
  std::string suite = "trixie";  // for default repositories
  std::string mirror;            // --mirror / DISTILL_MIRROR
  bool allow_expired = false;
  std::vector<std::string> default_keyrings;  // when the spec and sources name none
};

struct LockedPackage {
  std::string name, version, arch;
  std::string repository;  // "URI SUITE"
  std::string url;         // where the .deb is
  std::string filename;
  uint64_t size = 0;
  Digest sha256;
};

struct Lockfile {
  Digest inputs;  // digest of what the resolution depended on (see lock_inputs)
  std::vector<std::string> archs;
  std::map<std::string, std::vector<LockedPackage>> packages;  // per Debian arch, sorted by name
  std::map<std::string, std::vector<std::string>> excluded;
  /// Why each package is there, per arch: name -> "parent version (via)".
  std::map<std::string, std::map<std::string, deb::Reason>> reasons;

  nlohmann::json to_json() const;
  static Lockfile from_json(const nlohmann::json& j, const std::string& what);
};

/// The Debian architecture names a spec builds for (default: the host's).
std::vector<std::string> spec_debian_archs(const Spec& spec);

/// The lockfile beside a spec: image.yaml -> image.lock.json.
fs::path lockfile_path(const fs::path& spec);

/// The digest of everything the lock depends on: repositories, packages,
/// recommends/suggests, architectures, suite and mirror defaults.
Digest lock_inputs(const Spec& spec, const ResolveOptions& options);

/// Resolves the spec's packages for every architecture, with the same
/// version of each package across architectures.
Lockfile resolve_packages(const Spec& spec, const ResolveOptions& options, http::Client& client, Store& store,
                          Status& status);

/// Every locked .deb missing from the store, downloaded (verified) in the
/// background, largest first: package layers start as soon as their own
/// .debs are in instead of after the last download.
class PackageDownloads {
 public:
  PackageDownloads(const Lockfile& lock, http::Client& client, Store& store, Status& status);
  /// Waits for the downloads still running: none outlives the store.
  ~PackageDownloads();
  PackageDownloads(const PackageDownloads&) = delete;
  PackageDownloads& operator=(const PackageDownloads&) = delete;

  /// Returns once the .deb with this digest is in the store (at once if it
  /// was there before); rethrows its download's error.
  void wait(const Digest& sha256) const;
  /// Waits for every download; rethrows the first failure (in digest order).
  void wait_all() const;

 private:
  std::unique_ptr<Status> m_status;
  std::unique_ptr<ThreadPool> m_pool;
  std::map<std::string, std::shared_future<void>> m_jobs;  // by sha256 hex
  std::atomic<size_t> m_left{0};
  std::atomic<uint64_t> m_done{0};
  uint64_t m_total = 0;
};

/// Splits packages (in order) into at most `max` groups (layering.max-layers):
/// the two smallest groups by .deb size merge, again and again. Each group
/// lists its packages' indexes in order; groups are in order of their first.
std::vector<std::vector<size_t>> group_packages(const std::vector<LockedPackage>& packages, size_t max);

/// One layer per package of `arch`, in name order, each holding the
/// package's files and its /var/lib/dpkg/status.d entries.
/// Packages in `derived` keep only their effect (see derive_package). With
/// max_layers > 0, the smallest packages share layers so at most that many
/// remain (layering.max-layers; see group_packages).
/// A layer waits in `downloads` (if given) for its own .debs only.
std::vector<BuiltLayer> package_layers(const Lockfile& lock, const std::string& arch, const deb::DebOptions& deb_options,
                                       const std::set<std::string>& derived, size_t max_layers, Store& store,
                                       ThreadPool& pool, const BuildOptions& options, Status& status,
                                       const PackageDownloads* downloads = nullptr);

/// The CA bundle of the locked ca-certificates package ("" if none).
std::string locked_ca_bundle(const Lockfile& lock, const std::string& arch, Store& store);

/// /etc/ld.so.cache for the locked packages of `arch` ("" when libc6 is not
/// one of them): every shared object in the library directories, keyed by
/// SONAME. Cached in the store by the packages' digests.
std::string ld_so_cache(const Lockfile& lock, const std::string& arch, const deb::DebOptions& deb_options, Store& store);

/// The multiarch triplet of a Debian architecture (x86_64-linux-gnu).
std::string multiarch_triplet(const std::string& arch);
/// The inverse: "x86_64-linux-gnu" -> "amd64" ("" when unknown).
std::string debian_arch_of_triplet(const std::string& triplet);


}  // namespace distill
