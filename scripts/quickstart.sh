#!/usr/bin/env bash
# Quick start: install dependencies, build distill, build the example image
# (examples/hello) and run it with podman.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build distill
gcc -static -O2 -o examples/hello/hello examples/hello/hello.c
out=build/example-hello
rm -rf "$out"
build/distill build examples/hello/image.yaml -o "oci:$out:latest"
build/distill inspect "oci:$out:latest" --no-files
# runc, not crun: crun cannot run on hosts with hybrid cgroups.
podman --runtime runc run --rm --ulimit nofile=20000:20000 --ulimit nproc=20000:20000 "oci:$out:latest"
