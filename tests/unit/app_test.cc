// src/app: the base tree, copying host paths onto a base, and Python's
// compiled files.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app.h"
#include "app/base_tree.h"
#include "app/image_files.h"
#include "base/error.h"
#include "base/fs.h"

namespace distill {
namespace {

BaseTree merged_usr_base() {
  BaseTree base;
  base.add("/usr", {'5', ""});
  base.add("/usr/lib", {'5', ""});
  base.add("/usr/lib/x86_64-linux-gnu", {'5', ""});
  base.add("/usr/lib/x86_64-linux-gnu/libc.so.6", {'0', ""});
  base.add("/usr/lib/x86_64-linux-gnu/libz.so.1", {'2', "libz.so.1.3"});
  base.add("/usr/lib/x86_64-linux-gnu/libz.so.1.3", {'0', ""});
  base.add("/lib", {'2', "usr/lib"});
  base.add("/etc", {'5', ""});
  base.add("/etc/loop", {'2', "/etc/loop"});
  return base;
}

TEST(BaseTree, ResolvesSymlinksInsideTheTree) {
  BaseTree base = merged_usr_base();
  EXPECT_EQ(base.resolve("/lib/x86_64-linux-gnu/libz.so.1"), "/usr/lib/x86_64-linux-gnu/libz.so.1.3");
  EXPECT_EQ(base.resolve("/lib/../lib/x86_64-linux-gnu/libc.so.6"), "/usr/lib/x86_64-linux-gnu/libc.so.6");
  EXPECT_FALSE(base.resolve("/lib/x86_64-linux-gnu/libssl.so.3"));
  EXPECT_FALSE(base.resolve("/etc/loop")) << "a symlink loop is absent, not an endless walk";
  EXPECT_TRUE(base.is_real_directory("/usr/lib"));
  EXPECT_FALSE(base.is_real_directory("/lib"));
  EXPECT_EQ(base.library("libz.so.1", "x86_64-linux-gnu"), "/lib/x86_64-linux-gnu/libz.so.1");
  EXPECT_FALSE(base.library("libcurl.so.4", "x86_64-linux-gnu"));
  EXPECT_EQ(base.list("/lib"), (std::vector<std::string>{"x86_64-linux-gnu"}));
}

/// A host root: /lib -> usr/lib (merged /usr) holding one library.
class HostRoot : public ::testing::Test {
 protected:
  TempDir dir{fs::temp_directory_path(), "distill-app-test-"};
  std::string root;
  void SetUp() override {
    root = dir.path().string();
    fs::create_directories(dir.path() / "usr/lib/x86_64-linux-gnu");
    write_file_atomic(dir.path() / "usr/lib/x86_64-linux-gnu/libfoo.so.1.0", "foo");
    fs::create_symlink("libfoo.so.1.0", dir.path() / "usr/lib/x86_64-linux-gnu/libfoo.so.1");
    fs::create_symlink("usr/lib", dir.path() / "lib");
  }
  static std::vector<std::string> dsts(const AppLayer& layer) {
    std::vector<std::string> out;
    for (const FileSpec& f : layer.files) out.push_back("F " + f.dst);
    for (const PathSpec& p : layer.paths) out.push_back("L " + p.path + " -> " + p.target);
    return out;
  }
};

TEST_F(HostRoot, OnScratchEverySymlinkOnTheWayIsKept) {
  BaseTree scratch;
  ImageFiles files(root, scratch);
  files.add_host_path("/lib/x86_64-linux-gnu/libfoo.so.1", "test");
  EXPECT_EQ(dsts(files.layer("t")),
            (std::vector<std::string>{"F /usr/lib/x86_64-linux-gnu/libfoo.so.1.0", "L /lib -> usr/lib",
                                      "L /usr/lib/x86_64-linux-gnu/libfoo.so.1 -> libfoo.so.1.0"}));
  EXPECT_EQ(*files.layer("t").files[0].src, root + "/usr/lib/x86_64-linux-gnu/libfoo.so.1.0");
}

TEST_F(HostRoot, ASymlinkTheBaseHasAlreadyIsNotAddedAgain) {
  BaseTree base = merged_usr_base();
  ImageFiles files(root, base);
  files.add_host_path("/lib/x86_64-linux-gnu/libfoo.so.1", "test");
  EXPECT_EQ(dsts(files.layer("t")), (std::vector<std::string>{"F /usr/lib/x86_64-linux-gnu/libfoo.so.1.0",
                                                                "L /usr/lib/x86_64-linux-gnu/libfoo.so.1 -> libfoo.so.1.0"}));
}

TEST_F(HostRoot, ABaseDirectoryIsNeverReplacedByTheHostsSymlink) {
  // bookworm's split /usr: /lib is a real directory in the base.
  BaseTree base;
  base.add("/lib", {'5', ""});
  base.add("/lib/x86_64-linux-gnu", {'5', ""});
  base.add("/usr", {'5', ""});
  ImageFiles files(root, base);
  files.add_host_path("/lib/x86_64-linux-gnu/libfoo.so.1", "test");
  EXPECT_EQ(dsts(files.layer("t")), (std::vector<std::string>{"F /lib/x86_64-linux-gnu/libfoo.so.1.0",
                                                                "L /lib/x86_64-linux-gnu/libfoo.so.1 -> libfoo.so.1.0"}));
  EXPECT_EQ(*files.layer("t").files[0].src, root + "/usr/lib/x86_64-linux-gnu/libfoo.so.1.0");
}

TEST_F(HostRoot, AbsentPathsAndConflictsAreErrors) {
  BaseTree scratch;
  ImageFiles files(root, scratch);
  EXPECT_THROW(files.add_host_path("/lib/x86_64-linux-gnu/libbar.so.1", "test"), Error);
  files.add_content("/etc/x", "a", 0644, "one");
  EXPECT_THROW(files.add_content("/etc/x", "b", 0644, "two"), Error);
  files.add_content("/etc/x", "a", 0644, "same again is fine");
}

// ------------------------------------------------------------------ Python

std::string pyc(uint32_t flags, uint32_t mtime, uint32_t size) {
  std::string b = "\xf3\x0d\x0d\x0a";  // a magic number; distill goes by the file name's tag
  for (uint32_t v : {flags, mtime, size})
    for (int i = 0; i < 4; ++i) b += char((v >> (8 * i)) & 0xff);
  return b + "code";
}

uint32_t le32(const std::string& b, size_t at) {
  return uint32_t(uint8_t(b[at])) | uint32_t(uint8_t(b[at + 1])) << 8 | uint32_t(uint8_t(b[at + 2])) << 16 |
         uint32_t(uint8_t(b[at + 3])) << 24;
}

class PythonApp : public ::testing::Test {
 protected:
  TempDir dir{fs::temp_directory_path(), "distill-pyapp-test-"};
  BaseTree base;
  void SetUp() override {
    base.add("/usr", {'5', ""});
    base.add("/usr/bin", {'5', ""});
    base.add("/usr/bin/python3.13", {'0', ""});
    fs::create_directories(dir.path() / "app/__pycache__");
  }
  void source(const std::string& name, const std::string& text) {
    write_file_atomic(dir.path() / "app" / name, text);
  }
  struct stat stat_of(const std::string& name) {
    struct stat st;
    EXPECT_EQ(::stat((dir.path() / "app" / name).c_str(), &st), 0);
    return st;
  }
  AppPlan plan(int64_t epoch) {
    AppSpec app;
    app.program = (dir.path() / "app/main.py").string();
    AppContext context{base, {"/usr/bin/python3.13"}, {}, std::nullopt, epoch};
    return plan_app(app, context);
  }
};

TEST_F(PythonApp, CompiledFilesStayConsistentWithTheirSources) {
  source("main.py", "import fresh\n");
  source("fresh.py", "X = 1\n");
  source("stale.py", "X = 2\n");
  source("other.py", "X = 3\n");
  struct stat fresh = stat_of("fresh.py"), stale = stat_of("stale.py");
  write_file_atomic(dir.path() / "app/__pycache__/fresh.cpython-313.pyc", pyc(0, uint32_t(fresh.st_mtime), uint32_t(fresh.st_size)));
  write_file_atomic(dir.path() / "app/__pycache__/stale.cpython-313.pyc", pyc(0, uint32_t(stale.st_mtime) - 5, uint32_t(stale.st_size)));
  write_file_atomic(dir.path() / "app/__pycache__/other.cpython-311.pyc", pyc(0, 0, 0));
  write_file_atomic(dir.path() / "app/__pycache__/other.cpython-313.pyc", pyc(3, 0, 0));  // checked hash
  write_file_atomic(dir.path() / "app/__pycache__/gone.cpython-313.pyc", pyc(0, 0, 0));   // no gone.py

  AppPlan p = plan(1700000000);
  ASSERT_FALSE(p.layers.empty());
  std::map<std::string, const FileSpec*> files;
  for (const FileSpec& f : p.layers.back().files) files[f.dst] = &f;
  ASSERT_TRUE(files.count("/app/__pycache__/fresh.cpython-313.pyc"));
  const FileSpec& f = *files["/app/__pycache__/fresh.cpython-313.pyc"];
  ASSERT_TRUE(f.content);
  EXPECT_EQ(le32(*f.content, 8), 1700000000u) << "stamped with the source's mtime in the image";
  EXPECT_EQ(le32(*f.content, 12), uint32_t(fresh.st_size));
  EXPECT_FALSE(files.count("/app/__pycache__/stale.cpython-313.pyc")) << "older than its source";
  EXPECT_FALSE(files.count("/app/__pycache__/other.cpython-311.pyc")) << "for another Python";
  EXPECT_FALSE(files.count("/app/__pycache__/gone.cpython-313.pyc")) << "no source";
  ASSERT_TRUE(files.count("/app/__pycache__/other.cpython-313.pyc")) << "hash-based: Python checks it itself";
  EXPECT_FALSE(files["/app/__pycache__/other.cpython-313.pyc"]->content) << "copied unchanged";
  EXPECT_EQ(p.entrypoint, (std::vector<std::string>{"/usr/bin/python3.13", "/app/main.py"}));
  EXPECT_EQ(p.workdir, "/app");
  std::string explain;
  for (const auto& [path, why] : p.explain) explain += path + "\t" + why + "\n";
  EXPECT_NE(explain.find("stale.cpython-313.pyc\tleft out: older than stale.py"), std::string::npos) << explain;
  EXPECT_NE(explain.find("other.cpython-311.pyc\tleft out: compiled for cpython-311"), std::string::npos) << explain;
}

TEST_F(PythonApp, AnExtensionForAnotherPythonIsRefusedByName) {
  source("main.py", "");
  // Not loaded, only named: an ELF header is enough for the check.
  write_file_atomic(dir.path() / "app/_x.cpython-311-x86_64-linux-gnu.so", std::string("\x7f" "ELF", 4) + std::string(60, '\0'));
  try {
    plan(0);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("_x.cpython-311-x86_64-linux-gnu.so is an extension module for Python 3.11, but the base runs Python 3.13"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(PythonApp, ABaseWithoutPythonIsAClearError) {
  source("main.py", "");
  base = BaseTree();
  base.add("/etc", {'5', ""});
  try {
    plan(0);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the base has no /usr/bin/python3"), std::string::npos) << e.what();
  }
}

TEST(AppKind, ComesFromTheProgram) {
  AppSpec app;
  app.program = "/src/web/app.py";
  EXPECT_EQ(app_kind(app), AppKind::python);
  EXPECT_EQ(default_app_base(app), "preset:python3");
  app.program = "/src/api/server.mjs";
  EXPECT_EQ(default_app_base(app), "preset:nodejs");
  app.program = "/src/svc/svc.jar";
  EXPECT_EQ(default_app_base(app), "preset:java");
  app.program = "/usr/bin/curl";
  EXPECT_EQ(default_app_base(app), "scratch");
  app.kind = "python";
  EXPECT_EQ(app_kind(app), AppKind::python);
}

}  // namespace
}  // namespace distill
