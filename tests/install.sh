#!/usr/bin/env bash
# `meson install` into a staging folder (DESTDIR), then the installed splitsim run from an empty
# directory: it reports the project's version, and finds the shipped models, clusters and plans
# under <prefix>/share/splitsim, next to the executable, wherever the prefix was copied.
# Usage: install.sh BUILD_DIR PREFIX VERSION WORKDIR
set -euo pipefail
build=$1 prefix=$2 version=$3 work=$4
rm -rf "$work" && mkdir -p "$work/empty"
meson install -C "$build" --no-rebuild --quiet --destdir "$work/stage"
root="$work/stage$prefix"
fail=0
check() {  # check DESCRIPTION COMMAND...: the command must succeed
  local what=$1; shift
  if "$@" > "$work/last.out" 2>&1; then echo "ok   $what"; else echo "FAIL $what"; sed 's/^/     /' "$work/last.out" | tail -5; fail=1; fi
}
for f in bin/splitsim bin/splitsim-harness share/splitsim/models/llama3-8b.json share/splitsim/models/hf/llama-3-8b.json \
         share/splitsim/topologies/dgx-a100-superpod.json share/splitsim/topologies/devices/a100-80gb.json \
         share/splitsim/plans/tiny-tp2-dp2.json; do
  check "installed $f" test -f "$root/$f"
done
# The Python module, where the build made one, lands in Python's package folder under the prefix.
if [ -n "$(find "$build/python" -maxdepth 1 -name 'splitsim*.so' 2>/dev/null)" ]; then
  check "installed the Python module" bash -c "find '$work/stage' -name 'splitsim*.so' -path '*-packages/*' | grep -q ."
fi
cd "$work/empty"
check "splitsim --version prints splitsim $version" bash -c "[ \"\$('$root/bin/splitsim' --version)\" = 'splitsim $version' ]"
check "simulate with shipped data from an empty directory" \
  "$root/bin/splitsim" simulate --model models/gpt-tiny.json --cluster topologies/localhost-cpu-4ranks.json \
  --plan plans/tiny-tp2-dp2.json --tier analytical --format json
check "hf: config from an empty directory" \
  "$root/bin/splitsim" simulate --model hf:models/hf/llama-3-8b.json --cluster topologies/dgx-h100-superpod.json --nodes 1 \
  --plan plans/llama3-8b-8gpu.json --tier analytical --format json
check "harness --help" "$root/bin/splitsim-harness" --help
# A file that is neither here nor in the data folder is still an error naming it, exit code 2.
set +e
"$root/bin/splitsim" simulate --model models/no-such-model.json --cluster topologies/localhost-cpu-4ranks.json \
  --plan plans/tiny-tp2-dp2.json > "$work/missing.out" 2>&1
rc=$?
set -e
if [ $rc -eq 2 ] && grep -q "models/no-such-model.json" "$work/missing.out"; then echo "ok   missing file: exit 2 naming it"; else
  echo "FAIL missing file: exit $rc"; cat "$work/missing.out"; fail=1; fi
exit $fail
