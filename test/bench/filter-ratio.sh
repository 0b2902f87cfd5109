#!/usr/bin/env bash
# The opsworks filter's CPU cost as a fraction of the equivalent Lua filter's,
# in a real Fluent Bit, in one run: on log files and on one event per record.
#
#   FLUENT_BIT_BIN=/path/to/fluent-bit test/bench/filter-ratio.sh [events] [input...]
#
# events defaults to 100000; an input is FORMAT:SHARE, FORMAT `files` (each
# NDJSON line one log file {"Records":[250 events]}, the shape tail + json
# parser and cloudtrail_s3's record_mode object produce) or `events` (one
# event per line), SHARE the fraction of OpsWorks events. Default inputs:
# files:1.0 files:0.01 events:1.0 events:0.01. Per input, BENCH_REPEAT
# (default 5) rounds of, in turn:
#   baseline   tail + json parser -> counter, no filter
#   drop       + a grep filter that keeps only the last line (baseline-drop.conf)
#   opsworks   + the opsworks filter with retag off (opsworks-retag-off.conf)
#   lua        + opsworks.lua alone (lua.conf; lua-records.conf for log files,
#              whose opsworks_records splits them)
#   before     (only with BENCH_BEFORE=<git ref>) the opsworks filter built
#              from that commit, same config: a before/after in the same run
# ratio = (opsworks CPU - baseline CPU) / (lua CPU - baseline CPU), medians.
# When most events are dropped the filtered pipeline can cost less than the
# baseline (which hands every record to the output), so the cost and the
# ratio go negative: the ratio is also given above the drop baseline, which
# spares the output that work too, and of whole-pipeline CPU. Each input ends
# with a line {"bench_end":"yes"} (not CloudTrail: every pipeline passes it),
# so that the drop pipeline delivers one record when it is done.
# Every run must deliver exactly the expected records (the files or events
# for baseline, the OpsWorks events otherwise), or the script fails.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$REPO/test/bench/lib.sh"
source "$REPO/test/bench/pipeline.sh"
skip_without_fluent_bit

EVENTS="${1:-100000}"
shift || true
INPUTS=("$@")
[ ${#INPUTS[@]} -gt 0 ] || INPUTS=(files:1.0 files:0.01 events:1.0 events:0.01)
REPEAT="${BENCH_REPEAT:-5}"
PER_FILE=250

WORK="$(mktemp -d "${TMPDIR:-/tmp}/opsworks-ratio.XXXXXX")"
[ -n "${BENCH_KEEP:-}" ] && echo "keeping $WORK" || trap 'rm -rf "$WORK"' EXIT

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "building the plugin ..."
build_plugin
PIPES=(baseline drop opsworks lua)
if [ -n "${BENCH_BEFORE:-}" ]; then
    echo "building the plugin at $BENCH_BEFORE ..."
    mkdir "$WORK/before"
    (cd "$REPO" && git archive "$BENCH_BEFORE") | tar -x -C "$WORK/before"
    # The plugin file must be named flb-filter_opsworks.so: Fluent Bit takes
    # the plugin name from it.
    (cd "$WORK/before" && go build -buildmode=c-shared -o "$WORK/before/flb-filter_opsworks.so" ./plugin/opsworks) || die "building $BENCH_BEFORE failed"
    printf '[PLUGINS]\n    Path %s\n' "$WORK/before/flb-filter_opsworks.so" >"$WORK/plugins-before.conf"
    PIPES+=(before)
fi
"$FLUENT_BIT_BIN" --version | head -1

declare -A CPU
failed=0
for in in "${INPUTS[@]}"; do
    format=${in%%:*} share=${in#*:}
    input="$WORK/$format-$share.ndjson"
    case $format in
    files) gen_input "$EVENTS" "$share" "$input" "$PER_FILE"; lua=lua-records ;;
    events) gen_input "$EVENTS" "$share" "$input"; lua=lua ;;
    *) die "input $in: format must be files or events" ;;
    esac
    echo '{"bench_end":"yes"}' >>"$input"
    lines=$(wc -l <"$input")
    ow=$(($(opsworks_lines "$input") + 1))
    echo "input $in: $lines lines, $EVENTS events ($(du -h "$input" | cut -f1)), $((ow - 1)) from OpsWorks"
    declare -A SAMPLES=()
    for i in $(seq "$REPEAT"); do
        for pipe in "${PIPES[@]}"; do
            conf=$pipe expected=$ow plugins="$WORK/plugins.conf"
            case $pipe in
            baseline) expected=$lines ;;
            drop) conf=baseline-drop expected=1 ;;
            opsworks) conf=opsworks-retag-off ;;
            lua) conf=$lua ;;
            before) conf=opsworks-retag-off plugins="$WORK/plugins-before.conf" ;;
            esac
            BENCH_PLUGINS_FILE="$plugins" run_fluent_bit "$conf.conf" "$input" "$expected" "$pipe-$format-$share-$i"
            printf '  %-9s run %d: cpu %7.3f s, %d records, exit %s\n' "$pipe" "$i" "$RUN_CPU" "$RUN_RECORDS" "$RUN_RC"
            if [ "$RUN_RC" != 0 ] || [ "$RUN_RECORDS" != "$expected" ]; then
                echo "  FAILED: expected $expected records and exit 0; log:" >&2
                tail -20 "$WORK/$pipe-$format-$share-$i.err" >&2 || true
                failed=1
            fi
            SAMPLES[$pipe]="${SAMPLES[$pipe]:-} $RUN_CPU"
        done
    done
    for pipe in "${PIPES[@]}"; do
        # shellcheck disable=SC2086 # the samples are words
        CPU[$in,$pipe]=$(median ${SAMPLES[$pipe]})
    done
    unset SAMPLES
done

echo
echo "CPU seconds (user+sys, median of $REPEAT runs), $EVENTS events per input; cost = pipeline - baseline"
header=$(printf '%-13s %9s' input baseline)
for pipe in "${PIPES[@]:1}"; do header+=$(printf ' %9s %7s' "$pipe" cost); done
echo "$header  ratio opsworks/lua${BENCH_BEFORE:+  ratio before/lua}  above drop: opsworks/lua${BENCH_BEFORE:+  before/lua}  cpu opsworks/lua"
for in in "${INPUTS[@]}"; do
    b=${CPU[$in,baseline]}
    line=$(printf '%-13s %9.3f' "$in" "$b")
    for pipe in "${PIPES[@]:1}"; do
        line+=$(awk -v c="${CPU[$in,$pipe]}" -v b="$b" 'BEGIN { printf " %9.3f %7.3f", c, c - b }')
    done
    ratio() { awk -v o="$1" -v l="${CPU[$in,lua]}" -v b="$2" 'BEGIN { if (l - b > 0) printf "%.2f", (o - b) / (l - b); else printf "n/a" }'; }
    line+="  $(ratio "${CPU[$in,opsworks]}" "$b")"
    [ -z "${BENCH_BEFORE:-}" ] || line+="  $(ratio "${CPU[$in,before]}" "$b")"
    line+="  $(ratio "${CPU[$in,opsworks]}" "${CPU[$in,drop]}")"
    [ -z "${BENCH_BEFORE:-}" ] || line+="  $(ratio "${CPU[$in,before]}" "${CPU[$in,drop]}")"
    line+="  $(awk -v o="${CPU[$in,opsworks]}" -v l="${CPU[$in,lua]}" 'BEGIN { printf "%.2f", o / l }')"
    echo "$line"
done
exit "$failed"
