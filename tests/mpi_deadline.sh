#!/usr/bin/env bash
# A collective whose peer never arrives ends the MPI job at the communicator's deadline (0.5 s)
# with a message naming it, long before the peer's 20 s wait or mpirun's own --timeout.
# Usage: mpi_deadline.sh MPIRUN PROGRAM
set -uo pipefail
mpirun=$1 program=$2
start=$(date +%s)
output=$("$mpirun" -np 2 --oversubscribe --timeout 30 "$program" 2>&1)
status=$?
elapsed=$(( $(date +%s) - start ))
echo "$output"
echo "status $status after ${elapsed} s"
[ "$status" -ne 0 ] || { echo "FAIL: the job did not fail"; exit 1; }
grep -q "rank 0: all_reduce of 1024 elements over 2 ranks did not complete within 0.5 s" <<<"$output" \
  || { echo "FAIL: no deadline message"; exit 1; }
[ "$elapsed" -lt 15 ] || { echo "FAIL: the job was not ended at the deadline"; exit 1; }
echo PASS
