// The tree walk of plan_files_layer: entries in tar order straight from the
// walk, the same whatever the number of threads, hardlinks and refusals
// where a serial walk would find them.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/fs.h"
#include "build/layer_plan.h"
#include "build/spec.h"

using namespace distill;

namespace {

/// Sets DISTILL_JOBS for one scope (the walk's thread count).
class Jobs {
 public:
  explicit Jobs(const char* n) {
    if (const char* old = std::getenv("DISTILL_JOBS")) m_old = old;
    ::setenv("DISTILL_JOBS", n, 1);
  }
  ~Jobs() {
    if (m_old.empty()) ::unsetenv("DISTILL_JOBS");
    else ::setenv("DISTILL_JOBS", m_old.c_str(), 1);
  }

 private:
  std::string m_old;
};

std::string describe(const std::vector<LayerEntry>& entries) {
  std::string out;
  for (const LayerEntry& e : entries)
    out += e.path + " " + type_name(e.type) + " " + e.link_target + " " + e.source + " " + std::to_string(e.mode) + "\n";
  return out;
}

class PlanWalk : public ::testing::Test {
 protected:
  TempDir dir{fs::temp_directory_path(), "distill-walk-test-"};
  fs::path tree = dir.path() / "tree";

  void file(const std::string& rel, const std::string& content = "x") {
    fs::create_directories((tree / rel).parent_path());
    write_file_atomic(tree / rel, content);
  }
  std::vector<LayerEntry> plan() {
    return plan_files_layer(parse_spec("files:\n  - {src: tree, dst: /t}\n", "image.yaml", dir.path()));
  }
};

}  // namespace

TEST_F(PlanWalk, EntriesComeInPathOrderWithDirectoriesAfterDottedNames) {
  file("a/x");
  file("a.txt");
  file("a-b");
  file("a/y/z");
  std::vector<std::string> paths;
  for (const LayerEntry& e : plan()) paths.push_back(e.path);
  // '-' < '.' < '/': a directory's contents sort after its dotted siblings.
  EXPECT_EQ(paths, (std::vector<std::string>{"t", "t/a", "t/a-b", "t/a.txt", "t/a/x", "t/a/y", "t/a/y/z"}));
}

TEST_F(PlanWalk, SameEntriesWhateverTheThreadCount) {
  for (int i = 0; i < 40; ++i) file("d" + std::to_string(i % 7) + "/e" + std::to_string(i % 3) + "/f" + std::to_string(i), std::to_string(i));
  fs::create_hard_link(tree / "d6/e0/f6", tree / "d0/link");
  fs::create_symlink("d1", tree / "d1.lnk");
  std::string serial, parallel;
  {
    Jobs one("1");
    serial = describe(plan());
  }
  {
    Jobs many("8");
    parallel = describe(plan());
  }
  EXPECT_EQ(serial, parallel);
}

TEST_F(PlanWalk, FirstNameOfALinkedFileInPathOrderIsTheFile) {
  file("z/f", "shared");
  fs::create_directories(tree / "a");
  fs::create_hard_link(tree / "z/f", tree / "a/g");
  std::vector<LayerEntry> entries = plan();
  ASSERT_EQ(entries.size(), 5u);
  EXPECT_EQ(entries[2].path, "t/a/g");
  EXPECT_EQ(entries[2].type, LayerEntry::Type::file);
  EXPECT_EQ(entries[2].size, 6u);
  EXPECT_EQ(entries[4].path, "t/z/f");
  EXPECT_EQ(entries[4].type, LayerEntry::Type::hardlink);
  EXPECT_EQ(entries[4].link_target, "t/a/g");
  EXPECT_TRUE(entries[4].source.empty());
}

TEST_F(PlanWalk, HostFilesTakeTheirCapabilityWhenWritten) {
  file("bin/app");
  for (const LayerEntry& e : plan())
    if (e.type == LayerEntry::Type::file) {
      EXPECT_TRUE(e.source_capability) << e.path;
      EXPECT_TRUE(e.xattrs.empty()) << e.path;
      EXPECT_FALSE(e.stat_key.empty()) << e.path;
    }
}

TEST_F(PlanWalk, DeviceFifoOrSocketIsRefusedWithItsPlace) {
  file("a/ok");
  fs::create_directories(tree / "b");
  ASSERT_EQ(::mkfifo((tree / "b/pipe").c_str(), 0644), 0);
  try {
    plan();
    FAIL() << "a FIFO was accepted";
  } catch (const Error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("files[0].src"), std::string::npos) << what;
    EXPECT_NE(what.find("b/pipe is a socket, FIFO or device"), std::string::npos) << what;
  }
}
