#!/usr/bin/env bash
# distill's distroless presets on amd64, from the local signed mirror: every
# preset (static, base-nossl, base, cc, python3, java, nodejs) in every
# variant (latest, nonroot, debug, debug-nonroot) builds; skopeo inspect and
# umoci unpack accept it; its structure is distroless's (distroless.md
# §3-§5: package list as status.d + md5sums, generated passwd/group/
# os-release/tmp/root/home, CA bundle, merged-/usr symlinks only, no shell,
# apt, dpkg or setuid file in non-debug images, config User/WorkingDir/Env/
# Entrypoint); the packages' files are the .debs' bytes (less the stripped
# docs), status.d holds their control files verbatim, ld.so.cache lists what
# the host's ldconfig finds, distill inspect lists the tree umoci unpacks;
# and it runs under podman (runc):
#   - every image: a static probe (bind-mounted) sees the config's uid, cwd, env
#   - python3: hello, sqlite3, ssl, ctypes find_library('c'), zoneinfo
#     Europe/Paris, and subprocess(shell=True) fails for lack of /bin/sh
#   - java: a jar built by the host's javac (--release 17), added by a spec
#     "from: preset:java", runs; the JKS trust store loads with "changeit"
#   - nodejs: a script added by "from: preset:nodejs"
#   - cc: a dynamic C++ program (libstdc++, libgomp) added by "from: preset:cc"
#   - static: a static C program counts the CA bundle named by SSL_CERT_FILE
#   - base-nossl / base: libc is there; libssl only in base
#   - debug variants: /busybox/sh -c 'echo ok'; every /busybox applet link
#     names an applet of that busybox
# The reproducibility of the presets is test_presets_repro.sh; arm64 is
# test_presets_arm64.sh. MIRROR_SUITE=bookworm (test_presets_bookworm.sh)
# runs all of this on Debian 12: its package lists, python3.11, openjdk-17,
# os-release 12 and the split /usr.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_mirror.sh"
. "$(dirname "$0")/helpers/presets/lib.sh"
need_root
need skopeo umoci jq gcc g++ javac jar file stat
presets_mirror_start amd64
podman_setup
H=$PRESETS_HELPERS
OUT=$PM/out
mkdir -p "$OUT" "$T/progs"

tstep "compile the test programs on the host"
gcc -static -O2 -o "$T/progs/probe" "$E2E_DIR/helpers/probe.c" 2>"$T/cc.err" ||
  fail "cannot compile the static probe (glibc's static libc?)" "$(cat "$T/cc.err")"
gcc -static -O2 -o "$T/progs/certcount" "$H/certcount.c" 2>"$T/cc.err" || fail "gcc -static certcount.c failed" "$(cat "$T/cc.err")"
gcc -O2 -o "$T/progs/dlcheck" "$H/dlcheck.c" -ldl 2>"$T/cc.err" || fail "gcc dlcheck.c failed" "$(cat "$T/cc.err")"
g++ -O2 -std=c++17 -fopenmp -pthread -o "$T/progs/hello-cc" "$H/hello.cc" 2>"$T/cc.err" || fail "g++ hello.cc failed" "$(cat "$T/cc.err")"
[[ $(file -b "$T/progs/hello-cc") == *"dynamically linked"* ]] || fail "hello-cc should be dynamically linked" "$(file -b "$T/progs/hello-cc")"
mkdir -p "$T/java/hello" "$T/java/cacount"
javac --release 17 -d "$T/java/hello" "$H/Hello.java" 2>"$T/javac.err" || fail "javac Hello.java failed" "$(cat "$T/javac.err")"
javac --release 17 -d "$T/java/cacount" "$H/CaCount.java" 2>"$T/javac.err" || fail "javac CaCount.java failed" "$(cat "$T/javac.err")"
jar --create --file "$T/progs/hello.jar" --main-class Hello -C "$T/java/hello" . || fail "jar hello.jar failed"
jar --create --file "$T/progs/cacount.jar" --main-class CaCount -C "$T/java/cacount" . || fail "jar cacount.jar failed"
cp "$H/hello.js" "$H/check.py" "$T/progs/"
chmod 0755 "$T/progs" "$T/progs"/*
for f in hello.jar cacount.jar hello.js check.py; do chmod 0644 "$T/progs/$f"; done

# ---------------------------------------------------------------- build
tstep "build every preset x variant (amd64)"
declare -A DIGEST
t0=$(date +%s)
for p in "${PRESETS[@]}"; do
  for v in "${VARIANTS[@]}"; do
    preset_build "$p:$v" "oci:$OUT/$p-$v:t" --arch amd64 >"$T/build.$p-$v.json"
    DIGEST[$p-$v]=$(jq_file "$T/build.$p-$v.json" '.digest')
    assert_matches "${DIGEST[$p-$v]}" '^sha256:[0-9a-f]{64}$' "digest reported for $p:$v"
  done
done
note "28 images in $(($(date +%s) - t0)) s"

tstep "spec builds: from: preset:... plus files"
mkdir -p "$T/apps"
# app NAME FROM YAML_TAIL: a spec in $T/apps/NAME whose files come from $T/progs.
app() {
  local name=$1 from=$2
  mkdir -p "$T/apps/$name"
  cp -a "$T/progs/." "$T/apps/$name/"
  { echo "from: preset:$from"; printf '%s\n' "$3"; } >"$T/apps/$name/image.yaml"
  spec_build "$T/apps/$name/image.yaml" "oci:$OUT/app-$name:t" >"$T/build.app-$name.json"
}
app static static 'files:
  - {src: certcount, dst: /app/certcount, mode: "0755"}
entrypoint: [/app/certcount]'
app cc cc 'files:
  - {src: hello-cc, dst: /app/hello, mode: "0755"}
entrypoint: [/app/hello]'
app java java 'files:
  - {src: hello.jar, dst: /app/hello.jar, mode: "0644"}
  - {src: cacount.jar, dst: /app/cacount.jar, mode: "0644"}
cmd: [/app/hello.jar]'
app nodejs nodejs 'files:
  - {src: hello.js, dst: /app/hello.js, mode: "0644"}
cmd: [/app/hello.js]'
app python3 python3:nonroot 'files:
  - {src: check.py, dst: /app/check.py, mode: "0644"}
cmd: [/app/check.py]'

# The app's config is the preset's, plus what the spec adds.
app_configs() {
  local a
  for a in static cc java nodejs python3; do
    "$DISTILL" inspect "oci:$OUT/app-$a:t" --no-files --format json -q >"$T/app-$a.inspect.json" 2>"$T/inspect.err" ||
      fail "distill inspect of app-$a failed" "$(cat "$T/inspect.err")"
  done
  assert_jq "$T/app-java.inspect.json" '.config.config.Entrypoint | tojson' '["/usr/bin/java","-jar"]' "app-java keeps the preset's entrypoint"
  assert_jq "$T/app-java.inspect.json" '.config.config.Cmd | tojson' '["/app/hello.jar"]' "app-java's cmd"
  assert_jq "$T/app-java.inspect.json" '.config.config.Env | tojson' "$(preset_env java latest)" "app-java's env"
  assert_jq "$T/app-python3.inspect.json" '.config.config.User' 65532 "from: preset:python3:nonroot keeps the nonroot user"
  assert_jq "$T/app-python3.inspect.json" '.config.config.WorkingDir' /home/nonroot "from: preset:python3:nonroot keeps its workdir"
  assert_jq "$T/app-cc.inspect.json" '.config.config.Entrypoint | tojson' '["/app/hello"]' "app-cc's entrypoint"
  assert_jq "$T/app-cc.inspect.json" '.config.config.Env | tojson' "$(preset_env cc latest)" "app-cc's env"
  "$DISTILL" inspect "oci:$OUT/cc-latest:t" --no-files --format json -q >"$T/cc.inspect.json"
  local n_preset n_app
  n_preset=$(jq '.layers | length' "$T/cc.inspect.json")
  n_app=$(jq '.layers | length' "$T/app-cc.inspect.json")
  [ "$n_app" -gt "$n_preset" ] || fail "app-cc has $n_app layers, the cc preset $n_preset: the files should add a layer"
  # The preset's layers are the app's first layers, unchanged.
  assert_eq "$(jq -c '[.layers[].digest]' "$T/cc.inspect.json")" "$(jq -c --argjson n "$n_preset" '[.layers[:$n][].digest]' "$T/app-cc.inspect.json")" \
    "the cc preset's layers are the first layers of app-cc"
}
soft "app configs" app_configs

# ---------------------------------------------------------------- peers
tstep "skopeo inspect and umoci unpack accept every image; structure checks"
for p in "${PRESETS[@]}"; do
  for v in "${VARIANTS[@]}"; do
    skopeo inspect "oci:$OUT/$p-$v:t" >"$T/skopeo.json" 2>"$T/skopeo.err" ||
      fail "skopeo inspect oci:$OUT/$p-$v:t failed" "$(cat "$T/skopeo.err")"
    assert_jq "$T/skopeo.json" .Digest "${DIGEST[$p-$v]}" "skopeo's digest of $p:$v"
    assert_jq "$T/skopeo.json" .Architecture amd64 "skopeo: architecture of $p:$v"
    skopeo inspect --config "oci:$OUT/$p-$v:t" >/dev/null 2>"$T/skopeo.err" ||
      fail "skopeo inspect --config oci:$OUT/$p-$v:t failed" "$(cat "$T/skopeo.err")"
    check_preset_structure "$p" "$v" "$OUT/$p-$v:t" amd64
  done
done

# ---------------------------------------------------------------- runs
tstep "podman: every image, a bind-mounted static probe sees the config"
probe_expect() { # VARIANT NAME
  local lang='(unset)'
  case $2 in python3 | java) lang=C.UTF-8 ;; esac
  local path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  is_debug "$1" && path+=:/busybox
  printf 'uid=%s\ngid=%s\ncwd=%s\nargc=1\nargv[0]=/probe\nenv:APP_MODE=(unset)\nenv:LANG=%s\nenv:PATH=%s\n' \
    "$(preset_user "$1")" "$(preset_user "$1")" "$(preset_workdir "$1")" "$lang" "$path"
}
run_probe() {
  prun 0 -v "$T/progs/probe:/probe:ro" --entrypoint /probe "oci:$OUT/$1-$2:t"
  assert_eq "$(probe_expect "$2" "$1")" "$RUN_OUT" "what a process sees in $1:$2"
}
for p in "${PRESETS[@]}"; do
  for v in "${VARIANTS[@]}"; do soft "probe $p:$v" run_probe "$p" "$v"; done
done

tstep "podman: python3"
PY_CHECK=$(cat "$T/progs/check.py")
py_expect() { # UID CWD (HOME is the user's home in /etc/passwd)
  local home=/root
  [ "$1" = 65532 ] && home=/home/nonroot
  printf 'hello\nsqlite3 2\nssl OpenSSL True\nfind_library libc.so.6\nctypes 7\nzoneinfo 2:00:00\nno shell: /bin/sh\n/bin/sh exists: False\nuid %s cwd %s\nwritable %s /tmp\n' "$1" "$2" "$home"
}
python_check() { # VARIANT
  prun 0 "oci:$OUT/python3-$1:t" -c "$PY_CHECK"
  assert_eq "$(py_expect "$(preset_user "$1")" "$(preset_workdir "$1")")" "$RUN_OUT" "python3:$1 running check.py"
}
python_app() {
  prun 0 "oci:$OUT/app-python3:t"
  assert_eq "$(py_expect 65532 /home/nonroot)" "$RUN_OUT" "the app of from: preset:python3:nonroot"
}
python_hello() {
  prun 0 "oci:$OUT/python3-latest:t" -c 'print("hello")'
  assert_eq hello "$RUN_OUT" "python3 -c 'print(\"hello\")'"
}
soft "python3 hello" python_hello
for v in "${VARIANTS[@]}"; do soft "python3:$v check.py" python_check "$v"; done
soft "python3 app (from: preset:python3:nonroot)" python_app

tstep "podman: java"
java_app() {
  prun 0 "oci:$OUT/app-java:t"
  assert_eq "hello from java $PRESET_JAVA_MAJOR
user.dir=/
file.encoding=UTF-8
sun.jnu.encoding=UTF-8" "$RUN_OUT" "the jar of from: preset:java"
}
java_cacount() { # IMAGE [PODMAN_ARGS...]
  local image=$1
  shift
  prun 0 "$@" "$image" /app/cacount.jar
  local entries trust
  entries=$(sed -n 's/^entries=//p' <<<"$RUN_OUT")
  trust=$(sed -n 's/^default-trust=//p' <<<"$RUN_OUT")
  [ -n "$entries" ] && [ "$entries" -gt 100 ] ||
    fail "the JKS /etc/ssl/certs/java/cacerts of $image holds '$entries' entries, expected > 100" "output: $RUN_OUT"
  [ -n "$trust" ] && [ "$trust" -gt 100 ] ||
    fail "the JRE's default trust store in $image accepts '$trust' issuers, expected > 100" "output: $RUN_OUT"
}
soft "java app hello.jar" java_app
soft "java app: JKS trust store (changeit)" java_cacount "oci:$OUT/app-java:t"
for v in nonroot debug debug-nonroot; do
  soft "java:$v cacount (bind-mounted jar)" java_cacount "oci:$OUT/java-$v:t" -v "$T/progs/cacount.jar:/app/cacount.jar:ro"
done

tstep "podman: nodejs"
node_app() {
  prun 0 "oci:$OUT/app-nodejs:t"
  assert_matches "$(head -n1 <<<"$RUN_OUT")" '^hello from node v[0-9]+\.' "first line of the nodejs app"
  assert_eq "sha256=ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
roots=many
gzip=round trip
intl=1.234.567,5
shell=ENOENT" "$(tail -n +2 <<<"$RUN_OUT")" "the script of from: preset:nodejs"
}
node_eval() { # VARIANT
  prun 0 "oci:$OUT/nodejs-$1:t" -e 'console.log("node ok", process.getuid(), process.cwd())'
  assert_eq "node ok $(preset_user "$1") $(preset_workdir "$1")" "$RUN_OUT" "node -e in nodejs:$1"
}
soft "nodejs app" node_app
for v in "${VARIANTS[@]}"; do soft "nodejs:$v -e" node_eval "$v"; done

tstep "podman: cc"
CC_EXPECT='c++=3 from=2 hello=1 
sum=500500 caught=1 thread=42 omp_max_threads_ok=1 argc=1'
cc_check() { # IMAGE [PODMAN_ARGS...]
  local image=$1
  shift
  prun 0 "$@" "$image"
  assert_matches "$(head -n1 <<<"$RUN_OUT")" '^hello from c\+\+ [0-9]+$' "first line of the C++ program in $image"
  assert_eq "$CC_EXPECT" "$(tail -n +2 <<<"$RUN_OUT")" "libstdc++, libgcc_s, libgomp and threads in $image"
}
soft "cc app (dynamic C++)" cc_check "oci:$OUT/app-cc:t"
for v in nonroot debug debug-nonroot; do
  soft "cc:$v C++ (bind-mounted)" cc_check "oci:$OUT/cc-$v:t" -v "$T/progs/hello-cc:/hello:ro" --entrypoint /hello
done

tstep "podman: static"
certcount_check() { # IMAGE [PODMAN_ARGS...]
  local image=$1
  shift
  prun 0 "$@" "$image"
  assert_eq "file=/etc/ssl/certs/ca-certificates.crt" "$(sed -n 1p <<<"$RUN_OUT")" "SSL_CERT_FILE in $image"
  local n
  n=$(sed -n 's/^certificates=//p' <<<"$RUN_OUT")
  [ -n "$n" ] && [ "$n" -gt 100 ] || fail "the CA bundle of $image holds '$n' certificates, expected > 100" "output: $RUN_OUT"
}
soft "static app certcount" certcount_check "oci:$OUT/app-static:t"
for v in nonroot debug debug-nonroot; do
  soft "static:$v certcount (bind-mounted)" certcount_check "oci:$OUT/static-$v:t" -v "$T/progs/certcount:/certcount:ro" --entrypoint /certcount
done

tstep "podman: base-nossl and base (libc; libssl only in base)"
dl_check() { # PRESET VARIANT SSL_STATE ZLIB_STATE
  prun 0 -v "$T/progs/dlcheck:/dlcheck:ro" --entrypoint /dlcheck "oci:$OUT/$1-$2:t" \
    libc.so.6 libssl.so.3 libcrypto.so.3 libz.so.1 libzstd.so.1
  assert_eq "hello from c
libc.so.6 ok
libssl.so.3 $3
libcrypto.so.3 $3
libz.so.1 $4
libzstd.so.1 $4" "$RUN_OUT" "libraries dlopen() finds in $1:$2"
}
# trixie's base lists zlib1g and libzstd1 (libssl3t64 needs them); bookworm's
# libssl3 needs neither, and distroless's debian12 base has only libssl3.
BASE_ZLIB=ok
[ "$PRESET_SUITE" = bookworm ] && BASE_ZLIB=missing
for v in "${VARIANTS[@]}"; do
  soft "base-nossl:$v dlopen" dl_check base-nossl "$v" missing missing
  soft "base:$v dlopen" dl_check base "$v" ok "$BASE_ZLIB"
done

tstep "podman: debug variants (busybox)"
busybox_check() { # PRESET VARIANT
  prun 0 --entrypoint /busybox/sh "oci:$OUT/$1-$2:t" -c 'echo ok; id -u; pwd; test ! -e /bin/sh && echo no-bin-sh'
  assert_eq "ok
$(preset_user "$2")
$(preset_workdir "$2")
no-bin-sh" "$RUN_OUT" "/busybox/sh -c in $1:$2"
}
default_sh_check() { # PRESET VARIANT: the entrypoint is /busybox/sh itself
  prun 0 "oci:$OUT/$1-$2:t" -c 'echo ok'
  assert_eq ok "$RUN_OUT" "default entrypoint (/busybox/sh) of $1:$2 with -c 'echo ok'"
}
# Each applet symlink in /busybox names an applet of the busybox there
# (else: "applet not found"), and the binary's applets are all linked.
busybox_applets() { # PRESET VARIANT
  prun 0 --entrypoint /busybox/busybox "oci:$OUT/$1-$2:t" --list
  local have links
  have=$(LC_ALL=C sort -u <<<"$RUN_OUT")
  links=$(jq -r '.files[] | select(.type == "symlink" and (.path | startswith("/busybox/"))) | .path | ltrimstr("/busybox/")' \
    "$T/inspect.$1-$2-amd64.json" | LC_ALL=C sort -u)
  local dangling unlinked
  dangling=$(LC_ALL=C comm -23 <(echo "$links") <(echo "$have") | tr '\n' ' ')
  unlinked=$(LC_ALL=C comm -13 <(echo "$links") <(echo "$have") | grep -vx busybox | tr '\n' ' ' || true)
  [ -z "$dangling" ] || fail "$1:$2: $(wc -w <<<"$dangling") of $(wc -l <<<"$links") symlinks in /busybox name applets that its busybox lacks ('applet not found')" \
    "dangling: $dangling" "applets of the binary without a symlink: $unlinked"
}
soft "static:debug busybox applets" busybox_applets static debug
soft "python3:debug-nonroot busybox applets" busybox_applets python3 debug-nonroot
for p in "${PRESETS[@]}"; do
  for v in debug debug-nonroot; do
    soft "$p:$v /busybox/sh" busybox_check "$p" "$v"
    case $p in static | base-nossl | base | cc) soft "$p:$v default entrypoint" default_sh_check "$p" "$v" ;; esac
  done
done

tstep "non-debug images have no shell to run"
no_sh_check() { # PRESET
  prun 127 --entrypoint /busybox/sh "oci:$OUT/$1-latest:t" -c 'echo ok'
  prun 127 --entrypoint /bin/sh "oci:$OUT/$1-nonroot:t" -c 'echo ok'
}
for p in "${PRESETS[@]}"; do soft "$p has no shell" no_sh_check "$p"; done
