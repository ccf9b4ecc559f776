#include "base/fs.h"

#include "base/interrupt.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "base/error.h"

namespace distill {

void throw_errno(const std::string& what) { throw_errno(what, errno); }
void throw_errno(const std::string& what, int err) {
  throw Error(what + ": " + std::strerror(err));
}

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    if (m_fd >= 0) ::close(m_fd);
    m_fd = other.release();
  }
  return *this;
}

Fd::~Fd() {
  if (m_fd >= 0) ::close(m_fd);
}

Fd open_read(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) throw_errno("cannot open " + path.string());
  return Fd(fd);
}

size_t read_some(int fd, std::span<char> buffer, const fs::path& what) {
  size_t done = 0;
  while (done < buffer.size()) {
    ssize_t n = ::read(fd, buffer.data() + done, buffer.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot read " + what.string());
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

std::string read_file(const fs::path& path) {
  Fd fd = open_read(path);
  std::string out;
  char buf[65536];
  for (;;) {
    size_t n = read_some(fd.get(), buf, path);
    out.append(buf, n);
    if (n < sizeof buf) break;
  }
  return out;
}

void write_all(int fd, std::string_view data, const fs::path& what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot write " + what.string());
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

static std::string random_suffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s(8, 'x');
  for (char& c : s) c = alphabet[rng() % (sizeof alphabet - 1)];
  return s;
}

AtomicFile::AtomicFile(fs::path path, mode_t mode) : m_path(std::move(path)) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    m_temp = m_path;
    m_temp += ".tmp-" + random_suffix();
    int fd = ::open(m_temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd >= 0) {
      // The mode must not depend on the umask of whoever runs distill.
      ::fchmod(fd, mode);
      // Held while the file is open: tells remove_stale_temporaries that its
      // writer is alive.
      ::flock(fd, LOCK_EX);
      m_fd = Fd(fd);
      remove_on_interrupt(m_temp);
      return;
    }
    if (errno != EEXIST) throw_errno("cannot write " + m_path.string());
  }
  throw Error("cannot create a temporary file beside " + m_path.string());
}

AtomicFile::~AtomicFile() {
  if (m_committed || m_temp.empty()) return;
  ::unlink(m_temp.c_str());
  forget_on_interrupt(m_temp);
}

void AtomicFile::write(std::string_view data) { write_all(m_fd.get(), data, m_path); }

void AtomicFile::commit() {
  // Renamed while still open, so its flock tells remove_stale_temporaries
  // that the writer is alive until the file is in place; a close error
  // (deferred write-back) then takes the file away again.
  if (::rename(m_temp.c_str(), m_path.c_str()) != 0) throw_errno("cannot rename into " + m_path.string());
  m_committed = true;
  forget_on_interrupt(m_temp);
  if (::close(m_fd.release()) != 0) {
    int saved = errno;
    ::unlink(m_path.c_str());
    errno = saved;
    throw_errno("cannot write " + m_path.string());
  }
}

void AtomicFile::commit_as_renamed() {
  m_fd = Fd();
  m_committed = true;
  forget_on_interrupt(m_temp);
}

void write_file_atomic(const fs::path& path, std::string_view data, mode_t mode) {
  AtomicFile file(path, mode);
  file.write(data);
  file.commit();
}

TempDir::TempDir(const fs::path& parent, const std::string& prefix) {
  std::string templ = (parent / (prefix + "XXXXXX")).string();
  if (::mkdtemp(templ.data()) == nullptr) throw_errno("cannot create a directory in " + parent.string());
  m_path = templ;
  remove_on_interrupt(m_path);
  m_lock = Fd(::open(m_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (m_lock) ::flock(m_lock.get(), LOCK_EX);  // see remove_stale_temporaries
}

TempDir::~TempDir() {
  if (m_path.empty()) return;
  std::error_code ec;
  fs::remove_all(m_path, ec);
  forget_on_interrupt(m_path);
}

void TempDir::release() {
  forget_on_interrupt(m_path);
  m_path.clear();
  m_lock = Fd();
}

void remove_stale_temporaries(const fs::path& dir, std::chrono::seconds min_age,
                              const std::function<bool(const std::string&)>& wanted) {
  std::error_code ec;
  auto now = fs::file_time_type::clock::now();
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    const fs::path& path = e.path();
    if (path.extension() == ".partial") continue;  // resumable downloads
    if (wanted && !wanted(path.filename().string())) continue;
    auto mtime = fs::last_write_time(path, ec);
    if (ec || now - mtime < min_age) continue;  // maybe not locked yet by its writer
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd || ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) continue;  // a live writer holds it
    fs::remove_all(path, ec);
  }
}

void copy_file_contents(const fs::path& from, const fs::path& to, mode_t mode) {
  Fd in = open_read(from);
  AtomicFile out(to, mode);
  if (::ioctl(out.fd(), FICLONE, in.get()) != 0) {
    struct stat st;
    if (::fstat(in.get(), &st) != 0) throw_errno("cannot stat " + from.string());
    off_t left = st.st_size;
    while (left > 0) {
      ssize_t n = ::copy_file_range(in.get(), nullptr, out.fd(), nullptr, static_cast<size_t>(left), 0);
      if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL)) {
        char buf[1 << 16];
        for (;;) {
          size_t got = read_some(in.get(), buf, from);
          out.write(std::string_view(buf, got));
          if (got < sizeof buf) break;
        }
        break;
      }
      if (n < 0) throw_errno("cannot copy " + from.string() + " to " + to.string());
      if (n == 0) break;
      left -= n;
    }
  }
  out.commit();
}

bool is_clean_relative(std::string_view path) {
  if (path.empty() || path.front() == '/') return false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

}  // namespace distill
