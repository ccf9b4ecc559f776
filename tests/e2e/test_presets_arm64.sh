#!/usr/bin/env bash
# The base and python3 presets for arm64 (--arch arm64), every variant,
# from the local mirror:
#   - structure checks (always): as test_presets.sh, for arm64 (merged /usr
#     without /lib64, aarch64 loader, platform arm64/v8)
#   - runs under podman with qemu-user-static through binfmt_misc: python3
#     check.py, node-free base through its own loader and a bind-mounted
#     arm64 busybox, /busybox/sh in the debug variants. qemu-user-static is
#     installed with apt-get if missing, and qemu-aarch64 registered
#     (update-binfmts, mounting binfmt_misc first if needed); if that cannot
#     be done, a NOTE says so and only the structure is checked.
#   - a multi-arch build (--arch amd64,arm64) is an index of two manifests,
#     each the digest of its single-arch build, and podman runs both.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_mirror.sh"
. "$(dirname "$0")/helpers/presets/lib.sh"
need_root
need skopeo umoci jq file dpkg-deb
presets_mirror_start amd64 arm64
podman_setup
OUT=$PM/out
mkdir -p "$OUT"
ARM_PRESETS=(base python3)

# ---------------------------------------------------------------- qemu
RUN_ARM64=1
tstep "qemu-user-static and binfmt_misc"
if ! qemu_enable aarch64; then
  RUN_ARM64=0
  echo "NOTE [test_presets_arm64]: arm64 images are NOT run: $QEMU_WHY. Only their structure is checked." >&2
fi

# ---------------------------------------------------------------- build
tstep "build base and python3, every variant, --arch arm64"
declare -A DIGEST
for p in "${ARM_PRESETS[@]}"; do
  for v in "${VARIANTS[@]}"; do
    preset_build "$p:$v" "oci:$OUT/$p-$v:t" --arch arm64 >"$T/build.$p-$v.json"
    DIGEST[$p-$v]=$(jq_file "$T/build.$p-$v.json" '.digest')
    assert_jq "$T/build.$p-$v.json" '.images | length' 1 "one image for --arch arm64 ($p:$v)"
    assert_jq "$T/build.$p-$v.json" '.images[0].platform' linux/arm64/v8 "platform of $p:$v"
  done
done

tstep "skopeo, umoci and structure checks (arm64)"
for p in "${ARM_PRESETS[@]}"; do
  for v in "${VARIANTS[@]}"; do
    skopeo inspect --override-arch arm64 "oci:$OUT/$p-$v:t" >"$T/skopeo.json" 2>"$T/skopeo.err" ||
      fail "skopeo inspect oci:$OUT/$p-$v:t failed" "$(cat "$T/skopeo.err")"
    assert_jq "$T/skopeo.json" .Digest "${DIGEST[$p-$v]}" "skopeo's digest of $p:$v (arm64)"
    assert_jq "$T/skopeo.json" .Architecture arm64 "skopeo: architecture of $p:$v"
    check_preset_structure "$p" "$v" "$OUT/$p-$v:t" arm64
    soft "$p:$v/arm64 platform" assert_jq "$CS_JSON" '.config.variant' v8 "config variant of $p:$v/arm64 (distroless: v8)"
  done
done

# The arm64 files are arm64: the dynamic loader and python's interpreter.
arm64_elves() {
  local R=$T/arm-elf
  rm -rf "$R"
  umoci unpack --image "$OUT/python3-latest:t" "$R" >"$T/umoci.log" 2>&1 || fail "umoci unpack python3-latest (arm64)" "$(cat "$T/umoci.log")"
  assert_contains "$(file -bL "$R/rootfs/usr/bin/python3.13")" "ARM aarch64" "/usr/bin/python3.13 of python3/arm64"
  assert_contains "$(file -bL "$R/rootfs/lib/ld-linux-aarch64.so.1" 2>&1)" "ARM aarch64" "/lib/ld-linux-aarch64.so.1 of python3/arm64"
  rm -rf "$R"
}
soft "arm64 binaries" arm64_elves

# ---------------------------------------------------------------- multi-arch
tstep "multi-arch: --arch amd64,arm64"
multi() { # PRESET
  local p=$1
  preset_build "$p" "oci:$OUT/multi-$p:t" --arch amd64,arm64 >"$T/multi-$p.json"
  preset_build "$p" "oci:$OUT/single-$p-amd64:t" --arch amd64 >"$T/single-$p-amd64.json"
  assert_jq "$T/multi-$p.json" .mediaType application/vnd.oci.image.index.v1+json "multi-arch $p is an index"
  skopeo inspect --raw "oci:$OUT/multi-$p:t" >"$T/multi-$p.raw" 2>"$T/skopeo.err" || fail "skopeo inspect --raw multi-$p" "$(cat "$T/skopeo.err")"
  assert_jq "$T/multi-$p.raw" .mediaType application/vnd.oci.image.index.v1+json "skopeo sees an index for multi-arch $p"
  assert_jq "$T/multi-$p.raw" '.manifests | length' 2 "manifests in the index of $p"
  assert_jq "$T/multi-$p.raw" '[.manifests[] | "\(.platform.os)/\(.platform.architecture)\(if .platform.variant then "/" + .platform.variant else "" end)"] | sort | join(" ")' \
    "linux/amd64 linux/arm64/v8" "platforms in the index of $p"
  assert_jq "$T/multi-$p.raw" '[.manifests[].mediaType] | unique | join(" ")' application/vnd.oci.image.manifest.v1+json "manifest media types in the index of $p"
  # Each platform's manifest is the single-arch build's.
  assert_jq "$T/multi-$p.raw" '.manifests[] | select(.platform.architecture == "arm64") | .digest' "${DIGEST[$p-latest]}" \
    "the arm64 manifest of multi-arch $p is the --arch arm64 build's"
  assert_jq "$T/multi-$p.raw" '.manifests[] | select(.platform.architecture == "amd64") | .digest' "$(jq -r .digest "$T/single-$p-amd64.json")" \
    "the amd64 manifest of multi-arch $p is the --arch amd64 build's"
  local a
  for a in amd64 arm64; do
    skopeo inspect --override-arch "$a" "oci:$OUT/multi-$p:t" >"$T/skopeo.json" 2>"$T/skopeo.err" ||
      fail "skopeo inspect --override-arch $a multi-$p" "$(cat "$T/skopeo.err")"
    assert_jq "$T/skopeo.json" .Architecture "$a" "skopeo --override-arch $a on multi-arch $p"
  done
}
for p in "${ARM_PRESETS[@]}"; do soft "multi-arch $p" multi "$p"; done

# ---------------------------------------------------------------- runs
if [ "$RUN_ARM64" = 1 ]; then
  tstep "podman (qemu): python3 arm64"
  PY_CHECK=$(cat "$PRESETS_HELPERS/check.py")
  py_arm() { # VARIANT
    local home=/root
    [ "$(preset_user "$1")" = 65532 ] && home=/home/nonroot
    prun 0 --arch arm64 "oci:$OUT/python3-$1:t" -c "import platform; print(platform.machine())
$PY_CHECK"
    # qemu-user cannot report the child's failed exec to Python, which then
    # sees exit 127 rather than FileNotFoundError: either means no /bin/sh.
    RUN_OUT=$(sed 's#^shell ran, exit 127$#no shell: /bin/sh#' <<<"$RUN_OUT")
    assert_eq "aarch64
hello
sqlite3 2
ssl OpenSSL True
find_library libc.so.6
ctypes 7
zoneinfo 2:00:00
no shell: /bin/sh
/bin/sh exists: False
uid $(preset_user "$1") cwd $(preset_workdir "$1")
writable $home /tmp" "$RUN_OUT" "python3:$1 (arm64) running check.py"
  }
  for v in "${VARIANTS[@]}"; do soft "python3:$v arm64" py_arm "$v"; done

  tstep "podman (qemu): base arm64"
  # An arm64 busybox from the mirror's busybox-static, bind-mounted.
  deb=$(find "$MIRROR_DIR/pool" -name 'busybox-static_*_arm64.deb' | head -n1)
  [ -n "$deb" ] || fail "no busybox-static arm64 .deb in the mirror"
  dpkg-deb -x "$deb" "$T/bb-arm64"
  BB=$T/bb-arm64/usr/bin/busybox
  [ -x "$BB" ] || BB=$T/bb-arm64/bin/busybox
  mkdir -p "$T/bbx"
  cp "$BB" "$T/bbx/busybox"
  for a in sh uname id pwd grep awk; do ln -s busybox "$T/bbx/$a"; done
  chmod 0755 "$T/bbx"
  base_arm() { # VARIANT
    prun 0 --arch arm64 --entrypoint /lib/ld-linux-aarch64.so.1 "oci:$OUT/base-$1:t" --version
    assert_matches "$(head -n1 <<<"$RUN_OUT")" '^ld\.so \(Debian GLIBC .*\) stable release version 2\.[0-9]+' "the arm64 loader of base:$1"
    prun 0 --arch arm64 -v "$T/bbx:/bbx:ro" -e PATH=/bbx --entrypoint /bbx/sh "oci:$OUT/base-$1:t" -c \
      'uname -m; id -u; pwd; echo "$SSL_CERT_FILE"; grep -c "BEGIN CERTIFICATE" "$SSL_CERT_FILE" | awk "{ print (\$1 > 100) }"'
    assert_eq "aarch64
$(preset_user "$1")
$(preset_workdir "$1")
/etc/ssl/certs/ca-certificates.crt
1" "$RUN_OUT" "an arm64 busybox in base:$1"
  }
  for v in "${VARIANTS[@]}"; do soft "base:$v arm64" base_arm "$v"; done

  tstep "podman (qemu): debug variants' /busybox/sh"
  debug_arm() { # PRESET VARIANT
    prun 0 --arch arm64 --entrypoint /busybox/sh "oci:$OUT/$1-$2:t" -c 'echo ok; uname -m'
    assert_eq "ok
aarch64" "$RUN_OUT" "/busybox/sh -c in $1:$2 (arm64)"
  }
  for p in "${ARM_PRESETS[@]}"; do
    for v in debug debug-nonroot; do soft "$p:$v arm64 busybox" debug_arm "$p" "$v"; done
  done
  prun 0 --arch arm64 "oci:$OUT/base-debug:t" -c 'echo ok'
  assert_eq ok "$RUN_OUT" "default entrypoint /busybox/sh of base:debug (arm64)"

  tstep "podman: the multi-arch python3 runs as amd64 and as arm64"
  for pair in amd64:x86_64 arm64:aarch64; do
    soft "multi-arch python3 as ${pair%%:*}" eval '
      prun 0 --arch "${pair%%:*}" "oci:$OUT/multi-python3:t" -c "import platform; print(platform.machine())"
      assert_eq "${pair#*:}" "$RUN_OUT" "platform.machine() of the multi-arch python3 run with --arch ${pair%%:*}"'
  done
else
  tstep "arm64 runs skipped (see the NOTE above)"
  echo "NOTE [test_presets_arm64]: structure checks only; $QEMU_WHY" >&2
fi
