#include <cstdio>
#include <iostream>

#include "base/error.h"
#include "base/thread_pool.h"
#include "cli/commands.h"
#include "cli/registry_support.h"
#include "registry/transfer.h"
#include "oci/source.h"
#include "oci/tree.h"
#include "ui/status.h"

namespace distill {

namespace {

const char* type_word(char t) {
  switch (t) {
    case '0': return "file";
    case '5': return "directory";
    case '2': return "symlink";
    case '1': return "hardlink";
    case '3': return "char-device";
    case '4': return "block-device";
    case '6': return "fifo";
  }
  return "other";
}

std::string octal(uint32_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777);
  return buf;
}

nlohmann::json to_json(const ImageView& view, const std::vector<TreeEntry>* files) {
  nlohmann::json j;
  j["reference"] = view.reference;
  j["manifest"] = view.manifest ? view.manifest->to_json() : nlohmann::json(nullptr);
  j["configDigest"] = view.config_digest.str();
  j["config"] = view.config;
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerView& l : view.layers) {
    nlohmann::json lj = l.blob.to_json();
    lj["diffID"] = l.diff_id ? nlohmann::json(l.diff_id->str()) : nlohmann::json(nullptr);
    layers.push_back(lj);
  }
  j["layers"] = layers;
  if (files) {
    nlohmann::json list = nlohmann::json::array();
    for (const TreeEntry& t : *files) {
      const TarEntry& e = t.entry;
      nlohmann::json f = {{"path", "/" + e.path}, {"type", type_word(e.type)}, {"mode", octal(e.mode)},
                          {"uid", e.uid},        {"gid", e.gid},            {"layer", t.layer}};
      if (e.type == '0') f["size"] = e.size;
      if (e.type == '1' || e.type == '2') f["target"] = e.type == '1' ? "/" + e.link_target : e.link_target;
      if (!e.xattrs.empty()) {
        nlohmann::json x = nlohmann::json::array();
        for (const auto& [k, v] : e.xattrs) x.push_back(k);
        f["xattrs"] = x;
      }
      list.push_back(f);
    }
    j["files"] = list;
  }
  return j;
}

void print_text(const ImageView& view, const std::vector<TreeEntry>* files) {
  const nlohmann::json& c = view.config;
  std::cout << "Image:     " << view.reference << "\n";
  if (view.manifest)
    std::cout << "Manifest:  " << view.manifest->digest.str() << " (" << view.manifest->size << " bytes)\n";
  std::cout << "Config:    " << view.config_digest.str() << "\n";
  std::cout << "Platform:  " << c.value("os", "?") << "/" << c.value("architecture", "?")
            << (c.contains("variant") ? "/" + c.value("variant", "") : "") << "\n";
  if (c.contains("created")) std::cout << "Created:   " << c.value("created", "") << "\n";
  if (c.contains("config") && c["config"].is_object()) {
    const nlohmann::json& cc = c["config"];
    for (const char* key : {"Entrypoint", "Cmd", "Env", "User", "WorkingDir", "ExposedPorts", "Volumes", "StopSignal",
                            "Labels"})
      if (cc.contains(key) && !cc[key].is_null()) {
        std::string value = cc[key].is_string() ? cc[key].get<std::string>() : cc[key].dump();
        std::printf("  %-11s %s\n", key, value.c_str());
      }
    std::fflush(stdout);
  }
  std::cout << "Layers:\n";
  for (size_t i = 0; i < view.layers.size(); ++i) {
    const LayerView& l = view.layers[i];
    std::cout << "  " << i << "  " << l.blob.digest.str() << "  " << human_size(l.blob.size) << "  " << l.blob.media_type
              << "\n";
  }
  if (!files) return;
  std::cout << "Files:\n";
  for (const TreeEntry& t : *files) {
    const TarEntry& e = t.entry;
    char owner[32];
    std::snprintf(owner, sizeof owner, "%u:%u", e.uid, e.gid);
    std::string line = "  " + mode_string(e) + " " + owner;
    line.resize(std::max<size_t>(line.size(), 26), ' ');
    std::string size = e.type == '0' ? std::to_string(e.size) : "";
    size.insert(0, 10 - std::min<size_t>(size.size(), 10), ' ');
    line += size + "  /" + e.path + (e.type == '5' ? "/" : "");
    if (e.type == '2') line += " -> " + e.link_target;
    if (e.type == '1') line += " link to /" + e.link_target;
    for (const auto& [k, v] : e.xattrs) line += " [" + k + "]";
    std::cout << line << "\n";
  }
}

}  // namespace

namespace {

/// A registry image: its manifest for the platform and config, and its
/// layers only when the file tree is wanted, pulled into the store (as
/// skopeo inspect, nothing is written elsewhere).
ImageView open_registry_image(const ImageRef& ref, const InspectCommand& cmd, Store& store, Status& status) {
  registry::Reference remote = registry::Reference::parse(ref.path);
  registry::Options o = registry_options(cmd.registry);
  o.auth.repository = remote.repository;
  registry::Client client(remote.host, o);
  ThreadPool pool(ThreadPool::default_threads());
  Descriptor manifest = registry::pull_platform_image(remote, cmd.arch, !cmd.no_files, client, store, status, pool);
  return open_stored_image(store, manifest, ref.str(), !cmd.no_files);
}

}  // namespace

int run_inspect(const GlobalOptions& global, const InspectCommand& cmd) {
  ImageRef ref = ImageRef::parse(cmd.image);
  if (ref.transport == ImageRef::Transport::docker) registry::Reference::parse(ref.path);  // usage errors first
  Store store(global.cache_dir.empty() ? Store::default_root() : fs::path(global.cache_dir));
  auto status = Status::for_stderr(global.quiet);
  ImageView view = ref.transport == ImageRef::Transport::docker ? open_registry_image(ref, cmd, store, *status)
                                                                : open_image(ref, store, cmd.arch);
  std::vector<TreeEntry> files;
  if (!cmd.no_files) files = merged_tree(view);
  const std::vector<TreeEntry>* tree = cmd.no_files ? nullptr : &files;
  if (global.format == "json") std::cout << to_json(view, tree).dump(2) << "\n";
  else print_text(view, tree);
  return 0;
}

}  // namespace distill
