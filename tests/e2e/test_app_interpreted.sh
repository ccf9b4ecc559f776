#!/usr/bin/env bash
# distill app for interpreted apps and apps on a base, from the local mirror:
#   - a Python web app (http.server) with a virtualenv holding a package
#     with a native extension module (built here; it links the host's
#     libcurl, which the python3 preset lacks) runs on preset:python3; pip is
#     left out; the extension's libraries are in the image, the base's are
#     not copied again;
#   - .pyc files compiled by the base's own Python are used as they are in
#     the image (python -v says "code object from"), stale ones are left out;
#   - a Node app with node_modules and a native N-API addon (built here)
#     runs on preset:nodejs;
#   - a Java app (jar with Main-Class) and two dependency jars runs on
#     preset:java with the jars in their own layer;
#   - changing only the app's code changes only the top layer;
#   - a host program on preset:cc gets only what the base lacks;
#   - app: in a spec, with files: beside it;
#   - errors: an extension for another Python, a jar without Main-Class.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_mirror.sh"
. "$(dirname "$0")/helpers/presets/lib.sh"
need_root
need jq gcc node javac jar umoci curl
[ -f /usr/include/python3.11/Python.h ] || [ -n "$(ls /usr/include/python3*/Python.h 2>/dev/null)" ] ||
  fail "Python headers missing" "install python3-dev (scripts/install-deps.sh)"
[ -f /usr/include/node/node_api.h ] || fail "node_api.h missing" "install nodejs, which ships it (scripts/install-deps.sh)"
presets_mirror_start amd64
podman_setup
OUT=$PM/out
mkdir -p "$OUT"
M=(--mirror "$MIRROR_URL" --keyring "$MIRROR_KEYRING")
PYINC=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')

# app_build DEST ARGS...: distill app with the mirror, JSON report in $T/app.json.
app_build() {
  local dest=$1 rc=0
  shift
  "$DISTILL" app -o "$dest" "${M[@]}" --format json -q "$@" >"$T/app.json" 2>"$T/app.err" || rc=$?
  [ $rc = 0 ] || fail "distill app failed with status $rc" "command: distill app -o $dest $*" "stderr:" "$(_show "$T/app.err")"
}
layer_digests() { jq -r '.images[0].layers[].digest' "$1"; }
layer_names() { jq -r '.images[0].layers[].createdBy' "$1"; }

# ---------------------------------------------------------------- python
tstep "Python: a web app, its venv and a native extension module"
P=$T/py/web
mkdir -p "$P/greet"
python3 -m venv --without-pip "$P/.venv"
SITE=$(echo "$P"/.venv/lib/python3*/site-packages)
mkdir -p "$SITE/greet" "$SITE/pip" "$SITE/pip-99.0.dist-info"
echo "raise SystemExit('pip must not be in the image')" >"$SITE/pip/__init__.py"
cat >"$T/py/native.c" <<'C'
#define Py_LIMITED_API 0x030b0000
#include <Python.h>
const char* curl_version(void);  /* from the host's libcurl, which the python3 preset lacks */
static PyObject* version(PyObject* self, PyObject* args) { return PyUnicode_FromString(curl_version()); }
static PyMethodDef methods[] = {{"curl_version", version, METH_NOARGS, ""}, {0}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", 0, -1, methods};
PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
C
gcc -shared -fPIC -O2 -I"$PYINC" -o "$SITE/greet/_native.abi3.so" "$T/py/native.c" -l:libcurl.so.4
cat >"$SITE/greet/__init__.py" <<'PY'
from greet._native import curl_version
def hello(name): return "hello " + name + " (" + curl_version().split()[0] + ")"
PY
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
app_build "oci:$OUT/py:1" --explain -- "$P/app.py"
cp "$T/app.json" "$T/py1.json"
prun 0 "oci:$OUT/py:1"
assert_contains "$RUN_OUT" "hello web (libcurl/" "the web app answers through the native extension"
assert_contains "$RUN_OUT" "python 3.13" "the base's Python runs it"
assert_not_contains "$(cat "$T/app.err")" "must not" "no error"
explain=$(cat "$T/app.err")
assert_contains "$explain" "pip is an installer" "--explain says pip was left out"
assert_matches "$explain" "libcurl\.so\.4[^ ]*	DT_NEEDED libcurl.so.4 of [^ ]*_native.abi3.so" "--explain: libcurl for the extension"
assert_not_contains "$explain" "/libc.so.6	" "libc is the base's, not copied"
assert_not_contains "$explain" "libssl.so.3	" "libssl is the base's, not copied"
"$DISTILL" inspect "oci:$OUT/py:1" --format json -q >"$T/py.inspect"
assert_eq "0" "$(jq '[.files[].path | select(test("dist-packages/pip"))] | length' "$T/py.inspect")" "no pip in the image"
assert_eq '["/usr/bin/python3.13","/app/app.py"]' "$(jq -c .config.config.Entrypoint "$T/py.inspect")" "entrypoint"
assert_eq "/app" "$(jq -r .config.config.WorkingDir "$T/py.inspect")" "workdir"
names=$(layer_names "$T/py1.json")
assert_contains "$names" "distill app: libraries for extension modules" "a libraries layer"
assert_contains "$names" "distill app: python dependencies" "a dependencies layer"
assert_eq "distill app: python app web" "$(echo "$names" | tail -n1)" "the app's code is the top layer"

tstep "Python: changing only the app's code changes only the top layer"
echo "# a comment" >>"$P/handlers.py"
app_build "oci:$OUT/py:2" -- "$P/app.py"
before=$(layer_digests "$T/py1.json")
after=$(layer_digests "$T/app.json")
assert_eq "$(echo "$before" | head -n -1)" "$(echo "$after" | head -n -1)" "every layer below the app's code is unchanged"
assert_ne "$(echo "$before" | tail -n1)" "$(echo "$after" | tail -n1)" "the top layer changed"
prun 0 "oci:$OUT/py:2"
assert_contains "$RUN_OUT" "hello web" "the rebuilt app runs"
PY2_DIGEST=$(jq -r .digest "$T/app.json")

tstep "Python: the same app built again from an empty cache, another umask and time zone: the same digest"
(umask 077 && cd "$T" && TZ=Asia/Tokyo DISTILL_CACHE_DIR=$T/cache-again \
  "$DISTILL" app -o "oci:$OUT/py:3" "${M[@]}" --format json -q -- "$P/app.py" >"$T/py3.json" 2>"$T/py3.err") ||
  fail "the second build failed" "$(_show "$T/py3.err")"
assert_eq "$PY2_DIGEST" "$(jq -r .digest "$T/py3.json")" "byte-identical image"

tstep "Python: .pyc compiled by the base's Python is used, a stale one left out"
# The base's python3.13 compiles the app (in the unpacked preset image).
umoci unpack --image "$OUT/py:1" "$T/py/root" >/dev/null 2>"$T/umoci.err" || fail "umoci unpack failed" "$(_show "$T/umoci.err")"
R=$T/py/root/rootfs
mkdir -p "$R/src"
cat >"$R/src/app.py" <<'PY'
import fresh, stale
print(fresh.NAME, stale.NAME)
PY
echo 'NAME = "fresh"' >"$R/src/fresh.py"
echo 'NAME = "stale-old"' >"$R/src/stale.py"
chroot "$R" /usr/bin/python3.13 -m compileall -q /src >/dev/null || fail "python3.13 -m compileall failed in the unpacked image"
sleep 1.1
echo 'NAME = "stale-new"' >"$R/src/stale.py"   # newer than its .pyc
app_build "oci:$OUT/pyc:1" --explain -- "$R/src/app.py"
assert_matches "$(cat "$T/app.err")" "stale\.cpython-313\.pyc	left out: older than stale\.py" "the stale .pyc is left out"
prun 0 --env PYTHONVERBOSE=1 "oci:$OUT/pyc:1"
assert_eq "fresh stale-new" "$RUN_OUT" "the sources' code runs"
assert_contains "$(cat "$T/run.err")" "code object from '/app/__pycache__/fresh.cpython-313.pyc'" "the fresh .pyc is used as it is"
assert_not_contains "$(cat "$T/run.err")" "bytecode is stale for 'fresh'" "Python finds it current"

tstep "Python: an extension module for another Python is refused"
mkdir -p "$T/py/bad/.venv/lib/python3.11/site-packages"
touch "$T/py/bad/.venv/pyvenv.cfg"
cp "$SITE/greet/_native.abi3.so" "$T/py/bad/.venv/lib/python3.11/site-packages/_x.cpython-311-x86_64-linux-gnu.so"
echo 'print(1)' >"$T/py/bad/main.py"
run_expect 1 "$DISTILL" app -o "oci:$T/bad-py:1" "${M[@]}" -- "$T/py/bad/main.py"
assert_contains "$RUN_ERR" "_x.cpython-311-x86_64-linux-gnu.so is an extension module for Python 3.11, but the base runs Python 3.13" \
  "the message names the module and both Pythons"
assert_absent "$T/bad-py" "nothing is written"

# ---------------------------------------------------------------- node
tstep "Node: node_modules and a native N-API addon"
N=$T/node/api
mkdir -p "$N/node_modules/greet" "$N/node_modules/leftpad" "$N/lib"
cat >"$T/node/addon.c" <<'C'
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
gcc -shared -fPIC -O2 -I/usr/include/node -o "$N/node_modules/greet/greet.node" "$T/node/addon.c" -l:libcurl.so.4
echo 'module.exports = require("./greet.node");' >"$N/node_modules/greet/index.js"
echo 'module.exports = (s, n) => " ".repeat(Math.max(0, n - s.length)) + s;' >"$N/node_modules/leftpad/index.js"
echo '{"name": "api", "main": "server.js"}' >"$N/package.json"
echo 'module.exports = () => "hello node";' >"$N/lib/hello.js"
cat >"$N/server.js" <<'JS'
const greet = require("greet"), leftpad = require("leftpad"), hello = require("./lib/hello");
console.log(leftpad(hello(), 12) + " " + greet.curlVersion().split(" ")[0] + " " + process.version);
JS
app_build "oci:$OUT/node:1" -- "$N/server.js"
cp "$T/app.json" "$T/node1.json"
prun 0 "oci:$OUT/node:1"
assert_matches "$RUN_OUT" "^  hello node libcurl/[0-9.]+ v[0-9]+" "the app runs with its modules and addon"
names=$(layer_names "$T/node1.json")
assert_contains "$names" "distill app: libraries for native addons" "a libraries layer"
assert_contains "$names" "distill app: node_modules" "a node_modules layer"
echo 'module.exports = () => "hello again";' >"$N/lib/hello.js"
app_build "oci:$OUT/node:2" -- "$N"
assert_eq "$(layer_digests "$T/node1.json" | head -n -1)" "$(layer_digests "$T/app.json" | head -n -1)" \
  "changing the app's code (built from its directory and package.json's main) changes only the top layer"
prun 0 "oci:$OUT/node:2"
assert_contains "$RUN_OUT" "hello again" "the rebuilt app runs"

# ---------------------------------------------------------------- java
tstep "Java: a jar and two dependency jars"
J=$T/java
mkdir -p "$J/src/dep/a" "$J/src/dep/b" "$J/src/app" "$J/out/a" "$J/out/b" "$J/out/app" "$J/dist/lib"
echo 'package dep.a; public class A { public static String a() { return "a"; } }' >"$J/src/dep/a/A.java"
echo 'package dep.b; public class B { public static String b() { return "b"; } }' >"$J/src/dep/b/B.java"
cat >"$J/src/app/Main.java" <<'JAVA'
package app;
public class Main {
  public static void main(String[] args) {
    System.out.println("java " + dep.a.A.a() + dep.b.B.b() + " " + String.join(",", args) + " " + System.getProperty("java.specification.version"));
  }
}
JAVA
javac --release 17 -d "$J/out/a" "$J/src/dep/a/A.java"
javac --release 17 -d "$J/out/b" "$J/src/dep/b/B.java"
javac --release 17 -cp "$J/out/a:$J/out/b" -d "$J/out/app" "$J/src/app/Main.java"
jar --create --file "$J/dist/lib/dep-a.jar" -C "$J/out/a" .
jar --create --file "$J/dist/lib/dep-b.jar" -C "$J/out/b" .
jar --create --file "$J/dist/app.jar" --main-class app.Main -C "$J/out/app" .
app_build "oci:$OUT/java:1" -- "$J/dist/app.jar" x y
cp "$T/app.json" "$T/java1.json"
prun 0 "oci:$OUT/java:1"
assert_matches "$RUN_OUT" "^java ab x,y [0-9]+$" "the app runs with both dependency jars"
names=$(layer_names "$T/java1.json")
assert_eq "distill app: dependency jars" "$(echo "$names" | tail -n2 | head -n1)" "the jars have their own layer"
"$DISTILL" inspect "oci:$OUT/java:1" --format json -q >"$T/java.inspect"
assert_eq '["-cp","/app/app.jar:/app/libs/dep-a.jar:/app/libs/dep-b.jar","app.Main","x","y"]' \
  "$(jq -c '.config.config.Entrypoint[1:]' "$T/java.inspect")" "an explicit, sorted class path and the main class"
echo 'package app; public class Main { public static void main(String[] a) { System.out.println("java v2 " + dep.a.A.a()); } }' \
  >"$J/src/app/Main.java"
javac --release 17 -cp "$J/out/a:$J/out/b" -d "$J/out/app" "$J/src/app/Main.java"
jar --create --file "$J/dist/app.jar" --main-class app.Main -C "$J/out/app" .
app_build "oci:$OUT/java:2" -- "$J/dist/app.jar"
assert_eq "$(layer_digests "$T/java1.json" | head -n -1)" "$(layer_digests "$T/app.json" | head -n -1)" \
  "a new app jar changes only the top layer"
prun 0 "oci:$OUT/java:2"
assert_eq "java v2 a" "$RUN_OUT" "the new jar runs"
jar --create --file "$T/nomain.jar" -C "$J/out/a" .
run_expect 1 "$DISTILL" app -o "oci:$T/bad-java:1" "${M[@]}" -- "$T/nomain.jar"
assert_contains "$RUN_ERR" "has no Main-Class in its manifest: name the main class with --main" "a jar without Main-Class"
assert_absent "$T/bad-java" "nothing is written"
head -c 300 "$J/dist/app.jar" >"$T/truncated.jar"
run_expect 1 "$DISTILL" app -o "oci:$T/bad-java2:1" "${M[@]}" -- "$T/truncated.jar"
assert_contains "$RUN_ERR" "$T/truncated.jar" "a damaged jar is named"
assert_absent "$T/bad-java2" "nothing is written"
mkdir -p "$T/badnode"
echo '{"main": ' >"$T/badnode/package.json"
run_expect 1 "$DISTILL" app -o "oci:$T/bad-node:1" "${M[@]}" -- "$T/badnode"
assert_contains "$RUN_ERR" "$T/badnode/package.json is not valid JSON" "a broken package.json is named"
assert_absent "$T/bad-node" "nothing is written"

# ---------------------------------------------------------------- native on a base
tstep "a host program on preset:cc gets only what the base lacks"
app_build "oci:$OUT/curl:1" --base preset:cc --explain -- "$(command -v curl)" --version
prun 0 "oci:$OUT/curl:1"
assert_contains "$RUN_OUT" "curl " "curl runs on the base"
explain=$(cat "$T/app.err")
assert_contains "$explain" "libcurl.so.4" "libcurl comes from the host"
assert_not_contains "$explain" "/libc.so.6	" "libc is the base's"
assert_not_contains "$explain" "ld-linux-x86-64.so.2	" "the loader is the base's"
assert_not_contains "$explain" "libssl.so.3	" "libssl is the base's"
assert_not_contains "$explain" "/etc/passwd	" "the base's passwd is kept"

# ---------------------------------------------------------------- app: in a spec
tstep "app: in a spec, with files: beside it"
mkdir -p "$T/spec"
cat >"$T/spec/image.yaml" <<EOF
app:
  program: $P/app.py
  base: preset:python3:nonroot
files:
  - dst: /etc/web.conf
    content: "listen 8080\n"
EOF
distill_build "$T/spec/image.yaml" "oci:$OUT/spec:1" "${M[@]}" --format json -q >"$T/spec.json"
prun 0 "oci:$OUT/spec:1"
assert_contains "$RUN_OUT" "hello web (libcurl/" "the spec's app runs"
"$DISTILL" inspect "oci:$OUT/spec:1" --format json -q >"$T/spec.inspect"
assert_eq "65532" "$(jq -r .config.config.User "$T/spec.inspect")" "the nonroot variant's user"
assert_eq "1" "$(jq '[.files[] | select(.path == "/etc/web.conf")] | length' "$T/spec.inspect")" "files: is in the image"
distill_build "$REPO_ROOT/examples/python-web/image.yaml" "oci:$OUT/example:1" "${M[@]}" --format json -q >/dev/null
prun 0 "oci:$OUT/example:1" --self-test
assert_eq "hello from a distroless python image" "$RUN_OUT" "examples/python-web builds and runs"
cat >"$T/spec/bad.yaml" <<EOF
from: preset:python3
app:
  program: $P/app.py
  base: preset:nodejs
EOF
run_expect 1 "$DISTILL" build "$T/spec/bad.yaml" -o "oci:$T/bad-spec:1"
assert_matches "$RUN_ERR" "bad.yaml:4:[0-9]+: app.base: the spec already says from: preset:python3" "one base only"
assert_absent "$T/bad-spec" "nothing is written"
