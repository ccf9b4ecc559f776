#!/usr/bin/env bash
# Installs everything distill needs to build and to run its whole test suite
# on Debian 12. Safe to run again. Needs root (or sudo).
set -euo pipefail
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
build_deps=(build-essential cmake ninja-build pkg-config
  libarchive-dev libdeflate-dev libzstd-dev libssl-dev libcurl4-openssl-dev nlohmann-json3-dev
  libyaml-cpp-dev libcli11-dev libgtest-dev libgmock-dev zlib1g-dev)
# Peers that judge distill's output in the end-to-end tests and benchmarks.
test_deps=(skopeo umoci podman runc uidmap docker.io python3-jsonschema
  golang-github-opencontainers-image-spec-dev jq pigz zstd libcap2-bin
  util-linux time apt-utils gpgv gnupg python3 docker-registry apache2-utils openssl
  qemu-user-static binfmt-support mmdebstrap default-jdk-headless g++ sqlite3 curl musl-tools
  python3-dev python3-venv nodejs)
want=("${build_deps[@]}")
[ "${1:-}" = --build-only ] || want+=("${test_deps[@]}")
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
