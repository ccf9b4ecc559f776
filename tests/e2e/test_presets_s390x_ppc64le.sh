#!/usr/bin/env bash
# The static and base presets for s390x (big-endian) and ppc64le, every
# variant, on Debian 12 (bookworm), from the local bookworm mirror (the
# mirror these tests were written against does not serve trixie's current
# point release for either architecture):
#   - structure checks as test_presets.sh (split /usr, status.d, generated
#     files, no shell outside debug, package files unchanged), platform
#     linux/s390x and linux/ppc64le;
#   - the image's /etc/ld.so.cache read by glibc's own ldconfig of that
#     architecture (libc-bin's static /sbin/ldconfig through qemu), equal
#     to what that ldconfig builds from the unpacked tree: a little-endian
#     cache on s390x would be refused;
#   - runs under podman with qemu-user-static through binfmt_misc: the
#     loader, `--list` of libssl with LD_DEBUG=libs showing that its
#     libraries come from /etc/ld.so.cache; /busybox/sh in the debug
#     variants. If qemu cannot be registered, a NOTE says so and only the
#     structure is checked;
#   - --arch s390x,ppc64le is one index of two manifests, each its
#     single-arch build, and podman runs both of its images.
export MIRROR_SUITE=bookworm
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_mirror.sh"
. "$(dirname "$0")/helpers/presets/lib.sh"
need_root
need skopeo umoci jq file dpkg-deb
presets_mirror_start amd64
podman_setup
OUT=$PM/out
mkdir -p "$OUT"
FOREIGN_PRESETS=(static base)
ARCHS=(s390x ppc64le)
# Per architecture (OCI name): Debian's name, qemu's, uname -m, and what
# file(1) says of its shared objects.
declare -A DEB_ARCH=([s390x]=s390x [ppc64le]=ppc64el)
declare -A QEMU=([s390x]=s390x [ppc64le]=ppc64le)
declare -A UNAME=([s390x]=s390x [ppc64le]=ppc64le)
declare -A FILE_SAYS=([s390x]="ELF 64-bit MSB shared object, IBM S/390" [ppc64le]="ELF 64-bit LSB shared object, 64-bit PowerPC")
declare -A TRIPLET=([s390x]=s390x-linux-gnu [ppc64le]=powerpc64le-linux-gnu)

tstep "the mirror has the s390x and ppc64el packages"
for a in "${ARCHS[@]}"; do
  names=$(sed -n 's/^Package: //p' "$MIRROR_DIR/dists/bookworm/main/binary-${DEB_ARCH[$a]}/Packages" 2>/dev/null | sort -u)
  missing=$(for n in $(preset_packages base) busybox-static libc-bin; do grep -qxF "$n" <<<"$names" || echo "$n"; done)
  assert_eq "" "$missing" "base's packages missing from the mirror's binary-${DEB_ARCH[$a]} (set 'big-end' of tests/mirror/lib.sh)"
done

declare -A RUN=()
tstep "qemu-user-static and binfmt_misc"
for a in "${ARCHS[@]}"; do
  RUN[$a]=1
  if ! qemu_enable "${QEMU[$a]}"; then
    RUN[$a]=0
    echo "NOTE [test_presets_s390x_ppc64le]: $a images are NOT run and their caches not read by ldconfig: $QEMU_WHY. Only their structure is checked." >&2
  fi
done

tstep "glibc's ldconfig of each architecture (libc-bin, from the mirror)"
for a in "${ARCHS[@]}"; do
  [ "${RUN[$a]}" = 1 ] || continue
  deb=$(find "$MIRROR_DIR/pool" -name "libc-bin_*_${DEB_ARCH[$a]}.deb" | head -n1)
  [ -n "$deb" ] || fail "no libc-bin .deb for ${DEB_ARCH[$a]} in the mirror"
  mkdir -p "$T/libc-bin-$a"
  dpkg-deb -x "$deb" "$T/libc-bin-$a"
  ORACLE_LDCONFIG[$a]=$T/libc-bin-$a/sbin/ldconfig
  assert_matches "$(file -b "${ORACLE_LDCONFIG[$a]}")" "static(ally|-pie) linked" "libc-bin's ldconfig for $a (run through binfmt_misc, with no loader)"
  "${ORACLE_LDCONFIG[$a]}" --version >"$T/ldconfig.out" 2>&1 || fail "$a ldconfig --version under qemu" "$(cat "$T/ldconfig.out")"
  assert_matches "$(head -n1 "$T/ldconfig.out")" '^ldconfig \(Debian GLIBC' "$a ldconfig runs"
done

# ---------------------------------------------------------------- build
declare -A DIGEST
for a in "${ARCHS[@]}"; do
  tstep "build static and base, every variant, --arch $a"
  for p in "${FOREIGN_PRESETS[@]}"; do
    for v in "${VARIANTS[@]}"; do
      preset_build "$p:$v" "oci:$OUT/$p-$v-$a:t" --arch "$a" >"$T/build.$p-$v-$a.json"
      DIGEST[$p-$v-$a]=$(jq_file "$T/build.$p-$v-$a.json" '.digest')
      assert_jq "$T/build.$p-$v-$a.json" '.images | length' 1 "one image for --arch $a ($p:$v)"
      assert_jq "$T/build.$p-$v-$a.json" '.images[0].platform' "linux/$a" "platform of $p:$v"
    done
  done
done

for a in "${ARCHS[@]}"; do
  tstep "skopeo, umoci and structure checks ($a)"
  for p in "${FOREIGN_PRESETS[@]}"; do
    for v in "${VARIANTS[@]}"; do
      skopeo inspect --override-arch "$a" "oci:$OUT/$p-$v-$a:t" >"$T/skopeo.json" 2>"$T/skopeo.err" ||
        fail "skopeo inspect oci:$OUT/$p-$v-$a:t failed" "$(cat "$T/skopeo.err")"
      assert_jq "$T/skopeo.json" .Digest "${DIGEST[$p-$v-$a]}" "skopeo's digest of $p:$v ($a)"
      assert_jq "$T/skopeo.json" .Architecture "$a" "skopeo: architecture of $p:$v"
      check_preset_structure "$p" "$v" "$OUT/$p-$v-$a:t" "$a"
    done
  done
done

elves() { # ARCH
  local a=$1 R=$T/elf-$1
  rm -rf "$R"
  umoci unpack --image "$OUT/base-latest-$a:t" "$R" >"$T/umoci.log" 2>&1 || fail "umoci unpack base-latest ($a)" "$(cat "$T/umoci.log")"
  assert_contains "$(file -b "$(in_root "$R/rootfs" "$(preset_loader "$a")")" 2>&1)" "${FILE_SAYS[$a]}" "$(preset_loader "$a") of base/$a"
  assert_contains "$(file -b "$(in_root "$R/rootfs" "/usr/lib/${TRIPLET[$a]}/libssl.so.3")" 2>&1)" "${FILE_SAYS[$a]}" "libssl.so.3 of base/$a"
  # The cache's byte order is the architecture's: cache_file_new's flags
  # byte (offset 28) is 3 for big-endian, 2 for little-endian.
  local want=2
  [ "$a" = s390x ] && want=3
  assert_eq "$want" "$(od -An -tu1 -j28 -N1 "$R/rootfs/etc/ld.so.cache" | tr -d ' ')" "byte-order flag of base/$a's /etc/ld.so.cache"
  rm -rf "$R"
}
for a in "${ARCHS[@]}"; do soft "$a binaries" elves "$a"; done

tstep "--arch s390x,ppc64le: one index, two platforms"
preset_build base "oci:$OUT/multi-base:t" --arch s390x,ppc64le >"$T/multi.json"
skopeo inspect --raw "oci:$OUT/multi-base:t" >"$T/multi.raw" 2>"$T/skopeo.err" || fail "skopeo inspect --raw multi-base" "$(cat "$T/skopeo.err")"
assert_jq "$T/multi.raw" .mediaType application/vnd.oci.image.index.v1+json "skopeo sees an index"
assert_jq "$T/multi.raw" '[.manifests[] | "\(.platform.os)/\(.platform.architecture)"] | join(" ")' \
  "linux/s390x linux/ppc64le" "platforms of the index, in --arch order"
for a in "${ARCHS[@]}"; do
  assert_jq "$T/multi.raw" ".manifests[] | select(.platform.architecture == \"$a\") | .digest" "${DIGEST[base-latest-$a]}" \
    "the $a manifest of the index is the --arch $a build's"
done

# ---------------------------------------------------------------- runs
loader_run() { # ARCH VARIANT
  local a=$1 v=$2 ld
  ld=$(preset_loader "$a")
  prun 0 --arch "$a" --entrypoint "$ld" "oci:$OUT/base-$v-$a:t" --version
  assert_matches "$(head -n1 <<<"$RUN_OUT")" '^ld\.so \(Debian GLIBC .*\) stable release version 2\.[0-9]+' "the $a loader of base:$v"
  # --list resolves libssl's dependencies as the program would, and
  # LD_DEBUG=libs shows where: from the cache, not the built-in paths
  # (which ld.so falls back to when it refuses a cache).
  prun 0 --arch "$a" --env LD_DEBUG=libs --entrypoint "$ld" "oci:$OUT/base-$v-$a:t" --list "/usr/lib/${TRIPLET[$a]}/libssl.so.3"
  assert_matches "$RUN_OUT" "libcrypto\.so\.3 => /(usr/)?lib/${TRIPLET[$a]}/libcrypto\.so\.3" "libssl's libcrypto in base:$v ($a)"
  assert_matches "$RUN_OUT" "libc\.so\.6 => /(usr/)?lib/${TRIPLET[$a]}/libc\.so\.6" "libssl's libc in base:$v ($a)"
  local debug
  debug=$(cat "$T/run.err")  # LD_DEBUG writes to stderr
  assert_matches "$debug" "search cache=/etc/ld\.so\.cache" "ld.so searched /etc/ld.so.cache in base:$v ($a)"
  assert_matches "$debug" "trying file=/(usr/)?lib/${TRIPLET[$a]}/libcrypto\.so\.3" "ld.so took libcrypto from the cache in base:$v ($a)"
  if grep -q "search path=" <<<"$debug"; then
    fail "ld.so of base:$v ($a) fell back to its search path: the cache did not answer" "$debug"
  fi
}
debug_run() { # ARCH PRESET VARIANT
  prun 0 --arch "$1" --entrypoint /busybox/sh "oci:$OUT/$2-$3-$1:t" -c 'echo ok; uname -m; id -u; pwd'
  assert_eq "ok
${UNAME[$1]}
$(preset_user "$3")
$(preset_workdir "$3")" "$RUN_OUT" "/busybox/sh -c in $2:$3 ($1)"
}
for a in "${ARCHS[@]}"; do
  if [ "${RUN[$a]}" != 1 ]; then
    tstep "$a runs skipped (see the NOTE above)"
    echo "NOTE [test_presets_s390x_ppc64le]: $a: structure checks only; qemu-${QEMU[$a]} is not usable" >&2
    continue
  fi
  tstep "podman (qemu-${QEMU[$a]}): the loader and its ld.so.cache"
  for v in "${VARIANTS[@]}"; do soft "base:$v $a loader" loader_run "$a" "$v"; done
  tstep "podman (qemu-${QEMU[$a]}): debug variants' /busybox/sh"
  for p in "${FOREIGN_PRESETS[@]}"; do
    for v in debug debug-nonroot; do soft "$p:$v $a busybox" debug_run "$a" "$p" "$v"; done
  done
  tstep "podman: the index runs as $a"
  prun 0 --arch "$a" --entrypoint "$(preset_loader "$a")" "oci:$OUT/multi-base:t" --version
  assert_matches "$(head -n1 <<<"$RUN_OUT")" '^ld\.so \(Debian GLIBC' "the $a image of the two-platform index"
done
