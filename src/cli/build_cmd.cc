#include <iostream>

#include "base/error.h"
#include "build/builder.h"
#include "build/layer_plan.h"
#include "cli/commands.h"
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

int run_build(const GlobalOptions& global, const BuildCommand& cmd) {
  ImageRef dest = ImageRef::parse(cmd.output);
  BuildOptions options;
  options.compression = Compression::parse(cmd.compression);
  options.epoch = source_date_epoch();
  options.use_layer_cache = !cmd.no_cache;
  auto status = Status::for_stderr(global.quiet);

  status->phase("reading spec");
  Spec spec = parse_spec_file(cmd.spec);
  check_destination(dest);
  if (dest.transport == ImageRef::Transport::docker_archive &&
      options.compression.algorithm == Compression::Algorithm::zstd)
    status->warn("docker-archive with zstd layers loads only in Docker 23 or newer; use gzip for older engines");
  std::vector<LayerEntry> entries = plan_files_layer(spec);
  status->done(std::to_string(spec.files.size()) + " files entries, " + std::to_string(spec.paths.size()) +
               " paths entries");

  Store store(global.cache_dir.empty() ? Store::default_root() : fs::path(global.cache_dir));
  ThreadPool pool(ThreadPool::default_threads());
  std::vector<BuiltLayer> layers;
  layers.push_back(build_layer(store, pool, entries, options, "distill build: files and paths", *status));

  status->phase("writing " + dest.str());
  BuiltArtifact artifact = assemble(store, spec, layers, options);
  write_destination(store, artifact, dest, options.epoch);
  status->done(artifact.top().digest.str());

  if (global.format == "json") {
    std::cout << report_json(artifact, dest).dump(2) << "\n";
  } else {
    std::cout << dest.str() << " " << artifact.top().digest.str() << "\n";
  }
  return 0;
}

}  // namespace distill
