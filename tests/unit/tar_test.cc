#include <gtest/gtest.h>

#include "archive/tar.h"
#include "base/error.h"

using namespace distill;

namespace {

LayerEntry file(std::string path, std::string content, uint32_t mode = 0644) {
  LayerEntry e;
  e.path = std::move(path);
  e.content = std::move(content);
  e.size = e.content.size();
  e.mode = mode;
  return e;
}

LayerEntry hardlink_to(std::string path, std::string target) {
  LayerEntry e;
  e.path = std::move(path);
  e.type = LayerEntry::Type::hardlink;
  e.link_target = std::move(target);
  return e;
}

class FileSink : public ByteSink {
 public:
  explicit FileSink(const fs::path& p) : m_file(p) {}
  void write(std::string_view d) override { m_file.write(d); }
  void finish() override { m_file.commit(); }

 private:
  AtomicFile m_file;
};

std::vector<TarEntry> round_trip(std::vector<LayerEntry> entries, std::map<std::string, std::string>* contents = nullptr) {
  TempDir dir(fs::temp_directory_path(), "distill-tar-test-");
  fs::path tar = dir.path() / "layer.tar";
  order_for_tar(entries);
  FileSink sink(tar);
  write_tar(entries, 1700000000, sink);
  sink.finish();
  std::vector<TarEntry> out;
  read_tar(tar, [&](const TarEntry& e, const ReadData& read) {
    out.push_back(e);
    if (contents) {
      char buf[4096];
      std::string data;
      for (size_t n; (n = read(buf, sizeof buf)) > 0;) data.append(buf, n);
      (*contents)[e.path] = data;
    }
  });
  return out;
}

}  // namespace

TEST(Tar, SortsByPathSoParentsComeFirst) {
  std::vector<LayerEntry> entries = {file("b/x", "1"), file("a-c", "2"), file("a/b", "3")};
  LayerEntry dir;
  dir.path = "a";
  dir.type = LayerEntry::Type::directory;
  dir.mode = 0755;
  entries.push_back(dir);
  auto out = round_trip(entries);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].path, "a");
  EXPECT_EQ(out[0].type, '5');
  EXPECT_EQ(out[1].path, "a-c");
  EXPECT_EQ(out[2].path, "a/b");
  EXPECT_EQ(out[3].path, "b/x");
}

TEST(Tar, HardlinkSortingBeforeItsTargetSwapsRoles) {
  // "a/link" sorts before "z/file": the tar must carry the data at "a/link".
  std::vector<LayerEntry> entries = {file("z/file", "payload", 0755), hardlink_to("a/link", "z/file"), hardlink_to("m/other", "z/file")};
  std::map<std::string, std::string> data;
  auto out = round_trip(entries, &data);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].path, "a/link");
  EXPECT_EQ(out[0].type, '0');
  EXPECT_EQ(out[0].mode, 0755u);
  EXPECT_EQ(data["a/link"], "payload");
  EXPECT_EQ(out[1].path, "m/other");
  EXPECT_EQ(out[1].type, '1');
  EXPECT_EQ(out[1].link_target, "a/link");
  EXPECT_EQ(out[2].path, "z/file");
  EXPECT_EQ(out[2].type, '1');
  EXPECT_EQ(out[2].link_target, "a/link");
}

TEST(Tar, KeepsOwnersModesSymlinksAndCapabilities) {
  LayerEntry f = file("usr/bin/ping", "elf", 04755);
  f.uid = 65532;
  f.gid = 65533;
  f.xattrs["security.capability"] = std::string("\x01\x00\x00\x02\x00\x20\x00\x00", 8);
  LayerEntry s;
  s.path = "bin";
  s.type = LayerEntry::Type::symlink;
  s.mode = 0777;
  s.link_target = "usr/bin";
  auto out = round_trip({f, s});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].path, "bin");
  EXPECT_EQ(out[0].type, '2');
  EXPECT_EQ(out[0].link_target, "usr/bin");
  EXPECT_EQ(out[1].mode, 04755u);
  EXPECT_EQ(out[1].uid, 65532u);
  EXPECT_EQ(out[1].gid, 65533u);
  EXPECT_EQ(out[1].xattrs.at("security.capability"), f.xattrs["security.capability"]);
}

TEST(Tar, LongNamesSurvive) {
  std::string longname = std::string(120, 'd') + "/" + std::string(150, 'f');
  auto out = round_trip({file(longname, "x")});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].path, longname);
}

TEST(Tar, SameEntriesGiveSameBytes) {
  auto build = [](int64_t mtime) {
    TempDir dir(fs::temp_directory_path(), "distill-tar-test-");
    fs::path tar = dir.path() / "l.tar";
    std::vector<LayerEntry> entries = {file("a", "1"), file("b", "2")};
    FileSink sink(tar);
    write_tar(entries, mtime, sink);
    sink.finish();
    return read_file(tar);
  };
  std::string first = build(0);
  EXPECT_EQ(build(0), first);
  EXPECT_NE(build(1), first);
  // Ends with the two zero records, no block padding: 3 records per
  // entry (header + data) ... header, data, header, data, 2 zero records.
  EXPECT_EQ(first.size(), 6u * 512);
}

TEST(Tar, RejectsASourceThatChangedSize) {
  TempDir dir(fs::temp_directory_path(), "distill-tar-test-");
  write_file_atomic(dir.path() / "src", "12345");
  LayerEntry e;
  e.path = "f";
  e.source = dir.path() / "src";
  e.size = 3;  // the file grew since it was planned
  NullSink sink;
  EXPECT_THROW(write_tar({e}, 0, sink), Error);
  e.size = 7;  // it shrank
  EXPECT_THROW(write_tar({e}, 0, sink), Error);
  e.size = 5;
  EXPECT_NO_THROW(write_tar({e}, 0, sink));
}

TEST(Tar, SliceStopsAtItsSizeAndFilesOfEverySizeRoundTrip) {
  TempDir dir(fs::temp_directory_path(), "distill-tar-test-");
  std::string big((1 << 20) * 2 + 7, 'b');  // crosses the 1 MiB read buffer
  write_file_atomic(dir.path() / "big", big);
  write_file_atomic(dir.path() / "exact", std::string(1 << 20, 'e'));
  write_file_atomic(dir.path() / "empty", "");
  write_file_atomic(dir.path() / "payload", "headBODYtail");
  auto from = [&](const char* path, const char* name, uint64_t size) {
    LayerEntry e;
    e.path = path;
    e.source = dir.path() / name;
    e.size = size;
    return e;
  };
  LayerEntry slice = from("slice", "payload", 4);
  slice.source_offset = 4;
  slice.slice = true;
  std::map<std::string, std::string> contents;
  round_trip({from("big", "big", big.size()), from("exact", "exact", 1 << 20), from("empty", "empty", 0), slice}, &contents);
  EXPECT_EQ(contents["big"], big);
  EXPECT_EQ(contents["exact"].size(), size_t(1) << 20);
  EXPECT_EQ(contents["empty"], "");
  EXPECT_EQ(contents["slice"], "BODY");
}

TEST(Tar, HardlinksCarryTheirFilesModeAndOwner) {
  // runc and Docker apply a hardlink header's mode and owner to the inode.
  LayerEntry f = file("z/server", "bin", 0750);
  f.uid = 65532;
  f.gid = 65532;
  LayerEntry l = hardlink_to("a/server-link", "z/server");
  auto out = round_trip({f, l});
  ASSERT_EQ(out.size(), 2u);
  for (const TarEntry& e : out) {
    EXPECT_EQ(e.mode, 0750u) << e.path;
    EXPECT_EQ(e.uid, 65532u) << e.path;
  }
}
