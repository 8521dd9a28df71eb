"""The entrypoint's way to its databases: the wait that names what it cannot reach (and, on a
Hugging Face Space, the platform's outbound port rule), the direct host that migrations and the
start-up lock use past a transaction pooler, and the lock wait's deadline that names the holder.
The entrypoint's functions on a throwaway Postgres, no server.
"""

import importlib.util
import json
import socket
import time

import psycopg2
import pytest
from conftest import ENTRYPOINT, ROOT

spec = importlib.util.spec_from_file_location("entrypoint_reach", ENTRYPOINT)
entrypoint = importlib.util.module_from_spec(spec)
spec.loader.exec_module(entrypoint)

CONTRACT = json.loads((ROOT / "images" / "mlflow" / "contract.json").read_text())["variables"]


def closed_port():
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_error(uri, monkeypatch, space_id=None):
    if space_id:
        monkeypatch.setenv("SPACE_ID", space_id)
    else:
        monkeypatch.delenv("SPACE_ID", raising=False)
    with pytest.raises(entrypoint.StartupError) as caught:
        entrypoint.wait_for_database("tracking", uri, time.monotonic() + 1.5, 1)
    assert caught.value.exit_code == entrypoint.EXIT_DATABASE
    return str(caught.value)


def test_the_wait_names_the_host_and_port_it_cannot_reach(monkeypatch):
    port = closed_port()
    message = wait_error(f"postgresql://u:SecretPw-123@127.0.0.1:{port}/tracking", monkeypatch)
    assert f"nothing answered at 127.0.0.1 port {port}" in message
    assert "SecretPw-123" not in message
    # Not on a Space: no word about a port rule.
    assert "80, 443 and 8080" not in message


def test_on_a_space_the_wait_says_the_platform_may_block_the_port(monkeypatch):
    # Hub docs, "Spaces Overview" > Networking: outbound only to 80, 443 and 8080; the Hub
    # sets SPACE_ID in a Space ("Helper environment variables").
    port = closed_port()
    message = wait_error(f"postgresql://u:pw-0123456789@127.0.0.1:{port}/tracking", monkeypatch, "alice/mlflow-demo")
    assert f"nothing answered at 127.0.0.1 port {port}" in message
    assert "Hugging Face Space (alice/mlflow-demo)" in message
    assert "ports 80, 443 and 8080" in message and f"port {port} may be blocked" in message


def test_on_a_space_an_allowed_port_gets_no_port_rule_hint():
    assert entrypoint.platform_hint(443, {"SPACE_ID": "alice/x"}) == ""
    assert "blocked" in entrypoint.platform_hint(5432, {"SPACE_ID": "alice/x"})


def test_migrations_and_the_lock_go_past_the_pooler_and_the_server_keeps_the_pooled_uris():
    pooled = {
        "MLFLOW_BACKEND_STORE_URI": "postgresql+psycopg2://app:pw%40x@ep-a-pooler.neon.tech/mlflow_tracking?sslmode=require",
        "MLFLOW_AUTH_DATABASE_URI": "postgresql+psycopg2://app:pw%40x@ep-a-pooler.neon.tech/mlflow_auth?sslmode=require",
        "MLFLOW_AUTH_MODE": "basic",
        "MLFLOW_DB_DIRECT_HOST": "ep-a.neon.tech",
    }
    targets = entrypoint.database_targets(pooled)
    direct = entrypoint.direct_targets(targets, pooled)
    assert [uri for _, uri in direct] == [
        "postgresql+psycopg2://app:pw%40x@ep-a.neon.tech/mlflow_tracking?sslmode=require",
        "postgresql+psycopg2://app:pw%40x@ep-a.neon.tech/mlflow_auth?sslmode=require",
    ]
    migration = entrypoint.migration_settings(pooled)
    assert migration["MLFLOW_BACKEND_STORE_URI"] == direct[0][1]
    assert migration["MLFLOW_AUTH_DATABASE_URI"] == direct[1][1]
    # The server's settings are untouched; a port in the direct host is kept.
    assert pooled["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql+psycopg2://app:pw%40x@ep-a-pooler.")
    assert entrypoint.with_host(pooled["MLFLOW_BACKEND_STORE_URI"], "db:6543").startswith("postgresql+psycopg2://app:pw%40x@db:6543/")
    # Unset: the URIs as given, for everything.
    plain = {k: v for k, v in pooled.items() if k != "MLFLOW_DB_DIRECT_HOST"}
    assert entrypoint.direct_targets(targets, plain) == targets
    assert entrypoint.migration_settings(plain) == plain


def test_the_contract_takes_a_direct_host_and_refuses_a_uri():
    var = next(v for v in CONTRACT if v["name"] == "MLFLOW_DB_DIRECT_HOST")
    assert entrypoint.check_variable(var, "ep-a.us-east-2.aws.neon.tech") == []
    assert entrypoint.check_variable(var, "db.internal:5432") == []
    assert entrypoint.check_variable(var, "postgresql://u:p@h/db") != []


def test_the_lock_wait_has_a_deadline_and_names_the_session_that_holds_it(postgres):
    uri = postgres.create_database("lock_holder")
    holder = psycopg2.connect(uri, application_name="other-instance")
    holder.autocommit = True
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", (entrypoint.STARTUP_LOCK_KEY,))
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        started = time.monotonic()
        with pytest.raises(entrypoint.StartupError) as caught:
            with entrypoint.StartupLock([("tracking", uri)], wait_seconds=2):
                pass
        assert time.monotonic() - started < 30
        message = str(caught.value)
        assert caught.value.exit_code == entrypoint.EXIT_DATABASE
        assert "still held after 2 s" in message
        assert f"process id {pid}" in message and "application 'other-instance'" in message
        assert "pg_terminate_backend" in message
    finally:
        holder.close()
    # Released: the next start takes it at once.
    with entrypoint.StartupLock([("tracking", uri)], wait_seconds=2):
        pass
