#!/usr/bin/env bash
# Throughput and cost of the cloudtrail_s3 input in SQS notification mode
# (queue_url), one consumer and several, against bucket polling over the same
# archive and the same MinIO — the archive of the polling benchmark
# (test/bench/s3/run.sh, same SIZE/SHARE/SEED, reused from BENCH_DIR).
#
#   BENCH_DIR=/tmp/s3bench-1g test/bench/sqs/run.sh     # reuse the polling benchmark's archive
#   test/bench/sqs/run.sh                               # generate 1 GiB in a temporary directory
#
# Needs Go, Node.js 18+ and npm (local-aws-sqs, installed like the tests do:
# test/sqstest), GNU time (installed with apt-get when missing). Steps:
#   1. benchtool gen (test/bench/s3): reused when BENCH_DIR holds it
#   2. sqsbench servers: MinIO with the archive uploaded, and local-aws-sqs
#   3. polling rows: the CLI exactly as test/bench/s3 runs it, then the same
#      work in sqsbench's harness, without and with a window bounding the
#      archive's days
#   4. SQS rows: a fresh queue, `opsworks-trail enqueue` of the archive
#      (setup, measured on its own), then 1 consumer; again with
#      BENCH_CONSUMERS (3) consumer processes at once
#   5. Fluent Bit's cadence (BENCH_FLB=1): one Collect per second, as the Go
#      proxy calls the input; SQS rows are bounded by BENCH_FLB_SECONDS
#   6. a table, with the counts checked (every object read and committed,
#      every OpsWorks event delivered; duplicates counted)
#
# Every consumer does the work of `opsworks-trail s3://…`: the engine with
# the default OpsWorks push-down, records through the opsworks filter core,
# NDJSON to a file. CPU is user + system of the consumer process(es) (GNU
# time); MinIO and local-aws-sqs are charged separately from /proc.
#
# Environment: SIZE (1G), SHARE (0.01), SEED (1), BENCH_DIR (temporary if
# unset), BENCH_REPEAT (1; medians), BENCH_CONSUMERS (3), BENCH_WORKERS (4),
# BENCH_MAX_MESSAGES (the input's default), BENCH_FLB (1), BENCH_FLB_SECONDS (60),
# BENCH_PPROF (0; 1 writes CPU profiles of the consumers to BENCH_DIR/sqswork).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
SIZE="${SIZE:-1G}"
SHARE="${SHARE:-0.01}"
SEED="${SEED:-1}"
REPEAT="${BENCH_REPEAT:-1}"
CONSUMERS="${BENCH_CONSUMERS:-3}"
WORKERS="${BENCH_WORKERS:-4}"
MAX_MESSAGES="${BENCH_MAX_MESSAGES:-}"
FLB="${BENCH_FLB:-1}"
FLB_SECONDS="${BENCH_FLB_SECONDS:-60}"
PPROF="${BENCH_PPROF:-0}"
BUCKET=cloudtrail-bench

# shellcheck source=../lib.sh
source "$REPO/test/bench/lib.sh"

bench_dir sqs-bench
# Our own work and MinIO directories: the polling benchmark's stay untouched.
WORK="$BENCH_DIR/sqswork"
mkdir -p "$WORK"
SERVERS_PID=""
CONSUMER_PIDS=()

cleanup() {
    local p
    for p in "${CONSUMER_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    if [ -n "$SERVERS_PID" ]; then
        kill -TERM "$SERVERS_PID" 2>/dev/null || true
        wait "$SERVERS_PID" 2>/dev/null || true
    fi
    [ -z "$CLEAN_DIR" ] || rm -rf "$CLEAN_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

build() {
    (cd "$REPO" && go build -o "$WORK/benchtool" ./test/bench/s3/benchtool &&
        go build -o "$WORK/sqsbench" ./test/bench/sqs/sqsbench &&
        go build -o "$WORK/opsworks-trail" ./cmd/opsworks-trail) || die "building the tools failed"
}

generate() {
    "$WORK/benchtool" gen -size "$SIZE" -share "$SHARE" -seed "$SEED" -out "$BENCH_DIR" || die "generating the archive failed"
    # shellcheck source=/dev/null
    source "$BENCH_DIR/manifest.env"
    # The archive's days: the window of the bounded rows and of enqueue.
    local days
    days=$(cd "$ARCHIVE/AWSLogs" && find . -mindepth 6 -maxdepth 6 -type d | awk -F/ '{ print $(NF-2) "-" $(NF-1) "-" $NF }' | sort -u)
    SINCE=$(head -1 <<<"$days")
    UNTIL=$(date -u -d "$(tail -1 <<<"$days") + 1 day" +%F)
    [ -n "$SINCE" ] && [ -n "$UNTIL" ] || die "no day folders under $ARCHIVE/AWSLogs"
}

start_servers() {
    rm -f "$WORK/servers.env"
    "$WORK/sqsbench" servers -dir "$ARCHIVE" -data "$BENCH_DIR/minio-sqs" -bucket "$BUCKET" -env "$WORK/servers.env" >"$WORK/servers.log" 2>&1 &
    SERVERS_PID=$!
    echo "starting MinIO and local-aws-sqs, uploading $FILES objects (log: $WORK/servers.log) ..."
    until [ -f "$WORK/servers.env" ]; do
        kill -0 "$SERVERS_PID" 2>/dev/null || { tail -20 "$WORK/servers.log" >&2; SERVERS_PID=""; die "sqsbench servers failed"; }
        sleep 0.2
    done
    # shellcheck source=/dev/null
    source "$WORK/servers.env"
    export MINIO_ENDPOINT
    export AWS_ACCESS_KEY_ID="$MINIO_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$MINIO_SECRET_KEY" AWS_EC2_METADATA_DISABLED=true
    MINIO_VERSION=$(go version -m "$MINIO_BIN" | awk '$1 == "mod" { print $3 }')
    echo "MinIO $MINIO_VERSION at $MINIO_ENDPOINT: uploaded $UPLOAD_OBJECTS objects in $UPLOAD_SECONDS s;" \
        "local-aws-sqs $SQS_VERSION (node $(node --version)) at $SQS_ENDPOINT"
}

# ticks PID: user + system clock ticks a running process has used.
ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
HZ=$(getconf CLK_TCK)
secs() { awk -v a="$1" -v b="$2" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) / hz }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# timefile_cpu FILE / timefile_rss FILE: from GNU time -v.
timefile_cpu() { awk -F': ' '/User time \(seconds\)/ { u = $2 } /System time \(seconds\)/ { s = $2 } END { printf "%.2f", u + s }' "$1"; }
timefile_rss() { awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$1"; }

QUEUE_N=0
# new_queue_enqueued: a fresh queue holding one notification per object of
# the archive (the window of its days). Sets QUEUE and the E_* figures.
new_queue_enqueued() {
    QUEUE_N=$((QUEUE_N + 1))
    QUEUE=$("$WORK/sqsbench" queue -endpoint "$SQS_ENDPOINT" -name "bench-$QUEUE_N") || die "creating a queue failed"
    local n0 m0 t0 t1 tf="$WORK/enqueue-$QUEUE_N.time" log="$WORK/enqueue-$QUEUE_N.log"
    n0=$(ticks "$SQS_PID") m0=$(ticks "$MINIO_PID") t0=$EPOCHREALTIME
    /usr/bin/time -v -o "$tf" "$WORK/opsworks-trail" enqueue -progress off --since "$SINCE" --until "$UNTIL" \
        -input "endpoint=$MINIO_ENDPOINT" -input force_path_style=on -input "region=$MINIO_REGION" \
        --queue-url "$QUEUE" "s3://$BUCKET/" >"$log" 2>&1 || { cat "$log" >&2; die "enqueue failed"; }
    t1=$EPOCHREALTIME
    E_SENT=$(sed -n 's/.*: \([0-9]*\) files announced to .*/\1/p' "$log")
    [ "$E_SENT" = "$FILES" ] || die "enqueue announced ${E_SENT:-?} files, expected $FILES (see $log)"
    E_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    E_CPU=$(timefile_cpu "$tf") E_SQS=$(secs "$n0" "$(ticks "$SQS_PID")") E_MINIO=$(secs "$m0" "$(ticks "$MINIO_PID")")
}

ROWS=()
NOTES=()
# run_consumers TAG N ARGS...: N sqsbench consume processes at once, each
# with ARGS and its own -out prefix; then verify. Sets M_WALL, M_CPU,
# M_RSS_MB, M_MINIO, M_SQS and the V_* counts.
run_consumers() {
    local tag="$1" n="$2" i t0 t1 n0 m0 pids=() prefixes=() rc=0 extra=()
    shift 2
    n0=$(ticks "$SQS_PID") m0=$(ticks "$MINIO_PID") t0=$EPOCHREALTIME
    for ((i = 1; i <= n; i++)); do
        extra=()
        [ "$PPROF" != 1 ] || extra=(-cpuprofile "$WORK/$tag-$i.prof")
        /usr/bin/time -v -o "$WORK/$tag-$i.time" "$WORK/sqsbench" consume -out "$WORK/$tag-$i" "$@" "${extra[@]}" \
            >"$WORK/$tag-$i.log" 2>&1 &
        pids+=($!) prefixes+=("$WORK/$tag-$i")
    done
    CONSUMER_PIDS=("${pids[@]}")
    for p in "${pids[@]}"; do wait "$p" || rc=$?; done
    CONSUMER_PIDS=()
    t1=$EPOCHREALTIME
    M_MINIO=$(secs "$m0" "$(ticks "$MINIO_PID")") M_SQS=$(secs "$n0" "$(ticks "$SQS_PID")")
    [ "$rc" = 0 ] || { tail -5 "$WORK/$tag"-*.log >&2; die "a consumer of $tag failed ($rc)"; }
    M_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    M_CPU=0 M_RSS_MB=0
    for ((i = 1; i <= n; i++)); do
        M_CPU=$(awk -v a="$M_CPU" -v b="$(timefile_cpu "$WORK/$tag-$i.time")" 'BEGIN { printf "%.2f", a + b }')
        M_RSS_MB=$(printf '%s\n' "$M_RSS_MB" "$(timefile_rss "$WORK/$tag-$i.time")" | sort -g | tail -1)
    done
    local vflags=()
    [ "${PARTIAL:-0}" = 1 ] && vflags=(-partial)
    "$WORK/sqsbench" verify -objects "$FILES" -events "$EVENTS" -kept "$OPSWORKS" -env "$WORK/$tag.verify" "${vflags[@]}" "${prefixes[@]}" ||
        echo "WARNING: $tag: counts do not add up (see $WORK/$tag.verify)" >&2
    # shellcheck source=/dev/null
    source "$WORK/$tag.verify"
}

# repeat_row NAME SETUP TAG N ARGS...: run_consumers BENCH_REPEAT times
# and file the row: medians of wall, CPU and server CPU, the largest RSS,
# the last run's counts. SETUP "-" is none (polling); enqueue_setup makes a
# fresh queue holding the archive before each run, and the consumers get
# -queue with its URL.
repeat_row() {
    local name="$1" setup="$2" tag="$3" n="$4" r walls=() cpus=() rss=() minio=() sq=() qargs=()
    shift 4
    for ((r = 1; r <= REPEAT; r++)); do
        qargs=()
        if [ "$setup" != - ]; then
            "$setup"
            qargs=(-queue "$QUEUE")
        fi
        echo "  $name (run $r of $REPEAT) ..."
        run_consumers "$tag-r$r" "$n" "${qargs[@]}" "$@"
        walls+=("$M_WALL") cpus+=("$M_CPU") rss+=("$M_RSS_MB") minio+=("$M_MINIO") sq+=("$M_SQS")
    done
    M_WALL=$(median "${walls[@]}") M_CPU=$(median "${cpus[@]}") M_MINIO=$(median "${minio[@]}") M_SQS=$(median "${sq[@]}")
    M_RSS_MB=$(printf '%s\n' "${rss[@]}" | sort -g | tail -1)
    local check="$V_STATUS"
    [ "$check" = ok ] && [ "${PARTIAL:-0}" = 1 ] && [ "$V_COMMITTED" -lt "$FILES" ] && check="stopped after $FLB_SECONDS s"
    [ "$V_DUP_OBJECTS" = 0 ] || check="$check; $V_DUP_OBJECTS objects read twice"
    [ "$V_DUP_EVENTS" = 0 ] || check="$check; $V_DUP_EVENTS events twice"
    [ "$n" = 1 ] || check="$check; per process $V_PER_PROCESS"
    add_row "$name" "$V_COMMITTED" "$V_EVENTS_SEEN" "$V_LISTS" "$V_GETS" "$V_RECEIVED" "$check"
    if [ "$setup" != - ]; then
        NOTES+=("$(awk -v n="$name" -v r="$V_RECEIVES" -v e="$V_RECEIVES_EMPTY" -v a="$V_RECEIVE_ASKED" -v m="$V_RECEIVED" -v d="$V_DELETE_BATCHES" -v de="$V_DELETE_ENTRIES" -v mm="$V_MAX_MESSAGES" \
            'BEGIN { if (r == 0) r = 1; if (d == 0) d = 1; printf "%s%s: %d ReceiveMessage calls (%d empty), %.1f messages asked and %.1f received per call; %d DeleteMessageBatch calls, %.1f entries per call", n, (index(n, "max_messages") ? "" : " (max_messages " mm ")"), r, e, a / r, m / r, d, de / d }')")
    fi
    LAST_CPU_MS=$(awk -v c="$M_CPU" -v o="$V_COMMITTED" 'BEGIN { printf "%.3f", c * 1000 / o }')
    LAST_MINIO_MS=$(awk -v c="$M_MINIO" -v o="$V_COMMITTED" 'BEGIN { printf "%.3f", c * 1000 / o }')
    LAST_SQS_MS=$(awk -v c="$M_SQS" -v o="$V_COMMITTED" 'BEGIN { printf "%.3f", c * 1000 / o }')
}

# add_row NAME OBJECTS EVENTS LISTS GETS RECEIVED CHECK: from M_*.
add_row() {
    ROWS+=("$(awk -v n="$1" -v o="$2" -v e="$3" -v l="$4" -v g="$5" -v m="$6" -v k="$7" -v w="$M_WALL" -v c="$M_CPU" \
        -v r="$M_RSS_MB" -v mi="$M_MINIO" -v s="$M_SQS" \
        'BEGIN { if (c <= 0) c = 0.001; printf "%-34s %9.0f %10.0f %7.2f %7.2f %7.3f %6.1f %7.2f %6.2f %7.3f %6s %6s %6s  %s",
            n, o / w, e / w, w, c, c * 1000 / o, r, mi, s, (c + mi + s) * 1000 / o, l, g, m, k }')")
}

print_table() {
    echo
    echo "archive: $FILES objects, $EVENTS events ($OPSWORKS OpsWorks), $(awk -v b="$UNCOMPRESSED" 'BEGIN { printf "%.1f", b / 1e6 }') MB uncompressed," \
        "$(awk -v b="$STORED" 'BEGIN { printf "%.1f", b / 1e6 }') MB stored, days $SINCE to $UNTIL (exclusive); $(nproc) CPUs;" \
        "workers $WORKERS, max_messages ${MAX_MESSAGES:-$DEFAULT_MAX_MESSAGES (default)} unless the row says otherwise"
    printf '%-34s %9s %10s %7s %7s %7s %6s %7s %6s %7s %6s %6s %6s  %s\n' mode "objects/s" "events/s" "wall s" "CPU s" "ms/obj" \
        "RSS MB" "MinIO s" "SQS s" "all ms" LISTs GETs recvd check
    printf '%s\n' "${ROWS[@]}"
    echo "(medians of $REPEAT run(s); objects = committed, events = Records elements read; CPU s = user + system of the"
    echo " consumer process(es), ms/obj = CPU ms per object; RSS = largest peak of one process; MinIO s, SQS s = CPU of the"
    echo " servers during the run; all ms = CPU ms per object of consumers and both servers; LISTs, GETs = S3 calls;"
    echo " recvd = SQS messages received; '-' = not counted; a row stopped early reports what it committed in that time)"
    printf '%s\n' "${NOTES[@]}"
}

need_time
command -v node >/dev/null || die "node (Node.js 18+) is needed for local-aws-sqs"
echo "SQS-mode benchmark: SIZE=$SIZE SHARE=$SHARE SEED=$SEED in $BENCH_DIR"
build
generate
start_servers
COMMON=(-workers "$WORKERS")
WINDOW=(-input "start_time=$SINCE" -input "end_time=$UNTIL")

# 1. Polling, as test/bench/s3 runs it: the CLI, no window (so every day
#    from the archive's first to today is listed, empty ones included).
cli_poll() {
    local n0 m0 t0 t1 tf="$WORK/cli-poll.time"
    n0=$(ticks "$SQS_PID") m0=$(ticks "$MINIO_PID") t0=$EPOCHREALTIME
    /usr/bin/time -v -o "$tf" "$WORK/opsworks-trail" -q -progress off -input "endpoint=$MINIO_ENDPOINT" -input force_path_style=on \
        -input "region=$MINIO_REGION" "s3://$BUCKET" >"$WORK/cli-poll.out" 2>"$WORK/cli-poll.log" || die "the CLI failed (see $WORK/cli-poll.log)"
    t1=$EPOCHREALTIME
    M_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    M_CPU=$(timefile_cpu "$tf") M_RSS_MB=$(timefile_rss "$tf")
    M_MINIO=$(secs "$m0" "$(ticks "$MINIO_PID")") M_SQS=$(secs "$n0" "$(ticks "$SQS_PID")")
    local kept check=ok
    kept=$(wc -l <"$WORK/cli-poll.out")
    [ "$kept" = "$OPSWORKS" ] || check="$kept OpsWorks events printed, want $OPSWORKS"
    add_row "poll: CLI (as test/bench/s3)" "$FILES" "$EVENTS" - - - "$check"
}
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
echo "polling ..."
cli_poll
repeat_row "poll: harness, no window" - poll-all 1 -bucket "$BUCKET" "${COMMON[@]}"
repeat_row "poll: harness, window" - poll-window 1 -bucket "$BUCKET" "${COMMON[@]}" "${WINDOW[@]}"
POLL_CPU_MS=$LAST_CPU_MS POLL_MINIO_MS=$LAST_MINIO_MS

echo "SQS mode ..."
SQS_ARGS=("${COMMON[@]}")
[ -z "$MAX_MESSAGES" ] || SQS_ARGS+=(-max-messages "$MAX_MESSAGES")
first_enqueue=""
enqueue_setup() {
    new_queue_enqueued
    [ -n "$first_enqueue" ] || first_enqueue="enqueue (CLI, window $SINCE..$UNTIL): $E_SENT messages in $E_WALL s ($(awk -v n="$E_SENT" -v w="$E_WALL" 'BEGIN { printf "%.0f", n / w }')/s); CLI CPU $E_CPU s, local-aws-sqs CPU $E_SQS s, MinIO CPU $E_MINIO s"
}
repeat_row "sqs: 1 consumer" enqueue_setup sqs-1 1 "${SQS_ARGS[@]}"
SQS1_CPU_MS=$LAST_CPU_MS SQS1_MINIO_MS=$LAST_MINIO_MS SQS1_SQS_MS=$LAST_SQS_MS DEFAULT_MAX_MESSAGES=$V_MAX_MESSAGES
repeat_row "sqs: $CONSUMERS consumers" enqueue_setup "sqs-$CONSUMERS" "$CONSUMERS" "${SQS_ARGS[@]}"
SQSN_CPU_MS=$LAST_CPU_MS SQSN_SQS_MS=$LAST_SQS_MS

if [ "$FLB" = 1 ]; then
    echo "Fluent Bit's cadence (one Collect per second) ..."
    FLB_ARGS=(-collect-every -collect-interval 1s)
    repeat_row "poll: window, collect 1/s" - poll-flb 1 -bucket "$BUCKET" "${COMMON[@]}" "${WINDOW[@]}" "${FLB_ARGS[@]}"
    PARTIAL=1
    repeat_row "sqs: 1, collect 1/s" enqueue_setup sqs-flb 1 "${SQS_ARGS[@]}" "${FLB_ARGS[@]}" -duration "${FLB_SECONDS}s"
    for mm in 10 100; do
        repeat_row "sqs: 1, collect 1/s, max_messages $mm" enqueue_setup "sqs-flb$mm" 1 "${COMMON[@]}" -max-messages "$mm" "${FLB_ARGS[@]}" -duration "${FLB_SECONDS}s"
    done
    PARTIAL=0
fi

NOTES+=("$first_enqueue")
NOTES+=("load average (1, 5, 15 min) at the start: $LOAD_START; at the end: $(cut -d' ' -f1-3 /proc/loadavg)")
NOTES+=("$(awk -v p="$POLL_CPU_MS" -v s="$SQS1_CPU_MS" -v n="$SQSN_CPU_MS" -v q="$SQS1_SQS_MS" -v qn="$SQSN_SQS_MS" -v pm="$POLL_MINIO_MS" -v sm="$SQS1_MINIO_MS" \
    'BEGIN { printf "SQS overhead per object (vs poll: harness, window): consumer CPU %+.3f ms (1 consumer: %.3f vs %.3f ms), %+.3f ms with the consumers together; local-aws-sqs %.3f ms (%.3f with the consumers together); MinIO %.3f vs %.3f ms",
        s - p, s, p, n - p, q, qn, sm, pm }')")
print_table
