#!/usr/bin/env bash
# The CPU harness bench as CI runs it: 4 ranks (oversubscribed on small machines) on gpt-tiny with
# tp 2 x dp 2, then check-measurements on the JSON rank 0 wrote.
# Usage: harness_bench.sh MPIRUN HARNESS CHECKER SOURCE_ROOT OUT_JSON
set -euo pipefail
mpirun=$1 harness=$2 checker=$3 root=$4 out=$5
rm -f "$out"
"$mpirun" -np 4 --oversubscribe --timeout 100 "$harness" bench \
  --model "$root/models/gpt-tiny.json" --plan "$root/plans/tiny-tp2-dp2.json" \
  --backend cpu --out "$out" --repetitions 10 --warmup 3 --max-bytes "1 MiB"
# 35 kernel entries x 3 sizes; 6 collectives x 11 sizes x 3 groups.
"$checker" "$out" --min-kernels 100 --min-collectives 198
