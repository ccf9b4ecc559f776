#pragma once
// The file tree an image unpacks to: its layers applied in order, with
// whiteouts (.wh.NAME, .wh..wh..opq) honoured as layer.md describes.
#include <vector>

#include "archive/tar.h"
#include "oci/source.h"

namespace distill {

struct TreeEntry {
  TarEntry entry;
  size_t layer = 0;  // index of the layer that last wrote it
};

std::vector<TreeEntry> merged_tree(const ImageView& image);

/// "drwxr-xr-x" style, with 'h' for hardlinks.
std::string mode_string(const TarEntry& e);

}  // namespace distill
