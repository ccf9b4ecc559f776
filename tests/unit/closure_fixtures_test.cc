// The glibc rules of the closure resolver on synthetic objects built here,
// judged by glibc's own loader wherever it can run them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <set>
#include <sstream>

#include "elf/closure.h"
#include "elf/ldcache.h"
#include "fixtures/elf_fixture.h"

using namespace distill;
using test::ElfFixture;
using test::find;
using test::found;
using test::glibc_trace;

namespace {

std::string link_to(const ElfFixture& f, const std::string& dir, const std::string& lib) {
  return "-L'" + f.path(dir) + "' -l" + lib + " -Wl,-rpath-link,'" + f.path(dir) + "'";
}

std::string rpath(const std::string& dirs) { return "-Wl,--disable-new-dtags,-rpath,'" + dirs + "'"; }
std::string runpath(const std::string& dirs) { return "-Wl,--enable-new-dtags,-rpath,'" + dirs + "'"; }

}  // namespace

TEST(ClosureFixtures, RpathIsInheritedAlongTheLoadChain) {
  // prog (RPATH a:deps) -> liba (no paths) -> libb, found through prog's RPATH.
  ElfFixture f;
  std::string b = f.library("deps/libb.so");
  std::string a = f.library("a/liba.so", link_to(f, "deps", "b"));
  std::string prog = f.program("bin/prog", link_to(f, "a", "a") + " " + rpath(f.path("a") + ":" + f.path("deps")));
  elf::Closure c = elf::resolve_closure(prog, {});
  EXPECT_EQ(found(c), glibc_trace(prog));
  const elf::LoadedObject* lb = find(c, "libb.so");
  ASSERT_TRUE(lb);
  EXPECT_EQ(lb->path, b);
  EXPECT_EQ(lb->found_via, "RPATH");
  EXPECT_EQ(lb->needed_by, a);
  EXPECT_TRUE(c.missing.empty());
}

TEST(ClosureFixtures, RunpathIsNotInherited) {
  // The same with DT_RUNPATH: liba's own search does not see prog's RUNPATH.
  ElfFixture f;
  f.library("deps/libb.so");
  std::string a = f.library("a/liba.so", link_to(f, "deps", "b"));
  std::string prog = f.program("bin/prog", link_to(f, "a", "a") + " " + runpath(f.path("a") + ":" + f.path("deps")));
  elf::Closure c = elf::resolve_closure(prog, {});
  std::map<std::string, std::string> loader = glibc_trace(prog);
  EXPECT_EQ(loader["libb.so"], "not found");
  EXPECT_EQ(found(c), loader);
  ASSERT_EQ(c.missing.size(), 1u);
  EXPECT_EQ(c.missing[0].find("libb.so (needed by " + a + "; looked in "), 0u) << c.missing[0];
  EXPECT_EQ(c.missing[0].find(f.path("deps")), std::string::npos) << c.missing[0];
}

TEST(ClosureFixtures, RpathIsIgnoredWhenTheObjectHasRunpath) {
  // prog has DT_RPATH r and DT_RUNPATH u (a DT_SONAME retagged: no linker
  // makes both). libx is in both: u wins. libx's liby is only in r, which
  // prog's voided RPATH would have given it: not found.
  ElfFixture f;
  f.library("r/liby.so");
  f.library("r/libx.so");
  f.library("u/libx.so", link_to(f, "r", "y"));
  std::string prog =
      f.program("bin/prog", link_to(f, "u", "x") + " " + rpath(f.path("r")) + " -Wl,-soname,'" + f.path("u") + "'");
  test::retag_dynamic(prog, DT_SONAME, DT_RUNPATH);
  auto info = elf::read_elf(prog);
  ASSERT_TRUE(info);
  ASSERT_EQ(info->rpath, std::vector<std::string>{f.path("r")});
  ASSERT_EQ(info->runpath, std::vector<std::string>{f.path("u")});
  elf::Closure c = elf::resolve_closure(prog, {});
  std::map<std::string, std::string> loader = glibc_trace(prog);
  EXPECT_EQ(loader["libx.so"], f.path("u/libx.so"));
  EXPECT_EQ(loader["liby.so"], "not found");
  EXPECT_EQ(found(c), loader);
}

TEST(ClosureFixtures, OriginIsEachObjectsOwnDirectory) {
  // bin/prog (RUNPATH $ORIGIN/../lib) -> lib/libo (RUNPATH $ORIGIN/sub) ->
  // lib/sub/libs; run through link/prog -> ../bin/prog, $ORIGIN is still bin.
  ElfFixture f;
  f.library("lib/sub/libs.so");
  f.library("lib/libo.so", link_to(f, "lib/sub", "s") + " " + runpath("$ORIGIN/sub"));
  std::string prog = f.program("bin/prog", link_to(f, "lib", "o") + " -Wl,-rpath-link,'" + f.path("lib/sub") + "' " +
                                               runpath("$ORIGIN/../lib"));
  f.symlink("../bin/prog", "link/prog");
  for (const std::string& p : {prog, f.path("link/prog")}) {
    elf::Closure c = elf::resolve_closure(p, {});
    EXPECT_EQ(found(c), glibc_trace(p)) << p;
    const elf::LoadedObject* s = find(c, "libs.so");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->path, f.path("bin") + "/../lib/sub/libs.so");
  }
}

TEST(ClosureFixtures, EveryGlibcHwcapsVariantIsKept) {
  // lib/libh.so and its x86-64-v2 and -v3 builds, which (unlike it) need
  // libextra, through their own $ORIGIN; a v4 "build" for another machine
  // is skipped by everyone.
  ElfFixture f;
  f.library("lib/libextra.so");
  std::string base = f.library("lib/libh.so");
  std::string v2 = f.library("lib/glibc-hwcaps/x86-64-v2/libh.so",
                             "-march=x86-64-v2 " + link_to(f, "lib", "extra") + " " + runpath("$ORIGIN/../.."));
  std::string v3 = f.library("lib/glibc-hwcaps/x86-64-v3/libh.so",
                             "-march=x86-64-v3 " + link_to(f, "lib", "extra") + " " + runpath("$ORIGIN/../.."));
  std::string v4 = f.library("lib/glibc-hwcaps/x86-64-v4/libh.so");
  test::make_wrong_machine(v4);
  std::string prog = f.program("bin/prog", link_to(f, "lib", "h") + " " + runpath(f.path("lib")));

  // A baseline CPU: lib/libh.so is the one; the others come along.
  elf::Closure c = elf::resolve_closure(prog, {});
  const elf::LoadedObject* h = find(c, "libh.so", "RUNPATH");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->path, base);
  for (const std::string& v : {v2, v3}) {
    bool seen = false;
    for (const elf::LoadedObject& o : c.objects)
      if (o.path == v) seen = o.found_via == "glibc-hwcaps variant" && o.needed_by == base && o.name == "libh.so";
    EXPECT_TRUE(seen) << v;
  }
  for (const elf::LoadedObject& o : c.objects) EXPECT_NE(o.path, v4);
  const elf::LoadedObject* extra = find(c, "libextra.so");
  ASSERT_TRUE(extra);
  EXPECT_EQ(extra->needed_by, v2);
  EXPECT_EQ(extra->path, f.path("lib/glibc-hwcaps/x86-64-v2") + "/../../libextra.so");
  EXPECT_EQ(elf::glibc_hwcaps_subdir(v3), "x86-64-v3");
  EXPECT_EQ(elf::glibc_hwcaps_subdir(base), "");

  // This CPU: the loader's own pick, and the baseline kept as a variant.
  elf::ClosureOptions here;
  here.glibc_hwcaps = elf::host_glibc_hwcaps();
  elf::Closure mine = elf::resolve_closure(prog, here);
  EXPECT_EQ(found(mine), glibc_trace(prog));
  std::set<std::string> paths;
  for (const elf::LoadedObject& o : mine.objects) paths.insert(o.path);
  for (const std::string& p : {base, v2, v3}) EXPECT_TRUE(paths.count(p)) << p;
  EXPECT_TRUE(find(mine, "libextra.so"));
}

TEST(ClosureFixtures, HostHwcapsAreTheLoadersOwn) {
  // ld.so --help lists the glibc-hwcaps subdirectories it searches on this CPU.
  std::string help = test::run("/lib64/ld-linux-x86-64.so.2 --help");
  std::vector<std::string> searched;
  std::istringstream in(help);
  for (std::string line; std::getline(in, line);)
    if (line.find("(supported, searched)") != std::string::npos && line.find("x86-64-v") != std::string::npos)
      searched.push_back(line.substr(line.find_first_not_of(' '), line.find(" (") - line.find_first_not_of(' ')));
  EXPECT_EQ(elf::host_glibc_hwcaps(), searched) << help;
}

TEST(ClosureFixtures, MissingLibrariesNameTheNeederAndTheSearch) {
  ElfFixture f;
  f.library("gone/libgone.so");
  std::string prog = f.program("bin/prog", link_to(f, "gone", "gone") + " " + runpath(f.path("elsewhere")));
  fs::remove(f.path("gone/libgone.so"));
  elf::Closure c = elf::resolve_closure(prog, {});
  EXPECT_EQ(found(c), glibc_trace(prog));
  ASSERT_EQ(c.missing.size(), 1u);
  EXPECT_EQ(c.missing[0], "libgone.so (needed by " + prog + "; looked in " + f.path("elsewhere") +
                              ", /etc/ld.so.cache, /lib/x86_64-linux-gnu, /usr/lib/x86_64-linux-gnu, /lib, /usr/lib)");
}

TEST(ClosureFixtures, WrongClassAndWrongMachineAreSkipped) {
  // RUNPATH w32:wm:ok: a real 32-bit libw, then one claiming aarch64, then the good one.
  ElfFixture f;
  f.library32("w32/libw.so");
  test::make_wrong_machine(f.library("wm/libw.so"));
  std::string ok = f.library("ok/libw.so");
  std::string prog =
      f.program("bin/prog", link_to(f, "ok", "w") + " " + runpath(f.path("w32") + ":" + f.path("wm") + ":" + f.path("ok")));
  elf::Closure c = elf::resolve_closure(prog, {});
  EXPECT_EQ(found(c), glibc_trace(prog));
  ASSERT_TRUE(find(c, "libw.so"));
  EXPECT_EQ(find(c, "libw.so")->path, ok);
}

TEST(ClosureFixtures, SymlinkChainsAndOneObjectUnderTwoNames) {
  // lib/libfoo.so.1 -> libfoo.so.1.2 -> libfoo.so.1.2.3 (SONAME libfoo.so.1),
  // lib/libfoo.so -> libfoo.so.1; libuser needs it as "libfoo.so": the same
  // file, loaded once.
  ElfFixture f;
  f.compile("lib/libfoo.so.1.2.3", "int foo(void) { return 1; }\n", "-shared -fPIC -Wl,-soname,libfoo.so.1");
  f.symlink("libfoo.so.1.2.3", "lib/libfoo.so.1.2");
  f.symlink("libfoo.so.1.2", "lib/libfoo.so.1");
  f.symlink("libfoo.so.1", "lib/libfoo.so");
  f.library("stub/libfoo.so");  // SONAME libfoo.so, for libuser's DT_NEEDED
  f.library("lib/libuser.so", link_to(f, "stub", "foo") + " " + runpath("$ORIGIN"));
  std::string prog = f.program("bin/prog", link_to(f, "lib", "foo") + " " + link_to(f, "lib", "user") + " " +
                                               runpath(f.path("lib")));
  elf::Closure c = elf::resolve_closure(prog, {});
  EXPECT_EQ(found(c), glibc_trace(prog));
  ASSERT_TRUE(find(c, "libfoo.so.1"));
  EXPECT_EQ(find(c, "libfoo.so.1")->path, f.path("lib/libfoo.so.1"));
  EXPECT_FALSE(find(c, "libfoo.so"));
}

TEST(ClosureFixtures, AbsoluteSymlinksResolveInsideTheSysroot) {
  // root/opt/lib64 -> /opt/lib and root/opt/lib/libfoo.so.1 -> /opt/lib/libfoo.so.1.2
  // mean the root's /opt, not the host's.
  ElfFixture f;
  f.compile("root/opt/lib/libfoo.so.1.2", "int foo(void) { return 1; }\n", "-shared -fPIC -Wl,-soname,libfoo.so.1");
  f.symlink("/opt/lib/libfoo.so.1.2", "root/opt/lib/libfoo.so.1");
  f.symlink("/opt/lib", "root/opt/lib64");
  f.program("root/opt/bin/prog", link_to(f, "root/opt/lib", ":libfoo.so.1.2") + " " + runpath("/opt/lib64"));
  elf::ClosureOptions options;
  options.root = f.path("root");
  elf::Closure c = elf::resolve_closure("/opt/bin/prog", options);
  const elf::LoadedObject* foo = find(c, "libfoo.so.1");
  ASSERT_TRUE(foo) << (c.missing.empty() ? "" : c.missing[0]);
  EXPECT_EQ(foo->path, "/opt/lib64/libfoo.so.1");
  EXPECT_EQ(foo->found_via, "RUNPATH");
}

TEST(ClosureFixtures, TheBaseImageProvidesWhatTheSystemDirectoriesWould) {
  // RUNPATH app: libapp (and its libdep) come from the app even though the
  // base has libapp too; libbase and libc come from the base, whose own
  // dependencies are not walked; the interpreter too.
  ElfFixture f;
  f.library("app/libdep.so");
  std::string app = f.library("app/libapp.so", link_to(f, "app", "dep") + " " + runpath("$ORIGIN"));
  f.library("sys/libdeeper.so");
  f.library("sys/libbase.so", link_to(f, "sys", "deeper"));
  std::string prog = f.program("bin/prog", link_to(f, "app", "app") + " " + link_to(f, "sys", "base") + " " +
                                               runpath(f.path("app")));
  std::map<std::string, std::string> base = {{"libapp.so", "/usr/lib/libapp.so"},
                                             {"libbase.so", "/usr/lib/libbase.so"},
                                             {"libdeeper.so", "/usr/lib/libdeeper.so"},
                                             {"libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6"},
                                             {"/lib64/ld-linux-x86-64.so.2", "/lib64/ld-linux-x86-64.so.2"}};
  std::vector<std::string> asked;
  elf::ClosureOptions options;
  options.base_provides = [&](const std::string& name) -> std::optional<std::string> {
    asked.push_back(name);
    auto it = base.find(name);
    return it == base.end() ? std::nullopt : std::optional(it->second);
  };
  elf::Closure c = elf::resolve_closure(prog, options);
  EXPECT_TRUE(c.missing.empty()) << c.missing[0];
  std::map<std::string, std::pair<std::string, std::string>> got;  // name -> (path, via)
  for (const elf::LoadedObject& o : c.objects) got[o.name] = {o.path, o.found_via};
  EXPECT_EQ(got["libapp.so"], std::pair(app, std::string("RUNPATH")));
  EXPECT_EQ(got["libdep.so"].second, "RUNPATH");
  EXPECT_EQ(got["libbase.so"], std::pair(std::string("/usr/lib/libbase.so"), std::string("base image")));
  EXPECT_EQ(got["libc.so.6"], std::pair(std::string("/lib/x86_64-linux-gnu/libc.so.6"), std::string("base image")));
  EXPECT_EQ(got["/lib64/ld-linux-x86-64.so.2"].second, "base image");
  EXPECT_FALSE(got.count("libdeeper.so"));
  EXPECT_EQ(asked, (std::vector<std::string>{"/lib64/ld-linux-x86-64.so.2", "libbase.so", "libc.so.6"}));

  // Without the base, libbase is nowhere.
  elf::Closure alone = elf::resolve_closure(prog, {});
  EXPECT_EQ(found(alone)["libbase.so"], "not found");
}

TEST(ClosureFixtures, ASharedObjectAsTheRoot) {
  // A Python extension module with auditwheel's layout: pkg/_mod.so with
  // RUNPATH $ORIGIN/../pkg.libs; ld.so --list treats it as the root too.
  ElfFixture f;
  f.library("site/pkg.libs/libvend.so");
  std::string mod = f.library("site/pkg/_mod.so", link_to(f, "site/pkg.libs", "vend") + " -lm " + runpath("$ORIGIN/../pkg.libs"));
  elf::ClosureOptions options;
  options.interpreter = "/lib64/ld-linux-x86-64.so.2";  // python3's
  elf::Closure c = elf::resolve_library_closure(mod, options);
  ASSERT_FALSE(c.objects.empty());
  EXPECT_EQ(c.objects[0].found_via, "library");
  EXPECT_EQ(c.objects[0].path, mod);
  EXPECT_EQ(found(c), test::glibc_list(mod));
  ASSERT_TRUE(find(c, "libvend.so"));
  EXPECT_EQ(find(c, "libvend.so")->path, f.path("site/pkg") + "/../pkg.libs/libvend.so");
  EXPECT_THROW(elf::resolve_library_closure("/etc/passwd", options), std::exception);
}

TEST(ClosureFixtures, HostPythonExtensionModules) {
  int checked = 0;
  for (const auto& dir : fs::directory_iterator("/usr/lib"))
    if (dir.path().filename().string().starts_with("python3") && fs::is_directory(dir.path() / "lib-dynload"))
      for (const auto& e : fs::directory_iterator(dir.path() / "lib-dynload")) {
        if (e.path().extension() != ".so") continue;
        elf::ClosureOptions options;
        options.interpreter = "/lib64/ld-linux-x86-64.so.2";
        elf::Closure c = elf::resolve_library_closure(e.path().string(), options);
        EXPECT_EQ(found(c), test::glibc_list(e.path().string())) << e.path();
        ++checked;
      }
  if (checked == 0) GTEST_SKIP() << "no Python extension modules on this host";
}

TEST(ClosureFixtures, LdSoCacheWithGlibcHwcapsEntries) {
  // A sysroot whose cache the real ldconfig wrote (-r chroots: root only):
  // /opt/lib/libq.so.1 and its x86-64-v3 build, found only through the cache.
  if (::geteuid() != 0) GTEST_SKIP() << "ldconfig -r needs root";
  ElfFixture f;
  std::string lib = f.compile("root/opt/lib/libq.so.1", "int q(void) { return 1; }\n", "-shared -fPIC -Wl,-soname,libq.so.1");
  fs::create_directories(f.path("root/opt/lib/glibc-hwcaps/x86-64-v3"));
  fs::copy_file(lib, f.path("root/opt/lib/glibc-hwcaps/x86-64-v3/libq.so.1"));
  f.write("root/etc/ld.so.conf", "/opt/lib\n");
  f.program("root/opt/bin/prog", link_to(f, "root/opt/lib", ":libq.so.1"));
  int status = 0;
  std::string out = test::run("/sbin/ldconfig -X -r '" + f.path("root") + "' 2>&1", &status);
  ASSERT_EQ(status, 0) << out;

  elf::ClosureOptions options;
  options.root = f.path("root");
  elf::Closure c = elf::resolve_closure("/opt/bin/prog", options);
  const elf::LoadedObject* q = find(c, "libq.so.1", "ld.so.cache");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->path, "/opt/lib/libq.so.1");
  ASSERT_TRUE(find(c, "libq.so.1", "glibc-hwcaps variant"));
  EXPECT_EQ(find(c, "libq.so.1", "glibc-hwcaps variant")->path, "/opt/lib/glibc-hwcaps/x86-64-v3/libq.so.1");

  options.glibc_hwcaps = {"x86-64-v4", "x86-64-v3", "x86-64-v2"};
  elf::Closure v3 = elf::resolve_closure("/opt/bin/prog", options);
  ASSERT_TRUE(find(v3, "libq.so.1", "ld.so.cache"));
  EXPECT_EQ(find(v3, "libq.so.1", "ld.so.cache")->path, "/opt/lib/glibc-hwcaps/x86-64-v3/libq.so.1");
  ASSERT_TRUE(find(v3, "libq.so.1", "glibc-hwcaps variant"));
  EXPECT_EQ(find(v3, "libq.so.1", "glibc-hwcaps variant")->path, "/opt/lib/libq.so.1");
}
