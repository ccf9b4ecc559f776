#include "deb/sources.h"

#include <algorithm>

#include "base/error.h"
#include "deb/control.h"

namespace distill::deb {

std::string Source::str() const {
  std::string s = uri + " " + suite;
  for (const std::string& c : components) s += " " + c;
  return s;
}

namespace {

std::vector<std::string> split_list(const std::string& value, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= value.size()) {
    size_t end = value.find(sep, start);
    if (end == std::string::npos) end = value.size();
    std::string part = value.substr(start, end - start);
    if (!part.empty()) out.push_back(part);
    start = end + 1;
  }
  return out;
}

std::string strip_slash(std::string uri) {
  while (uri.size() > 1 && uri.back() == '/') uri.pop_back();
  return uri;
}

}  // namespace

std::vector<Source> parse_one_line_sources(const std::string& text, const std::string& what) {
  std::vector<Source> out;
  size_t line_no = 0, pos = 0;
  while (pos <= text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    std::string where = what + ":" + std::to_string(line_no);
    Source s;
    std::string options;
    if (auto open = line.find('['); open != std::string::npos) {
      auto close = line.find(']', open);
      if (close == std::string::npos) throw Error(where + ": '[' without ']' in \"" + line + "\"");
      options = line.substr(open + 1, close - open - 1);
      line.erase(open, close - open + 1);
    }
    std::vector<std::string> words = split_words(line);
    if (words.empty()) continue;
    if (words[0] == "deb-src") continue;
    if (words[0] != "deb") throw Error(where + ": expected \"deb [options] URL SUITE COMPONENT...\", got \"" + words[0] + "\"");
    if (words.size() < 3) throw Error(where + ": a deb line needs a URL and a suite");
    for (const std::string& opt : split_words(options)) {
      auto eq = opt.find('=');
      if (eq == std::string::npos) throw Error(where + ": option \"" + opt + "\" has no value");
      std::string key = opt.substr(0, eq), value = opt.substr(eq + 1);
      if (key == "signed-by") s.signed_by = split_list(value, ',');
      else if (key == "arch") s.archs = split_list(value, ',');
      // other apt options (trusted, lang, target) do not change what we read
    }
    s.uri = strip_slash(words[1]);
    s.suite = words[2];
    s.components.assign(words.begin() + 3, words.end());
    if (s.components.empty() && s.suite.back() != '/')
      throw Error(where + ": \"" + line + "\" names no component (e.g. main)");
    s.origin = where;
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<Source> parse_deb822_sources(const std::string& text, const std::string& what) {
  std::vector<Source> out;
  for_each_paragraph(text, what, [&](const Paragraph& p) {
    std::string where = what + ":" + std::to_string(p.line);
    if (p.get("Enabled") == "no") return;
    std::vector<std::string> types = split_words(p.get("Types"));
    if (std::find(types.begin(), types.end(), "deb") == types.end()) return;
    std::vector<std::string> uris = split_words(p.get("URIs"));
    std::vector<std::string> suites = split_words(p.get("Suites"));
    if (uris.empty() || suites.empty()) throw Error(where + ": a stanza needs URIs and Suites");
    std::string signed_by(p.get("Signed-By"));
    std::vector<std::string> keys;
    if (signed_by.find("BEGIN PGP") != std::string::npos) {
      // An inline key: continuation lines, with "." for empty lines.
      std::string key;
      for (const std::string& line : split_list(signed_by, '\n')) {
        std::string l = line;
        while (!l.empty() && (l.front() == ' ' || l.front() == '\t')) l.erase(0, 1);
        key += (l == "." ? "" : l) + "\n";
      }
      keys.push_back(key);
    } else {
      keys = split_words(signed_by);
    }
    for (const std::string& uri : uris)
      for (const std::string& suite : suites) {
        Source s;
        s.uri = strip_slash(uri);
        s.suite = suite;
        s.components = split_words(p.get("Components"));
        s.archs = split_words(p.get("Architectures"));
        s.signed_by = keys;
        s.origin = where;
        out.push_back(std::move(s));
      }
  });
  return out;
}

std::vector<Source> host_sources(const fs::path& root) {
  std::vector<Source> out;
  fs::path etc = root / "etc/apt";
  std::error_code ec;
  if (fs::exists(etc / "sources.list", ec)) {
    auto list = parse_one_line_sources(read_file(etc / "sources.list"), (etc / "sources.list").string());
    out.insert(out.end(), list.begin(), list.end());
  }
  std::vector<fs::path> parts;
  for (fs::directory_iterator it(etc / "sources.list.d", ec), end; !ec && it != end; it.increment(ec)) parts.push_back(it->path());
  std::sort(parts.begin(), parts.end());
  for (const fs::path& p : parts) {
    std::vector<Source> list;
    if (p.extension() == ".list") list = parse_one_line_sources(read_file(p), p.string());
    else if (p.extension() == ".sources") list = parse_deb822_sources(read_file(p), p.string());
    out.insert(out.end(), list.begin(), list.end());
  }
  return out;
}

std::vector<Source> default_sources(const std::string& suite, const std::string& mirror, const std::vector<Source>& host) {
  static const char* kDebianSuites[] = {"buster", "bullseye", "bookworm", "trixie", "forky", "sid", "unstable",
                                        "testing", "stable", "oldstable"};
  auto base_suite = [](const std::string& s) { return s.substr(0, s.find('-')); };
  auto is_debian = [&](const Source& s) {
    return std::find(std::begin(kDebianSuites), std::end(kDebianSuites), base_suite(s.suite)) != std::end(kDebianSuites);
  };
  std::vector<Source> out;
  auto add = [&](const std::string& uri, const std::string& s, const std::vector<std::string>& keys, const std::string& origin) {
    Source src;
    src.uri = strip_slash(uri);
    src.suite = s;
    src.components = {"main"};
    src.signed_by = keys;
    src.origin = origin;
    out.push_back(std::move(src));
  };
  if (!mirror.empty()) {
    add(mirror, suite, {}, "--mirror");
    add(mirror, suite + "-updates", {}, "--mirror");
    out.back().optional = true;
    return out;
  }
  std::string archive, security;
  std::vector<std::string> archive_keys, security_keys;
  std::string archive_origin, security_origin;
  for (const Source& s : host) {
    if (!is_debian(s)) continue;
    bool sec = s.suite.ends_with("-security");
    if (sec && security.empty()) {
      security = s.uri;
      security_keys = s.signed_by;
      security_origin = s.origin;
    } else if (!sec && archive.empty()) {
      archive = s.uri;
      archive_keys = s.signed_by;
      archive_origin = s.origin;
    }
  }
  if (archive.empty()) return out;
  add(archive, suite, archive_keys, archive_origin);
  add(archive, suite + "-updates", archive_keys, archive_origin);
  out.back().optional = true;
  if (!security.empty()) {
    add(security, suite + "-security", security_keys, security_origin);
    out.back().optional = true;
  }
  return out;
}

}  // namespace distill::deb
