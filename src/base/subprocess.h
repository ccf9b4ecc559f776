#pragma once
// Runs a helper program (gpgv) without a shell and captures its output.
#include <string>
#include <vector>

namespace distill {

struct ProcessResult {
  int exit_code = -1;  // -1: killed by a signal or not started
  std::string out, err;
};

/// Runs argv[0] (searched in PATH) with `argv`, feeding `input` on stdin.
/// Throws Error if it cannot be started (naming the program).
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input = "");

}  // namespace distill
