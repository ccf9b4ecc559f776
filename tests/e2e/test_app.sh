#!/usr/bin/env bash
# distill app: images of host programs and exactly their run-time closure.
#   - curl, openssl and sqlite3 from this machine run from scratch images;
#   - a C++ program whose exception crosses a shared library found through
#     $ORIGIN (RPATH) runs (libgcc_s by rule), and getpwnam finds the user
#     through NSS (nsswitch.conf and /etc/passwd in the image);
#   - --explain says why each file is there;
#   - a missing library is an error naming the object that needs it and
#     where the search looked; a program for another machine is refused
#     naming both architectures; nothing is written in either case.
. "$(dirname "$0")/lib.sh"
need_root
need podman runc g++ curl openssl sqlite3 jq python3 musl-gcc

podman_setup
run_image() { # LAYOUT_DIR: prints what the image's program prints
  prun 0 --network none "oci:$1:app"
  echo "$RUN_OUT"
}
OUT=$PM/images
mkdir -p "$OUT"

step "host programs from scratch"
"$DISTILL" app -o "oci:$OUT/curl:app" -q -- "$(command -v curl)" --version >/dev/null || fail "distill app curl failed"
assert_contains "$(run_image "$OUT/curl")" "curl " "curl --version runs from its closure"
"$DISTILL" app -o "oci:$OUT/openssl:app" -q -- "$(command -v openssl)" version >/dev/null || fail "distill app openssl failed"
assert_contains "$(run_image "$OUT/openssl")" "OpenSSL" "openssl version runs"
"$DISTILL" app -o "oci:$OUT/sqlite:app" -q -- "$(command -v sqlite3)" :memory: "select 40+2" >/dev/null || fail "distill app sqlite3 failed"
assert_eq "42" "$(run_image "$OUT/sqlite")" "sqlite3 answers"

step "python3 from its closure, with the standard library included (its lib-dynload modules get their libraries)"
PYLIB=$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
"$DISTILL" app -o "oci:$OUT/python:app" -q --explain --include "$PYLIB" -- "$(readlink -f "$PYTHON")" \
  -c 'import ssl, sqlite3, ctypes; print("imports ok", ssl.OPENSSL_VERSION.split()[0], sqlite3.sqlite_version)' \
  >/dev/null 2>"$T/explain-py" || fail "distill app python3 failed" "$(cat "$T/explain-py")"
assert_contains "$(run_image "$OUT/python")" "imports ok OpenSSL" "python3 imports ssl, sqlite3 and ctypes from a closure image"
assert_matches "$(cat "$T/explain-py")" "libssl\.so\.3	DT_NEEDED libssl.so.3 of [^ ]*_ssl\.cpython" "libssl comes in for the _ssl module"
assert_matches "$(cat "$T/explain-py")" "libffi\.so\.[0-9.]*	DT_NEEDED libffi" "libffi comes in for _ctypes"

step "a C++ program: exceptions across a shared library (\$ORIGIN), NSS"
mkdir -p "$T/cxx"
cat >"$T/cxx/thrower.cc" <<'CC'
#include <stdexcept>
void boom() { throw std::runtime_error("across a shared library"); }
CC
cat >"$T/cxx/main.cc" <<'CC'
#include <cstdio>
#include <pwd.h>
#include <stdexcept>
void boom();
int main() {
  try { boom(); } catch (const std::exception& e) { std::printf("caught: %s\n", e.what()); }
  struct passwd* pw = getpwnam("nonroot");
  std::printf("nonroot uid: %d\n", pw ? (int)pw->pw_uid : -1);
}
CC
g++ -shared -fPIC -o "$T/cxx/libthrower.so" "$T/cxx/thrower.cc"
g++ -o "$T/cxx/prog" "$T/cxx/main.cc" -L"$T/cxx" -lthrower -Wl,-rpath,'$ORIGIN'
"$DISTILL" app -o "oci:$OUT/cxx:app" -q --explain -- "$T/cxx/prog" >/dev/null 2>"$T/explain" || fail "distill app prog failed" "$(cat "$T/explain")"
cp "$T/explain" "$T/explain-cxx"
out=$(run_image "$OUT/cxx")
assert_contains "$out" "caught: across a shared library" "the exception crosses libthrower.so"
assert_contains "$out" "nonroot uid: 65532" "getpwnam through NSS"
assert_contains "$(cat "$T/explain")" "libthrower.so" "--explain lists the library"
assert_matches "$(cat "$T/explain")" "found via (RPATH|RUNPATH)" "--explain says how it was found"
assert_contains "$(cat "$T/explain")" "libgcc_s.so.1" "libgcc_s is in the image"
# curl does not link libgcc_s: the rule adds it (glibc dlopens it to unwind).
"$DISTILL" app -o "oci:$T/curl2:app" -q --explain -- "$(command -v curl)" >/dev/null 2>"$T/explain-curl" || fail "distill app curl --explain failed"
assert_contains "$(cat "$T/explain-curl")" "rule: glibc dlopens libgcc_s.so.1" "--explain gives the rule for libgcc_s"

step "the closure matches the real loader"
closure=$("$DISTILL" inspect "oci:$OUT/cxx:app" --format json | jq -r '.files[].path' | sort)
while read -r lib; do
  [ -n "$lib" ] || continue
  assert_contains "$closure" "$lib" "the image holds $lib, which the loader loads"
done < <(LD_TRACE_LOADED_OBJECTS=1 "$T/cxx/prog" | awk '/=>/ {print $3}' | xargs -n1 realpath)

step "a program that uses iconv gets glibc's gconv modules, one that does not gets none"
cat >"$T/iconv.c" <<'C'
#include <iconv.h>
#include <stdio.h>
#include <string.h>
int main(void) {
  iconv_t cd = iconv_open("UTF-8", "ISO-8859-15");  /* a converter glibc loads from gconv/ */
  if (cd == (iconv_t)-1) { perror("iconv_open"); return 1; }
  char in[] = "\xa4uro", out[16] = {0}, *ip = in, *op = out;
  size_t il = strlen(in), ol = sizeof out - 1;
  if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1) { perror("iconv"); return 1; }
  printf("converted: %s\n", out);
  return 0;
}
C
gcc -O2 -o "$T/iconv-prog" "$T/iconv.c"
"$DISTILL" app -o "oci:$OUT/iconv:app" -q --explain -- "$T/iconv-prog" >/dev/null 2>"$T/explain-iconv" ||
  fail "distill app of an iconv program failed" "$(cat "$T/explain-iconv")"
assert_eq "converted: €uro" "$(run_image "$OUT/iconv")" "ISO-8859-15 converts in the image"
assert_matches "$(cat "$T/explain-iconv")" "gconv	rule: [^ ]*iconv-prog imports iconv_open" "--explain gives the gconv rule"
assert_not_contains "$(cat "$T/explain-cxx")" "gconv" "a program without iconv gets no gconv modules"

step "a musl program and its shared library (musl's loader rules)"
if command -v musl-gcc >/dev/null; then
  mkdir -p "$T/musl"
  echo 'int twice(int x) { return 2 * x; }' >"$T/musl/lib.c"
  printf '#include <stdio.h>\nint twice(int);\nint main(void) { printf("musl %%d\\n", twice(21)); return 0; }\n' >"$T/musl/main.c"
  musl-gcc -shared -fPIC -o "$T/musl/libtwice.so" "$T/musl/lib.c"
  musl-gcc -o "$T/musl/prog" "$T/musl/main.c" -L"$T/musl" -ltwice -Wl,-rpath,'$ORIGIN'
  "$DISTILL" app -o "oci:$OUT/musl:app" -q --explain -- "$T/musl/prog" >/dev/null 2>"$T/explain-musl" ||
    fail "distill app of a musl program failed" "$(cat "$T/explain-musl")"
  assert_eq "musl 42" "$(run_image "$OUT/musl")" "the musl program runs with its library"
  assert_contains "$(cat "$T/explain-musl")" "ld-musl-x86_64.so.1" "musl's loader is in the image"
  assert_not_contains "$(cat "$T/explain-musl")" "libgcc_s" "no glibc rules for a musl program"
else
  fail "musl-gcc is missing" "install musl-tools (scripts/install-deps.sh)"
fi

step "a missing library"
cp "$T/cxx/prog" "$T/cxx/prog-alone"
mkdir -p "$T/alone" && mv "$T/cxx/prog-alone" "$T/alone/prog"
run_expect 1 "$DISTILL" app -o "oci:$T/missing:app" -- "$T/alone/prog"
assert_contains "$RUN_ERR" "libthrower.so (needed by $T/alone/prog; looked in" "the message names the library, its user and the search"
assert_absent "$T/missing" "nothing is written"

step "a program for another machine"
cp "$(command -v curl)" "$T/arm-curl"
# e_machine (offset 18, little-endian) := 183, EM_AARCH64.
printf '\xb7\x00' | dd of="$T/arm-curl" bs=1 seek=18 conv=notrunc status=none
run_expect 1 "$DISTILL" app -o "oci:$T/arm:app" -- "$T/arm-curl"
assert_contains "$RUN_ERR" "aarch64-linux-gnu" "the program's architecture is named"
assert_contains "$RUN_ERR" "x86_64-linux-gnu" "this machine's architecture is named"
assert_absent "$T/arm" "nothing is written"
echo "PASS test_app"
