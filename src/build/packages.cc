#include "build/packages.h"

#include <algorithm>
#include <atomic>
#include <future>

#include "base/error.h"
#include "build/generated.h"
#include "elf/elf.h"
#include "elf/ldcache.h"
#include "oci/image.h"

namespace distill {

nlohmann::json Lockfile::to_json() const {
  nlohmann::json arches = nlohmann::json::object();
  for (const auto& [arch, list] : packages) {
    nlohmann::json pkgs = nlohmann::json::array();
    for (const LockedPackage& p : list) {
      nlohmann::json j = {{"name", p.name},       {"version", p.version},   {"architecture", p.arch},
                          {"repository", p.repository}, {"url", p.url}, {"filename", p.filename},
                          {"size", p.size},       {"sha256", p.sha256.hex}};
      auto r = reasons.find(arch);
      if (r != reasons.end())
        if (auto it = r->second.find(p.name); it != r->second.end())
          j["neededBy"] = it->second.parent.empty() ? "requested" : it->second.parent + " " + it->second.version + " (" + it->second.via + ")";
      pkgs.push_back(j);
    }
    nlohmann::json ex = nlohmann::json::array();
    if (auto e = excluded.find(arch); e != excluded.end()) ex = e->second;
    arches[arch] = {{"packages", pkgs}, {"excluded", ex}};
  }
  return {{"lockfileVersion", 1}, {"inputs", inputs.str()}, {"architectures", arches}};
}

Lockfile Lockfile::from_json(const nlohmann::json& j, const std::string& what) {
  Lockfile lock;
  try {
    if (j.at("lockfileVersion").get<int>() != 1) throw Error(what + ": unsupported lockfileVersion");
    lock.inputs = Digest::parse(j.at("inputs").get<std::string>(), what + " inputs");
    for (const auto& [arch, body] : j.at("architectures").items()) {
      lock.archs.push_back(arch);
      lock.packages[arch];  // present even when every package is excluded
      for (const auto& p : body.at("packages")) {
        LockedPackage lp;
        lp.name = p.at("name").get<std::string>();
        lp.version = p.at("version").get<std::string>();
        lp.arch = p.at("architecture").get<std::string>();
        lp.repository = p.at("repository").get<std::string>();
        lp.url = p.at("url").get<std::string>();
        lp.filename = p.at("filename").get<std::string>();
        lp.size = p.at("size").get<uint64_t>();
        lp.sha256 = Digest::parse("sha256:" + p.at("sha256").get<std::string>(), what + " " + lp.name + " sha256");
        if (p.contains("neededBy")) {
          std::string why = p["neededBy"].get<std::string>();
          deb::Reason r;
          if (why != "requested") r.via = why;  // kept as text; parent unknown after a round trip
          lock.reasons[arch][lp.name] = r;
        }
        lock.packages[arch].push_back(std::move(lp));
      }
      for (const auto& e : body.value("excluded", nlohmann::json::array())) lock.excluded[arch].push_back(e.get<std::string>());
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(what + " is not a valid distill lockfile (" + e.what() + "); run distill lock again");
  }
  return lock;
}

std::vector<std::string> spec_debian_archs(const Spec& spec) {
  static const std::map<std::string, std::string> to_debian = {
      {"amd64", "amd64"},   {"x86_64", "amd64"}, {"arm64", "arm64"},     {"aarch64", "arm64"}, {"armhf", "armhf"},
      {"arm", "armhf"},     {"armel", "armel"},  {"i386", "i386"},       {"386", "i386"},      {"ppc64el", "ppc64el"},
      {"ppc64le", "ppc64el"}, {"s390x", "s390x"}, {"riscv64", "riscv64"}, {"mips64el", "mips64el"}, {"mips64le", "mips64el"}};
  std::vector<std::string> out;
  if (spec.archs.empty()) {
    Platform host = Platform::host();
    for (const auto& [k, v] : to_debian)
      if (Platform::from_arch(k) == host) return {v};
  }
  for (const std::string& a : spec.archs) out.push_back(to_debian.at(a));
  return out;
}

fs::path lockfile_path(const fs::path& spec) {
  fs::path p = spec;
  std::string name = p.filename().string();
  for (const char* ext : {".yaml", ".yml"})
    if (name.ends_with(ext)) name.erase(name.size() - std::string(ext).size());
  return p.parent_path() / (name + ".lock.json");
}

namespace {

std::vector<deb::Source> effective_sources(const Spec& spec, const ResolveOptions& options) {
  if (spec.contents && !spec.contents->repositories.empty()) return spec.contents->repositories;
  std::vector<deb::Source> host = options.mirror.empty() ? deb::host_sources() : std::vector<deb::Source>{};
  std::vector<deb::Source> out = deb::default_sources(options.suite, options.mirror, host);
  if (out.empty())
    throw Error("no Debian repository: the spec names none (contents.repositories), the host's apt sources have no "
                "Debian archive, and no --mirror URL or DISTILL_MIRROR is set");
  return out;
}

}  // namespace

Digest lock_inputs(const Spec& spec, const ResolveOptions& options) {
  nlohmann::json j = nlohmann::json::object();
  nlohmann::json repos = nlohmann::json::array();
  for (const deb::Source& s : effective_sources(spec, options)) repos.push_back({s.uri, s.suite, s.components, s.archs});
  j["repositories"] = repos;
  nlohmann::json pkgs = nlohmann::json::array();
  for (const deb::PackageRequest& r : spec.contents->packages) pkgs.push_back(r.text + (r.nodeps ? " (as listed)" : ""));
  j["packages"] = pkgs;
  j["recommends"] = spec.contents->recommends;
  j["suggests"] = spec.contents->suggests;
  j["archs"] = spec_debian_archs(spec);
  return sha256_of(j.dump());
}

namespace {

/// What one architecture's resolution produced, as the lockfile holds it.
struct ArchResolution {
  std::vector<LockedPackage> packages;
  std::vector<std::string> excluded;
  std::map<std::string, deb::Reason> reasons;
};

nlohmann::json to_json(const ArchResolution& r) {
  nlohmann::json pkgs = nlohmann::json::array(), reasons = nlohmann::json::object();
  for (const LockedPackage& p : r.packages)
    pkgs.push_back({p.name, p.version, p.arch, p.repository, p.url, p.filename, p.size, p.sha256.hex});
  for (const auto& [name, why] : r.reasons) reasons[name] = {why.parent, why.version, why.via};
  return {{"packages", pkgs}, {"excluded", r.excluded}, {"reasons", reasons}};
}

ArchResolution from_json(const nlohmann::json& j) {
  ArchResolution r;
  for (const auto& p : j.at("packages")) {
    LockedPackage lp;
    lp.name = p.at(0).get<std::string>();
    lp.version = p.at(1).get<std::string>();
    lp.arch = p.at(2).get<std::string>();
    lp.repository = p.at(3).get<std::string>();
    lp.url = p.at(4).get<std::string>();
    lp.filename = p.at(5).get<std::string>();
    lp.size = p.at(6).get<uint64_t>();
    lp.sha256 = Digest::parse("sha256:" + p.at(7).get<std::string>(), "cached resolution");
    r.packages.push_back(std::move(lp));
  }
  r.excluded = j.at("excluded").get<std::vector<std::string>>();
  for (const auto& [name, why] : j.at("reasons").items())
    r.reasons[name] = {why.at(0).get<std::string>(), why.at(1).get<std::string>(), why.at(2).get<std::string>()};
  return r;
}

/// A resolution depends only on the verified indexes (their digests), the
/// requests, the options and the versions pinned by the first architecture.
Digest resolution_key(const deb::PackageIndex& index, const std::vector<deb::PackageRequest>& requests,
                      const deb::SolveOptions& options, const std::map<std::string, std::string>& pinned) {
  nlohmann::json key = {"distill-resolution-v1", index.arch, options.recommends, options.suggests, pinned};
  for (const deb::PackageIndex::File& f : index.files)
    key.push_back({f.sha256.hex, index.sources[f.source].uri, index.sources[f.source].suite});
  for (const deb::PackageRequest& r : requests) key.push_back(r.text + (r.nodeps ? " (as listed)" : ""));
  return sha256_of(key.dump());
}

ArchResolution solve_arch(const deb::PackageIndex& index, std::vector<deb::PackageRequest> requests,
                          const deb::SolveOptions& solve_options, const std::map<std::string, std::string>& first_versions,
                          const std::string& first_arch) {
  deb::Resolution res = deb::solve(index, requests, solve_options);
  if (!first_versions.empty()) {
    // Same versions on every architecture: pin what the first one chose.
    bool differs = false;
    for (const auto* p : res.packages)
      if (auto it = first_versions.find(std::string(p->name)); it != first_versions.end() && it->second != p->version)
        differs = true;
    if (differs) {
      for (const auto* p : res.packages) {
        auto it = first_versions.find(std::string(p->name));
        if (it == first_versions.end()) continue;
        bool requested = false;
        for (auto& r : requests)
          if (r.name == it->first && !r.exclude) {
            r.version = it->second;
            requested = true;
          }
        if (!requested) requests.push_back(deb::PackageRequest::parse(it->first + "=" + it->second));
      }
      try {
        res = deb::solve(index, requests, solve_options);
      } catch (const Error& e) {
        throw Error(std::string("cannot give ") + index.arch + " the same package versions as " + first_arch + ": " + e.what());
      }
    }
  }
  ArchResolution out;
  for (const auto* p : res.packages) {
    const deb::Source& src = index.sources.at(p->source);
    LockedPackage lp;
    lp.name = std::string(p->name);
    lp.version = std::string(p->version);
    lp.arch = std::string(p->arch);
    lp.repository = src.uri + " " + src.suite;
    lp.filename = std::string(p->filename);
    lp.url = src.uri + "/" + lp.filename;
    lp.size = p->size;
    lp.sha256 = Digest::parse("sha256:" + std::string(p->sha256), "index SHA256 of " + lp.name);
    out.packages.push_back(std::move(lp));
  }
  for (const auto* p : res.excluded) out.excluded.push_back(std::string(p->name));
  out.reasons = res.reasons;
  return out;
}

}  // namespace

Lockfile resolve_packages(const Spec& spec, const ResolveOptions& options, http::Client& client, Store& store, Status& status) {
  Lockfile lock;
  lock.inputs = lock_inputs(spec, options);
  std::vector<deb::Source> sources = effective_sources(spec, options);
  deb::RepositoryOptions repo_options;
  repo_options.keyrings = spec.contents->keyrings.empty() ? options.default_keyrings : spec.contents->keyrings;
  repo_options.allow_expired = options.allow_expired;
  deb::SolveOptions solve_options{spec.contents->recommends, spec.contents->suggests};
  std::map<std::string, std::string> first_versions;  // name -> version chosen for the first arch
  for (const std::string& arch : spec_debian_archs(spec)) {
    // The signed indexes are fetched and verified every time; parsing them
    // and solving (over a second for Debian's 69k packages) only when this
    // exact resolution is not in the cache.
    deb::PackageIndex index = deb::load_index(sources, arch, repo_options, client, store, status, /*parse=*/false);
    status.phase("resolving packages (" + arch + ")");
    Digest key = resolution_key(index, spec.contents->packages, solve_options, first_versions);
    std::optional<ArchResolution> res;
    if (auto record = store.get_action(key)) {
      try {
        res = from_json(*record);
      } catch (const std::exception&) {
        // a damaged record is solved again below
      }
    }
    if (!res) {
      deb::parse_index(index, store);
      res = solve_arch(index, spec.contents->packages, solve_options, first_versions,
                       lock.archs.empty() ? "" : lock.archs.front());
      store.put_action(key, to_json(*res));
    }
    lock.archs.push_back(arch);
    if (lock.archs.size() == 1)
      for (const LockedPackage& p : res->packages) first_versions[p.name] = p.version;
    status.done(std::to_string(res->packages.size()) + " packages");
    lock.packages[arch] = std::move(res->packages);  // present even when every package is excluded
    lock.excluded[arch] = std::move(res->excluded);
    lock.reasons[arch] = std::move(res->reasons);
  }
  return lock;
}

PackageDownloads::PackageDownloads(const Lockfile& lock, http::Client& client, Store& store, Status& status) {
  std::map<std::string, const LockedPackage*> wanted;  // by sha256: arch:all packages once
  for (const auto& [arch, list] : lock.packages)
    for (const LockedPackage& p : list)
      if (!store.has_blob(p.sha256) && wanted.emplace(p.sha256.hex, &p).second) m_total += p.size;
  if (wanted.empty()) return;
  std::vector<const LockedPackage*> order;
  for (const auto& [hex, p] : wanted) order.push_back(p);
  // Largest first, as package layers are built: the longest layer job can
  // start soonest.
  std::stable_sort(order.begin(), order.end(), [](const LockedPackage* a, const LockedPackage* b) { return a->size > b->size; });
  m_status = status.job();
  m_status->phase("downloading " + std::to_string(order.size()) + " packages", m_total);
  m_left = order.size();
  // Downloads wait on the network, not the CPU: a few more than the cores.
  m_pool = std::make_unique<ThreadPool>(std::max(4u, ThreadPool::default_threads() * 2));
  for (const LockedPackage* p : order)
    m_jobs[p->sha256.hex] = m_pool->submit([this, p, &client, &store] {
      uint64_t last = 0;
      http::download_blob(client, p->url, p->sha256, p->size, store, p->name + " " + p->version, [&](uint64_t n) {
        m_status->progress(m_done += n - last);
        last = n;
      });
      store.mark_fresh(p->sha256);  // hashed on the way in: building its layer need not hash it again
      if (--m_left == 0) m_status->done(human_size(m_total));
    }).share();
}

PackageDownloads::~PackageDownloads() {
  for (auto& [hex, job] : m_jobs) job.wait();
}

void PackageDownloads::wait(const Digest& sha256) const {
  if (auto it = m_jobs.find(sha256.hex); it != m_jobs.end()) it->second.get();
}

void PackageDownloads::wait_all() const {
  for (const auto& [hex, job] : m_jobs) job.wait();
  for (const auto& [hex, job] : m_jobs) job.get();
}

namespace {

/// The blob an action record of the store names, if both are still there
/// (a damaged record is a miss).
std::optional<std::string> remembered_text(const Store& store, const Digest& action) {
  auto record = store.get_action(action);
  if (!record) return std::nullopt;
  try {
    Digest blob = Digest::parse(record->at("digest").get<std::string>());
    if (store.has_blob(blob)) return store.read_blob(blob);
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

}  // namespace

std::string locked_ca_bundle(const Lockfile& lock, const std::string& arch, Store& store) {
  auto it = lock.packages.find(arch);
  if (it == lock.packages.end()) return "";
  for (const LockedPackage& p : it->second) {
    if (p.name != "ca-certificates") continue;
    // Cached by the package's digest: a rebuild need not decode the .deb.
    Digest action = sha256_of(nlohmann::json{"distill-ca-bundle-v1", p.sha256.hex}.dump());
    if (auto cached = remembered_text(store, action)) return *cached;
    TempDir tmp(store.root() / "tmp", "deb-");
    deb::DebOptions options;
    deb::DebContents deb = deb::read_deb(store.blob_path(p.sha256), tmp.path() / "payload", options, p.name);
    std::string bundle = ca_bundle(deb);
    store.put_action(action, {{"digest", store.put_blob(bundle).str()}});
    return bundle;
  }
  return "";
}

namespace {

/// The directories ldconfig reads in a Debian image, in its order.
std::vector<std::string> library_dirs(const std::string& arch, bool merged_usr) {
  std::string triplet = multiarch_triplet(arch);
  if (merged_usr) return {"usr/lib/" + triplet, "usr/lib"};
  return {"lib/" + triplet, "usr/lib/" + triplet, "lib", "usr/lib"};
}

using SharedObjects = std::vector<std::pair<std::string, std::string>>;  // (directory, soname)

/// Where a symlink entry of a package points, as a clean relative path in
/// the image (merged-/usr applied to absolute targets); "" if it leaves
/// the root.
std::string symlink_destination(const LayerEntry& link, bool merged_usr) {
  const std::string& t = link.link_target;
  fs::path joined = t.starts_with("/") ? fs::path(t.substr(1)) : fs::path(link.path).parent_path() / t;
  std::string clean = joined.lexically_normal().generic_string();
  if (clean.empty() || clean == "." || clean.starts_with("..")) return "";
  return t.starts_with("/") && merged_usr ? deb::merged_usr_path(clean) : clean;
}

/// The shared objects a package puts in `dirs`, in its entries' order:
/// all that /etc/ld.so.cache needs of it. As ldconfig's search_dir, a
/// symlink with a library's name counts as the file it resolves to (here:
/// in the same package), under the link's own name when the file's name is
/// its SONAME (s390x's /lib/ld64.so.1 -> s390x-linux-gnu/ld64.so.1).
SharedObjects shared_objects(const deb::DebContents& deb, const std::vector<std::string>& dirs, bool merged_usr) {
  std::map<std::string, const LayerEntry*> by_path;
  for (const LayerEntry& e : deb.entries) by_path.emplace(e.path, &e);
  auto resolve = [&](const LayerEntry* e) {
    for (int hops = 0; e && e->type == LayerEntry::Type::symlink && hops < 40; ++hops) {
      auto it = by_path.find(symlink_destination(*e, merged_usr));
      e = it == by_path.end() ? nullptr : it->second;
    }
    return e && e->type == LayerEntry::Type::file ? e : nullptr;
  };
  SharedObjects out;
  for (const LayerEntry& e : deb.entries) {
    if (e.type != LayerEntry::Type::file && e.type != LayerEntry::Type::symlink) continue;
    auto slash = e.path.rfind('/');
    if (slash == std::string::npos) continue;
    std::string dir = e.path.substr(0, slash), name = e.path.substr(slash + 1);
    if (std::find(dirs.begin(), dirs.end(), dir) == dirs.end()) continue;
    if (!elf::looks_like_dso(name)) continue;
    const LayerEntry* file = resolve(&e);
    if (!file) continue;
    auto so = elf::read_shared_object(file->source, file->source_offset, file->size);
    if (!so) continue;
    std::string file_name = file->path.substr(file->path.rfind('/') + 1);
    bool named_as_link = e.type == LayerEntry::Type::symlink && file_name == so->soname;
    out.emplace_back(dir, named_as_link || so->soname.empty() ? name : so->soname);
  }
  return out;
}

/// Where a package's shared objects are recorded in the store's action
/// cache. Building its layer decodes the .deb anyway and records them, so
/// ld_so_cache need not decode every .deb a second time.
Digest shared_objects_key(const LockedPackage& p, const std::vector<std::string>& dirs, bool merged_usr) {
  // v3: ld.so.* and ld64.so.* count, as ldconfig's _dl_is_dso, and so do
  // symlinks to libraries.
  return sha256_of(nlohmann::json{"distill-deb-shared-objects-v3", p.sha256.hex, dirs, merged_usr}.dump());
}

void record_shared_objects(Store& store, const Digest& key, const SharedObjects& sos) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [dir, soname] : sos) list.push_back({dir, soname});
  store.put_action(key, {{"sharedObjects", list}});
}

std::optional<SharedObjects> recorded_shared_objects(const Store& store, const Digest& key) {
  auto record = store.get_action(key);
  if (!record) return std::nullopt;
  try {
    SharedObjects out;
    for (const auto& so : record->at("sharedObjects")) out.emplace_back(so.at(0).get<std::string>(), so.at(1).get<std::string>());
    return out;
  } catch (const std::exception&) {
    return std::nullopt;  // a damaged record: decode the .deb again
  }
}

/// A package's shared objects: as recorded when its layer was built, else
/// from the .deb (whose layer came from a cache, or was never built).
SharedObjects package_shared_objects(const LockedPackage& p, const std::vector<std::string>& dirs,
                                     const deb::DebOptions& deb_options, Store& store) {
  Digest key = shared_objects_key(p, dirs, deb_options.merged_usr);
  if (auto recorded = recorded_shared_objects(store, key)) return *recorded;
  TempDir tmp(store.root() / "tmp", "deb-");
  deb::DebOptions options = deb_options;
  options.strip.clear();
  deb::DebContents deb = deb::read_deb(store.blob_path(p.sha256), tmp.path() / "payload", options, p.name);
  SharedObjects sos = shared_objects(deb, dirs, deb_options.merged_usr);
  record_shared_objects(store, key, sos);
  return sos;
}

/// What every package layer of one architecture shares.
struct LayerContext {
  const deb::DebOptions& deb_options;
  const std::set<std::string>& derived;
  std::vector<std::string> library_dirs;
  Store& store;
  ThreadPool& pool;
  const BuildOptions& options;
  const PackageDownloads* downloads;
};

/// One package's layer entries: its files (or derived effect), the effects
/// of its maintainer scripts distill reproduces, and its status.d files.
std::vector<LayerEntry> package_entries(const LockedPackage& p, const LayerContext& ctx, const fs::path& payload) {
  std::string what = p.name + " " + p.version + " (" + p.filename + ")";
  deb::DebContents deb = deb::read_deb(ctx.store.blob_path(p.sha256), payload, ctx.deb_options, what);
  // Strip classes never reach the library directories, so these are the
  // shared objects ld_so_cache would find decoding the .deb itself.
  record_shared_objects(ctx.store, shared_objects_key(p, ctx.library_dirs, ctx.deb_options.merged_usr),
                        shared_objects(deb, ctx.library_dirs, ctx.deb_options.merged_usr));
  std::vector<LayerEntry> entries = deb.entries;
  auto add_dir = [&](const std::string& path) {
    if (std::none_of(entries.begin(), entries.end(), [&](const LayerEntry& e) { return e.path == path; })) {
      LayerEntry d;
      d.path = path;
      d.type = LayerEntry::Type::directory;
      d.mode = 0755;
      entries.push_back(d);
    }
  };
  // A package's effects that distill makes itself (ca-certificates' bundle)
  // go in the generated layer (generated_entries), unless a preset derives the
  // package: then its layer holds only that effect, as distroless's does.
  if (ctx.derived.count(p.name)) derive_package(p.name, deb, entries);
  for (const char* dir : {"var", "var/lib", "var/lib/dpkg", "var/lib/dpkg/status.d"}) add_dir(dir);
  LayerEntry control;
  control.path = "var/lib/dpkg/status.d/" + p.name;
  control.content = deb.control;
  control.size = control.content.size();
  entries.push_back(control);
  if (!deb.md5sums.empty()) {
    LayerEntry sums = control;
    sums.path += ".md5sums";
    sums.content = deb.md5sums;
    sums.size = sums.content.size();
    entries.push_back(sums);
  }
  return entries;
}

/// Waits for the package's .deb if it is still downloading, then checks it
/// before its first use: the store checks names, not bytes (but a .deb this
/// build downloaded was hashed as it came in).
void usable_deb(const LockedPackage& p, const LayerContext& ctx) {
  if (ctx.downloads) ctx.downloads->wait(p.sha256);
  if (!ctx.store.is_fresh(p.sha256) && hash_file(ctx.store.blob_path(p.sha256)) != p.sha256)
    throw Error(p.name + " " + p.version + ": the cached .deb does not match its sha256; delete " +
                ctx.store.blob_path(p.sha256).string() + " and build again");
}

uint64_t group_size(const std::vector<LockedPackage>& packages, const std::vector<size_t>& group) {
  uint64_t size = 0;
  for (size_t i : group) size += packages[i].size;
  return size;
}

/// The layer of one group of packages (one package unless layering merges
/// them), built or reused; later packages win a path both ship.
BuiltLayer group_layer(const std::vector<LockedPackage>& packages, const std::vector<size_t>& group,
                       const LayerContext& ctx, Status& status) {
  std::string strip;
  for (const std::string& s : ctx.deb_options.strip) strip += s + ",";
  nlohmann::json key = {"distill-deb-layer-v5", kTarLayoutVersion, ctx.deb_options.merged_usr, strip,
                        ctx.options.compression.str(), ctx.options.epoch};
  std::string created_by = "distill: package";
  for (size_t i : group) {
    const LockedPackage& p = packages[i];
    key.push_back({p.sha256.hex, ctx.derived.count(p.name) > 0});
    created_by += " " + p.name + " " + p.version;
  }
  Digest layer_key = sha256_of(key.dump());
  std::vector<TempDir> tmps;  // payloads stay until the layer is written
  std::vector<LayerEntry> produced;
  auto produce = [&]() -> const std::vector<LayerEntry>& {
    for (size_t i : group) usable_deb(packages[i], ctx);
    std::map<std::string, LayerEntry> merged;  // directories merge
    for (size_t i : group) {
      tmps.emplace_back(ctx.store.root() / "tmp", "deb-");
      for (LayerEntry& e : package_entries(packages[i], ctx, tmps.back().path() / "payload")) {
        std::string path = e.path;
        merged[path] = std::move(e);
      }
    }
    for (auto& [path, e] : merged) produced.push_back(std::move(e));
    order_for_tar(produced);
    return produced;
  };
  return build_layer_keyed(ctx.store, ctx.pool, layer_key, produce, ctx.options, created_by, status);
}

/// Package layers built at once: decoding a .deb's data.tar.xz is single
/// threaded, so one package at a time leaves the other cores idle. Four at
/// most: a layer's compression spreads over several cores anyway, and the
/// critical path is the largest package's decoding.
unsigned concurrent_layers(const ThreadPool& pool) { return std::clamp(pool.size(), 1u, 4u); }

/// Lowers `value` to `candidate` if that is smaller, whoever else does too.
void lower_to(std::atomic<size_t>& value, size_t candidate) {
  size_t seen = value;
  while (candidate < seen && !value.compare_exchange_weak(seen, candidate)) {
  }
}

}  // namespace

/// Splits packages (in order) into at most `max` groups by merging, again
/// and again, the two smallest groups (by .deb size; on a tie, the earlier
/// one), as Huffman coding does: the largest packages keep layers of their
/// own, and no large layer absorbs a small one just for being its
/// neighbour. A group lists its packages in order and takes the place of
/// its first. With max == 0 every package is its own group.
std::vector<std::vector<size_t>> group_packages(const std::vector<LockedPackage>& packages, size_t max) {
  std::vector<std::vector<size_t>> groups;
  std::vector<uint64_t> sizes;
  for (size_t i = 0; i < packages.size(); ++i) {
    groups.push_back({i});
    sizes.push_back(packages[i].size);
  }
  while (max > 0 && groups.size() > max && groups.size() > 1) {
    size_t a = 0, b = 1;  // the smallest and the next, earlier first on ties
    if (sizes[1] < sizes[0]) std::swap(a, b);
    for (size_t i = 2; i < groups.size(); ++i) {
      if (sizes[i] < sizes[a]) {
        b = a;
        a = i;
      } else if (sizes[i] < sizes[b]) {
        b = i;
      }
    }
    auto [keep, gone] = std::minmax(a, b);
    groups[keep].insert(groups[keep].end(), groups[gone].begin(), groups[gone].end());
    std::sort(groups[keep].begin(), groups[keep].end());
    sizes[keep] += sizes[gone];
    groups.erase(groups.begin() + static_cast<long>(gone));
    sizes.erase(sizes.begin() + static_cast<long>(gone));
  }
  return groups;
}

std::vector<BuiltLayer> package_layers(const Lockfile& lock, const std::string& arch, const deb::DebOptions& deb_options,
                                       const std::set<std::string>& derived, size_t max_layers, Store& store,
                                       ThreadPool& pool, const BuildOptions& options, Status& status,
                                       const PackageDownloads* downloads) {
  auto it = lock.packages.find(arch);
  if (it == lock.packages.end()) throw Error("the lockfile has no packages for " + arch + "; run distill lock again");
  const std::vector<LockedPackage>& packages = it->second;
  unsigned concurrent = concurrent_layers(pool);
  // Layers built at once share the cores, and their compressors' memory
  // stays what one layer on every core would use.
  BuildOptions layer_options = options;
  layer_options.compression_threads = std::max(1u, pool.size() / concurrent);
  LayerContext ctx{deb_options, derived, library_dirs(arch, deb_options.merged_usr), store, pool, layer_options, downloads};
  std::vector<std::vector<size_t>> groups = group_packages(packages, max_layers);
  // Largest first, so the longest job does not start last; each layer
  // lands in its own slot, so the order of the result never changes.
  std::vector<size_t> order(groups.size());
  for (size_t g = 0; g < order.size(); ++g) order[g] = g;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return group_size(packages, groups[a]) > group_size(packages, groups[b]);
  });
  std::vector<BuiltLayer> layers(groups.size());
  std::vector<std::future<void>> jobs(groups.size());
  // After a failure, layers after it in package order are skipped; those
  // before it still run, so the error reported (wait_all takes the first
  // in layer order) is the same whatever order the jobs ran in.
  std::atomic<size_t> first_failed{groups.size()};
  status.phase("building " + std::to_string(groups.size()) + " package layers (" + arch + ")");
  {
    // Their own pool: a job waits on compression shards queued in `pool`,
    // which could never run if the jobs themselves held all its threads.
    ThreadPool workers(concurrent);
    for (size_t g : order)
      jobs[g] = workers.submit([&, g] {
        if (g > first_failed) return;
        try {
          std::unique_ptr<Status> job_status = status.job();
          layers[g] = group_layer(packages, groups[g], ctx, *job_status);
        } catch (...) {
          lower_to(first_failed, g);
          throw;
        }
      });
    wait_all(jobs);
  }
  return layers;
}

namespace {

const std::map<std::string, std::string>& triplet_table() {
  static const std::map<std::string, std::string> triplets = {
      {"amd64", "x86_64-linux-gnu"},        {"arm64", "aarch64-linux-gnu"},      {"armhf", "arm-linux-gnueabihf"},
      {"armel", "arm-linux-gnueabi"},       {"i386", "i386-linux-gnu"},          {"ppc64el", "powerpc64le-linux-gnu"},
      {"s390x", "s390x-linux-gnu"},         {"riscv64", "riscv64-linux-gnu"},    {"mips64el", "mips64el-linux-gnuabi64"}};
  return triplets;
}

}  // namespace

std::string multiarch_triplet(const std::string& arch) {
  auto it = triplet_table().find(arch);
  return it == triplet_table().end() ? arch + "-linux-gnu" : it->second;
}

std::string debian_arch_of_triplet(const std::string& triplet) {
  for (const auto& [arch, t] : triplet_table())
    if (t == triplet) return arch;
  return "";
}

std::string ld_so_cache(const Lockfile& lock, const std::string& arch, const deb::DebOptions& deb_options, Store& store) {
  auto it = lock.packages.find(arch);
  if (it == lock.packages.end()) return "";
  if (std::none_of(it->second.begin(), it->second.end(), [](const LockedPackage& p) { return p.name == "libc6"; })) return "";
  // v2: big-endian targets get a big-endian cache.
  nlohmann::json key = {"distill-ld.so.cache-v2", arch, deb_options.merged_usr};
  for (const LockedPackage& p : it->second) key.push_back(p.sha256.hex);
  Digest action = sha256_of(key.dump());
  if (auto cached = remembered_text(store, action)) return *cached;
  std::vector<std::string> dirs = library_dirs(arch, deb_options.merged_usr);
  std::map<std::string, std::map<std::string, std::string>> by_dir;  // dir -> soname -> path
  for (const LockedPackage& p : it->second)
    for (const auto& [dir, soname] : package_shared_objects(p, dirs, deb_options, store))
      by_dir[dir].emplace(soname, "/" + dir + "/" + soname);
  std::vector<elf::CacheEntry> entries;
  for (const std::string& dir : dirs)
    for (const auto& [soname, path] : by_dir[dir]) entries.push_back({soname, path});
  std::string cache = elf::write_ld_so_cache(entries, elf::cache_flags(arch), elf::big_endian_arch(arch));
  Digest blob = store.put_blob(cache);
  store.put_action(action, {{"digest", blob.str()}});
  return cache;
}

}  // namespace distill
