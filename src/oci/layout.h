#pragma once
// Sinks: write a built artifact from the store to an OCI layout directory,
// an OCI archive, or a docker-archive (OCI layout plus manifest.json and
// repositories, the combined form Docker 25 writes, which Docker 20.10,
// podman and skopeo all load). Each sink writes under a temporary name and
// renames at the end, so a failure leaves nothing at the destination.
#include "oci/image.h"
#include "oci/reference.h"
#include "store/store.h"

namespace distill {

void write_destination(const Store& store, const BuiltArtifact& artifact, const ImageRef& dest, int64_t mtime);

/// Checks, before any work, that the destination can be written: its parent
/// directory exists and is writable, and an existing oci: directory is a
/// layout. Throws Error naming the destination otherwise.
void check_destination(const ImageRef& dest);

}  // namespace distill
