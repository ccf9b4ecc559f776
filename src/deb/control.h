#pragma once
// deb822 control data (Debian Policy 5.1): paragraphs of "Field: value"
// lines, continuation lines starting with a space or tab, paragraphs
// separated by blank lines. Field names compare case-insensitively.
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "deb/version.h"

namespace distill::deb {

struct Paragraph {
  std::vector<std::pair<std::string_view, std::string_view>> fields;  // values trimmed
  std::string_view text;  // the whole paragraph, as written
  size_t line = 0;        // first line, 1-based

  /// The field's value, or "" if absent.
  std::string_view get(std::string_view name) const;
  bool has(std::string_view name) const;
};

/// Calls `visit` for every paragraph of `text` (views point into `text`).
/// Lines starting with '#' are comments (deb822 sources files).
/// Throws Error naming `what` and the line for a malformed line.
void for_each_paragraph(std::string_view text, const std::string& what, const std::function<void(const Paragraph&)>& visit);

std::vector<std::string> split_words(std::string_view text);

/// One alternative of a dependency: name[:arch] [(op version)].
struct Dependency {
  std::string name;
  std::string arch;  // "" | "any" | "native" | an architecture
  Relation op = Relation::any;
  std::string version;
  std::string str() const;  // as Debian writes it
};
using OrGroup = std::vector<Dependency>;

/// Parses a relationship field ("a (>= 1) | b, c:any"). Architecture lists
/// ([amd64]) and build profiles (<!nocheck>) are dropped: they do not occur
/// in binary package indexes. Throws Error naming `what`.
std::vector<OrGroup> parse_relations(std::string_view field, const std::string& what);

}  // namespace distill::deb
