#!/usr/bin/env bash
# distill's presets on Debian 12 (bookworm), from a local signed bookworm
# mirror: test_presets.sh with MIRROR_SUITE=bookworm. Every preset x variant
# builds with --suite bookworm, passes skopeo and umoci, has distroless's
# debian12 package lists (java: openjdk-17; python3: python3.11, with
# libc-bin as on trixie), os-release VERSION 12, the split /usr layout
# (real /bin /sbin /lib /lib64, in every layer), and runs under podman.
export MIRROR_SUITE=bookworm E2E_TEST_NAME=test_presets_bookworm
exec bash "$(dirname "$0")/test_presets.sh"
