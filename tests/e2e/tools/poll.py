#!/usr/bin/env python3
"""Polls a URL every --every seconds until SIGTERM, one line per request on stdout:
"EPOCH STATUS" (STATUS 0 when no answer came within --timeout). For the upgrade benchmark
(scripts/bench-upgrade): when the old release last answered, and the new one first."""
import argparse
import signal
import sys
import time
import urllib.error
import urllib.request

stop = False


def on_term(*_):
    global stop
    stop = True


def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--every", type=float, default=0.1)
    p.add_argument("--timeout", type=float, default=2.0)
    a = p.parse_args()
    signal.signal(signal.SIGTERM, on_term)
    while not stop:
        started = time.time()
        try:
            with urllib.request.urlopen(a.url, timeout=a.timeout) as r:
                r.read()
                status = r.status
        except urllib.error.HTTPError as e:
            status = e.code
        except Exception:
            status = 0
        print(f"{started:.3f} {status}", flush=True)
        left = a.every - (time.time() - started)
        if left > 0:
            time.sleep(left)


def outage(path):
    """Seconds from the last answer 200 before the first failure to the first 200 after the
    last failure; 0 when nothing failed."""
    rows = [line.split() for line in open(path, encoding="utf-8") if line.strip()]
    rows = [(float(t), int(s)) for t, s in rows]
    failed = [i for i, (_, s) in enumerate(rows) if s != 200]
    if not failed:
        return 0.0
    first, last = failed[0], failed[-1]
    if first == 0 or last == len(rows) - 1:
        raise SystemExit(f"{path}: the outage is not bounded by answers on both sides")
    return rows[last + 1][0] - rows[first - 1][0]


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--outage":
        print(f"{outage(sys.argv[2]):.2f}")
    else:
        main()
