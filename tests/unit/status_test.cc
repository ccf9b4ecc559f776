// Progress printers with jobs running at once (package layers built in
// parallel): each job's phase keeps its own name.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "ui/status.h"

using namespace distill;

TEST(Status, PlainLinesKeepEachJobsName) {
  // Captured stderr is not a terminal: plain lines.
  testing::internal::CaptureStderr();
  {
    auto status = Status::for_stderr(false);
    status->phase("main phase");
    auto a = status->job();
    auto b = status->job();
    a->phase("job a");
    b->phase("job b");
    b->done("b done");
    a->done("a done");
    status->done("main done");
  }
  std::string out = testing::internal::GetCapturedStderr();
  EXPECT_NE(out.find("distill: job b: b done ("), std::string::npos) << out;
  EXPECT_NE(out.find("distill: job a: a done ("), std::string::npos) << out;
  EXPECT_NE(out.find("distill: main phase: main done ("), std::string::npos) << out;
  EXPECT_LT(out.find("job b"), out.find("job a")) << out;
}

TEST(Status, JobsFromManyThreadsPrintWholeLines) {
  testing::internal::CaptureStderr();
  {
    auto status = Status::for_stderr(false);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        auto job = status->job();
        for (int i = 0; i < 50; ++i) {
          job->phase("job " + std::to_string(t));
          job->progress(static_cast<uint64_t>(i));
          job->done("step " + std::to_string(i));
        }
      });
    for (auto& th : threads) th.join();
  }
  std::string out = testing::internal::GetCapturedStderr();
  size_t lines = 0;
  for (size_t pos = 0; (pos = out.find('\n', pos)) != std::string::npos; ++pos) ++lines;
  EXPECT_EQ(lines, 200u);
  for (size_t start = 0; start < out.size();) {
    size_t end = out.find('\n', start);
    std::string line = out.substr(start, end - start);
    EXPECT_TRUE(line.starts_with("distill: job ") && line.find(": step ") != std::string::npos) << line;
    start = end + 1;
  }
}

TEST(Status, QuietPrintsNothingForJobs) {
  testing::internal::CaptureStderr();
  {
    auto status = Status::for_stderr(true);
    auto job = status->job();
    job->phase("hidden");
    job->done("hidden");
  }
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}
