#!/usr/bin/env bash
# The whole test suite: unit tests (GoogleTest, via ctest) and end-to-end
# tests that judge distill's images with skopeo, umoci, podman/runc, a Docker
# engine and the OCI JSON schemas. Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDISTILL_WERROR=ON >/dev/null
ninja -C build
ctest --test-dir build --output-on-failure -j"$(nproc)"
tests/e2e/run-all.sh
