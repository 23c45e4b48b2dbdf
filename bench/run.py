#!/usr/bin/env python3
"""latchkey benchmark driver: starts the server on loopback, runs wrk per case, reports.

Every rate is also given as a fraction of the baseline (GET /health/live of the same
binary) measured in the same run, because this machine is shared and noisy: ratios are
what compares across runs. Medians of --runs runs.
"""
import argparse, base64, datetime, hashlib, json, os, platform, re, select, shutil, signal, statistics
import subprocess, sys, tempfile, time, urllib.request, urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET = "bench-secret-0123456789"


def basic(cid, secret=SECRET):
    return "Basic " + base64.b64encode(f"{cid}:{secret}".encode()).decode()


REDIRECT = "http://127.0.0.1:9/cb"
VERIFIER = "bench-code-verifier-0123456789-0123456789-0123456789"
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).decode().rstrip("=")

CONFIG = f"""
listen = "127.0.0.1:0"
database = "{{db}}"
[tokens]
signing_alg = "{{alg}}"
authorization_code_ttl = "10m"
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
[[clients]]
client_id = "app"
client_secret = "{SECRET}"
grant_types = ["authorization_code", "refresh_token"]
redirect_uris = ["{REDIRECT}"]
skip_consent = true
scopes = ["items:read"]
access_token_format = "opaque"
[[users]]
username = "alice"
password = "alice-password-1"
[login]
max_failures_per_user = 1000000
max_failures_per_ip = 1000000
"""


class Process:
    """A server under test, started on an ephemeral loopback port; it prints
    `listening on URL` first."""

    def __init__(self, cmd, env, cwd, attempts=3):
        for attempt in range(1, attempts + 1):
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=cwd,
                                         text=True)
            # Bounded: a Node.js peer was once seen to hang at start (before listening).
            ready, _, _ = select.select([self.proc.stdout], [], [], 30)
            line = self.proc.stdout.readline().strip() if ready else ""
            if line.startswith("listening on "):
                break
            self.proc.kill()
            self.proc.wait()
            print(f"  {cmd[0]} did not start (attempt {attempt}): {line or 'no answer in 30 s'}", file=sys.stderr)
        else:
            raise SystemExit(f"{cmd[0]} did not start")
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
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Server(Process):
    """latchkey with a throw-away database: SQLite in a temporary directory, or a fresh
    PostgreSQL database (created and dropped through `psql`) when `postgres` is the
    admin URL. `env` overrides configuration (LATCHKEY_… variables)."""

    def __init__(self, binary, alg, postgres=None, env=None):
        self.dir = tempfile.mkdtemp(prefix="latchkey-bench-")
        self.pg = None
        db = "sqlite://" + os.path.join(self.dir, "bench.db")
        if postgres:
            self.pg = (postgres, f"lk_bench_{os.urandom(6).hex()}")
            psql(postgres, f"CREATE DATABASE {self.pg[1]}")
            db = postgres.rsplit("/", 1)[0] + "/" + self.pg[1]
        cfg = os.path.join(self.dir, "latchkey.toml")
        with open(cfg, "w") as f:
            f.write(CONFIG.format(db=db, alg=alg))
        super().__init__([os.path.abspath(binary), "--config", cfg, "serve"],
                         dict(os.environ, LATCHKEY_LOG="warn", **(env or {})), self.dir)

    def stop(self):
        super().stop()
        if self.pg:
            psql(self.pg[0], f"DROP DATABASE IF EXISTS {self.pg[1]} WITH (FORCE)")
        shutil.rmtree(self.dir, ignore_errors=True)


def psql(url, sql):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql], check=True, capture_output=True)


def postgres_reachable(url):
    if not shutil.which("psql"):
        return "psql is not installed"
    r = subprocess.run(["psql", url, "-c", "SELECT 1"], capture_output=True, text=True,
                       env=dict(os.environ, PGCONNECT_TIMEOUT="3"))
    return None if r.returncode == 0 else r.stderr.strip().splitlines()[-1]


class Peer(Process):
    """node-oidc-provider (bench/peers/oidc-provider), in memory."""

    def __init__(self, alg):
        env = dict(os.environ, BENCH_SECRET=SECRET, ALG=alg, NODE_ENV="production", BENCH_REDIRECT=REDIRECT,
                   BENCH_CHALLENGE=CHALLENGE)
        super().__init__(["node", "server.mjs"], env, os.path.join(HERE, "peers", "oidc-provider"))
        self.dir = tempfile.mkdtemp(prefix="latchkey-bench-peer-")

    def codes(self, n):
        """`n` authorization codes for client app (server.mjs saves them through the
        provider's models: its login and consent pages are not scripted)."""
        req = urllib.request.Request(f"{self.base}/bench/codes?n={n}", data=b"", method="POST")
        with urllib.request.urlopen(req) as r:
            return r.read().decode().split()

    def stop(self):
        super().stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def wrk(url, duration, connections, script=None, env=None):
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url]
    if script:
        cmd += ["-s", os.path.join(HERE, "lua", script)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, **(env or {})), check=True).stdout
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


class Case:
    """One load: `path` on the target, a wrk script and its environment. `prepare`, if
    set, runs just before the load and returns more environment (prepared codes)."""

    def __init__(self, name, path, body=None, auth=None, script=None, env=None, prepare=None):
        self.name, self.path, self.prepare = name, path, prepare
        self.script = script or ("post.lua" if body is not None else None)
        self.env = dict(env or {})
        if body is not None:
            self.env.update(BENCH_BODY=body, BENCH_AUTH=auth or "")


CC = "grant_type=client_credentials"
PASSWORD = "grant_type=password&username=alice&password=alice-password-1"
CODE_BODY = f"grant_type=authorization_code&redirect_uri={urllib.parse.quote(REDIRECT, safe='')}&code_verifier={VERIFIER}"
NAMES = {
    "baseline": "baseline GET /health/live",
    "jwt": "client_credentials, JWT {alg}",
    "opaque": "client_credentials, opaque (SQLite, durable)",
    "introspect_opaque": "introspection, opaque",
    "introspect_jwt": "introspection, JWT",
    "introspect_opaque_strict": "introspection, opaque (cache off)",
    "introspect_jwt_strict": "introspection, JWT (cache off)",
    "pg_opaque": "client_credentials, opaque (PostgreSQL, durable)",
    "pg_introspect": "introspection, opaque (PostgreSQL)",
    "pg_introspect_strict": "introspection, opaque (PostgreSQL, cache off)",
    "revoke": "revocation (unknown token)",
    "refresh": "refresh-token rotation",
    "code": "authorization code exchange",
    "password": "password grant (argon2id)",
}


def latchkey_cases(server, alg, duration):
    jwt = server.post("/token", {"grant_type": "client_credentials"}, basic("jwt"))["access_token"]
    opaque = server.post("/token", {"grant_type": "client_credentials"}, basic("opaque"))["access_token"]
    jwt_case = Case(NAMES["jwt"].format(alg=alg), "/token", CC, basic("jwt"))
    if alg != "EdDSA":
        return [jwt_case]
    cookie = login(server)
    return [
        Case(NAMES["baseline"], "/health/live"),
        jwt_case,
        Case(NAMES["opaque"], "/token", CC, basic("opaque")),
        Case(NAMES["introspect_opaque"], "/introspect", "token=" + opaque, basic("rs")),
        Case(NAMES["introspect_jwt"], "/introspect", "token=" + jwt, basic("rs")),
        Case(NAMES["revoke"], "/revoke", "token=lk_at_unknown", basic("opaque")),
        Case(NAMES["refresh"], "/token", script="refresh.lua", env={"BENCH_AUTH": basic("app")},
             prepare=lambda: {"BENCH_REFRESH_FILE": refresh_tokens(server, cookie, 200)}),
        Case(NAMES["code"], "/token", script="exchange.lua",
             env={"BENCH_AUTH": basic("app"), "BENCH_BODY": CODE_BODY},
             prepare=lambda: {"BENCH_CODES_FILE": prepare_codes(server, cookie, duration)}),
        Case(NAMES["password"], "/token", PASSWORD, basic("pw")),
    ]


# Introspection results are cached per node for 1 s by default; these servers turn that
# off, so every introspection reads the store (docs/deployment.md).
STRICT = {"LATCHKEY_TOKENS__INTROSPECTION_CACHE_TTL": "0s"}


def strict_cases(server):
    jwt = server.post("/token", {"grant_type": "client_credentials"}, basic("jwt"))["access_token"]
    opaque = server.post("/token", {"grant_type": "client_credentials"}, basic("opaque"))["access_token"]
    return [
        Case(NAMES["introspect_opaque_strict"], "/introspect", "token=" + opaque, basic("rs")),
        Case(NAMES["introspect_jwt_strict"], "/introspect", "token=" + jwt, basic("rs")),
    ]


def postgres_cases(server):
    opaque = server.post("/token", {"grant_type": "client_credentials"}, basic("opaque"))["access_token"]
    return [
        Case(NAMES["pg_opaque"], "/token", CC, basic("opaque")),
        Case(NAMES["pg_introspect"], "/introspect", "token=" + opaque, basic("rs")),
    ]


def postgres_strict_cases(server):
    opaque = server.post("/token", {"grant_type": "client_credentials"}, basic("opaque"))["access_token"]
    return [Case(NAMES["pg_introspect_strict"], "/introspect", "token=" + opaque, basic("rs"))]


def peer_cases(peer, alg, duration):
    """The same loads on node-oidc-provider, under the same names; what it lacks is
    listed in PEER_GAPS."""
    opaque = peer.post("/token", {"grant_type": "client_credentials", "scope": "items:read"}, basic("opaque"))
    scoped = CC + "&scope=items%3Aread"
    jwt_case = Case(NAMES["jwt"].format(alg=alg), "/token", scoped, basic("jwt"))
    if alg != "EdDSA":
        return [jwt_case]
    return [
        jwt_case,
        Case(NAMES["opaque"], "/token", scoped, basic("opaque")),  # in memory on the peer
        Case(NAMES["introspect_opaque"], "/token/introspection", "token=" + opaque["access_token"], basic("rs")),
        Case(NAMES["revoke"], "/token/revocation", "token=unknown", basic("opaque")),
        Case(NAMES["refresh"], "/token", script="refresh.lua", env={"BENCH_AUTH": basic("app")},
             prepare=lambda: {"BENCH_REFRESH_FILE": peer_refresh_tokens(peer, 200)}),
        # The peer redeems a few thousand codes per second: 10,000 per second of load is
        # more than it can use (running out would show as non-2xx).
        Case(NAMES["code"], "/token", script="exchange.lua",
             env={"BENCH_AUTH": basic("app"), "BENCH_BODY": CODE_BODY},
             prepare=lambda: {"BENCH_CODES_FILE": write_lines(peer.dir, "codes", peer.codes(10_000 * duration))}),
    ]


def peer_refresh_tokens(peer, n):
    """`n` refresh tokens of the peer, each from its own code exchange."""
    return write_lines(peer.dir, "refresh", [exchange(peer, code)["refresh_token"] for code in peer.codes(n)])


def write_lines(directory, prefix, lines):
    path = os.path.join(directory, f"{prefix}-{time.time_ns()}.txt")
    with open(path, "w") as f:
        f.writelines(line + "\n" for line in lines)
    return path


PEER_GAPS = {
    NAMES["introspect_jwt"]: "refuses: unsupported_token_type",
    NAMES["password"]: "no password grant",
}


def authorize_url(server):
    q = urllib.parse.urlencode({"response_type": "code", "client_id": "app", "redirect_uri": REDIRECT,
                                "scope": "items:read", "state": "bench", "code_challenge": CHALLENGE,
                                "code_challenge_method": "S256"})
    return f"{server.base}/authorize?{q}"


def login(server):
    """Log alice in through the login page; returns the session cookie (name=value)."""
    import http.client
    host = urllib.parse.urlsplit(server.base).netloc
    conn = http.client.HTTPConnection(host)
    conn.request("GET", authorize_url(server)[len(server.base):])
    r = conn.getresponse()
    page = r.read().decode()
    cookie = r.getheader("Set-Cookie").split(";")[0]
    fields = dict(re.findall(r'name="(csrf_token|request)" value="([^"]+)"', page))
    form = urllib.parse.urlencode(dict(fields, username="alice", password="alice-password-1"))
    conn.request("POST", "/authorize/login", body=form, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie, "Origin": server.base})
    r = conn.getresponse()
    r.read()
    cookie = (r.getheader("Set-Cookie") or cookie).split(";")[0]
    if r.status == 303:  # on to /authorize/resume, which redirects with a code
        conn.request("GET", r.getheader("Location"), headers={"Cookie": cookie})
        r = conn.getresponse()
        r.read()
    if r.status not in (302, 303) or "code=" not in (r.getheader("Location") or ""):
        raise SystemExit(f"login failed: {r.status} {r.getheader('Location')}")
    return cookie


def prepare_codes(server, cookie, duration):
    """Codes for one exchange run, issued by /authorize to the logged-in session (wrk,
    codes.lua): as many as /authorize issues in six times the run's duration (it
    issues them at about a quarter of the rate they are redeemed since migration 5, when
    four times the duration ran out; running out shows as non-2xx)."""
    path = os.path.join(server.dir, f"codes-{time.time_ns()}.txt")
    wrk(authorize_url(server), 6 * duration, 50, "codes.lua", {"BENCH_COOKIE": cookie, "BENCH_CODES_FILE": path})
    with open(path) as f:
        print(f"  prepared {sum(1 for _ in f)} codes", file=sys.stderr)
    return path


def refresh_tokens(server, cookie, n):
    """`n` refresh tokens, each from its own code exchange: starting points for rotation."""
    return write_lines(server.dir, "refresh", [exchange(server, code)["refresh_token"]
                                               for code in prepare_codes_n(server, cookie, n)])


def exchange(target, code):
    """Redeem `code` for client app (latchkey or the peer): the token response."""
    return target.post("/token", {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                                  "code_verifier": VERIFIER}, basic("app"))


def prepare_codes_n(server, cookie, n):
    codes = []
    opener = urllib.request.build_opener(NoRedirect)
    for _ in range(n):
        req = urllib.request.Request(authorize_url(server), headers={"Cookie": cookie})
        try:
            opener.open(req)
        except urllib.error.HTTPError as e:
            codes.append(re.search(r"[?&]code=([^&]+)", e.headers["Location"]).group(1))
    return codes


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None


def seed_tokens(db_path, n):
    """Insert n live opaque tokens straight into SQLite (not through HTTP), keyed as
    latchkey keys them (expiry in microseconds, then a hash; see
    latchkey_core::secret::new_expiring_token), as if issued over the last n
    milliseconds with a lifetime of a day."""
    import sqlite3
    conn = sqlite3.connect(db_path, timeout=30)
    start_us = time.time_ns() // 1000 - n * 1000

    def row(i):
        issued_us = start_us + i * 1000
        jti = base64.urlsafe_b64encode(issued_us.to_bytes(8, "big") + os.urandom(16)).decode().rstrip("=")
        key = (issued_us + 86400 * 1_000_000).to_bytes(8, "big") + hashlib.sha256(os.urandom(32)).digest()
        return (key, jti, jti, "opaque", "opaque", "items:read", '["bench"]', issued_us // 1_000_000,
                issued_us // 1_000_000 + 86400)
    conn.executemany("INSERT INTO access_tokens (token_hash, jti, grant_id, client_id, subject, scope, audience, "
                     "issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (row(i) for i in range(n)))
    conn.commit()
    # Fold the seeded pages into the database file: left in the WAL they would slow every
    # read (each consults the WAL index), which a server that ran for a while never sees.
    busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy:
        raise SystemExit("could not checkpoint the seeded database")
    conn.close()


def growth(args):
    """Introspection (cache off, so every look-up reads the store) and opaque issuance with
    1,000 and with 1,000,000 live tokens. Both servers run side by side and the runs
    alternate between them, so drift in the machine's speed hits both alike; each rate
    is also taken as a fraction of the baseline measured just before it on the same
    server."""
    sizes = (1_000, 1_000_000)
    servers, cases = {}, {}
    try:
        for n in sizes:
            servers[n] = server = Server(args.binary, "EdDSA", env=STRICT)
            t0 = time.time()
            seed_tokens(os.path.join(server.dir, "bench.db"), n)
            print(f"  seeded {n} tokens in {time.time() - t0:.1f} s", file=sys.stderr)
            opaque = server.post("/token", {"grant_type": "client_credentials"}, basic("opaque"))["access_token"]
            cases[n] = [Case(NAMES["introspect_opaque_strict"], "/introspect", "token=" + opaque, basic("rs")),
                        Case("client_credentials, opaque (SQLite, durable)", "/token", CC, basic("opaque"))]
        rows = []  # (n, case name, rps, p99, fraction of the baseline)
        for run in range(args.runs):
            for n in sizes:
                for case in cases[n]:
                    base = wrk(servers[n].base + "/health/live", args.duration, args.connections)
                    r = wrk(servers[n].base + case.path, args.duration, args.connections, case.script, case.env)
                    rows.append((n, case.name, r["rps"], r["p99"], r["rps"] / base["rps"]))
                    print(f"  {n} tokens: {case.name}: {r['rps']:.0f} req/s ({r['rps'] / base['rps']:.0%} of "
                          f"baseline {base['rps']:.0f})", file=sys.stderr)
    finally:
        for server in servers.values():
            server.stop()
    med = lambda n, name, i: statistics.median(r[i] for r in rows if r[0] == n and r[1] == name)
    lines = [f"Growth, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, wrk -t1 "
             f"-c{args.connections} -d{args.duration}s, median of {args.runs} run(s)", "",
             "| case | 1k tokens req/s | of baseline | p99 ms | 1M tokens req/s | of baseline | p99 ms "
             "| 1M / 1k req/s | 1M / 1k of baseline |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for case in cases[sizes[0]]:
        k, m = sizes
        name = case.name
        lines.append(f"| {name} | {med(k, name, 2):.0f} | {med(k, name, 4):.0%} | {med(k, name, 3):.2f} | "
                     f"{med(m, name, 2):.0f} | {med(m, name, 4):.0%} | {med(m, name, 3):.2f} | "
                     f"{med(m, name, 2) / med(k, name, 2):.0%} | {med(m, name, 4) / med(k, name, 4):.0%} |")
    out = "\n".join(lines)
    print(out)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", f"growth-{datetime.datetime.now(datetime.timezone.utc):%Y%m%dT%H%M}.md"),
              "w") as f:
        f.write(out + "\n")


def measure(target, cases, args, results, who):
    for case in cases:
        if args.only and case.name != NAMES["baseline"] and args.only not in case.name:
            continue
        env = dict(case.env, **(case.prepare() if case.prepare else {}))
        perf = start_perf(target, case, args.profile) if args.profile else None
        r = wrk(target.base + case.path, args.duration, args.connections, case.script, env)
        if perf:
            stop_perf(*perf)
        r["rss_kib"] = target.rss_kib("VmHWM")
        results.setdefault(case.name, {}).setdefault(who, []).append(r)
        print(f"  {who}: {case.name}: {r['rps']:.0f} req/s, p99 {r['p99']:.2f} ms, non-2xx "
              f"{r['non2xx'] + r['socket_errors']}", file=sys.stderr)


def start_perf(target, case, directory):
    """`perf record` of the server for one case (call graphs from frame pointers are not
    available in release builds, so this is a flat profile by symbol)."""
    os.makedirs(directory, exist_ok=True)
    slug = re.sub(r"[^a-z0-9]+", "-", f"{type(target).__name__}-{case.name}".lower()).strip("-")
    data = os.path.join(directory, slug + ".data")
    extra = os.environ.get("BENCH_PERF_RECORD", "").split()  # e.g. "--call-graph dwarf" with debug info
    proc = subprocess.Popen(["perf", "record", "-q", "-F", "999", *extra, "-p", str(target.proc.pid), "-o", data],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, data


def stop_perf(proc, data):
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    extra = os.environ.get("BENCH_PERF_REPORT", "--no-children --sort dso,symbol").split()
    report = subprocess.run(["perf", "report", "-i", data, "--stdio", "--percent-limit", "0.7", *extra],
                            capture_output=True, text=True).stdout
    with open(data[:-len(".data")] + ".txt", "w") as f:
        # perf pads columns to the longest symbol; keep the text readable.
        f.write("\n".join(re.sub(r"\s+-\s+-\s*$", "", line).rstrip() for line in report.splitlines()) + "\n")
    os.remove(data)


def table(results, args, idle_rss):
    med = lambda rs, k: statistics.median(r[k] for r in rs)
    base = med(results[NAMES["baseline"]]["latchkey"], "rps")
    peak = lambda who: max((r["rss_kib"] for c in results.values() for r in c.get(who, [])), default=0) / 1024
    lines = [
        f"latchkey benchmark, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{platform.node()} ({os.cpu_count()} cores), wrk -t1 -c{args.connections} -d{args.duration}s, "
        f"median of {args.runs} run(s){' (SMOKE: debug build, no targets)' if args.smoke else ''}",
        "",
        "| case | req/s | of baseline | p50 ms | p99 ms | non-2xx | peak RSS MiB | peer req/s | latchkey/peer |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, by in results.items():
        rs, peer = by["latchkey"], by.get("peer")
        if peer:
            peer_cols = f"{med(peer, 'rps'):.0f} | {med(rs, 'rps') / med(peer, 'rps'):.1f}×"
        else:
            peer_cols = f"{PEER_GAPS.get(name, '–')} | –"
        lines.append(f"| {name} | {med(rs, 'rps'):.0f} | {med(rs, 'rps') / base:.0%} | {med(rs, 'p50'):.2f} | "
                     f"{med(rs, 'p99'):.2f} | {max(r['non2xx'] + r['socket_errors'] for r in rs)} | "
                     f"{max(r['rss_kib'] for r in rs) / 1024:.1f} | {peer_cols} |")
    lines += ["", f"latchkey: idle RSS after start {idle_rss / 1024:.1f} MiB, peak RSS over all cases "
              f"{peak('latchkey'):.1f} MiB. Peer: node-oidc-provider "
              f"{PEER_VERSION or 'not run'}, in-memory adapter, peak RSS {peak('peer'):.1f} MiB."]
    return "\n".join(lines)


def peer_version():
    try:
        with open(os.path.join(HERE, "peers", "oidc-provider", "node_modules", "oidc-provider", "package.json")) as f:
            return json.load(f)["version"]
    except OSError:
        return None


PEER_VERSION = None


def main():
    global PEER_VERSION
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--no-peer", action="store_true", help="skip node-oidc-provider")
    ap.add_argument("--only", help="run only the cases whose name contains this (and the baseline)")
    ap.add_argument("--growth", action="store_true", help="only the 1k vs 1M live-token comparison")
    ap.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432/test"),
                    help="admin URL of a PostgreSQL server for the PostgreSQL cases (a database is created per run)")
    ap.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL cases")
    ap.add_argument("--profile", metavar="DIR", help="record a perf profile of the server per case into DIR")
    args = ap.parse_args()
    if args.growth:
        growth(args)
        return
    PEER_VERSION = None if args.no_peer else peer_version()
    if not args.no_peer and not PEER_VERSION:
        raise SystemExit("node-oidc-provider is not installed: run bench/run.sh (it installs it) or pass --no-peer")
    postgres = None
    if not args.no_postgres:
        why = postgres_reachable(args.postgres)
        if why:
            print(f"PostgreSQL cases SKIPPED: {args.postgres}: {why}", file=sys.stderr)
            if os.environ.get("CI") == "true":
                raise SystemExit("CI=true: the PostgreSQL cases must run")
        else:
            postgres = args.postgres
    # Each latchkey target: (algorithm, PostgreSQL admin URL or None, environment, cases).
    targets = [
        ("EdDSA", None, {}, lambda s: latchkey_cases(s, "EdDSA", args.duration)),
        ("ES256", None, {}, lambda s: latchkey_cases(s, "ES256", args.duration)),
        ("EdDSA", None, STRICT, strict_cases),
    ]
    if postgres:
        targets += [("EdDSA", postgres, {}, postgres_cases), ("EdDSA", postgres, STRICT, postgres_strict_cases)]
    results, idle_rss = {}, None
    for run in range(args.runs):
        for alg, pg, env, cases in targets:
            server = Server(args.binary, alg, pg, env)
            idle_rss = idle_rss or server.rss_kib()
            try:
                measure(server, cases(server), args, results, "latchkey")
            finally:
                server.stop()
        for alg in ["EdDSA", "ES256"]:
            if PEER_VERSION:
                peer = Peer(alg)
                try:
                    measure(peer, peer_cases(peer, alg, args.duration), args, results, "peer")
                finally:
                    peer.stop()
    out = table(results, args, idle_rss)
    print(out)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    name = "smoke.md" if args.smoke else f"{datetime.datetime.now(datetime.timezone.utc):%Y%m%dT%H%M}.md"
    with open(os.path.join(HERE, "results", name), "w") as f:
        f.write(out + "\n")
    bad = [n for n, by in results.items() for rs in by.values() if any(r["non2xx"] + r["socket_errors"] for r in rs)]
    if bad:
        print(f"unexpected non-2xx answers or socket errors in: {', '.join(sorted(set(bad)))}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
