# shellcheck shell=bash
# Shared by the benchmark scripts under test/bench/ (source it after
# `set -euo pipefail`).

die() { echo "$(basename "$0"): $*" >&2; exit 1; }

# bench_dir NAME sets BENCH_DIR to the given directory (created, made
# absolute, kept) or to a new temporary one (CLEAN_DIR: removed at exit by
# the caller's cleanup).
bench_dir() {
    if [ -n "${BENCH_DIR:-}" ]; then
        mkdir -p "$BENCH_DIR"
        BENCH_DIR="$(cd "$BENCH_DIR" && pwd)"
        CLEAN_DIR=""
    else
        BENCH_DIR="$(mktemp -d "${TMPDIR:-/tmp}/opsworks-$1.XXXXXX")"
        CLEAN_DIR="$BENCH_DIR"
    fi
}

# need_time makes sure GNU time is there: its -v report is where peak RSS
# comes from (bash's `times` has CPU but no memory).
need_time() {
    [ -x /usr/bin/time ] && return
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        echo "installing GNU time with apt-get ..."
        apt-get install -y -qq time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; } ||
            die "apt-get install time failed"
    fi
    [ -x /usr/bin/time ] || die "/usr/bin/time (GNU time) is needed; install the 'time' package"
}
