#!/usr/bin/env bash
# `opsworks-trail verify` against `aws cloudtrail validate-logs` on the same
# signed archive in MinIO (one account and region; DAYS days, 288 log files
# and 24 digests a day), both in the same run, medians of BENCH_REPEAT runs.
#
#   test/bench/verify/run.sh            # DAYS=7, LATENCY=20ms
#   DAYS=30 test/bench/verify/run.sh
#
# Two rounds: MinIO on loopback (CPU-bound: what each tool costs), and MinIO
# behind a proxy that adds LATENCY to every request (what real S3's round
# trips do to a tool that reads one object at a time).
#
# Needs Go and an aws CLI that honours AWS_ENDPOINT_URL_S3 (aws-cli 1.29+ or
# 2.13+; prints "skipped: ..." otherwise). GNU time is installed with apt-get
# when missing. The archive's public key is served by a loopback CloudTrail
# endpoint (AWS_ENDPOINT_URL_CLOUDTRAIL), so both tools call ListPublicKeys.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
DAYS="${DAYS:-7}"
REPEAT="${BENCH_REPEAT:-3}"
AWS="${AWS_CLI:-aws}"
LATENCY="${LATENCY:-20ms}"

if ! command -v "$AWS" >/dev/null; then echo "skipped: no aws CLI"; exit 0; fi
ver=$("$AWS" --version 2>&1 | sed -n 's|^aws-cli/\([0-9]*\)\.\([0-9]*\).*|\1 \2|p')
read -r major minor <<<"${ver:-0 0}"
if { [ "$major" = 1 ] && [ "$minor" -lt 29 ]; } || { [ "$major" = 2 ] && [ "$minor" -lt 13 ]; } || [ "$major" = 0 ]; then
    echo "skipped: aws-cli $major.$minor does not honour AWS_ENDPOINT_URL_S3 (needs 1.29+ or 2.13+)"; exit 0
fi
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

WORK="$(mktemp -d)"
TOOL_PID=""
cleanup() { [ -z "$TOOL_PID" ] || kill "$TOOL_PID" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

cd "$REPO"
go build -o "$WORK/opsworks-trail" ./cmd/opsworks-trail
go build -o "$WORK/tool" ./test/bench/verify/tool
"$WORK/tool" "$WORK" "$DAYS" "$LATENCY" >"$WORK/tool.log" 2>&1 &
TOOL_PID=$!
for _ in $(seq 1 600); do [ -f "$WORK/env" ] && break; kill -0 "$TOOL_PID" 2>/dev/null || { cat "$WORK/tool.log"; exit 1; }; sleep 0.5; done
# shellcheck disable=SC1091
source "$WORK/env"
printf '[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n' >"$WORK/aws-config"
export AWS_CONFIG_FILE="$WORK/aws-config"
echo "archive: $LOGS log files and $DIGESTS digests, $START to $END, in MinIO"

measure() { # TAG CMD...: sets WALL CPU RSS
    local tf="$WORK/$1.time"; shift
    /usr/bin/time -v -o "$tf" "$@" >"$WORK/out" 2>&1 || { echo "failed: $*"; cat "$WORK/out"; exit 1; }
    WALL=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f", s }' "$tf")
    CPU=$(awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { printf "%.2f", u + s }' "$tf")
    RSS=$(awk -F': ' '/Maximum resident/ { printf "%.0f", $2 / 1024 }' "$tf")
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

round() { # NAME ENDPOINT
    : >"$WORK/ours"; : >"$WORK/theirs"
    for _ in $(seq 1 "$REPEAT"); do
        measure ours "$WORK/opsworks-trail" verify -progress off -input "endpoint=$2" -input force_path_style=on \
            -input region=us-east-1 -input regions=us-east-1 -since "$START" -until "$END" s3://trail
        echo "$WALL $CPU $RSS" >>"$WORK/ours"
        AWS_ENDPOINT_URL_S3="$2" measure theirs "$AWS" --region us-east-1 cloudtrail validate-logs \
            --trail-arn arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail --s3-bucket trail \
            --start-time "$START" --end-time "$END"
        echo "$WALL $CPU $RSS" >>"$WORK/theirs"
    done
    ow=$(cut -d' ' -f1 "$WORK/ours" | median); oc=$(cut -d' ' -f2 "$WORK/ours" | median); orss=$(cut -d' ' -f3 "$WORK/ours" | median)
    tw=$(cut -d' ' -f1 "$WORK/theirs" | median); tc=$(cut -d' ' -f2 "$WORK/theirs" | median); trss=$(cut -d' ' -f3 "$WORK/theirs" | median)
    printf '\n%-34s %9s %9s %9s\n' "$1, medians of $REPEAT" "wall s" "CPU s" "RSS MB"
    printf '%-34s %9s %9s %9s\n' "opsworks-trail verify" "$ow" "$oc" "$orss"
    printf '%-34s %9s %9s %9s\n' "aws cloudtrail validate-logs" "$tw" "$tc" "$trss"
    awk -v a="$tw" -v b="$ow" -v c="$tc" -v d="$oc" 'BEGIN { printf "verify: %.1fx faster (wall), %.1fx less CPU\n", a / b, c / d }'
}
round "MinIO, loopback" "$MINIO"
round "MinIO + $LATENCY per request" "$SLOW"
