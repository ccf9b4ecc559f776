#include "ui/status.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace distill {

bool use_color() {
  const char* no_color = std::getenv("NO_COLOR");
  return ::isatty(STDERR_FILENO) && !(no_color && *no_color);
}

std::string human_size(uint64_t bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  else std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

class Silent : public Status {
 public:
  void phase(std::string_view, uint64_t) override {}
  void progress(uint64_t) override {}
  void done(std::string_view) override {}
  void warn(std::string_view message) override { std::fprintf(stderr, "distill: warning: %.*s\n", int(message.size()), message.data()); }
};

/// Plain lines for logs and CI: one when a phase ends.
class PlainLines : public Status {
 public:
  void phase(std::string_view name, uint64_t) override {
    m_name = name;
    m_start = Clock::now();
  }
  void progress(uint64_t) override {}
  void done(std::string_view summary) override {
    std::fprintf(stderr, "distill: %s: %.*s (%.2fs)\n", m_name.c_str(), int(summary.size()), summary.data(),
                 seconds_since(m_start));
  }
  void warn(std::string_view message) override { std::fprintf(stderr, "distill: warning: %.*s\n", int(message.size()), message.data()); }

 private:
  std::string m_name;
  Clock::time_point m_start;
};

/// One line on the terminal, rewritten at most ten times a second.
class TerminalLine : public Status {
 public:
  void phase(std::string_view name, uint64_t total) override {
    std::lock_guard lock(m_mutex);
    m_name = name;
    m_total = total;
    m_start = Clock::now();
    draw(0);
  }
  void progress(uint64_t done) override {
    std::lock_guard lock(m_mutex);
    auto now = Clock::now();
    if (now - m_last < std::chrono::milliseconds(100)) return;
    m_last = now;
    draw(done);
  }
  void done(std::string_view summary) override {
    std::lock_guard lock(m_mutex);
    std::fprintf(stderr, "\r\033[K%s %s: %.*s (%.2fs)\n", check(), m_name.c_str(), int(summary.size()), summary.data(),
                 seconds_since(m_start));
  }
  void warn(std::string_view message) override {
    std::lock_guard lock(m_mutex);
    std::fprintf(stderr, "\r\033[K%swarning:%s %.*s\n", m_color ? "\033[33m" : "", m_color ? "\033[0m" : "",
                 int(message.size()), message.data());
  }

 private:
  const char* check() const { return m_color ? "\033[32m✓\033[0m" : "✓"; }
  void draw(uint64_t done) {
    std::string line = m_name + "...";
    if (m_total) {
      double secs = seconds_since(m_start);
      line += " " + human_size(done) + " / " + human_size(m_total);
      if (secs > 0.2) line += " (" + human_size(static_cast<uint64_t>(done / secs)) + "/s)";
    }
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    std::fflush(stderr);
  }
  std::mutex m_mutex;
  std::string m_name;
  uint64_t m_total = 0;
  Clock::time_point m_start, m_last;
  bool m_color = use_color();
};

}  // namespace

std::unique_ptr<Status> Status::for_stderr(bool quiet) {
  if (quiet) return std::make_unique<Silent>();
  if (::isatty(STDERR_FILENO)) return std::make_unique<TerminalLine>();
  return std::make_unique<PlainLines>();
}

}  // namespace distill
