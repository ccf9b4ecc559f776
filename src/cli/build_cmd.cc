#include <iostream>

#include "app/app.h"
#include "base/error.h"
#include "build/builder.h"
#include "build/layer_plan.h"
#include "build/generated.h"
#include "build/packages.h"
#include "build/presets.h"
#include "cli/commands.h"
#include "cli/package_support.h"
#include "cli/registry_support.h"
#include "oci/artifact.h"
#include "registry/layer_cache.h"
#include "registry/transfer.h"
#include "oci/layout.h"

namespace distill {

namespace {

nlohmann::json report_json(const BuiltArtifact& a, const ImageRef& dest) {
  nlohmann::json images = nlohmann::json::array();
  for (const BuiltImage& img : a.images) {
    nlohmann::json layers = nlohmann::json::array();
    for (const BuiltLayer& l : img.layers)
      layers.push_back({{"digest", l.blob.digest.str()},
                        {"diffID", l.diff_id.str()},
                        {"size", l.blob.size},
                        {"mediaType", l.blob.media_type},
                        {"createdBy", l.created_by},
                        {"reused", l.reused}});
    images.push_back({{"platform", img.platform.str()},
                      {"manifest", img.manifest.digest.str()},
                      {"config", img.config.digest.str()},
                      {"layers", layers}});
  }
  Descriptor top = a.top();
  return {{"destination", dest.str()}, {"digest", top.digest.str()}, {"mediaType", top.media_type}, {"images", images}};
}

}  // namespace

ResolveOptions resolve_options(const PackageFlags& flags) {
  ResolveOptions o;
  o.suite = flags.suite;
  o.mirror = flags.mirror;
  if (o.mirror.empty())
    if (const char* env = std::getenv("DISTILL_MIRROR"); env && *env) o.mirror = env;
  o.allow_expired = flags.allow_expired;
  if (o.suite != "trixie" && o.suite != "bookworm" && !flags.any_suite)
    throw UsageError("--suite " + o.suite + ": distill supports trixie and bookworm");
  std::error_code ec;
  for (const std::string& k : flags.keyrings) {
    if (!fs::exists(k, ec)) throw UsageError("--keyring " + k + ": no such file");
    o.default_keyrings.push_back(fs::absolute(k).string());
  }
  if (o.default_keyrings.empty() && fs::exists("/usr/share/keyrings/debian-archive-keyring.gpg", ec))
    o.default_keyrings.push_back("/usr/share/keyrings/debian-archive-keyring.gpg");
  return o;
}

Lockfile locked_or_resolved(const Spec& spec, const ResolveOptions& options, bool update_lock, http::Client& client,
                            Store& store, Status& status, bool* wrote) {
  fs::path lock_path = lockfile_path(spec.file);
  std::error_code ec;
  if (!update_lock && fs::exists(lock_path, ec)) {
    Lockfile lock = Lockfile::from_json(nlohmann::json::parse(read_file(lock_path), nullptr, false), lock_path.string());
    if (lock.inputs != lock_inputs(spec, options))
      throw Error(spec.file.string() + " changed since " + lock_path.string() +
                  " was written (its packages, repositories or archs differ); run distill lock " + spec.file.string() +
                  " or build with --update-lock");
    status.phase("reading " + lock_path.string());
    status.done("locked");
    return lock;
  }
  Lockfile lock = resolve_packages(spec, options, client, store, status);
  if (update_lock) {
    write_file_atomic(lock_path, lock.to_json().dump(2) + "\n");
    if (wrote) *wrote = true;
  }
  return lock;
}

namespace {

/// The spec to build: a file, a preset, or a file on top of a preset.
Spec build_spec(const BuildCommand& cmd, const ResolveOptions& resolve) {
  if (cmd.spec.empty() && cmd.preset.empty())
    throw UsageError("give a spec file or --preset NAME[:VARIANT] (see distill build --help)");
  std::optional<Spec> file;
  if (!cmd.spec.empty()) file = parse_spec_file(cmd.spec);
  if (file && file->from.empty()) file->from = file->app ? default_app_base(*file->app) : "scratch";
  std::string preset = cmd.preset;
  if (file && file->from.starts_with("preset:")) {
    if (!preset.empty()) throw UsageError("the spec already says from: " + file->from + "; drop --preset");
    preset = file->from.substr(7);
  }
  Spec spec;
  if (preset.empty()) spec = std::move(*file);
  else if (file) spec = overlay(preset_spec(PresetRef::parse(preset), resolve.suite), *file);
  else spec = preset_spec(PresetRef::parse(preset), resolve.suite);
  if (!cmd.archs.empty()) {
    spec.archs.clear();
    for (const std::string& a : cmd.archs) {
      Platform::from_arch(a);  // validates
      spec.archs.push_back(a);
    }
  }
  return spec;
}

/// max-layers counts every layer the build makes, and the generated layer
/// and the files layer are never merged: a limit that leaves no layer for
/// the packages is the spec's mistake, not something to exceed quietly.
void check_layer_room(const Spec& spec, bool files_layer) {
  size_t fixed = 1 + (files_layer ? 1 : 0);
  if (!spec.contents || spec.max_layers == 0 || spec.max_layers > fixed) return;
  std::string where = spec.max_layers_place.file.empty() ? "layering.max-layers" : spec.max_layers_place.str();
  throw Error(where + ": " + std::to_string(spec.max_layers) +
              " layers leave none for the packages beside the generated layer and the files layer; write at least " +
              std::to_string(fixed + 1));
}

/// A base image (from: docker://... or oci:...) in the store, all platforms.
std::optional<BuiltArtifact> load_base(const Spec& spec, const RegistryFlags& flags, Store& store, Status& status) {
  if (!(spec.from.starts_with("docker://") || spec.from.starts_with("oci:") || spec.from.starts_with("oci-archive:")))
    return std::nullopt;
  ImageRef ref = ImageRef::parse(spec.from);
  Descriptor top;
  if (ref.transport == ImageRef::Transport::docker) {
    registry::Reference r = registry::Reference::parse(ref.path);
    registry::Client client(r.host, registry_options(flags));
    ThreadPool pool(ThreadPool::default_threads());
    top = registry::pull_artifact(r, client, store, status, pool);
  } else {
    status.phase("reading base " + ref.str());
    top = import_local(ref, store);
    status.done(top.digest.str());
  }
  return describe_artifact(store, top);
}

/// The base's image for `platform`; its layers are reused as they are.
const BuiltImage& base_for(const BuiltArtifact& base, const Platform& platform, const std::string& from) {
  std::string offered;
  for (const BuiltImage& img : base.images) {
    if (img.platform.os == platform.os && img.platform.architecture == platform.architecture &&
        (img.platform.variant.empty() || platform.variant.empty() || img.platform.variant == platform.variant))
      return img;
    offered += (offered.empty() ? "" : ", ") + img.platform.str();
  }
  throw Error("the base image " + from + " has no " + platform.str() + " image (it offers: " + offered + ")");
}

/// Trixie and later are merged-/usr; bookworm images keep the split layout.
bool merged_usr_for(const Spec& spec, const Lockfile& lock) {
  if (!spec.generated.suite.empty()) return spec.generated.suite != "bookworm";
  for (const auto& [arch, list] : lock.packages)
    for (const LockedPackage& p : list)
      if (p.repository.find(" bookworm") != std::string::npos) return false;
  return true;
}

}  // namespace

namespace {

/// An app image is for its program's architecture, and only that one.
void settle_app_arch(Spec& spec) {
  check_app_paths(*spec.app);
  std::string arch = app_arch(*spec.app);
  if (!arch.empty()) {
    if (!spec.archs.empty() && (spec.archs.size() != 1 || Platform::from_arch(spec.archs[0]) != Platform::from_arch(arch)))
      throw Error(spec.app->place.str() + ": the program is built for " + arch + "; an app image is for that architecture only (drop archs or --arch)");
    spec.archs = {arch};
  } else if (spec.archs.size() > 1) {
    throw Error(spec.app->place.str() + ": an app image is for one architecture; name one in archs or --arch");
  }
}

/// The app's layers on top of `img`, and its entrypoint, workdir and user
/// in `spec` (an app image has one platform, so one spec fits).
void add_app_layers(Spec& spec, PlatformLayers& img, Store& store, ThreadPool& pool, const BuildOptions& options,
                    bool explain, Status& status) {
  status.phase("reading what the base provides");
  BaseTree tree = BaseTree::read(img.layers, store);
  std::vector<std::string> base_entrypoint;
  if (spec.entrypoint) base_entrypoint = *spec.entrypoint;
  else if (img.base_config.is_object() && img.base_config.contains("config") &&
           img.base_config["config"].value("Entrypoint", nlohmann::json()).is_array())
    base_entrypoint = img.base_config["config"]["Entrypoint"].get<std::vector<std::string>>();
  AppContext context{tree, base_entrypoint, spec.env, spec.user, options.epoch};
  status.phase(std::string("planning the ") + kind_name(app_kind(*spec.app)) + " app");
  AppPlan plan = plan_app(*spec.app, context);
  status.done(std::to_string(plan.layers.size()) + " layers");
  for (const AppLayer& layer : plan.layers) {
    Spec part;
    part.file = spec.file;
    part.base_dir = spec.base_dir;
    part.files = layer.files;
    part.paths = layer.paths;
    img.layers.push_back(build_layer(store, pool, plan_files_layer(part), options, layer.created_by, status));
  }
  spec.entrypoint = plan.entrypoint;
  if (plan.workdir) spec.workdir = plan.workdir;
  if (plan.user) spec.user = plan.user;
  if (explain)  // on stderr, so --format json stays clean
    for (const auto& [path, reason] : plan.explain) std::cerr << path << "\t" << reason << "\n";
}

}  // namespace

int run_build(const GlobalOptions& global, const BuildCommand& cmd) { return run_build_with(global, cmd, nullptr); }

int run_build_with(const GlobalOptions& global, const BuildCommand& cmd, const Spec* given) {
  ImageRef dest = ImageRef::parse(cmd.output);
  if (dest.transport == ImageRef::Transport::docker) registry::Reference::parse(dest.path);  // usage errors first
  BuildOptions options;
  options.compression = Compression::parse(cmd.compression);
  options.epoch = source_date_epoch();
  options.use_layer_cache = !cmd.no_cache;
  ResolveOptions resolve = resolve_options(cmd.packages);
  auto status = Status::for_stderr(global.quiet);

  status->phase("reading spec");
  Spec spec = given ? *given : build_spec(cmd, resolve);
  if (spec.from.empty()) spec.from = spec.app ? default_app_base(*spec.app) : "scratch";
  if (spec.app) settle_app_arch(spec);
  if (given && spec.from.starts_with("preset:"))
    spec = overlay(preset_spec(PresetRef::parse(spec.from.substr(7)), resolve.suite), spec);
  check_destination(dest);
  if (dest.transport == ImageRef::Transport::docker_archive &&
      options.compression.algorithm == Compression::Algorithm::zstd)
    status->warn("docker-archive with zstd layers loads only in Docker 23 or newer; use gzip for older engines");
  std::vector<LayerEntry> entries = plan_files_layer(spec);
  check_layer_room(spec, !entries.empty());
  status->done(std::to_string(spec.files.size()) + " files entries, " + std::to_string(spec.paths.size()) +
               " paths entries" + (spec.contents ? ", " + std::to_string(spec.contents->packages.size()) + " packages" : ""));

  Store store(global.cache_dir.empty() ? Store::default_root() : fs::path(global.cache_dir));
  ThreadPool pool(ThreadPool::default_threads());
  std::vector<std::string> archs = spec_debian_archs(spec);
  std::unique_ptr<registry::RegistryLayerCache> remote;
  if (!cmd.cache_repo.empty()) {
    if (!cmd.cache_repo.starts_with("docker://")) throw UsageError("--cache-repo takes docker://HOST/REPO");
    remote = std::make_unique<registry::RegistryLayerCache>(registry::Reference::parse(cmd.cache_repo.substr(9)),
                                                            registry_options(cmd.registry), store, *status);
    options.remote = remote.get();
  }
  std::optional<Lockfile> lock;
  std::optional<http::Client> client;
  std::unique_ptr<PackageDownloads> downloads;  // in the background while layers build
  if (spec.contents) {
    client.emplace();
    // A preset alone has no spec file, so no lockfile: it resolves afresh.
    if (cmd.spec.empty()) lock = resolve_packages(spec, resolve, *client, store, *status);
    else lock = locked_or_resolved(spec, resolve, cmd.update_lock, *client, store, *status, nullptr);
    downloads = std::make_unique<PackageDownloads>(*lock, *client, store, *status);
  }

  std::optional<BuiltArtifact> base = load_base(spec, cmd.registry, store, *status);
  if (base) {
    spec.annotations["org.opencontainers.image.base.name"] =
        spec.from.starts_with("docker://") ? spec.from.substr(9) : spec.from;
    spec.annotations["org.opencontainers.image.base.digest"] = base->top().digest.str();
  }
  std::optional<BuiltLayer> files_layer;
  if (!entries.empty() || (!spec.contents && !spec.app))
    files_layer = build_layer(store, pool, entries, options, "distill build: files and paths", *status);
  std::vector<PlatformLayers> images;
  for (const std::string& arch : archs) {
    PlatformLayers img{Platform::from_arch(arch), {}};
    if (base) {
      const BuiltImage& b = base_for(*base, img.platform, spec.from);
      img.layers = b.layers;  // reused compressed, never rebuilt
      img.base_layers = b.layers.size();
      img.base_config = nlohmann::json::parse(store.read_blob(b.config.digest));
    }
    if (lock) {
      deb::DebOptions deb_options;
      deb_options.merged_usr = merged_usr_for(spec, *lock);
      deb_options.strip = spec.strip;
      // max-layers counts every layer: keep room for the generated and files layers.
      size_t max_packages = spec.max_layers ? std::max<size_t>(1, spec.max_layers - 1 - (files_layer ? 1 : 0)) : 0;
      std::vector<BuiltLayer> packages = package_layers(*lock, arch, deb_options, spec.generated.derived, max_packages,
                                                        store, pool, options, *status, downloads.get());
      downloads->wait_all();  // the generated files read the .debs whose layers were cached
      size_t reused = 0;
      for (const BuiltLayer& l : packages) reused += l.reused;
      status->phase("package layers (" + arch + ")");
      status->done(std::to_string(packages.size()) + " layers, " + std::to_string(reused) + " reused");
      img.layers.insert(img.layers.end(), packages.begin(), packages.end());
      std::vector<std::string> installed;
      bool java = false;
      for (const LockedPackage& p : lock->packages[arch]) {
        installed.push_back(p.name);
        java = java || (p.name.starts_with("openjdk-") && p.name.ends_with("-jre-headless"));
      }
      // ca-certificates' bundle is a generated file unless a preset derives the package (its layer has it then).
      bool ca_generated = std::find(installed.begin(), installed.end(), "ca-certificates") != installed.end() &&
                          !spec.generated.derived.count("ca-certificates");
      std::string bundle = java || ca_generated ? locked_ca_bundle(*lock, arch, store) : "";
      std::string ld_cache = ld_so_cache(*lock, arch, deb_options, store);
      std::vector<LayerEntry> generated =
          generated_entries(spec, arch, deb_options.merged_usr, installed, bundle, ld_cache);
      img.layers.push_back(build_layer(store, pool, generated, options, "distill: generated files", *status));
    }
    if (files_layer) img.layers.push_back(*files_layer);
    if (spec.app) add_app_layers(spec, img, store, pool, options, cmd.explain, *status);
    images.push_back(std::move(img));
  }

  BuiltArtifact artifact = assemble(store, spec, images, options);
  nlohmann::json pushed = write_anywhere(store, artifact, dest, options.epoch, cmd.registry, *status);

  if (global.format == "json") {
    nlohmann::json report = report_json(artifact, dest);
    for (const char* k : {"pushed", "skipped", "mounted"})
      if (pushed.contains(k)) report[k] = pushed[k];
    if (remote)
      report["cacheRepo"] = {{"hits", remote->hits}, {"misses", remote->misses}, {"stored", remote->stored}};
    std::cout << report.dump(2) << "\n";
  } else {
    std::cout << dest.str() << " " << artifact.top().digest.str() << "\n";
  }
  return 0;
}

}  // namespace distill
