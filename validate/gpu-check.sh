#!/usr/bin/env bash
# GPU check of the validation harness on a bare GPU machine: builds the harness only (no Boost, no
# MPI) with the CUDA toolkit, NCCL (toolkit or the nvidia-nccl Python wheel) and header-only
# dependencies from DEPS_DIR, runs the CUDA kernel tests against the CPU reference, then short
# benches on one GPU and, where there are several, on all of them from one process
# (ncclCommInitAll), and short execute runs (training steps against the unsharded run) on one GPU.
# Everything it produces goes under OUTDIR: logs, nvidia-smi output, measurements-*.json,
# execution-*.json and summary.txt. Exits non-zero when any step fails.
#
# Usage: validate/gpu-check.sh OUTDIR [DEPS_DIR]
#   DEPS_DIR: made by validate/collect-header-deps.sh on a machine with the -dev packages
#   (nlohmann/, eigen3/, CLI/, doctest/); not needed where those headers are installed.
# Needs: nvcc (PATH or /usr/local/cuda/bin), cuBLAS, a C++20 host compiler, ninja, meson (on
# PATH or as python3 -m mesonbuild.mesonmain). Budget: about 5 minutes.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 OUTDIR [DEPS_DIR]" >&2
  exit 2
fi
mkdir -p "$1"
out=$(cd "$1" && pwd)
deps=""
if [ $# -eq 2 ]; then
  [ -d "$2" ] || { echo "gpu-check: DEPS_DIR $2 does not exist" >&2; exit 2; }
  deps=$(cd "$2" && pwd)
fi
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-gpu-check"
summary="$out/summary.txt"
: > "$summary"
started=$(date +%s)

log() { echo "gpu-check: $*" | tee -a "$out/gpu-check.log" >&2; }
step_ok() { echo "PASS $1" >> "$summary"; log "PASS $1"; }
step_fail() { echo "FAIL $1" >> "$summary"; log "FAIL $1 (see $2)"; failures=$((failures + 1)); }
die() { echo "FAIL $1" >> "$summary"; log "FAIL $1"; exit 1; }
failures=0

# Runs a step with a time limit, its output in OUTDIR/NAME.log; records PASS or FAIL.
run_step() {
  local name=$1 limit=$2
  shift 2
  log "$name: $*"
  if timeout "$limit" "$@" > "$out/$name.log" 2>&1; then
    step_ok "$name"
  else
    local rc=$?
    [ "$rc" -eq 124 ] && echo "(timed out after $limit s)" >> "$out/$name.log"
    step_fail "$name (exit $rc)" "$out/$name.log"
    tail -n 15 "$out/$name.log" >&2 || true
    return 1
  fi
}

# ---- tools --------------------------------------------------------------------------------------
if ! command -v nvcc > /dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi
command -v nvcc > /dev/null || die "nvcc not found (PATH, /usr/local/cuda/bin)"
cuda_root=$(dirname "$(dirname "$(command -v nvcc)")")
command -v ninja > /dev/null || die "ninja not found on PATH"
if command -v meson > /dev/null; then
  meson=(meson)
elif python3 -c 'import mesonbuild' 2> /dev/null; then
  meson=(python3 -m mesonbuild.mesonmain)
else
  die "meson not found (PATH or the Python package)"
fi
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(hostname)"
  echo "nvcc: $(nvcc --version | tail -n 2 | tr '\n' ' ')"
  echo "host compiler: $(c++ --version 2> /dev/null | head -n 1 || echo none)"
  echo "meson: $("${meson[@]}" --version)"
  echo "ninja: $(ninja --version)"
  echo "git: $(git -C "$root" rev-parse HEAD 2> /dev/null || echo unknown)"
} > "$out/tools.txt"
log "tools: $(tr '\n' ';' < "$out/tools.txt")"

# ---- GPUs ----------------------------------------------------------------------------------------
gpus=0
arch=90
if command -v nvidia-smi > /dev/null; then
  nvidia-smi > "$out/nvidia-smi.txt" 2>&1 || true
  nvidia-smi -q > "$out/nvidia-smi-q.txt" 2>&1 || true
  nvidia-smi topo -m > "$out/nvidia-smi-topo.txt" 2>&1 || true
  gpus=$(nvidia-smi -L 2> /dev/null | grep -c '^GPU' || true)
  cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2> /dev/null | head -n 1 | tr -d ' .' || true)
  [[ "$cap" =~ ^[0-9]+$ ]] && arch=$cap
else
  log "nvidia-smi not found; the CUDA runtime will count the GPUs"
fi
log "GPUs: $gpus, compute capability $arch"
archs=90
[ "$arch" != 90 ] && archs="90,$arch"

# ---- NCCL and header-only dependencies ------------------------------------------------------------
nccl_opts=(-Dnccl=auto)
nccl_lib=""
have_nccl=0
[ -f "$cuda_root/include/nccl.h" ] && have_nccl=1
if [ "$have_nccl" -eq 0 ]; then
  # The nvidia-nccl wheel: .../site-packages/nvidia/nccl/{include/nccl.h,lib/libnccl.so.2}.
  nccl_dir=$(python3 - << 'EOF' 2> /dev/null || true
import os
import nvidia.nccl as n
path = n.__file__ and os.path.dirname(n.__file__) or list(n.__path__)[0]
print(path)
EOF
)
  if [ -n "$nccl_dir" ] && [ -f "$nccl_dir/include/nccl.h" ]; then
    nccl_opts=(-Dnccl=enabled "-Dnccl_dir=$nccl_dir")
    nccl_lib="$nccl_dir/lib"
    have_nccl=1
    log "NCCL from the Python wheel: $nccl_dir"
  else
    log "NCCL not found (toolkit or nvidia-nccl wheel): collectives will not be measured"
  fi
fi
deps_opt=()
if [ -n "$deps" ]; then
  for d in nlohmann eigen3 CLI doctest; do
    [ -d "$deps/$d" ] || die "$deps/$d missing: fill DEPS_DIR with validate/collect-header-deps.sh"
  done
  deps_opt=("-Dheader_deps=$deps")
fi
export LD_LIBRARY_PATH="$cuda_root/lib64${nccl_lib:+:$nccl_lib}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# ---- build ----------------------------------------------------------------------------------------
config=(-Dsimulator=false -Dbenchmarks=false -Dtests=true -Dmpi=disabled -Dcuda=enabled "${nccl_opts[@]}"
        "-Dgpu_architectures=$archs" "${deps_opt[@]}")
rm -rf "$build"
if ! run_step configure 120 "${meson[@]}" setup "$build" "$root" "${config[@]}"; then
  die "configure: see $out/configure.log"
fi
if ! run_step build 240 ninja -C "$build"; then
  # A newer host compiler may warn where this project's compiler did not: try once without werror
  # so the GPU results still come, and say so.
  log "retrying the build with -Dwerror=false"
  "${meson[@]}" configure "$build" -Dwerror=false > /dev/null
  run_step build-without-werror 240 ninja -C "$build" || die "build: see $out/build.log"
fi
cp "$build/meson-logs/meson-log.txt" "$out/meson-log.txt" 2> /dev/null || true

# ---- correctness: CUDA kernels against the CPU reference ------------------------------------------
run_step test-kernels-cuda 120 "$build/tests/test_kernels_cuda" || true
run_step test-kernels-cpu 60 "$build/tests/test_kernels_cpu" || true
run_step test-harness 60 "$build/tests/test_harness" || true

# ---- benches ----------------------------------------------------------------------------------------
harness="$build/splitsim-harness"
checker="$build/validate/check-measurements"
plan() {  # plan FILE TP DP
  cat > "$1" << EOF
{"name": "gpu-check: tp $2 x dp $3", "tp": $2, "pp": 1, "dp": $3, "micro_batch": 1, "global_batch": $3,
 "precision": "bf16"}
EOF
}
bench() {  # bench NAME MODEL PLAN MIN_COLLECTIVES [harness options]
  local name=$1 model=$2 planfile=$3 min=$4
  shift 4
  if run_step "bench-$name" 150 "$harness" bench --model "$root/models/$model.json" --plan "$planfile" \
      --backend cuda --out "$out/measurements-$name.json" --repetitions 20 --warmup 5 --timeout 60 "$@"; then
    run_step "check-$name" 30 "$checker" "$out/measurements-$name.json" --min-collectives "$min" || true
  fi
}

# One GPU: GPT-1.7B (LayerNorm, GeLU) at its shard shapes with tp 1, and Llama 2 7B's shapes under
# tp 8 (RMSNorm, SwiGLU), kernels only.
plan "$out/plan-1gpu.json" 1 1
plan "$out/plan-llama-tp8.json" 8 1
bench gpt-1.7b-1gpu gpt-1.7b "$out/plan-1gpu.json" 0 --devices 1 || true
bench llama2-7b-tp8-1gpu llama2-7b "$out/plan-llama-tp8.json" 0 --devices 1 --no-collectives || true

# All local GPUs from one process: tensor groups of 2 where the count is even, data groups over
# the rest, and the world group; collectives from 1 KiB to 1 GiB.
if [ "$gpus" -gt 1 ] && [ "$have_nccl" -eq 0 ]; then
  log "several GPUs but no NCCL: no multi-GPU collectives"
elif [ "$gpus" -gt 1 ]; then
  if [ $((gpus % 2)) -eq 0 ]; then tp=2; else tp=1; fi
  plan "$out/plan-${gpus}gpu.json" "$tp" $((gpus / tp))
  bench "gpt-1.7b-${gpus}gpu" gpt-1.7b "$out/plan-${gpus}gpu.json" 1 --devices "$gpus" --no-kernels || true
else
  log "one GPU: no multi-GPU collectives"
fi

# ---- execute: training steps on one GPU against the same steps unsharded ---------------------------
# The harness-only build has no MPI, so execute runs one rank: tp = 1 (several GPUs would need one
# process per GPU under mpirun) and no prediction (no simulator in this build). gpt-tiny in fp32
# (tolerance 1e-5 on the loss) and in bf16, and a 4-layer GPT of hidden 1024 in bf16.
exec_checker="$build/validate/check-execution"
cat > "$out/model-gpt-check.json" << 'EOF'
{"name": "GPT check (4 layers, hidden 1024, 16 heads, sequence 1024, vocabulary 32000)", "layers": 4,
 "hidden": 1024, "heads": 16, "vocab": 32000, "seq_len": 1024, "dropout": false}
EOF
exec_plan() {  # exec_plan FILE PRECISION MICRO GLOBAL
  cat > "$1" << EOF
{"name": "gpu-check execute: one GPU, $2", "tp": 1, "pp": 1, "dp": 1, "micro_batch": $3, "global_batch": $4,
 "precision": "$2"}
EOF
}
execute() {  # execute NAME MODEL PLAN [check-execution options]
  local name=$1 model=$2 planfile=$3
  shift 3
  if run_step "execute-$name" 150 "$harness" execute --model "$model" --plan "$planfile" --steps 3 --backend cuda \
      --out "$out/execution-$name.json" --timeout 60; then
    run_step "check-execution-$name" 30 "$exec_checker" "$out/execution-$name.json" --steps 3 "$@" || true
  fi
}
exec_plan "$out/plan-exec-fp32.json" fp32 2 8
exec_plan "$out/plan-exec-bf16.json" bf16 2 8
exec_plan "$out/plan-exec-check.json" bf16 2 8
execute gpt-tiny-fp32 "$root/models/gpt-tiny.json" "$out/plan-exec-fp32.json" --loss-tolerance 1e-5 || true
execute gpt-tiny-bf16 "$root/models/gpt-tiny.json" "$out/plan-exec-bf16.json" || true
execute gpt-check-bf16 "$out/model-gpt-check.json" "$out/plan-exec-check.json" || true

elapsed=$(( $(date +%s) - started ))
echo "elapsed ${elapsed} s" >> "$summary"
if [ "$failures" -gt 0 ]; then
  log "$failures step(s) failed in ${elapsed} s; see $summary"
  exit 1
fi
log "all steps passed in ${elapsed} s; results in $out"
