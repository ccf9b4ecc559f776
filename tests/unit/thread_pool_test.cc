#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <vector>

#include "base/thread_pool.h"

using namespace distill;

TEST(ThreadPool, PostedJobsAllRun) {
  std::atomic<int> ran{0};
  {
    ThreadPool pool(3);
    for (int i = 0; i < 1000; ++i) pool.post([&] { ++ran; });
  }  // the destructor runs what is queued, then joins
  EXPECT_EQ(ran, 1000);
}

TEST(ThreadPool, JobsOfOnePoolMayWaitOnAnother) {
  // Package layers: jobs of their own pool wait on compression shards in
  // the shared pool, which never waits on them.
  ThreadPool shards(2), jobs(2);
  std::vector<std::future<int>> results;
  for (int j = 0; j < 8; ++j)
    results.push_back(jobs.submit([&, j] {
      std::vector<std::future<int>> parts;
      for (int s = 0; s < 4; ++s) parts.push_back(shards.submit([j, s] { return j * 10 + s; }));
      int sum = 0;
      for (auto& p : parts) sum += p.get();
      return sum;
    }));
  for (int j = 0; j < 8; ++j) EXPECT_EQ(results[j].get(), 40 * j + 6);
}
