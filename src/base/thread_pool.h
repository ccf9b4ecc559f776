#pragma once
// A fixed pool of worker threads running submitted jobs; used inside a phase
// (compression shards, file hashing). Results come back through futures so
// callers consume them in submission order and outputs stay deterministic.
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace distill {

class ThreadPool {
 public:
  explicit ThreadPool(unsigned threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  unsigned size() const { return static_cast<unsigned>(m_workers.size()); }

  template <typename F>
  auto submit(F&& f) -> std::future<decltype(f())> {
    using R = decltype(f());
    auto task = std::make_shared<std::packaged_task<R()>>(std::forward<F>(f));
    std::future<R> result = task->get_future();
    {
      std::lock_guard lock(m_mutex);
      m_jobs.emplace_back([task] { (*task)(); });
    }
    m_ready.notify_one();
    return result;
  }

  /// Runs `job` with no future to wait on, for many small jobs that report
  /// through state of their own (a tree walk's directories). `job` must not
  /// throw.
  void post(std::function<void()> job);

  /// Threads to use by default: DISTILL_JOBS, else the number of cores.
  static unsigned default_threads();

 private:
  void run();
  std::mutex m_mutex;
  std::condition_variable m_ready;
  std::deque<std::function<void()>> m_jobs;
  std::vector<std::thread> m_workers;
  bool m_stopping = false;
};

/// Waits for every job, then rethrows the first failure: no job is left
/// running against state the caller is about to unwind.
void wait_all(std::vector<std::future<void>>& jobs);

}  // namespace distill
