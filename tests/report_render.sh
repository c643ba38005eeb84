#!/usr/bin/env bash
# Renders the HTML reports of simulate, compare and search in headless Chromium: each must load
# without network access, hold its SVG charts in the rendered DOM, and screenshot to a PNG.
# Usage: report_render.sh SPLITSIM CHROMIUM SOURCE_ROOT WORKDIR
set -euo pipefail
splitsim=$1 chromium=$2 root=$3 work=$4
rm -rf "$work" && mkdir -p "$work"

"$splitsim" simulate --model "$root/models/gpt3-175b.json" --cluster "$root/topologies/dgx-a100-superpod.json" \
  --plan "$root/plans/gpt3-175b-1024gpu.json" --report "$work/simulate.html" > /dev/null
"$splitsim" compare --model "$root/models/gpt3-175b.json" --cluster "$root/topologies/dgx-a100-superpod.json" \
  --plans "$root/plans/gpt3-175b-compare.json" --report "$work/compare.html" > /dev/null
"$splitsim" search --model "$root/models/gpt-1.7b.json" --cluster "$root/topologies/dgx-a100-superpod.json" --nodes 4 \
  --global-batch 64 --rerank 8 --report "$work/search.html" > /dev/null

flags=(--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update --disable-sync
       --no-first-run --user-data-dir="$work/profile" --window-size=1300,2400)
fail=0
check() {  # check NAME PATTERN MINIMUM-COUNT
  local n
  n=$(grep -o "$2" "$work/$1.dom" | wc -l)
  if [ "$n" -lt "$3" ]; then
    echo "FAIL $1: '$2' found $n times, expected at least $3"
    fail=1
  else
    echo "ok   $1: '$2' x $n"
  fi
}
for name in simulate compare search; do
  timeout 120 "$chromium" "${flags[@]}" --dump-dom "file://$work/$name.html" > "$work/$name.dom" 2> "$work/$name.log"
  timeout 120 "$chromium" "${flags[@]}" --screenshot="$work/$name.png" "file://$work/$name.html" >> "$work/$name.log" 2>&1
  if ! head -c 8 "$work/$name.png" | grep -q PNG || [ "$(stat -c %s "$work/$name.png")" -lt 20000 ]; then
    echo "FAIL $name: no screenshot"
    fail=1
  else
    echo "ok   $name: screenshot $(stat -c %s "$work/$name.png") bytes"
  fi
  check "$name" '<svg id="time-breakdown"' 1
  check "$name" '<svg id="memory-0"' 1
  check "$name" 'class="segment"' 5
  check "$name" '<svg id="memory-timeline"' 1
  check "$name" 'class="memory-curve"' 1
  check "$name" 'class="memory-peak"' 1
  check "$name" '<svg id="timeline"' 1
  check "$name" 'class="task"' 10
done
check compare '<svg id="memory-3"' 1
check search '<svg id="pareto"' 1
check search 'class="front"' 1
check search 'class="candidate"' 50
exit $fail
