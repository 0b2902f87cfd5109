#!/usr/bin/env bash
# Checks that opsworks.lua (alone and with rewrite_tag) produces the same
# records as the native opsworks filter: same tag, time, keys and values.
#
#   FLUENT_BIT_BIN=/path/to/fluent-bit test/bench/compare.sh [events] [share]
#
# Input: a generated sample (default 3000 events, half OpsWorks) followed by
# edge-cases.ndjson (time formats, identity shapes, redaction corners, CM
# classification rules, records that are not OpsWorks events). Exits 1 and
# lists the differences if there are any.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$REPO/test/bench/lib.sh"
source "$REPO/test/bench/pipeline.sh"
skip_without_fluent_bit
command -v python3 >/dev/null || { echo "skipped: python3 not found"; exit 0; }

EVENTS="${1:-3000}"
SHARE="${2:-0.5}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/opsworks-compare.XXXXXX")"
[ -n "${BENCH_KEEP:-}" ] && echo "keeping $WORK" || trap 'rm -rf "$WORK"' EXIT

build_plugin
input="$WORK/sample.ndjson"
gen_input "$EVENTS" "$SHARE" "$input"
cat "$CONF_DIR/edge-cases.ndjson" >>"$input"

# Records every pipeline must deliver: OpsWorks events, plus records that are
# not CloudTrail events, which pass through. An event has eventSource and
# eventName, or is an Insight (dropped: it has no eventSource).
expected=$(python3 -c '
import json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    event = ("eventSource" in r and "eventName" in r) or r.get("eventType") == "AwsCloudTrailInsight"
    if not event or r.get("eventSource") in ("opsworks.amazonaws.com", "opsworks-cm.amazonaws.com"):
        n += 1
print(n)' "$input")
echo "input: $(wc -l <"$input") records, $expected expected in each output"

for conf in opsworks lua-rewrite lua; do
    mkdir -p "$WORK/$conf"
    # A second output next to the config's counter: every record, as JSON.
    run_fluent_bit "$conf.conf" "$input" "$expected" "$conf" -o file -p "path=$WORK/$conf" -p file=records -m '*'
    echo "$conf: $RUN_RECORDS records, exit $RUN_RC"
    [ "$RUN_RC" = 0 ] && [ "$RUN_RECORDS" = "$expected" ] || die "$conf did not deliver $expected records; see $WORK/$conf.err"
done
python3 "$CONF_DIR/compare.py" "$WORK/opsworks/records" "$WORK/lua-rewrite/records" "$WORK/lua/records"
