// The store from several threads at once, as package layers use it.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <thread>
#include <vector>

#include "base/fs.h"
#include "base/error.h"
#include "store/maintenance.h"
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

TEST(CacheMaintenance, ParsesSizes) {
  EXPECT_EQ(parse_size("4096", "--max-size"), 4096u);
  EXPECT_EQ(parse_size("500M", "--max-size"), 500ull << 20);
  EXPECT_EQ(parse_size("2g", "--max-size"), 2ull << 30);
  EXPECT_EQ(parse_size("1.5GiB", "--max-size"), 3ull << 29);
  EXPECT_EQ(parse_size("1T", "--max-size"), 1ull << 40);
  EXPECT_EQ(parse_size("0", "--max-size"), 0u);
  for (const char* bad : {"", "G", "5X", "-1G", "1.2.3M", "1 G", "M5"}) {
    try {
      parse_size(bad, "--max-size");
      ADD_FAILURE() << "accepted " << bad;
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("--max-size: \"" + std::string(bad) + "\" is not a size"), std::string::npos) << e.what();
    }
  }
}

TEST(CacheMaintenance, PruneRefusesAnOpenStoreAndDropsTheLeastRecentlyUsed) {
  TempDir dir(fs::temp_directory_path(), "distill-prune-");
  Digest kept, dropped;
  {
    Store store(dir.path());
    dropped = store.put_blob("old blob");
    store.put_action(sha256_of("old"), {{"digest", dropped.str()}});
    PruneOptions all;
    all.all = true;
    // An open Store holds the cache: pruning would pull blobs from under it.
    EXPECT_THROW(prune_cache(dir.path(), all), Error);
    struct timespec old[2] = {{1000, 0}, {1000, 0}};  // long unused
    ASSERT_EQ(::utimensat(AT_FDCWD, store.blob_path(dropped).c_str(), old, 0), 0);
    kept = store.put_blob("new blob");
  }
  // One byte too many: the least recently used blob goes, and only it.
  PruneOptions fit;
  fit.max_size = cache_usage(dir.path()).bytes() - 1;
  fit.dry_run = true;
  PruneResult dry = prune_cache(dir.path(), fit);
  EXPECT_EQ(dry.blobs, 1u);
  EXPECT_TRUE(fs::exists(dir.path() / "blobs/sha256" / dropped.hex));
  fit.dry_run = false;
  PruneResult r = prune_cache(dir.path(), fit);
  EXPECT_EQ(r.blobs, 1u);
  EXPECT_EQ(r.actions, 1u);  // the record naming the pruned blob
  EXPECT_FALSE(fs::exists(dir.path() / "blobs/sha256" / dropped.hex));
  EXPECT_TRUE(fs::exists(dir.path() / "blobs/sha256" / kept.hex));
  EXPECT_EQ(r.remaining.blobs, 1u);
  EXPECT_EQ(r.remaining.actions, 0u);
}
