#include "ui/status.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

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

void print_warning(std::string_view message) {
  std::fprintf(stderr, "distill: warning: %.*s\n", int(message.size()), message.data());
}

class Silent : public Status {
 public:
  void phase(std::string_view, uint64_t) override {}
  void progress(uint64_t) override {}
  void done(std::string_view) override {}
  void warn(std::string_view message) override { print_warning(message); }
  std::unique_ptr<Status> job() override { return std::make_unique<Silent>(); }
};

/// Plain lines for logs and CI: one when a phase ends. Each line is one
/// fprintf call, which stdio locks, so lines from jobs never mix.
class PlainLines : public Status {
 public:
  void phase(std::string_view name, uint64_t) override {
    std::lock_guard lock(m_mutex);
    m_name = name;
    m_start = Clock::now();
  }
  void progress(uint64_t) override {}
  void done(std::string_view summary) override {
    std::lock_guard lock(m_mutex);
    std::fprintf(stderr, "distill: %s: %.*s (%.2fs)\n", m_name.c_str(), int(summary.size()), summary.data(),
                 seconds_since(m_start));
  }
  void warn(std::string_view message) override { print_warning(message); }
  std::unique_ptr<Status> job() override { return std::make_unique<PlainLines>(); }

 private:
  std::mutex m_mutex;
  std::string m_name;
  Clock::time_point m_start;
};

/// One line on the terminal, rewritten at most ten times a second. While
/// jobs run, it shows the oldest running job and their bytes together.
class TerminalLine : public Status {
 public:
  struct Task {
    std::string name;
    uint64_t total = 0, done = 0;
    Clock::time_point start;
  };

  void phase(std::string_view name, uint64_t total) override { start(m_main, name, total); }
  void progress(uint64_t done) override { advance(m_main, done); }
  void done(std::string_view summary) override { finish(m_main, summary); }
  void warn(std::string_view message) override {
    std::lock_guard lock(m_mutex);
    std::fprintf(stderr, "\r\033[K%swarning:%s %.*s\n", m_color ? "\033[33m" : "", m_color ? "\033[0m" : "",
                 int(message.size()), message.data());
    redraw();
  }
  std::unique_ptr<Status> job() override;

  void start(Task& task, std::string_view name, uint64_t total) {
    std::lock_guard lock(m_mutex);
    task.name = name;
    task.total = total;
    task.done = 0;
    task.start = Clock::now();
    if (&task != &m_main && std::find(m_jobs.begin(), m_jobs.end(), &task) == m_jobs.end()) m_jobs.push_back(&task);
    redraw();
  }
  void advance(Task& task, uint64_t done) {
    std::lock_guard lock(m_mutex);
    task.done = done;
    auto now = Clock::now();
    if (now - m_last < std::chrono::milliseconds(100)) return;
    m_last = now;
    redraw();
  }
  void finish(Task& task, std::string_view summary) {
    std::lock_guard lock(m_mutex);
    std::fprintf(stderr, "\r\033[K%s %s: %.*s (%.2fs)\n", check(), task.name.c_str(), int(summary.size()),
                 summary.data(), seconds_since(task.start));
    if (&task == &m_main) m_main.name.clear();  // nothing left to show for it
    forget(task);
    redraw();
  }
  /// A job's printer is gone (finished or failed): its task leaves the line.
  void leave(Task& task) {
    std::lock_guard lock(m_mutex);
    forget(task);
  }

 private:
  const char* check() const { return m_color ? "\033[32m✓\033[0m" : "✓"; }
  void forget(Task& task) { std::erase(m_jobs, &task); }
  void redraw() {
    if (m_jobs.empty()) return draw(m_main.name, m_main.done, m_main.total, m_main.start);
    uint64_t done = 0, total = 0;
    for (const Task* t : m_jobs) {
      done += t->done;
      total += t->total;
    }
    std::string name = m_jobs.front()->name;
    if (m_jobs.size() > 1) name += " (+" + std::to_string(m_jobs.size() - 1) + " more)";
    draw(name, done, total, m_jobs.front()->start);
  }
  void draw(const std::string& name, uint64_t done, uint64_t total, Clock::time_point start) {
    if (name.empty()) return;
    std::string line = name + "...";
    if (total) {
      double secs = seconds_since(start);
      line += " " + human_size(done) + " / " + human_size(total);
      if (secs > 0.2) line += " (" + human_size(static_cast<uint64_t>(done / secs)) + "/s)";
    }
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    std::fflush(stderr);
  }
  std::mutex m_mutex;
  Task m_main;
  std::vector<Task*> m_jobs;  // running jobs' tasks, oldest first
  Clock::time_point m_last;
  bool m_color = use_color();
};

/// One job's view of the terminal line: its own task on the shared line.
class TerminalJob : public Status {
 public:
  explicit TerminalJob(TerminalLine& line) : m_line(line) {}
  ~TerminalJob() override { m_line.leave(m_task); }
  void phase(std::string_view name, uint64_t total) override { m_line.start(m_task, name, total); }
  void progress(uint64_t done) override { m_line.advance(m_task, done); }
  void done(std::string_view summary) override { m_line.finish(m_task, summary); }
  void warn(std::string_view message) override { m_line.warn(message); }
  std::unique_ptr<Status> job() override { return m_line.job(); }

 private:
  TerminalLine& m_line;
  TerminalLine::Task m_task;
};

std::unique_ptr<Status> TerminalLine::job() { return std::make_unique<TerminalJob>(*this); }

/// What a printer without its own notion of jobs hands out: warnings only.
class QuietJob : public Status {
 public:
  explicit QuietJob(Status& parent) : m_parent(parent) {}
  void phase(std::string_view, uint64_t) override {}
  void progress(uint64_t) override {}
  void done(std::string_view) override {}
  void warn(std::string_view message) override { m_parent.warn(message); }
  std::unique_ptr<Status> job() override { return m_parent.job(); }

 private:
  Status& m_parent;
};

}  // namespace

std::unique_ptr<Status> Status::job() { return std::make_unique<QuietJob>(*this); }

std::unique_ptr<Status> Status::for_stderr(bool quiet) {
  if (quiet) return std::make_unique<Silent>();
  if (::isatty(STDERR_FILENO)) return std::make_unique<TerminalLine>();
  return std::make_unique<PlainLines>();
}

}  // namespace distill
