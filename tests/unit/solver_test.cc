#include <gtest/gtest.h>

#include "base/error.h"
#include "deb/solver.h"

using namespace distill;
using namespace distill::deb;

namespace {

/// A package index from Packages text; Filename/SHA256 filled in.
class Universe {
 public:
  explicit Universe(const std::string& packages) {
    std::string text;
    size_t n = 0;
    for (const std::string& para : split(packages)) {
      text += para + "\nFilename: pool/p" + std::to_string(n) + ".deb\nSHA256: " + std::string(64, 'a') +
              "\nSize: 10\n\n";
      ++n;
    }
    m_text = std::make_unique<std::string>(text);
    index.arch = "amd64";
    Source s;
    s.uri = "http://mirror.invalid/debian";
    s.suite = "trixie";
    index.sources.push_back(s);
    parse_packages(*m_text, 0, "Packages", index);
  }
  PackageIndex index;

  std::vector<std::string> solve_names(const std::vector<std::string>& requests, SolveOptions options = {}) {
    std::vector<PackageRequest> r;
    for (const auto& t : requests) r.push_back(PackageRequest::parse(t));
    Resolution res = solve(index, r, options);
    std::vector<std::string> out;
    for (const IndexedPackage* p : res.packages) out.push_back(std::string(p->name) + "=" + std::string(p->version));
    return out;
  }

  std::string error(const std::vector<std::string>& requests) {
    try {
      solve_names(requests);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }

 private:
  static std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < s.size()) {
      size_t end = s.find("\n\n", pos);
      if (end == std::string::npos) end = s.size();
      std::string para = s.substr(pos, end - pos);
      while (!para.empty() && para.front() == '\n') para.erase(0, 1);
      while (!para.empty() && para.back() == '\n') para.pop_back();
      if (!para.empty()) out.push_back(para);
      pos = end + 2;
    }
    return out;
  }
  std::unique_ptr<std::string> m_text;
};

using Names = std::vector<std::string>;

}  // namespace

TEST(Solver, PicksHighestVersionAndFollowsDepends) {
  Universe u(R"(
Package: app
Version: 1.0
Architecture: amd64
Depends: libc6 (>= 2.36), libfoo

Package: libc6
Version: 2.36-9
Architecture: amd64

Package: libc6
Version: 2.41-12
Architecture: amd64

Package: libfoo
Version: 1
Architecture: all
Pre-Depends: libc6
)");
  EXPECT_EQ(u.solve_names({"app"}), (Names{"app=1.0", "libc6=2.41-12", "libfoo=1"}));
  EXPECT_EQ(u.solve_names({"app", "libc6=2.36-9"}), (Names{"app=1.0", "libc6=2.36-9", "libfoo=1"}));
}

TEST(Solver, TakesTheFirstAlternativeThatFits) {
  Universe u(R"(
Package: app
Version: 1
Architecture: amd64
Depends: missing | old (>= 2) | good, other | good

Package: old
Version: 1
Architecture: amd64

Package: good
Version: 1
Architecture: amd64

Package: other
Version: 1
Architecture: amd64
)");
  // "other | good" is already satisfied by good, chosen for the first group.
  EXPECT_EQ(u.solve_names({"app"}), (Names{"app=1", "good=1"}));
}

TEST(Solver, VirtualPackagesAndVersionedProvides) {
  Universe u(R"(
Package: app
Version: 1
Architecture: amd64
Depends: mail-transport-agent, libbar (>= 2)

Package: postfix
Version: 3
Architecture: amd64
Priority: optional
Provides: mail-transport-agent

Package: exim4
Version: 4
Architecture: amd64
Priority: important
Provides: mail-transport-agent

Package: libbar-ng
Version: 5
Architecture: amd64
Provides: libbar (= 2.5)

Package: libbaz-old
Version: 1
Architecture: amd64
Provides: libbar (= 1.0)
)");
  EXPECT_EQ(u.solve_names({"app"}), (Names{"app=1", "exim4=4", "libbar-ng=5"}));
}

TEST(Solver, UnversionedProvidesCannotSatisfyAVersionedDependency) {
  Universe u(R"(
Package: app
Version: 1
Architecture: amd64
Depends: libbar (>= 2)

Package: impl
Version: 1
Architecture: amd64
Provides: libbar
)");
  std::string e = u.error({"app"});
  EXPECT_NE(e.find("cannot install app 1"), std::string::npos) << e;
}

TEST(Solver, ConflictsSteerToAnotherAlternativeOrFail) {
  Universe u(R"(
Package: app
Version: 1
Architecture: amd64
Depends: base, impl-a | impl-b

Package: base
Version: 1
Architecture: amd64
Conflicts: impl-a

Package: impl-a
Version: 1
Architecture: amd64

Package: impl-b
Version: 1
Architecture: amd64
Breaks: nothing
)");
  EXPECT_EQ(u.solve_names({"app"}), (Names{"app=1", "base=1", "impl-b=1"}));
  std::string e = u.error({"base", "impl-a"});
  EXPECT_NE(e.find("conflict"), std::string::npos) << e;
}

TEST(Solver, CyclesTerminate) {
  Universe u(R"(
Package: aa
Version: 1
Architecture: amd64
Depends: bb

Package: bb
Version: 1
Architecture: amd64
Depends: aa
)");
  EXPECT_EQ(u.solve_names({"aa"}), (Names{"aa=1", "bb=1"}));
}

TEST(Solver, UnsatisfiableExplainsTheChain) {
  Universe u(R"(
Package: server
Version: 2.0
Architecture: amd64
Depends: app

Package: app
Version: 1.0
Architecture: amd64
Depends: libb (>= 2)

Package: libb
Version: 1.9
Architecture: amd64
)");
  std::string e = u.error({"server"});
  EXPECT_NE(e.find("cannot install app 1.0: it needs libb (>= 2)"), std::string::npos) << e;
  EXPECT_NE(e.find("libb 1.9 from http://mirror.invalid/debian trixie does not satisfy libb (>= 2)"), std::string::npos) << e;
  EXPECT_NE(e.find("needed by server 2.0 (Depends: app)"), std::string::npos) << e;
}

TEST(Solver, ExclusionsCountAsInstalledButAreNotUnpacked) {
  Universe u(R"(
Package: tool
Version: 1
Architecture: amd64
Depends: debconf (>= 0.5) | debconf-2.0

Package: debconf
Version: 1.5
Architecture: all
Depends: perl-base
)");
  EXPECT_EQ(u.solve_names({"tool", "!debconf"}), (Names{"tool=1"}));
  // Without the exclusion debconf comes in, and with it its missing perl-base.
  EXPECT_NE(u.error({"tool"}).find("it needs perl-base, but perl-base is not in any repository"), std::string::npos);
}

TEST(Solver, ArchQualifiersNeedMultiArchAllowed) {
  Universe u(R"(
Package: app
Version: 1
Architecture: amd64
Depends: python3:any, perl:any

Package: python3
Version: 3.13
Architecture: amd64
Multi-Arch: allowed

Package: perl
Version: 5
Architecture: amd64
)");
  std::string e = u.error({"app"});
  EXPECT_NE(e.find("perl is not Multi-Arch: allowed"), std::string::npos) << e;
}

TEST(Solver, UnknownPackagesAndPinsAreClearErrors) {
  Universe u(R"(
Package: curl
Version: 8.14.1-2
Architecture: amd64
)");
  EXPECT_NE(u.error({"crul"}).find("package crul is not in any repository"), std::string::npos);
  std::string pin = u.error({"curl=9.0"});
  EXPECT_NE(pin.find("version 9.0 of curl is not offered; the repositories offer 8.14.1-2"), std::string::npos) << pin;
  EXPECT_THROW(PackageRequest::parse("Bad_Name"), Error);
  EXPECT_THROW(PackageRequest::parse("!x=1"), Error);
}

TEST(Solver, ExplainsWhyAPackageIsPresent) {
  Universe u(R"(
Package: aa
Version: 1
Architecture: amd64
Depends: bb

Package: bb
Version: 2
Architecture: amd64
)");
  std::vector<PackageRequest> r = {PackageRequest::parse("aa")};
  Resolution res = solve(u.index, r, {});
  EXPECT_EQ(explain(res, "bb"), "bb <- aa 1 (Depends: bb) <- requested");
  EXPECT_EQ(explain(res, "zzz"), "zzz is not in the image");
}
