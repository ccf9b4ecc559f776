#pragma once
// Sources: open an image from any local transport for reading. Archives are
// read once, their members checked (blobs/sha256/<hex> must hash to <hex>,
// names must stay inside the archive) and kept in the store; every blob read
// afterwards is checked against its digest.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "oci/image.h"
#include "oci/reference.h"
#include "store/store.h"

namespace distill {

struct LayerView {
  Descriptor blob;
  std::optional<Digest> diff_id;  // from the config, when it has one
  fs::path file;                  // verified blob file (empty if not fetched)
};

struct ImageView {
  std::string reference;
  std::optional<Descriptor> manifest;  // absent for legacy docker-archives
  nlohmann::json config;
  Digest config_digest;
  std::vector<LayerView> layers;
};

/// Opens the image of a manifest whose blobs are in the store (pulled from a
/// registry); without `with_layer_files` the layers need not be there.
ImageView open_stored_image(Store& store, const Descriptor& manifest, const std::string& reference, bool with_layer_files);

/// Opens the image `ref` names. `arch` picks a platform from an index
/// (default: the host's, else the first).
ImageView open_image(const ImageRef& ref, Store& store, const std::optional<std::string>& arch);

}  // namespace distill
