#!/usr/bin/env bash
# Fuzzes one target (or all, one after the other) for a set time with libFuzzer, AddressSanitizer
# and UndefinedBehaviorSanitizer.
#   fuzz/run.sh TARGET SECONDS [libFuzzer options...]
#   fuzz/run.sh all SECONDS            # every target, SECONDS each
# TARGET: model | device | cluster | plan | simulate | measurements. Builds build-fuzz (clang,
# -Dfuzz=true) when needed. Starts from the seed corpus fuzz/corpus/TARGET and keeps what it finds
# in build-fuzz/corpus/TARGET (the seeds in the repository are not touched); a crashing input is
# written to build-fuzz/artifacts/TARGET/ and the script exits non-zero. Reproduce one with
#   build-fuzz/fuzz/fuzz_TARGET FILE
# Runs one process; run two targets at once on two cores. FUZZ_CXX names another clang++.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
targets=(model device cluster plan simulate measurements)
if [ $# -lt 2 ]; then
  echo "usage: fuzz/run.sh TARGET|all SECONDS [libFuzzer options]" >&2
  echo "targets: ${targets[*]}" >&2
  exit 2
fi
target=$1 seconds=$2
shift 2
if [ "$target" = all ]; then
  for t in "${targets[@]}"; do "$0" "$t" "$seconds" "$@"; done
  exit 0
fi
case " ${targets[*]} " in *" $target "*) ;; *) echo "fuzz/run.sh: unknown target $target (${targets[*]})" >&2; exit 2 ;; esac

build="$root/build-fuzz"
if [ ! -f "$build/build.ninja" ]; then
  CXX=${FUZZ_CXX:-clang++} meson setup "$build" "$root" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
    -Dbuildtype=debugoptimized -Dtests=false -Dbenchmarks=false -Dcuda=disabled -Dnccl=disabled -Dmpi=disabled \
    -Dcpu_native=false >/dev/null
fi
meson compile -C "$build" "fuzz_$target" >/dev/null

corpus="$build/corpus/$target"
artifacts="$build/artifacts/$target"
mkdir -p "$corpus" "$artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# -timeout: one input may take at most 2 s (each target bounds its work far below that).
exec "$build/fuzz/fuzz_$target" -max_total_time="$seconds" -timeout=2 -rss_limit_mb=2048 -max_len=8192 \
  -dict="$root/fuzz/splitsim.dict" -artifact_prefix="$artifacts/" -print_final_stats=1 "$@" \
  "$corpus" "$root/fuzz/corpus/$target"
