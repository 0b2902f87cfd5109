#!/usr/bin/env bash
# Throughput of the cloudtrail_s3 input over a generated CloudTrail archive,
# against `gzip -dc` over the same files (the floor: every input must at least
# decompress everything).
#
#   test/bench/s3/run.sh                   # 1 GiB uncompressed, 1 % OpsWorks
#   SIZE=10G test/bench/s3/run.sh          # the backfill target
#   BENCH_DIR=/data/bench SIZE=10G ...     # keep (and reuse) archive and MinIO data there
#   OBJECTS=2000 test/bench/s3/run.sh      # small objects: 2,000 objects of ~30 events
#                                          # (the per-GET cost), instead of SIZE
#
# Needs only Go (and GNU time, installed with apt-get when missing). Steps:
#   1. generate SIZE of .json.gz log files in the real AWSLogs/… layout
#      (benchtool gen; reused when BENCH_DIR already holds the same archive)
#   2. gzip -dc over every file, one process and $(nproc) processes
#   3. run_input local DIR          (HOOK, see below)
#   4. start MinIO (installed like the tests do), upload the archive
#   5. run_input minio s3://BUCKET  (HOOK)
#   6. print a table: objects/s, events/s, MB/s uncompressed, CPU s, peak RSS
#
# Environment: SIZE (1G; K/M/G/T are binary), OBJECTS (unset; small-objects
# mode: about OBJECTS objects of PER_OBJECT (30) events), SHARE (0.01), SEED (1),
# BENCH_DIR (default: a temporary directory, removed at exit), BENCH_MINIO
# (1; 0 skips steps 4–5), BENCH_REPEAT (3 runs per measurement; the table
# shows medians), BENCH_GETS (1 in the small-objects mode, else 0: client
# CPU per GET, the input's SDK client against plain net/http with the SDK's
# SigV4 signer, `benchtool gets`). Files are read from the page cache (they were
# just written): the figures are CPU-bound, not disk-bound.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
SIZE="${SIZE:-1G}"
OBJECTS="${OBJECTS:-}"
PER_OBJECT="${PER_OBJECT:-30}"
BENCH_GETS="${BENCH_GETS:-$([ -n "$OBJECTS" ] && echo 1 || echo 0)}"
SHARE="${SHARE:-0.01}"
SEED="${SEED:-1}"
BENCH_MINIO="${BENCH_MINIO:-1}"
REPEAT="${BENCH_REPEAT:-3}"
BUCKET=cloudtrail-bench

# shellcheck source=../lib.sh
source "$REPO/test/bench/lib.sh"

bench_dir s3-bench
WORK="$BENCH_DIR/work"
mkdir -p "$WORK"
MINIO_TOOL_PID=""

cleanup() {
    stop_minio
    [ -z "$CLEAN_DIR" ] || rm -rf "$CLEAN_DIR"
}
trap cleanup EXIT

# measure TAG CMD [ARGS...] runs CMD under GNU time. Sets M_RC, M_WALL (s,
# from bash's clock, finer than time's), M_CPU (user + system s of CMD and
# every child it waited for) and M_RSS_MB (peak RSS of the largest process).
measure() {
    local tf="$WORK/$1.time" t0 t1
    shift
    t0=$EPOCHREALTIME
    /usr/bin/time -v -o "$tf" "$@" && M_RC=0 || M_RC=$?
    t1=$EPOCHREALTIME
    M_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    M_CPU=$(awk -F': ' '/User time \(seconds\)/ { u = $2 } /System time \(seconds\)/ { s = $2 } END { printf "%.2f", u + s }' "$tf")
    M_RSS_MB=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$tf")
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# measure_median TAG CMD [ARGS...] is measure repeated BENCH_REPEAT times:
# M_WALL and M_CPU become the medians, M_RSS_MB the largest peak. The
# machine may be shared; the median keeps one disturbed run out.
measure_median() {
    local tag="$1" i walls=() cpus=() rss=()
    shift
    for ((i = 1; i <= REPEAT; i++)); do
        measure "$tag-$i" "$@"
        [ "$M_RC" = 0 ] || return 0
        walls+=("$M_WALL") cpus+=("$M_CPU") rss+=("$M_RSS_MB")
    done
    M_WALL=$(median "${walls[@]}") M_CPU=$(median "${cpus[@]}")
    M_RSS_MB=$(printf '%s\n' "${rss[@]}" | sort -g | tail -1)
}

# cpu_ticks PID: user + system clock ticks a running process has used (to
# charge MinIO's share of a run to the server column, per run).
cpu_ticks() {
    awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

ROWS=()
# add_row NAME SERVER_CPU: a table row from the last measure.
add_row() {
    ROWS+=("$(awk -v n="$1" -v f="$FILES" -v e="$EVENTS" -v b="$UNCOMPRESSED" -v w="$M_WALL" -v c="$M_CPU" -v r="$M_RSS_MB" -v s="$2" \
        'BEGIN { if (c <= 0) c = 0.001; printf "%-26s %9.0f %11.0f %9.1f %8.2f %8.2f %9.0f %11.0f %8.1f %9.1f %8s", n, f / w, e / w, b / 1e6 / w, w, c, f / c, e / c, b / 1e6 / c, r, s }')")
}
add_note() { ROWS+=("$(printf '%-26s %s' "$1" "$2")"); }

# CPU seconds of the gzip -dc (1 process) row, and each input row's CPU as
# a multiple of it: the figure the small-objects mode is about.
GZIP_CPU=""
RATIOS=()
add_ratio() {
    [ -n "$GZIP_CPU" ] || return 0
    RATIOS+=("$(awk -v n="$1" -v c="$M_CPU" -v g="$GZIP_CPU" 'BEGIN { printf "%-26s %.2f x gzip -dc CPU", n, c / g }')")
}

print_table() {
    echo
    echo "archive: $FILES objects, $EVENTS events ($OPSWORKS OpsWorks), $(awk -v b="$UNCOMPRESSED" 'BEGIN { printf "%.1f", b / 1e6 }') MB uncompressed," \
        "$(awk -v b="$STORED" 'BEGIN { printf "%.1f", b / 1e6 }') MB stored; MB = 10^6 bytes; $(nproc) CPUs"
    printf '%-26s %9s %11s %9s %8s %8s %9s %11s %8s %9s %8s\n' mode "objects/s" "events/s" "MB/s" "wall s" "CPU s" \
        "obj/cpu-s" "ev/cpu-s" "MB/cpu-s" "RSS MB" "server"
    printf '%s\n' "${ROWS[@]}"
    echo "(medians of $REPEAT runs; per wall second, then per CPU second; RSS = peak resident set;"
    echo " server = MinIO CPU s during the run)"
    [ "${#RATIOS[@]}" = 0 ] || { echo "client CPU against gzip -dc (1 process) over the same files, same run:"; printf '%s\n' "${RATIOS[@]}"; }
    [ -z "${GETS_LINE:-}" ] || echo "$GETS_LINE"
}

build_tool() {
    (cd "$REPO" && go build -o "$WORK/benchtool" ./test/bench/s3/benchtool) || die "building benchtool failed"
}

generate() {
    local mode=(-size "$SIZE")
    [ -z "$OBJECTS" ] || mode=(-objects "$OBJECTS" -per-object "$PER_OBJECT")
    "$WORK/benchtool" gen "${mode[@]}" -share "$SHARE" -seed "$SEED" -out "$BENCH_DIR" || die "generating the archive failed"
    # shellcheck source=/dev/null
    source "$BENCH_DIR/manifest.env"
}

# gzip_baseline decompresses every file to /dev/null: the least any input
# reading this archive must spend.
gzip_baseline() {
    local procs
    procs=$(nproc)
    export ARCHIVE
    measure_median gzip-1 bash -c 'cd "$ARCHIVE" && find AWSLogs -name "*.json.gz" -print0 | xargs -0 -n 512 gzip -dc >/dev/null'
    [ "$M_RC" = 0 ] || die "gzip -dc failed"
    add_row "gzip -dc (1 process)" -
    GZIP_CPU="$M_CPU"
    measure_median gzip-n bash -c 'cd "$ARCHIVE" && find AWSLogs -name "*.json.gz" -print0 | xargs -0 -n 512 -P "$0" gzip -dc >/dev/null' "$procs"
    [ "$M_RC" = 0 ] || die "gzip -dc failed"
    add_row "gzip -dc ($procs processes)" -
}

# run_input MODE SOURCE runs the cloudtrail_s3 engine with the opsworks filter
# over SOURCE through the CLI (the same Go code as in_cloudtrail_s3.so and
# flb-filter_opsworks.so, without Fluent Bit around it), default settings
# and the default OpsWorks push-down; output to a file, counted afterwards.
#   MODE local  SOURCE is the archive directory (it holds AWSLogs/)
#   MODE minio  SOURCE is s3://BUCKET on the MinIO server (MINIO_* set)
run_input() {
    local mode="$1" source="$2" args=(-q -progress off)
    if [ ! -x "$WORK/opsworks-trail" ]; then
        (cd "$REPO" && go build -o "$WORK/opsworks-trail" ./cmd/opsworks-trail) || return 1
    fi
    if [ "$mode" = minio ]; then
        args+=(-input "endpoint=$MINIO_ENDPOINT" -input force_path_style=on -input "region=$MINIO_REGION")
        export AWS_ACCESS_KEY_ID="$MINIO_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$MINIO_SECRET_KEY" AWS_EC2_METADATA_DISABLED=true
    fi
    export RUN_OUT="$WORK/input-$mode.out"
    measure_median "input-$mode" bash -c 'exec "$@" >"$RUN_OUT"' _ "$WORK/opsworks-trail" "${args[@]}" "$source"
    RUN_EVENTS=$(wc -l <"$WORK/input-$mode.out")
    return 0
}

# bench_input MODE SOURCE runs the hook and files its row.
bench_input() {
    local rc server0 server1 server=-
    server0=$( [ "$1" = minio ] && cpu_ticks "$MINIO_PID" || echo 0)
    run_input "$1" "$2" && rc=0 || rc=$?
    case $rc in
    0)
        if [ "$1" = minio ]; then
            server1=$(cpu_ticks "$MINIO_PID")
            server=$(awk -v a="$server0" -v b="$server1" -v hz="$(getconf CLK_TCK)" -v r="$REPEAT" 'BEGIN { printf "%.2f", (b - a) / hz / r }')
        fi
        [ "$M_RC" = 0 ] || die "run_input $1 exited $M_RC"
        [ "${RUN_EVENTS:-}" = "$OPSWORKS" ] || echo "WARNING: run_input $1 emitted ${RUN_EVENTS:-?} events, expected $OPSWORKS" >&2
        add_row "cloudtrail_s3 $1" "$server"
        add_ratio "cloudtrail_s3 $1"
        ;;
    2) add_note "cloudtrail_s3 $1" "not wired yet (run_input hook in $(basename "$0"))" ;;
    *) die "run_input $1 $2 failed ($rc)" ;;
    esac
}

# start_minio runs `benchtool minio` in the background: it starts MinIO,
# uploads the archive and writes $WORK/minio.env, then serves until stopped.
start_minio() {
    rm -f "$WORK/minio.env" "$WORK/gets.txt"
    "$WORK/benchtool" minio -dir "$ARCHIVE" -data "$BENCH_DIR/minio" -bucket "$BUCKET" -env "$WORK/minio.env" >"$WORK/minio.log" 2>&1 &
    MINIO_TOOL_PID=$!
    echo "starting MinIO and uploading $FILES objects (log: $WORK/minio.log) ..."
    until [ -f "$WORK/minio.env" ]; do
        kill -0 "$MINIO_TOOL_PID" 2>/dev/null || { tail -20 "$WORK/minio.log" >&2; MINIO_TOOL_PID=""; die "benchtool minio failed"; }
        sleep 0.2
    done
    # shellcheck source=/dev/null
    source "$WORK/minio.env"
    export MINIO_ENDPOINT MINIO_ACCESS_KEY MINIO_SECRET_KEY MINIO_REGION MINIO_BUCKET
    MINIO_VERSION=$(go version -m "$MINIO_BIN" | awk '$1 == "mod" { print $3 }')
    echo "MinIO $MINIO_VERSION at $MINIO_ENDPOINT: uploaded $UPLOAD_OBJECTS objects ($(awk -v b="$UPLOAD_BYTES" 'BEGIN { printf "%.1f", b / 1e6 }') MB)" \
        "in $UPLOAD_SECONDS s ($(awk -v n="$UPLOAD_OBJECTS" -v s="$UPLOAD_SECONDS" 'BEGIN { printf "%.0f", n / s }') PUT/s)"
}

# bench_gets: client CPU per GET over MinIO, body read and dropped, the
# input's S3 client (SDK) and plain net/http + SigV4 in turn, REPEAT times.
bench_gets() {
    local i sdk=() plain=() line
    for ((i = 1; i <= REPEAT; i++)); do
        for c in sdk plain; do
            line=$("$WORK/benchtool" gets -client "$c") || die "benchtool gets -client $c failed"
            eval "$line"
            if [ "$c" = sdk ]; then sdk+=("$GETS_US_PER_GET"); else plain+=("$GETS_US_PER_GET"); fi
        done
    done
    GETS_LINE="GET only ($GETS_OBJECTS objects, 4 workers, body read and dropped), client CPU per GET: SDK client $(median "${sdk[@]}") us, net/http + SigV4 signer $(median "${plain[@]}") us"
}

stop_minio() {
    [ -n "$MINIO_TOOL_PID" ] || return 0
    kill -TERM "$MINIO_TOOL_PID" 2>/dev/null || true
    wait "$MINIO_TOOL_PID" 2>/dev/null || true
    MINIO_TOOL_PID=""
}

need_time
if [ -n "$OBJECTS" ]; then what="OBJECTS=$OBJECTS PER_OBJECT=$PER_OBJECT"; else what="SIZE=$SIZE"; fi
echo "S3 input benchmark: $what SHARE=$SHARE SEED=$SEED in $BENCH_DIR"
build_tool
generate
gzip_baseline
bench_input local "$ARCHIVE"
if [ "$BENCH_MINIO" = 1 ]; then
    start_minio
    bench_input minio "s3://$MINIO_BUCKET"
    [ "$BENCH_GETS" = 1 ] && (export AWS_ACCESS_KEY_ID="$MINIO_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$MINIO_SECRET_KEY" AWS_EC2_METADATA_DISABLED=true; bench_gets; echo "$GETS_LINE" >"$WORK/gets.txt")
    [ -f "$WORK/gets.txt" ] && GETS_LINE=$(cat "$WORK/gets.txt")
    stop_minio
fi
print_table
