#include "deb/repository.h"

#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <future>
#include <optional>

#include <nlohmann/json.hpp>

#include "archive/tar.h"
#include "base/error.h"
#include "base/subprocess.h"
#include "deb/control.h"

namespace distill::deb {

std::time_t parse_release_date(std::string_view text) {
  std::string s(text);
  std::tm tm{};
  // The weekday is optional; the zone is UTC in every Debian archive.
  const char* p = ::strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S", &tm);
  if (!p) p = ::strptime(s.c_str(), "%d %b %Y %H:%M:%S", &tm);
  if (!p) throw Error("\"" + s + "\" is not a date such as \"Sat, 21 Nov 2026 09:15:44 UTC\"");
  std::string zone = p;
  zone.erase(0, zone.find_first_not_of(' '));
  if (!zone.empty() && zone != "UTC" && zone != "GMT" && zone != "Z" && zone != "+0000")
    throw Error("\"" + s + "\" is not in UTC");
  return ::timegm(&tm);
}

ReleaseInfo parse_release(std::string_view text, const std::string& what) {
  ReleaseInfo info;
  bool seen = false;
  for_each_paragraph(text, what, [&](const Paragraph& p) {
    if (seen) return;
    seen = true;
    info.suite = std::string(p.get("Suite"));
    info.codename = std::string(p.get("Codename"));
    if (p.has("Date")) info.date = parse_release_date(p.get("Date"));
    if (p.has("Valid-Until")) info.valid_until = parse_release_date(p.get("Valid-Until"));
    info.by_hash = p.get("Acquire-By-Hash") == "yes";
    info.archs = split_words(p.get("Architectures"));
    info.components = split_words(p.get("Components"));
    std::string_view list = p.get("SHA256");
    size_t pos = 0;
    while (pos < list.size()) {
      size_t eol = list.find('\n', pos);
      if (eol == std::string_view::npos) eol = list.size();
      std::vector<std::string> words = split_words(list.substr(pos, eol - pos));
      pos = eol + 1;
      if (words.empty()) continue;
      if (words.size() != 3) throw Error(what + ": malformed SHA256 line \"" + words[0] + "...\"");
      ReleaseInfo::File f;
      f.sha256 = Digest::parse("sha256:" + words[0], what + " SHA256");
      auto [ptr, ec] = std::from_chars(words[1].data(), words[1].data() + words[1].size(), f.size);
      if (ec != std::errc()) throw Error(what + ": malformed size in the SHA256 list");
      info.files[words[2]] = f;
    }
  });
  if (!seen) throw Error(what + " is empty");
  if (info.files.empty()) throw Error(what + " lists no SHA256 checksums; refusing an index that cannot be verified");
  return info;
}

namespace {

/// gpgv reads binary keyrings only: armored keys are decoded first.
std::string binary_keyring(const std::string& keyring, const fs::path& tmp, int n) {
  std::string text;
  if (keyring.find("BEGIN PGP PUBLIC KEY BLOCK") != std::string::npos) {
    text = keyring;
  } else {
    std::error_code ec;
    if (!fs::exists(keyring, ec)) throw Error("the keyring " + keyring + " does not exist");
    text = read_file(keyring);
    if (text.find("-----BEGIN PGP PUBLIC KEY BLOCK-----") == std::string::npos) return keyring;
  }
  size_t begin = text.find("\n\n", text.find("-----BEGIN PGP PUBLIC KEY BLOCK-----"));
  size_t end = text.find("-----END PGP PUBLIC KEY BLOCK-----");
  if (begin == std::string::npos || end == std::string::npos) throw Error("the keyring " + keyring.substr(0, 80) + " is not a valid armored key");
  std::string b64;
  for (size_t i = begin; i < end; ++i) {
    char c = text[i];
    if (c == '=' && i + 1 < end && text[i + 1] != '\n' && text[i + 1] != '=' && (i == 0 || text[i - 1] == '\n')) break;  // checksum line
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=') b64 += c;
  }
  std::string bin(b64.size() * 3 / 4 + 3, '\0');
  int len = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(bin.data()), reinterpret_cast<const unsigned char*>(b64.data()),
                            static_cast<int>(b64.size()));
  if (len < 0) throw Error("the keyring " + keyring.substr(0, 80) + " is not valid base64");
  size_t pad = 0;
  for (size_t i = b64.size(); i > 0 && b64[i - 1] == '='; --i) ++pad;
  bin.resize(static_cast<size_t>(len) - pad);
  fs::path out = tmp / ("keyring-" + std::to_string(n) + ".gpg");
  write_file_atomic(out, bin);
  return out.string();
}

}  // namespace

std::string verify_signature(const std::string& signed_file, const std::string& detached_signature,
                             const std::vector<std::string>& keyrings, const std::string& what, const fs::path& tmp) {
  if (keyrings.empty())
    throw Error(what + ": no keyring to check its signature; give the repository signed-by=KEYRING or the spec's "
                       "contents.keyring (on Debian: /usr/share/keyrings/debian-archive-keyring.gpg)");
  std::vector<std::string> argv = {"gpgv", "--quiet", "--status-fd", "1"};
  int n = 0;
  for (const std::string& k : keyrings) {
    argv.push_back("--keyring");
    argv.push_back(binary_keyring(k, tmp, n++));
  }
  fs::path out = tmp / "verified";
  std::error_code ec;
  fs::remove(out, ec);
  if (detached_signature.empty()) {
    argv.insert(argv.end(), {"--output", out.string(), signed_file});
  } else {
    argv.insert(argv.end(), {detached_signature, signed_file});
  }
  ProcessResult r;
  try {
    r = run_process(argv);
  } catch (const Error&) {
    throw Error("gpgv is needed to check repository signatures; install the gpgv package");
  }
  // Require a good signature and a VALIDSIG status: gpgv exits 0 only then.
  if (r.exit_code != 0 || r.out.find("[GNUPG:] VALIDSIG") == std::string::npos) {
    std::string reason = r.err;
    while (!reason.empty() && reason.back() == '\n') reason.pop_back();
    if (auto nl = reason.rfind('\n'); nl != std::string::npos) reason = reason.substr(nl + 1);
    throw Error(what + ": the signature does not verify against the keyring(s) " + [&] {
      std::string s;
      for (const std::string& k : keyrings) s += (s.empty() ? "" : ", ") + (k.find("BEGIN PGP") != std::string::npos ? "(inline key)" : k);
      return s;
    }() + (reason.empty() ? "" : " (gpgv: " + reason + ")"));
  }
  return detached_signature.empty() ? read_file(out) : read_file(signed_file);
}

void parse_packages(std::string_view text, size_t source, const std::string& what, PackageIndex& index) {
  // Room for every paragraph first, or a full Debian index (69k packages,
  // 820 bytes each on average) leaves the vector at twice its 30 MB after
  // copying it on the way. One per 256 bytes is more than enough, and the
  // capacity never written costs address space, not memory.
  index.packages.reserve(index.packages.size() + text.size() / 256 + 1);
  for_each_paragraph(text, what, [&](const Paragraph& p) {
    IndexedPackage pkg;
    pkg.source = source;
    pkg.paragraph = p.text;
    for (const auto& [key, value] : p.fields) {
      // Field names in Packages files are spelled exactly; compare directly.
      if (key == "Package") pkg.name = value;
      else if (key == "Version") pkg.version = value;
      else if (key == "Architecture") pkg.arch = value;
      else if (key == "Multi-Arch") pkg.multi_arch = value;
      else if (key == "Priority") pkg.priority = value;
      else if (key == "Section") pkg.section = value;
      else if (key == "Source") pkg.source_name = value;
      else if (key == "Depends") pkg.depends = value;
      else if (key == "Pre-Depends") pkg.pre_depends = value;
      else if (key == "Recommends") pkg.recommends = value;
      else if (key == "Suggests") pkg.suggests = value;
      else if (key == "Conflicts") pkg.conflicts = value;
      else if (key == "Breaks") pkg.breaks = value;
      else if (key == "Provides") pkg.provides = value;
      else if (key == "Filename") pkg.filename = value;
      else if (key == "SHA256") pkg.sha256 = value;
      else if (key == "Essential") pkg.essential = value == "yes";
      else if (key == "Size") std::from_chars(value.data(), value.data() + value.size(), pkg.size);
    }
    if (pkg.name.empty() || pkg.version.empty() || pkg.arch.empty())
      throw Error(what + ":" + std::to_string(p.line) + ": a package without Package, Version or Architecture");
    if (pkg.filename.empty() || pkg.sha256.size() != 64)
      throw Error(what + ":" + std::to_string(p.line) + ": package " + std::string(pkg.name) +
                  " has no Filename or SHA256; refusing an index that cannot be verified");
    if (pkg.filename.find("..") != std::string_view::npos || pkg.filename.front() == '/')
      throw Error(what + ":" + std::to_string(p.line) + ": package " + std::string(pkg.name) + " has an unsafe Filename \"" +
                  std::string(pkg.filename) + "\"");
    index.packages.push_back(pkg);
  });
}

namespace {

struct FetchedRelease {
  ReleaseInfo info;
  std::string base;  // URI/dists/SUITE
};

/// The InRelease at `url`, asking the mirror only for one newer than the
/// copy kept from the last build (If-None-Match and If-Modified-Since, as
/// apt does): an unchanged suite answers 304 and sends nothing. The kept
/// copy is checked against its digest, and its signature is verified again
/// like a downloaded one; a damaged copy is fetched whole.
http::Response fetch_inrelease(http::Client& client, const std::string& url, Store& store) {
  Digest key = sha256_of(nlohmann::json{"distill-inrelease-v1", url}.dump());
  std::optional<Digest> kept;
  std::vector<std::string> conditions;
  if (auto record = store.get_action(key)) {
    try {
      kept = Digest::parse(record->at("digest").get<std::string>());
      if (!store.has_blob(*kept)) kept.reset();
      if (kept && record->contains("etag")) conditions.push_back("If-None-Match: " + record->at("etag").get<std::string>());
      if (kept && record->contains("last_modified"))
        conditions.push_back("If-Modified-Since: " + record->at("last_modified").get<std::string>());
    } catch (const std::exception&) {
      kept.reset();  // a damaged record: fetch whole
    }
  }
  if (conditions.empty()) kept.reset();  // nothing to ask with: fetch whole
  http::Response r = client.fetch({.url = url, .headers = conditions}, 64 << 20);
  if (r.status == 304 && kept) {
    try {
      r.body = store.read_blob(*kept, 64 << 20);
      r.status = 200;
      return r;
    } catch (const std::exception&) {
      r = client.fetch({.url = url}, 64 << 20);  // the kept copy is damaged
    }
  }
  auto etag = r.headers.find("etag"), modified = r.headers.find("last-modified");
  bool validators = etag != r.headers.end() || modified != r.headers.end();
  if (r.status == 200 && validators) {  // without them there is nothing to ask next time
    nlohmann::json record = {{"digest", store.put_blob(r.body).str()}};
    if (etag != r.headers.end()) record["etag"] = etag->second;
    if (modified != r.headers.end()) record["last_modified"] = modified->second;
    store.put_action(key, record);
  }
  return r;
}

FetchedRelease fetch_release(const Source& source, const RepositoryOptions& options, http::Client& client,
                             Store& store, const fs::path& tmp) {
  FetchedRelease r;
  bool flat = source.suite.ends_with("/");
  r.base = flat ? source.uri + "/" + source.suite.substr(0, source.suite.size() - 1) : source.uri + "/dists/" + source.suite;
  while (r.base.ends_with("/")) r.base.pop_back();
  std::string what = source.uri + " " + source.suite;
  std::vector<std::string> keyrings = source.signed_by.empty() ? options.keyrings : source.signed_by;
  http::Response in = fetch_inrelease(client, r.base + "/InRelease", store);
  std::string verified;
  if (in.status == 200) {
    write_file_atomic(tmp / "InRelease", in.body);
    verified = verify_signature((tmp / "InRelease").string(), "", keyrings, what + " InRelease", tmp);
  } else if (in.status == 404) {
    http::Response rel = client.fetch({.url = r.base + "/Release"}, 64 << 20);
    http::Response sig = client.fetch({.url = r.base + "/Release.gpg"}, 1 << 20);
    if (rel.status != 200 && !(rel.status == 404 && source.optional))
      throw Error(what + ": no InRelease or Release file (HTTP " + std::to_string(rel.status) + " for " + r.base +
                  "/Release); check the URL and suite");
    if (rel.status == 404 && source.optional) return r;  // info.files empty: skipped by the caller
    if (sig.status != 200) throw Error(what + ": Release is not signed (no Release.gpg); refusing it");
    write_file_atomic(tmp / "Release", rel.body);
    write_file_atomic(tmp / "Release.gpg", sig.body);
    verified = verify_signature((tmp / "Release").string(), (tmp / "Release.gpg").string(), keyrings, what + " Release", tmp);
  } else {
    throw Error(what + ": HTTP " + std::to_string(in.status) + " for " + r.base + "/InRelease");
  }
  r.info = parse_release(verified, what + " InRelease");
  // A validly signed Release of another suite (an older one replayed at
  // this path) must not pass for the one asked for.
  if (!flat && source.suite != r.info.suite && source.suite != r.info.codename)
    throw Error(what + ": the signed Release is for suite \"" + r.info.suite + "\" (codename \"" + r.info.codename +
                "\"), not " + source.suite + "; the mirror serves the wrong or an old suite");
  std::time_t now = options.now ? options.now : std::time(nullptr);
  if (r.info.valid_until && r.info.valid_until < now && !options.allow_expired) {
    char when[64];
    std::tm tm{};
    ::gmtime_r(&r.info.valid_until, &tm);
    std::strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
    throw Error(what + ": the Release file expired on " + when +
                " (Valid-Until); the mirror is stale or replayed. Use --allow-expired to accept it anyway");
  }
  return r;
}

}  // namespace

namespace {

void parse_file(PackageIndex& index, const PackageIndex::File& file, Store& store) {
  auto text = std::make_unique<std::string>(read_decompressed(store.blob_path(file.sha256), size_t(2) << 30));
  parse_packages(*text, file.source, file.what, index);
  index.texts.push_back(std::move(text));
}

}  // namespace

PackageIndex load_index(const std::vector<Source>& sources, const std::string& arch, const RepositoryOptions& options,
                        http::Client& client, Store& store, Status& status, bool parse) {
  PackageIndex index;
  index.arch = arch;
  index.sources = sources;
  TempDir tmp(store.root() / "tmp", "release-");
  auto wanted = [&](const Source& source) {
    return source.archs.empty() || std::find(source.archs.begin(), source.archs.end(), arch) != source.archs.end();
  };
  // Every suite's signed Release is fetched and verified at once (a build
  // usually reads three: the suite, -updates and -security): against a
  // remote mirror a rebuild waits for one round trip, not one per suite.
  // Results are taken in source order, so the first failing source is the
  // one reported, whichever finished first.
  std::vector<std::future<FetchedRelease>> releases(sources.size());
  for (size_t i = 0; i < sources.size(); ++i) {
    if (!wanted(sources[i])) continue;
    fs::path dir = tmp.path() / std::to_string(i);
    fs::create_directories(dir);
    releases[i] = std::async(std::launch::async,
                             [&, i, dir] { return fetch_release(sources[i], options, client, store, dir); });
  }
  for (size_t i = 0; i < sources.size(); ++i) {
    const Source& source = sources[i];
    if (!wanted(source)) continue;
    status.phase("reading " + source.uri + " " + source.suite + " (" + arch + ")");
    FetchedRelease release = releases[i].get();
    if (release.info.files.empty()) {
      status.done("not on this mirror; skipped");
      continue;
    }
    std::vector<std::string> components = source.components;
    if (components.empty()) components.push_back("");  // flat repository
    size_t count_before = index.packages.size();
    for (const std::string& component : components) {
      std::string dir = component.empty() ? "" : component + "/binary-" + arch + "/";
      std::string chosen;
      // gzip before xz, unlike apt: Debian's Packages.gz is a third larger
      // (13.3 against 9.7 MB for trixie main) but decodes in 0.07 CPU s
      // against 0.9, and decoding is serial before anything can be solved;
      // on any link faster than about 35 Mbit/s gzip is done first.
      for (const char* name : {"Packages.gz", "Packages.xz", "Packages"})
        if (release.info.files.count(dir + name)) {
          chosen = dir + name;
          break;
        }
      if (chosen.empty()) {
        if (!release.info.archs.empty() &&
            std::find(release.info.archs.begin(), release.info.archs.end(), arch) == release.info.archs.end())
          throw Error(source.uri + " " + source.suite + " has no packages for " + arch + " (it offers: " + [&] {
            std::string s;
            for (const auto& a : release.info.archs) s += (s.empty() ? "" : " ") + a;
            return s;
          }() + ")");
        throw Error(source.uri + " " + source.suite + ": the Release file lists no Packages index for " + dir);
      }
      const ReleaseInfo::File& file = release.info.files[chosen];
      std::string url = release.base + "/" + chosen;
      if (release.info.by_hash) {
        std::string parent = chosen.substr(0, chosen.rfind('/') + 1);
        url = release.base + "/" + parent + "by-hash/SHA256/" + file.sha256.hex;
      }
      std::string what = source.uri + " " + source.suite + " " + chosen;
      http::download_blob(client, url, file.sha256, file.size, store, what);
      index.files.push_back({file.sha256, i, what});
      if (parse) parse_file(index, index.files.back(), store);
    }
    status.done(parse ? std::to_string(index.packages.size() - count_before) + " packages" : "verified");
  }
  index.parsed = parse;
  return index;
}

void parse_index(PackageIndex& index, Store& store) {
  if (index.parsed) return;
  for (const PackageIndex::File& file : index.files) parse_file(index, file, store);
  index.parsed = true;
}

}  // namespace distill::deb
