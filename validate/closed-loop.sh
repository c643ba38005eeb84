#!/usr/bin/env bash
# The closed loop on this machine's CPUs: bench each plan's kernels and collectives on RANKS MPI
# ranks, fit topologies/localhost-cpu.json to all of those measurements with splitsim calibrate,
# execute each plan on the calibrated profile, and check the executions (check-execution, with the
# options after --; by default the numerical check and the residual tables).
# Usage: validate/closed-loop.sh BUILD_DIR OUT_DIR RANKS PLAN... [-- CHECK-EXECUTION OPTIONS]
#   PLAN names plans/PLAN.json of the model gpt-tiny; MPIRUN (default mpirun) and STEPS (default 3)
#   come from the environment. More ranks than cores run oversubscribed: localhost-cpu.json then
#   has ranks_per_device > 1 (splitsim calibrate and execute place the ranks on its cores).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$1 out=$2 ranks=$3
shift 3
plans=()
while (($#)) && [ "$1" != "--" ]; do plans+=("$1"); shift; done
(($#)) && shift
mpirun=${MPIRUN:-mpirun}
steps=${STEPS:-3}
launch=("$mpirun" -np "$ranks" --timeout 200)
[ "$ranks" -gt "$(nproc)" ] && launch+=(--oversubscribe)
mkdir -p "$out"
measurements=()
for plan in "${plans[@]}"; do
  "${launch[@]}" "$build/splitsim-harness" bench --model "$root/models/gpt-tiny.json" --plan "$root/plans/$plan.json" \
    --backend cpu --out "$out/measurements-$plan.json" --repetitions 10 --warmup 3 --max-bytes "1 MiB" 2> "$out/bench-$plan.log"
  measurements+=("$out/measurements-$plan.json")
done
"$build/splitsim" calibrate --measurements "${measurements[@]}" --cluster "$root/topologies/localhost-cpu.json" \
  --out "$out/calibrated.json" > "$out/calibrate.txt"
tail -n 6 "$out/calibrate.txt"
executions=()
for plan in "${plans[@]}"; do
  rm -f "$out/execution-$plan.json"
  "${launch[@]}" "$build/splitsim-harness" execute --model "$root/models/gpt-tiny.json" --plan "$root/plans/$plan.json" \
    --steps "$steps" --backend cpu --cluster "$out/calibrated.json" --out "$out/execution-$plan.json" > "$out/execute-$plan.log"
  executions+=("$out/execution-$plan.json")
done
"$build/validate/check-execution" "${executions[@]}" "$@"
