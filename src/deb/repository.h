#pragma once
// Signed Debian repository indexes: InRelease (or Release + Release.gpg)
// checked with gpgv against the source's keyrings, then Packages files
// checked against the SHA256 and size the signed Release lists, fetched by
// hash when the repository offers it and cached in the store by digest.
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "deb/sources.h"
#include "digest/digest.h"
#include "http/http.h"
#include "store/store.h"
#include "ui/status.h"

namespace distill::deb {

/// One package paragraph of a Packages index. Views point into the index
/// text the PackageIndex keeps alive.
struct IndexedPackage {
  std::string_view name, version, arch, multi_arch, priority, section, source_name;
  std::string_view depends, pre_depends, recommends, suggests, conflicts, breaks, provides;
  std::string_view filename, sha256;
  uint64_t size = 0;
  bool essential = false;
  std::string_view paragraph;
  size_t source = 0;  // index into PackageIndex::sources
};

struct PackageIndex {
  std::string arch;
  std::vector<Source> sources;
  std::vector<std::unique_ptr<std::string>> texts;
  std::vector<IndexedPackage> packages;
  /// The verified Packages files, in order: their digests say what the
  /// index holds before it is parsed (a resolution cache key).
  struct File {
    Digest sha256;
    size_t source = 0;
    std::string what;
  };
  std::vector<File> files;
  bool parsed = false;
};

struct ReleaseInfo {
  std::string suite, codename;
  std::time_t date = 0, valid_until = 0;
  bool by_hash = false;
  std::vector<std::string> archs, components;
  struct File {
    Digest sha256;
    uint64_t size = 0;
  };
  std::map<std::string, File> files;  // path relative to dists/SUITE/
};

struct RepositoryOptions {
  std::vector<std::string> keyrings;  // used for sources without signed-by
  bool allow_expired = false;
  std::time_t now = 0;  // 0: the current time
};

/// Parses the signed text of a Release file; `what` names it in messages.
ReleaseInfo parse_release(std::string_view text, const std::string& what);

/// RFC 2822 dates as Release files write them ("Sat, 21 Nov 2026 09:15:44 UTC").
std::time_t parse_release_date(std::string_view text);

/// Checks an OpenPGP signature with gpgv and returns the signed text.
/// `detached_signature` empty: `signed_file` is clearsigned (InRelease).
std::string verify_signature(const std::string& signed_file, const std::string& detached_signature,
                             const std::vector<std::string>& keyrings, const std::string& what, const fs::path& tmp);

/// Fetches, verifies and (when `parse`) parses the indexes of `sources`
/// for `arch`. Unparsed, `files` names them; parse_index reads them later.
PackageIndex load_index(const std::vector<Source>& sources, const std::string& arch, const RepositoryOptions& options,
                        http::Client& client, Store& store, Status& status, bool parse = true);
/// Decompresses and parses the verified Packages files of `index`.
void parse_index(PackageIndex& index, Store& store);

/// Parses one Packages text (kept by the caller) into `index`.
void parse_packages(std::string_view text, size_t source, const std::string& what, PackageIndex& index);

}  // namespace distill::deb
