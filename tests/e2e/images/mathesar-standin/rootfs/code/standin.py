#!/usr/bin/env python3
"""STAND-IN for the Mathesar application, used only by the end-to-end tests (see README.md).

It honours the environment contract of the real image (POSTGRES_*, SECRET_KEY, ALLOWED_HOSTS,
DJANGO_SETTINGS_MODULE, ...), really connects to PostgreSQL with the credentials it was given,
keeps its users in the table the real application uses (mathesar_user), and reports what it
received: never values, only their SHA-256.
"""
import argparse
import base64
import hashlib
import hmac
import html
import json
import os
import re
import secrets
import signal
import socket
import sys
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2

CODE = "/code"
SECRET_KEY_FILE = os.path.join(CODE, ".secrets", "secret_key.txt")
STATIC_DIR = os.path.join(CODE, "static")
KNOWN_SETTINGS = {
    "config.settings.production",
    "config.settings.development",
    "config.settings.common_settings",
}
DEFAULT_ALLOWED_HOSTS = ".localhost, 127.0.0.1, [::1]"
PBKDF2_ITERATIONS = 600000  # Django 4.2's default, the version Mathesar 0.11 uses
SECRET_KEY_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789!@#$%^&*(-_=+)"

# Snapshot of the environment the process received, as raw bytes (byte-exact hashing).
ENV_HASHES = {
    k.decode("utf-8", "replace"): hashlib.sha256(v).hexdigest() for k, v in os.environb.items()
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS django_migrations (
    id bigserial PRIMARY KEY,
    app varchar(255) NOT NULL,
    name varchar(255) NOT NULL,
    applied timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS mathesar_user (
    id bigserial PRIMARY KEY,
    password varchar(128) NOT NULL,
    last_login timestamptz,
    is_superuser boolean NOT NULL,
    username varchar(150) NOT NULL UNIQUE,
    first_name varchar(150) NOT NULL DEFAULT '',
    last_name varchar(150) NOT NULL DEFAULT '',
    email varchar(254) NOT NULL,
    is_staff boolean NOT NULL,
    is_active boolean NOT NULL DEFAULT true,
    date_joined timestamptz NOT NULL DEFAULT now(),
    full_name varchar(255),
    short_name varchar(255),
    display_language varchar(30) NOT NULL DEFAULT 'en',
    password_change_needed boolean NOT NULL DEFAULT false
);
CREATE TABLE IF NOT EXISTS standin_boot (
    id bigserial PRIMARY KEY,
    booted_at timestamptz NOT NULL DEFAULT now(),
    hostname text NOT NULL,
    secret_key_sha256 text NOT NULL
);
INSERT INTO django_migrations (app, name)
    SELECT 'standin', '0001_initial'
    WHERE NOT EXISTS (SELECT 1 FROM django_migrations WHERE app = 'standin');
"""


def log(message):
    print(f"mathesar stand-in: {message}", file=sys.stderr, flush=True)


def sha256_hex(text):
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


# --- configuration ---------------------------------------------------------------------------


class ConfigError(Exception):
    pass


def db_settings():
    """Connection settings from the POSTGRES_* variables, with the real application's defaults."""
    env = os.environ
    missing = [v for v in ("POSTGRES_DB", "POSTGRES_USER", "POSTGRES_HOST") if not env.get(v)]
    if missing:
        raise ConfigError(
            f"{', '.join(missing)} not set: the real image would then start its own built-in "
            "PostgreSQL; the stand-in does not emulate that and stops"
        )
    return {
        "dbname": env["POSTGRES_DB"],
        "user": env["POSTGRES_USER"],
        "password": env.get("POSTGRES_PASSWORD", ""),
        "host": env["POSTGRES_HOST"],
        "port": env.get("POSTGRES_PORT") or "5432",
        "sslmode": env.get("POSTGRES_SSLMODE") or "prefer",
    }


def connect(settings, timeout=5):
    return psycopg2.connect(
        connect_timeout=timeout, application_name="mathesar-standin", **settings
    )


@contextmanager
def cursor(settings):
    """A cursor in one transaction on a fresh connection, closed afterwards."""
    conn = connect(settings)
    try:
        with conn, conn.cursor() as cur:
            yield cur
    finally:
        conn.close()


def check_settings_module():
    module = os.environ.get("DJANGO_SETTINGS_MODULE") or "config.settings.production"
    if module not in KNOWN_SETTINGS:
        raise ConfigError(f"ModuleNotFoundError: No module named '{module}'")
    return module


def secret_key():
    """(key, source): SECRET_KEY, or the key generated once into .secrets (real app's rule)."""
    key = os.environ.get("SECRET_KEY", "")
    if key:
        return key, "env"
    try:
        with open(SECRET_KEY_FILE, encoding="utf-8") as f:
            key = f.read().strip()
        if key:
            return key, "file"
    except FileNotFoundError:
        pass
    key = "".join(secrets.choice(SECRET_KEY_CHARS) for _ in range(50))
    os.makedirs(os.path.dirname(SECRET_KEY_FILE), exist_ok=True)
    with open(SECRET_KEY_FILE, "w", encoding="utf-8") as f:
        f.write(key)
    log(f"SECRET_KEY is not set: generated one into {SECRET_KEY_FILE}")
    return key, "generated"


def allowed_hosts():
    raw = os.environ.get("ALLOWED_HOSTS", DEFAULT_ALLOWED_HOSTS)
    return [h.strip().lower() for h in raw.split(",") if h.strip()]


def host_allowed(host_header, patterns):
    """Django's validate_host(): '*', '.domain' (domain and subdomains) or an exact name."""
    match = re.fullmatch(r"([a-z0-9.-]+|\[[a-f0-9]*:[a-f0-9.:]+\])(:[0-9]+)?", host_header.lower())
    if not match:
        return False
    domain = match.group(1).rstrip(".")
    for pattern in patterns:
        if pattern == "*":
            return True
        if pattern.startswith(".") and (domain == pattern[1:] or domain.endswith(pattern)):
            return True
        if domain == pattern:
            return True
    return False


# --- passwords (Django's pbkdf2_sha256 format) ------------------------------------------------


def make_password(password):
    if password is None:  # Django: an unusable password
        return "!" + secrets.token_urlsafe(30)
    salt = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(22))
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), PBKDF2_ITERATIONS)
    return f"pbkdf2_sha256${PBKDF2_ITERATIONS}${salt}${base64.b64encode(digest).decode()}"


def check_password(password, encoded):
    try:
        algorithm, iterations, salt, expected = encoded.split("$", 3)
    except ValueError:
        return False
    if algorithm != "pbkdf2_sha256":
        return False
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(iterations))
    return hmac.compare_digest(base64.b64encode(digest).decode(), expected)


# --- the web application ----------------------------------------------------------------------

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title} | Mathesar</title></head>
<body>
<h1>Mathesar</h1>
<h2>{title}</h2>
<p><strong>This is the Mathesar stand-in of the end-to-end tests, not the real Mathesar
application.</strong></p>
{body}
</body></html>
"""


class App:
    def __init__(self, settings):
        self.settings = settings
        self.allowed = allowed_hosts()
        self.key, self.key_source = secret_key()

    def superuser_exists(self):
        with cursor(self.settings) as cur:
            cur.execute("SELECT EXISTS (SELECT 1 FROM mathesar_user WHERE is_superuser AND is_active)")
            return cur.fetchone()[0]

    def db_report(self):
        report = {k: self.settings[k] for k in ("host", "port", "dbname", "user")}
        try:
            with cursor(self.settings) as cur:
                cur.execute(
                    "SELECT current_user, current_database(), current_setting('server_version'),"
                    " (SELECT count(*) FROM standin_boot)"
                )
                user, dbname, version, boots = cur.fetchone()
            report.update(connected=True, current_user=user, current_database=dbname,
                          server_version=version, boots=boots)
        except psycopg2.Error as e:
            report.update(connected=False, error=str(e).strip())
        return report

    def users(self):
        with cursor(self.settings) as cur:
            cur.execute(
                "SELECT username, email, is_superuser, is_staff, is_active, password"
                " FROM mathesar_user ORDER BY id"
            )
            rows = cur.fetchall()
        return [
            {"username": u, "email": e, "is_superuser": s, "is_staff": st, "is_active": a,
             "has_usable_password": not p.startswith("!")}
            for u, e, s, st, a, p in rows
        ]


class Handler(BaseHTTPRequestHandler):
    server_version = "mathesar-standin"
    app: App = None

    def log_message(self, fmt, *args):
        print(f"{self.address_string()} - {fmt % args}", flush=True)

    def send(self, status, body=b"", content_type="text/html; charset=utf-8", headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, obj, status=200):
        self.send(status, json.dumps(obj, sort_keys=True, indent=1) + "\n", "application/json")

    def redirect(self, location):
        self.send(302, "", headers=[("Location", location)])

    def page(self, title, body):
        self.send(200, PAGE.format(title=html.escape(title), body=body))

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        app = self.app
        # Test endpoints: no host check, nothing secret in them.
        if path == "/__standin/env":
            return self.send_json(ENV_HASHES)
        if path == "/__standin/db":
            return self.send_json(app.db_report())
        if path == "/__standin/secret":
            return self.send_json({"source": app.key_source, "sha256": sha256_hex(app.key)})
        if path == "/__standin/users":
            try:
                return self.send_json(app.users())
            except psycopg2.Error as e:
                return self.send_json({"error": str(e).strip()}, 500)
        # The application: Django refuses hosts not in ALLOWED_HOSTS.
        if not host_allowed(self.headers.get("Host", ""), app.allowed):
            log(f"DisallowedHost: Invalid HTTP_HOST header: {self.headers.get('Host', '')!r}")
            return self.send(400, "<h1>Bad Request (400)</h1>")
        if path not in ("/", "/complete_installation/", "/auth/login/"):
            return self.send(404, "<h1>Not Found</h1>")
        try:
            complete = app.superuser_exists()
        except psycopg2.Error as e:
            log(f"database error: {str(e).strip()}")
            return self.send(500, "<h1>Server Error (500)</h1>")
        if path == "/":
            return self.redirect("/auth/login/" if complete else "/complete_installation/")
        if path == "/complete_installation/":
            if complete:
                return self.redirect("/auth/login/")
            return self.page("Complete installation",
                             "<p>Create the first admin user to complete the installation.</p>")
        if not complete:
            return self.redirect("/complete_installation/")
        return self.page("Log in", '<form method="post"><input name="username">'
                                   '<input name="password" type="password"></form>')


def wait_for_database(settings, seconds):
    """Connects like an application waiting for its database; gives up after `seconds`.
    A refused password is final at once (retrying would not help)."""
    deadline = time.monotonic() + seconds
    where = f"{settings['user']}@{settings['host']}:{settings['port']}/{settings['dbname']}"
    while True:
        try:
            conn = connect(settings, timeout=3)
            log(f"connected to PostgreSQL as {where}")
            return conn
        except psycopg2.OperationalError as e:
            error = str(e).strip()
            if "authentication failed" in error or "no password supplied" in error:
                raise ConfigError(f"cannot log in to PostgreSQL as {where}: {error}")
            if time.monotonic() >= deadline:
                raise ConfigError(f"PostgreSQL at {where} not reachable after {seconds}s: {error}")
            log(f"waiting for PostgreSQL at {where}: {error}")
            time.sleep(1)


def serve():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        check_settings_module()
        settings = db_settings()
        conn = wait_for_database(settings, int(os.environ.get("STANDIN_DB_WAIT_SECONDS", "60")))
    except ConfigError as e:
        log(f"ERROR: {e}")
        return 1
    app = App(settings)
    try:
        with conn, conn.cursor() as cur:  # "migrate"
            cur.execute(SCHEMA)
            cur.execute(
                "INSERT INTO standin_boot (hostname, secret_key_sha256) VALUES (%s, %s)",
                (socket.gethostname(), sha256_hex(app.key)),
            )
    finally:
        conn.close()
    if os.environ.get("SKIP_STATIC_COLLECTION", "").lower() not in ("1", "true", "t"):
        os.makedirs(STATIC_DIR, exist_ok=True)  # "collectstatic"
        with open(os.path.join(STATIC_DIR, "standin.txt"), "w", encoding="utf-8") as f:
            f.write("static files of the Mathesar stand-in\n")
    Handler.app = app
    server = ThreadingHTTPServer(("0.0.0.0", 8000), Handler)
    log(f"serving on 0.0.0.0:8000 (secret key from {app.key_source})")
    server.serve_forever()
    return 0


# --- manage.py ------------------------------------------------------------------------------


class CommandError(Exception):
    pass


USERNAME_RE = re.compile(r"[\w.@+-]+\Z")
EMAIL_USER_RE = re.compile(
    r"(^[-!#$%&'*+/=?^_`{}|~0-9A-Z]+(\.[-!#$%&'*+/=?^_`{}|~0-9A-Z]+)*\Z"
    r'|^"([\001-\010\013\014\016-\037!#-\[\]-\177]|\\[\001-\011\013\014\016-\177])*"\Z)',
    re.IGNORECASE,
)
EMAIL_DOMAIN_RE = re.compile(
    r"((?:[A-Z0-9](?:[A-Z0-9-]{0,61}[A-Z0-9])?\.)+)(?:[A-Z0-9-]{2,63}(?<!-))\Z", re.IGNORECASE
)


def valid_email(value):
    if "@" not in value or len(value) > 320:
        return False
    user, domain = value.rsplit("@", 1)
    if not EMAIL_USER_RE.match(user):
        return False
    if domain == "localhost":
        return True
    try:
        domain = domain.encode("idna").decode()
    except UnicodeError:
        return False
    return bool(EMAIL_DOMAIN_RE.match(domain))


def createsuperuser(argv):
    """Django's createsuperuser, non-interactive form (the one the installer uses)."""
    p = argparse.ArgumentParser(prog="manage.py createsuperuser")
    p.add_argument("--username")
    p.add_argument("--email")
    p.add_argument("--no-input", "--noinput", dest="interactive", action="store_false")
    p.add_argument("--database", default="default")
    p.add_argument("-v", "--verbosity", type=int, default=1)
    p.add_argument("--skip-checks", action="store_true")
    opts = p.parse_args(argv)
    if opts.interactive:
        raise CommandError("the stand-in only emulates the --no-input form of createsuperuser")
    username = opts.username or os.environ.get("DJANGO_SUPERUSER_USERNAME")
    if username is None:
        raise CommandError("You must use --username with --noinput.")
    password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")  # None: unusable password
    with cursor(db_settings()) as cur:
        cur.execute("SELECT 1 FROM mathesar_user WHERE username = %s", (username,))
        if cur.fetchone():
            raise CommandError("Error: That username is already taken.")
        if not username:
            raise CommandError("Username cannot be blank.")
        if len(username) > 150:
            raise CommandError(f"Ensure this value has at most 150 characters (it has {len(username)}).")
        if not USERNAME_RE.match(username):
            raise CommandError("Enter a valid username. This value may contain only letters, "
                               "numbers, and @/./+/-/_ characters.")
        email = opts.email or os.environ.get("DJANGO_SUPERUSER_EMAIL")
        if not email:
            raise CommandError("You must use --email with --noinput.")
        if not valid_email(email):
            raise CommandError("Enter a valid email address.")
        cur.execute(
            "INSERT INTO mathesar_user (password, is_superuser, username, email, is_staff)"
            " VALUES (%s, true, %s, %s, true)",
            (make_password(password), username, email),
        )
    if opts.verbosity >= 1:
        print("Superuser created successfully.")
    return 0


def standin_check_password(argv):
    """Stand-in only: exit 0 when DJANGO_SUPERUSER_PASSWORD is the password of --username."""
    p = argparse.ArgumentParser(prog="manage.py standin_check_password")
    p.add_argument("--username", required=True)
    opts = p.parse_args(argv)
    password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
    if password is None:
        raise CommandError("DJANGO_SUPERUSER_PASSWORD is not set")
    with cursor(db_settings()) as cur:
        cur.execute("SELECT password FROM mathesar_user WHERE username = %s", (opts.username,))
        row = cur.fetchone()
    if row is None:
        raise CommandError(f"no user {opts.username!r}")
    if check_password(password, row[0]):
        print("password matches")
        return 0
    print("password does not match")
    return 1


def manage(argv):
    commands = {"createsuperuser": createsuperuser, "standin_check_password": standin_check_password}
    if not argv or argv[0] in ("help", "-h", "--help"):
        print("Stand-in manage.py. Commands: " + ", ".join(sorted(commands)))
        return 0
    command = commands.get(argv[0])
    if command is None:
        print(f"Unknown command: {argv[0]!r}", file=sys.stderr)
        return 1
    try:
        check_settings_module()
        return command(argv[1:])
    except CommandError as e:
        print(f"CommandError: {e}", file=sys.stderr)
        return 1
    except ConfigError as e:
        print(f"mathesar stand-in: ERROR: {e}", file=sys.stderr)
        return 1
    except psycopg2.errors.UndefinedTable as e:
        print(f"django.db.utils.ProgrammingError: {str(e).strip()}", file=sys.stderr)
        return 1
    except psycopg2.OperationalError as e:
        print(f"django.db.utils.OperationalError: {str(e).strip()}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        sys.exit(serve())
    sys.exit(manage(sys.argv[1:]))
