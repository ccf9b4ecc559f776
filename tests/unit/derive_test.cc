// What a preset keeps of a derived package (derive_package): java's
// libc-bin is its C.UTF-8 locale and copyright, none of its tools.
#include <gtest/gtest.h>

#include <algorithm>

#include "base/error.h"
#include "build/generated.h"
#include "deb/deb_file.h"

using namespace distill;

namespace {

LayerEntry entry(const std::string& path, LayerEntry::Type type = LayerEntry::Type::file) {
  LayerEntry e;
  e.path = path;
  e.type = type;
  e.mode = type == LayerEntry::Type::directory ? 0755 : 0644;
  return e;
}

std::vector<std::string> paths(const std::vector<LayerEntry>& entries) {
  std::vector<std::string> out;
  for (const LayerEntry& e : entries) out.push_back(e.path);
  std::sort(out.begin(), out.end());
  return out;
}

deb::DebContents libc_bin(bool with_locale) {
  deb::DebContents deb;
  deb.package = "libc-bin";
  for (const char* dir : {"sbin", "usr", "usr/bin", "usr/lib", "usr/lib/locale", "usr/share", "usr/share/doc",
                          "usr/share/doc/libc-bin"})
    deb.entries.push_back(entry(dir, LayerEntry::Type::directory));
  for (const char* file : {"sbin/ldconfig", "usr/bin/locale", "usr/bin/ldd", "usr/share/doc/libc-bin/copyright"})
    deb.entries.push_back(entry(file));
  if (with_locale) {
    deb.entries.push_back(entry("usr/lib/locale/C.utf8", LayerEntry::Type::directory));
    deb.entries.push_back(entry("usr/lib/locale/C.utf8/LC_CTYPE"));
    deb.entries.push_back(entry("usr/lib/locale/C.utf8/LC_MESSAGES/SYS_LC_MESSAGES"));
  }
  return deb;
}

}  // namespace

TEST(DerivePackage, LibcBinKeepsOnlyTheCUtf8Locale) {
  deb::DebContents deb = libc_bin(true);
  std::vector<LayerEntry> entries = deb.entries;
  ASSERT_TRUE(derive_package("libc-bin", deb, entries));
  std::vector<std::string> got = paths(entries);
  for (const char* tool : {"sbin/ldconfig", "usr/bin/locale", "usr/bin/ldd"})
    EXPECT_EQ(std::count(got.begin(), got.end(), tool), 0) << tool;
  for (const char* kept : {"usr/lib/locale/C.utf8/LC_CTYPE", "usr/lib/locale/C.utf8/LC_MESSAGES/SYS_LC_MESSAGES",
                           "usr/share/doc/libc-bin/copyright", "usr/lib/locale/C.utf8/LC_MESSAGES", "usr/lib/locale"})
    EXPECT_EQ(std::count(got.begin(), got.end(), kept), 1) << kept;
}

TEST(DerivePackage, LibcBinWithoutTheLocaleIsAnError) {
  deb::DebContents deb = libc_bin(false);
  std::vector<LayerEntry> entries = deb.entries;
  try {
    derive_package("libc-bin", deb, entries);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("libc-bin: the package has no /usr/lib/locale/C.utf8/LC_CTYPE"), std::string::npos)
        << e.what();
  }
}

TEST(DerivePackage, OtherPackagesAreNotDerived) {
  deb::DebContents deb = libc_bin(true);
  std::vector<LayerEntry> entries = deb.entries;
  EXPECT_FALSE(derive_package("libc6", deb, entries));
  EXPECT_EQ(entries.size(), deb.entries.size());
}
