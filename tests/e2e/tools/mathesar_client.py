#!/usr/bin/env python3
"""Drives the real Mathesar as its users do, for the end-to-end scenarios: the login page and its
bundles, the login form (CSRF cookie + X-CSRFToken), and the JSON-RPC API at /api/rpc/v0/.
Standard library only. Passwords come from the environment, never from the command line.

Usage (BASE is the login address, e.g. http://127.0.0.1:8080/):
  mathesar_client.py page BASE [PATH]           the login page (or PATH): title, bundles, each
                                                served 200
  mathesar_client.py home BASE USER             log in, then the same of the home page
  mathesar_client.py login BASE USER            exit 0 when the form login with $MATHESAR_PASSWORD
                                                succeeds, 3 when Mathesar refuses it
  mathesar_client.py cookies BASE USER          log in, then print the cookies set, as JSON
                                                {"NAME": {"secure": true|false}, ...}
  mathesar_client.py rpc BASE USER METHOD [JSON_PARAMS]   log in, call METHOD, print the result
  mathesar_client.py script BASE USER           log in, then read calls from stdin, one JSON
                                                object {"method":..., "params":...} a line; print
                                                each result (JSON) a line; stop at the first error
Options from the environment: MATHESAR_PASSWORD, MATHESAR_RESOLVE=HOST:PORT:ADDR (like curl's
--resolve, for a domain served by the test host), MATHESAR_INSECURE=1 (Caddy's internal CA),
MATHESAR_CA=FILE (trust the CA certificates in FILE, PEM, instead of the system's).
Requests that change something carry Origin and Referer, as a browser's do (Django's CSRF checks
both over HTTPS).
Exit codes: 0 ok, 2 usage, 3 login refused, 4 RPC error, 5 HTTP or network failure.
"""

import http.client
import http.cookiejar
import json
import os
import re
import socket
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request


class Failure(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def resolve_override():
    spec = os.environ.get("MATHESAR_RESOLVE")
    if not spec:
        return
    host, port, addr = spec.split(":", 2)
    real = socket.getaddrinfo

    def patched(h, p, *a, **kw):
        if h == host and str(p) == port:
            return real(addr, p, *a, **kw)
        return real(h, p, *a, **kw)

    socket.getaddrinfo = patched


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Client:
    def __init__(self, base):
        self.base = base if base.endswith("/") else base + "/"
        # Seconds a request may take (tools/load.py raises it for its long request).
        self.timeout = 60
        self.jar = http.cookiejar.CookieJar()
        # The last answer's headers (a load balancer's X-Served-By says which host gave it).
        self.last_headers = {}
        ctx = ssl.create_default_context(cafile=os.environ.get("MATHESAR_CA") or None)
        if os.environ.get("MATHESAR_INSECURE") == "1":
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar),
            urllib.request.HTTPSHandler(context=ctx),
            NoRedirect,
        )

    def url(self, path):
        return urllib.parse.urljoin(self.base, path)

    def origin(self):
        u = urllib.parse.urlsplit(self.base)
        return f"{u.scheme}://{u.netloc}"

    def request(self, path, data=None, headers=None):
        """(status, headers, body) without following redirects."""
        req = urllib.request.Request(self.url(path), data=data, headers=headers or {})
        try:
            with self.opener.open(req, timeout=self.timeout) as r:
                self.last_headers = r.headers
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            self.last_headers = e.headers
            return e.code, e.headers, e.read()
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            raise Failure(5, f"{self.url(path)}: {e}")

    def csrf(self):
        for c in self.jar:
            if c.name == "csrftoken":
                return c.value
        raise Failure(5, "Mathesar set no csrftoken cookie")

    def page(self, path="auth/login/"):
        status, _, body = self.request(path)
        text = body.decode("utf-8", "replace")
        if status != 200:
            raise Failure(5, f"GET /{path} answered {status}")
        title = re.search(r"<title>(.*?)</title>", text, re.S)
        assets = sorted(set(re.findall(r'(?:src|href)="(/static/[^"]+\.(?:js|css))"', text)))
        served = {}
        for a in assets:
            s, _, b = self.request(a)
            served[a] = {"status": s, "bytes": len(b)}
        return {"status": status, "title": title.group(1).strip() if title else None,
                "assets": served}

    def login(self, user, password):
        status, _, _ = self.request("auth/login/")
        if status != 200:
            raise Failure(5, f"GET /auth/login/ answered {status}")
        form = urllib.parse.urlencode({"username": user, "password": password}).encode()
        status, headers, body = self.request("auth/login/", form, {
            "X-CSRFToken": self.csrf(),
            "Origin": self.origin(),
            "Referer": self.url("auth/login/"),
            "Content-Type": "application/x-www-form-urlencoded",
        })
        if status == 302 and not headers.get("Location", "").startswith("/auth/login"):
            return
        if status in (200, 302):
            raise Failure(3, f"Mathesar refused the login of {user}")
        raise Failure(5, f"POST /auth/login/ answered {status}: {body[:300]!r}")

    def rpc(self, method, params, ident=1):
        payload = json.dumps({"jsonrpc": "2.0", "method": method, "params": params, "id": ident})
        status, _, body = self.request("api/rpc/v0/", payload.encode(), {
            "X-CSRFToken": self.csrf(),
            "Origin": self.origin(),
            "Referer": self.url(""),
            "Content-Type": "application/json",
        })
        if status != 200:
            raise Failure(5, f"{method}: HTTP {status}: {body[:300]!r}")
        answer = json.loads(body)
        if "error" in answer:
            raise Failure(4, f"{method}: {json.dumps(answer['error'])[:600]}")
        return answer["result"]


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    resolve_override()
    cmd, base = argv[1], argv[2]
    client = Client(base)
    password = os.environ.get("MATHESAR_PASSWORD", "")
    try:
        if cmd == "page" and len(argv) in (3, 4):
            print(json.dumps(client.page(*argv[3:])))
        elif cmd == "home" and len(argv) == 4:
            client.login(argv[3], password)
            print(json.dumps(client.page("")))
        elif cmd == "login" and len(argv) == 4:
            client.login(argv[3], password)
        elif cmd == "cookies" and len(argv) == 4:
            client.login(argv[3], password)
            print(json.dumps({c.name: {"secure": bool(c.secure)} for c in client.jar}))
        elif cmd == "rpc" and len(argv) in (5, 6):
            client.login(argv[3], password)
            params = json.loads(argv[5]) if len(argv) == 6 else {}
            print(json.dumps(client.rpc(argv[4], params)))
        elif cmd == "script" and len(argv) == 4:
            client.login(argv[3], password)
            for i, line in enumerate(sys.stdin, 1):
                if line.strip():
                    call = json.loads(line)
                    print(json.dumps(client.rpc(call["method"], call.get("params", {}), i)), flush=True)
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except Failure as f:
        print(f"mathesar_client: {f}", file=sys.stderr)
        return f.code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
