// The store from several threads at once, as package layers use it.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "base/fs.h"
#include "store/store.h"

using namespace distill;

TEST(Store, ThreadsWritingTheSameAndOtherBlobsAndActions) {
  TempDir dir(fs::temp_directory_path(), "distill-store-test-");
  Store store(dir.path() / "cache");
  std::vector<std::thread> threads;
  std::vector<Digest> streamed(8);
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        store.put_blob("shared blob " + std::to_string(i));  // every thread writes these
        store.put_action(sha256_of("key " + std::to_string(i)), {{"digest", "same for all"}});
      }
      Store::BlobWriter writer(store);
      for (int i = 0; i < 100; ++i) writer.write("thread " + std::to_string(t) + " chunk " + std::to_string(i) + "\n");
      streamed[t] = writer.commit();
    });
  for (auto& th : threads) th.join();
  for (int i = 0; i < 50; ++i) {
    std::string bytes = "shared blob " + std::to_string(i);
    EXPECT_EQ(store.read_blob(sha256_of(bytes)), bytes);
    auto action = store.get_action(sha256_of("key " + std::to_string(i)));
    ASSERT_TRUE(action);
    EXPECT_EQ(action->at("digest"), "same for all");
  }
  for (int t = 0; t < 8; ++t) EXPECT_NO_THROW(store.read_blob(streamed[t]));
  EXPECT_TRUE(fs::is_empty(dir.path() / "cache" / "tmp")) << "no temporary file is left behind";
  for (const char* sub : {"blobs/sha256", "actions"})
    for (const auto& f : fs::directory_iterator(dir.path() / "cache" / sub))
      EXPECT_EQ(f.path().filename().string().find(".tmp-"), std::string::npos) << f.path();
}
