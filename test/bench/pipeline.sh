# shellcheck shell=bash
# The Fluent Bit pipelines of run.sh, compare.sh and filter-ratio.sh (sourced
# after lib.sh, not run). Expects: REPO (repository root), WORK (scratch
# directory), FLUENT_BIT_BIN.

CONF_DIR="$REPO/test/bench"             # the pipelines' configs, parsers.conf and opsworks.lua
BENCH_TIMEOUT="${BENCH_TIMEOUT:-300}"   # seconds a run may take to deliver every record

# skip_without_fluent_bit exits 0: the benchmark is optional, CI without a
# Fluent Bit build must not fail because of it.
skip_without_fluent_bit() {
    if [ -z "${FLUENT_BIT_BIN:-}" ]; then
        echo "skipped: FLUENT_BIT_BIN not set (path to a fluent-bit binary with Lua support)"
        exit 0
    fi
    [ -x "$FLUENT_BIT_BIN" ] || die "FLUENT_BIT_BIN=$FLUENT_BIT_BIN is not executable"
    command -v stdbuf >/dev/null || die "stdbuf (GNU coreutils) is needed to read Fluent Bit's counter output as it runs"
}

# build_plugin builds the opsworks filter into $WORK and writes the plugins
# file opsworks.conf loads.
build_plugin() {
    (cd "$REPO" && go build -buildmode=c-shared -o "$WORK/flb-filter_opsworks.so" ./plugin/opsworks) ||
        die "building the opsworks plugin failed"
    printf '[PLUGINS]\n    Path %s\n' "$WORK/flb-filter_opsworks.so" >"$WORK/plugins.conf"
}

# gen_input EVENTS SHARE FILE [PER_LINE] writes NDJSON events (fixed seed:
# every run of the benchmark reads the same bytes). With PER_LINE, each line
# is a log file {"Records":[...]} of PER_LINE of those events instead (the
# shape tail + json and cloudtrail_s3's record_mode object produce).
gen_input() {
    (cd "$REPO" && go run ./cmd/gen-corpus -events "$1" -opsworks-share "$2" -seed 1 -format ndjson -out "$3") ||
        die "generating $3 failed"
    [ -n "${4:-}" ] || return 0
    awk -v n="$4" '{ printf "%s%s", (c ? "," : "{\"Records\":["), $0; c++ }
        c == n { print "]}"; c = 0 }
        END { if (c) print "]}" }' "$3" >"$3.files" && mv "$3.files" "$3"
}

# opsworks_lines FILE: how many events come from OpsWorks, i.e. how many
# records the filtering pipelines must deliver (one event per line, or log
# files).
opsworks_lines() {
    { grep -o -E '"eventSource":"opsworks(-cm)?\.amazonaws\.com"' "$1" || true; } | wc -l
}

# counted FILE: records the counter output reported.
counted() {
    grep -o '"log_records":[0-9]*' "$1" 2>/dev/null | awk -F: '{ n += $2 } END { print n + 0 }'
}

# run_fluent_bit CONFIG INPUT EXPECTED TAG [extra fluent-bit args...]
# Runs Fluent Bit on INPUT (with the plugins file BENCH_PLUGINS_FILE, default
# $WORK/plugins.conf) until the counter output has seen EXPECTED records
# (or BENCH_TIMEOUT passes), then stops it with SIGTERM. Sets RUN_CPU (user +
# system CPU seconds of the fluent-bit process, from bash's `times`, which
# reports the getrusage of waited-for children with millisecond precision),
# RUN_RECORDS and RUN_RC. Output goes to $WORK/TAG.{out,err}.
run_fluent_bit() {
    local conf="$1" input="$2" expected="$3" tag="$4"
    shift 4
    local out="$WORK/$tag.out" err="$WORK/$tag.err" pidfile="$WORK/$tag.pid" timesfile="$WORK/$tag.times"
    rm -f "$out" "$err" "$pidfile" "$timesfile"
    # The subshell's only child is fluent-bit, so its `times` is fluent-bit's
    # CPU alone; the polling below runs outside it.
    (
        cd "$CONF_DIR" || exit 1 # the configs name parsers.conf and opsworks.lua relatively
        # stdbuf: the counter output's lines must reach the file as they are
        # printed, not when the stdio buffer fills. It execs, so $! is fluent-bit.
        BENCH_INPUT="$input" BENCH_PLUGINS="${BENCH_PLUGINS_FILE:-$WORK/plugins.conf}" stdbuf -oL "$FLUENT_BIT_BIN" -c "$conf" "$@" >"$out" 2>"$err" &
        echo $! >"$pidfile"
        wait $!
        echo "rc $?" >"$timesfile"
        times >>"$timesfile"
    ) &
    local sub=$! pid="" waited=0
    while [ -z "$pid" ]; do
        pid=$(cat "$pidfile" 2>/dev/null || true)
        if [ -z "$pid" ] && ! kill -0 "$sub" 2>/dev/null; then
            wait "$sub" || true
            RUN_RC=1 RUN_CPU=0 RUN_RECORDS=0
            return
        fi
        [ -n "$pid" ] || sleep 0.01
    done
    # Poll every 50 ms; a run that stalls is stopped at the timeout and
    # reported by its record count.
    while kill -0 "$pid" 2>/dev/null && [ "$(counted "$out")" -lt "$expected" ] && [ "$waited" -lt $((BENCH_TIMEOUT * 20)) ]; do
        sleep 0.05
        waited=$((waited + 1))
    done
    kill -TERM "$pid" 2>/dev/null || true
    wait "$sub" || true
    RUN_RC=$(awk '/^rc /{ print $2 }' "$timesfile")
    # Line 3 of the file is the children's "user sys" line, e.g. "0m1.234s 0m0.056s".
    RUN_CPU=$(awk 'NR == 3 { print seconds($1) + seconds($2) }
        function seconds(t,  m) { m = t; sub(/m.*/, "", m); sub(/^[0-9]+m/, "", t); sub(/s$/, "", t); return m * 60 + t }' "$timesfile")
    RUN_RECORDS=$(counted "$out")
}
