#include <gtest/gtest.h>

#include "base/error.h"
#include "build/layer_plan.h"
#include "build/spec.h"

using namespace distill;

namespace {

/// The message of the Error that parsing `yaml` throws ("" if none).
std::string spec_error(const std::string& yaml) {
  try {
    parse_spec(yaml, "image.yaml", "/nonexistent");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string plan_error(const std::string& yaml, const fs::path& base) {
  try {
    plan_files_layer(parse_spec(yaml, "image.yaml", base));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Spec, ParsesEveryConfigKey) {
  Spec s = parse_spec(R"(
entrypoint: [/app/server]
cmd: [--port, "8080"]
env: {LANG: C.UTF-8, B: "2"}
user: "65532"
workdir: /app/./x/
ports: [8080/tcp, "53/udp", 9000]
volumes: [/data]
stop-signal: SIGTERM
labels: {a: b}
annotations: {org.opencontainers.image.source: https://example.com/x}
archs: [amd64]
)", "image.yaml", "/");
  EXPECT_EQ((*s.entrypoint)[0], "/app/server");
  EXPECT_EQ((*s.cmd)[1], "8080");
  ASSERT_EQ(s.env.size(), 2u);
  EXPECT_EQ(s.env[0].first, "LANG");  // order as written
  EXPECT_EQ(*s.workdir, "/app/x");
  EXPECT_EQ(s.ports, (std::vector<std::string>{"8080/tcp", "53/udp", "9000/tcp"}));
  EXPECT_EQ(*s.stop_signal, "SIGTERM");
  EXPECT_EQ(s.annotations.at("org.opencontainers.image.source"), "https://example.com/x");
}

TEST(Spec, ModesAreOctalQuotedOrNot) {
  Spec s = parse_spec("files:\n  - {dst: /a, content: x, mode: 0755}\n  - {dst: /b, content: x, mode: \"4750\"}\n",
                      "image.yaml", "/");
  EXPECT_EQ(*s.files[0].mode, 0755u);
  EXPECT_EQ(*s.files[1].mode, 04750u);
}

TEST(Spec, ErrorsNameFileLineAndField) {
  EXPECT_EQ(spec_error("files:\n  - dst: /a\n    content: x\n    mode: \"999\"\n"),
            "image.yaml:4:11: files[0].mode: \"999\" is not a file mode; write octal permission bits such as "
            "\"0755\" or \"0644\"");
  EXPECT_NE(spec_error("files:\n  - {dst: /a, content: x, owner: root}\n").find("image.yaml:2:"), std::string::npos);
  EXPECT_NE(spec_error("files:\n  - {dst: /a, content: x, owner: root}\n").find("files[0].owner"), std::string::npos);
  EXPECT_NE(spec_error("files:\n  - {dst: ../a, content: x}\n").find("files[0].dst"), std::string::npos);
  EXPECT_NE(spec_error("files:\n  - {dst: /a/../../etc, content: x}\n").find("\"..\""), std::string::npos);
  EXPECT_NE(spec_error("files:\n  - {dst: /a, content: x, colour: red}\n").find("files[0].colour: unknown key"),
            std::string::npos);
  EXPECT_NE(spec_error("entrypoint: [a]\nfoo: 1\n").find("image.yaml:2:1: foo: unknown key"), std::string::npos);
  EXPECT_NE(spec_error("files: [\n").find("malformed YAML"), std::string::npos);
  EXPECT_NE(spec_error("ports: [http]\n").find("ports[0]"), std::string::npos);
  EXPECT_NE(spec_error("archs: [vax]\n").find("archs[0]"), std::string::npos);
  EXPECT_NE(spec_error("stop-signal: TERM now\n").find("stop-signal"), std::string::npos);
  EXPECT_NE(spec_error("app: {program: x}\nentrypoint: [a]\n").find("image.yaml:2:13: entrypoint: app: sets the entrypoint"),
            std::string::npos);
  EXPECT_NE(spec_error("app: {args: [a]}\n").find("image.yaml:1:6: app: names no program"), std::string::npos);
  EXPECT_NE(spec_error("app: {program: x, colour: red}\n").find("app.colour: unknown key"), std::string::npos);
  EXPECT_NE(spec_error("app: {program: x, kind: ruby}\n").find("app.kind: \"ruby\" is not a kind of app"), std::string::npos);
  EXPECT_NE(spec_error("from: scratch\napp: {program: x, base: preset:cc}\n").find("app.base: the spec already says from: scratch"),
            std::string::npos);
  EXPECT_NE(spec_error("app: {program: x, base: ftp://x}\n").find("image.yaml:1:25: app.base"), std::string::npos);
  EXPECT_NE(spec_error("app: {program: x, sysroot: /nonexistent-root}\n").find("app.sysroot: /nonexistent-root is not a directory"),
            std::string::npos);
  EXPECT_NE(spec_error("from: ftp://example.com/x\n").find("from"), std::string::npos);
  EXPECT_NE(spec_error("contents: {packages: [Bad_Name]}\n").find("contents.packages[0]"), std::string::npos);
  EXPECT_NE(spec_error("strip: [docs, pictures]\n").find("strip[1]"), std::string::npos);
  EXPECT_EQ(spec_error("layering: {max-layers: 1}\n"),
            "image.yaml:1:24: layering.max-layers: \"1\" is not a number of layers from 2 to 127");
  EXPECT_NE(spec_error("layering: {max-layers: three}\n").find("\"three\" is not a number"), std::string::npos);
  EXPECT_NE(spec_error("layering: {max-layers: 128}\n").find("\"128\" is not a number"), std::string::npos);
  EXPECT_NE(spec_error("files:\n  - {dst: /a, content: \"open\n").find("malformed YAML"), std::string::npos);
  EXPECT_NE(spec_error("paths:\n  - {path: /x, type: fifo}\n").find("paths[0].type"), std::string::npos);
  EXPECT_NE(spec_error("files:\n  - {dst: /a}\n").find("needs src"), std::string::npos);
}

TEST(Spec, MaxLayersKeepsItsPlaceForBuildTimeErrors) {
  Spec s = parse_spec("files: [{dst: /a, content: x}]\nlayering:\n  max-layers: 2\n", "image.yaml", "/src");
  EXPECT_EQ(s.max_layers, 2u);
  EXPECT_EQ(s.max_layers_place.str(), "image.yaml:3:15: layering.max-layers");
}

TEST(Spec, AppPathsStartAtTheSpecDirectoryOrInTheSysroot) {
  Spec s = parse_spec("app:\n  program: build/server\n  args: [--port, \"8080\"]\n  include: [conf]\n  deps: .venv\n",
                      "image.yaml", "/src/proj");
  ASSERT_TRUE(s.app);
  EXPECT_EQ(s.app->program, "/src/proj/build/server");
  EXPECT_EQ(s.app->args, (std::vector<std::string>{"--port", "8080"}));
  EXPECT_EQ(s.app->include, (std::vector<std::string>{"/src/proj/conf"}));
  EXPECT_EQ(s.app->deps, "/src/proj/.venv");
  EXPECT_EQ(s.from, "") << "no base written: the build picks the app's default";
  Spec r = parse_spec("app: {program: /usr/bin/curl, sysroot: /, base: preset:cc}\n", "image.yaml", "/src");
  EXPECT_EQ(r.from, "preset:cc");
}

TEST(Spec, EmptySpecIsScratch) {
  Spec s = parse_spec("", "image.yaml", "/");
  EXPECT_TRUE(s.files.empty());
  EXPECT_FALSE(s.entrypoint);
}

class PlanTest : public ::testing::Test {
 protected:
  TempDir dir{fs::temp_directory_path(), "distill-plan-test-"};
  void SetUp() override {
    fs::create_directories(dir.path() / "tree/sub");
    write_file_atomic(dir.path() / "tree/sub/a", "a", 0640);
    fs::create_hard_link(dir.path() / "tree/sub/a", dir.path() / "tree/b");
    fs::create_symlink("sub/a", dir.path() / "tree/c");
    ::chown((dir.path() / "tree/sub/a").c_str(), 1234, 1234);  // must not leak
  }
};

TEST_F(PlanTest, WalksTreesSynthesizesParentsAndKeepsLinks) {
  auto entries = plan_files_layer(parse_spec("files:\n  - {src: tree, dst: /opt/app}\n", "image.yaml", dir.path()));
  std::vector<std::string> paths;
  for (const auto& e : entries) paths.push_back(e.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"opt", "opt/app", "opt/app/b", "opt/app/c", "opt/app/sub", "opt/app/sub/a"}));
  EXPECT_EQ(entries[0].mode, 0755u);  // synthesized parent
  EXPECT_EQ(entries[2].type, LayerEntry::Type::file);  // first of the hardlink pair in tar order
  EXPECT_EQ(entries[2].mode, 0640u);
  EXPECT_EQ(entries[2].uid, 0u);
  EXPECT_EQ(entries[5].type, LayerEntry::Type::hardlink);
  EXPECT_EQ(entries[5].link_target, "opt/app/b");
  EXPECT_EQ(entries[3].type, LayerEntry::Type::symlink);
  EXPECT_EQ(entries[3].link_target, "sub/a");
}

TEST_F(PlanTest, OwnerAndModeApplyToTheWholeTree) {
  auto entries = plan_files_layer(
      parse_spec("files:\n  - {src: tree, dst: /x, mode: \"0700\", owner: \"7:8\"}\n", "image.yaml", dir.path()));
  for (const auto& e : entries) {
    if (e.path == "x/c") continue;  // symlinks carry no mode
    EXPECT_EQ(e.mode, 0700u) << e.path;
    EXPECT_EQ(e.uid, 7u) << e.path;
    EXPECT_EQ(e.gid, 8u) << e.path;
  }
}

TEST_F(PlanTest, DestinationEndingInSlashTakesTheFileName) {
  auto entries = plan_files_layer(parse_spec("files:\n  - {src: tree/sub/a, dst: /bin/}\n", "image.yaml", dir.path()));
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[1].path, "bin/a");
}

TEST_F(PlanTest, ReportsConflictsWithBothPlaces) {
  std::string dup = plan_error("files:\n  - {dst: /a, content: x}\n  - {dst: /a, content: y}\n", dir.path());
  EXPECT_NE(dup.find("image.yaml:3:"), std::string::npos) << dup;
  EXPECT_NE(dup.find("already provided by image.yaml:2:"), std::string::npos) << dup;
  std::string missing = plan_error("files:\n  - {src: nope, dst: /a}\n", dir.path());
  EXPECT_NE(missing.find("files[0].src"), std::string::npos) << missing;
  EXPECT_NE(missing.find("does not exist"), std::string::npos) << missing;
  std::string parent = plan_error("files:\n  - {dst: /a, content: x}\n  - {dst: /a/b, content: y}\n", dir.path());
  EXPECT_NE(parent.find("to be a directory"), std::string::npos) << parent;
  std::string hardlink = plan_error("paths:\n  - {path: /l, type: hardlink, target: /nothing}\n", dir.path());
  EXPECT_NE(hardlink.find("paths[0].target"), std::string::npos) << hardlink;
}

TEST_F(PlanTest, HardlinkFromPathsPointsAtTheFile) {
  auto entries = plan_files_layer(parse_spec(
      "files:\n  - {dst: /z, content: data}\npaths:\n  - {path: /a, type: hardlink, target: /z}\n", "image.yaml",
      dir.path()));
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].path, "a");
  EXPECT_EQ(entries[0].type, LayerEntry::Type::file);
  EXPECT_EQ(entries[0].content, "data");
  EXPECT_EQ(entries[1].type, LayerEntry::Type::hardlink);
  EXPECT_EQ(entries[1].link_target, "a");
}

TEST(Spec, UnclosedQuoteAtEndOfFileIsMalformed) {
  // yaml-cpp alone accepts this and returns "listen " with a trailing space.
  std::string e = spec_error("files:\n  - dst: /etc/app.conf\n    content: \"listen = 0.0.0.0:8080\n");
  EXPECT_NE(e.find("image.yaml:3:14: malformed YAML"), std::string::npos) << e;
  EXPECT_EQ(spec_error("files:\n  - dst: /etc/app.conf\n    content: 'it''s \"fine\"'\n"), "");
}
