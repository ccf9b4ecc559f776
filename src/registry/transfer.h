#pragma once
// Moving whole artifacts (one image or a multi-platform index) between the
// store and a registry: blobs in parallel, then manifests, then the tag.
#include <optional>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "oci/image.h"
#include "registry/client.h"
#include "ui/status.h"

namespace distill::registry {

struct PushReport {
  Descriptor top;
  std::vector<std::string> pushed, skipped, mounted;  // blob digests
};

/// Pushes everything `artifact` references (all in `store`) to `ref`.
PushReport push_artifact(Store& store, const BuiltArtifact& artifact, const Reference& ref, Client& client,
                         Status& status, ThreadPool& pool);

/// Pulls `ref` (every platform of an index) into the store, verifying every
/// manifest and blob; returns the top descriptor.
Descriptor pull_artifact(const Reference& ref, Client& client, Store& store, Status& status, ThreadPool& pool);

/// Pulls one platform's image of `ref` into the store: the manifest that
/// `arch` picks from an index (default: this machine's, else the first),
/// its config and, with `with_layers`, its layers. Returns that manifest's
/// descriptor. For `distill inspect docker://...`.
Descriptor pull_platform_image(const Reference& ref, const std::optional<std::string>& arch, bool with_layers, Client& client,
                               Store& store, Status& status, ThreadPool& pool);

}  // namespace distill::registry
