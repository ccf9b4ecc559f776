#!/usr/bin/env bash
# Sample-app benchmark (issue 6): image size of each sample app made three
# ways, and the time distill takes to rebuild it after one source file
# changed, from the local signed Debian mirror of tests/mirror, in one run.
#
# The apps (made here, with the recipes of tests/e2e/test_app_interpreted.sh):
#   python  a web app (http.server) with a virtualenv made by `python3 -m
#           venv` (with pip and setuptools, as users have it) and a package
#           installed into it by pip, whose native extension links libcurl
#   node    a Node app with node_modules and an N-API addon linking libcurl
#   java    a jar (javac --release 17) and two dependency jars
#   native  a C++ program with its own shared library, linking libcurl
#
# Size, per app (compressed bytes of the image's layers, gzip -6):
#   distill      `distill app -o oci:... -- APP` (base: the matching preset;
#                native: scratch)
#   preset-copy  the app directory copied as it is (venv, node_modules, jars)
#                onto the matching preset (python3, nodejs, java; native: cc)
#                with a spec `from: preset:NAME`, `files:`, and the Debian
#                package of the library the app needs that the preset lacks
#                (libcurl4t64): the Dockerfile `COPY` onto distroless
#   minbase      `mmdebstrap --variant=minbase trixie` with the runtime
#                (--include python3 / nodejs / openjdk-21-jre-headless /
#                libcurl4t64 libstdc++6, plus libcurl4t64 where needed) as
#                one layer and the app directory as a second: the classic
#                fat base; both tars through gzip -6 -n into an OCI layout
# Every image is run once with podman and must print the app's answer.
#
# Rebuild, per app: one source file changes (app.py, server.js, the app's
# Main.java with its jar rebuilt, main.cc with the program recompiled; the
# compiling is not timed), then `distill app` to the same output with a warm
# cache, best of --runs; against the floor: `gzip -6` and `sha256sum` of the
# one changed file the build reads (app.py, server.js, app.jar, the program).
#
# There is no numeric goal; --check exits 1 unless distill's image is the
# smallest of the three for every app. Exits 0 otherwise whatever the
# numbers; 1 when a sanity check fails (an image does not run, a rebuild
# changed more than the top layer); 2 on usage errors, missing tools or a
# failing command. See bench/README.md.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

usage() {
  cat <<EOF
Usage: $0 [options]

  --runs N        timed rebuilds per app (and floor runs); the best counts (default 3)
  --distill PATH  the distill binary (default: $repo/build/distill)
  --workdir DIR   where apps, images, caches and tarballs go (default: a new
                  temp dir under \${TMPDIR:-/tmp}, removed at exit)
  --no-fetch      do not run tests/mirror/fetch-debs.sh (use its cache as it is)
  --no-run        do not run the images with podman (no sanity check that they work)
  --no-full-index skip the rebuilds from a mirror with Debian's full-size trixie index
  --keep          keep the work directory (apps, specs, images, logs) and say where
  --check         exit 1 unless distill's image is the smallest for every app
  -h, --help      this text
EOF
}

runs=3
distill="$repo/build/distill"
workdir=""
fetch=1
run_images=1
use_full_index=1
keep=0
check=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=${2:?--runs needs a number}; shift 2 ;;
    --runs=*) runs=${1#*=}; shift ;;
    --distill) distill=${2:?--distill needs a path}; shift 2 ;;
    --distill=*) distill=${1#*=}; shift ;;
    --workdir) workdir=${2:?--workdir needs a directory}; shift 2 ;;
    --workdir=*) workdir=${1#*=}; shift ;;
    --no-fetch) fetch=0; shift ;;
    --no-run) run_images=0; shift ;;
    --no-full-index) use_full_index=0; shift ;;
    --keep) keep=1; shift ;;
    --check) check=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "apps bench: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
die() { echo "apps bench: $*" >&2; exit 2; }
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive number, not '$runs'"
[ "${BASH_VERSINFO[0]}" -ge 5 ] || die "needs bash 5 or newer (for \$EPOCHREALTIME)"

# shellcheck source=../tests/mirror/lib.sh disable=SC1091
. "$repo/tests/mirror/lib.sh"   # DISTILL_TEST_CACHE_DIR

# ---------------------------------------------------------------- prerequisites
# The host's Debian Python (not a pyenv or other one on PATH): its venv and
# headers are what a user on this machine gets.
PY=/usr/bin/python3
missing=()
for t in mmdebstrap:mmdebstrap podman:podman jq:jq gzip:gzip xz:xz-utils sha256sum:coreutils tar:tar gcc:gcc g++:g++ \
  node:nodejs javac:openjdk-17-jdk-headless jar:openjdk-17-jdk-headless apt-ftparchive:apt-utils gpg:gnupg \
  findmnt:util-linux; do
  command -v "${t%%:*}" >/dev/null 2>&1 || missing+=("${t#*:}")
done
[ -x "$PY" ] || missing+=(python3)
[ ${#missing[@]} = 0 ] || die "missing tools (this script installs nothing); install the Debian packages:
  apt-get install $(printf '%s\n' "${missing[@]}" | sort -u | paste -sd' ')"
"$PY" -c 'import ensurepip, venv' 2>/dev/null || die "$PY cannot make a venv with pip: apt-get install python3-venv"
PYINC=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
[ -f "$PYINC/Python.h" ] || die "Python headers missing ($PYINC/Python.h): apt-get install python3-dev"
[ -f /usr/include/node/node_api.h ] || die "node_api.h missing: install nodejs (Debian's ships it; scripts/install-deps.sh)"
ldconfig -p | grep -q 'libcurl\.so\.4 ' || die "the host's libcurl is missing: apt-get install libcurl4"
[ -x "$distill" ] || die "no distill binary at $distill; build it first:
  cd $repo && cmake -S . -B build -G Ninja && ninja -C build"
[ "$(id -u)" = 0 ] || echo "note: not root: mmdebstrap runs in unshare mode and podman rootless" >&2

# --------------------------------------------------------------------- workdir
if [ -n "$workdir" ]; then
  mkdir -p "$workdir"
  work=$(mktemp -d "$(cd "$workdir" && pwd)/distill-apps-bench.XXXXXX")
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/distill-apps-bench.XXXXXX")
fi
# podman names oci: images after their path, which must be lower-case.
lc=$(dirname "$work")/$(basename "${work,,}")
if [ "$work" != "$lc" ]; then
  [ ! -e "$lc" ] || die "cannot make a lower-case work directory: $lc exists"
  mv -T "$work" "$lc"
  work=$lc
fi
if [ $run_images = 1 ] && [ "$work" != "${work,,}" ]; then
  rm -rf "$work"
  die "podman needs a lower-case path for oci: images: give a lower-case --workdir (or --no-run)"
fi
# apt (inside mmdebstrap) reads the keyring as the _apt user.
chmod 0755 "$work"
# podman wants a short, lower-case store path.
pm=$(mktemp -d /tmp/ab-pm.XXXXXX)
if [ "$pm" != "${pm,,}" ]; then mv -T "$pm" "${pm,,}"; pm=${pm,,}; fi
PODMAN=(podman --root "$pm/root" --runroot "$pm/run" --tmpdir "$pm/tmp" --events-backend file)
served_port=""
full_port=""
cleanup() {
  set +e
  if [ -d "$work/gnupg" ]; then GNUPGHOME=$work/gnupg gpgconf --kill gpg-agent >/dev/null 2>&1; fi
  if [ -n "$full_port" ]; then "$repo/tests/mirror/stop.sh" "$full_port" >/dev/null 2>&1 || true; fi
  "${PODMAN[@]}" rm -a -f >/dev/null 2>&1
  "${PODMAN[@]}" rmi -a -f >/dev/null 2>&1
  local m
  findmnt -rn -o TARGET 2>/dev/null | grep -F "$pm/" | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$pm"
  if [ -n "$served_port" ]; then "$repo/tests/mirror/stop.sh" "$served_port" >/dev/null 2>&1 || true; fi
  if [ $keep = 1 ]; then echo "work directory kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cp "$distill" "$work/distill"   # the same binary all along, whatever happens to the build tree
distill=$work/distill

ms_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; }
fmt_mb() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
# best / median of numbers, one a line on stdin
best() { sort -g | head -n1; }
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
# run_logged LOG CMD...: run, keep the output in LOG, show its tail and stop on failure.
run_logged() {
  local log=$1
  shift
  "$@" >"$log" 2>&1 || { tail -n 30 "$log" >&2; die "failed: $*"; }
}

# ---------------------------------------------------------------- the mirror
echo "Preparing the local signed mirror (tests/mirror) ..."
if [ $fetch = 1 ]; then
  "$repo/tests/mirror/fetch-debs.sh" >"$work/fetch.log" 2>&1 ||
    "$repo/tests/mirror/fetch-debs.sh" --offline >>"$work/fetch.log" 2>&1 ||
    { tail -n 20 "$work/fetch.log" >&2; die "tests/mirror/fetch-debs.sh failed"; }
fi
run_logged "$work/make-mirror.log" "$repo/tests/mirror/make-mirror.sh" "$work/mirror"
served_port=$work/mirror.port
mirror_url=$("$repo/tests/mirror/serve.sh" "$work/mirror" "$served_port" 2>/dev/null) || die "tests/mirror/serve.sh failed"
keyring=$work/mirror/keyring.gpg
echo "  mirror: $mirror_url"
M=(--mirror "$mirror_url" --keyring "$keyring")
SOURCE="deb [signed-by=$keyring] $mirror_url trixie main"
mm_mode=root
[ "$(id -u)" = 0 ] || mm_mode=unshare
CACHE=$work/cache
echo "Machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr)"
rev=$(git -C "$repo" log -1 --format=%h 2>/dev/null || echo '?')
dirty=$(git -C "$repo" status --porcelain --untracked-files=no -- src 2>/dev/null | wc -l)
echo "distill: $("$distill" --version 2>&1 | head -n1), checkout $rev$([ "$dirty" = 0 ] || echo " + $dirty changed files under src/ (the binary may hold them)")"
echo "Load average: $(cut -d' ' -f1-3 /proc/loadavg) (2-core machines shared with other work give noisy times)"
echo

# ---------------------------------------------------------------- the apps
APPS=(python node java native)
declare -A APP_DIR APP_PROG APP_PRESET APP_EXTRA_PKGS APP_MINBASE APP_ENTRY APP_ENV APP_EXPECT APP_CHANGED
A=$work/apps
mkdir -p "$A"
echo "Making the sample apps ..."

# python: app.py + handlers.py, a venv with pip, and the package "greet"
# installed into it by pip (setup.py, an abi3 extension module linking the
# host's libcurl, which the python3 preset lacks).
P=$A/python/web
mkdir -p "$P" "$A/python/greet-src/greet"
run_logged "$work/venv.log" "$PY" -m venv "$P/.venv"
cat >"$A/python/greet-src/setup.py" <<'PY'
from setuptools import setup, Extension
setup(name="greet", version="1.0", packages=["greet"],
      ext_modules=[Extension("greet._native", ["native.c"], libraries=[":libcurl.so.4"], py_limited_api=True,
                             define_macros=[("Py_LIMITED_API", "0x030b0000")])])
PY
cat >"$A/python/greet-src/native.c" <<'C'
#include <Python.h>
const char* curl_version(void);  /* from libcurl (no -dev package needed) */
static PyObject* version(PyObject* self, PyObject* args) { return PyUnicode_FromString(curl_version()); }
static PyMethodDef methods[] = {{"curl_version", version, METH_NOARGS, ""}, {0}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", 0, -1, methods};
PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
C
cat >"$A/python/greet-src/greet/__init__.py" <<'PY'
from greet._native import curl_version
def hello(name): return "hello " + name + " (" + curl_version().split()[0] + ")"
PY
# pip's legacy "setup.py install" (no wheel package in a fresh venv): offline, no build isolation.
run_logged "$work/pip.log" "$P/.venv/bin/pip" install --no-index --no-build-isolation --disable-pip-version-check \
  "$A/python/greet-src"
ls "$P"/.venv/lib/python3*/site-packages/greet/_native.abi3.so >/dev/null 2>&1 ||
  { cat "$work/pip.log" >&2; die "pip did not build greet/_native.abi3.so"; }
cat >"$P/app.py" <<'PY'
import http.server, sys, threading, urllib.request
import greet, handlers
server = http.server.HTTPServer(("127.0.0.1", 0), handlers.Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
print(urllib.request.urlopen("http://127.0.0.1:%d/" % server.server_port).read().decode())
print("python", sys.version.split()[0])
PY
cat >"$P/handlers.py" <<'PY'
import http.server, greet
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = greet.hello("web").encode()
        self.send_response(200); self.end_headers(); self.wfile.write(body)
    def log_message(self, *args): pass
PY
VENV_SITE=$(cd "$P" && echo .venv/lib/python3*/site-packages)
APP_DIR[python]=$P
APP_PROG[python]=$P/app.py
APP_PRESET[python]=python3
APP_EXTRA_PKGS[python]=libcurl4t64
APP_MINBASE[python]=python3,libcurl4t64
# The venv is the host Python's (3.11): on the image's 3.13 its packages are
# found through PYTHONPATH, as users of distroless's python3 image do it.
APP_ENTRY[python]='["python3", "/app/app.py"]'
APP_ENV[python]="{\"PYTHONPATH\": \"/app/$VENV_SITE\"}"
APP_EXPECT[python]='hello web (libcurl/'
APP_CHANGED[python]=$P/app.py

# node: server.js, lib/hello.js, node_modules with a plain module and an
# N-API addon linking libcurl.
N=$A/node/api
mkdir -p "$N/node_modules/greet" "$N/node_modules/leftpad" "$N/lib"
cat >"$A/node/addon.c" <<'C'
#include <node_api.h>
const char* curl_version(void);
static napi_value Version(napi_env env, napi_callback_info info) {
  napi_value s;
  napi_create_string_utf8(env, curl_version(), NAPI_AUTO_LENGTH, &s);
  return s;
}
NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "curlVersion", NAPI_AUTO_LENGTH, Version, NULL, &fn);
  napi_set_named_property(env, exports, "curlVersion", fn);
  return exports;
}
C
run_logged "$work/addon.log" gcc -shared -fPIC -O2 -I/usr/include/node -o "$N/node_modules/greet/greet.node" \
  "$A/node/addon.c" -l:libcurl.so.4
echo 'module.exports = require("./greet.node");' >"$N/node_modules/greet/index.js"
echo '{"name": "greet", "version": "1.0.0", "main": "index.js"}' >"$N/node_modules/greet/package.json"
echo 'module.exports = (s, n) => " ".repeat(Math.max(0, n - s.length)) + s;' >"$N/node_modules/leftpad/index.js"
echo '{"name": "leftpad", "version": "1.0.0", "main": "index.js"}' >"$N/node_modules/leftpad/package.json"
echo '{"name": "api", "version": "1.0.0", "main": "server.js"}' >"$N/package.json"
echo 'module.exports = () => "hello node";' >"$N/lib/hello.js"
cat >"$N/server.js" <<'JS'
const greet = require("greet"), leftpad = require("leftpad"), hello = require("./lib/hello");
console.log(leftpad(hello(), 12) + " " + greet.curlVersion().split(" ")[0] + " " + process.version);
JS
APP_DIR[node]=$N
APP_PROG[node]=$N/server.js
APP_PRESET[node]=nodejs
APP_EXTRA_PKGS[node]=libcurl4t64
APP_MINBASE[node]=nodejs,libcurl4t64
APP_ENTRY[node]='["/usr/bin/node", "/app/server.js"]'
APP_ENV[node]='{}'
APP_EXPECT[node]='hello node libcurl/'
APP_CHANGED[node]=$N/server.js

# java: app.jar (Main-Class app.Main) and lib/dep-a.jar, lib/dep-b.jar.
J=$A/java
mkdir -p "$J/src/dep/a" "$J/src/dep/b" "$J/src/app" "$J/out/a" "$J/out/b" "$J/out/app" "$J/dist/lib"
echo 'package dep.a; public class A { public static String a() { return "a"; } }' >"$J/src/dep/a/A.java"
echo 'package dep.b; public class B { public static String b() { return "b"; } }' >"$J/src/dep/b/B.java"
java_main() { # VERSION: write Main.java
  cat >"$J/src/app/Main.java" <<JAVA
package app;
public class Main {
  public static void main(String[] args) {
    System.out.println("hello java " + dep.a.A.a() + dep.b.B.b() + " $1 " + System.getProperty("java.specification.version"));
  }
}
JAVA
}
java_build_app() { # compile Main.java and pack app.jar (not timed)
  javac --release 17 -cp "$J/out/a:$J/out/b" -d "$J/out/app" "$J/src/app/Main.java" &&
    jar --create --file "$J/dist/app.jar" --main-class app.Main -C "$J/out/app" .
}
run_logged "$work/javac.log" javac --release 17 -d "$J/out/a" "$J/src/dep/a/A.java"
run_logged "$work/javac.log" javac --release 17 -d "$J/out/b" "$J/src/dep/b/B.java"
run_logged "$work/jar.log" jar --create --file "$J/dist/lib/dep-a.jar" -C "$J/out/a" .
run_logged "$work/jar.log" jar --create --file "$J/dist/lib/dep-b.jar" -C "$J/out/b" .
java_main v0
run_logged "$work/javac.log" java_build_app
APP_DIR[java]=$J/dist
APP_PROG[java]=$J/dist/app.jar
APP_PRESET[java]=java
APP_EXTRA_PKGS[java]=
APP_MINBASE[java]=openjdk-21-jre-headless
APP_ENTRY[java]='["/usr/bin/java", "-cp", "/app/app.jar:/app/lib/dep-a.jar:/app/lib/dep-b.jar", "app.Main"]'
APP_ENV[java]='{}'
APP_EXPECT[java]='hello java ab v0'
APP_CHANGED[java]=$J/dist/app.jar

# native: bin/greeter (C++) with lib/libgreet.so (RUNPATH $ORIGIN/../lib),
# both linking the host's libstdc++; libgreet links libcurl.
C=$A/native
mkdir -p "$C/src" "$C/dist/bin" "$C/dist/lib"
cat >"$C/src/greet.h" <<'CC'
#include <string>
std::string greet(const std::string& who);
CC
cat >"$C/src/greet.cc" <<'CC'
#include "greet.h"
extern "C" const char* curl_version(void);
std::string greet(const std::string& who) {
  std::string v = curl_version();
  return "hello " + who + " " + v.substr(0, v.find(' '));
}
CC
native_main() { # VERSION: write main.cc
  cat >"$C/src/main.cc" <<CC
#include <iostream>
#include "greet.h"
int main() { std::cout << greet("native") << " $1" << std::endl; }
CC
}
# shellcheck disable=SC2016 # $ORIGIN is for the loader, not the shell
native_build_main() { # compile the program (not timed)
  g++ -O2 -o "$C/dist/bin/greeter" "$C/src/main.cc" -L"$C/dist/lib" -lgreet -Wl,-rpath,'$ORIGIN/../lib'
}
run_logged "$work/gxx.log" g++ -O2 -shared -fPIC -o "$C/dist/lib/libgreet.so" "$C/src/greet.cc" -l:libcurl.so.4
native_main v0
run_logged "$work/gxx.log" native_build_main
APP_DIR[native]=$C/dist
APP_PROG[native]=$C/dist/bin/greeter
APP_PRESET[native]=cc
APP_EXTRA_PKGS[native]=libcurl4t64
APP_MINBASE[native]=libcurl4t64,libstdc++6
APP_ENTRY[native]='["/app/bin/greeter"]'
APP_ENV[native]='{}'
APP_EXPECT[native]='hello native libcurl/'
APP_CHANGED[native]=$C/dist/bin/greeter

for app in "${APPS[@]}"; do
  printf '  %-7s %-28s %6s files, %s\n' "$app" "${APP_DIR[$app]#"$A"/}" \
    "$(find "${APP_DIR[$app]}" -type f | wc -l)" "$(du -sh --apparent-size "${APP_DIR[$app]}" | cut -f1)B"
done

# ---------------------------------------------------------------- images
IMG=$work/img
mkdir -p "$IMG" "$work/specs" "$work/json"
declare -A SIZE NLAYERS

# layout_size DIR: the sum of the layer blob sizes of the layout's one image.
layout_size() {
  local dir=$1 manifest
  manifest=$(jq -r '.manifests[0].digest' "$dir/index.json")
  jq '[.layers[].size] | add' "$dir/blobs/sha256/${manifest#sha256:}"
}
layout_layers() {
  local dir=$1 manifest
  manifest=$(jq -r '.manifests[0].digest' "$dir/index.json")
  jq '.layers | length' "$dir/blobs/sha256/${manifest#sha256:}"
}

# oci_from_tars DIR ENTRYPOINT_JSON ENV_JSON TAR...: an OCI layout (tag
# latest) whose layers are the tars through gzip -6 -n, in order.
oci_from_tars() {
  local dir=$1 entry=$2 env=$3
  shift 3
  mkdir -p "$dir/blobs/sha256"
  local t diff digest size layers='[]' diffs='[]' config manifest
  for t in "$@"; do
    diff=$(sha256sum "$t" | cut -d' ' -f1)
    gzip -6 -n -c "$t" >"$dir/blob.tmp"
    digest=$(sha256sum "$dir/blob.tmp" | cut -d' ' -f1)
    size=$(stat -c %s "$dir/blob.tmp")
    mv "$dir/blob.tmp" "$dir/blobs/sha256/$digest"
    layers=$(jq -c --arg d "sha256:$digest" --argjson s "$size" \
      '. + [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $d, size: $s}]' <<<"$layers")
    diffs=$(jq -c --arg d "sha256:$diff" '. + [$d]' <<<"$diffs")
  done
  config=$(jq -cn --argjson ep "$entry" --argjson env "$env" --argjson diffs "$diffs" '{
      architecture: "amd64", os: "linux", created: "1970-01-01T00:00:00Z",
      config: {Entrypoint: $ep, WorkingDir: "/app",
               Env: (["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
                     + ($env | to_entries | map("\(.key)=\(.value)")))},
      rootfs: {type: "layers", diff_ids: $diffs}}')
  printf '%s' "$config" >"$dir/blob.tmp"
  local cdigest csize
  cdigest=$(sha256sum "$dir/blob.tmp" | cut -d' ' -f1)
  csize=$(stat -c %s "$dir/blob.tmp")
  mv "$dir/blob.tmp" "$dir/blobs/sha256/$cdigest"
  manifest=$(jq -cn --arg c "sha256:$cdigest" --argjson cs "$csize" --argjson layers "$layers" '{
      schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs}, layers: $layers}')
  printf '%s' "$manifest" >"$dir/blob.tmp"
  local mdigest msize
  mdigest=$(sha256sum "$dir/blob.tmp" | cut -d' ' -f1)
  msize=$(stat -c %s "$dir/blob.tmp")
  mv "$dir/blob.tmp" "$dir/blobs/sha256/$mdigest"
  jq -cn --arg m "sha256:$mdigest" --argjson ms "$msize" '{schemaVersion: 2, manifests: [{
      mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $m, size: $ms,
      annotations: {"org.opencontainers.image.ref.name": "latest"}}]}' >"$dir/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
}

echo
echo "Building the images (distill app; preset + copy; mmdebstrap minbase + copy) ..."
for app in "${APPS[@]}"; do
  # (a) distill app
  t0=$EPOCHREALTIME
  "$distill" app -o "oci:$IMG/$app-distill:latest" "${M[@]}" --cache-dir "$CACHE" --format json \
    -- "${APP_PROG[$app]}" >"$work/json/$app-distill.json" 2>"$work/json/$app-distill.err" ||
    { cat "$work/json/$app-distill.err" >&2; die "distill app -- ${APP_PROG[$app]} failed"; }
  a_ms=$(ms_since "$t0")
  SIZE[$app.distill]=$(jq '[.images[0].layers[].size] | add' "$work/json/$app-distill.json")
  NLAYERS[$app.distill]=$(jq '.images[0].layers | length' "$work/json/$app-distill.json")

  # (b) the app directory copied as it is onto the matching preset
  spec=$work/specs/$app-preset.yaml
  {
    echo "from: preset:${APP_PRESET[$app]}"
    if [ -n "${APP_EXTRA_PKGS[$app]}" ]; then
      echo "contents:"
      echo "  packages: [${APP_EXTRA_PKGS[$app]}]"
    fi
    echo "files:"
    echo "  - {src: \"${APP_DIR[$app]}\", dst: /app}"
    echo "entrypoint: ${APP_ENTRY[$app]}"
    [ "${APP_ENV[$app]}" = '{}' ] || echo "env: ${APP_ENV[$app]}"
    echo "workdir: /app"
  } >"$spec"
  t0=$EPOCHREALTIME
  "$distill" build "$spec" -o "oci:$IMG/$app-preset:latest" "${M[@]}" --cache-dir "$CACHE" --format json -q \
    >"$work/json/$app-preset.json" 2>"$work/json/$app-preset.err" ||
    { cat "$work/json/$app-preset.err" >&2; die "distill build $spec failed"; }
  b_ms=$(ms_since "$t0")
  SIZE[$app.preset]=$(jq '[.images[0].layers[].size] | add' "$work/json/$app-preset.json")
  NLAYERS[$app.preset]=$(jq '.images[0].layers | length' "$work/json/$app-preset.json")

  # (c) mmdebstrap --variant=minbase with the runtime, plus the app as a second layer
  t0=$EPOCHREALTIME
  run_logged "$work/mmdebstrap-$app.log" mmdebstrap --variant=minbase --mode="$mm_mode" \
    --include="${APP_MINBASE[$app]}" --keyring="$keyring" trixie "$work/minbase-$app.tar" "$SOURCE"
  c_ms=$(ms_since "$t0")
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "${APP_DIR[$app]}" \
    --transform 's,^\.,app,' -cf "$work/app-$app.tar" .
  oci_from_tars "$IMG/$app-minbase" "${APP_ENTRY[$app]}" "${APP_ENV[$app]}" "$work/minbase-$app.tar" "$work/app-$app.tar"
  SIZE[$app.minbase]=$(layout_size "$IMG/$app-minbase")
  NLAYERS[$app.minbase]=$(layout_layers "$IMG/$app-minbase")
  SIZE[$app.minbase-base]=$(stat -c %s "$work/minbase-$app.tar")
  tar -xOf "$work/minbase-$app.tar" ./var/lib/dpkg/status 2>/dev/null | sed -n 's/^Package: //p' | sort >"$work/minbase-$app.packages"
  MB_PKGS=$(wc -l <"$work/minbase-$app.packages")
  NLAYERS[$app.minbase-pkgs]=$MB_PKGS
  rm -f "$work/minbase-$app.tar" "$work/app-$app.tar"
  printf '  %-7s distill app %5.2f s, preset copy %5.2f s, mmdebstrap minbase (%s packages) %5.1f s\n' "$app" \
    "$(awk -v m="$a_ms" 'BEGIN { print m / 1000 }')" "$(awk -v m="$b_ms" 'BEGIN { print m / 1000 }')" \
    "$MB_PKGS" "$(awk -v m="$c_ms" 'BEGIN { print m / 1000 }')"
done

# ---------------------------------------------------------------- sanity: run them
sanity_fail=0
insane() { echo "  SANITY FAIL: $*"; sanity_fail=1; }
# run_image REF EXPECTED: podman run; the output must contain EXPECTED.
run_image() {
  local ref=$1 want=$2 out rc=0
  out=$("${PODMAN[@]}" run --rm --runtime runc --network none --ulimit nofile=20000:20000 --ulimit nproc=20000:20000 "$ref" 2>"$work/run.err") || rc=$?
  if [ $rc != 0 ] || [[ $out != *"$want"* ]]; then
    insane "$ref: exit $rc, output '$out' (wanted '$want'); stderr: $(grep -vE '^(Getting image|Copying|Writing manifest|Storing)' "$work/run.err" | tail -n 5)"
    return 1
  fi
  RUN_OUT=$out
}
if [ $run_images = 1 ]; then
  echo
  echo "Running every image once with podman ..."
  for app in "${APPS[@]}"; do
    for route in distill preset minbase; do
      if run_image "oci:$IMG/$app-$route:latest" "${APP_EXPECT[$app]}"; then
        printf '  %-7s %-8s %s\n' "$app" "$route" "$(head -n1 <<<"$RUN_OUT" | sed 's/^ *//')"
      fi
      "${PODMAN[@]}" rmi -a -f >/dev/null 2>&1 || true
    done
  done
fi

# ---------------------------------------------------------------- rebuilds
# change_source APP R: change the app's one source file for rebuild R (and
# compile it, untimed, where the app is compiled).
declare -A LAST_EDIT
change_source() {
  local app=$1 r=$2
  LAST_EDIT[$app]=$r
  case $app in
    python) echo "# edit $r" >>"${APP_DIR[python]}/app.py" ;;
    node) echo "// edit $r" >>"${APP_DIR[node]}/server.js" ;;
    java) java_main "v$r" && java_build_app >>"$work/javac.log" 2>&1 ;;
    native) native_main "v$r" && native_build_main >>"$work/gxx.log" 2>&1 ;;
  esac
}
declare -A REBUILD_BEST REBUILD_MEDIAN FLOOR_BEST CHANGED_BYTES TOP_ONLY FULL_BEST FULL_MEDIAN
edit=0   # a new source change for every build, across all the series
# rebuild_series APP LABEL MIRROR_ARGS...: RUNS rebuilds of APP, each after a
# source change; sets TIMES (ms) and TOP_ONLY_NOW; prints one line per run
# with the number of layers distill had to build (1: only the app's code).
rebuild_series() {
  local app=$1 label=$2
  shift 2
  local dest="oci:$IMG/$app-distill:latest" prev=$work/json/$app-distill.json now=$work/json/$app-rebuild.json
  local r t built line=""
  TIMES=()
  TOP_ONLY_NOW=yes
  for ((r = 1; r <= runs; r++)); do
    edit=$((edit + 1))
    change_source "$app" "$edit" || die "changing $app's source failed (see the logs in $work)"
    t0=$EPOCHREALTIME
    "$distill" app -o "$dest" "$@" --cache-dir "$CACHE" --format json -q -- "${APP_PROG[$app]}" \
      >"$now" 2>"$work/json/$app-rebuild.err" || { cat "$work/json/$app-rebuild.err" >&2; die "rebuild of $app failed"; }
    t=$(ms_since "$t0")
    TIMES+=("$t")
    built=$(jq '[.images[0].layers[] | select(.reused | not)] | length' "$now")
    line+=" $t ms ($built built)"
    # Every layer but the top one is the previous build's, and the top one is new.
    if [ "$(jq -c '[.images[0].layers[:-1][].digest]' "$prev")" != "$(jq -c '[.images[0].layers[:-1][].digest]' "$now")" ] ||
      [ "$(jq -r '.images[0].layers[-1].digest' "$prev")" = "$(jq -r '.images[0].layers[-1].digest' "$now")" ]; then
      TOP_ONLY_NOW=no
    fi
    cp "$now" "$work/json/$app-prev.json"
    prev=$work/json/$app-prev.json
  done
  printf '  %-7s %-11s%s\n' "$app" "$label" "$line"
}
echo
echo "Rebuilding each app after one source file changed ($runs runs each, best counts; load average $(cut -d' ' -f1 /proc/loadavg)) ..."
echo "  (\"N built\": layers distill built; more than 1 means a lower layer's inputs changed, e.g. a host"
echo "  library's ctime moved because something else on the machine hardlinked it; its digest stays the same)"
for app in "${APPS[@]}"; do
  rebuild_series "$app" "rebuilds:" "${M[@]}"
  TOP_ONLY[$app]=$TOP_ONLY_NOW
  [ "$TOP_ONLY_NOW" = yes ] || insane "$app: a rebuild after one source file changed did not change exactly the top layer"
  REBUILD_BEST[$app]=$(printf '%s\n' "${TIMES[@]}" | best)
  REBUILD_MEDIAN[$app]=$(printf '%s\n' "${TIMES[@]}" | median)
  # The floor: gzip -6 and sha256sum of the one changed file.
  f=${APP_CHANGED[$app]}
  CHANGED_BYTES[$app]=$(stat -c %s "$f")
  ftimes=()
  for ((r = 1; r <= runs; r++)); do
    t0=$EPOCHREALTIME
    gzip -6 -n -c "$f" >/dev/null
    sha256sum "$f" >/dev/null
    ftimes+=("$(ms_since "$t0")")
  done
  FLOOR_BEST[$app]=$(printf '%s\n' "${ftimes[@]}" | best)
  printf '  %-7s %-11s %s ms\n' "$app" "floor:" "$(printf '%s ms ' "${ftimes[@]}" | sed 's/ ms $//')"
  # One more, untimed, with distill's phase lines (stderr is not a terminal).
  edit=$((edit + 1))
  change_source "$app" "$edit" || die "changing $app's source failed"
  "$distill" app -o "oci:$IMG/$app-distill:latest" "${M[@]}" --cache-dir "$CACHE" -- "${APP_PROG[$app]}" \
    >/dev/null 2>"$work/json/$app-phases.err" || { cat "$work/json/$app-phases.err" >&2; die "rebuild of $app failed"; }
done

# ---------------------------------------------------------------- full-size index
# The same rebuilds from a mirror whose index is Debian's whole trixie main
# amd64 Packages (the upstream copy tests/mirror/fetch-debs.sh keeps in its
# private apt root; about 69,000 packages), as Packages.gz and Packages.xz
# like Debian's mirrors, signed with a throwaway key, the pool being the
# local mirror's (tests/mirror/full-index.sh): what a rebuild costs with a
# real mirror, the network aside.
full_pkgs=""
if [ $use_full_index = 1 ]; then
  echo
  echo "Rebuilding from a mirror with the full-size trixie index ..."
  F=$work/full-mirror
  rc=0
  full_pkgs=$("$repo/tests/mirror/full-index.sh" "$work/mirror" "$F" 2>"$work/full-index.err") || rc=$?
  if [ $rc = 3 ]; then
    echo "note: no upstream trixie Packages index in $DISTILL_TEST_CACHE_DIR/apt (run tests/mirror/fetch-debs.sh); full-index rebuilds skipped"
    full_pkgs=""
  elif [ $rc != 0 ]; then
    cat "$work/full-index.err" >&2
    die "tests/mirror/full-index.sh failed"
  fi
fi
if [ -n "$full_pkgs" ]; then
  full_port=$work/full-mirror.port
  full_url=$("$repo/tests/mirror/serve.sh" "$F" "$full_port" 2>/dev/null) || die "tests/mirror/serve.sh failed for the full-index mirror"
  MF=(--mirror "$full_url" --keyring "$F/keyring.gpg")
  echo "  full-index mirror: $full_url ($full_pkgs packages, $(fmt_mb "$(stat -c %s "$F/dists/trixie/main/binary-amd64/Packages.gz")") MB Packages.gz)"
  for app in "${APPS[@]}"; do
    [ "$app" != native ] || continue   # on scratch: no mirror involved
    # One untimed build first: the new mirror (same packages) must not rebuild anything.
    edit=$((edit + 1))
    change_source "$app" "$edit" || die "changing $app's source failed"
    "$distill" app -o "oci:$IMG/$app-distill:latest" "${MF[@]}" --cache-dir "$CACHE" --format json -q -- "${APP_PROG[$app]}" \
      >"$work/json/$app-full0.json" 2>"$work/json/$app-full0.err" || { cat "$work/json/$app-full0.err" >&2; die "full-index build of $app failed"; }
    cp "$work/json/$app-full0.json" "$work/json/$app-distill.json"
    rebuild_series "$app" "full index:" "${MF[@]}"
    if [ "$TOP_ONLY_NOW" != yes ]; then
      TOP_ONLY[$app]=no
      insane "$app: a rebuild from the full-index mirror did not change exactly the top layer"
    fi
    FULL_BEST[$app]=$(printf '%s\n' "${TIMES[@]}" | best)
    FULL_MEDIAN[$app]=$(printf '%s\n' "${TIMES[@]}" | median)
    if [ "$app" = python ]; then
      edit=$((edit + 1))
      change_source "$app" "$edit" || die "changing $app's source failed"
      "$distill" app -o "oci:$IMG/$app-distill:latest" "${MF[@]}" --cache-dir "$CACHE" -- "${APP_PROG[$app]}" \
        >/dev/null 2>"$work/json/$app-full-phases.err" || { cat "$work/json/$app-full-phases.err" >&2; die "rebuild of $app failed"; }
    fi
  done
  "$repo/tests/mirror/stop.sh" "$full_port" >/dev/null 2>&1 || true
  full_port=""
fi
if [ $run_images = 1 ]; then
  echo "  running the rebuilt images ..."
  for app in "${APPS[@]}"; do
    last=v${LAST_EDIT[$app]}
    want=${APP_EXPECT[$app]}
    [ "$app" = java ] && want="hello java ab $last"
    if run_image "oci:$IMG/$app-distill:latest" "$want"; then
      printf '  %-7s %-8s %s\n' "$app" "rebuilt" "$(head -n1 <<<"$RUN_OUT" | sed 's/^ *//')"
      case $app in
        native) [[ $RUN_OUT == *" $last"* ]] || insane "native: the rebuilt image does not run the new program: '$RUN_OUT'" ;;
      esac
    fi
    "${PODMAN[@]}" rmi -a -f >/dev/null 2>&1 || true
  done
fi

# ---------------------------------------------------------------- report
# The presets alone, for what each route adds on top of the base.
declare -A PRESET_SIZE
for b in python3 nodejs java cc; do
  "$distill" build --preset "$b" -o "oci:$IMG/preset-$b:latest" "${M[@]}" --cache-dir "$CACHE" --format json -q \
    >"$work/json/preset-$b.json" 2>"$work/json/preset-$b.err" || { cat "$work/json/preset-$b.err" >&2; die "distill build --preset $b failed"; }
  PRESET_SIZE[$b]=$(jq '[.images[0].layers[].size] | add' "$work/json/preset-$b.json")
done
echo
echo "== Compressed image size (MB = 2^20 bytes of gzip layer blobs)"
printf '%-7s %-10s %9s %7s %12s %7s %9s %7s %10s %10s\n' app base "distill" layers "preset-copy" layers \
  "minbase" layers "d/preset" "d/minbase"
smallest_fail=0
for app in "${APPS[@]}"; do
  d=${SIZE[$app.distill]} p=${SIZE[$app.preset]} m=${SIZE[$app.minbase]}
  base=${APP_PRESET[$app]}
  [ "$app" = native ] && base="scratch|cc"
  printf '%-7s %-10s %9s %7s %12s %7s %9s %7s %10s %10s\n' "$app" "$base" "$(fmt_mb "$d")" "${NLAYERS[$app.distill]}" \
    "$(fmt_mb "$p")" "${NLAYERS[$app.preset]}" "$(fmt_mb "$m")" "${NLAYERS[$app.minbase]}" "$(ratio "$d" "$p")" "$(ratio "$d" "$m")"
  # Smaller than minbase; no larger than the preset copy beyond 0.1% (a
  # layer's own overhead: the java app's jars are copied as they are either
  # way, in two layers by distill and one by the copy).
  if [ "$d" -ge "$m" ] || [ "$(awk -v d="$d" -v p="$p" 'BEGIN { print (d <= p * 1.001) }')" != 1 ]; then smallest_fail=1; fi
done
echo "  distill      distill app -o oci:... -- APP (base: the matching preset; native: scratch)"
echo "  preset-copy  spec: from: preset:python3|nodejs|java|cc, the app directory as it is at /app,"
echo "               + contents: [libcurl4t64] for python, node and native (the preset lacks libcurl)"
echo "  minbase      mmdebstrap --variant=minbase trixie --include=RUNTIME (one layer) + the app directory (another):"
for app in "${APPS[@]}"; do
  printf '                 %-7s --include=%s: %s packages, %s MB tar\n' "$app" "${APP_MINBASE[$app]}" \
    "${NLAYERS[$app.minbase-pkgs]}" "$(fmt_mb "${SIZE[$app.minbase-base]}")"
done
echo
echo "  What each route adds on top of the bare preset (MB, gzip):"
printf '  %-7s %-8s %9s %18s %16s  %s\n' app preset "preset MB" "distill adds" "preset-copy adds" "bytes distill - preset-copy"
for app in "${APPS[@]}"; do
  b=${APP_PRESET[$app]}
  d=${SIZE[$app.distill]} p=${SIZE[$app.preset]}
  if [ "$app" = native ]; then dadd="$(fmt_mb "$d") (scratch)"; else dadd=$(fmt_mb "$((d - PRESET_SIZE[$b]))"); fi
  printf '  %-7s %-8s %9s %18s %16s  %+d\n' "$app" "$b" "$(fmt_mb "${PRESET_SIZE[$b]}")" "$dadd" \
    "$(fmt_mb "$((p - PRESET_SIZE[$b]))")" "$((d - p))"
done
echo
echo "== Rebuild after one source file changed (warm cache, same output; best of $runs, median in brackets)"
printf '%-7s %-24s %16s %10s %14s %20s %9s\n' app "changed file (bytes)" "rebuild ms" "floor ms" "rebuild/floor" \
  "full-index rebuild ms" "top only"
for app in "${APPS[@]}"; do
  full=-
  if [ -n "${FULL_BEST[$app]:-}" ]; then full="${FULL_BEST[$app]} (${FULL_MEDIAN[$app]})"; fi
  [ "$app" != native ] || full="- (no mirror)"
  printf '%-7s %-24s %16s %10s %14s %20s %9s\n' "$app" "${APP_CHANGED[$app]##*/} (${CHANGED_BYTES[$app]})" \
    "${REBUILD_BEST[$app]} (${REBUILD_MEDIAN[$app]})" "${FLOOR_BEST[$app]}" \
    "$(awk -v a="${REBUILD_BEST[$app]}" -v b="${FLOOR_BEST[$app]}" 'BEGIN { printf "%.1fx", a / b }')" "$full" "${TOP_ONLY[$app]}"
done
echo "  floor: gzip -6 -n -c FILE >/dev/null; sha256sum FILE >/dev/null (two processes, timed together)"
echo "  rebuild: from the local test mirror (178 packages); full-index: from a mirror with Debian's whole"
echo "  trixie main index${full_pkgs:+ ($full_pkgs packages)}, as with the host's real mirror (network aside)"
echo
echo "== distill's phases in one more rebuild per app (untimed run, distill's own clock)"
for app in "${APPS[@]}"; do
  echo "  $app:"
  sed 's/^distill: /    /' "$work/json/$app-phases.err"
done
if [ -f "$work/json/python-full-phases.err" ]; then
  echo "  python, full-size index:"
  sed 's/^distill: /    /' "$work/json/python-full-phases.err"
fi
echo
echo "== Checks"
if [ $run_images = 1 ]; then
  echo "  $([ $sanity_fail = 0 ] && echo PASS || echo FAIL)  every image runs and prints its app's answer; rebuilt images run the new code"
else
  echo "  (images not run: --no-run)"
fi
echo "  $([ "${TOP_ONLY[*]}" = "${TOP_ONLY[*]//no/}" ] && echo PASS || echo FAIL)  every rebuild changed exactly the top layer"
echo "  $([ $smallest_fail = 0 ] && echo PASS || echo MISS)  distill's image is smaller than minbase's and no larger than the preset copy's (+0.1%) for every app"
[ $sanity_fail = 0 ] || exit 1
if [ $check = 1 ] && [ $smallest_fail = 1 ]; then exit 1; fi
exit 0
