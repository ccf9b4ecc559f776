#pragma once
// Ctrl-C (SIGINT), SIGTERM and SIGHUP end distill without running
// destructors, so the temporary files and directories that AtomicFile and
// TempDir would remove (a half-written layout beside the destination, layer
// files in the cache) register here, and a watcher thread removes them
// before distill exits with 128 + the signal's number.
#include <filesystem>

namespace distill {

/// Blocks the three signals (those not ignored already) in this and every
/// later thread and starts the thread that waits for them. Call first thing in main, before any other
/// thread starts (they inherit the blocked mask).
void install_interrupt_cleanup();

/// A path to remove if distill is interrupted; forget_on_interrupt undoes
/// it (once per remove_on_interrupt) when the path was renamed or removed.
void remove_on_interrupt(const std::filesystem::path& path);
void forget_on_interrupt(const std::filesystem::path& path);

}  // namespace distill
