#pragma once
// From spec entries to the exact list of layer entries: host files are
// walked, modes and owners applied, parent directories synthesized, and
// every conflict reported with the spec place that caused it.
#include <vector>

#include "archive/tar.h"
#include "build/spec.h"

namespace distill {

/// Expands `files:` and `paths:` into ordered tar entries. Host owners never
/// leak: entries are 0:0 unless the spec says otherwise. Throws Error naming
/// the spec place for missing sources, unreadable or special files,
/// duplicate destinations and dangling hardlinks.
std::vector<LayerEntry> plan_files_layer(const Spec& spec);

}  // namespace distill
