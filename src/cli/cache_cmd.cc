// distill cache info | prune: the local store's size, and making it smaller.
#include <iostream>

#include "base/error.h"
#include "cli/commands.h"
#include "store/maintenance.h"
#include "store/store.h"
#include "ui/status.h"

namespace distill {

namespace {

fs::path cache_root(const GlobalOptions& global) {
  return global.cache_dir.empty() ? Store::default_root() : fs::path(global.cache_dir);
}

void print_usage(const CacheUsage& u) {
  auto row = [](const char* what, uint64_t count, uint64_t bytes) {
    std::printf("  %-10s %8llu  %s\n", what, static_cast<unsigned long long>(count), human_size(bytes).c_str());
  };
  row("blobs", u.blobs, u.blob_bytes);
  row("actions", u.actions, u.action_bytes);
  row("temporary", u.temporaries, u.temporary_bytes);
  std::printf("  %-10s %8s  %s\n", "total", "", human_size(u.bytes()).c_str());
}

}  // namespace

int run_cache_info(const GlobalOptions& global) {
  fs::path root = cache_root(global);
  CacheUsage usage = cache_usage(root);
  if (global.format == "json") {
    nlohmann::json j = usage.to_json();
    j["root"] = root.string();
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::printf("cache: %s\n", root.c_str());
  print_usage(usage);
  return 0;
}

int run_cache_prune(const GlobalOptions& global, const CachePruneCommand& cmd) {
  if (cmd.all == !cmd.max_size.empty())
    throw UsageError("say what to prune: --max-size SIZE (least recently used first) or --all");
  PruneOptions options;
  options.all = cmd.all;
  options.dry_run = cmd.dry_run;
  if (!cmd.max_size.empty()) options.max_size = parse_size(cmd.max_size, "--max-size");
  fs::path root = cache_root(global);
  PruneResult r = prune_cache(root, options);
  if (global.format == "json") {
    nlohmann::json j = {{"root", root.string()},
                        {"dryRun", cmd.dry_run},
                        {"removed", {{"blobs", r.blobs}, {"bytes", r.blob_bytes}, {"actions", r.actions}, {"temporary", r.temporaries}}},
                        {"remaining", r.remaining.to_json()}};
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::printf("%s %llu blobs (%s), %llu action records and %llu temporaries from %s\n",
              cmd.dry_run ? "would remove" : "removed", static_cast<unsigned long long>(r.blobs),
              human_size(r.blob_bytes).c_str(), static_cast<unsigned long long>(r.actions),
              static_cast<unsigned long long>(r.temporaries), root.c_str());
  if (!cmd.dry_run) print_usage(r.remaining);
  return 0;
}

void prune_after_command(const GlobalOptions& global, const std::string& max_size) {
  fs::path root = cache_root(global);
  auto r = prune_if_over(root, parse_size(max_size, "DISTILL_CACHE_MAX_SIZE"));
  if (r && !global.quiet)
    std::fprintf(stderr, "distill: the cache was over DISTILL_CACHE_MAX_SIZE=%s: removed %llu least recently used blobs (%s)\n",
                 max_size.c_str(), static_cast<unsigned long long>(r->blobs), human_size(r->blob_bytes).c_str());
}

}  // namespace distill
