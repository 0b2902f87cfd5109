#!/usr/bin/env bash
# CPU cost of the native opsworks filter against an equivalent Lua filter, in
# a real Fluent Bit.
#
#   FLUENT_BIT_BIN=/path/to/fluent-bit test/bench/run.sh [events] [share...]
#
# events defaults to 25000, shares to "1.0 0.01" (all OpsWorks; 1 % OpsWorks,
# closer to a real trail). For each input it runs four pipelines (configs in
# this directory) three times and keeps the median CPU time:
#   baseline     tail + json parser -> counter, no filter
#   opsworks     + the opsworks filter (Go plugin, re-tags via its emitter)
#   lua+rewrite  + opsworks.lua + rewrite_tag (the equivalent pipeline)
#   lua          + opsworks.lua alone (no re-tagging)
# filter cost = pipeline CPU - baseline CPU. Every run must deliver exactly the
# expected records (all lines for baseline, the OpsWorks events otherwise), or
# the script fails.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$REPO/test/bench/lib.sh"
source "$REPO/test/bench/pipeline.sh"
skip_without_fluent_bit

EVENTS="${1:-25000}"
shift || true
SHARES=("$@")
[ ${#SHARES[@]} -gt 0 ] || SHARES=(1.0 0.01)
REPEAT="${BENCH_REPEAT:-3}"
CONFIGS=(baseline opsworks lua-rewrite lua)

WORK="$(mktemp -d "${TMPDIR:-/tmp}/opsworks-bench.XXXXXX")"
[ -n "${BENCH_KEEP:-}" ] && echo "keeping $WORK" || trap 'rm -rf "$WORK"' EXIT

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "building the plugin and generating $EVENTS events per input ..."
build_plugin
"$FLUENT_BIT_BIN" --version | head -1

declare -A CPU RECORDS
failed=0
for share in "${SHARES[@]}"; do
    input="$WORK/events-$share.ndjson"
    gen_input "$EVENTS" "$share" "$input"
    lines=$(wc -l <"$input")
    ow=$(opsworks_lines "$input")
    echo "input share=$share: $lines events ($(du -h "$input" | cut -f1)), $ow from OpsWorks"
    for conf in "${CONFIGS[@]}"; do
        expected=$ow
        [ "$conf" = baseline ] && expected=$lines
        samples=()
        for i in $(seq "$REPEAT"); do
            run_fluent_bit "$conf.conf" "$input" "$expected" "$conf-$share-$i"
            printf '  %-12s run %d: cpu %6.3f s, %d records, exit %s\n' "$conf" "$i" "$RUN_CPU" "$RUN_RECORDS" "$RUN_RC"
            if [ "$RUN_RC" != 0 ] || [ "$RUN_RECORDS" != "$expected" ]; then
                echo "  FAILED: expected $expected records and exit 0; log: " >&2
                tail -20 "$WORK/$conf-$share-$i.err" >&2 || true
                failed=1
            fi
            samples+=("$RUN_CPU")
        done
        CPU[$share,$conf]=$(median "${samples[@]}")
        RECORDS[$share,$conf]=$RUN_RECORDS
    done
    if [ "${RECORDS[$share,opsworks]}" != "${RECORDS[$share,lua]}" ] || [ "${RECORDS[$share,opsworks]}" != "${RECORDS[$share,lua-rewrite]}" ]; then
        echo "  MISMATCH: opsworks delivered ${RECORDS[$share,opsworks]} records, lua+rewrite ${RECORDS[$share,lua-rewrite]}, lua ${RECORDS[$share,lua]}" >&2
        failed=1
    fi
done

echo
echo "CPU seconds (user+sys, median of $REPEAT runs), $EVENTS events per input"
printf '%-14s %-12s %9s %12s %9s\n' input config cpu_s filter_cost records
for share in "${SHARES[@]}"; do
    base=${CPU[$share,baseline]}
    for conf in "${CONFIGS[@]}"; do
        cost=$(awk -v a="${CPU[$share,$conf]}" -v b="$base" 'BEGIN { printf "%.3f", a - b }')
        [ "$conf" = baseline ] && cost="-"
        printf '%-14s %-12s %9.3f %12s %9s\n' "share=$share" "$conf" "${CPU[$share,$conf]}" "$cost" "${RECORDS[$share,$conf]}"
    done
done
echo
# Cost ratios are only meaningful when the opsworks pipeline costs more than
# the baseline: with few OpsWorks events it can cost less, because dropping
# most records early saves the routing and output work the baseline does for
# every record. The ratio of whole-pipeline CPU is printed as well.
printf '%-14s %13s %22s %13s %22s\n' input "cost: ow/lua" "cost: ow/(lua+rewrite)" "cpu: ow/lua" "cpu: ow/(lua+rewrite)"
for share in "${SHARES[@]}"; do
    awk -v b="${CPU[$share,baseline]}" -v o="${CPU[$share,opsworks]}" -v l="${CPU[$share,lua]}" -v r="${CPU[$share,lua-rewrite]}" -v s="share=$share" '
        function cost(x, y) { return (x - b) > 0 && (y - b) > 0 ? sprintf("%.2f", (x - b) / (y - b)) : "n/a" }
        BEGIN { printf "%-14s %13s %22s %13.2f %22.2f\n", s, cost(o, l), cost(o, r), o / l, o / r }'
done
exit "$failed"
