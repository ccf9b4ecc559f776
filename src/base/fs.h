#pragma once
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>

namespace distill {

namespace fs = std::filesystem;

/// An owned file descriptor, closed on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : m_fd(fd) {}
  Fd(Fd&& other) noexcept : m_fd(other.release()) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const { return m_fd; }
  int release() { int fd = m_fd; m_fd = -1; return fd; }
  explicit operator bool() const { return m_fd >= 0; }

 private:
  int m_fd = -1;
};

Fd open_read(const fs::path& path);
std::string read_file(const fs::path& path);
/// Reads exactly `size` bytes or fewer at EOF; throws on error.
size_t read_some(int fd, std::span<char> buffer, const fs::path& what);
void write_all(int fd, std::string_view data, const fs::path& what);

/// A file written under a temporary name beside its final path and renamed
/// into place by commit(); destroyed uncommitted, it leaves nothing behind.
class AtomicFile {
 public:
  explicit AtomicFile(fs::path path, mode_t mode = 0644);
  AtomicFile(AtomicFile&&) = default;
  ~AtomicFile();
  void write(std::string_view data);
  int fd() const { return m_fd.get(); }
  const fs::path& path() const { return m_path; }
  const fs::path& temp_path() const { return m_temp; }
  void commit();
  /// Marks the temporary file as already renamed elsewhere by the caller.
  void commit_as_renamed();

 private:
  fs::path m_path;
  fs::path m_temp;
  Fd m_fd;
  bool m_committed = false;
};

void write_file_atomic(const fs::path& path, std::string_view data, mode_t mode = 0644);

/// A directory removed recursively on destruction unless kept.
class TempDir {
 public:
  /// Creates `<parent>/<prefix>XXXXXX`.
  TempDir(const fs::path& parent, const std::string& prefix);
  TempDir(TempDir&& other) noexcept : m_path(std::move(other.m_path)), m_lock(std::move(other.m_lock)) {
    other.m_path.clear();
  }
  ~TempDir();
  const fs::path& path() const { return m_path; }
  /// Stops cleanup (after the directory was renamed into place).
  void release();

 private:
  fs::path m_path;
  Fd m_lock;  // flock held while the directory is in use
};

/// Removes what a killed distill left in `dir` (a cache's tmp/): entries
/// older than `min_age` whose flock no live AtomicFile or TempDir holds.
/// Interrupted downloads (*.partial) stay, to be resumed. With `wanted`,
/// only entries whose name it accepts (beside a destination: "app.tar.tmp-*").
void remove_stale_temporaries(const fs::path& dir, std::chrono::seconds min_age,
                              const std::function<bool(const std::string&)>& wanted = {});

/// Copies a file's bytes (reflink or copy_file_range when possible).
void copy_file_contents(const fs::path& from, const fs::path& to, mode_t mode = 0644);

/// True if `path` is absolute-free and has no "..", "." or empty component.
bool is_clean_relative(std::string_view path);

}  // namespace distill
