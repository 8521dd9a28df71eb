"""Fixtures of the edge test. Postgres, moto's S3 and the real MLflow entrypoint come from the
image test's harness (test/image/conftest.py, helpers.py), loaded under their own names."""

import importlib.util
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

_spec = importlib.util.spec_from_file_location("image_conftest", IMAGE_TESTS / "conftest.py")
image_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(image_conftest)
postgres = image_conftest.postgres  # session fixture: a throwaway cluster
s3 = image_conftest.s3  # session fixture: moto's S3 server
start_server = image_conftest.start_server  # the entrypoint as a server

from standins import AlbStandIn, AutheliaForwardAuthStandIn, UpstreamRecorder  # noqa: E402

STACK = "prod"
TRAEFIK = Path(sys.executable).parent / "traefik"


@pytest.fixture(scope="session")
def mlflow_server(postgres, s3, start_server):
    """The prod stack's container env (proxy mode, MLFLOW_MIGRATE=off) on a fresh database:
    first the ECS task's migrate container (MLFLOW_MIGRATE=only), then the server."""
    pair = postgres.database_pair("edge")
    env = helpers.runtime_env(STACK, pair.tracking_uri, pair.auth_uri, s3, free_port(), token(24), token(48))
    assert env["MLFLOW_AUTH_MODE"] == "proxy" and env["MLFLOW_MIGRATE"] == "off"
    assert "AWS_ACCESS_KEY_ID" not in env  # the task role gives credentials on ECS
    # What the task role's credentials endpoint would give the container, for the emulator.
    env.update(AWS_ACCESS_KEY_ID=s3.access_key_id, AWS_SECRET_ACCESS_KEY=s3.secret_access_key, MLFLOW_DB_WAIT_SECONDS="30")
    s3.ensure_bucket(urlsplit(env["MLFLOW_ARTIFACTS_DESTINATION"]).netloc, env["AWS_DEFAULT_REGION"])
    rc, output = image_conftest.run_entrypoint(dict(env, MLFLOW_MIGRATE="only"))
    assert rc == 0, output
    return start_server(env)


class Edge:
    def __init__(self, root, domain, auth_domain, api_username, api_password, web_port, stand_in, recorder, traefik, alb):
        self.root, self.domain, self.auth_domain = root, domain, auth_domain
        self.api_username, self.api_password = api_username, api_password
        self.web_port, self.stand_in, self.recorder, self.traefik, self.alb = web_port, stand_in, recorder, traefik, alb

    def get(self, host, path="/", method="GET", **kwargs):
        """A request through the load balancer stand-in (its HTTPS listener) to Traefik."""
        headers = {"Host": host, **kwargs.pop("headers", {})}
        return requests.request(method, f"http://127.0.0.1:{self.alb.https.port}{path}", headers=headers, allow_redirects=False, timeout=30, **kwargs)


@pytest.fixture(scope="session")
def edge(mlflow_server, tmp_path_factory):
    root = tmp_path_factory.mktemp("edge")
    recorder = UpstreamRecorder(mlflow_server.port).start()
    web_port, ping_port = free_port(), free_port()
    api_password = token(32)
    stand_in = AutheliaForwardAuthStandIn().start()
    out = subprocess.run([str(helpers.TSX), str(ROOT / "stacks" / "edge-config.ts"), "--stack", STACK, "--out", str(root),
                          "--web-port", str(web_port), "--ping-port", str(ping_port), "--mlflow-url", recorder.url,
                          "--authelia-url", stand_in.url, "--api-password", api_password],
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
        yield Edge(root, info["domain"], info["authDomain"], info["apiUsername"], api_password, web_port, stand_in, recorder, traefik, alb)
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

ATTACKS = []  # (name, status, reached_mlflow)


def attack(edge, name, send):
    """Runs one attack; records whether anything of it reached MLflow (the recorder in front)."""
    before = len(edge.recorder.requests)
    status = send()
    status = getattr(status, "status_code", status)
    reached = len(edge.recorder.requests) > before
    ATTACKS.append((name, status, reached))
    return status, reached


def pytest_terminal_summary(terminalreporter):
    if not ATTACKS:
        return
    through = [(n, s) for n, s, reached in ATTACKS if reached]
    terminalreporter.write_sep("-", "edge attack suite")
    terminalreporter.write_line(f"{len(ATTACKS)} attacks sent; {len(through)} reached MLflow")
    for name, status in through:
        terminalreporter.write_line(f"  GOT THROUGH: {name} (answer {status})")
