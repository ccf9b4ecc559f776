#!/usr/bin/env bash
# test_presets_repro.sh on Debian 12 (bookworm): every preset x variant,
# and a "from: preset:python3" spec, build to the same digests in two
# passes with other umasks, time zones, job counts, caches and directories.
export MIRROR_SUITE=bookworm E2E_TEST_NAME=test_presets_repro_bookworm
exec bash "$(dirname "$0")/test_presets_repro.sh"
