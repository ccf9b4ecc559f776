#pragma once
// Shared by build, lock and why: flags to ResolveOptions, lockfile use.
#include "build/packages.h"
#include "cli/commands.h"

namespace distill {

ResolveOptions resolve_options(const PackageFlags& flags);

/// The spec's lockfile when present and current; else a fresh resolution
/// (written to the lockfile when `update_lock`). A lockfile made for other
/// inputs is an error that says how to refresh it.
Lockfile locked_or_resolved(const Spec& spec, const ResolveOptions& options, bool update_lock, http::Client& client,
                            Store& store, Status& status, bool* wrote);

}  // namespace distill
