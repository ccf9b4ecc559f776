#pragma once
// Errors travel as exceptions from the libraries to the CLI, which prints the
// message once and maps the kind to an exit code (1 failure, 2 usage).
#include <stdexcept>
#include <string>

namespace distill {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

/// A mistake in how distill was called (bad flag, bad reference): exit 2.
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& message) : Error(message) {}
};

/// Throws Error("<what>: <strerror(errno)>"); for failed system calls.
[[noreturn]] void throw_errno(const std::string& what);
[[noreturn]] void throw_errno(const std::string& what, int err);

}  // namespace distill
