#!/usr/bin/env python3
"""Entrypoint of the mlflow-kit MLflow tracking server image.

Steps, each failing with one clear message and its own exit code:
  1. validate the environment against contract.json (every problem at once, exit 2);
  2. wait for Postgres, bounded by MLFLOW_DB_WAIT_SECONDS (exit 3);
  3. take a Postgres advisory lock so that concurrent starts of the same deployment run the
     steps below one at a time, read each database's schema revision before MLflow opens it
     (schema_gate.py: refuse an unknown revision, a 2.x -> 3.x jump without
     MLFLOW_ALLOW_MAJOR_UPGRADE=true, an old schema with MLFLOW_MIGRATE=off; exit 4), then
     migrate per MLFLOW_MIGRATE (exit 4);
  4. run MLflow's own `mlflow server` command in this process and let it exec uvicorn in place
     of this process (see serve()).

Secrets never reach argv, and everything this process prints goes through a redactor.
"""

import io
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from urllib.parse import unquote, urlsplit

EXIT_CONFIG = 2
EXIT_DATABASE = 3
EXIT_MIGRATION = 4

# MLflow's historical basic_auth.ini default (GHSA-gq3w-7jj3-x7gr); publicly known.
SHIPPED_DEFAULT_ADMIN_PASSWORD = "password1234"
AUTHORIZATION_FUNCTION = "mlflow.server.auth:authenticate_request_basic_auth"
# Behind the ECS edge (MLFLOW_EDGE_SECRET set): Remote-User from the edge, else Basic.
EDGE_AUTHORIZATION_FUNCTION = "edge_auth:authenticate_request"
# Advisory lock key ("mlflowkt"), taken in every database this instance migrates or bootstraps.
STARTUP_LOCK_KEY = 0x6D6C666C6F776B74
# The shortest wait for another instance's start-up lock: migrations of a large schema take
# minutes; MLFLOW_DB_WAIT_SECONDS raises it.
MIN_LOCK_WAIT_SECONDS = 600
# How the entrypoint's own sessions show in pg_stat_activity (and so in a lock-holder message).
APPLICATION_NAME = "mlflow-kit-entrypoint"
# Hugging Face Spaces: outbound requests only to these ports ("Spaces Overview", Networking:
# "the standard HTTP and HTTPS ports (80 and 443) along with port 8080. Any requests going to
# other ports will be blocked."); the Hub sets SPACE_ID in a Space's environment.
SPACE_OUTBOUND_PORTS = (80, 443, 8080)
# Secrets shorter than this are not masked in free text: masking one or two characters would
# shred every message, and the validator rejects such values anyway.
MIN_REDACTED_LENGTH = 4
# MLflow's own overrides of basic_auth.ini; the contract's variables are the only source.
MLFLOW_AUTH_OVERRIDES = ("MLFLOW_AUTH_ADMIN_USERNAME", "MLFLOW_AUTH_ADMIN_PASSWORD")
# Would switch off the host and origin checks the image configures (server_args).
SECURITY_OVERRIDES = ("MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE",)
# Read from the rendered basic_auth.ini instead, so they need not stay in the server's env.
MOVED_TO_AUTH_CONFIG = ("MLFLOW_ADMIN_PASSWORD", "MLFLOW_AUTH_DATABASE_URI", "MLFLOW_EDGE_SECRET")
# Used at start-up only (sync_edge_identities), never by the server: kept out of its env.
START_UP_ONLY = ("MLFLOW_API_USER_PASSWORDS", "MLFLOW_EDGE_USERS")
# Seconds a verified credential stays cached in the server (MLflow's auth_cache_ttl_seconds),
# and every other auth fact auth_caches.py caches: a change made through one worker applies
# at once there and within this many seconds in every other worker and task.
AUTH_CACHE_SECONDS = "30"
MLFLOW_AUTH_APP = "mlflow.server.auth:create_app"
BOUNDED_AUTH_APP = "bounded_auth:create_app"
# MLFLOW_METRICS=on: MLflow's exporter plus kit_metrics.py's figures, one /metrics per server.
KIT_METRICS_APP = "kit_metrics:create_app"
# Without MLflow's auth app (proxy mode): its app, with artifacts only through the server.
MLFLOW_APP = "mlflow.server.fastapi_app:app"
PROXIED_ARTIFACTS_APP = "proxied_artifacts:app"


class StartupError(Exception):
    def __init__(self, exit_code, message):
        super().__init__(message)
        self.exit_code = exit_code


# --- output redaction -------------------------------------------------------------------


class Redactor:
    """Masks known secret values, and the password of any URI, in text."""

    URI_PASSWORD = re.compile(r"(://[^/\s:@]*:)[^@\s]+(@)")

    def __init__(self):
        self._secrets = set()

    def add(self, value):
        if value and len(value) >= MIN_REDACTED_LENGTH:
            self._secrets.add(value)
            for password in uri_passwords(value):
                self.add(password)

    def __call__(self, text):
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return self.URI_PASSWORD.sub(r"\1***\2", text)


class RedactingStream(io.TextIOBase):
    """Line-buffered text stream that redacts each whole line before writing it.

    Buffering by line keeps a secret from slipping through split across two writes.
    """

    def __init__(self, target, redact):
        self._target = target
        self._redact = redact
        self._pending = ""

    def writable(self):
        return True

    def write(self, text):
        self._pending += text
        if "\n" in self._pending:
            complete, self._pending = self._pending.rsplit("\n", 1)
            self._target.write(self._redact(complete + "\n"))
            self._target.flush()
        return len(text)

    def flush(self):
        if self._pending:
            self._target.write(self._redact(self._pending))
            self._pending = ""
        self._target.flush()

    def isatty(self):
        return False

    @property
    def encoding(self):
        return self._target.encoding


def install_redaction(redactor):
    # Installed before MLflow is imported, so its log handlers and click output bind to it too.
    sys.stdout = RedactingStream(sys.stdout, redactor)
    sys.stderr = RedactingStream(sys.stderr, redactor)


def log(message):
    print(f"[entrypoint] {message}", file=sys.stderr, flush=True)


# --- database URIs ----------------------------------------------------------------------


def uri_passwords(uri):
    """The password of a URI as written and percent-decoded; none for a non-URI."""
    try:
        raw = urlsplit(uri).password if "://" in uri else None
    except ValueError:
        return []
    return [raw, unquote(raw)] if raw else []


def sqlalchemy_uri(uri):
    # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; the image ships psycopg2.
    return re.sub(r"^postgresql://", "postgresql+psycopg2://", uri)


def libpq_uri(uri):
    return re.sub(r"^postgresql\+psycopg2://", "postgresql://", uri)


def database_identity(uri):
    """(host, port, database) of a URI: two URIs naming the same triple share one database.

    Raises ValueError for a port that is not a number.
    """
    parts = urlsplit(libpq_uri(uri))
    return ((parts.hostname or "").lower(), parts.port or 5432, parts.path.lstrip("/"))


def describe_database(label, uri):
    host, port, name = database_identity(uri)
    return f"{label} database '{name}' on {host}:{port}"


def with_host(uri, host_port):
    """The URI with its host[:port] replaced (user, password, database and query kept)."""
    parts = urlsplit(uri)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host_port}" if userinfo else host_port
    return parts._replace(netloc=netloc).geturl()


def direct_targets(targets, settings):
    """The databases as migrations and the start-up lock reach them: past the pooler if one is named."""
    direct = settings.get("MLFLOW_DB_DIRECT_HOST")
    return [(label, with_host(uri, direct)) for label, uri in targets] if direct else list(targets)


# --- contract validation ----------------------------------------------------------------


def contract_path():
    default = Path(__file__).resolve().with_name("contract.json")
    return Path(os.environ.get("MLFLOW_KIT_CONTRACT") or default)


def load_contract(path):
    try:
        return json.loads(path.read_text())["variables"]
    except (OSError, ValueError, KeyError) as error:
        raise StartupError(EXIT_CONFIG, f"cannot read the runtime contract {path}: {error}")


def read_env(contract, environ):
    """Contract variables that are set; an empty value counts as unset."""
    return {var["name"]: environ[var["name"]] for var in contract if environ.get(var["name"])}


def is_required(var, auth_mode):
    return var["required"] == "always" or (var["required"] == "basic" and auth_mode == "basic")


def check_variable(var, value):
    """Problems of one set value against its contract entry; secret values are never shown."""
    name = var["name"]
    shown = "" if var["secret"] else f"={value!r}"
    problems = []
    if "enum" in var and value not in var["enum"]:
        problems.append(f"{name}{shown} is not one of {', '.join(var['enum'])}. Set one of them.")
    if "pattern" in var and not re.search(var["pattern"], value):
        problems.append(
            f"{name}{shown} is malformed: it must match {var['pattern']}. "
            f"Expected: {var['description']}"
        )
    if "minLength" in var and len(value) < var["minLength"]:
        problems.append(
            f"{name} is too short ({len(value)} characters): "
            f"set at least {var['minLength']} characters."
        )
    return problems


def resolve_auth_mode(contract, values):
    var = next(v for v in contract if v["name"] == "MLFLOW_AUTH_MODE")
    mode = values.get("MLFLOW_AUTH_MODE", var.get("default"))
    # An invalid mode is reported by check_variable; requiring the basic variables meanwhile
    # reports everything the stricter mode would need.
    return mode if mode in var["enum"] else "basic"


def check_contract(contract, values, auth_mode):
    problems = []
    for var in contract:
        name = var["name"]
        if name in values:
            problems += check_variable(var, values[name])
        elif is_required(var, auth_mode):
            when = " when MLFLOW_AUTH_MODE=basic" if var["required"] == "basic" else ""
            problems.append(f"{name} is required{when} but not set. Set it: {var['description']}")
    return problems


def check_port_range(values):
    port = values.get("PORT", "")
    if port.isdigit() and not 1 <= int(port) <= 65535:
        return [f"PORT={port!r} is out of range: set a TCP port from 1 to 65535."]
    return []


def check_aws_key_pair(values):
    if ("AWS_ACCESS_KEY_ID" in values) == ("AWS_SECRET_ACCESS_KEY" in values):
        return []
    return [
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together or not at all: "
        "set the missing one, or unset both to use the platform's role."
    ]


def database_identities(values):
    """(identities of the URIs that parse, problems of those that don't)."""
    identities, problems = {}, []
    for name in ("MLFLOW_BACKEND_STORE_URI", "MLFLOW_AUTH_DATABASE_URI"):
        try:
            identities[name] = database_identity(values[name]) if name in values else None
        except ValueError:
            problems.append(f"{name} has a port that is not a number: fix the URI's host:port.")
    return identities, problems


def check_distinct_databases(values):
    identities, problems = database_identities(values)
    tracking = identities.get("MLFLOW_BACKEND_STORE_URI")
    if tracking and tracking == identities.get("MLFLOW_AUTH_DATABASE_URI"):
        problems.append(
            "MLFLOW_AUTH_DATABASE_URI names the same database as MLFLOW_BACKEND_STORE_URI: "
            "give the auth app its own database (sharing one makes the server crash-loop)."
        )
    return problems


def check_admin_password(values):
    password = values.get("MLFLOW_ADMIN_PASSWORD", "")
    problems = []
    if password == SHIPPED_DEFAULT_ADMIN_PASSWORD:
        problems.append(
            "MLFLOW_ADMIN_PASSWORD is MLflow's publicly known shipped default: "
            "set a generated password."
        )
    if password != password.strip() or re.search(r"[\r\n]", password):
        problems.append(
            "MLFLOW_ADMIN_PASSWORD has leading/trailing whitespace or a line break, which "
            "basic_auth.ini cannot hold: set a password without them."
        )
    return problems


def check_edge_identities(values):
    """MLFLOW_API_USER_PASSWORDS / MLFLOW_EDGE_USERS: well formed, no name twice, never the admin."""
    problems = []
    try:
        api = json.loads(values.get("MLFLOW_API_USER_PASSWORDS") or "{}")
    except ValueError:
        api = None
    if not isinstance(api, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in api.items()):
        return ["MLFLOW_API_USER_PASSWORDS must be a JSON object of username to password: set it as the program renders it."]
    short = sorted(k for k, v in api.items() if len(v) < 12)
    if short:
        problems.append(f"MLFLOW_API_USER_PASSWORDS: the password of {', '.join(short)} is shorter than 12 characters: generate longer ones.")
    people = [u for u in values.get("MLFLOW_EDGE_USERS", "").split(",") if u]
    admin = values.get("MLFLOW_ADMIN_USERNAME")
    for name in sorted(set(people) & set(api)):
        problems.append(f"{name} is in both MLFLOW_EDGE_USERS and MLFLOW_API_USER_PASSWORDS: give the API client another name.")
    if admin and admin in set(people) | set(api):
        problems.append(f"MLFLOW_ADMIN_USERNAME {admin} is also an edge or API user: the admin must be its own user.")
    if people and not values.get("MLFLOW_EDGE_SECRET"):
        problems.append("MLFLOW_EDGE_USERS is set without MLFLOW_EDGE_SECRET: set both (behind the ECS edge) or neither.")
    return problems


def check_cross_variable_rules(values, auth_mode):
    problems = check_port_range(values) + check_aws_key_pair(values)
    if auth_mode == "basic":
        problems += check_distinct_databases(values) + check_admin_password(values) + check_edge_identities(values)
    else:
        tracking_only = {k: v for k, v in values.items() if k == "MLFLOW_BACKEND_STORE_URI"}
        problems += database_identities(tracking_only)[1]
    return problems


def warn_unused(contract, values, auth_mode):
    if auth_mode == "basic":
        return
    for var in contract:
        if var["required"] == "basic" and var["name"] in values:
            log(f"note: {var['name']} is ignored when MLFLOW_AUTH_MODE={auth_mode}.")


def validate(contract, environ):
    """Returns (settings with defaults applied, problems)."""
    values = read_env(contract, environ)
    auth_mode = resolve_auth_mode(contract, values)
    problems = check_contract(contract, values, auth_mode)
    problems += check_cross_variable_rules(values, auth_mode)
    settings = {v["name"]: v["default"] for v in contract if "default" in v}
    settings.update(values)
    warn_unused(contract, values, auth_mode)
    if auth_mode != "basic":
        settings = {k: v for k, v in settings.items() if not is_basic_only(contract, k)}
    return settings, problems


def is_basic_only(contract, name):
    return any(v["name"] == name and v["required"] == "basic" for v in contract)


def report_problems(problems):
    count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
    lines = [f"the environment does not satisfy the image's runtime contract ({count}):"]
    lines += [f"  - {problem}" for problem in problems]
    log("\n".join(lines))


# --- environment handed to MLflow -------------------------------------------------------


def normalize(settings):
    uris = ("MLFLOW_BACKEND_STORE_URI", "MLFLOW_AUTH_DATABASE_URI")
    return {k: sqlalchemy_uri(v) if k in uris else v for k, v in settings.items()}


def prepare_environment(contract, settings):
    """Makes os.environ hold exactly the validated settings that MLflow, boto3 and workers read."""
    for var in contract:
        os.environ.pop(var["name"], None)
    for name in MLFLOW_AUTH_OVERRIDES:
        if os.environ.pop(name, None) is not None:
            log(f"note: ignoring {name}; the image takes the admin from MLFLOW_ADMIN_* only.")
    for name in SECURITY_OVERRIDES:
        if os.environ.pop(name, None) is not None:
            log(f"note: ignoring {name}; the image keeps MLflow's host and origin checks on.")
    os.environ.update(settings)
    # For migrations and the start-up lock only (migration_settings): the server uses the URIs.
    os.environ.pop("MLFLOW_DB_DIRECT_HOST", None)
    # The job runner spawns several ~250 MB consumer processes (an OOM on a 512 MB instance),
    # and exec-ing uvicorn (serve()) would skip launching it anyway.
    os.environ["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def database_targets(settings):
    targets = [("tracking", settings["MLFLOW_BACKEND_STORE_URI"])]
    if settings["MLFLOW_AUTH_MODE"] == "basic":
        targets.append(("auth", settings["MLFLOW_AUTH_DATABASE_URI"]))
    return targets


def private_directory():
    # /dev/shm keeps the rendered secrets in memory; mkdtemp makes the directory mode 0700.
    shm = Path("/dev/shm")
    parent = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix="mlflow-auth-", dir=parent))


def ini_value(value):
    # MLflow reads the file with ConfigParser's default interpolation: a literal % is %%.
    return value.replace("%", "%%")


def write_auth_config(settings):
    """Renders basic_auth.ini (mode 0600) and points MLflow at it."""
    entries = {
        "default_permission": settings["MLFLOW_DEFAULT_PERMISSION"],
        "database_uri": settings["MLFLOW_AUTH_DATABASE_URI"],
        "admin_username": settings["MLFLOW_ADMIN_USERNAME"],
        "admin_password": settings["MLFLOW_ADMIN_PASSWORD"],
        "authorization_function": EDGE_AUTHORIZATION_FUNCTION if settings.get("MLFLOW_EDGE_SECRET") else AUTHORIZATION_FUNCTION,
        # MLflow's own cache of verified credentials (HMAC-keyed, dropped on a password change):
        # without it every request pays a scrypt check (see bounded_auth.py).
        "auth_cache_ttl_seconds": AUTH_CACHE_SECONDS,
    }
    if settings.get("MLFLOW_EDGE_SECRET"):
        # Read by edge_auth.py; MLflow ignores keys it does not know.
        entries["edge_secret"] = settings["MLFLOW_EDGE_SECRET"]
    body = "[mlflow]\n" + "".join(f"{key} = {ini_value(v)}\n" for key, v in entries.items())
    path = private_directory() / "basic_auth.ini"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(body)
    os.environ["MLFLOW_AUTH_CONFIG_PATH"] = str(path)
    for name in MOVED_TO_AUTH_CONFIG + START_UP_ONLY:
        os.environ.pop(name, None)
    return path


# --- Postgres ---------------------------------------------------------------------------


def connect(uri, timeout):
    import psycopg2

    return psycopg2.connect(libpq_uri(uri), connect_timeout=max(1, int(timeout)), application_name=APPLICATION_NAME)


def platform_hint(port, environ=None):
    """What the platform may be doing to the connection, when it is known to filter ports."""
    environ = os.environ if environ is None else environ
    if not environ.get("SPACE_ID") or port in SPACE_OUTBOUND_PORTS:
        return ""
    allowed = ", ".join(map(str, SPACE_OUTBOUND_PORTS[:-1])) + f" and {SPACE_OUTBOUND_PORTS[-1]}"
    return (
        f" This runs on a Hugging Face Space ({environ['SPACE_ID']}), which may connect out only "
        f"to ports {allowed}: port {port} may be blocked by the platform's port rule rather than "
        "the database being down. Use a database reachable on one of those ports, or another target."
    )


def wait_for_database(label, uri, deadline, wait_seconds):
    import psycopg2

    log(f"waiting for the {describe_database(label, uri)} (up to {wait_seconds} s)")
    while True:
        try:
            connect(uri, min(5, deadline - time.monotonic())).close()
            return
        except psycopg2.Error as error:
            last_error = str(error).strip()
        if time.monotonic() + 1 > deadline:
            host, port, _ = database_identity(uri)
            raise StartupError(
                EXIT_DATABASE,
                f"the {describe_database(label, uri)} did not accept connections within "
                f"{wait_seconds} s (MLFLOW_DB_WAIT_SECONDS): nothing answered at {host} port "
                f"{port}. Last error: {last_error}. "
                "Check that Postgres is up and reachable and that the URI's host, port, "
                f"database, user and password are right.{platform_hint(port)}",
            )
        time.sleep(1)


def wait_for_databases(targets, wait_seconds):
    deadline = time.monotonic() + wait_seconds
    for label, uri in targets:
        wait_for_database(label, uri, deadline, wait_seconds)


class StartupLock:
    """Session-level advisory locks, one per database, held from migration until the exec.

    Two instances of one deployment starting at once (a rollout, a restart racing a deploy)
    would otherwise run alembic concurrently, both initialize an empty schema, or both create
    the admin user. Postgres drops the lock by itself if the holder dies.
    """

    def __init__(self, targets, wait_seconds=MIN_LOCK_WAIT_SECONDS):
        self._targets = targets
        self._wait_seconds = wait_seconds
        self._connections = []

    def __enter__(self):
        for label, uri in self._targets:
            self._connections.append(self._acquire(label, uri))
        return self

    def __exit__(self, *exc_info):
        self.release()

    def _acquire(self, label, uri):
        import psycopg2

        try:
            conn = connect(uri, 10)
        except psycopg2.Error as error:
            raise StartupError(EXIT_DATABASE, f"the {describe_database(label, uri)} went away: "
                               f"{str(error).strip()}")
        conn.autocommit = True
        announced_at = None
        deadline = time.monotonic() + self._wait_seconds
        with conn.cursor() as cursor:
            while True:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", (STARTUP_LOCK_KEY,))
                if cursor.fetchone()[0]:
                    return conn
                if time.monotonic() > deadline:
                    holder = lock_holder(cursor)
                    conn.close()
                    raise StartupError(
                        EXIT_DATABASE,
                        f"the start-up lock of the {describe_database(label, uri)} is still held "
                        f"after {self._wait_seconds} s, by {holder}. Another instance is migrating, "
                        "or stopped mid-way while its session lives on. If no other instance is "
                        "starting, end that session (SELECT pg_terminate_backend(<pid>) as the "
                        "database owner) and start again.",
                    )
                if announced_at is None or time.monotonic() - announced_at > 30:
                    log(f"another instance is starting against the "
                        f"{describe_database(label, uri)} ({lock_holder(cursor)}); waiting for it "
                        f"to finish (up to {self._wait_seconds} s)")
                    announced_at = time.monotonic()
                time.sleep(1)

    def release(self):
        while self._connections:
            self._connections.pop().close()


def lock_holder(cursor):
    """Who holds the start-up lock in this database: pid, application, client and since when.

    A bigint advisory key shows in pg_locks as classid (high 32 bits) and objid (low 32 bits)
    with objsubid 1 (PostgreSQL documentation, pg_locks). Sessions of other roles show less
    (no application or client) to a role without pg_read_all_stats.
    """
    cursor.execute(
        "SELECT a.pid, a.application_name, a.client_addr::text, a.backend_start "
        "FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
        "AND l.classid = %s AND l.objid = %s "
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        (STARTUP_LOCK_KEY >> 32, STARTUP_LOCK_KEY & 0xFFFFFFFF),
    )
    rows = cursor.fetchall()
    if not rows:
        return "a session that let go just now"
    pid, application, client, since = rows[0]
    details = [f"application '{application}'" if application else "",
               f"from {client}" if client else "",
               f"connected since {since:%Y-%m-%d %H:%M:%S %Z}".strip() if since else ""]
    return f"the session with process id {pid} ({', '.join(d for d in details if d) or 'no details visible to this role'})"


# --- migrations -------------------------------------------------------------------------


def run_click_command(command, args, what):
    # The same click commands as `mlflow db upgrade <uri>` and
    # `python -m mlflow.server.auth db upgrade --url <uri>`, invoked in this process so the
    # URI never appears in a process's argv and all output passes the redactor.
    log(f"migrating the {what}")
    started = time.monotonic()
    try:
        command.main(args=args, prog_name=what, standalone_mode=False)
    except Exception as error:
        traceback.print_exc()
        raise StartupError(EXIT_MIGRATION, f"migrating the {what} failed: {error}")
    log(f"{what} is at the latest schema ({time.monotonic() - started:.1f} s)")


def migration_settings(settings):
    """The settings migrations and the admin sync use: the URIs past the pooler, if one is named."""
    direct = settings.get("MLFLOW_DB_DIRECT_HOST")
    if not direct:
        return settings
    uris = ("MLFLOW_BACKEND_STORE_URI", "MLFLOW_AUTH_DATABASE_URI")
    return {k: with_host(v, direct) if k in uris else v for k, v in settings.items()}


def backup_hint(targets):
    names = " and ".join(f"the {describe_database(label, uri)}" for label, uri in targets)
    return (f"pg_dump --format=custom of {names}, or a snapshot of the store that holds them "
            "(an RDS snapshot, a Neon branch, a copy of the local volume)")


def check_schemas(settings, targets):
    """The upgrade gate (schema_gate.py), before anything runs a migration or opens a store."""
    from importlib.metadata import version

    import psycopg2

    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)  # schema_gate.py sits beside this file
    import schema_gate

    connections = []
    try:
        for label, uri in targets:
            conn = connect(uri, 10)
            conn.autocommit = True
            connections.append((label, describe_database(label, uri), conn))
        return schema_gate.check(
            connections,
            migrate=settings["MLFLOW_MIGRATE"],
            allow_major=settings.get("MLFLOW_ALLOW_MAJOR_UPGRADE") == "true",
            backup_hint=backup_hint(targets),
            image_version=version("mlflow"),
            log=log,
        )
    except schema_gate.GateRefusal as refusal:
        raise StartupError(EXIT_MIGRATION, f"refusing to start: {refusal}")
    except psycopg2.Error as error:
        raise StartupError(EXIT_DATABASE, f"reading the schema version failed: {str(error).strip()}")
    finally:
        for _label, _described, conn in connections:
            conn.close()


def migrate(settings):
    from mlflow.db import upgrade as upgrade_tracking

    tracking = settings["MLFLOW_BACKEND_STORE_URI"]
    run_click_command(upgrade_tracking, [tracking], describe_database("tracking", tracking))
    if settings["MLFLOW_AUTH_MODE"] == "basic":
        # Imports the auth app, which reads MLFLOW_AUTH_CONFIG_PATH once: written before this.
        from mlflow.server.auth.db.cli import upgrade as upgrade_auth

        import psycopg2

        import auth_carryover  # beside this file: NO_PERMISSIONS grants survive as DENY

        auth = settings["MLFLOW_AUTH_DATABASE_URI"]
        try:
            auth_carryover.around_upgrade(
                lambda: connect(auth, 10),
                lambda: run_click_command(upgrade_auth, ["--url", auth], describe_database("auth", auth)),
                log)
        except (psycopg2.Error, RuntimeError) as error:
            raise StartupError(EXIT_MIGRATION, f"carrying the auth database's NO_PERMISSIONS "
                               f"grants over failed: {str(error).strip()}")


# The kit's record of which user it made admin, in the auth database: a rename of the admin
# (MLFLOW_ADMIN_USERNAME) must retire the previous one, and nothing else says which that was.
# MLflow's auth migrations only touch their own tables.
ADMIN_RECORD_TABLE = "mlflow_kit_admin"


def recorded_admin(connection):
    """The admin the kit last synced, or None for a database from before the record existed."""
    from sqlalchemy import text

    connection.execute(text(
        f"CREATE TABLE IF NOT EXISTS {ADMIN_RECORD_TABLE} ("
        "id INTEGER PRIMARY KEY CHECK (id = 1), username VARCHAR(255) NOT NULL)"))
    return connection.execute(text(f"SELECT username FROM {ADMIN_RECORD_TABLE}")).scalar()


def first_admin(connection):
    """The oldest admin user: the one the kit created on the first start (before serving, so
    before anyone could add another), which is what an unrecorded deployment's admin was."""
    from sqlalchemy import text

    return connection.execute(text(
        "SELECT username FROM users WHERE is_admin ORDER BY id LIMIT 1")).scalar()


def record_admin(connection, username):
    from sqlalchemy import text

    connection.execute(text(
        f"INSERT INTO {ADMIN_RECORD_TABLE} (id, username) VALUES (1, :u) "
        "ON CONFLICT (id) DO UPDATE SET username = EXCLUDED.username"), {"u": username})


def unusable_password():
    """A password nobody is told: 64 random characters, never stored or printed."""
    import secrets

    return secrets.token_urlsafe(48)


def sync_admin(settings):
    """Make the stored admin match MLFLOW_ADMIN_USERNAME / MLFLOW_ADMIN_PASSWORD, and retire the
    previous admin when the name changed.

    MLflow creates the admin only when it is missing, so a rotated MLFLOW_ADMIN_PASSWORD (a bump
    of rotation.adminPassword in stack config) would otherwise never take effect, and a renamed
    admin (server.adminUsername) would leave the old one an admin with its old password for
    ever. The old admin is demoted and given a password nobody knows rather than deleted: its
    per-experiment grants (MANAGE on what it created) stay visible to the new admin, a person
    who had that account keeps its history, and an admin can hand it back with a new password;
    for signing in it is as gone as a deleted user. Runs under the startup lock, after the auth
    migration, so instances never race on it; every step is idempotent, so a start that dies
    half way is finished by the next one.
    """
    from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

    username = settings["MLFLOW_ADMIN_USERNAME"]
    password = settings["MLFLOW_ADMIN_PASSWORD"]
    store = SqlAlchemyStore()
    store.init_db(settings["MLFLOW_AUTH_DATABASE_URI"])  # schema is current: no migration here
    try:
        with store.engine.begin() as connection:
            previous = recorded_admin(connection) or first_admin(connection)
        if not store.has_user(username, use_primary=True):
            store.create_user(username, password, is_admin=True)
            log(f"created admin user {username}")
        elif not store.authenticate_user(username, password, use_primary=True):
            store.update_user(username, password=password, is_admin=True)
            log(f"admin user {username}: password set from MLFLOW_ADMIN_PASSWORD (rotated)")
        elif not store.get_user(username).is_admin:
            store.update_user(username, is_admin=True)
            log(f"admin user {username}: admin rights restored")
        if previous and previous != username and store.has_user(previous, use_primary=True):
            store.update_user(previous, password=unusable_password(), is_admin=False)
            log(f"former admin user {previous} retired (MLFLOW_ADMIN_USERNAME is now {username}): "
                "no admin rights, and its password no longer works")
        with store.engine.begin() as connection:
            record_admin(connection, username)
    finally:
        store.engine.dispose()


def sync_edge_identities(settings):
    """The people of the ECS edge's portal and the API users, in MLflow's auth database.

    People (MLFLOW_EDGE_USERS) sign in at Authelia and reach MLflow as Remote-User; they exist
    here so MLflow's permissions can name them, with a random password nobody knows. API users
    (MLFLOW_API_USER_PASSWORDS) authenticate with Basic; a changed password (rotation) is set again.
    Runs under the startup lock, after the auth migration, like sync_admin.
    """
    people = [u for u in settings.get("MLFLOW_EDGE_USERS", "").split(",") if u]
    api = json.loads(settings.get("MLFLOW_API_USER_PASSWORDS") or "{}")
    if not people and not api:
        return
    from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore()
    store.init_db(settings["MLFLOW_AUTH_DATABASE_URI"])
    try:
        for name in people:
            if not store.has_user(name, use_primary=True):
                store.create_user(name, secrets.token_urlsafe(32), is_admin=False)
                log(f"created edge user {name} (signs in at the portal)")
        for name, password in sorted(api.items()):
            if not store.has_user(name, use_primary=True):
                store.create_user(name, password, is_admin=False)
                log(f"created API user {name}")
            elif not store.authenticate_user(name, password, use_primary=True):
                store.update_user(name, password=password)
                log(f"API user {name}: password set from MLFLOW_API_USER_PASSWORDS (rotated)")
    finally:
        store.engine.dispose()


# --- server -----------------------------------------------------------------------------


def allowed_hosts(settings):
    port = settings["PORT"]
    public = settings["MLFLOW_PUBLIC_HOSTNAME"]
    # MLflow compares Host headers case-sensitively; clients send DNS names in lower case.
    hosts = dict.fromkeys([public.lower(), public, "localhost", "127.0.0.1"])
    return ",".join(h for host in hosts for h in (host, f"{host}:{port}"))


def public_origins(settings):
    """The origins a browser on the public host sends (MLFLOW_PUBLIC_SCHEME's description).

    MLflow refuses a POST/PUT/PATCH/DELETE to /api/ or /ajax-api/ whose Origin is neither
    loopback nor listed in --cors-allowed-origins ("Cross-origin request blocked", 403), and
    the UI sends its reads (runs/search, ...) as POST: without this origin the UI is broken on
    every public host. Browsers send the host in lower case and no default port.
    """
    host = settings["MLFLOW_PUBLIC_HOSTNAME"].lower()
    if settings["MLFLOW_PUBLIC_SCHEME"] == "https":
        return [f"https://{host}"]
    port = settings["PORT"]
    return list(dict.fromkeys([f"http://{host}:{port}", f"http://127.0.0.1:{port}"]))


def allowed_origins(settings):
    """--cors-allowed-origins: the public origin(s), then MLFLOW_CORS_ALLOWED_ORIGINS."""
    extra = [o for o in settings.get("MLFLOW_CORS_ALLOWED_ORIGINS", "").split(",") if o]
    return ",".join(dict.fromkeys(public_origins(settings) + extra))


def server_args(settings):
    """`mlflow server` flags. None is secret: the backend store URI comes from the env."""
    args = [
        "server",
        "--host", "0.0.0.0",
        "--port", settings["PORT"],
        "--workers", settings["MLFLOW_WORKERS"],
        "--serve-artifacts",
        "--artifacts-destination", settings["MLFLOW_ARTIFACTS_DESTINATION"],
        "--allowed-hosts", allowed_hosts(settings),
        "--cors-allowed-origins", allowed_origins(settings),
    ]  # fmt: skip
    if settings["MLFLOW_AUTH_MODE"] == "basic":
        args += ["--app-name", "basic-auth"]
    if settings.get("MLFLOW_METRICS") == "on":
        args += ["--expose-prometheus", os.environ["PROMETHEUS_MULTIPROC_DIR"]]
    return args


def prepare_metrics_directory():
    """A fresh, empty, private directory for prometheus_client's per-worker files.

    Multiprocess mode (every uvicorn worker writes its own mmap files, /metrics sums them) reads
    every file in the directory: files left by an earlier start would add dead workers' counts.
    A new directory per start is empty by construction, and two servers on one machine never
    share one. /dev/shm keeps the files in memory where it is writable.
    """
    shm = Path("/dev/shm")
    parent = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    path = tempfile.mkdtemp(prefix="mlflow-metrics-", dir=parent)
    # prometheus_client reads PROMETHEUS_MULTIPROC_DIR when first imported: set before MLflow.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    os.environ.pop("prometheus_multiproc_dir", None)
    return path


def exec_in_place(lock):
    """Replacement for the spawn at the end of `mlflow server`: exec the same command instead.

    `mlflow server` otherwise stays resident as a supervisor that only forwards signals, and
    costs as much memory as the server (~230 MB of a 512 MB instance). Exec-ing leaves uvicorn
    as the container's main process, so SIGTERM reaches it directly.
    """

    def exec_command(cmd, *, extra_env=None, **_ignored):
        env = {**os.environ, **(extra_env or {})}
        cmd = with_bounded_auth(list(cmd), env)
        cmd = with_kit_metrics(cmd, env)
        lock.release()
        log(f"starting: {' '.join(map(str, cmd))}")
        sys.stdout.flush()
        sys.stderr.flush()
        os.execvpe(str(cmd[0]), [str(part) for part in cmd], env)

    return exec_command


def with_bounded_auth(cmd, env):
    """Serve bounded_auth.py's app (password checks one at a time) in place of MLflow's; without
    the auth app, proxied_artifacts.py's. Both serve artifacts only through the server."""
    # bounded_auth, edge_auth (the authorization function) and proxied_artifacts live beside this file.
    here = os.path.dirname(os.path.abspath(__file__))
    if MLFLOW_APP in cmd:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
        return [PROXIED_ARTIFACTS_APP if part == MLFLOW_APP else part for part in cmd]
    if MLFLOW_AUTH_APP not in cmd:
        return cmd
    import mlflow.server.auth.sqlalchemy_store as store

    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    if not hasattr(store, "check_password_hash"):
        log("warning: this MLflow verifies passwords elsewhere; serving its auth app unbounded")
        return cmd
    return [BOUNDED_AUTH_APP if part == MLFLOW_AUTH_APP else part for part in cmd]


def with_kit_metrics(cmd, env):
    """With metrics on, uvicorn loads kit_metrics.create_app, which wraps the app it would have."""
    if env.get("MLFLOW_METRICS") != "on":
        return cmd
    env["MLFLOW_KIT_METRICS_APP"] = str(cmd[-1])
    env["MLFLOW_KIT_METRICS_APP_FACTORY"] = "1" if "--factory" in cmd else "0"
    here = os.path.dirname(os.path.abspath(__file__))
    paths = env.get("PYTHONPATH", "").split(os.pathsep)
    if here not in paths:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    head = [part for part in cmd[:-1] if part != "--factory"]
    return [*head, "--factory", KIT_METRICS_APP]


def serve(settings, lock):
    import mlflow.server
    from mlflow.cli import cli

    if hasattr(mlflow.server, "_exec_cmd"):
        mlflow.server._exec_cmd = exec_in_place(lock)
    else:
        log("warning: this MLflow has no mlflow.server._exec_cmd; `mlflow server` stays resident")
    if settings.get("MLFLOW_METRICS") == "on":
        log(f"metrics: /metrics on, multiprocess files in {prepare_metrics_directory()}")
    args = server_args(settings)
    log(f"mlflow {' '.join(args)}")
    cli.main(args=args, prog_name="mlflow")


# --- main -------------------------------------------------------------------------------


def remove_auth_config():
    # Reached only when not serving: the server would still need the file.
    path = os.environ.get("MLFLOW_AUTH_CONFIG_PATH")
    if path and Path(path).parent.name.startswith("mlflow-auth-"):
        shutil.rmtree(Path(path).parent, ignore_errors=True)


def start(redactor):
    contract = load_contract(contract_path())
    for var in contract:
        if var["secret"]:
            redactor.add(os.environ.get(var["name"], ""))
    try:
        # Each API password alone too, not only the JSON that holds them.
        for password in json.loads(os.environ.get("MLFLOW_API_USER_PASSWORDS") or "{}").values():
            redactor.add(str(password))
    except (ValueError, AttributeError):
        pass  # reported by validation
    settings, problems = validate(contract, os.environ)
    if problems:
        report_problems(problems)
        return EXIT_CONFIG
    settings = normalize(settings)
    prepare_environment(contract, settings)
    targets = database_targets(settings)
    # Through a transaction pooler a session advisory lock holds nothing: the lock and the
    # migrations go to the direct host; the server keeps the pooled URIs.
    direct = direct_targets(targets, settings)
    wait_seconds = int(settings["MLFLOW_DB_WAIT_SECONDS"])
    wait_for_databases(direct + [t for t in targets if t not in direct], wait_seconds)
    # The auth app reads its config once, when first imported (by the auth migration too).
    if settings["MLFLOW_AUTH_MODE"] == "basic" and settings["MLFLOW_MIGRATE"] != "only":
        log(f"auth config written to {write_auth_config(settings)}")
    with StartupLock(direct, max(MIN_LOCK_WAIT_SECONDS, wait_seconds)) as lock:
        check_schemas(settings, direct)
        if settings["MLFLOW_MIGRATE"] in ("auto", "only"):
            migrate(migration_settings(settings))
            if settings["MLFLOW_AUTH_MODE"] == "basic":
                sync_admin(migration_settings(settings))
                sync_edge_identities(migration_settings(settings))
        if settings["MLFLOW_MIGRATE"] == "only":
            log("MLFLOW_MIGRATE=only: migrations done, not serving")
            return 0
        serve(settings, lock)
    return 1  # serve() only returns if `mlflow server` exited without exec-ing


def main():
    redactor = Redactor()
    install_redaction(redactor)
    try:
        return start(redactor)
    except StartupError as error:
        log(f"error: {error}")
        return error.exit_code
    finally:
        remove_auth_config()
        sys.stdout.flush()
        sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main())
