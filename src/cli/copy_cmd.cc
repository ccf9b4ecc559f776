#include <iostream>

#include "base/error.h"
#include "build/builder.h"
#include "cli/commands.h"
#include "cli/registry_support.h"
#include "oci/artifact.h"
#include "oci/layout.h"
#include "registry/transfer.h"

namespace distill {

registry::Options registry_options(const RegistryFlags& flags) {
  registry::Options o;
  o.tls_verify = flags.tls_verify;
  o.cert_dir = flags.cert_dir;
  o.auth.creds = flags.creds;
  o.auth.authfile = flags.authfile;
  return o;
}

nlohmann::json write_anywhere(Store& store, const BuiltArtifact& artifact, const ImageRef& dest, int64_t epoch,
                              const RegistryFlags& flags, Status& status) {
  Descriptor top = artifact.top();
  nlohmann::json report = {{"destination", dest.str()}, {"digest", top.digest.str()}, {"mediaType", top.media_type}};
  if (dest.transport != ImageRef::Transport::docker) {
    status.phase("writing " + dest.str());
    BuiltArtifact oci = to_oci(store, artifact);  // OCI layouts hold OCI manifests
    write_destination(store, oci, dest, epoch);
    top = oci.top();
    report["digest"] = top.digest.str();
    report["mediaType"] = top.media_type;
    status.done(top.digest.str());
    return report;
  }
  registry::Reference ref = registry::Reference::parse(dest.path);
  registry::Options o = registry_options(flags);
  o.auth.repository = ref.repository;
  registry::Client client(ref.host, o);
  ThreadPool pool(ThreadPool::default_threads());
  registry::PushReport r = registry::push_artifact(store, artifact, ref, client, status, pool);
  report["pushed"] = r.pushed;
  report["skipped"] = r.skipped;
  report["mounted"] = r.mounted;
  return report;
}

int run_copy(const GlobalOptions& global, const CopyCommand& cmd) {
  ImageRef src = ImageRef::parse(cmd.source);
  ImageRef dest = ImageRef::parse(cmd.destination);
  for (const ImageRef* r : {&src, &dest})
    if (r->transport == ImageRef::Transport::docker) registry::Reference::parse(r->path);  // usage errors first
  check_destination(dest);
  auto status = Status::for_stderr(global.quiet);
  Store store(global.cache_dir.empty() ? Store::default_root() : fs::path(global.cache_dir));
  Descriptor top;
  if (src.transport == ImageRef::Transport::docker) {
    registry::Reference ref = registry::Reference::parse(src.path);
    registry::Options o = registry_options(cmd.registry);
    o.auth.repository = ref.repository;
    registry::Client client(ref.host, o);
    ThreadPool pool(ThreadPool::default_threads());
    top = registry::pull_artifact(ref, client, store, *status, pool);
  } else {
    status->phase("reading " + src.str());
    top = import_local(src, store);
    status->done(top.digest.str());
  }
  BuiltArtifact artifact = describe_artifact(store, top);
  nlohmann::json report = write_anywhere(store, artifact, dest, source_date_epoch(), cmd.registry, *status);
  report["source"] = src.str();
  if (global.format == "json") std::cout << report.dump(2) << "\n";
  else std::cout << dest.str() << " " << report["digest"].get<std::string>() << "\n";
  return 0;
}

int run_login(const GlobalOptions& global, const LoginCommand& cmd) {
  std::string password = cmd.password;
  if (cmd.password_stdin) {
    std::getline(std::cin, password);
    while (!password.empty() && (password.back() == '\r' || password.back() == '\n')) password.pop_back();
  }
  if (cmd.username.empty() || password.empty())
    throw UsageError("give -u USER and the password with --password-stdin (or -p, which leaves it in your shell history)");
  RegistryFlags flags = cmd.registry;
  flags.creds = cmd.username + ":" + password;
  registry::Client client(cmd.host, registry_options(flags));
  client.check_login();
  registry::AuthOptions auth{.creds = "", .authfile = cmd.registry.authfile};
  registry::save_login(cmd.host, {cmd.username, password}, auth);
  if (global.format == "json") std::cout << nlohmann::json({{"host", cmd.host}, {"authfile", registry::login_file(auth)}}).dump(2) << "\n";
  else std::cout << "Login Succeeded (" << cmd.host << ", saved in " << registry::login_file(auth) << ")\n";
  return 0;
}

int run_logout(const GlobalOptions& global, const LoginCommand& cmd) {
  registry::AuthOptions auth{.creds = "", .authfile = cmd.registry.authfile};
  bool removed = registry::remove_login(cmd.host, auth);
  if (global.format == "json") std::cout << nlohmann::json({{"host", cmd.host}, {"removed", removed}}).dump(2) << "\n";
  else std::cout << (removed ? "Removed login credentials for " : "Not logged in to ") << cmd.host << "\n";
  return removed ? 0 : 1;
}

}  // namespace distill
