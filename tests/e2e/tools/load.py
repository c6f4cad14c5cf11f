#!/usr/bin/env python3
"""A team's load on the real Mathesar, for scripts/bench (P7): N users, each logged in through
the proxy with a session of its own, calling Mathesar's JSON-RPC API in a loop for D seconds
(a page of records of a 10,000-row table, one record, one new record) while one more user keeps
a long request running, again and again: by default a colleague importing a large CSV over a
slow link (the upload's body sent evenly over --upload-seconds, which holds whatever serves it
for that long: a whole synchronous gunicorn worker, or one thread of a gthread worker; the
proxy streams request bodies), then importing it into a new table; with --long import, only
the import of a file uploaded beforehand. Reuses mathesar_client.py (the form login with CSRF,
the RPC calls). Standard library only.

Usage (BASE is the login address on a loopback address, e.g. http://127.0.0.1:8080/; the
password comes from $MATHESAR_PASSWORD):
  load.py setup BASE USER [--rows 10000] [--table bench_records]
      creates TABLE in the public schema of the user database (the first one Mathesar lists)
      through the API (a CSV of ROWS rows uploaded and imported) unless it exists; prints JSON
  load.py run BASE USER [--users 20] [--seconds 60] [--long-rows 200000] [--table bench_records]
                        [--long slow-upload|import] [--upload-seconds 45]
      the load; prints JSON: requests, failed (and the first error texts), throughput (req/s),
      p50/p95/p99/max latency in ms (all calls and each kind), the logins, and the long
      request's runs. The records it added and the tables it imported are deleted afterwards
      (not measured), so that a second run starts from the same table.
Bounds: at most 200 users and 600 seconds (an upload at most 300 s); a base URL that is not a loopback address is refused
(this is a benchmark of a local stack, never of someone's server).
Exit codes: 0 the load ran (failed requests are in the JSON), 2 usage or refused, 5 set-up failed.
"""

import argparse
import ipaddress
import json
import os
import random
import socket
import sys
import threading
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mathesar_client as mc  # noqa: E402

MAX_USERS = 200
MAX_SECONDS = 600
MAX_UPLOAD_SECONDS = 300
UPLOAD_STEP = 0.25  # seconds between two pieces of a slow upload's body
PAGE = 100  # rows a records.list call asks for, as a page of Mathesar's table view
ERRORS_KEPT = 5


def not_loopback(base):
    """Why BASE is refused (its host is not, or does not resolve only to, loopback addresses),
    or None."""
    u = urllib.parse.urlsplit(base)
    if u.scheme not in ("http", "https") or not u.hostname:
        return f"not an http(s) URL: {base}"
    try:
        addrs = {a[4][0] for a in socket.getaddrinfo(u.hostname, u.port or 80)}
    except OSError as e:
        return f"cannot resolve {u.hostname}: {e}"
    bad = [a for a in addrs if not ipaddress.ip_address(a.split("%")[0]).is_loopback]
    if bad:
        return f"{u.hostname} is not a loopback address ({', '.join(sorted(bad))}): refused"
    return None


def session(base, user, password, timeout=120):
    c = mc.Client(base)
    c.timeout = timeout
    c.login(user, password)
    return c


def where(c, table):
    """(database_id, schema_oid, table_oid or None) of TABLE in the first user database."""
    dbs = c.rpc("databases.configured.list", {})
    if not dbs:
        raise mc.Failure(5, "Mathesar lists no user database")
    db = dbs[0]["id"]
    schema = next((s["oid"] for s in c.rpc("schemas.list", {"database_id": db}) if s["name"] == "public"), None)
    if schema is None:
        raise mc.Failure(5, "no public schema in the user database")
    oid = next((t["oid"] for t in c.rpc("tables.list", {"schema_oid": schema, "database_id": db})
                if t["name"] == table), None)
    return db, schema, oid


def csv_rows(n):
    lines = ["name,city,amount,note"]
    cities = ["Lisbon", "Accra", "Osaka", "Lima", "Tromso", "Perth", "Quito", "Riga"]
    for i in range(1, n + 1):
        lines.append(f"person {i},{cities[i % len(cities)]},{(i * 37) % 10000 / 100:.2f},note number {i}")
    return ("\n".join(lines) + "\n").encode()


def paced(body, seconds):
    """BODY in pieces spread evenly over SECONDS: a link that slow."""
    steps = max(1, int(seconds / UPLOAD_STEP))
    size = -(-len(body) // steps)
    start = time.monotonic()
    for k in range(steps):
        wait = start + k * UPLOAD_STEP - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        yield body[k * size:(k + 1) * size]


def upload(c, name, data, seconds=0):
    """A data file through Mathesar's upload endpoint (multipart, as the import page sends it);
    with SECONDS, its body sent over that long."""
    b = uuid.uuid4().hex
    body = (f'--{b}\r\nContent-Disposition: form-data; name="header"\r\n\r\ntrue\r\n'
            f'--{b}\r\nContent-Disposition: form-data; name="file"; filename="{name}.csv"\r\n'
            f"Content-Type: text/csv\r\n\r\n").encode() + data + f"\r\n--{b}--\r\n".encode()
    status, _, answer = c.request("api/db/v0/data_files/", paced(body, seconds) if seconds else body, {
        "X-CSRFToken": c.csrf(), "Origin": c.origin(), "Referer": c.url(""),
        "Content-Type": f"multipart/form-data; boundary={b}",
        # A body sent in pieces is sent as it is only with its length known (not chunked).
        "Content-Length": str(len(body)),
    })
    if status not in (200, 201):
        raise mc.Failure(5, f"data file upload: HTTP {status}: {answer[:300]!r}")
    return json.loads(answer)["id"]


def columns(c, db, oid):
    """(primary key attnum, [other attnums]) of a table."""
    cols = c.rpc("columns.list", {"table_oid": oid, "database_id": db})
    pk = next(col["id"] for col in cols if col["primary_key"])
    return pk, [col["id"] for col in cols if not col["primary_key"]]


def setup(args, password):
    c = session(args.base, args.user, password, timeout=600)
    db, schema, oid = where(c, args.table)
    created = False
    if oid is None:
        fid = upload(c, args.table, csv_rows(args.rows))
        oid = c.rpc("tables.import", {"data_file_id": fid, "schema_oid": schema, "database_id": db,
                                      "table_name": args.table})["oid"]
        created = True
    count = c.rpc("records.list", {"table_oid": oid, "database_id": db, "limit": 1})["count"]
    print(json.dumps({"database_id": db, "schema_oid": schema, "table_oid": oid, "rows": count,
                      "created": created}))


def pct(sorted_ms, p):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_ms:
        return None
    k = max(0, min(len(sorted_ms) - 1, int(round(p / 100 * len(sorted_ms) + 0.5)) - 1))
    return round(sorted_ms[k], 1)


def summary(ms):
    s = sorted(ms)
    return {"requests": len(s), "p50_ms": pct(s, 50), "p95_ms": pct(s, 95), "p99_ms": pct(s, 99),
            "max_ms": round(s[-1], 1) if s else None}


class Results:
    def __init__(self):
        self.lock = threading.Lock()
        self.calls = []  # (kind, start, ms, ok)
        self.errors = []
        self.added = []  # primary keys of the records added

    def record(self, kind, start, ms, error=None):
        with self.lock:
            self.calls.append((kind, start, ms, error is None))
            if error is not None and len(self.errors) < ERRORS_KEPT:
                self.errors.append(f"{kind}: {error}"[:400])


def user_loop(c, n, db, oid, rows, pk, attnums, start_at, deadline, res):
    rnd = random.Random(n)
    i = 0
    calls = [
        ("records.list", lambda: {"table_oid": oid, "database_id": db, "limit": PAGE,
                                  "offset": rnd.randrange(0, max(1, rows - PAGE))}),
        ("records.get", lambda: {"record_id": rnd.randint(1, rows), "table_oid": oid, "database_id": db}),
        ("records.add", lambda: {"table_oid": oid, "database_id": db,
                                 "record_def": {str(a): f"user {n} row {i}" for a in attnums}}),
    ]
    while time.monotonic() < start_at:
        time.sleep(0.001)
    while True:
        for kind, params in calls:
            if time.monotonic() >= deadline:
                return
            t = time.monotonic()
            try:
                r = c.rpc(kind, params())
                res.record(kind, t, (time.monotonic() - t) * 1000)
                if kind == "records.add":
                    with res.lock:
                        res.added.append(r["results"][0][str(pk)])
            except (mc.Failure, KeyError, IndexError, TypeError, ValueError) as e:
                res.record(kind, t, (time.monotonic() - t) * 1000, e)
            i += 1


def long_loop(c, db, schema, long, start_at, deadline, out):
    """The long user, one request after the other until the deadline: a long request is in
    progress during the whole measurement. LONG: ("import", data file id) imports that file into
    a new table; ("slow-upload", csv bytes, seconds) uploads the CSV over that many seconds, then
    imports it (one run: both)."""
    while time.monotonic() < start_at:
        time.sleep(0.001)
    k = 0
    while time.monotonic() < deadline:
        k += 1
        t = time.monotonic()
        try:
            fid = long[1] if long[0] == "import" else upload(c, f"bench_long_{k}", long[1], long[2])
            r = c.rpc("tables.import", {"data_file_id": fid, "schema_oid": schema, "database_id": db,
                                        "table_name": f"bench_long_{os.getpid()}_{k}"})
            out.append({"seconds": round(time.monotonic() - t, 2), "ok": True, "oid": r["oid"]})
        except (mc.Failure, KeyError, TypeError, ValueError) as e:
            out.append({"seconds": round(time.monotonic() - t, 2), "ok": False, "error": str(e)[:400]})
            time.sleep(1)  # a refused request comes back at once: do not spin


def run(args, password):
    setup_client = session(args.base, args.user, password, timeout=600)
    db, schema, oid = where(setup_client, args.table)
    if oid is None:
        raise mc.Failure(5, f"no table {args.table} (run `load.py setup` first)")
    rows = setup_client.rpc("records.list", {"table_oid": oid, "database_id": db, "limit": 1})["count"]
    pk, attnums = columns(setup_client, db, oid)
    if args.long == "import":
        # The file is uploaded before the measurement: only its imports overlap the load.
        long = ("import", upload(setup_client, "bench_long", csv_rows(args.long_rows)))
    else:
        long = ("slow-upload", csv_rows(args.long_rows), args.upload_seconds)

    # Every user logs in at once (Django's password hashing is deliberately slow): timed apart.
    logins, clients, login_errors = [], [None] * args.users, []

    def login(n):
        t = time.monotonic()
        try:
            clients[n] = session(args.base, args.user, password)
            logins.append((time.monotonic() - t) * 1000)
        except mc.Failure as e:
            login_errors.append(str(e)[:400])

    threads = [threading.Thread(target=login, args=(n,)) for n in range(args.users)]
    long_client = session(args.base, args.user, password, timeout=MAX_SECONDS)
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    res, long_runs = Results(), []
    start_at = time.monotonic() + 0.5
    deadline = start_at + args.seconds
    threads = [threading.Thread(target=user_loop, args=(c, n, db, oid, rows, pk, attnums, start_at, deadline, res))
               for n, c in enumerate(clients) if c is not None]
    threads.append(threading.Thread(target=long_loop, args=(long_client, db, schema, long, start_at, deadline, long_runs)))
    for t in threads:
        t.start()
    for t in threads[:-1]:
        t.join()
    users_done = time.monotonic()
    threads[-1].join()

    ok = [c for c in res.calls if c[3]]
    in_window = [c for c in ok if c[1] + c[2] / 1000 <= deadline]
    out = {
        "base": args.base, "users": args.users, "seconds": args.seconds, "table_rows": rows,
        "logins": {"ok": len(logins), "failed": len(login_errors), "errors": login_errors[:ERRORS_KEPT],
                   **{k: v for k, v in summary(logins).items() if k != "requests"}},
        "requests": len(res.calls),
        "failed": len(res.calls) - len(ok),
        "errors": res.errors,
        "throughput_rps": round(len(in_window) / args.seconds, 2),
        **{k: v for k, v in summary([c[2] for c in ok]).items() if k != "requests"},
        "by_call": {k: summary([c[2] for c in ok if c[0] == k])
                    for k in ("records.list", "records.get", "records.add")},
        "users_overran_s": round(max(0.0, users_done - deadline), 2),
        "long": {"kind": args.long, "rows": args.long_rows,
                 "upload_seconds": args.upload_seconds if args.long == "slow-upload" else None,
                 "runs": len(long_runs),
                 "failed": sum(1 for r in long_runs if not r["ok"]),
                 "seconds": [r["seconds"] for r in long_runs],
                 "errors": [r["error"] for r in long_runs if not r["ok"]][:ERRORS_KEPT]},
    }
    # Back to the table the run started from (not measured).
    cleanup = []
    try:
        for i in range(0, len(res.added), 500):
            setup_client.rpc("records.delete", {"record_ids": res.added[i:i + 500], "table_oid": oid,
                                                "database_id": db})
        for r in long_runs:
            if r["ok"]:
                setup_client.rpc("tables.delete", {"table_oid": r["oid"], "database_id": db})
    except mc.Failure as e:
        cleanup.append(str(e)[:400])
    out["cleanup_errors"] = cleanup
    print(json.dumps(out))


def main(argv):
    p = argparse.ArgumentParser(prog="load.py", description=__doc__.split("\n\n")[0])
    p.add_argument("cmd", choices=("setup", "run"))
    p.add_argument("base")
    p.add_argument("user")
    p.add_argument("--table", default="bench_records")
    p.add_argument("--rows", type=int, default=10000)
    p.add_argument("--users", type=int, default=20)
    p.add_argument("--seconds", type=int, default=60)
    p.add_argument("--long-rows", type=int, default=200000)
    p.add_argument("--long", choices=("slow-upload", "import"), default="slow-upload")
    p.add_argument("--upload-seconds", type=int, default=45)
    args = p.parse_args(argv[1:])
    if not 1 <= args.users <= MAX_USERS:
        p.error(f"--users must be 1-{MAX_USERS}")
    if not 1 <= args.seconds <= MAX_SECONDS:
        p.error(f"--seconds must be 1-{MAX_SECONDS}")
    if not 1 <= args.rows <= 1_000_000 or not 1 <= args.long_rows <= 2_000_000:
        p.error("--rows at most 1,000,000, --long-rows at most 2,000,000")
    if not 1 <= args.upload_seconds <= MAX_UPLOAD_SECONDS:
        p.error(f"--upload-seconds must be 1-{MAX_UPLOAD_SECONDS}")
    refused = not_loopback(args.base)
    if refused:
        print(f"load: {refused}", file=sys.stderr)
        return 2
    if not args.base.endswith("/"):
        args.base += "/"
    password = os.environ.get("MATHESAR_PASSWORD", "")
    try:
        (setup if args.cmd == "setup" else run)(args, password)
    except mc.Failure as f:
        print(f"load: {f}", file=sys.stderr)
        return 5
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
