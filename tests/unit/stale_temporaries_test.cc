// remove_stale_temporaries: what a killed distill left in a cache's tmp/
// goes; what a live writer holds, what is too young to be locked yet, and
// interrupted downloads stay.
#include <gtest/gtest.h>
#include <sys/time.h>

#include <chrono>

#include "base/fs.h"

using namespace distill;

namespace {

void age(const fs::path& path) {
  struct timeval old[2] = {{1000000000, 0}, {1000000000, 0}};
  ASSERT_EQ(::utimes(path.c_str(), old), 0) << path;
}

void touch(const fs::path& path) { write_file_atomic(path, "x"); }

}  // namespace

TEST(StaleTemporaries, OnlyUnlockedOldEntriesGoButPartialDownloadsStay) {
  TempDir root(fs::temp_directory_path(), "stale-test-");
  fs::path tmp = root.path();
  touch(tmp / "killed-blob.tmp-abc");
  age(tmp / "killed-blob.tmp-abc");
  fs::create_directories(tmp / "deb-killed" / "payload");
  touch(tmp / "deb-killed" / "payload" / "f");
  age(tmp / "deb-killed");
  touch(tmp / "young.tmp-xyz");
  touch(tmp / "0123.partial");
  age(tmp / "0123.partial");
  AtomicFile live(tmp / "blob");  // its temporary is locked while it lives
  age(live.temp_path());
  TempDir live_dir(tmp, "deb-");
  age(live_dir.path());

  remove_stale_temporaries(tmp, std::chrono::minutes(1));

  EXPECT_FALSE(fs::exists(tmp / "killed-blob.tmp-abc"));
  EXPECT_FALSE(fs::exists(tmp / "deb-killed"));
  EXPECT_TRUE(fs::exists(tmp / "young.tmp-xyz"));
  EXPECT_TRUE(fs::exists(tmp / "0123.partial"));
  EXPECT_TRUE(fs::exists(live.temp_path()));
  EXPECT_TRUE(fs::exists(live_dir.path()));
}

TEST(StaleTemporaries, OnlyTheEntriesTheFilterAccepts) {
  TempDir root(fs::temp_directory_path(), "stale-test-");
  fs::path dir = root.path();
  for (const char* name : {"app.tar.tmp-abc", "myapp.tar.tmp-abc", "app.tar"}) {
    touch(dir / name);
    age(dir / name);
  }
  remove_stale_temporaries(dir, std::chrono::minutes(1),
                           [](const std::string& name) { return name.starts_with("app.tar.tmp-"); });
  EXPECT_FALSE(fs::exists(dir / "app.tar.tmp-abc"));
  EXPECT_TRUE(fs::exists(dir / "myapp.tar.tmp-abc"));
  EXPECT_TRUE(fs::exists(dir / "app.tar"));
}
