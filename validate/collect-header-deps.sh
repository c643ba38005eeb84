#!/usr/bin/env bash
# Copies the header-only dependencies of the harness (nlohmann/json, Eigen, CLI11, doctest) from
# this machine's Debian packages into DIR, so that a machine without -dev packages (the GPU
# check) can build with -Dheader_deps=DIR. Layout: DIR/nlohmann, DIR/eigen3, DIR/CLI, DIR/doctest.
# Usage: validate/collect-header-deps.sh DIR   (e.g. build-deps, git-ignored)
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
dest=$1
declare -A sources=(
  [nlohmann]=/usr/include/nlohmann        # nlohmann-json3-dev
  [eigen3]=/usr/include/eigen3            # libeigen3-dev
  [CLI]=/usr/include/CLI                  # libcli11-dev
  [doctest]=/usr/include/doctest          # doctest-dev
)
for name in "${!sources[@]}"; do
  if [ ! -d "${sources[$name]}" ]; then
    echo "collect-header-deps: ${sources[$name]} is missing; run ./setup.sh first" >&2
    exit 1
  fi
done
mkdir -p "$dest"
for name in nlohmann eigen3 CLI doctest; do
  rm -rf "${dest:?}/$name"
  cp -rL "${sources[$name]}" "$dest/$name"
done
echo "collect-header-deps: copied nlohmann, eigen3, CLI and doctest into $dest ($(du -sh "$dest" | cut -f1))"
