#!/usr/bin/env python3
"""Instructions per request, by component: what each case costs the server in CPU work,
counted by valgrind's callgrind rather than timed, so the figure does not move with the
load on this shared machine (the same binary and case give the same count within about
1%). It answers "where does the token path spend its work" and "did this change
make it cheaper" where the timed benchmark is too noisy to tell 5% apart.

    CARGO_PROFILE_RELEASE_DEBUG=line-tables-only cargo build --release -p latchkey --target-dir target/prof
    python3 bench/instructions.py target/prof/release/latchkey --cases baseline,opaque,refresh

The server runs under callgrind (about 50x slower) and each case of `bench/run.py` (its
`latchkey_cases`, matched by words in the name) gets `wrk -c8` for `--duration` seconds
after a warm-up (or after preparing its refresh tokens or codes); the counters are zeroed
before and dumped after. Counted: user-space instructions of every thread of the
server. Not counted: the kernel (socket reads and writes, fsync, thread wake-ups), which
costs about the same per request in every case, and waiting. So the ratio of two cases'
counts is wider than the ratio of their rates.
Batches are smaller at 8 connections than at 50, so per-batch work weighs more here.
"""
import argparse, os, re, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as R  # noqa: E402

# First match wins: source path (as callgrind names it) → component.
COMPONENTS = [
    ("allocator", ("/malloc/", "malloc.c", "arena.c")),
    ("SQLite", ("sqlite3.c",)),
    ("crypto (aws-lc)", ("aws-lc",)),
    ("sqlx", ("/sqlx-",)),
    ("HTTP (hyper, axum, http)", ("/hyper-", "/hyper-util-", "/axum-", "/axum-core-", "/http-", "/httparse-", "/tower")),
    ("tokio", ("/tokio-",)),
    ("latchkey", ("crates/latchkey",)),
    ("libc (memcpy, …)", ("libc.so", "/string/", "sysdeps")),
]


def component(name):
    for label, needles in COMPONENTS:
        if any(n in name for n in needles):
            return label
    return "other (std, serde, base64, …)"


def split(dump):
    """Exclusive instruction counts of a callgrind dump, by component."""
    # Run away from the sources: callgrind_annotate shortens the paths of files it finds.
    out = subprocess.run(["callgrind_annotate", "--threshold=100", "--auto=no", dump], cwd=os.path.dirname(dump),
                         capture_output=True, text=True, check=True).stdout
    total, parts = 0, {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \(\s*([\d.]+)%\)\s+(.*)", line)
        if not m:
            continue
        n = int(m.group(1).replace(",", ""))
        if "PROGRAM TOTALS" in m.group(3):
            total = n
        # Frames that enclose a whole thread are listed once more with their callees'
        # cost (an artefact of dumping a running program); no real function has 40%.
        elif float(m.group(2)) <= 40:
            parts[component(m.group(3))] = parts.get(component(m.group(3)), 0) + n
    return total, parts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("binary", help="a release build with line tables (see above)")
    ap.add_argument("--cases", default="baseline,opaque (SQLite,refresh,code",
                    help="comma-separated words; a case of bench/run.py runs when its name contains one")
    ap.add_argument("--duration", type=int, default=4)
    args = ap.parse_args()
    words = args.cases.split(",")
    work = tempfile.mkdtemp(prefix="latchkey-callgrind-")
    wrapper = os.path.join(work, "latchkey")
    with open(wrapper, "w") as f:
        f.write(f'#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file={work}/cg.out '
                f'{os.path.abspath(args.binary)} "$@"\n')
    os.chmod(wrapper, 0o755)
    server = R.Server(wrapper, "EdDSA")
    pid = str(server.proc.pid)
    rows = []
    try:
        # Cases prepare codes for about six times the duration they are given: the
        # slow server under callgrind needs more.
        for case in R.latchkey_cases(server, "EdDSA", 4 * args.duration):
            if not any(w in case.name for w in words):
                continue
            env = dict(case.env, **(case.prepare() if case.prepare else {}))
            if not case.prepare:
                # A warm-up would spend prepared refresh tokens and codes, which the counted
                # run would then present again (replays, non-2xx). Preparing warms the
                # server already; the statements first run in the counted run cost under
                # 0.1% of it.
                R.wrk(server.base + case.path, 1, 8, case.script, env)  # warm-up
            subprocess.run(["callgrind_control", "-z", pid], check=True, capture_output=True)
            cmd = ["wrk", "-t1", "-c8", f"-d{args.duration}s", server.base + case.path]
            if case.script:
                cmd += ["-s", os.path.join(R.HERE, "lua", case.script)]
            out = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, **env), check=True).stdout
            n = int(re.search(r"(\d+) requests in", out).group(1))
            bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
            before = set(os.listdir(work))
            subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True)
            dump = None
            for _ in range(100):
                new = [f for f in set(os.listdir(work)) - before if f.startswith("cg.out.")]
                if new:
                    dump = os.path.join(work, new[0])
                    break
                time.sleep(0.2)
            if not dump:
                raise SystemExit(f"callgrind wrote no dump for {case.name}")
            rows.append((case.name, n, int(bad.group(1)) if bad else 0, dump))
            print(f"  {case.name}: {n} requests", file=sys.stderr, flush=True)
    finally:
        server.stop()
    print(f"  callgrind dumps in {work}", file=sys.stderr)
    # Read once the server has exited: every dump is complete.
    print_table([(name, n, bad, *split(dump)) for name, n, bad, dump in rows])


def print_table(rows):
    labels = [c for c, _ in COMPONENTS] + ["other (std, serde, base64, …)"]
    base = next((total / n for name, n, _, total, _ in rows if name.startswith("baseline")), None)
    print(f"| case | requests | non-2xx | instructions / request | × baseline | "
          + " | ".join(labels) + " |")
    print("|---|---:|---:|---:|---:|" + "---:|" * len(labels))
    for name, n, bad, total, parts in rows:
        per = total / n
        ratio = f"{per / base:.1f}" if base else "–"
        cells = " | ".join(f"{parts.get(label, 0) / n / 1000:.1f}k" for label in labels)
        print(f"| {name} | {n} | {bad} | {per:,.0f} | {ratio} | {cells} |")


if __name__ == "__main__":
    main()
