#!/usr/bin/env bash
# CPU cost of validate_integrity: the same backfill of a signed local copy
# through the cloudtrail_s3 input and the opsworks filter (the CLI runs
# both, as Fluent Bit would), with and without validate_integrity, in the
# same run, alternating, medians of BENCH_REPEAT runs. Target: at most
# +15 % CPU.
#
#   test/bench/integrity/run.sh                 # DAYS=7, EVENTS_PER_FILE=100
#   DAYS=30 test/bench/integrity/run.sh
#
# With validate_integrity the input reads each account's digests first,
# hashes every log file (SHA-256 of the uncompressed content, from the
# buffer it parses anyway) and judges it; without, it only reads.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
# shellcheck source=../lib.sh
. "$REPO/test/bench/lib.sh"
DAYS="${DAYS:-7}"
PER_FILE="${EVENTS_PER_FILE:-100}"
REPEAT="${BENCH_REPEAT:-5}"
need_time
bench_dir integrity
trap '[ -z "$CLEAN_DIR" ] || rm -rf "$CLEAN_DIR"' EXIT
W="$BENCH_DIR"

cd "$REPO"
go build -o "$W/opsworks-trail" ./cmd/opsworks-trail
[ -f "$W/env" ] || go run ./test/bench/integrity/tool "$W" "$DAYS" "$PER_FILE"
# shellcheck disable=SC1091
. "$W/env"
echo "archive: $LOGS log files and $DIGESTS digests ($STORED_MB MB stored), $START to $END, local copy"

run() { # NAME [-input ...]: one run, sets CPU WALL
    local name="$1"; shift
    /usr/bin/time -v -o "$W/$name.time" "$W/opsworks-trail" -progress off -since "$START" -until "$END" \
        -input workers=2 "$@" "$W/archive" >/dev/null 2>"$W/$name.err" || {
        code=$?; [ "$code" = 0 ] || { echo "$name: exit $code"; cat "$W/$name.err"; exit 1; }; }
    CPU=$(awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { printf "%.2f", u + s }' "$W/$name.time")
    WALL=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f", s }' "$W/$name.time")
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

: >"$W/plain"; : >"$W/checked"; : >"$W/ratio"
for _ in $(seq 1 "$REPEAT"); do
    run plain; p="$CPU"; echo "$CPU $WALL" >>"$W/plain"
    run checked -input validate_integrity=on -input "public_keys_file=$W/keys.json"; echo "$CPU $WALL" >>"$W/checked"
    awk -v a="$CPU" -v b="$p" 'BEGIN { printf "%.4f\n", a / b }' >>"$W/ratio"
done
grep -Eq "^integrity: .*valid [0-9]+ \(nothing tampered with\)" "$W/checked.err" || { echo "the checked run did not validate:"; cat "$W/checked.err"; exit 1; }
pc=$(cut -d' ' -f1 "$W/plain" | median); pw=$(cut -d' ' -f2 "$W/plain" | median)
cc=$(cut -d' ' -f1 "$W/checked" | median); cw=$(cut -d' ' -f2 "$W/checked" | median)
r=$(median <"$W/ratio")
printf '\n%-36s %9s %9s\n' "medians of $REPEAT (alternating)" "CPU s" "wall s"
printf '%-36s %9s %9s\n' "backfill" "$pc" "$pw"
printf '%-36s %9s %9s\n' "backfill, validate_integrity on" "$cc" "$cw"
awk -v r="$r" 'BEGIN { printf "CPU overhead of validate_integrity: %+.1f %% (median of the pairwise ratios; target at most +15 %%)\n", (r - 1) * 100 }'
grep -o "integrity: [^(]*" "$W/checked.err" | head -1
