#!/usr/bin/env bash
# GPU check of the validation harness on a bare GPU machine (the CUDA toolkit; meson, ninja and the
# nvidia-nccl wheel from pip; no -dev packages, no MPI, no network), in at most 6 minutes with
# the build. Each step has a budget in seconds (the table below) and is stopped when it runs past
# it; the budgets add up to less than 6 minutes. The steps:
#   tools       nvcc (through wrappers: the real toolkit), meson, ninja, NCCL, the GPUs
#   configure   the harness only: -Dsimulator=false -Dmpi=disabled -Dwerror=false, -Dheader_deps
#   build       splitsim-harness, check-measurements, check-execution, test_kernels_cuda
#   test-kernels-cuda           every CUDA kernel against the CPU reference; NCCL on all local GPUs
#   bench-gpt-1.7b-1gpu         GPT-1.7B's kernels (tp 1) at 3 token scales, checked on the GPU's data
#   bench-llama2-7b-tp8-1gpu    Llama 2 7B's kernels under tp 8 (RMSNorm, SwiGLU)
#   bench-collectives           with 2 or more GPUs: NCCL collectives over all of them, one process
#   execute-gpt-tiny-fp32, execute-gpt-tiny-bf16, execute-gpt-check-bf16
#                               training steps on one GPU, checked against the CPU backend's steps
#   pack        everything into OUTDIR
# What comes back: OUTDIR with 5 files and no folders. summary.txt (one line per step: PASS, FAIL
# or SKIP, seconds taken, budget, the result), gpu-check.log (this script's log),
# measurements-gpt-1.7b-1gpu.json, execution-gpt-check-bf16.json, and gpu-check-files.tar.gz with
# everything else (step logs, nvidia-smi output, the other JSON files, the plans, meson-log.txt,
# compile_commands.json).
# summary.txt and gpu-check.log are written as the steps run, so they survive a run that is cut off.
#
# Usage: validate/gpu-check.sh [--dry-run] OUTDIR [DEPS_DIR]
#        validate/gpu-check.sh --budgets    (prints the budgets; exit 1 if they exceed 6 minutes)
#   DEPS_DIR: header-only dependencies (nlohmann/, eigen3/, CLI/, doctest/) copied by
#   validate/collect-header-deps.sh on a machine with the -dev packages; not needed where those
#   headers are installed.
#   --dry-run: a machine without a GPU (CI, tests/gpu_check_dry_run.sh) walks every step: the
#   build is real, the GPU runs become CPU-backend runs of small stand-in models in fp32 (a CPU
#   process alone measures no collectives), and the CUDA kernel test may report itself skipped.
# Environment: GPU_CHECK_BUILD (build directory, default build-gpu-check in the source tree),
# PYTHON (a Python with meson, ninja or the NCCL wheel, besides those found on the PATH and in
# /opt/*/.venv), GPU_CHECK_DRY_GPUS (GPUs a dry run pretends to have, default 2),
# GPU_CHECK_BUDGET_SCALE (dry run only: a whole factor on every step's time limit, for a machine
# slower than the GPU machine's 16 cores; the summary still states the budgets).
set -uo pipefail

# ---- budgets --------------------------------------------------------------------------------------
target_s=360
steps=(tools configure build test-kernels-cuda bench-gpt-1.7b-1gpu bench-llama2-7b-tp8-1gpu bench-collectives
       execute-gpt-tiny-fp32 execute-gpt-tiny-bf16 execute-gpt-check-bf16 pack)
declare -A budget=(
  [tools]=10 [configure]=25 [build]=120 [test-kernels-cuda]=25 [bench-gpt-1.7b-1gpu]=45
  [bench-llama2-7b-tp8-1gpu]=30 [bench-collectives]=30 [execute-gpt-tiny-fp32]=15 [execute-gpt-tiny-bf16]=15
  [execute-gpt-check-bf16]=25 [pack]=10)
budget_sum=0
for s in "${steps[@]}"; do budget_sum=$((budget_sum + ${budget[$s]})); done

dry_run=0
case "${1:-}" in
  --budgets)
    for s in "${steps[@]}"; do printf '%-28s %4d s\n' "$s" "${budget[$s]}"; done
    printf '%-28s %4d s of %d s\n' total "$budget_sum" "$target_s"
    [ "$budget_sum" -le "$target_s" ]
    exit ;;
  --dry-run) dry_run=1; shift ;;
esac
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 [--dry-run] OUTDIR [DEPS_DIR] | $0 --budgets" >&2
  exit 2
fi
if [ "$budget_sum" -gt "$target_s" ]; then
  echo "gpu-check: the step budgets add up to $budget_sum s, more than $target_s s" >&2
  exit 2
fi
mkdir -p "$1" || exit 2
out=$(cd "$1" && pwd)
deps=""
if [ $# -eq 2 ]; then
  [ -d "$2" ] || { echo "gpu-check: DEPS_DIR $2 does not exist" >&2; exit 2; }
  deps=$(cd "$2" && pwd)
fi
scale=1
if [ "$dry_run" -eq 1 ]; then
  scale=${GPU_CHECK_BUDGET_SCALE:-1}
  [[ "$scale" =~ ^[1-9][0-9]*$ ]] || { echo "gpu-check: GPU_CHECK_BUDGET_SCALE must be a whole number" >&2; exit 2; }
fi
root=$(cd "$(dirname "$0")/.." && pwd)
build=${GPU_CHECK_BUILD:-$root/build-gpu-check}
work=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX") || exit 2
summary="$out/summary.txt"
logfile="$out/gpu-check.log"
archive="$out/gpu-check-files.tar.gz"
rm -f "$summary" "$logfile" "$archive" "$out"/measurements-*.json "$out"/execution-*.json
: > "$summary"
: > "$logfile"
started=$(date +%s.%N)
failures=0

log() { echo "gpu-check: $*" | tee -a "$logfile" >&2; }
seconds_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# ---- steps ----------------------------------------------------------------------------------------
# step_begin NAME; commands run with `within` get what is left of the step's budget, their output
# in WORK/NAME.log; step_end STATUS [RESULT] writes the summary line.
step=""
step_started=0
step_deadline=0
step_begin() {
  step=$1
  step_started=$(date +%s.%N)
  step_deadline=$(( $(date +%s) + ${budget[$step]} * scale ))
  log "$step (budget ${budget[$step]} s)"
}
within() {
  local left=$((step_deadline - $(date +%s)))
  if [ "$left" -le 0 ]; then
    echo "(out of the step's budget before: $*)" >> "$work/$step.log"
    return 124
  fi
  echo "\$ $*" >> "$work/$step.log"
  timeout -k 5 "$left" "$@" >> "$work/$step.log" 2>&1
  local rc=$?
  [ "$rc" -eq 124 ] && echo "(stopped at the step's time limit of $(( ${budget[$step]} * scale )) s)" >> "$work/$step.log"
  return "$rc"
}
step_end() {  # step_end PASS|FAIL|SKIP [RESULT]
  local status=$1 result=${2:-}
  local took
  took=$(seconds_since "$step_started")
  # Only a dry run's scaled limits let a step outlast its budget; the line says so.
  awk -v t="$took" -v b="${budget[$step]}" 'BEGIN { exit !(t > b) }' && result="(over its budget) $result"
  printf '%-4s %-28s %6s s of %3d s  %s\n' "$status" "$step" "$took" "${budget[$step]}" "$result" >> "$summary"
  log "$status $step in $took s${result:+: $result}"
  if [ "$status" = FAIL ]; then
    failures=$((failures + 1))
    [ -f "$work/$step.log" ] && tail -n 20 "$work/$step.log" >&2
  fi
  return 0
}
skip_step() {  # skip_step NAME WHY
  printf '%-4s %-28s %6s s of %3d s  %s\n' SKIP "$1" 0.0 "${budget[$1]}" "$2" >> "$summary"
  log "SKIP $1: $2"
}

# ---- packing (also when the script stops early) ---------------------------------------------------
packed=0
pack() {
  [ "$packed" -eq 1 ] && return 0
  packed=1
  step_begin pack
  cp "$build/meson-logs/meson-log.txt" "$build/compile_commands.json" "$work/" 2> /dev/null
  # A log of more than 4 MiB keeps its first and last MiB, so the archive stays far below 16 MiB.
  local f
  for f in "$work"/*; do
    if [ -f "$f" ] && [ "$(stat -c %s "$f")" -gt $((4 << 20)) ]; then
      { head -c $((1 << 20)) "$f"; printf '\n[... cut ...]\n'; tail -c $((1 << 20)) "$f"; } > "$f.cut" && mv "$f.cut" "$f"
    fi
  done
  if tar -czf "$archive" -C "$work" . 2>> "$logfile"; then
    step_end PASS "$(tar -tzf "$archive" | grep -vc '/$') files, $(du -k "$archive" | cut -f1) KiB"
  else
    step_end FAIL "tar failed"
  fi
  rm -rf "$work"
  local total
  total=$(seconds_since "$started")
  echo "total ${total} s (budgets ${budget_sum} s, target ${target_s} s); ${failures} step(s) failed" >> "$summary"
  log "results in $out: $(cd "$out" && ls | tr '\n' ' ')"
  cat "$summary"
}
trap pack EXIT
trap 'exit 143' TERM INT

# ---- tools ----------------------------------------------------------------------------------------
step_begin tools
[ "$dry_run" -eq 1 ] && echo "dry run: GPU runs are CPU-backend runs of stand-in models; time limits x $scale" >> "$summary"
die() { step_end FAIL "$1"; exit 1; }

# A program on the PATH that can run (bash's `command -v` also reports a file it cannot run).
runnable() { local p; p=$(command -v "$1") && [ -f "$p" ] && [ -x "$p" ]; }

# Pythons that may hold meson, ninja or the NCCL wheel.
pythons=()
for p in "${PYTHON:-}" "$(command -v python3 2> /dev/null)" "$(command -v python 2> /dev/null)" /opt/*/.venv/bin/python3 \
         /opt/*/bin/python3 /usr/local/bin/python3 /usr/bin/python3; do
  [ -n "$p" ] && [ -x "$p" ] && pythons+=("$p")
done
python_with() {  # the first Python that imports module $1
  local p
  for p in "${pythons[@]}"; do
    "$p" -c "import $1" 2> /dev/null && { echo "$p"; return 0; }
  done
  return 1
}

# The CUDA toolkit: CUDA_PATH or CUDA_HOME, else the real nvcc behind the one on the PATH (a link
# resolved, or a wrapper script asked where it runs nvcc from), else /usr/local/cuda.
toolkit_at() { [ -n "$1" ] && [ -x "$1/bin/nvcc" ] && [ -f "$1/include/cuda_runtime.h" ]; }
cuda_root=""
for c in "${CUDA_PATH:-}" "${CUDA_HOME:-}"; do
  if toolkit_at "$c"; then cuda_root=$(cd "$c" && pwd); break; fi
done
if [ -z "$cuda_root" ] && runnable nvcc; then
  c=$(dirname "$(dirname "$(realpath "$(command -v nvcc)")")")
  if toolkit_at "$c"; then
    cuda_root=$c
  else
    # `nvcc --dryrun` prints the directory of the nvcc that runs as _HERE_.
    here=$(nvcc --dryrun -x cu -c /dev/null -o /dev/null 2>&1 | sed -n 's/^#\$ _HERE_=//p' | head -n 1)
    [ -n "$here" ] && toolkit_at "$(dirname "$here")" && cuda_root=$(cd "$(dirname "$here")" && pwd)
  fi
fi
[ -z "$cuda_root" ] && toolkit_at /usr/local/cuda && cuda_root=/usr/local/cuda
[ -n "$cuda_root" ] || die "no CUDA toolkit (CUDA_PATH, nvcc on the PATH, /usr/local/cuda)"
export CUDA_PATH=$cuda_root
export PATH="$cuda_root/bin:$PATH"

if runnable meson; then
  meson=(meson)
elif py=$(python_with mesonbuild); then
  meson=("$py" -m mesonbuild.mesonmain)
else
  die "meson not found (PATH, or the Python package mesonbuild)"
fi
# Meson runs the ninja it finds on the PATH or in $NINJA.
if ! runnable ninja; then
  py=$(python_with ninja) || die "ninja not found (PATH, or the Python package ninja)"
  ninja_bin=$("$py" - << 'EOF'
import os, sys
import ninja
candidates = [os.path.join(d, "ninja") for d in [getattr(ninja, "BIN_DIR", None), os.path.dirname(sys.executable)] if d]
print(next((c for c in candidates if os.access(c, os.X_OK)), ""))
EOF
)
  if [ -z "$ninja_bin" ]; then  # only `python -m ninja`
    ninja_bin="$work/ninja"
    printf '#!/bin/sh\nexec "%s" -m ninja "$@"\n' "$py" > "$ninja_bin"
    chmod +x "$ninja_bin"
  fi
  export NINJA=$ninja_bin
  export PATH="$(dirname "$ninja_bin"):$PATH"
fi
ninja=${NINJA:-ninja}

# NCCL: the nvidia-nccl wheel (site-packages/nvidia/nccl/{include/nccl.h,lib/libnccl.so.2}, the
# same in the cu12 and cu13 wheels), else next to the toolkit; without it no collectives.
nccl_opts=(-Dnccl=auto)
nccl_from="none"
for p in "${pythons[@]}"; do
  nccl_dir=$("$p" - << 'EOF' 2> /dev/null
import importlib.util, os
spec = importlib.util.find_spec("nvidia.nccl")
for path in (spec.submodule_search_locations or []) if spec else []:
    if os.path.isfile(os.path.join(path, "include", "nccl.h")) and os.path.isdir(os.path.join(path, "lib")):
        print(path)
        break
EOF
)
  if [ -n "$nccl_dir" ]; then
    nccl_opts=(-Dnccl=enabled "-Dnccl_dir=$nccl_dir")
    nccl_from="wheel $nccl_dir"
    export LD_LIBRARY_PATH="$nccl_dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    break
  fi
done
[ "$nccl_from" = none ] && [ -f "$cuda_root/include/nccl.h" ] && nccl_from="toolkit $cuda_root"
export LD_LIBRARY_PATH="$cuda_root/lib64:$cuda_root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

deps_opt=()
if [ -n "$deps" ]; then
  for d in nlohmann eigen3 CLI doctest; do
    [ -d "$deps/$d" ] || die "$deps/$d missing: fill DEPS_DIR with validate/collect-header-deps.sh"
  done
  deps_opt=("-Dheader_deps=$deps")
fi

# The GPUs: their count and compute capability (a dry run pretends).
gpus=0
arch=90
if [ "$dry_run" -eq 1 ]; then
  gpus=${GPU_CHECK_DRY_GPUS:-2}
elif command -v nvidia-smi > /dev/null; then
  nvidia-smi > "$work/nvidia-smi.txt" 2>&1
  nvidia-smi -q > "$work/nvidia-smi-q.txt" 2>&1
  nvidia-smi topo -m > "$work/nvidia-smi-topo.txt" 2>&1
  gpus=$(nvidia-smi -L 2> /dev/null | grep -c '^GPU')
  cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2> /dev/null | head -n 1 | tr -d ' .')
  [[ "$cap" =~ ^[0-9]+$ ]] && arch=$cap
fi
archs=90
[ "$arch" != 90 ] && archs="90,$arch"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(hostname)"
  echo "git: $(git -C "$root" rev-parse HEAD 2> /dev/null || echo unknown)"
  echo "cuda toolkit: $cuda_root ($(nvcc --version | tail -n 2 | tr '\n' ' '))"
  echo "host compiler: $(c++ --version 2> /dev/null | head -n 1)"
  echo "meson: ${meson[*]} $("${meson[@]}" --version)"
  echo "ninja: $ninja $("$ninja" --version)"
  echo "nccl: $nccl_from"
  echo "header-only dependencies: ${deps:-installed}"
  echo "gpus: $gpus, compute capability $arch"
} > "$work/tools.txt" 2>&1
cat "$work/tools.txt" >> "$logfile"
step_end PASS "$gpus GPU(s), sm_$arch, CUDA at $cuda_root, NCCL: $nccl_from"

# ---- configure and build --------------------------------------------------------------------------
# The harness only; warnings are never errors here (a newer host compiler may warn where the
# project's compilers do not). The native file names the toolkit's nvcc, not a wrapper.
printf "[binaries]\ncuda = '%s'\n" "$cuda_root/bin/nvcc" > "$work/native.ini"
step_begin configure
rm -rf "$build"
if within "${meson[@]}" setup "$build" "$root" --native-file "$work/native.ini" -Dsimulator=false -Dbenchmarks=false \
    -Dtests=true -Dmpi=disabled -Dcuda=enabled "${nccl_opts[@]}" "-Dgpu_architectures=$archs" -Dwerror=false \
    "${deps_opt[@]}"; then
  step_end PASS "$(grep -E '^ +(CUDA|NCCL)' "$work/configure.log" | tr -s ' ' | tr '\n' ';')"
else
  die "see configure.log"
fi

step_begin build
if within "$ninja" -C "$build" splitsim-harness validate/check-measurements validate/check-execution tests/test_kernels_cuda; then
  step_end PASS "$(grep -c ' warning: ' "$work/build.log") compiler warnings"
else
  die "see build.log"
fi
harness="$build/splitsim-harness"

# ---- correctness: CUDA kernels against the CPU reference ------------------------------------------
step_begin test-kernels-cuda
within "$build/tests/test_kernels_cuda"
rc=$?
if [ "$rc" -eq 0 ]; then
  step_end PASS "$(grep -E 'test cases:' "$work/$step.log" | tail -n 1 | tr -s ' ')"
elif [ "$rc" -eq 77 ] && [ "$dry_run" -eq 1 ]; then
  step_end PASS "dry run: host checks only ($(tail -n 1 "$work/$step.log"))"
else
  step_end FAIL "exit $rc"
fi

# ---- what runs: the GPU, or in a dry run the CPU backend on stand-in models -----------------------
backend=cuda
precision=bf16
gpt=$root/models/gpt-1.7b.json
llama=$root/models/llama2-7b.json
check_model=$work/model-gpt-check.json
# 4 layers of hidden 1024 (GEMMs over k = 1024 and 4096, rows of 32000 logits): large enough for
# every kernel to run many blocks, small enough for the CPU backend's reference steps to take a few
# seconds (3 steps of 2 sequences of 256 tokens, about 0.8 TFLOP).
cat > "$check_model" << 'EOF'
{"name": "GPT check (4 layers, hidden 1024, 16 heads, sequence 256, vocabulary 32000)", "layers": 4,
 "hidden": 1024, "heads": 16, "vocab": 32000, "seq_len": 256, "dropout": false}
EOF
devices=(--devices 1)
if [ "$dry_run" -eq 1 ]; then
  backend=cpu
  precision=fp32
  gpt=$root/models/gpt-tiny.json
  llama=$work/model-llama-tiny.json
  cat > "$llama" << 'EOF'
{"name": "Llama-shaped stand-in for a dry run", "layers": 2, "hidden": 128, "heads": 8, "vocab": 512, "seq_len": 128,
 "ffn_hidden": 256, "activation": "swiglu", "norm": "rmsnorm", "position_embedding": "rotary", "linear_bias": false,
 "tied_embeddings": false}
EOF
  check_model=$root/models/gpt-tiny.json
  devices=()
fi
plan() {  # plan FILE TP DP PRECISION MICRO GLOBAL
  cat > "$1" << EOF
{"name": "gpu-check: tp $2 x dp $3, $4", "tp": $2, "pp": 1, "dp": $3, "micro_batch": $5, "global_batch": $6,
 "precision": "$4"}
EOF
}

# ---- benches ----------------------------------------------------------------------------------------
bench() {  # bench STEP MODEL PLAN "CHECK OPTIONS" [harness options]
  local name=$1 model=$2 planfile=$3 check_opts=$4
  shift 4
  step_begin "$name"
  local json="$work/measurements-${name#bench-}.json"
  within "$harness" bench --model "$model" --plan "$planfile" --backend "$backend" --out "$json" \
    --repetitions 20 --warmup 5 --timeout 30 "$@"
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    step_end FAIL "the bench failed (exit $rc)"
    return
  fi
  # shellcheck disable=SC2086
  if within "$build/validate/check-measurements" "$json" $check_opts; then
    step_end PASS "$(tail -n 1 "$work/$step.log" | sed 's/^.*: ok: //')"
  else
    step_end FAIL "check-measurements: $(tail -n 1 "$work/$step.log")"
  fi
}

# One GPU: GPT-1.7B (LayerNorm, GeLU) at its shard shapes with tp 1, and Llama 2 7B's shapes
# under tp 8 (RMSNorm, SwiGLU), kernels only.
plan "$work/plan-1gpu.json" 1 1 "$precision" 1 1
plan "$work/plan-llama-tp8.json" 8 1 "$precision" 1 1
bench bench-gpt-1.7b-1gpu "$gpt" "$work/plan-1gpu.json" "--min-kernels 100 --min-collectives 0" \
  "${devices[@]}" --no-collectives
cp "$work/measurements-gpt-1.7b-1gpu.json" "$out/" 2> /dev/null
bench bench-llama2-7b-tp8-1gpu "$llama" "$work/plan-llama-tp8.json" "--min-kernels 50 --min-collectives 0" \
  "${devices[@]}" --no-collectives

# All local GPUs from one process: tensor groups of 2 where the count is even, data groups over the
# rest, and the world group; collectives from 1 KiB to 256 MiB, no kernels. A dry run's single CPU
# process has no peers, so it measures no collectives and is held to none.
if [ "$gpus" -lt 2 ]; then
  skip_step bench-collectives "one GPU"
elif [ "$nccl_from" = none ] && [ "$dry_run" -eq 0 ]; then
  skip_step bench-collectives "$gpus GPUs but no NCCL"
else
  if [ $((gpus % 2)) -eq 0 ]; then tp=2; else tp=1; fi
  plan "$work/plan-${gpus}gpu.json" "$tp" $((gpus / tp)) "$precision" 1 $((gpus / tp))
  min_collectives=1
  collective_devices=(--devices "$gpus")
  if [ "$dry_run" -eq 1 ]; then min_collectives=0; collective_devices=(); fi
  bench bench-collectives "$gpt" "$work/plan-${gpus}gpu.json" "--min-kernels 0 --min-collectives $min_collectives" \
    "${collective_devices[@]}" --no-kernels --max-bytes "256 MiB"
fi

# ---- execute: training steps on one GPU against the CPU backend's steps -----------------------------
# The harness-only build has no MPI, so execute runs one rank (tp = pp = dp = 1) and predicts
# nothing (no simulator in this build). The reference is the same model, seed and tokens on the
# CPU backend in fp32, within the precision's tolerance: gpt-tiny in fp32 (loss within 1e-5) and in
# bf16, and a 4-layer GPT of hidden 1024 in bf16.
execute() {  # execute STEP MODEL PRECISION MICRO GLOBAL [check-execution options]
  local name=$1 model=$2 prec=$3 micro=$4 global=$5
  shift 5
  [ "$dry_run" -eq 1 ] && prec=fp32
  step_begin "$name"
  local planfile="$work/plan-${name#execute-}.json" json="$work/execution-${name#execute-}.json"
  plan "$planfile" 1 1 "$prec" "$micro" "$global"
  within "$harness" execute --model "$model" --plan "$planfile" --steps 3 --backend "$backend" --reference cpu \
    --out "$json" --timeout 30
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    step_end FAIL "execute failed (exit $rc)"
    return
  fi
  if within "$build/validate/check-execution" "$json" --steps 3 --reference cpu "$@"; then
    step_end PASS "$(grep -o 'loss within [^,]*, gradient norm within [^)]*)' "$work/$step.log" | tail -n 1)"
  else
    step_end FAIL "check-execution: $(tail -n 1 "$work/$step.log")"
  fi
}
execute execute-gpt-tiny-fp32 "$root/models/gpt-tiny.json" fp32 2 8 --loss-tolerance 1e-5
execute execute-gpt-tiny-bf16 "$root/models/gpt-tiny.json" bf16 2 8
execute execute-gpt-check-bf16 "$check_model" bf16 1 2
cp "$work/execution-gpt-check-bf16.json" "$out/" 2> /dev/null

pack
trap - EXIT
[ "$failures" -eq 0 ]
