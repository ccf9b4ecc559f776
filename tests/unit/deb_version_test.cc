#include <gtest/gtest.h>

#include "base/error.h"
#include "deb/control.h"
#include "deb/version.h"

using namespace distill;
using namespace distill::deb;

namespace {

struct Case {
  const char* a;
  const char* b;
  int expected;  // sign of compare(a, b)
};

int sign(int x) { return x < 0 ? -1 : x > 0 ? 1 : 0; }

}  // namespace

TEST(DebVersion, OrdersLikeDpkg) {
  // From Debian Policy 5.6.12, dpkg's t-version tests and real archive versions.
  const Case cases[] = {
      {"1.0", "1.0", 0},
      {"1.0", "1.1", -1},
      {"1.0-1", "1.0-2", -1},
      {"1.0~rc1", "1.0", -1},          // tilde sorts before the end
      {"1.0~~", "1.0~", -1},
      {"1.0~~a", "1.0~~", 1},
      {"1.0~", "1.0", -1},
      {"1.0", "1.0+b1", -1},
      {"1.0a", "1.0", 1},
      {"1.0a", "1.0+", -1},           // letters before non-letters
      {"1:0.9", "2.0", 1},            // epoch wins
      {"0:1.0", "1.0", 0},            // epoch 0 is no epoch
      {"2:1.0", "10:0.1", -1},
      {"1.0-1", "1.0", 1},
      {"1.0-0", "1.0", 0},            // dpkg: empty revision equals "0"
      {"1.10", "1.9", 1},             // numbers compare numerically
      {"1.010", "1.10", 0},           // leading zeros ignored
      {"1.0.0", "1.0", 1},
      {"2.36-9+deb12u4", "2.36-9+deb12u10", -1},
      {"3.0.11-1~deb12u2", "3.0.11-1", -1},
      {"1:2.39.5-0+deb12u1", "1:2.39.2-1.1", 1},
      {"7.88.1-10+deb12u8", "7.88.1-10+deb12u12", -1},
      {"2024a-0+deb12u1", "2025b-0+deb12u1", -1},
      {"1.2.3-1ubuntu1", "1.2.3-1", 1},
      {"0.0.0-0", "0", 1},
      {"a", "b", -1},                 // non-digit upstream still compares
      {"1.0-a", "1.0-1", 1},
      {"1.0-1~bpo1", "1.0-1", -1},
      {"3.13.5-2", "3.13.5-2+b1", -1},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(sign(compare_versions(c.a, c.b)), c.expected) << c.a << " vs " << c.b;
    EXPECT_EQ(sign(compare_versions(c.b, c.a)), -c.expected) << c.b << " vs " << c.a;
  }
}

TEST(DebVersion, ParsesParts) {
  Version v = Version::parse("1:2.3-4-5");
  EXPECT_EQ(v.epoch, 1u);
  EXPECT_EQ(v.upstream, "2.3-4");
  EXPECT_EQ(v.revision, "5");
  EXPECT_EQ(v.str(), "1:2.3-4-5");
  EXPECT_THROW(Version::parse(""), Error);
  EXPECT_THROW(Version::parse("x:1"), Error);
  EXPECT_THROW(Version::parse("abc"), Error);
  EXPECT_THROW(Version::parse("1.0 beta"), Error);
}

TEST(DebVersion, Relations) {
  EXPECT_TRUE(satisfies("2.0", Relation::ge, "2.0"));
  EXPECT_TRUE(satisfies("2.0", Relation::gt, "1.9"));
  EXPECT_FALSE(satisfies("2.0", Relation::gt, "2.0"));
  EXPECT_TRUE(satisfies("1.9", Relation::lt, "2.0"));
  EXPECT_TRUE(satisfies("2.0~rc1", Relation::lt, "2.0"));
  EXPECT_TRUE(satisfies("1:1.0", Relation::eq, "1:1.0-0"));
  EXPECT_TRUE(satisfies("anything", Relation::any, ""));
  EXPECT_EQ(parse_relation(">"), Relation::ge);  // obsolete spelling
  EXPECT_THROW(parse_relation("=="), Error);
}

TEST(Deb822, ParsesParagraphsAndContinuations) {
  std::string text =
      "Package: a\nVersion: 1.0\nDescription: short\n more\n .\n last\n\n\n"
      "# comment\npackage: b\nDepends: c (>= 1),\n d | e\n";
  std::vector<std::string> names, descs, deps;
  for_each_paragraph(text, "Packages", [&](const Paragraph& p) {
    names.emplace_back(p.get("Package"));
    descs.emplace_back(p.get("description"));
    deps.emplace_back(p.get("Depends"));
  });
  ASSERT_EQ(names.size(), 2u);
  EXPECT_EQ(names[1], "b");  // case-insensitive field names
  EXPECT_EQ(descs[0], "short\n more\n .\n last");
  EXPECT_EQ(deps[1], "c (>= 1),\n d | e");
}

TEST(Deb822, RejectsGarbageWithLine) {
  try {
    for_each_paragraph("Package: a\nnot a field\n", "Packages", [](const Paragraph&) {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Packages:2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(for_each_paragraph(" leading continuation\n", "x", [](const Paragraph&) {}), Error);
}

TEST(Relations, ParsesAlternativesVersionsAndArchQualifiers) {
  auto groups = parse_relations("libc6 (>= 2.36), debconf (>= 0.5) | debconf-2.0, python3:any (<< 3.14), perl:native,"
                                " foo [amd64] <!nocheck>, bar (<<1.0)",
                                "Depends");
  ASSERT_EQ(groups.size(), 6u);
  EXPECT_EQ(groups[0][0].name, "libc6");
  EXPECT_EQ(groups[0][0].op, Relation::ge);
  EXPECT_EQ(groups[0][0].version, "2.36");
  ASSERT_EQ(groups[1].size(), 2u);
  EXPECT_EQ(groups[1][1].name, "debconf-2.0");
  EXPECT_EQ(groups[2][0].arch, "any");
  EXPECT_EQ(groups[2][0].op, Relation::lt);
  EXPECT_EQ(groups[3][0].arch, "native");
  EXPECT_EQ(groups[4][0].name, "foo");
  EXPECT_EQ(groups[4][0].op, Relation::any);
  EXPECT_EQ(groups[5][0].version, "1.0");
  EXPECT_EQ(groups[5][0].str(), "bar (<< 1.0)");
  EXPECT_THROW(parse_relations("a (>= 1", "Depends"), Error);
  EXPECT_THROW(parse_relations("a | , b", "Depends"), Error);
  EXPECT_TRUE(parse_relations("", "Depends").empty());
}

TEST(DebVersion, AgreesWithDpkgOnEveryPair) {
  // dpkg itself is the oracle: every pair of a varied list, both ways.
  const char* versions[] = {"1.0", "1.0-1", "1.0~rc1", "1.0+b1", "1:0.9", "1.0a", "1.0.0", "1.00", "2.36-9+deb12u4",
                            "2.36-9+deb12u10", "0.0.0-0", "0", "1.0-1~bpo1", "1.0~~", "3.13.5-2", "3.13.5-2+b1",
                            "2:1", "1.2.3-1ubuntu1", "9.9", "10", "1.0-a", "1.0.a", "1.0+dfsg-1", "1.0~dfsg-1"};
  for (const char* a : versions)
    for (const char* b : versions) {
      std::string cmd = std::string("dpkg --compare-versions '") + a + "' lt '" + b + "'";
      int lt = std::system(cmd.c_str()) == 0;
      cmd = std::string("dpkg --compare-versions '") + a + "' eq '" + b + "'";
      int eq = std::system(cmd.c_str()) == 0;
      int expected = lt ? -1 : eq ? 0 : 1;
      EXPECT_EQ(sign(compare_versions(a, b)), expected) << a << " vs " << b;
    }
}
