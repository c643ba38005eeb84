#!/usr/bin/env bash
# validate/gpu-check.sh --dry-run in a rebuilt GPU-machine environment, then checks what it left.
# The environment, under WORK:
#   deps/           the header-only dependencies as validate/collect-header-deps.sh copies them
#   cuda/           the CUDA toolkit without NCCL (links to the real one, nccl*.h and libnccl* left out)
#   bin/nvcc        a wrapper script that runs cuda/bin/nvcc: the only nvcc on the PATH, no
#                   CUDA_PATH, so gpu-check.sh must find the toolkit behind it
#   site-packages/  NCCL laid out as the nvidia-nccl wheels (cu12 and cu13) lay it out:
#                   nvidia/nccl/{include/nccl.h, lib/libnccl.so.2}, found through PYTHONPATH
# Where `unshare -m` may mount (root, or a user namespace), a private mount namespace also hides
# the Debian copies of the headers with their pkg-config and CMake files, and /usr/bin/meson and
# /usr/bin/ninja (meson then runs as `python3 -m mesonbuild.mesonmain`, ninja from a stand-in of
# the pip package `ninja`). Elsewhere the test says it could not hide them and checks the rest.
# The checks: every step passed; OUTDIR holds at most 8 files, no folders, named [A-Za-z0-9._-];
# the budgets add up to at most 6 minutes and each step's line in summary.txt states its time and
# budget; compile_commands.json compiled kernels.cu with the toolkit's nvcc (not the wrapper),
# nccl.cpp with the wheel's headers, and the rest with the copied headers and never the Debian
# ones; and where they were hidden, ninja's dependency records show the headers read came from
# the copies and the wheel.
# WORK is a directory outside the source tree named after BUILD_DIR (Meson takes absolute include
# directories only outside the source tree), the same on every run so that ccache finds the objects.
# NO_NAMESPACE=1 runs it as on a machine that allows no mount namespace.
# Usage: gpu_check_dry_run.sh SOURCE_ROOT NVCC BUILD_DIR
set -euo pipefail

# Inside the private mount namespace: hide, then run the rest of the command line.
if [ "${1:-}" = --hidden ]; then
  shift
  for d in /usr/include/nlohmann /usr/include/eigen3 /usr/include/CLI /usr/include/doctest /usr/share/pkgconfig \
           /usr/share/cmake/nlohmann_json /usr/share/cmake/CLI11 /usr/share/eigen3 /usr/lib/cmake/doctest; do
    [ -d "$d" ] && mount -t tmpfs -o size=1m none "$d"
  done
  for f in /usr/bin/meson /usr/bin/ninja; do
    [ -e "$f" ] && mount --bind /dev/null "$f"
  done
  exec "$@"
fi

root=$1 nvcc=$2
work="${TMPDIR:-/tmp}/splitsim-gpu-check-$(realpath "$3" | md5sum | cut -c1-12)"
real_cuda=$(dirname "$(dirname "$(realpath "$nvcc")")")
fail() { echo "gpu_check_dry_run: $*" >&2; exit 1; }
mkdir -p "$work"
echo "gpu_check_dry_run: environment and build in $work"
rm -rf "$work/out" "$work/cuda" "$work/bin" "$work/site-packages"

# ---- the environment --------------------------------------------------------------------------------
"$root/validate/collect-header-deps.sh" "$work/deps" > /dev/null

# The toolkit without NCCL: directories of links to the real entries.
mirror() {  # mirror SOURCE_DIR DEST_DIR: links to every entry but NCCL's
  mkdir -p "$2"
  local e
  for e in "$1"/*; do
    case "$(basename "$e")" in nccl*|libnccl*) continue ;; esac
    ln -s "$e" "$2/$(basename "$e")"
  done
}
mkdir -p "$work/cuda/targets/x86_64-linux"
for e in "$real_cuda"/*; do
  case "$(basename "$e")" in bin|include|lib|lib64|targets) ;; *) ln -s "$e" "$work/cuda/$(basename "$e")" ;; esac
done
mirror "$real_cuda/bin" "$work/cuda/bin"
mirror "$(realpath "$real_cuda/include")" "$work/cuda/targets/x86_64-linux/include"
mirror "$(realpath "$real_cuda/lib64")" "$work/cuda/targets/x86_64-linux/lib"
ln -s targets/x86_64-linux/include "$work/cuda/include"
ln -s targets/x86_64-linux/lib "$work/cuda/lib64"
[ -f "$real_cuda/include/nccl.h" ] || fail "the toolkit at $real_cuda has no nccl.h to lay out as a wheel"

# NCCL as the wheel lays it out (a hard link where the file system allows, else a copy).
wheel="$work/site-packages/nvidia/nccl"
mkdir -p "$wheel/include" "$wheel/lib"
: > "$wheel/__init__.py"
cp "$real_cuda/include/nccl.h" "$wheel/include/"
lib=$(realpath "$real_cuda/lib64/libnccl.so.2")
ln "$lib" "$wheel/lib/libnccl.so.2" 2> /dev/null || cp "$lib" "$wheel/lib/libnccl.so.2"

# nvcc only through a wrapper; the toolkit's bin directory off the PATH.
mkdir -p "$work/bin"
printf '#!/bin/sh\nexec "%s" "$@"\n' "$work/cuda/bin/nvcc" > "$work/bin/nvcc"
chmod +x "$work/bin/nvcc"
path="$work/bin"
IFS=: read -ra dirs <<< "$PATH"
for d in "${dirs[@]}"; do
  [ -x "$d/nvcc" ] || path="$path:$d"
done

# The pip package `ninja` as a stand-in: BIN_DIR holds a ninja (copied before /usr/bin/ninja is hidden).
mkdir -p "$work/site-packages/ninja/data/bin"
cp "$(command -v ninja)" "$work/site-packages/ninja/data/bin/ninja"
cat > "$work/site-packages/ninja/__init__.py" << 'EOF'
import os
BIN_DIR = os.path.join(os.path.dirname(__file__), "data", "bin")
EOF

hide=()
hidden=0
if [ -z "${NO_NAMESPACE:-}" ] && unshare -m sh -c 'mount -t tmpfs none /usr/include/doctest' 2> /dev/null; then
  hide=(unshare -m "$0" --hidden)
  hidden=1
else
  echo "gpu_check_dry_run: no private mount namespace here: the Debian headers, meson and ninja stay visible," \
    "so which headers the build read is not checked"
fi

# ---- the dry run -----------------------------------------------------------------------------------
rc=0
env -u CUDA_PATH -u CUDA_HOME -u CUDA_ROOT PATH="$path" PYTHONPATH="$work/site-packages" \
  GPU_CHECK_BUILD="$work/build" GPU_CHECK_DRY_GPUS=2 GPU_CHECK_BUDGET_SCALE=${GPU_CHECK_BUDGET_SCALE:-6} \
  "${hide[@]}" "$root/validate/gpu-check.sh" --dry-run "$work/out" "$work/deps" > "$work/gpu-check.out" 2>&1 || rc=$?
cat "$work/out/summary.txt"
[ "$rc" -eq 0 ] || { tail -n 40 "$work/gpu-check.out" >&2; fail "gpu-check.sh --dry-run exited with $rc"; }

# ---- what came back -------------------------------------------------------------------------------
files=$(find "$work/out" -mindepth 1)
[ "$(echo "$files" | wc -l)" -le 8 ] || fail "more than 8 entries in OUTDIR: $files"
for f in $files; do
  [ -f "$f" ] || fail "$f is not a plain file (OUTDIR holds no folders)"
  [[ "$(basename "$f")" =~ ^[A-Za-z0-9._-]+$ ]] || fail "$f: a name outside [A-Za-z0-9._-]"
  [ "$(stat -c %s "$f")" -le $((16 << 20)) ] || fail "$f is larger than 16 MiB"
done
for f in summary.txt gpu-check.log measurements-gpt-1.7b-1gpu.json execution-gpt-check-bf16.json gpu-check-files.tar.gz; do
  [ -f "$work/out/$f" ] || fail "$f missing from OUTDIR"
done
tar -tzf "$work/out/gpu-check-files.tar.gz" > "$work/archive.txt"
for f in tools.txt build.log bench-gpt-1.7b-1gpu.log execute-gpt-check-bf16.log measurements-llama2-7b-tp8-1gpu.json \
         execution-gpt-tiny-fp32.json compile_commands.json; do
  grep -q "^./$f\$" "$work/archive.txt" || fail "the archive lacks $f"
done

# ---- the budgets ------------------------------------------------------------------------------------
"$root/validate/gpu-check.sh" --budgets > "$work/budgets.txt" || fail "the budgets exceed 6 minutes: $(tail -n 1 "$work/budgets.txt")"
sum=$(awk '$1 != "total" { s += $2 } END { print s }' "$work/budgets.txt")
[ "$sum" -le 360 ] || fail "the budgets add up to $sum s"
# Every step of the table has one line: its status, seconds taken and budget; none failed.
while read -r step seconds _; do
  [ "$step" = total ] && continue
  grep -Eq "^(PASS|SKIP) +$step +[0-9.]+ s of +$seconds s" "$work/out/summary.txt" || fail "summary.txt: no PASS line for $step within $seconds s"
done < "$work/budgets.txt"
grep -q '^total .* 0 step(s) failed' "$work/out/summary.txt" || fail "summary.txt: no total line"
grep -q '^PASS bench-collectives ' "$work/out/summary.txt" || fail "the multi-GPU step was not walked"

# ---- which toolkit, NCCL and headers the build used ---------------------------------------------------
cc="$work/build/compile_commands.json"
command_of() { python3 -c 'import json, sys; print(next(e["command"] for e in json.load(open(sys.argv[1])) if e["file"].endswith(sys.argv[2])))' "$cc" "$1"; }
cu=$(command_of kernels/cuda/kernels.cu)
[[ "$cu" == *"$work/cuda/bin/nvcc "* ]] || fail "kernels.cu was not compiled by the toolkit's nvcc: $cu"
[[ "$cu" != *"$work/bin/nvcc "* ]] || fail "kernels.cu was compiled through the wrapper: $cu"
nccl_cpp=$(command_of kernels/cuda/nccl.cpp)
[[ "$nccl_cpp" == *"-isystem$wheel/include"* || "$nccl_cpp" == *"-isystem $wheel/include"* ]] || fail "nccl.cpp without the wheel's headers: $nccl_cpp"
grep -q "$wheel/lib/libnccl.so.2" "$work/build/build.ninja" || fail "the harness does not link the wheel's libnccl.so.2"
# ninja's records of the headers each object read (as the compiler reported them).
ninja -C "$work/build" -t deps > "$work/deps.txt"
grep -q "$wheel/include/nccl.h" "$work/deps.txt" || fail "no object read the wheel's nccl.h"
! grep -q "$real_cuda/.*nccl.h" "$work/deps.txt" || fail "an object read the toolkit's nccl.h"
if [ "$hidden" -eq 1 ]; then
  # Meson takes the copies only where it finds no installed package, as on the GPU machine.
  grep -q -- "-isystem *$work/deps/eigen3" "$cc" || fail "no compile command uses the copied Eigen"
  grep -q -- "-isystem *$work/deps\b" "$cc" || fail "no compile command uses the copied nlohmann, CLI and doctest"
  ! grep -Eq '/usr/include/(nlohmann|eigen3|CLI|doctest)' "$cc" || fail "a compile command uses a Debian header directory"
  grep -q "$work/deps/nlohmann/json.hpp" "$work/deps.txt" || fail "no object read the copied nlohmann/json.hpp"
  grep -q "$work/deps/eigen3/Eigen/Core" "$work/deps.txt" || fail "no object read the copied Eigen/Core"
  ! grep -Eq '/usr/include/(nlohmann|eigen3|CLI|doctest)/' "$work/deps.txt" || fail "an object read a Debian header"
  grep -q 'meson: .*-m mesonbuild.mesonmain' "$work/out/gpu-check.log" || fail "meson was not run as a Python module"
  grep -q "ninja: $work/site-packages/ninja/data/bin/ninja" "$work/out/gpu-check.log" || fail "ninja was not taken from the Python package"
  echo "gpu_check_dry_run: Debian headers, meson and ninja hidden; the build read the copies, the wheel and the toolkit behind the wrapper"
fi
grep -q "cuda toolkit: $work/cuda " "$work/out/gpu-check.log" || fail "gpu-check.sh did not find the toolkit behind the wrapper"
grep -q "nccl: wheel $wheel" "$work/out/gpu-check.log" || fail "gpu-check.sh did not find the NCCL wheel"
echo "gpu_check_dry_run: every step walked; OUTDIR has $(echo "$files" | wc -l) files; budgets $sum s of 360 s"
