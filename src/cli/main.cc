// distill: distroless container images from a spec, daemonless and rootless.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "base/error.h"
#include "cli/commands.h"
#include "ui/status.h"
#include "version.h"

namespace {

const char* kDescription =
    "distill makes distroless container images: an application and exactly what it\n"
    "needs at run time, with no shell or package manager. Images are byte-for-byte\n"
    "reproducible, built without root or a daemon.";

const char* kFooter =
    "\nExamples:\n"
    "  distill build examples/hello/image.yaml -o oci:out/hello:latest\n"
    "  distill build image.yaml -o docker-archive:hello.tar:hello:1.0 --compression gzip:9\n"
    "  distill inspect oci:out/hello:latest --format json\n"
    "\nDestinations and images use skopeo's transports:\n"
    "  oci:DIR[:TAG]  oci-archive:FILE[:TAG]  docker-archive:FILE[:REPO:TAG]\n"
    "\nEnvironment:\n"
    "  SOURCE_DATE_EPOCH  timestamps in images (default 0)\n"
    "  DISTILL_CACHE_DIR  the local cache (default $XDG_CACHE_HOME/distill)\n"
    "  DISTILL_JOBS       worker threads (default: number of cores)\n"
    "  NO_COLOR           no colour in messages\n"
    "\nExit status: 0 success, 1 failure, 2 usage error. Manual: docs/manual.md";

void print_error(const std::string& message) {
  bool color = distill::use_color();
  std::fprintf(stderr, "%sdistill: error:%s %s\n", color ? "\033[31m" : "", color ? "\033[0m" : "", message.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{kDescription, "distill"};
  app.footer(kFooter);
  app.set_version_flag("--version", std::string("distill ") + DISTILL_VERSION);
  app.require_subcommand(1);

  distill::GlobalOptions global;
  auto add_global = [&](CLI::App* sub) {
    sub->add_option("--cache-dir", global.cache_dir, "Local cache (default: $DISTILL_CACHE_DIR or $XDG_CACHE_HOME/distill)");
    sub->add_option("--format", global.format, "Output for people (text) or for scripts (json)")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    sub->add_flag("-q,--quiet", global.quiet, "No progress on stderr");
  };

  distill::BuildCommand build;
  CLI::App* build_cmd = app.add_subcommand("build", "Build an image from a spec file");
  build_cmd->footer(
      "\nThe spec is YAML (every key: examples/image.yaml; reference: docs/formats.md).\n"
      "Relative src paths are read from the spec file's directory. The same spec and\n"
      "inputs always give the same image digest; SOURCE_DATE_EPOCH sets timestamps.\n"
      "\nExamples:\n"
      "  distill build image.yaml -o oci:out:latest\n"
      "  distill build image.yaml -o oci-archive:app.tar:1.0 --compression zstd:9\n"
      "  distill build image.yaml -o docker-archive:app.tar:example/app:1.0   # then: docker load -i app.tar");
  build_cmd->add_option("spec", build.spec, "The image spec (YAML)")->required();
  build_cmd->add_option("-o,--output", build.output, "Destination: oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE[:REPO:TAG]")
      ->required();
  build_cmd->add_option("--compression", build.compression, "Layer compression: gzip[:1-12] (default gzip:6), zstd[:1-19] (default zstd:3) or none")
      ->capture_default_str();
  build_cmd->add_flag("--no-cache", build.no_cache, "Rebuild layers even when the cache holds them");
  add_global(build_cmd);

  distill::InspectCommand inspect;
  CLI::App* inspect_cmd = app.add_subcommand("inspect", "Show an image's config, layers and files");
  inspect_cmd->footer(
      "\nExamples:\n"
      "  distill inspect oci:out:latest\n"
      "  distill inspect docker-archive:app.tar --format json | jq '.files[] | select(.uid != 0)'");
  inspect_cmd->add_option("image", inspect.image, "oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE[:REPO:TAG]")
      ->required();
  inspect_cmd->add_option("--arch", inspect.arch, "Platform to show from a multi-platform image (default: this machine's)");
  inspect_cmd->add_flag("--no-files", inspect.no_files, "Leave out the file tree");
  add_global(inspect_cmd);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    print_error(std::string(e.what()) + " (see distill --help)");
    return 2;
  }

  try {
    if (build_cmd->parsed()) return distill::run_build(global, build);
    if (inspect_cmd->parsed()) return distill::run_inspect(global, inspect);
  } catch (const distill::UsageError& e) {
    print_error(e.what());
    return 2;
  } catch (const distill::Error& e) {
    print_error(e.what());
    return 1;
  } catch (const std::exception& e) {
    print_error(std::string("internal error: ") + e.what());
    return 1;
  }
  return 2;
}
