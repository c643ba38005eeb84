#!/usr/bin/env bash
# Installs splitsim's build dependencies (Debian packages) and builds it into build/.
# Usage: ./setup.sh [extra meson options, e.g. -Db_sanitize=address,undefined]
set -euo pipefail
cd "$(dirname "$0")"

# clang and its sanitizer and libFuzzer runtimes build the sanitized test suite of .ci/run
# (build-asan) and the fuzz targets (fuzz/run.sh). pybind11 and Python build the Python module;
# pytest runs its tests, pandas and matplotlib serve its tables and the example plot.
packages=(
  g++ meson ninja-build pkg-config cmake
  nlohmann-json3-dev libeigen3-dev libboost-graph-dev doctest-dev libcli11-dev libbenchmark-dev
  libopenmpi-dev openmpi-bin
  chromium fonts-dejavu-core jq
  clang libclang-rt-dev
  pybind11-dev python3-dev python3-pytest python3-pandas python3-matplotlib
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The CUDA toolkit is not a Debian package here; where /usr/local/cuda exists the CUDA backend of
# the harness is built too (meson feature 'cuda', auto).
if [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi

if [ -f build/build.ninja ]; then
  meson setup --reconfigure build "$@" >/dev/null
else
  meson setup build "$@"
fi
meson compile -C build
