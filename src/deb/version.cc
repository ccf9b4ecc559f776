#include "deb/version.h"

#include <cctype>

#include "base/error.h"

namespace distill::deb {

Version Version::parse(std::string_view text) {
  Version v;
  std::string_view rest = text;
  if (rest.empty()) throw Error("empty version");
  if (auto colon = rest.find(':'); colon != std::string_view::npos) {
    std::string_view epoch = rest.substr(0, colon);
    if (epoch.empty() || epoch.find_first_not_of("0123456789") != std::string_view::npos)
      throw Error("version \"" + std::string(text) + "\": the epoch must be a number");
    v.epoch = std::stoul(std::string(epoch));
    rest.remove_prefix(colon + 1);
  }
  if (auto dash = rest.rfind('-'); dash != std::string_view::npos) {
    v.revision = std::string(rest.substr(dash + 1));
    rest = rest.substr(0, dash);
  }
  v.upstream = std::string(rest);
  if (v.upstream.empty() || !std::isdigit(static_cast<unsigned char>(v.upstream[0])))
    throw Error("version \"" + std::string(text) + "\": the upstream version must start with a digit");
  for (char c : v.upstream)
    if (!std::isalnum(static_cast<unsigned char>(c)) && std::string_view(".+-~:").find(c) == std::string_view::npos)
      throw Error("version \"" + std::string(text) + "\" has the character '" + std::string(1, c) + "'");
  return v;
}

std::string Version::str() const {
  std::string s;
  if (epoch) s = std::to_string(epoch) + ":";
  s += upstream;
  if (!revision.empty()) s += "-" + revision;
  return s;
}

namespace {

int order(char c) {
  if (std::isdigit(static_cast<unsigned char>(c))) return 0;
  if (std::isalpha(static_cast<unsigned char>(c))) return c;
  if (c == '~') return -1;
  if (c) return c + 256;
  return 0;
}

/// dpkg's verrevcmp: alternate non-digit and digit runs.
int verrevcmp(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    int first_diff = 0;
    while ((i < a.size() && !std::isdigit(static_cast<unsigned char>(a[i]))) ||
           (j < b.size() && !std::isdigit(static_cast<unsigned char>(b[j])))) {
      int ac = order(i < a.size() ? a[i] : 0);
      int bc = order(j < b.size() ? b[j] : 0);
      if (ac != bc) return ac - bc;
      ++i;
      ++j;
    }
    while (i < a.size() && a[i] == '0') ++i;
    while (j < b.size() && b[j] == '0') ++j;
    while (i < a.size() && std::isdigit(static_cast<unsigned char>(a[i])) && j < b.size() &&
           std::isdigit(static_cast<unsigned char>(b[j]))) {
      if (!first_diff) first_diff = a[i] - b[j];
      ++i;
      ++j;
    }
    if (i < a.size() && std::isdigit(static_cast<unsigned char>(a[i]))) return 1;
    if (j < b.size() && std::isdigit(static_cast<unsigned char>(b[j]))) return -1;
    if (first_diff) return first_diff;
  }
  return 0;
}

/// Splits without validating (indexes hold versions dpkg accepted).
void split(std::string_view v, unsigned long& epoch, std::string_view& upstream, std::string_view& revision) {
  epoch = 0;
  if (auto colon = v.find(':'); colon != std::string_view::npos) {
    for (char c : v.substr(0, colon))
      if (c >= '0' && c <= '9') epoch = epoch * 10 + static_cast<unsigned long>(c - '0');
    v.remove_prefix(colon + 1);
  }
  revision = {};
  if (auto dash = v.rfind('-'); dash != std::string_view::npos) {
    revision = v.substr(dash + 1);
    v = v.substr(0, dash);
  }
  upstream = v;
}

}  // namespace

int compare_versions(std::string_view a, std::string_view b) {
  unsigned long ea, eb;
  std::string_view ua, ub, ra, rb;
  split(a, ea, ua, ra);
  split(b, eb, ub, rb);
  if (ea != eb) return ea < eb ? -1 : 1;
  if (int c = verrevcmp(ua, ub)) return c < 0 ? -1 : 1;
  int c = verrevcmp(ra, rb);
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

int compare_versions(const Version& a, const Version& b) { return compare_versions(a.str(), b.str()); }

Relation parse_relation(std::string_view op) {
  if (op == "<<") return Relation::lt;
  if (op == "<=" || op == "<") return Relation::le;  // "<" and ">" are obsolete forms of <= and >=
  if (op == "=") return Relation::eq;
  if (op == ">=" || op == ">") return Relation::ge;
  if (op == ">>") return Relation::gt;
  throw Error("unknown version relation \"" + std::string(op) + "\" (use <<, <=, =, >= or >>)");
}

const char* relation_str(Relation r) {
  switch (r) {
    case Relation::any: return "";
    case Relation::lt: return "<<";
    case Relation::le: return "<=";
    case Relation::eq: return "=";
    case Relation::ge: return ">=";
    case Relation::gt: return ">>";
  }
  return "";
}

bool satisfies(std::string_view version, Relation op, std::string_view wanted) {
  if (op == Relation::any) return true;
  int c = compare_versions(version, wanted);
  switch (op) {
    case Relation::lt: return c < 0;
    case Relation::le: return c <= 0;
    case Relation::eq: return c == 0;
    case Relation::ge: return c >= 0;
    case Relation::gt: return c > 0;
    case Relation::any: return true;
  }
  return false;
}

}  // namespace distill::deb
