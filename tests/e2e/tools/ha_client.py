#!/usr/bin/env python3
"""Users working through the load balancer of the ha-cluster scenario, the whole time.
Standard library only; the password comes from MATHESAR_PASSWORD, never from the command line.

Usage:
  ha_client.py loop BASE USER DB_ID TABLE_OID DIR MAX_SECONDS MAX_COUNT
      log in once through BASE (the load balancer), then add one row a request to TABLE_OID
      (column "2", value "loop N"), about five a second, until DIR/stop exists, MAX_SECONDS have
      passed or MAX_COUNT requests were made. Each request is a line of DIR/requests.jsonl:
      {"i", "t" (seconds since the epoch), "ok", "server" (the balancer's X-Served-By), "phase"
      (the content of DIR/phase when it was sent), "error"}.
  ha_client.py report DIR PHASE
      one JSON object for the requests of PHASE: sent, failed, servers (that answered),
      unavailable_s (from the first failed request to the first success after the last one) and
      servers_after (that answered after the last failed request).
  ha_client.py acknowledged DIR BASE USER DB_ID TABLE_OID
      every value whose request succeeded is in the table (read through BASE): prints
      {"acknowledged", "found", "missing"}; exit 1 when one is missing.
  ha_client.py session BASE_A BASE_B USER
      log in through host A, then call the API through host B with the same cookies: exit 0
      when B knows the session (sessions live in the shared database).
  ha_client.py import BASE BASE_A BASE_B USER DB_ID
      an import as a user makes it (a CSV uploaded, then tables.import of that file), through
      BASE keeping the balancer's affinity cookie, and once more with the upload on host A and
      the import on host B. Prints {"through_balancer": {"upload", "import" (the hosts that
      answered), "rows"}, "across_hosts": the import's error or "imported"}; exit 0 when the
      import through BASE reached one host and holds every row.
The loop drops the balancer's affinity cookie (BALANCER_COOKIE) after each answer: its requests
are spread over the hosts as many users' are, each phase seeing which hosts answer.
Exit codes: 0 ok, 1 a check failed, 2 usage, 5 the first login failed.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mathesar_client import Client, Failure  # noqa: E402
import load  # noqa: E402

PAUSE = 0.2
# The cookie the bed's balancer sets for affinity (fixtures/ha-cluster/haproxy-web.cfg).
BALANCER_COOKIE = "MATHESAR_HOST"
IMPORT_ROWS = 200


def forget_affinity(client):
    for c in [c for c in client.jar if c.name == BALANCER_COOKIE]:
        client.jar.clear(c.domain, c.path, c.name)


def rpc(client, method, params):
    """(ok, server, error) of one API call; never raises."""
    payload = json.dumps({"jsonrpc": "2.0", "method": method, "params": params, "id": 1})
    try:
        status, headers, body = client.request("api/rpc/v0/", payload.encode(), {
            "X-CSRFToken": client.csrf(),
            "Origin": client.origin(),
            "Referer": client.url(""),
            "Content-Type": "application/json",
        })
    except Failure as f:
        return False, None, str(f)[:200]
    server = headers.get("X-Served-By")
    if status != 200:
        return False, server, f"HTTP {status}: {body[:120]!r}"
    answer = json.loads(body)
    if "error" in answer:
        return False, server, json.dumps(answer["error"])[:200]
    return True, server, None


def loop(base, user, db_id, table, out, max_seconds, max_count):
    client = Client(base)
    client.timeout = 10
    try:
        client.login(user, os.environ.get("MATHESAR_PASSWORD", ""))
    except Failure as f:
        print(f"ha_client: {f}", file=sys.stderr)
        return 5
    forget_affinity(client)
    end = time.time() + max_seconds
    with open(os.path.join(out, "requests.jsonl"), "a", encoding="utf-8") as log:
        for i in range(1, max_count + 1):
            if time.time() > end or os.path.exists(os.path.join(out, "stop")):
                break
            try:
                with open(os.path.join(out, "phase"), encoding="utf-8") as p:
                    phase = p.read().strip()
            except OSError:
                phase = ""
            t = time.time()
            ok, server, error = rpc(client, "records.add", {
                "table_oid": table, "database_id": db_id, "record_def": {"2": f"loop {i}"}})
            forget_affinity(client)
            log.write(json.dumps({"i": i, "t": t, "ok": ok, "server": server, "phase": phase,
                                  "error": error}) + "\n")
            log.flush()
            time.sleep(PAUSE)
    return 0


def requests(out):
    with open(os.path.join(out, "requests.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def report(out, phase):
    rs = [r for r in requests(out) if r["phase"] == phase]
    failed = [r for r in rs if not r["ok"]]
    unavailable = 0.0
    after = [r for r in rs if r["ok"]]
    if failed:
        after = [r for r in rs if r["ok"] and r["t"] > failed[-1]["t"]]
        until = after[0]["t"] if after else rs[-1]["t"]
        unavailable = round(until - failed[0]["t"], 1)
    print(json.dumps({
        "phase": phase, "sent": len(rs), "failed": len(failed),
        "servers": sorted({r["server"] for r in rs if r["ok"] and r["server"]}),
        "unavailable_s": unavailable,
        "servers_after": sorted({r["server"] for r in after if r["server"]}),
        "errors": sorted({r["error"] for r in failed})[:5],
    }))
    return 0


def acknowledged(out, base, user, db_id, table):
    client = Client(base)
    client.login(user, os.environ.get("MATHESAR_PASSWORD", ""))
    want = {f"loop {r['i']}" for r in requests(out) if r["ok"]}
    result = client_rows(client, table, db_id)
    missing = sorted(want - result)
    print(json.dumps({"acknowledged": len(want), "found": len(want & result),
                      "missing": missing[:20]}))
    return 1 if missing else 0


def client_rows(client, table, db_id):
    payload = json.dumps({"jsonrpc": "2.0", "method": "records.list", "id": 1, "params": {
        "table_oid": table, "database_id": db_id, "limit": 100000}})
    _, _, body = client.request("api/rpc/v0/", payload.encode(), {
        "X-CSRFToken": client.csrf(), "Origin": client.origin(), "Referer": client.url(""),
        "Content-Type": "application/json"})
    answer = json.loads(body)
    if "result" not in answer:
        raise Failure(5, f"records.list: {json.dumps(answer.get('error'))[:300]}")
    return {r["2"] for r in answer["result"]["results"]}


def session(base_a, base_b, user):
    client = Client(base_a)
    client.login(user, os.environ.get("MATHESAR_PASSWORD", ""))
    # The same cookie jar (cookies do not depend on the port), another host.
    client.base = base_b if base_b.endswith("/") else base_b + "/"
    ok, _, error = rpc(client, "databases.configured.list", {})
    if not ok:
        print(f"ha_client: host B does not know the session made on A: {error}", file=sys.stderr)
        return 1
    return 0


def import_file(base, base_a, base_b, user, db_id):
    password = os.environ.get("MATHESAR_PASSWORD", "")
    data = load.csv_rows(IMPORT_ROWS)
    client = Client(base)
    client.login(user, password)
    schema = next(s["oid"] for s in client.rpc("schemas.list", {"database_id": db_id})
                  if s["name"] == "public")

    def imported(c, name, fid):
        return c.rpc("tables.import", {"data_file_id": fid, "schema_oid": schema,
                                       "database_id": db_id, "table_name": name})["oid"]

    fid = load.upload(client, "ha_import_balanced", data)
    upload_host = client.last_headers.get("X-Served-By")
    oid = imported(client, "ha_import_balanced", fid)
    import_host = client.last_headers.get("X-Served-By")
    rows = client.rpc("records.list", {"table_oid": oid, "database_id": db_id, "limit": 1})["count"]
    # Without affinity: uploaded to host A, imported through host B (same session).
    cross = Client(base_a)
    cross.login(user, password)
    fid = load.upload(cross, "ha_import_across", data)
    cross.base = base_b if base_b.endswith("/") else base_b + "/"
    try:
        imported(cross, "ha_import_across", fid)
        across = "imported"
    except Failure as f:
        across = str(f)[:300]
    print(json.dumps({"through_balancer": {"upload": upload_host, "import": import_host, "rows": rows},
                      "across_hosts": across}))
    return 0 if upload_host and upload_host == import_host and rows == IMPORT_ROWS else 1


def main(argv):
    try:
        if len(argv) == 9 and argv[1] == "loop":
            return loop(argv[2], argv[3], int(argv[4]), int(argv[5]), argv[6], float(argv[7]),
                        int(argv[8]))
        if len(argv) == 4 and argv[1] == "report":
            return report(argv[2], argv[3])
        if len(argv) == 7 and argv[1] == "acknowledged":
            return acknowledged(argv[2], argv[3], argv[4], int(argv[5]), int(argv[6]))
        if len(argv) == 5 and argv[1] == "session":
            return session(argv[2], argv[3], argv[4])
        if len(argv) == 7 and argv[1] == "import":
            return import_file(argv[2], argv[3], argv[4], argv[5], int(argv[6]))
    except Failure as f:
        print(f"ha_client: {f}", file=sys.stderr)
        return 5
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
