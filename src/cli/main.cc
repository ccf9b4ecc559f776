// distill: distroless container images from a spec, daemonless and rootless.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "base/error.h"
#include "base/interrupt.h"
#include "cli/commands.h"
#include "store/maintenance.h"
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
    "  distill lock image.yaml && distill why libc6 image.yaml\n"
    "  distill build --preset python3 -o docker://registry.example:5000/python3:latest\n"
    "  distill copy docker://registry.example:5000/app:1 oci:out:app\n"
    "  distill cache prune --max-size 5G\n"
    "\nDestinations and images use skopeo's transports:\n"
    "  oci:DIR[:TAG]  oci-archive:FILE[:TAG]  docker-archive:FILE[:REPO:TAG]  docker://HOST/REPO[:TAG]\n"
    "\nEnvironment:\n"
    "  SOURCE_DATE_EPOCH  timestamps in images (default 0)\n"
    "  DISTILL_CACHE_DIR  the local cache (default $XDG_CACHE_HOME/distill)\n"
    "  DISTILL_CACHE_MAX_SIZE  prune the cache to 90% of this after a build (e.g. 10G)\n"
    "  DISTILL_JOBS       worker threads (default: number of cores)\n"
    "  DISTILL_MIRROR     Debian mirror URL when a spec names no repository\n"
    "  NO_COLOR           no colour in messages\n"
    "\nExit status: 0 success, 1 failure, 2 usage error. Manual: docs/manual.md";

void print_error(const std::string& message) {
  bool color = distill::use_color();
  std::fprintf(stderr, "%sdistill: error:%s %s\n", color ? "\033[31m" : "", color ? "\033[0m" : "", message.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  distill::install_interrupt_cleanup();
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
      "  distill build image.yaml -o docker-archive:app.tar:example/app:1.0   # then: docker load -i app.tar\n"
      "  distill build --preset python3:nonroot --arch amd64,arm64 -o oci:out:python3\n"
      "  distill build app.yaml -o oci:out:app      # app.yaml: from: preset:python3, plus files");
  build_cmd->add_option("spec", build.spec, "The image spec (YAML); optional with --preset");
  build_cmd->add_option("--preset", build.preset,
                        "Build a built-in distroless preset: static, base-nossl, base, cc, python3, java or nodejs, "
                        "with :latest, :nonroot, :debug or :debug-nonroot");
  build_cmd->add_option("--arch", build.archs, "Architectures, e.g. --arch amd64,arm64 (default: the spec's, else this machine's)")
      ->delimiter(',');
  build_cmd->add_option("-o,--output", build.output, "Destination: oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE[:REPO:TAG]")
      ->required();
  build_cmd->add_option("--compression", build.compression, "Layer compression: gzip[:1-12] (default gzip:5), zstd[:1-19] (default zstd:3) or none")
      ->capture_default_str();
  build_cmd->add_flag("--no-cache", build.no_cache, "Rebuild layers even when the cache holds them");
  add_global(build_cmd);

  auto add_package_flags = [](CLI::App* sub, distill::PackageFlags& flags) {
    sub->add_option("--suite", flags.suite, "Debian suite when the spec names no repository: trixie or bookworm")
        ->capture_default_str();
    sub->add_option("--mirror", flags.mirror, "Debian mirror URL when the spec names no repository (default: the host's apt sources, or $DISTILL_MIRROR)");
    sub->add_flag("--allow-expired", flags.allow_expired, "Accept Release files past their Valid-Until date");
    sub->add_option("--keyring", flags.keyrings,
                    "OpenPGP keyring for repositories without signed-by (default: the spec's contents.keyring, else "
                    "Debian's archive keyring)");
  };
  build_cmd->add_flag("--update-lock", build.update_lock, "Resolve packages again and rewrite the lockfile");
  add_package_flags(build_cmd, build.packages);

  distill::LockCommand lock;
  CLI::App* lock_cmd = app.add_subcommand("lock", "Resolve a spec's packages and pin them in SPEC.lock.json");
  lock_cmd->footer(
      "\nThe lockfile pins every package per architecture (name, version, repository,\n"
      "file, size, sha256). distill build uses it when present and refuses a spec that\n"
      "changed since; distill lock or build --update-lock refreshes it.\n"
      "\nExamples:\n"
      "  distill lock image.yaml\n"
      "  distill lock image.yaml --format json | jq '.architectures.amd64.packages[].name'");
  lock_cmd->add_option("spec", lock.spec, "The image spec (YAML)")->required();
  add_package_flags(lock_cmd, lock.packages);
  add_global(lock_cmd);

  distill::WhyCommand why;
  CLI::App* why_cmd = app.add_subcommand("why", "Show the dependency chain that pulls a package into an image");
  why_cmd->footer("\nExample:\n  distill why libssl3t64 image.yaml\n  distill why perl-base image.yaml --arch arm64");
  why_cmd->add_option("package", why.package, "The package to explain")->required();
  why_cmd->add_option("spec", why.spec, "The image spec (YAML)")->required();
  why_cmd->add_option("--arch", why.arch, "Architecture (default: the spec's first)");
  add_package_flags(why_cmd, why.packages);
  add_global(why_cmd);

  auto add_registry_flags = [](CLI::App* sub, distill::RegistryFlags& flags) {
    sub->add_option("--tls-verify", flags.tls_verify, "Check registry TLS certificates (--tls-verify=false for a local registry without TLS)")
        ->capture_default_str();
    sub->add_option("--cert-dir", flags.cert_dir, "Directory with the registry's CA (*.crt) and client certificates (*.cert, *.key)");
    sub->add_option("--creds", flags.creds, "USER:PASSWORD for the registry (default: distill login, docker or podman credentials)");
    sub->add_option("--authfile", flags.authfile, "Credentials file (containers auth.json or docker config.json format)");
  };
  add_registry_flags(build_cmd, build.registry);
  build_cmd->add_option("--cache-repo", build.cache_repo,
                        "Share built layers through a registry repository (docker://HOST/REPO): layers another machine "
                        "built from the same inputs are pulled instead of rebuilt");

  distill::CopyCommand copy;
  CLI::App* copy_cmd = app.add_subcommand("copy", "Copy an image between registries, layouts and archives");
  copy_cmd->footer(
      "\nAny transport to any: docker://HOST/REPO[:TAG|@DIGEST], oci:DIR[:TAG], oci-archive:FILE[:TAG],\n"
      "docker-archive:FILE[:REPO:TAG]. Multi-platform indexes copy whole. Blobs the registry has are\n"
      "skipped; blobs in another repository of the same registry are mounted.\n"
      "\nExamples:\n"
      "  distill copy oci:out:1.0 docker://registry.example:5000/team/app:1.0\n"
      "  distill copy docker://registry.example:5000/team/app:1.0 docker-archive:app.tar:team/app:1.0");
  copy_cmd->add_option("source", copy.source, "Image to copy")->required();
  copy_cmd->add_option("destination", copy.destination, "Where to write it")->required();
  add_registry_flags(copy_cmd, copy.registry);
  add_global(copy_cmd);

  distill::CopyCommand push;
  CLI::App* push_cmd = app.add_subcommand("push", "Push a local image to a registry (copy with a docker:// destination)");
  push_cmd->add_option("source", push.source, "oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE")->required();
  push_cmd->add_option("destination", push.destination, "docker://HOST/REPO[:TAG]")->required();
  add_registry_flags(push_cmd, push.registry);
  add_global(push_cmd);

  distill::CopyCommand pull;
  CLI::App* pull_cmd = app.add_subcommand("pull", "Pull an image from a registry into a layout or archive");
  pull_cmd->add_option("source", pull.source, "docker://HOST/REPO[:TAG|@DIGEST]")->required();
  pull_cmd->add_option("destination", pull.destination, "oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE[:REPO:TAG]")
      ->required();
  add_registry_flags(pull_cmd, pull.registry);
  add_global(pull_cmd);

  distill::LoginCommand login;
  CLI::App* login_cmd = app.add_subcommand("login", "Store credentials for a registry");
  login_cmd->footer("\nExample:\n  echo \"$PASSWORD\" | distill login registry.example:5000 -u alice --password-stdin");
  login_cmd->add_option("host", login.host, "Registry host[:port]")->required();
  login_cmd->add_option("-u,--username", login.username, "User name");
  login_cmd->add_option("-p,--password", login.password, "Password (prefer --password-stdin)");
  login_cmd->add_flag("--password-stdin", login.password_stdin, "Read the password from standard input");
  add_registry_flags(login_cmd, login.registry);
  add_global(login_cmd);

  distill::LoginCommand logout;
  CLI::App* logout_cmd = app.add_subcommand("logout", "Remove stored credentials for a registry");
  logout_cmd->add_option("host", logout.host, "Registry host[:port]")->required();
  logout_cmd->add_option("--authfile", logout.registry.authfile, "Credentials file");
  add_global(logout_cmd);

  distill::AppCommand appc;
  CLI::App* app_cmd = app.add_subcommand("app", "Build an image of a program or app and exactly its run-time closure");
  app_cmd->footer(
      "\nA native program: its interpreter, every shared library it needs (as glibc's loader finds them:\n"
      "RPATH, LD_LIBRARY_PATH from --env, RUNPATH, ld.so.cache, default dirs), their symlink chains\n"
      "and directory symlinks are copied from the host (or --sysroot), plus what the loader opens\n"
      "by itself: libgcc_s, NSS modules named in nsswitch.conf, the CA bundle; a fresh ld.so.cache.\n"
      "With a base, what the base already provides is not copied again.\n"
      "\nInterpreted apps go onto the matching preset, in layers that change as rarely as they can:\n"
      "  app.py        its virtualenv's site-packages -> the base Python's dist-packages, the app -> /app\n"
      "  server.js     node_modules -> /app/node_modules, the app -> /app\n"
      "  app.jar       dependency jars (lib/) -> /app/libs, the jar -> /app, java -cp ... MAIN\n"
      "Native extension modules and .node addons get their libraries too.\n"
      "\nExamples:\n"
      "  distill app -o oci:out:curl -- /usr/bin/curl --version\n"
      "  distill app -o docker://registry.example:5000/server:1 --explain -- ./build/server --port 8080\n"
      "  distill app -o oci:out:web -- ./web/app.py --port 8080        # uses ./web/.venv if present\n"
      "  distill app -o oci:out:api --base preset:nodejs:nonroot -- ./api/server.js\n"
      "  distill app -o oci:out:svc -- ./target/svc.jar                 # with ./target/lib/*.jar");
  app_cmd->add_option("program", appc.program, "PROGRAM [ARGS...] (the image's entrypoint)")->required()->expected(-1);
  app_cmd->add_option("-o,--output", appc.build.output, "Destination (as for build)")->required();
  app_cmd->add_option("--sysroot", appc.sysroot, "Take the program and libraries from this root (an unpacked image, a debootstrap tree)");
  // One value per flag: a list option would swallow the "--" before the program.
  app_cmd->add_option("--env", appc.env, "KEY=VALUE for the image (LD_LIBRARY_PATH also guides the search); repeat for more")->allow_extra_args(false);
  app_cmd->add_option("--base", appc.base,
                      "scratch, preset:NAME[:VARIANT], docker://... or oci:... (default: scratch for programs, "
                      "preset:python3/nodejs/java for Python, Node and Java apps)");
  app_cmd->add_option("--kind", appc.kind, "native, python, node or java (default: from the program: .py, .js, .jar, ELF)");
  app_cmd->add_option("--app-dir", appc.dir, "Interpreted apps: the app's directory, copied to /app (default: the program's)");
  app_cmd->add_option("--deps", appc.deps,
                      "Interpreted apps: a virtualenv or site-packages (default: .venv or venv in the app directory), "
                      "node_modules (default: the app's), a directory of jars (default: lib/ or libs/)");
  app_cmd->add_option("--main", appc.main, "Java: the main class (default: the jar's Main-Class)");
  app_cmd->add_option("--include", appc.include, "More host files or directories for the image (ELF files get their libraries); repeat for more")->allow_extra_args(false);
  app_cmd->add_option("--user", appc.user, "User to run as (default on scratch: 65532)");
  app_cmd->add_flag("--explain", appc.explain, "Print why each file is in the image");
  app_cmd->add_flag("--tzdata", appc.tzdata, "Add /usr/share/zoneinfo");
  app_cmd->add_option("--compression", appc.build.compression, "Layer compression (as for build)");
  add_registry_flags(app_cmd, appc.build.registry);
  add_package_flags(app_cmd, appc.build.packages);
  add_global(app_cmd);
  app_cmd->prefix_command(false);

  distill::InspectCommand inspect;
  CLI::App* inspect_cmd = app.add_subcommand("inspect", "Show an image's config, layers and files");
  inspect_cmd->footer(
      "\nExamples:\n"
      "  distill inspect oci:out:latest\n"
      "  distill inspect docker://registry.example:5000/app:1 --no-files\n"
      "  distill inspect docker-archive:app.tar --format json | jq '.files[] | select(.uid != 0)'");
  inspect_cmd->add_option("image", inspect.image,
                          "oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REPO:TAG] or docker://HOST/REPO[:TAG]")
      ->required();
  inspect_cmd->add_option("--arch", inspect.arch, "Platform to show from a multi-platform image (default: this machine's)");
  inspect_cmd->add_flag("--no-files", inspect.no_files, "Leave out the file tree (a registry image's layers are not downloaded)");
  add_registry_flags(inspect_cmd, inspect.registry);
  add_global(inspect_cmd);

  CLI::App* cache_cmd = app.add_subcommand("cache", "Show or prune the local cache of blobs, packages and layers");
  cache_cmd->require_subcommand(1);
  cache_cmd->footer(
      "\nThe cache holds every blob distill stored (layers, .debs, indexes) and the action\n"
      "records that let a rebuild reuse them. It only grows; prune it now and then.\n"
      "\nExamples:\n"
      "  distill cache info\n"
      "  distill cache prune --max-size 5G      # drop the least recently used blobs\n"
      "  distill cache prune --all --dry-run");
  CLI::App* cache_info_cmd = cache_cmd->add_subcommand("info", "Show where the cache is and what it holds");
  add_global(cache_info_cmd);
  distill::CachePruneCommand prune;
  CLI::App* cache_prune_cmd =
      cache_cmd->add_subcommand("prune", "Remove the least recently used blobs until the cache fits, or everything");
  cache_prune_cmd->add_option("--max-size", prune.max_size, "Keep at most this much (500M, 2G, 1.5GiB; K/M/G/T are powers of 1024)");
  cache_prune_cmd->add_flag("--all", prune.all, "Remove everything");
  cache_prune_cmd->add_flag("-n,--dry-run", prune.dry_run, "Only say what would be removed");
  add_global(cache_prune_cmd);

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
    // ccache's max_size: the cache is pruned after a command that fills it.
    const char* cache_max = std::getenv("DISTILL_CACHE_MAX_SIZE");
    if (cache_max && *cache_max) distill::parse_size(cache_max, "DISTILL_CACHE_MAX_SIZE");  // usage errors first
    auto pruned_after = [&](int rc) {
      if (rc == 0 && cache_max && *cache_max) distill::prune_after_command(global, cache_max);
      return rc;
    };
    if (build_cmd->parsed()) return pruned_after(distill::run_build(global, build));
    if (inspect_cmd->parsed()) return distill::run_inspect(global, inspect);
    if (cache_info_cmd->parsed()) return distill::run_cache_info(global);
    if (cache_prune_cmd->parsed()) return distill::run_cache_prune(global, prune);
    if (lock_cmd->parsed()) return distill::run_lock(global, lock);
    if (why_cmd->parsed()) return distill::run_why(global, why);
    if (copy_cmd->parsed()) return pruned_after(distill::run_copy(global, copy));
    if (app_cmd->parsed()) return pruned_after(distill::run_app(global, appc));
    if (push_cmd->parsed()) {
      if (!push.destination.starts_with("docker://")) throw distill::UsageError("push writes to docker://HOST/REPO[:TAG]; use copy for other destinations");
      return distill::run_copy(global, push);
    }
    if (pull_cmd->parsed()) {
      if (!pull.source.starts_with("docker://")) throw distill::UsageError("pull reads docker://HOST/REPO[:TAG]; use copy for other sources");
      return pruned_after(distill::run_copy(global, pull));
    }
    if (login_cmd->parsed()) return distill::run_login(global, login);
    if (logout_cmd->parsed()) return distill::run_logout(global, logout);
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
