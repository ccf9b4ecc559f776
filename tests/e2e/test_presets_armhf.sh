#!/usr/bin/env bash
# The static and base presets for 32-bit arm (--arch arm: Debian's armhf,
# OCI linux/arm/v7, distroless's "arm"), every variant, from the local
# mirror:
#   - structure checks as test_presets.sh (merged /usr, status.d, generated
#     files, no shell outside debug, package files unchanged), platform
#     arm/v7;
#   - runs under podman with qemu-arm-static through binfmt_misc: the armhf
#     loader, and through it libssl's dependencies found by its
#     /etc/ld.so.cache; /busybox/sh in the debug variants. If qemu-arm
#     cannot be registered, a NOTE says so and only the structure is checked;
#   - --arch amd64,arm64,arm is one index of three manifests, each its
#     single-arch build, and podman runs its arm image.
# s390x and ppc64le: test_presets_s390x_ppc64le.sh (on bookworm).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_mirror.sh"
. "$(dirname "$0")/helpers/presets/lib.sh"
need_root
need skopeo umoci jq file
presets_mirror_start amd64
podman_setup
OUT=$PM/out
mkdir -p "$OUT"
ARMHF_PRESETS=(static base)

tstep "the mirror has the armhf packages"
names=$(sed -n 's/^Package: //p' "$MIRROR_DIR/dists/trixie/main/binary-armhf/Packages" 2>/dev/null | sort -u)
missing=$(for n in $(preset_packages base) busybox-static; do grep -qxF "$n" <<<"$names" || echo "$n"; done)
assert_eq "" "$missing" "base's packages missing from the mirror's binary-armhf (set 'armhf' of tests/mirror/lib.sh)"

RUN_ARM=1
tstep "qemu-user-static and binfmt_misc"
if ! qemu_enable arm; then
  RUN_ARM=0
  echo "NOTE [test_presets_armhf]: arm images are NOT run: $QEMU_WHY. Only their structure is checked." >&2
fi

# ---------------------------------------------------------------- build
tstep "build static and base, every variant, --arch arm"
declare -A DIGEST
for p in "${ARMHF_PRESETS[@]}"; do
  for v in "${VARIANTS[@]}"; do
    preset_build "$p:$v" "oci:$OUT/$p-$v:t" --arch arm >"$T/build.$p-$v.json"
    DIGEST[$p-$v]=$(jq_file "$T/build.$p-$v.json" '.digest')
    assert_jq "$T/build.$p-$v.json" '.images | length' 1 "one image for --arch arm ($p:$v)"
    assert_jq "$T/build.$p-$v.json" '.images[0].platform' linux/arm/v7 "platform of $p:$v"
  done
done

tstep "skopeo, umoci and structure checks (arm)"
for p in "${ARMHF_PRESETS[@]}"; do
  for v in "${VARIANTS[@]}"; do
    skopeo inspect --override-arch arm --override-variant v7 "oci:$OUT/$p-$v:t" >"$T/skopeo.json" 2>"$T/skopeo.err" ||
      fail "skopeo inspect oci:$OUT/$p-$v:t failed" "$(cat "$T/skopeo.err")"
    assert_jq "$T/skopeo.json" .Digest "${DIGEST[$p-$v]}" "skopeo's digest of $p:$v (arm)"
    assert_jq "$T/skopeo.json" .Architecture arm "skopeo: architecture of $p:$v"
    check_preset_structure "$p" "$v" "$OUT/$p-$v:t" arm
    soft "$p:$v/arm variant" assert_jq "$CS_JSON" '.config.variant' v7 "config variant of $p:$v/arm"
  done
done

armhf_elves() {
  local R=$T/armhf-elf
  rm -rf "$R"
  umoci unpack --image "$OUT/base-latest:t" "$R" >"$T/umoci.log" 2>&1 || fail "umoci unpack base-latest (arm)" "$(cat "$T/umoci.log")"
  assert_contains "$(file -bL "$R/rootfs/lib/ld-linux-armhf.so.3" 2>&1)" "ELF 32-bit LSB shared object, ARM" "/lib/ld-linux-armhf.so.3 of base/arm"
  assert_contains "$(file -bL "$R/rootfs/usr/lib/arm-linux-gnueabihf/libssl.so.3" 2>&1)" "ARM, EABI5" "libssl.so.3 of base/arm"
  rm -rf "$R"
}
soft "armhf binaries" armhf_elves

tstep "--arch amd64,arm64,arm: one index, three platforms"
preset_build base "oci:$OUT/multi-base:t" --arch amd64,arm64,arm >"$T/multi.json"
preset_build base "oci:$OUT/base-arm64:t" --arch arm64 >"$T/single-arm64.json"
preset_build base "oci:$OUT/base-amd64:t" --arch amd64 >"$T/single-amd64.json"
skopeo inspect --raw "oci:$OUT/multi-base:t" >"$T/multi.raw" 2>"$T/skopeo.err" || fail "skopeo inspect --raw multi-base" "$(cat "$T/skopeo.err")"
assert_jq "$T/multi.raw" .mediaType application/vnd.oci.image.index.v1+json "skopeo sees an index"
assert_jq "$T/multi.raw" '[.manifests[] | "\(.platform.os)/\(.platform.architecture)\(if .platform.variant then "/" + .platform.variant else "" end)"] | join(" ")' \
  "linux/amd64 linux/arm64/v8 linux/arm/v7" "platforms of the index, in --arch order"
assert_jq "$T/multi.raw" '.manifests[] | select(.platform.architecture == "arm") | .digest' "${DIGEST[base-latest]}" \
  "the arm manifest of the index is the --arch arm build's"
assert_jq "$T/multi.raw" '.manifests[] | select(.platform.architecture == "arm64") | .digest' "$(jq -r .digest "$T/single-arm64.json")" \
  "the arm64 manifest of the index is the --arch arm64 build's"
assert_jq "$T/multi.raw" '.manifests[] | select(.platform.architecture == "amd64") | .digest' "$(jq -r .digest "$T/single-amd64.json")" \
  "the amd64 manifest of the index is the --arch amd64 build's"

# ---------------------------------------------------------------- runs
if [ "$RUN_ARM" = 1 ]; then
  tstep "podman (qemu): the armhf loader and its ld.so.cache"
  loader_arm() { # VARIANT
    prun 0 --arch arm --variant v7 --entrypoint /lib/ld-linux-armhf.so.3 "oci:$OUT/base-$1:t" --version
    assert_matches "$(head -n1 <<<"$RUN_OUT")" '^ld\.so \(Debian GLIBC .*\) stable release version 2\.[0-9]+' "the armhf loader of base:$1"
    # --list resolves libssl's dependencies as the program would.
    prun 0 --arch arm --variant v7 --entrypoint /lib/ld-linux-armhf.so.3 "oci:$OUT/base-$1:t" \
      --list /usr/lib/arm-linux-gnueabihf/libssl.so.3
    assert_matches "$RUN_OUT" 'libcrypto\.so\.3 => /(usr/)?lib/arm-linux-gnueabihf/libcrypto\.so\.3' "libssl's libcrypto in base:$1 (arm)"
    assert_matches "$RUN_OUT" 'libc\.so\.6 => /(usr/)?lib/arm-linux-gnueabihf/libc\.so\.6' "libssl's libc in base:$1 (arm)"
  }
  for v in "${VARIANTS[@]}"; do soft "base:$v arm loader" loader_arm "$v"; done

  tstep "podman (qemu): debug variants' /busybox/sh"
  debug_arm() { # PRESET VARIANT
    prun 0 --arch arm --variant v7 --entrypoint /busybox/sh "oci:$OUT/$1-$2:t" -c 'echo ok; uname -m; id -u; pwd'
    assert_eq "ok
armv7l
$(preset_user "$2")
$(preset_workdir "$2")" "$RUN_OUT" "/busybox/sh -c in $1:$2 (arm)"
  }
  for p in "${ARMHF_PRESETS[@]}"; do
    for v in debug debug-nonroot; do soft "$p:$v arm busybox" debug_arm "$p" "$v"; done
  done

  tstep "podman: the index runs as arm"
  prun 0 --arch arm --variant v7 --entrypoint /lib/ld-linux-armhf.so.3 "oci:$OUT/multi-base:t" --version
  assert_matches "$(head -n1 <<<"$RUN_OUT")" '^ld\.so \(Debian GLIBC' "the arm image of the three-platform index"
else
  tstep "arm runs skipped (see the NOTE above)"
  echo "NOTE [test_presets_armhf]: structure checks only; $QEMU_WHY" >&2
fi
