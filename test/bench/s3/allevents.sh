#!/usr/bin/env bash
# Records per second the cloudtrail_s3 input hands a real Fluent Bit when it
# reads every event (`event_sources *`) from a local copy of a generated
# archive: the new default batch_size (unset, 48M with every event read)
# against the old default (batch_size 4M), in turn, in the same run.
#
#   FLUENT_BIT_BIN=/path/to/fluent-bit test/bench/s3/allevents.sh
#   SIZE=1G BENCH_DIR=/tmp/s3bench FLUENT_BIT_BIN=... test/bench/s3/allevents.sh   # reuse run.sh's archive
#
# Pipeline: cloudtrail_s3 (path, event_sources *, exit_on_eof on) → null,
# plus (BENCH_FILTER=1, the default) a row with the opsworks filter between
# them (keep_other_events on: every event goes on, the OpsWorks ones
# re-tagged), both plugins built from this tree. The figure is the input's
# own: its end-of-run summary says how many bytes of records Collect handed
# Fluent Bit and when the last batch went, from the engine's start; MB/s is
# their ratio (MB = 10^6 bytes of msgpack records). Wall, CPU (user +
# system of fluent-bit) and peak RSS come from GNU time.
#
# Environment: FLUENT_BIT_BIN (required; prints "skipped" and exits 0
# without it), SIZE (256M; run.sh's K/M/G/T), SHARE (0.01), SEED (1),
# BENCH_DIR (temporary if unset; the archive is reused from it),
# BENCH_REPEAT (3 runs of each; medians), BENCH_FILTER (1).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
SIZE="${SIZE:-256M}"
SHARE="${SHARE:-0.01}"
SEED="${SEED:-1}"
REPEAT="${BENCH_REPEAT:-3}"
BENCH_FILTER="${BENCH_FILTER:-1}"

# shellcheck source=../lib.sh
source "$REPO/test/bench/lib.sh"

if [ -z "${FLUENT_BIT_BIN:-}" ]; then
    echo "skipped: set FLUENT_BIT_BIN to a fluent-bit binary"
    exit 0
fi
[ -x "$FLUENT_BIT_BIN" ] || die "FLUENT_BIT_BIN=$FLUENT_BIT_BIN is not executable"

bench_dir allevents
WORK="$BENCH_DIR/allevents"
mkdir -p "$WORK"
cleanup() { [ -z "$CLEAN_DIR" ] || rm -rf "$CLEAN_DIR"; }
trap cleanup EXIT
need_time

echo "building the plugins and benchtool ..."
(cd "$REPO" && go build -buildmode=c-shared -o "$WORK/in_cloudtrail_s3.so" ./plugin/cloudtrail_s3 &&
    go build -buildmode=c-shared -o "$WORK/flb-filter_opsworks.so" ./plugin/opsworks &&
    go build -o "$WORK/benchtool" ./test/bench/s3/benchtool) || die "build failed"
"$WORK/benchtool" gen -size "$SIZE" -share "$SHARE" -seed "$SEED" -out "$BENCH_DIR" || die "generating the archive failed"
# shellcheck source=/dev/null
source "$BENCH_DIR/manifest.env"

printf '[PLUGINS]\n    Path %s\n    Path %s\n' "$WORK/in_cloudtrail_s3.so" "$WORK/flb-filter_opsworks.so" >"$WORK/plugins.conf"

# conf NAME BATCH_LINE FILTER(0|1) writes $WORK/NAME.conf.
conf() {
    local filter=""
    if [ "$3" = 1 ]; then
        filter=$'[FILTER]\n    Name              opsworks\n    Match             cloudtrail\n    keep_other_events on\n'
    fi
    cat >"$WORK/$1.conf" <<EOF
[SERVICE]
    Flush        1
    Grace        2
    Log_Level    info
    plugins_file $WORK/plugins.conf

[INPUT]
    Name              cloudtrail_s3
    Tag               cloudtrail
    path              $ARCHIVE
    event_sources     *
    exit_on_eof       on
    progress_interval 0
$2

$filter
[OUTPUT]
    Name   null
    Match  *
EOF
}

# run NAME: one Fluent Bit run; sets R_MBS, R_BYTES, R_RECORDS, R_WALL,
# R_CPU, R_RSS.
run() {
    local log="$WORK/$1.log" tf="$WORK/$1.time" line
    /usr/bin/time -v -o "$tf" "$FLUENT_BIT_BIN" -c "$WORK/$1.conf" >"$log" 2>&1 || die "$1: fluent-bit failed (log: $log)"
    line=$(grep -o 'records handed on, .*' "$log" | tail -1)
    [ -n "$line" ] || die "$1: no summary in $log"
    R_RECORDS=$(grep -o '[0-9]* records handed on' "$log" | tail -1 | awk '{ print $1 }')
    R_MBS=$(sed -E 's/.*\(([0-9.]+) MB\/s\).*/\1/' <<<"$line")
    R_BYTES=$(sed -E 's/.*handed on, ([0-9.]+) MB in.*/\1/' <<<"$line")
    R_WALL=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$tf")
    R_CPU=$(awk -F': ' '/User time \(seconds\)/ { u = $2 } /System time \(seconds\)/ { s = $2 } END { printf "%.2f", u + s }' "$tf")
    R_RSS=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$tf")
    [ "$R_RECORDS" = "$EVENTS" ] || echo "WARNING: $1 handed on $R_RECORDS records, expected $EVENTS" >&2
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

NAMES=(new old)
conf new "" 0
conf old "    batch_size        4M" 0
if [ "$BENCH_FILTER" = 1 ]; then
    NAMES+=(new-filter old-filter)
    conf new-filter "" 1
    conf old-filter "    batch_size        4M" 1
fi
declare -A MBS WALL CPU RSS
for ((i = 1; i <= REPEAT; i++)); do
    for n in "${NAMES[@]}"; do # in turn, so drift hits both alike
        run "$n"
        echo "run $i $n: $R_MBS MB/s of records ($R_BYTES MB), wall $R_WALL s, CPU $R_CPU s, RSS $R_RSS MB"
        MBS[$n]+="$R_MBS " WALL[$n]+="$R_WALL " CPU[$n]+="$R_CPU " RSS[$n]+="$R_RSS "
    done
done

echo
echo "archive: $FILES objects, $EVENTS events, $(awk -v b="$UNCOMPRESSED" 'BEGIN { printf "%.1f", b / 1e6 }') MB uncompressed;" \
    "Fluent Bit $("$FLUENT_BIT_BIN" --version | head -1 | awk '{ print $3 }'); $(nproc) CPUs; medians of $REPEAT"
printf '%-44s %12s %8s %8s %8s\n' "pipeline (event_sources *, local copy)" "records MB/s" "wall s" "CPU s" "RSS MB"
label() {
    case $1 in
    new) echo "→ null, batch_size default (48M)" ;;
    old) echo "→ null, batch_size 4M (old default)" ;;
    new-filter) echo "→ opsworks → null, default (48M)" ;;
    old-filter) echo "→ opsworks → null, batch_size 4M" ;;
    esac
}
for n in "${NAMES[@]}"; do
    # shellcheck disable=SC2086
    printf '%-44s %12s %8s %8s %8s\n' "$(label "$n")" "$(median ${MBS[$n]})" "$(median ${WALL[$n]})" "$(median ${CPU[$n]})" "$(median ${RSS[$n]})"
done
