#!/usr/bin/env bash
# splitsim-harness execute as CI runs it: the closed loop (validate/closed-loop.sh: bench, calibrate,
# execute, residuals) twice on gpt-tiny (4 layers, hidden 128), 3 steps per plan, every step's loss
# within 1e-5 (fp32) of the unsharded run on one rank and each predicted peak memory within 5%:
#  - as many ranks as this machine has cores (2): TP 2 with sequence parallelism, PP 2 under 1F1B
#    with 8 micro-batches, DP 2 with ZeRO-1;
#  - 4 ranks on 2 cores: TP 2 x PP 2 (GPipe, selective recomputation), DP 2 x TP 2 (ZeRO-1, full
#    recomputation), PP 4 (1F1B).
# The predicted iteration must be within 75% of the measured one: a bound loose enough for a shared
# CI machine, far from the README's figures (which say how far the loop is from closing).
# Then bad input: a plan the harness does not execute, and a plan whose ranks do not match the run,
# each exit code 2.
# Usage: harness_execute.sh MPIRUN HARNESS CHECKER SPLITSIM SOURCE_ROOT OUT_DIR BUILD_DIR
set -euo pipefail
mpirun=$1 harness=$2 checker=$3 splitsim=$4 root=$5 out=$6 build=$7
mkdir -p "$out"
checks=(--steps 3 --loss-tolerance 1e-5 --grad-tolerance 1e-4 --require-prediction --memory-tolerance 0.05
        --iteration-tolerance 0.75)
# A loop whose checks fail runs once more: a timing bound on a machine that something else loads
# for a moment can fail once; the numerical checks fail every time.
closed_loop() {  # closed_loop NAME RANKS PLAN...
  local name=$1
  shift
  MPIRUN=$mpirun "$root/validate/closed-loop.sh" "$build" "$out/$name" "$@" -- "${checks[@]}" && return
  echo "== $name: checks failed; the loop runs once more"
  MPIRUN=$mpirun "$root/validate/closed-loop.sh" "$build" "$out/$name-again" "$@" -- "${checks[@]}"
}
echo "== ranks = cores (2)"
closed_loop two 2 tiny-tp2-sp tiny-pp2-1f1b tiny-dp2-zero1
echo "== 4 ranks on 2 cores"
closed_loop four 4 tiny-tp2-pp2 tiny-dp2-tp2-zero1 tiny-pp4-1f1b
[ "$splitsim" -ef "$build/splitsim" ] && [ "$checker" -ef "$build/validate/check-execution" ]

# The reference named by --reference: one rank checked against the CPU backend's run is recorded
# as such, and check-execution holds a file to the reference asked for.
cat > "$out/plan-one.json" << 'JSON'
{"tp": 1, "pp": 1, "dp": 1, "micro_batch": 2, "global_batch": 4, "precision": "fp32"}
JSON
"$harness" execute --model "$root/models/gpt-tiny.json" --plan "$out/plan-one.json" --steps 2 --backend cpu \
  --reference cpu --out "$out/execution-one.json" > /dev/null
"$checker" "$out/execution-one.json" --steps 2 --reference cpu > /dev/null
if "$checker" "$out/execution-one.json" --reference unsharded > /dev/null 2>&1; then
  echo "check-execution accepted a file checked against the cpu backend as checked unsharded" >&2
  exit 1
fi
echo "reference: recorded and required by kind"

# Bad input: one line naming the file and the JSON path, exit code 2.
expect_input_error() {  # expect_input_error PATTERN command...
  local pattern=$1 rc=0
  shift
  "$@" > "$out/bad.out" 2> "$out/bad.err" || rc=$?
  if [ "$rc" -ne 2 ] || ! grep -q -- "$pattern" "$out/bad.err"; then
    echo "expected exit code 2 and '$pattern', got $rc:" >&2
    cat "$out/bad.err" >&2
    exit 1
  fi
}
cat > "$out/plan-cp2.json" << 'JSON'
{"tp": 1, "pp": 1, "dp": 2, "cp": 2, "micro_batch": 1, "global_batch": 2, "precision": "fp32", "flash_attention": true}
JSON
expect_input_error "plan-cp2.json: /cp: context parallelism is not executed" \
  "$harness" execute --model "$root/models/gpt-tiny.json" --plan "$out/plan-cp2.json" --steps 1
expect_input_error "tiny-pp4-1f1b.json: tp x pp x dp = 4 ranks but this run has 1" \
  "$harness" execute --model "$root/models/gpt-tiny.json" --plan "$root/plans/tiny-pp4-1f1b.json" --steps 1
echo "bad input: exit code 2 with the file and JSON path"
