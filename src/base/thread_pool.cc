#include "base/thread_pool.h"

#include <cstdlib>
#include <string>

namespace distill {

ThreadPool::ThreadPool(unsigned threads) {
  if (threads == 0) threads = 1;
  for (unsigned i = 0; i < threads; ++i) m_workers.emplace_back([this] { run(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(m_mutex);
    m_stopping = true;
  }
  m_ready.notify_all();
  for (auto& t : m_workers) t.join();
}

void ThreadPool::run() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(m_mutex);
      m_ready.wait(lock, [this] { return m_stopping || !m_jobs.empty(); });
      if (m_jobs.empty()) return;
      job = std::move(m_jobs.front());
      m_jobs.pop_front();
    }
    job();
  }
}

void ThreadPool::post(std::function<void()> job) {
  {
    std::lock_guard lock(m_mutex);
    m_jobs.push_back(std::move(job));
  }
  m_ready.notify_one();
}

unsigned ThreadPool::default_threads() {
  if (const char* env = std::getenv("DISTILL_JOBS")) {
    try {
      int n = std::stoi(env);
      if (n > 0) return static_cast<unsigned>(n);
    } catch (...) {
    }
  }
  unsigned n = std::thread::hardware_concurrency();
  return n ? n : 1;
}

void wait_all(std::vector<std::future<void>>& jobs) {
  std::exception_ptr first;
  for (auto& job : jobs) {
    try {
      job.get();
    } catch (...) {
      if (!first) first = std::current_exception();
    }
  }
  if (first) std::rethrow_exception(first);
}

}  // namespace distill
