"""Fixtures of the edge test. Postgres, moto's S3 and the real MLflow entrypoint come from the
image test's harness (test/image/conftest.py, helpers.py), loaded under their own names."""

import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

IMAGE_TESTS = Path(__file__).resolve().parents[1] / "image"
sys.path.insert(0, str(IMAGE_TESTS))
import helpers  # noqa: E402  (test/image/helpers.py)
from helpers import ROOT, free_port, token, wait_until  # noqa: E402

image_conftest = helpers.image_conftest()
postgres = image_conftest.postgres  # session fixture: a throwaway cluster
s3 = image_conftest.s3  # session fixture: moto's S3 server
start_server = image_conftest.start_server  # the entrypoint as a server

from standins import AlbStandIn, AutheliaForwardAuthStandIn, UpstreamRecorder  # noqa: E402

STACK = "prod"
TRAEFIK = Path(sys.executable).parent / "traefik"


class EdgeCredentials:
    """What the ECS target generates: the edge secret, the API user's and the admin's passwords."""

    def __init__(self):
        self.edge_secret, self.api_password, self.admin_password = token(48), token(32), token(24)
        self.alice_password = token(20)  # a portal password for alice (edge-config.ts --user-password)


@pytest.fixture(scope="session")
def edge_credentials():
    return EdgeCredentials()


def edge_mlflow_env(credentials, api_password=None):
    """The variables the ECS target adds to MLflow's env (stacks/edge-config.ts --mlflow-env)."""
    out = subprocess.run([str(helpers.TSX), str(ROOT / "stacks" / "edge-config.ts"), "--stack", STACK, "--mlflow-env",
                          "--edge-secret", credentials.edge_secret, "--api-password", api_password or credentials.api_password],
                         cwd=ROOT, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture(scope="session")
def mlflow_env(postgres, s3, edge_credentials):
    """The prod stack's container env (basic mode behind the edge, MLFLOW_MIGRATE=off) on a
    fresh database, with the edge's variables as the ECS target adds them."""
    pair = postgres.database_pair("edge")
    env = helpers.runtime_env(STACK, pair.tracking_uri, pair.auth_uri, s3, free_port(), edge_credentials.admin_password, token(48))
    assert env["MLFLOW_AUTH_MODE"] == "basic" and env["MLFLOW_MIGRATE"] == "off"
    assert "AWS_ACCESS_KEY_ID" not in env  # the task role gives credentials on ECS
    env.update(edge_mlflow_env(edge_credentials))
    # As with monitoring.enabled on ECS: the server serves /metrics, which the edge must refuse.
    env["MLFLOW_METRICS"] = "on"
    # What the task role's credentials endpoint would give the container, for the emulator.
    env.update(AWS_ACCESS_KEY_ID=s3.access_key_id, AWS_SECRET_ACCESS_KEY=s3.secret_access_key, MLFLOW_DB_WAIT_SECONDS="30")
    s3.ensure_bucket(urlsplit(env["MLFLOW_ARTIFACTS_DESTINATION"]).netloc, env["AWS_DEFAULT_REGION"])
    return env


@pytest.fixture(scope="session")
def mlflow_server(mlflow_env, start_server):
    """First the ECS task's migrate container (MLFLOW_MIGRATE=only: migrations, the admin, the
    edge's people and API user), then the server."""
    rc, output = image_conftest.run_entrypoint(dict(mlflow_env, MLFLOW_MIGRATE="only"))
    assert rc == 0, output
    return start_server(mlflow_env)


class Edge:
    def __init__(self, root, info, credentials, web_port, stand_in, recorder, traefik, alb, mlflow_port):
        self.root, self.domain, self.auth_domain = root, info["domain"], info["authDomain"]
        self.api_username, self.api_password = info["apiUsername"], credentials.api_password
        self.admin_username, self.admin_password = info["adminUsername"], credentials.admin_password
        self.users, self.edge_secret = info["users"], credentials.edge_secret
        self.alice_password = credentials.alice_password
        self.web_port, self.stand_in, self.recorder, self.traefik, self.alb = web_port, stand_in, recorder, traefik, alb
        self.mlflow_port = mlflow_port

    def session(self, username):
        """A browser's cookie after signing in at the portal (the stand-in's session store)."""
        name, value = self.stand_in.sign_in(username)
        return {"Cookie": f"{name}={value}"}

    def get(self, host, path="/", method="GET", **kwargs):
        """A request through the load balancer stand-in (its HTTPS listener) to Traefik."""
        headers = {"Host": host, **kwargs.pop("headers", {})}
        return requests.request(method, f"http://127.0.0.1:{self.alb.https.port}{path}", headers=headers, allow_redirects=False, timeout=30, **kwargs)


@pytest.fixture(scope="session")
def edge(mlflow_server, edge_credentials, tmp_path_factory):
    root = tmp_path_factory.mktemp("edge")
    recorder = UpstreamRecorder(mlflow_server.port).start()
    web_port, ping_port = free_port(), free_port()
    stand_in = AutheliaForwardAuthStandIn().start()
    out = subprocess.run([str(helpers.TSX), str(ROOT / "stacks" / "edge-config.ts"), "--stack", STACK, "--out", str(root),
                          "--web-port", str(web_port), "--ping-port", str(ping_port), "--mlflow-url", recorder.url,
                          "--authelia-url", stand_in.url, "--edge-secret", edge_credentials.edge_secret,
                          "--user-password", f"alice={edge_credentials.alice_password}"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    stand_in.load(root / "configuration.yml", root / "users_database.yml")

    log = open(root / "traefik.log", "w")
    traefik = subprocess.Popen([str(TRAEFIK), f"--configFile={root / 'traefik.yml'}"], stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True, cwd=root)

    def ready():
        if traefik.poll() is not None:
            raise RuntimeError(f"traefik exited with {traefik.returncode}:\n{(root / 'traefik.log').read_text()}")
        try:
            # Ping up, and the file provider's routers loaded (the portal host answers).
            return (requests.get(f"http://127.0.0.1:{ping_port}/ping", timeout=2).status_code == 200
                    and requests.get(f"http://127.0.0.1:{web_port}/", headers={"Host": info["authDomain"], "X-Forwarded-Proto": "https"},
                                     timeout=2).status_code == 200)
        except requests.RequestException:
            return False

    wait_until(ready, 60, "traefik")
    alb = AlbStandIn(web_port).start()
    try:
        yield Edge(root, info, edge_credentials, web_port, stand_in, recorder, traefik, alb, mlflow_server.port)
    finally:
        alb.stop()
        traefik.terminate()
        try:
            traefik.wait(10)
        except subprocess.TimeoutExpired:
            traefik.kill()
            traefik.wait(10)
        log.close()
        stand_in.stop()
        recorder.stop()


@pytest.fixture
def resolve_to_edge(edge, monkeypatch):
    """Client-side DNS: the stack's host names on port 80 resolve to the load balancer stand-in
    on 127.0.0.1, so clients send `Host: mlflow.example.com` (no port)."""
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host in (edge.domain, edge.auth_domain) and int(port or 80) == 80:
            return real("127.0.0.1", edge.alb.https.port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    for var in list(os.environ):
        if var.startswith("MLFLOW_TRACKING_") or var.startswith("AWS_"):
            monkeypatch.delenv(var)
    return edge


# --- the attack tally -------------------------------------------------------------------

ATTACKS = []  # (name, status, reached_mlflow, got_through)


def attack(edge, name, send, checked_by_mlflow=False):
    """Runs one attack and records it. Header, host and path attacks must not reach MLflow at
    all (the recorder in front of it sees nothing). Wrong Basic credentials are MLflow's own to
    refuse (checked_by_mlflow): those must be answered 401, with nothing else reached."""
    before = len(edge.recorder.requests)
    status = send()
    status = getattr(status, "status_code", status)
    seen = edge.recorder.requests[before:]
    reached = bool(seen)
    got_through = (reached and not checked_by_mlflow) or (checked_by_mlflow and (status != 401 or len(seen) > 1))
    ATTACKS.append((name, status, reached, got_through))
    return status, reached


def pytest_terminal_summary(terminalreporter):
    if not ATTACKS:
        return
    through = [(n, s) for n, s, _, bad in ATTACKS if bad]
    by_mlflow = sum(1 for _, _, reached, bad in ATTACKS if reached and not bad)
    terminalreporter.write_sep("-", "edge attack suite")
    terminalreporter.write_line(f"{len(ATTACKS)} attacks sent; {len(ATTACKS) - by_mlflow - len(through)} refused before MLflow, "
                                f"{by_mlflow} wrong Basic credentials refused by MLflow's auth (401), {len(through)} got through")
    for name, status in through:
        terminalreporter.write_line(f"  GOT THROUGH: {name} (answer {status})")
