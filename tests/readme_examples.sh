#!/usr/bin/env bash
# Runs every command of README.md's sh blocks that uses what the build made, exactly as printed and
# in order: build/splitsim, build/splitsim-harness under mpirun (when there is one), and
# build/validate/check-*, with their continuation lines (of a line "A && B", B). They run in a
# directory other than the repository root that holds the data folders the commands name and the
# build's executables under build/. Each must exit 0. validate-published also runs from an empty
# directory: it finds its data next to the executable. The build, fuzzing and GPU-check procedures
# of the README (setup.sh, meson setup, fuzz/run.sh, validate/gpu-check.sh) are not run here. In a
# sanitized build (SPLITSIM_SANITIZED) the planning commands, each minutes of searches there, are
# left to the plain build.
# Usage: readme_examples.sh SOURCE_ROOT WORKDIR SPLITSIM HARNESS CHECK_MEASUREMENTS CHECK_EXECUTION
set -euo pipefail
root=$1 work=$2 splitsim=$3 harness=$4 check_measurements=$5 check_execution=$6
rm -rf "$work" && mkdir -p "$work/build/validate" "$work/empty"
for dir in models topologies plans validate; do ln -s "$root/$dir" "$work/$dir"; done
ln -s "$splitsim" "$work/build/splitsim"
ln -s "$harness" "$work/build/splitsim-harness"
ln -s "$check_measurements" "$work/build/validate/check-measurements"
ln -s "$check_execution" "$work/build/validate/check-execution"

# The commands: sh blocks only, backslash continuations joined.
mapfile -t commands < <(awk '
  /^```sh/ { inside = 1; next }
  /^```/   { inside = 0; next }
  inside {
    line = $0
    if (pending != "") { line = pending " " line; pending = "" }
    if (line ~ /\\$/) { sub(/\\$/, "", line); pending = line; next }
    sub(/^.*&& /, "", line)
    if (line ~ /^build\// || line ~ /mpirun .*build\/splitsim-harness /) print line
  }' "$root/README.md")

if [ "${#commands[@]}" -lt 10 ]; then
  echo "FAIL: only ${#commands[@]} commands found in README.md"
  exit 1
fi
fail=0
for command in "${commands[@]}"; do
  if [[ "$command" == *mpirun* ]] && ! command -v mpirun > /dev/null; then
    echo "skip $command (no mpirun)"
    continue
  fi
  if [ -n "${SPLITSIM_SANITIZED:-}" ] && [[ "$command" =~ ^build/splitsim\ (estimate|sensitivity|requirements)\  ]]; then
    echo "skip $command (sanitized build: the plain build runs it)"
    continue
  fi
  if (cd "$work" && bash -c "$command" > "$work/last.out" 2>&1); then
    echo "ok   $command"
  else
    echo "FAIL $command"
    sed 's/^/     /' "$work/last.out" | tail -5
    fail=1
  fi
done
if (cd "$work/empty" && "$splitsim" validate-published > /dev/null); then
  echo "ok   validate-published from an empty directory"
else
  echo "FAIL validate-published from an empty directory"
  fail=1
fi
exit $fail
