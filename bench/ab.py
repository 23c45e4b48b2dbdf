#!/usr/bin/env python3
"""A/B of latchkey binaries on this machine: the same cases, binaries alternating, so drift
in the machine's speed hits each alike. One line per binary, round and case: rate, p50/p99,
the server's CPU per request (from /proc, no profiler attached) and how idle the machine
was. This is how the one-run comparisons in docs/performance.md were measured.

    cargo build --release && cp target/release/latchkey /tmp/new   # and an older build as /tmp/old
    python3 bench/ab.py /tmp/old /tmp/new --cases refresh,code,opaque --rounds 2
    python3 bench/ab.py /tmp/new --cases introspection --env LATCHKEY_TOKENS__INTROSPECTION_CACHE_TTL=0s
"""
import argparse, os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as R  # noqa: E402


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_idle():
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    return ticks[3] + ticks[4], sum(ticks)


def loads(server, only, duration):
    """The cases of `bench/run.py` (its `latchkey_cases`) whose name contains one of `only`."""
    for case in R.latchkey_cases(server, "EdDSA", duration):
        if any(word in case.name for word in only):
            yield case

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binaries", nargs="+")
    ap.add_argument("--cases", default="baseline,opaque,refresh,code",
                    help="comma-separated words; a case of bench/run.py runs when its name contains one, e.g. "
                         "baseline, opaque, JWT, introspection, refresh, code")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                    help="server environment, e.g. LATCHKEY_STORAGE__SYNCHRONOUS=normal")
    args = ap.parse_args()
    only = args.cases.split(",")
    env = dict(kv.split("=", 1) for kv in args.env)
    for rnd in range(args.rounds):
        for binary in args.binaries:
            server = R.Server(binary, "EdDSA", env=env)
            try:
                for case in loads(server, only, args.duration):
                    case_env = dict(case.env, **(case.prepare() if case.prepare else {}))
                    cpu0, (idle0, total0) = cpu_seconds(server.proc.pid), machine_idle()
                    r = R.wrk(server.base + case.path, args.duration, 50, case.script, case_env)
                    cpu1, (idle1, total1) = cpu_seconds(server.proc.pid), machine_idle()
                    per_request = 1e6 * (cpu1 - cpu0) / (r["rps"] * args.duration)
                    print(f"round {rnd} {binary}: {case.name}: {r['rps']:7.0f}/s p50 {r['p50']:5.2f} p99 {r['p99']:6.2f} "
                          f"ms non-2xx {r['non2xx'] + r['socket_errors']} cpu/req {per_request:5.1f} us idle "
                          f"{100 * (idle1 - idle0) / (total1 - total0):4.1f}%", flush=True)
            finally:
                server.stop()


if __name__ == "__main__":
    main()
