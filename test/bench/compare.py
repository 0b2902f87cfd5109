"""Compare the records Fluent Bit wrote (out_file's default format) for the
opsworks filter and for the Lua equivalents: same records, same time, same
keys and values (type-strict: 1, 1.0 and true differ). Key order is not
compared, since Lua tables have none.

usage: compare.py OPSWORKS_OUT LUA_REWRITE_OUT LUA_OUT
"""
import json
import re
import sys

LINE = re.compile(r"^(\S+): \[(\d+)\.(\d+), (.*)\]$")


def read(path):
    """Records keyed by eventID (whole body for records without one)."""
    recs = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            m = LINE.match(line.rstrip("\n"))
            if not m:
                sys.exit(f"{path}:{n}: not out_file's format: {line[:80]!r}")
            tag, sec, nsec, body = m.group(1), int(m.group(2)), int(m.group(3)), json.loads(m.group(4))
            key = body.get("eventID") or json.dumps(body, sort_keys=True)
            if key in recs:
                sys.exit(f"{path}:{n}: record {key} appears twice")
            recs[key] = (tag, sec, nsec, body)
    return recs


def diff(a, b, path, out):
    """Appends to out every difference between a and b below path."""
    if type(a) is not type(b):
        out.append(f"{path}: {json.dumps(a, ensure_ascii=False)} vs {json.dumps(b, ensure_ascii=False)}")
    elif isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in b:
                out.append(f"{path}.{k}: only in opsworks ({json.dumps(a[k], ensure_ascii=False)[:80]})")
            elif k not in a:
                out.append(f"{path}.{k}: only in Lua ({json.dumps(b[k], ensure_ascii=False)[:80]})")
            else:
                diff(a[k], b[k], f"{path}.{k}", out)
    elif isinstance(a, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} elements vs {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            diff(x, y, f"{path}[{i}]", out)
    elif a != b:
        out.append(f"{path}: {json.dumps(a, ensure_ascii=False)[:80]} vs {json.dumps(b, ensure_ascii=False)[:80]}")


def compare(ref, other, name, check_tag):
    problems = []
    for key in sorted(set(ref) | set(other)):
        if key not in other:
            problems.append(f"{key}: only in opsworks output")
            continue
        if key not in ref:
            problems.append(f"{key}: only in {name} output")
            continue
        (rt, rs, rn, rb), (ot, os_, on, ob) = ref[key], other[key]
        found = []
        if check_tag and rt != ot:
            found.append(f"tag {rt} vs {ot}")
        # Records that keep their read time (not selected, or no usable
        # eventTime) differ between runs by nature.
        event_time = "opsworks_variant" in rb and "opsworks_warning" not in rb
        if event_time and (rs, rn) != (os_, on):
            found.append(f"time {rs}.{rn:09d} vs {os_}.{on:09d}")
        diff(rb, ob, "$", found)
        problems += [f"{key}: {p}" for p in found]
    print(f"opsworks vs {name}: {len(ref)} vs {len(other)} records, {len(problems)} differences")
    for p in problems[:40]:
        print("  " + p)
    if len(problems) > 40:
        print(f"  ... and {len(problems) - 40} more")
    return not problems


def main():
    ref, rewrite, lua = read(sys.argv[1]), read(sys.argv[2]), read(sys.argv[3])
    ok = compare(ref, rewrite, "lua+rewrite_tag", check_tag=True)
    ok = compare(ref, lua, "lua", check_tag=False) and ok
    variants = {}
    for tag, _, _, body in ref.values():
        variants[tag] = variants.get(tag, 0) + 1
    print("opsworks output by tag:", ", ".join(f"{t}={n}" for t, n in sorted(variants.items())))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
