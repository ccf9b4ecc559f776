#pragma once
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "oci/image.h"
#include "oci/reference.h"
#include "registry/client.h"
#include "store/store.h"
#include "ui/status.h"

namespace distill {

registry::Options registry_options(const RegistryFlags& flags);

/// Writes an artifact from the store to any destination, a registry
/// included; returns the JSON report (digest; pushed/skipped/mounted).
nlohmann::json write_anywhere(Store& store, const BuiltArtifact& artifact, const ImageRef& dest, int64_t epoch,
                              const RegistryFlags& flags, Status& status);

}  // namespace distill
