#!/usr/bin/env python3
"""latchkey benchmark driver: starts the server on loopback, runs wrk per case, reports.

Every rate is also given as a fraction of the baseline (GET /health/live of the same
binary) measured in the same run, because this machine is shared and noisy: ratios are
what compares across runs. Medians of --runs runs.
"""
import argparse, base64, datetime, json, os, platform, re, shutil, signal, statistics
import subprocess, sys, tempfile, time, urllib.request, urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET = "bench-secret-0123456789"


def basic(cid, secret=SECRET):
    return "Basic " + base64.b64encode(f"{cid}:{secret}".encode()).decode()


CONFIG = f"""
listen = "127.0.0.1:0"
database = "sqlite://{{db}}"
[tokens]
signing_alg = "{{alg}}"
[secrets]
system = ["bench-system-secret-0123456789"]
[[clients]]
client_id = "jwt"
client_secret = "{SECRET}"
grant_types = ["client_credentials"]
scopes = ["items:read"]
access_token_format = "jwt"
[[clients]]
client_id = "opaque"
client_secret = "{SECRET}"
grant_types = ["client_credentials"]
scopes = ["items:read"]
access_token_format = "opaque"
[[clients]]
client_id = "rs"
client_secret = "{SECRET}"
introspect = true
[[clients]]
client_id = "pw"
client_secret = "{SECRET}"
grant_types = ["password"]
scopes = ["items:read"]
[[users]]
username = "alice"
password = "alice-password-1"
[login]
max_failures_per_user = 1000000
max_failures_per_ip = 1000000
"""


class Server:
    def __init__(self, binary, alg):
        self.dir = tempfile.mkdtemp(prefix="latchkey-bench-")
        cfg = os.path.join(self.dir, "latchkey.toml")
        with open(cfg, "w") as f:
            f.write(CONFIG.format(db=os.path.join(self.dir, "bench.db"), alg=alg))
        env = dict(os.environ, LATCHKEY_LOG="warn")
        self.proc = subprocess.Popen([os.path.abspath(binary), "--config", cfg, "serve"], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env, cwd=self.dir, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            raise SystemExit(f"server did not start: {line!r}")
        self.base = line[len("listening on "):]
        time.sleep(0.3)

    def rss_kib(self, field="VmRSS"):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def post(self, path, form, auth):
        req = urllib.request.Request(self.base + path, data=urllib.parse.urlencode(form).encode(),
                                     headers={"Authorization": auth})
        with urllib.request.urlopen(req) as r:
            return json.load(r)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=20)
        shutil.rmtree(self.dir, ignore_errors=True)


def wrk(url, duration, connections, body=None, auth=None):
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url]
    env = dict(os.environ)
    if body is not None:
        cmd += ["-s", os.path.join(HERE, "lua", "post.lua")]
        env["BENCH_BODY"] = body
        env["BENCH_AUTH"] = auth or ""
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    def pct(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        if not m:
            return float("nan")
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": rps, "p50": pct(50), "p99": pct(99),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(int(x) for x in errors.groups()) if errors else 0,
    }


def cases(server, alg):
    """(name, url, body, auth, expect_errors) for one server."""
    jwt = server.post("/token", {"grant_type": "client_credentials"}, basic("jwt"))["access_token"]
    opaque = server.post("/token", {"grant_type": "client_credentials"}, basic("opaque"))["access_token"]
    out = []
    if alg == "EdDSA":
        out.append(("baseline GET /health/live", server.base + "/health/live", None, None, False))
    out.append((f"client_credentials, JWT {alg}", server.base + "/token", "grant_type=client_credentials", basic("jwt"), False))
    if alg == "EdDSA":
        out += [
            ("client_credentials, opaque (SQLite, durable)", server.base + "/token", "grant_type=client_credentials", basic("opaque"), False),
            ("introspection, opaque", server.base + "/introspect", "token=" + opaque, basic("rs"), False),
            ("introspection, JWT", server.base + "/introspect", "token=" + jwt, basic("rs"), False),
            ("revocation (unknown token)", server.base + "/revoke", "token=lk_at_unknown", basic("opaque"), False),
            ("password grant (argon2id)", server.base + "/token",
             "grant_type=password&username=alice&password=alice-password-1", basic("pw"), False),
        ]
    return out


def seed_tokens(db_path, n):
    """Insert n live opaque tokens straight into SQLite (not through HTTP)."""
    import hashlib, sqlite3
    conn = sqlite3.connect(db_path, timeout=30)
    now = int(time.time())
    rows = ((hashlib.sha256(os.urandom(32)).digest(), f"seed-{i}", f"seed-{i}", "opaque", "opaque", "items:read",
             '["bench"]', now, now + 86400) for i in range(n))
    conn.executemany("INSERT INTO access_tokens (token_hash, jti, grant_id, client_id, subject, scope, audience, "
                     "issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.commit()
    conn.close()


def growth(args):
    """Introspection and opaque issuance with 1,000 and with 1,000,000 live tokens."""
    rows = []
    for n in (1_000, 1_000_000):
        server = Server(args.binary, "EdDSA")
        try:
            t0 = time.time()
            seed_tokens(os.path.join(server.dir, "bench.db"), n)
            print(f"  seeded {n} tokens in {time.time() - t0:.1f} s", file=sys.stderr)
            opaque = server.post("/token", {"grant_type": "client_credentials"}, basic("opaque"))["access_token"]
            for name, path, body, auth in [
                ("introspection, opaque", "/introspect", "token=" + opaque, basic("rs")),
                ("client_credentials, opaque", "/token", "grant_type=client_credentials", basic("opaque")),
            ]:
                rs = [wrk(server.base + path, args.duration, args.connections, body, auth) for _ in range(args.runs)]
                rows.append((n, name, statistics.median(r["rps"] for r in rs), statistics.median(r["p99"] for r in rs)))
                print(f"  {n} tokens: {name}: {rows[-1][2]:.0f} req/s", file=sys.stderr)
        finally:
            server.stop()
    lines = ["| live tokens | case | req/s | p99 ms |", "|---:|---|---:|---:|"]
    lines += [f"| {n:,} | {name} | {rps:.0f} | {p99:.2f} |" for n, name, rps, p99 in rows]
    print("\n".join(lines))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--growth", action="store_true", help="only the 1k vs 1M live-token comparison")
    args = ap.parse_args()
    if args.growth:
        growth(args)
        return
    results = {}
    peak_rss = 0
    idle_rss = None
    for run in range(args.runs):
        for alg in ["EdDSA", "ES256"]:
            server = Server(args.binary, alg)
            if idle_rss is None:
                idle_rss = server.rss_kib()
            try:
                for name, url, body, auth, _ in cases(server, alg):
                    r = wrk(url, args.duration, args.connections, body, auth)
                    r["rss_kib"] = server.rss_kib("VmHWM")
                    peak_rss = max(peak_rss, r["rss_kib"])
                    results.setdefault(name, []).append(r)
                    print(f"  run {run + 1}: {name}: {r['rps']:.0f} req/s, p99 {r['p99']:.2f} ms, non-2xx {r['non2xx']}",
                          file=sys.stderr)
            finally:
                server.stop()
    base = statistics.median(r["rps"] for r in results["baseline GET /health/live"])
    lines = [
        f"latchkey benchmark, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{platform.node()} ({os.cpu_count()} cores), wrk -t1 -c{args.connections} -d{args.duration}s, "
        f"median of {args.runs} run(s){' (SMOKE: debug build, no targets)' if args.smoke else ''}",
        "",
        "| case | req/s | of baseline | p50 ms | p99 ms | non-2xx | peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, rs in results.items():
        med = lambda k: statistics.median(r[k] for r in rs)
        lines.append(f"| {name} | {med('rps'):.0f} | {med('rps') / base:.0%} | {med('p50'):.2f} | {med('p99'):.2f} | "
                     f"{max(r['non2xx'] + r['socket_errors'] for r in rs)} | {max(r['rss_kib'] for r in rs) / 1024:.1f} |")
    lines += ["", f"idle RSS after start: {idle_rss / 1024:.1f} MiB; peak RSS over all cases: {peak_rss / 1024:.1f} MiB"]
    table = "\n".join(lines)
    print(table)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    name = "smoke.md" if args.smoke else f"{datetime.datetime.now(datetime.timezone.utc):%Y%m%dT%H%M}.md"
    with open(os.path.join(HERE, "results", name), "w") as f:
        f.write(table + "\n")
    bad = [n for n, rs in results.items() if any(r["non2xx"] for r in rs)]
    if bad:
        print(f"unexpected non-2xx answers in: {', '.join(bad)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
