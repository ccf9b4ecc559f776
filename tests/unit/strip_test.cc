// The strip classes (docs/formats.md) and where the CA bundle goes.
#include <gtest/gtest.h>

#include <algorithm>

#include "build/generated.h"
#include "build/packages.h"
#include "build/spec.h"
#include "deb/deb_file.h"

using namespace distill;

namespace {

const std::set<std::string> kAll = {"docs", "man", "info", "locales", "lintian"};

}  // namespace

TEST(Strip, DocsGoButCopyrightFilesStay) {
  EXPECT_TRUE(deb::stripped("usr/share/doc/curl/changelog.Debian.gz", {"docs"}));
  EXPECT_TRUE(deb::stripped("usr/share/doc/curl/examples/a.c", {"docs"}));
  EXPECT_FALSE(deb::stripped("usr/share/doc/curl/copyright", {"docs"}));
  EXPECT_FALSE(deb::stripped("usr/share/doc/curl", {"docs"})) << "the directory (or symlink) that holds the copyright";
  EXPECT_FALSE(deb::stripped("usr/share/doc/curl/changelog.Debian.gz", {"man"})) << "only the classes asked for";
}

TEST(Strip, ManInfoLintianGoWhole) {
  for (const char* p : {"usr/share/man/man1/curl.1.gz", "usr/share/info/sed.info.gz", "usr/share/lintian/overrides/libc6"})
    EXPECT_TRUE(deb::stripped(p, kAll)) << p;
  EXPECT_FALSE(deb::stripped("usr/share/mandoc/x", kAll)) << "a name that only starts like a class root";
  EXPECT_FALSE(deb::stripped("usr/bin/man", kAll));
}

TEST(Strip, LocalesOtherThanCUtf8Go) {
  EXPECT_TRUE(deb::stripped("usr/share/locale/de/LC_MESSAGES/sed.mo", kAll));
  EXPECT_FALSE(deb::stripped("usr/share/locale/C.UTF-8/LC_MESSAGES/x.mo", kAll));
  EXPECT_FALSE(deb::stripped("usr/lib/locale/C.utf8/LC_CTYPE", kAll)) << "libc's C.UTF-8 locale";
  EXPECT_FALSE(deb::stripped("usr/share/locale/de/LC_MESSAGES/sed.mo", {})) << "strip: [] keeps everything";
}

TEST(Strip, CaBundleJoinsTheGeneratedLayerWithItsParents) {
  Spec spec;
  std::vector<LayerEntry> generated = generated_entries(spec, "amd64", true, {"ca-certificates"}, "-----BEGIN CERTIFICATE-----\n", "");
  std::vector<std::string> paths;
  for (const LayerEntry& e : generated) paths.push_back(e.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"bin", "etc", "etc/ssl", "etc/ssl/certs", "etc/ssl/certs/ca-certificates.crt",
                                             "lib", "lib64", "sbin"}));
  const LayerEntry& bundle = generated[4];
  EXPECT_EQ(bundle.content, "-----BEGIN CERTIFICATE-----\n");
  EXPECT_EQ(bundle.size, bundle.content.size());
  EXPECT_EQ(bundle.mode, 0644u);
}

TEST(Strip, DerivedCaCertificatesKeepsTheBundleOutOfTheGeneratedLayer) {
  Spec spec;
  spec.generated.derived = {"ca-certificates"};
  std::vector<LayerEntry> generated = generated_entries(spec, "amd64", true, {"ca-certificates"}, "-----BEGIN CERTIFICATE-----\n", "");
  EXPECT_TRUE(std::none_of(generated.begin(), generated.end(),
                           [](const LayerEntry& e) { return e.path == "etc/ssl/certs/ca-certificates.crt"; }));
}
