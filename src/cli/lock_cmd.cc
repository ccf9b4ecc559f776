#include <iostream>

#include "app/app.h"
#include "base/error.h"
#include "build/presets.h"
#include "cli/package_support.h"

namespace distill {

namespace {

/// The spec as build sees it: on top of its preset when it says from: preset:.
Spec spec_with_contents(const std::string& file, const ResolveOptions& options) {
  Spec spec = parse_spec_file(file);
  if (spec.from.empty()) spec.from = spec.app ? default_app_base(*spec.app) : "scratch";
  if (spec.from.starts_with("preset:")) spec = overlay(preset_spec(PresetRef::parse(spec.from.substr(7)), options.suite), spec);
  if (!spec.contents || spec.contents->packages.empty())
    throw Error(file + ": the spec lists no packages (contents.packages); there is nothing to lock");
  return spec;
}

}  // namespace

int run_lock(const GlobalOptions& global, const LockCommand& cmd) {
  ResolveOptions options = resolve_options(cmd.packages);
  auto status = Status::for_stderr(global.quiet);
  Spec spec = spec_with_contents(cmd.spec, options);
  Store store(global.cache_dir.empty() ? Store::default_root() : fs::path(global.cache_dir));
  http::Client client;
  Lockfile lock = resolve_packages(spec, options, client, store, *status);
  fs::path path = lockfile_path(spec.file);
  write_file_atomic(path, lock.to_json().dump(2) + "\n");
  if (global.format == "json") {
    std::cout << lock.to_json().dump(2) << "\n";
  } else {
    std::cout << "wrote " << path.string() << "\n";
    for (const auto& [arch, list] : lock.packages) {
      uint64_t bytes = 0;
      for (const LockedPackage& p : list) bytes += p.size;
      std::cout << "  " << arch << ": " << list.size() << " packages, " << human_size(bytes) << "\n";
    }
  }
  return 0;
}

int run_why(const GlobalOptions& global, const WhyCommand& cmd) {
  ResolveOptions options = resolve_options(cmd.packages);
  auto status = Status::for_stderr(global.quiet);
  Spec spec = spec_with_contents(cmd.spec, options);
  Store store(global.cache_dir.empty() ? Store::default_root() : fs::path(global.cache_dir));
  http::Client client;
  // Resolve afresh (indexes come from the cache): the chain needs the graph.
  Lockfile lock = resolve_packages(spec, options, client, store, *status);
  std::string arch = cmd.arch.empty() ? lock.archs.front() : cmd.arch;
  auto reasons = lock.reasons.find(arch);
  if (reasons == lock.reasons.end()) throw UsageError("the spec does not build for " + arch);
  nlohmann::json chain = nlohmann::json::array();
  std::string cur = cmd.package;
  bool found = reasons->second.count(cur) > 0;
  for (int depth = 0; found && depth < 100; ++depth) {
    const deb::Reason& r = reasons->second.at(cur);
    std::string version;
    for (const LockedPackage& p : lock.packages[arch])
      if (p.name == cur) version = p.version;
    chain.push_back({{"package", cur}, {"version", version}, {"neededBy", r.parent}, {"via", r.via}});
    if (r.parent.empty()) break;
    cur = r.parent;
  }
  // A package the spec's preset lists, rather than the spec itself.
  Spec own = parse_spec_file(cmd.spec);
  auto requested_by = [&](const std::string& name) {
    bool mine = false;
    if (own.contents)
      for (const auto& r : own.contents->packages) mine = mine || r.name == name;
    if (!mine && own.from.starts_with("preset:")) return "listed by " + own.from;
    return "requested in " + cmd.spec;
  };
  bool excluded = false;
  for (const std::string& e : lock.excluded[arch]) excluded = excluded || e == cmd.package;
  if (global.format == "json") {
    std::cout << nlohmann::json({{"package", cmd.package}, {"arch", arch}, {"installed", found}, {"excluded", excluded}, {"chain", chain}}).dump(2)
              << "\n";
    return found ? 0 : 1;
  }
  if (!found) {
    std::cout << cmd.package << " is not in the image for " << arch
              << (excluded ? " (it is excluded with !" + cmd.package + ")" : "") << "\n";
    return 1;
  }
  for (size_t i = 0; i < chain.size(); ++i) {
    const auto& c = chain[i];
    std::cout << std::string(2 * i, ' ') << c["package"].get<std::string>() << " " << c["version"].get<std::string>();
    if (c["neededBy"].get<std::string>().empty()) std::cout << " (" << requested_by(c["package"].get<std::string>()) << ")\n";
    else std::cout << " is needed by " << c["neededBy"].get<std::string>() << " (" << c["via"].get<std::string>() << ")\n";
  }
  return 0;
}

}  // namespace distill
