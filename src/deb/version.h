#pragma once
// Debian version numbers and their ordering (Debian Policy 5.6.12, dpkg's
// verrevcmp): [epoch:]upstream[-revision], where '~' sorts before anything,
// even the end of the string, and letters sort before other characters.
#include <string>
#include <string_view>

namespace distill::deb {

struct Version {
  unsigned long epoch = 0;
  std::string upstream;
  std::string revision;

  /// Parses a version; throws Error for an empty or malformed one.
  static Version parse(std::string_view text);
  std::string str() const;
};

/// <0, 0, >0 as a is older than, equal to, newer than b.
int compare_versions(std::string_view a, std::string_view b);
int compare_versions(const Version& a, const Version& b);

/// A version relation in a dependency: <<, <=, =, >=, >>.
enum class Relation { any, lt, le, eq, ge, gt };

Relation parse_relation(std::string_view op);
const char* relation_str(Relation r);
/// True if `version` satisfies "(op wanted)".
bool satisfies(std::string_view version, Relation op, std::string_view wanted);

}  // namespace distill::deb
