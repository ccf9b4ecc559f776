#include "deb/control.h"

#include <strings.h>

#include "base/error.h"

namespace distill::deb {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::string_view Paragraph::get(std::string_view name) const {
  for (const auto& [k, v] : fields)
    if (iequals(k, name)) return v;
  return {};
}

bool Paragraph::has(std::string_view name) const {
  for (const auto& [k, v] : fields)
    if (iequals(k, name)) return true;
  return false;
}

void for_each_paragraph(std::string_view text, const std::string& what, const std::function<void(const Paragraph&)>& visit) {
  Paragraph p;
  size_t pos = 0, line_no = 0;
  size_t para_start = std::string_view::npos;
  const char* value_start = nullptr;
  std::string_view key;
  auto end_field = [&](const char* value_end) {
    if (value_start) p.fields.emplace_back(key, trim(std::string_view(value_start, value_end - value_start)));
    value_start = nullptr;
  };
  auto end_paragraph = [&](size_t at) {
    end_field(text.data() + at);
    if (!p.fields.empty()) {
      p.text = text.substr(para_start, at - para_start);
      visit(p);
    }
    p.fields.clear();
    para_start = std::string_view::npos;
  };
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    ++line_no;
    if (trim(line).empty()) {
      if (para_start != std::string_view::npos) end_paragraph(pos);
    } else if (line[0] == '#') {
      // comment line
    } else if (line[0] == ' ' || line[0] == '\t') {
      if (!value_start) throw Error(what + ":" + std::to_string(line_no) + ": a continuation line without a field");
    } else {
      size_t colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0)
        throw Error(what + ":" + std::to_string(line_no) + ": expected \"Field: value\", got \"" +
                    std::string(line.substr(0, 60)) + "\"");
      if (para_start == std::string_view::npos) {
        para_start = pos;
        p.line = line_no;
      }
      end_field(text.data() + pos);
      key = line.substr(0, colon);
      value_start = line.data() + colon + 1;
    }
    pos = eol + 1;
  }
  if (para_start != std::string_view::npos) end_paragraph(text.size());
}

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    size_t start = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i > start) out.emplace_back(text.substr(start, i - start));
  }
  return out;
}

std::string Dependency::str() const {
  std::string s = name;
  if (!arch.empty()) s += ":" + arch;
  if (op != Relation::any) s += std::string(" (") + relation_str(op) + " " + version + ")";
  return s;
}

namespace {

Dependency parse_one(std::string_view text, const std::string& what) {
  // Drop [arch lists] and <build profiles>.
  std::string clean;
  int depth = 0;
  for (char c : text) {
    if (c == '[' || c == '<') {
      if (c == '<' && depth == 0 && clean.find('(') != std::string::npos && clean.find(')') == std::string::npos) {
        clean += c;  // part of "(<< 1)" or "(<= 1)"
        continue;
      }
      ++depth;
    } else if ((c == ']' || c == '>') && depth > 0) {
      --depth;
    } else if (depth == 0) {
      clean += c;
    }
  }
  std::string_view s = trim(clean);
  Dependency d;
  size_t paren = s.find('(');
  std::string_view name = trim(s.substr(0, paren));
  if (auto colon = name.find(':'); colon != std::string_view::npos) {
    d.arch = std::string(name.substr(colon + 1));
    name = name.substr(0, colon);
  }
  if (name.empty() || name.find_first_of(" \t()") != std::string_view::npos)
    throw Error(what + ": \"" + std::string(text) + "\" is not a package relation");
  d.name = std::string(name);
  if (paren != std::string_view::npos) {
    size_t close = s.find(')', paren);
    if (close == std::string_view::npos) throw Error(what + ": \"" + std::string(text) + "\" has no closing ')'");
    std::string_view inner = trim(s.substr(paren + 1, close - paren - 1));
    size_t op_end = 0;
    while (op_end < inner.size() && std::string_view("<>=").find(inner[op_end]) != std::string_view::npos) ++op_end;
    d.op = parse_relation(inner.substr(0, op_end));
    d.version = std::string(trim(inner.substr(op_end)));
    if (d.version.empty()) throw Error(what + ": \"" + std::string(text) + "\" names no version");
  }
  return d;
}

}  // namespace

std::vector<OrGroup> parse_relations(std::string_view field, const std::string& what) {
  std::vector<OrGroup> groups;
  size_t start = 0;
  while (start <= field.size()) {
    size_t comma = field.find(',', start);
    if (comma == std::string_view::npos) comma = field.size();
    std::string_view group = trim(field.substr(start, comma - start));
    if (!group.empty()) {
      OrGroup alternatives;
      size_t a = 0;
      while (a <= group.size()) {
        size_t bar = group.find('|', a);
        if (bar == std::string_view::npos) bar = group.size();
        std::string_view alt = trim(group.substr(a, bar - a));
        if (alt.empty()) throw Error(what + ": empty alternative in \"" + std::string(group) + "\"");
        alternatives.push_back(parse_one(alt, what));
        a = bar + 1;
      }
      groups.push_back(std::move(alternatives));
    }
    start = comma + 1;
  }
  return groups;
}

}  // namespace distill::deb
