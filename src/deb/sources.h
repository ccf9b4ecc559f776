#pragma once
// Debian repository declarations, as apt reads them: one-line sources.list
// style ("deb [signed-by=K arch=a,b] URL SUITE COMPONENT...") and deb822
// .sources stanzas (Types, URIs, Suites, Components, Architectures,
// Signed-By).
#include <string>
#include <vector>

#include "base/fs.h"

namespace distill::deb {

struct Source {
  std::string uri;                      // without a trailing '/'
  std::string suite;                    // "trixie", "trixie-security", or "./" style flat
  std::vector<std::string> components;  // "main"
  std::vector<std::string> archs;       // empty: every architecture asked for
  std::vector<std::string> signed_by;   // keyring files (or inline armored keys)
  std::string origin;                   // where it was declared, for messages
  bool optional = false;                // a default (-updates, -security) a mirror may lack

  std::string str() const;  // "URL SUITE COMPONENTS" as in sources.list
};

/// Parses one-line entries; `what` names the file for messages. deb-src
/// lines and comments are skipped.
std::vector<Source> parse_one_line_sources(const std::string& text, const std::string& what);
std::vector<Source> parse_deb822_sources(const std::string& text, const std::string& what);

/// The host's apt sources (/etc/apt/sources.list and sources.list.d/*.list,
/// *.sources), or under `root` for tests. Only "deb" entries.
std::vector<Source> host_sources(const fs::path& root = "/");

/// The repositories to use when a spec names none: the Debian archives of
/// the host's apt sources (or `mirror`, when given) for `suite`, its
/// -updates and (when the host has one) -security suites.
std::vector<Source> default_sources(const std::string& suite, const std::string& mirror,
                                    const std::vector<Source>& host);

}  // namespace distill::deb
