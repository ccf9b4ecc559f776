#pragma once
// Progress as events kept apart from the terminal (ninja-style): code reports
// phases and byte counts; the printer decides how to show them. On a
// terminal: one status line rewritten in place. Otherwise: plain lines, one
// per phase. NO_COLOR turns colour off; --quiet turns progress off.
// Every printer may be called from several threads; jobs that run at once
// (package layers built in parallel) each report through their own job().
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace distill {

class Status {
 public:
  virtual ~Status() = default;
  /// A new phase of work starts, e.g. "building layer files".
  virtual void phase(std::string_view name, uint64_t total_bytes = 0) = 0;
  /// Bytes processed so far in the current phase.
  virtual void progress(uint64_t done_bytes) = 0;
  /// The current phase finished; `summary` says what it did.
  virtual void done(std::string_view summary) = 0;
  virtual void warn(std::string_view message) = 0;

  /// A printer for one of several jobs running at once, to be used by that
  /// job alone: its phases keep their own name, clock and bytes, so that
  /// they neither overwrite each other nor this printer's phase. On a
  /// terminal the status line shows the running jobs together.
  virtual std::unique_ptr<Status> job();

  /// Picks the printer for stderr: terminal, plain lines, or silent.
  static std::unique_ptr<Status> for_stderr(bool quiet);
};

/// True when stderr is a terminal and NO_COLOR is unset.
bool use_color();

/// "12.3 MB" style sizes for people.
std::string human_size(uint64_t bytes);

}  // namespace distill
