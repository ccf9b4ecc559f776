#include "build/spec.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <set>

#include "base/error.h"
#include "oci/image.h"

namespace distill {

std::string SpecPlace::str() const {
  std::string s = file;
  if (line > 0) s += ":" + std::to_string(line) + ":" + std::to_string(column);
  if (!field.empty()) s += ": " + field;
  return s;
}

namespace {

[[noreturn]] void fail(const SpecPlace& place, const std::string& message) { throw Error(place.str() + ": " + message); }

/// Walks the YAML tree keeping the file name and field path for messages.
class Reader {
 public:
  Reader(std::string file) : m_file(std::move(file)) {}

  SpecPlace place(const YAML::Node& node, const std::string& field) const {
    SpecPlace p{m_file, 0, 0, field};
    YAML::Mark m = node.Mark();
    if (m.line >= 0) {
      p.line = m.line + 1;
      p.column = m.column + 1;
    }
    return p;
  }

  std::string scalar(const YAML::Node& node, const std::string& field) const {
    if (!node.IsScalar()) fail(place(node, field), "must be a single value, not a " + kind(node));
    return node.Scalar();
  }

  std::vector<std::string> string_list(const YAML::Node& node, const std::string& field) const {
    if (!node.IsSequence()) fail(place(node, field), "must be a list, e.g. [\"a\", \"b\"]");
    std::vector<std::string> out;
    for (size_t i = 0; i < node.size(); ++i) out.push_back(scalar(node[i], field + "[" + std::to_string(i) + "]"));
    return out;
  }

  std::map<std::string, std::string> string_map(const YAML::Node& node, const std::string& field) const {
    if (!node.IsMap()) fail(place(node, field), "must be a mapping of names to values");
    std::map<std::string, std::string> out;
    for (const auto& kv : node) {
      std::string key = scalar(kv.first, field);
      out[key] = scalar(kv.second, field + "." + key);
    }
    return out;
  }

  /// Checks a mapping has only `known` keys; unknown keys are mistakes.
  void only_keys(const YAML::Node& node, const std::string& field, std::initializer_list<const char*> known) const {
    if (!node.IsMap()) fail(place(node, field), "must be a mapping with keys such as " + std::string(*known.begin()));
    std::set<std::string> seen;
    for (const auto& kv : node) {
      std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "?";
      std::string path = field.empty() ? key : field + "." + key;
      bool ok = false;
      for (const char* k : known) ok = ok || key == k;
      if (!ok) {
        std::string list;
        for (const char* k : known) list += (list.empty() ? "" : ", ") + std::string(k);
        fail(place(kv.first, path), "unknown key (known keys here: " + list + ")");
      }
      if (!seen.insert(key).second) fail(place(kv.first, path), "given twice");
    }
  }

  static std::string kind(const YAML::Node& node) {
    if (node.IsMap()) return "mapping";
    if (node.IsSequence()) return "list";
    if (node.IsNull()) return "null";
    return "value";
  }

 private:
  std::string m_file;
};

uint32_t parse_mode(const std::string& text, const SpecPlace& place) {
  // Always octal, quoted or not: YAML 1.1 reads 0755 as octal too.
  uint32_t mode = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), mode, 8);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() || mode > 07777)
    fail(place, "\"" + text + "\" is not a file mode; write octal permission bits such as \"0755\" or \"0644\"");
  return mode;
}

uint32_t parse_id(const std::string& text, const SpecPlace& place, const std::string& full) {
  uint32_t id = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() || id > 0x7fffffffu)
    fail(place, "\"" + full + "\" is not an owner; write numeric \"UID:GID\" such as \"65532:65532\" (names are not looked up)");
  return id;
}

Owner parse_owner(const std::string& text, const SpecPlace& place) {
  Owner o;
  auto colon = text.find(':');
  o.uid = parse_id(text.substr(0, colon), place, text);
  o.gid = colon == std::string::npos ? o.uid : parse_id(text.substr(colon + 1), place, text);
  return o;
}

std::string parse_port(const std::string& text, const SpecPlace& place) {
  std::string number = text, proto = "tcp";
  if (auto slash = text.find('/'); slash != std::string::npos) {
    number = text.substr(0, slash);
    proto = text.substr(slash + 1);
  }
  unsigned port = 0;
  auto [p, ec] = std::from_chars(number.data(), number.data() + number.size(), port);
  if (number.empty() || ec != std::errc() || p != number.data() + number.size() || port < 1 || port > 65535 ||
      (proto != "tcp" && proto != "udp" && proto != "sctp"))
    fail(place, "\"" + text + "\" is not a port; write PORT[/tcp|/udp|/sctp] such as \"8080/tcp\"");
  return std::to_string(port) + "/" + proto;
}

void check_signal(const std::string& text, const SpecPlace& place) {
  bool numeric = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
  bool named = text.size() > 3 && text.starts_with("SIG") &&
               text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-", 3) == std::string::npos;
  if (!numeric && !named) fail(place, "\"" + text + "\" is not a signal; write a name such as SIGTERM or a number");
}

}  // namespace

std::string normalize_image_path(const std::string& path, const SpecPlace& place) {
  if (path.empty() || path.front() != '/')
    fail(place, "\"" + path + "\" must be an absolute path in the image, such as /app/server");
  std::string out;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string part = path.substr(start, end - start);
    if (part == "..") fail(place, "\"" + path + "\" contains \"..\"; paths must stay inside the image");
    if (!part.empty() && part != ".") out += "/" + part;
    start = end + 1;
  }
  if (path.find('\0') != std::string::npos) fail(place, "contains a NUL byte");
  return out.empty() ? "/" : out;
}

static FileSpec parse_file(const Reader& r, const YAML::Node& node, const std::string& field, const fs::path& base) {
  r.only_keys(node, field, {"src", "dst", "content", "mode", "owner"});
  FileSpec f;
  f.place = r.place(node, field);
  if (!node["dst"]) fail(f.place, "needs dst, the path in the image");
  f.dst_place = r.place(node["dst"], field + ".dst");
  std::string dst = r.scalar(node["dst"], field + ".dst");
  f.dst_is_dir = dst.size() > 1 && dst.back() == '/';
  f.dst = normalize_image_path(dst, f.dst_place);
  if (node["src"] && node["content"]) fail(f.place, "give either src or content, not both");
  if (node["src"]) {
    f.src_place = r.place(node["src"], field + ".src");
    std::string src = r.scalar(node["src"], field + ".src");
    if (src.empty()) fail(f.src_place, "is empty");
    f.src = fs::path(src).is_absolute() ? fs::path(src) : base / src;
  } else if (node["content"]) {
    f.content = r.scalar(node["content"], field + ".content");
    if (f.dst == "/") fail(f.dst_place, "inline content needs a file path, not /");
  } else {
    fail(f.place, "needs src (a host file, directory or symlink) or content (inline text)");
  }
  if (node["mode"]) f.mode = parse_mode(r.scalar(node["mode"], field + ".mode"), r.place(node["mode"], field + ".mode"));
  if (node["owner"])
    f.owner = parse_owner(r.scalar(node["owner"], field + ".owner"), r.place(node["owner"], field + ".owner"));
  return f;
}

static PathSpec parse_path(const Reader& r, const YAML::Node& node, const std::string& field) {
  r.only_keys(node, field, {"path", "type", "target", "mode", "owner"});
  PathSpec p;
  p.place = r.place(node, field);
  if (!node["path"]) fail(p.place, "needs path, the path in the image");
  p.path = normalize_image_path(r.scalar(node["path"], field + ".path"), r.place(node["path"], field + ".path"));
  if (p.path == "/") fail(r.place(node["path"], field + ".path"), "cannot be / itself");
  if (!node["type"]) fail(p.place, "needs type: directory, symlink or hardlink");
  std::string type = r.scalar(node["type"], field + ".type");
  SpecPlace type_place = r.place(node["type"], field + ".type");
  if (type == "directory") p.type = PathSpec::Type::directory;
  else if (type == "symlink") p.type = PathSpec::Type::symlink;
  else if (type == "hardlink") p.type = PathSpec::Type::hardlink;
  else fail(type_place, "\"" + type + "\" is not a path type; use directory, symlink or hardlink");
  if (p.type == PathSpec::Type::directory) {
    if (node["target"]) fail(r.place(node["target"], field + ".target"), "a directory takes no target");
  } else {
    if (!node["target"]) fail(p.place, "a " + type + " needs target");
    p.target_place = r.place(node["target"], field + ".target");
    p.target = r.scalar(node["target"], field + ".target");
    if (p.target.empty()) fail(p.target_place, "is empty");
    if (p.type == PathSpec::Type::hardlink) p.target = normalize_image_path(p.target, p.target_place);
    if (p.type == PathSpec::Type::hardlink && node["mode"])
      fail(r.place(node["mode"], field + ".mode"), "a hardlink shares its target's mode; remove mode");
  }
  if (node["mode"]) p.mode = parse_mode(r.scalar(node["mode"], field + ".mode"), r.place(node["mode"], field + ".mode"));
  if (node["owner"])
    p.owner = parse_owner(r.scalar(node["owner"], field + ".owner"), r.place(node["owner"], field + ".owner"));
  return p;
}

/// yaml-cpp accepts a quoted scalar left open at the end of the file;
/// YAML does not. Check that every quoted scalar's quote is closed.
static void check_quotes_closed(const YAML::Node& node, const std::string& text, const std::string& name) {
  if (node.IsMap() || node.IsSequence()) {
    for (const auto& item : node) {
      if (node.IsMap()) {
        check_quotes_closed(item.first, text, name);
        check_quotes_closed(item.second, text, name);
      } else {
        check_quotes_closed(item, text, name);
      }
    }
    return;
  }
  if (!node.IsScalar()) return;
  YAML::Mark m = node.Mark();
  if (m.pos < 0 || static_cast<size_t>(m.pos) >= text.size()) return;
  char quote = text[static_cast<size_t>(m.pos)];
  if (quote != '"' && quote != '\'') return;
  for (size_t i = static_cast<size_t>(m.pos) + 1; i < text.size(); ++i) {
    if (quote == '"' && text[i] == '\\') {
      ++i;
    } else if (text[i] == quote) {
      if (quote == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
        ++i;  // '' is an escaped quote
        continue;
      }
      return;
    }
  }
  SpecPlace p{name, m.line + 1, m.column + 1, ""};
  throw Error(p.str() + ": malformed YAML: the quoted string that starts here is never closed");
}

static std::string resolve_path(const std::string& p, const fs::path& base) {
  if (p.find("BEGIN PGP") != std::string::npos || fs::path(p).is_absolute()) return p;
  return (base / p).string();
}

static ContentsSpec parse_contents(const Reader& r, const YAML::Node& node, const fs::path& base) {
  r.only_keys(node, "contents", {"repositories", "keyring", "packages", "recommends", "suggests"});
  ContentsSpec c;
  c.place = r.place(node, "contents");
  if (const YAML::Node repos = node["repositories"]) {
    if (!repos.IsSequence()) fail(r.place(repos, "contents.repositories"), "must be a list of sources.list lines or deb822 stanzas");
    for (size_t i = 0; i < repos.size(); ++i) {
      std::string field = "contents.repositories[" + std::to_string(i) + "]";
      SpecPlace place = r.place(repos[i], field);
      std::string text;
      bool deb822 = false;
      if (repos[i].IsMap()) {
        // A deb822 stanza written as a YAML mapping.
        r.only_keys(repos[i], field, {"Types", "URIs", "Suites", "Components", "Architectures", "Signed-By", "Enabled"});
        for (const auto& kv : repos[i]) {
          std::string value = kv.second.IsSequence() ? [&] {
            std::string v;
            for (const auto& item : kv.second) v += (v.empty() ? "" : " ") + item.Scalar();
            return v;
          }() : r.scalar(kv.second, field + "." + kv.first.Scalar());
          text += kv.first.Scalar() + ": " + value + "\n";
        }
        deb822 = true;
      } else {
        text = r.scalar(repos[i], field);
        deb822 = text.find("URIs:") != std::string::npos;
      }
      std::vector<deb::Source> sources;
      try {
        sources = deb822 ? deb::parse_deb822_sources(text, "stanza") : deb::parse_one_line_sources(text, "line");
      } catch (const Error& e) {
        fail(place, e.what());
      }
      if (sources.empty()) fail(place, "declares no \"deb\" repository");
      for (deb::Source& s : sources) {
        s.origin = place.str();
        for (std::string& k : s.signed_by) k = resolve_path(k, base);
        c.repositories.push_back(std::move(s));
      }
    }
  }
  if (const YAML::Node keyring = node["keyring"]) {
    std::vector<std::string> keys = keyring.IsSequence() ? r.string_list(keyring, "contents.keyring")
                                                         : std::vector<std::string>{r.scalar(keyring, "contents.keyring")};
    for (size_t i = 0; i < keys.size(); ++i) {
      std::string path = resolve_path(keys[i], base);
      std::error_code ec;
      if (path.find("BEGIN PGP") == std::string::npos && !fs::exists(path, ec))
        fail(r.place(keyring.IsSequence() ? keyring[i] : keyring, "contents.keyring"), path + " does not exist");
      c.keyrings.push_back(path);
    }
  }
  if (const YAML::Node packages = node["packages"]) {
    std::vector<std::string> list = r.string_list(packages, "contents.packages");
    for (size_t i = 0; i < list.size(); ++i) {
      SpecPlace place = r.place(packages[i], "contents.packages[" + std::to_string(i) + "]");
      try {
        c.packages.push_back(deb::PackageRequest::parse(list[i]));
      } catch (const Error& e) {
        fail(place, e.what());
      }
      c.package_places.push_back(place);
    }
  }
  auto flag = [&](const char* key) {
    if (!node[key]) return false;
    std::string v = r.scalar(node[key], std::string("contents.") + key);
    if (v != "true" && v != "false") fail(r.place(node[key], std::string("contents.") + key), "must be true or false");
    return v == "true";
  };
  c.recommends = flag("recommends");
  c.suggests = flag("suggests");
  return c;
}

/// A host path of `app:`: relative ones start at the spec's directory; with
/// a sysroot they are paths inside it and must be absolute.
static std::string app_host_path(const Reader& r, const YAML::Node& node, const std::string& field, const fs::path& base,
                                 bool in_sysroot) {
  std::string value = r.scalar(node, field);
  if (value.empty()) fail(r.place(node, field), "is empty");
  if (in_sysroot) {
    if (!value.starts_with("/")) fail(r.place(node, field), "\"" + value + "\" must be absolute: with app.sysroot, paths are inside the root");
    return value;
  }
  return (base / value).lexically_normal().string();
}

static AppSpec parse_app(const Reader& r, const YAML::Node& node, const fs::path& base, std::string& from) {
  r.only_keys(node, "app", {"program", "args", "include", "kind", "dir", "deps", "main", "sysroot", "base", "tzdata"});
  AppSpec app;
  app.place = r.place(node, "app");
  if (!node["program"]) fail(app.place, "names no program; write program: build/server (or app.py, server.js, app.jar)");
  if (node["sysroot"]) {
    app.sysroot = app_host_path(r, node["sysroot"], "app.sysroot", base, false);
    if (!fs::is_directory(app.sysroot)) fail(r.place(node["sysroot"], "app.sysroot"), app.sysroot + " is not a directory");
  }
  bool in_root = app.sysroot != "/";
  app.program = app_host_path(r, node["program"], "app.program", base, in_root);
  if (node["args"]) app.args = r.string_list(node["args"], "app.args");
  if (const YAML::Node include = node["include"]) {
    if (!include.IsSequence()) fail(r.place(include, "app.include"), "must be a list of host paths");
    for (size_t i = 0; i < include.size(); ++i)
      app.include.push_back(app_host_path(r, include[i], "app.include[" + std::to_string(i) + "]", base, in_root));
  }
  if (node["kind"]) {
    app.kind = r.scalar(node["kind"], "app.kind");
    if (app.kind != "native" && app.kind != "python" && app.kind != "node" && app.kind != "java")
      fail(r.place(node["kind"], "app.kind"), "\"" + app.kind + "\" is not a kind of app (native, python, node, java)");
  }
  if (node["dir"]) app.dir = app_host_path(r, node["dir"], "app.dir", base, false);
  if (node["deps"]) app.deps = app_host_path(r, node["deps"], "app.deps", base, false);
  if (node["main"]) app.main = r.scalar(node["main"], "app.main");
  if (node["tzdata"]) {
    std::string v = r.scalar(node["tzdata"], "app.tzdata");
    if (v != "true" && v != "false") fail(r.place(node["tzdata"], "app.tzdata"), "must be true or false");
    app.tzdata = v == "true";
  }
  if (node["base"]) {
    if (!from.empty()) fail(r.place(node["base"], "app.base"), "the spec already says from: " + from + "; give the base once");
    from = r.scalar(node["base"], "app.base");
  }
  return app;
}

Spec parse_spec(const std::string& text, const std::string& name, const fs::path& base_dir) {
  Reader r(name);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    SpecPlace p{name, e.mark.line + 1, e.mark.column + 1, ""};
    throw Error(p.str() + ": malformed YAML: " + e.msg);
  }
  check_quotes_closed(root, text, name);
  Spec spec;
  spec.base_dir = base_dir;
  if (root.IsNull()) return spec;
  r.only_keys(root, "",
              {"from", "contents", "files", "paths", "entrypoint", "cmd", "env", "user", "workdir", "ports", "volumes",
               "stop-signal", "labels", "annotations", "archs", "layering", "strip", "app"});
  std::string from;
  if (root["from"]) from = r.scalar(root["from"], "from");
  if (const YAML::Node app = root["app"]) spec.app = parse_app(r, app, base_dir, from);
  spec.from = from.empty() ? (spec.app ? "" : "scratch") : from;  // an app without a base gets its default at build time
  if (root["from"] || (root["app"] && root["app"]["base"])) {
    YAML::Node at = root["from"] ? root["from"] : root["app"]["base"];
    std::string field = root["from"] ? "from" : "app.base";
    bool known = spec.from == "scratch" || spec.from.starts_with("preset:") || spec.from.starts_with("docker://") ||
                 spec.from.starts_with("oci:") || spec.from.starts_with("oci-archive:");
    if (!known)
      fail(r.place(at, field), "\"" + spec.from +
           "\": write scratch, preset:NAME[:VARIANT], docker://HOST/REPO:TAG[@DIGEST] or oci:DIR[:TAG]");
  }
  if (const YAML::Node strip = root["strip"]) {
    std::vector<std::string> list = r.string_list(strip, "strip");
    spec.strip.clear();
    for (size_t i = 0; i < list.size(); ++i) {
      static const std::set<std::string> known = {"docs", "man", "info", "locales", "lintian"};
      if (!known.count(list[i]))
        fail(r.place(strip[i], "strip[" + std::to_string(i) + "]"), "\"" + list[i] + "\" is not a strip class (docs, man, info, locales, lintian)");
      spec.strip.insert(list[i]);
    }
  }
  if (const YAML::Node layering = root["layering"]) {
    r.only_keys(layering, "layering", {"max-layers"});
    if (layering["max-layers"]) {
      std::string v = r.scalar(layering["max-layers"], "layering.max-layers");
      size_t n = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      spec.max_layers_place = r.place(layering["max-layers"], "layering.max-layers");
      if (ec != std::errc() || p != v.data() + v.size() || n < 2 || n > 127)
        fail(spec.max_layers_place, "\"" + v + "\" is not a number of layers from 2 to 127");
      spec.max_layers = n;
    }
  }
  if (const YAML::Node contents = root["contents"]) spec.contents = parse_contents(r, contents, base_dir);
  if (const YAML::Node files = root["files"]) {
    if (!files.IsSequence()) fail(r.place(files, "files"), "must be a list of {src|content, dst, mode, owner}");
    for (size_t i = 0; i < files.size(); ++i)
      spec.files.push_back(parse_file(r, files[i], "files[" + std::to_string(i) + "]", base_dir));
  }
  if (const YAML::Node paths = root["paths"]) {
    if (!paths.IsSequence()) fail(r.place(paths, "paths"), "must be a list of {path, type, target, mode, owner}");
    for (size_t i = 0; i < paths.size(); ++i)
      spec.paths.push_back(parse_path(r, paths[i], "paths[" + std::to_string(i) + "]"));
  }
  if (root["entrypoint"]) {
    if (spec.app)
      fail(r.place(root["entrypoint"], "entrypoint"), "app: sets the entrypoint (its program and args); drop entrypoint: or app:");
    spec.entrypoint = r.string_list(root["entrypoint"], "entrypoint");
  }
  if (root["cmd"]) spec.cmd = r.string_list(root["cmd"], "cmd");
  if (const YAML::Node env = root["env"]) {
    if (!env.IsMap()) fail(r.place(env, "env"), "must be a mapping of variable names to values, e.g. {LANG: C.UTF-8}");
    std::set<std::string> seen;
    for (const auto& kv : env) {
      std::string key = r.scalar(kv.first, "env");
      SpecPlace place = r.place(kv.first, "env." + key);
      if (key.empty() || key.find('=') != std::string::npos) fail(place, "is not a valid variable name");
      if (!seen.insert(key).second) fail(place, "given twice");
      spec.env.emplace_back(key, kv.second.IsNull() ? "" : r.scalar(kv.second, "env." + key));
    }
  }
  if (root["user"]) {
    spec.user = r.scalar(root["user"], "user");
    if (spec.user->empty() || spec.user->find_first_of(" \t\n") != std::string::npos)
      fail(r.place(root["user"], "user"), "must be a user such as \"65532\" or \"65532:65532\"");
  }
  if (root["workdir"])
    spec.workdir = normalize_image_path(r.scalar(root["workdir"], "workdir"), r.place(root["workdir"], "workdir"));
  if (const YAML::Node ports = root["ports"]) {
    auto list = r.string_list(ports, "ports");
    for (size_t i = 0; i < list.size(); ++i)
      spec.ports.push_back(parse_port(list[i], r.place(ports[i], "ports[" + std::to_string(i) + "]")));
  }
  if (const YAML::Node volumes = root["volumes"]) {
    auto list = r.string_list(volumes, "volumes");
    for (size_t i = 0; i < list.size(); ++i)
      spec.volumes.push_back(normalize_image_path(list[i], r.place(volumes[i], "volumes[" + std::to_string(i) + "]")));
  }
  if (root["stop-signal"]) {
    spec.stop_signal = r.scalar(root["stop-signal"], "stop-signal");
    check_signal(*spec.stop_signal, r.place(root["stop-signal"], "stop-signal"));
  }
  if (root["labels"]) spec.labels = r.string_map(root["labels"], "labels");
  if (root["annotations"]) spec.annotations = r.string_map(root["annotations"], "annotations");
  if (const YAML::Node archs = root["archs"]) {
    spec.archs = r.string_list(archs, "archs");
    if (spec.archs.empty()) fail(r.place(archs, "archs"), "names no architecture");
    std::set<std::string> seen;
    for (size_t i = 0; i < spec.archs.size(); ++i) {
      SpecPlace place = r.place(archs[i], "archs[" + std::to_string(i) + "]");
      try {
        if (!seen.insert(Platform::from_arch(spec.archs[i]).str()).second) fail(place, "given twice");
      } catch (const Error& e) {
        if (std::string(e.what()).starts_with(place.str())) throw;
        fail(place, e.what());
      }
    }
  }
  return spec;
}

Spec parse_spec_file(const fs::path& file) {
  std::string text;
  try {
    text = read_file(file);
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + " (the spec file)");
  }
  fs::path base = fs::absolute(file).parent_path();
  Spec spec = parse_spec(text, file.string(), base);
  spec.file = file;
  return spec;
}

}  // namespace distill
