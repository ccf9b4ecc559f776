#pragma once
// Artifacts already in the store (pulled, imported, built), described from
// their manifests, and local images imported into the store whole (every
// platform of an index), for copying between transports.
#include "oci/image.h"
#include "oci/reference.h"
#include "store/store.h"

namespace distill {

/// Reads the manifests under `top` (an image manifest or index) from the
/// store. Blobs must all be present. Manifest bytes are kept as they are.
BuiltArtifact describe_artifact(const Store& store, const Descriptor& top);

/// Imports the image `ref` names (all platforms) into the store, checking
/// every blob, and returns the descriptor a tag would point to.
Descriptor import_local(const ImageRef& ref, Store& store);

/// The artifact with Docker schema 2 manifests and lists rewritten as OCI
/// manifests and indexes (as skopeo does when writing an OCI layout, whose
/// readers look only for OCI media types). Other artifacts come back as
/// they are. Configs and layers are unchanged; manifest digests change.
BuiltArtifact to_oci(Store& store, const BuiltArtifact& artifact);

/// Every blob of an artifact: configs and layers first, then manifests,
/// then the index, the order a registry needs them pushed in.
std::vector<Descriptor> blobs_in_push_order(const BuiltArtifact& artifact);

}  // namespace distill
