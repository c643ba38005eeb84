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
  --global-batch 64 --rerank 6 --report "$work/search.html" > /dev/null
# The compare report's timeline is its first plan's (full recomputation): its trace, for the
# recomputation the chart must show.
jq '.plans[0]' "$root/plans/gpt3-175b-compare.json" > "$work/first.json"
"$splitsim" simulate --model "$root/models/gpt3-175b.json" --cluster "$root/topologies/dgx-a100-superpod.json" \
  --plan "$work/first.json" --trace "$work/first-trace.json" > /dev/null
recompute_s=$(jq '[.traceEvents[] | select(.ph == "X" and .pid == 0 and .tid == 0 and .cat == "recompute") | .dur] | add / 1e6' \
  "$work/first-trace.json")

# Measured in the rendered page by a script appended to a copy of each report (the reports
# themselves hold no script): text that leaves its chart, the recomputation drawn in stage 0's
# compute lane, and the order of the summary table's rows within each tier.
measure='<script>
(function () {
  const out = [];
  let clipped = 0;
  for (const svg of document.querySelectorAll("svg")) {
    const s = svg.getBoundingClientRect();
    for (const t of svg.querySelectorAll("text")) {
      const b = t.getBoundingClientRect();
      if (b.left < s.left - 0.5 || b.right > s.right + 0.5 || b.top < s.top - 0.5 || b.bottom > s.bottom + 0.5) {
        clipped++;
        out.push("clipped-text " + t.textContent);
      }
    }
  }
  out.push("clipped " + clipped);
  const timeline = document.getElementById("timeline");
  if (timeline) {
    const perPixel = parseFloat(timeline.dataset.seconds) / parseFloat(timeline.dataset.pixels);
    const lane = timeline.querySelector("g.lane[data-rank=\"0\"][data-stream=\"compute\"]");
    const height = parseFloat(lane.dataset.height);
    let drawn = 0;
    for (const r of lane.querySelectorAll("rect[data-kind=\"recompute\"]")) drawn += r.width.baseVal.value * r.height.baseVal.value / height;
    out.push("recompute_s " + (drawn * perPixel).toFixed(6));
  }
  let unordered = 0, previousTier = "", previousTime = 0;
  for (const row of document.querySelectorAll("#summary tr")) {
    const cells = row.querySelectorAll("td");
    if (cells.length === 0) continue;
    const tier = cells[cells.length - 1].textContent, time = parseFloat(cells[2].textContent);
    if (tier === previousTier && time < previousTime) unordered++;
    previousTier = tier;
    previousTime = time;
  }
  out.push("unordered " + unordered);
  const pre = document.createElement("pre");
  pre.id = "measure";
  pre.textContent = "\n" + out.join("\n") + "\n";
  document.body.appendChild(pre);
})();
</script>'

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
value() {  # value NAME KEY: a number the measuring script wrote
  sed -n "s/^$2 //p" "$work/$1.measured" | head -1
}
for name in simulate compare search; do
  timeout 120 "$chromium" "${flags[@]}" --dump-dom "file://$work/$name.html" > "$work/$name.dom" 2> "$work/$name.log"
  { sed 's|</body></html>||' "$work/$name.html"; printf '%s\n</body></html>\n' "$measure"; } > "$work/$name-measure.html"
  timeout 120 "$chromium" "${flags[@]}" --dump-dom "file://$work/$name-measure.html" > "$work/$name.measured" 2>> "$work/$name.log"
  if [ "$(value "$name" clipped)" != 0 ]; then
    echo "FAIL $name: text outside its chart: $(grep '^clipped-text' "$work/$name.measured" | head -3 | tr '\n' ';')"
    fail=1
  else
    echo "ok   $name: no text outside its chart"
  fi
  if [ "$name" = search ]; then  # a search ranks its plans by one estimate per tier
    if [ "$(value "$name" unordered)" != 0 ]; then
      echo "FAIL $name: summary rows out of order within a tier"
      fail=1
    else
      echo "ok   $name: summary rows in order within each tier"
    fi
  fi
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
# Recomputation on stage 0 as drawn, against the trace: within 5% (shares are drawn in twelfths of
# a lane, so each pixel rounds by at most 1/24 of its time).
drawn_s=$(value compare recompute_s)
if awk -v d="$drawn_s" -v t="$recompute_s" 'BEGIN { exit !(t > 1 && d > 0.95 * t && d < 1.05 * t) }'; then
  echo "ok   compare: recomputation drawn on stage 0: ${drawn_s} s of ${recompute_s} s in the trace"
else
  echo "FAIL compare: recomputation drawn on stage 0: ${drawn_s} s, the trace holds ${recompute_s} s"
  fail=1
fi
# The search report lists each plan in its summary table, not only in tooltips.
check search 'class="plan">tp=' 6
check search '<svg id="pareto"' 1
check search 'class="front"' 1
check search 'class="candidate"' 50
exit $fail
