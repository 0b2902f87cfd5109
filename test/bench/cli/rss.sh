#!/usr/bin/env bash
# Peak memory of `opsworks-trail FILE` on a large NDJSON input (default 1 GiB
# of CloudTrail log files, one per line, built from the bundled sample trail),
# against the same on BASELINE (a git revision; default: none, only this
# tree). The CLI reads files one document at a time, so its peak RSS should
# stay near the largest document, whatever the input's size.
#
#   test/bench/cli/rss.sh                         # this tree
#   BASELINE=cc8d17c test/bench/cli/rss.sh        # and a revision that read files whole
#   SIZE_MB=4096 test/bench/cli/rss.sh
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
SIZE_MB="${SIZE_MB:-1024}"
WORK="$(mktemp -d)"
trap 'git -C "$REPO" worktree remove --force "$WORK/base" 2>/dev/null || true; rm -rf "$WORK"' EXIT
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

python3 - "$REPO/examples/sample-trail" "$WORK/big.ndjson" "$SIZE_MB" <<'PY'
import glob, gzip, json, os, sys
src, out, mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = []
for f in sorted(glob.glob(src + '/**/*.json*', recursive=True)):
    data = gzip.open(f).read() if f.endswith('.gz') else open(f, 'rb').read()
    try:
        doc = json.loads(data)
    except ValueError:
        continue
    if 'Records' in doc:
        lines.append(json.dumps(doc, separators=(',', ':')).encode())
block = b'\n'.join(lines) + b'\n'
with open(out, 'wb') as f:
    for _ in range(mb * (1 << 20) // len(block) + 1):
        f.write(block)
print(f"input: {os.path.getsize(out) / (1 << 20):.0f} MiB, {len(lines)} log files repeated; largest line {max(map(len, lines)) / 1024:.0f} KiB")
PY

measure() { # NAME BINARY
    /usr/bin/time -v -o "$WORK/t" "$2" -q "$WORK/big.ndjson" >/dev/null
    printf '%-24s peak RSS %7.1f MB   wall %s\n' "$1" \
        "$(awk -F': ' '/Maximum resident/ { print $2 / 1024 }' "$WORK/t")" \
        "$(awk -F': ' '/Elapsed/ { print $2 }' "$WORK/t")"
}
(cd "$REPO" && go build -o "$WORK/ot" ./cmd/opsworks-trail)
measure "this tree" "$WORK/ot"
if [ -n "${BASELINE:-}" ]; then
    git -C "$REPO" worktree add -q "$WORK/base" "$BASELINE"
    (cd "$WORK/base" && go build -o "$WORK/ot-base" ./cmd/opsworks-trail)
    measure "$BASELINE" "$WORK/ot-base"
fi
