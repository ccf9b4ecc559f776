// musl's rules (ldso/dynlink.c) on musl-gcc programs built here, judged by
// musl's loader itself in ldd mode (ld-musl-x86_64.so.1 --list).
#include <gtest/gtest.h>

#include "elf/closure.h"
#include "fixtures/elf_fixture.h"

using namespace distill;
using test::ElfFixture;
using test::find;
using test::found;
using test::musl_list;

namespace {

const char* kLoader = "/lib/ld-musl-x86_64.so.1";

bool have_musl() { return test::have("musl-gcc") && fs::exists(kLoader); }

std::string link_to(const ElfFixture& f, const std::string& dir, const std::string& lib) {
  return "-L'" + f.path(dir) + "' -l" + lib;
}

std::string runpath(const std::string& dirs) { return "-Wl,--enable-new-dtags,-rpath,'" + dirs + "'"; }

}  // namespace

#define REQUIRE_MUSL() \
  if (!have_musl()) GTEST_SKIP() << "needs musl-tools (musl-gcc and " << kLoader << ")"

TEST(ClosureMusl, PathsAreInheritedAndLibcIsTheLoader) {
  // prog (RUNPATH $ORIGIN/../lib:$ORIGIN/../deps) -> liba -> libb in deps:
  // musl, unlike glibc, searches every RUNPATH up the chain.
  REQUIRE_MUSL();
  ElfFixture f;
  f.library("deps/libb.so", "", "musl-gcc");
  f.library("lib/liba.so", link_to(f, "deps", "b"), "musl-gcc");
  std::string prog = f.program("bin/prog", link_to(f, "lib", "a") + " " + runpath("$ORIGIN/../lib:$ORIGIN/../deps"),
                               "musl-gcc");
  elf::Closure c = elf::resolve_closure(prog, {});
  EXPECT_TRUE(c.musl);
  EXPECT_EQ(c.interpreter, kLoader);
  EXPECT_TRUE(c.missing.empty()) << c.missing[0];
  EXPECT_EQ(found(c), musl_list(prog));
  ASSERT_TRUE(find(c, "libb.so"));
  EXPECT_EQ(find(c, "libb.so")->path, f.path("bin") + "/../deps/libb.so");
  EXPECT_EQ(find(c, "libb.so")->found_via, "RUNPATH");
  const elf::LoadedObject* libc = find(c, "libc.so");
  ASSERT_TRUE(libc);
  EXPECT_EQ(libc->path, kLoader);
  EXPECT_EQ(libc->found_via, "interpreter");
}

TEST(ClosureMusl, LdLibraryPathComesBeforeTheObjectsPaths) {
  REQUIRE_MUSL();
  ElfFixture f;
  f.library("lib/liba.so", "", "musl-gcc");
  f.library("env/liba.so", "", "musl-gcc");
  std::string prog = f.program("bin/prog", link_to(f, "lib", "a") + " " + runpath(f.path("lib")), "musl-gcc");
  elf::ClosureOptions options;
  options.library_path = {f.path("env")};
  elf::Closure c = elf::resolve_closure(prog, options);
  EXPECT_EQ(found(c), musl_list(prog, "LD_LIBRARY_PATH='" + f.path("env") + "'"));
  ASSERT_TRUE(find(c, "liba.so"));
  EXPECT_EQ(find(c, "liba.so")->found_via, "LD_LIBRARY_PATH");
}

TEST(ClosureMusl, AnUnknownDollarTokenVoidsTheObjectsPaths) {
  // RUNPATH "$LIB/x:lib": musl knows only $ORIGIN, and drops the whole list.
  REQUIRE_MUSL();
  ElfFixture f;
  f.library("lib/liba.so", "", "musl-gcc");
  std::string prog = f.program("bin/prog", link_to(f, "lib", "a") + " " + runpath("$LIB/x:" + f.path("lib")), "musl-gcc");
  elf::Closure c = elf::resolve_closure(prog, {});
  std::map<std::string, std::string> loader = musl_list(prog);
  EXPECT_EQ(loader["liba.so"], "not found");
  EXPECT_EQ(found(c), loader);
}

TEST(ClosureMusl, TheFirstFileThatOpensEndsTheSearch) {
  // RUNPATH w32:ok with a 32-bit libw in w32: glibc would pass it over,
  // musl fails on it.
  REQUIRE_MUSL();
  ElfFixture f;
  f.library32("w32/libw.so");
  f.library("ok/libw.so", "", "musl-gcc");
  std::string prog =
      f.program("bin/prog", link_to(f, "ok", "w") + " " + runpath(f.path("w32") + ":" + f.path("ok")), "musl-gcc");
  elf::Closure c = elf::resolve_closure(prog, {});
  std::map<std::string, std::string> loader = musl_list(prog);
  EXPECT_EQ(loader["libw.so"], "not found");
  EXPECT_EQ(found(c), loader);
  ASSERT_EQ(c.missing.size(), 1u);
  EXPECT_NE(c.missing[0].find("found " + f.path("w32/libw.so")), std::string::npos) << c.missing[0];
}

TEST(ClosureMusl, ThePathFileReplacesTheBuiltInDirectories) {
  // A sysroot with musl's loader at /lib: without /etc/ld-musl-x86_64.path
  // the built-in /lib:/usr/local/lib:/usr/lib; with it, its directories only.
  REQUIRE_MUSL();
  ElfFixture f;
  fs::create_directories(f.path("root/lib"));
  fs::copy_file(fs::canonical(kLoader), f.path("root/lib/ld-musl-x86_64.so.1"));
  f.library("root/usr/lib/libd.so", "", "musl-gcc");
  f.library("root/opt/lib/libe.so", "", "musl-gcc");
  f.program("root/bin/prog", link_to(f, "root/usr/lib", "d") + " " + link_to(f, "root/opt/lib", "e"), "musl-gcc");
  elf::ClosureOptions options;
  options.root = f.path("root");

  elf::Closure builtin = elf::resolve_closure("/bin/prog", options);
  ASSERT_TRUE(find(builtin, "libd.so"));
  EXPECT_EQ(find(builtin, "libd.so")->path, "/usr/lib/libd.so");
  EXPECT_EQ(find(builtin, "libd.so")->found_via, "default path");
  EXPECT_EQ(found(builtin)["libe.so"], "not found");
  ASSERT_TRUE(find(builtin, "libc.so"));
  EXPECT_EQ(find(builtin, "libc.so")->path, kLoader);

  f.write("root/etc/ld-musl-x86_64.path", "/opt/lib\n");
  elf::Closure from_file = elf::resolve_closure("/bin/prog", options);
  ASSERT_TRUE(find(from_file, "libe.so"));
  EXPECT_EQ(find(from_file, "libe.so")->path, "/opt/lib/libe.so");
  EXPECT_EQ(find(from_file, "libe.so")->found_via, "musl path file");
  EXPECT_EQ(found(from_file)["libd.so"], "not found");
}

TEST(ClosureMusl, ASharedObjectAsTheRoot) {
  // A musl Node addon: no interpreter given, its DT_NEEDED libc.so says musl.
  REQUIRE_MUSL();
  ElfFixture f;
  f.library("addon/build/libhelper.so", "", "musl-gcc");
  std::string addon =
      f.library("addon/build/addon.node", link_to(f, "addon/build", "helper") + " " + runpath("$ORIGIN"), "musl-gcc");
  elf::Closure c = elf::resolve_library_closure(addon, {});
  EXPECT_TRUE(c.musl);
  EXPECT_EQ(c.interpreter, kLoader);
  EXPECT_EQ(c.objects[0].found_via, "library");
  EXPECT_EQ(found(c), musl_list(addon));
  ASSERT_TRUE(find(c, "libhelper.so"));
}

TEST(ClosureMusl, TheBaseImageHasTheLoader) {
  REQUIRE_MUSL();
  ElfFixture f;
  std::string prog = f.program("bin/prog", "", "musl-gcc");
  elf::ClosureOptions options;
  options.base_provides = [](const std::string& name) -> std::optional<std::string> {
    return name == kLoader ? std::optional<std::string>("/lib/ld-musl-x86_64.so.1") : std::nullopt;
  };
  elf::Closure c = elf::resolve_closure(prog, options);
  ASSERT_TRUE(find(c, kLoader));
  EXPECT_EQ(find(c, kLoader)->found_via, "base image");
  ASSERT_TRUE(find(c, "libc.so"));
  EXPECT_EQ(find(c, "libc.so")->found_via, "base image");
}
