"""Attacks on the prod edge: the real Traefik with the configuration the program renders for
the prod stack, the load balancer stand-in in front (its documented header handling), the
forward-auth stand-in behind. Every attack must be refused before MLflow: the recorder in front
of MLflow must see nothing of it. The closing note of the run counts the attacks and names any
that got through (conftest.pytest_terminal_summary)."""

import base64

import pytest
import requests

from conftest import attack
from standins import raw_request

API = "/api/2.0/mlflow/experiments/search?max_results=5"
JSON = {"Accept": "application/json"}
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
# Addresses of the documentation ranges: header text only, never a destination.
FORGED_IP = "198.51.100.23"
UNTRUSTED = "127.0.0.2"  # a peer Traefik does not trust (not the load balancer)
CLIENT = "127.0.0.3"  # a client of the load balancer stand-in


def alb_lines(edge, host, path="/", method="GET", extra=(), proto="https"):
    """A request as the load balancer forwards it to Traefik, for raw_request from 127.0.0.1."""
    return [f"{method} {path} HTTP/1.1", f"Host: {host}", f"X-Forwarded-For: {CLIENT}", f"X-Forwarded-Proto: {proto}",
            "X-Forwarded-Port: 443", "Accept: application/json", "Connection: close", *extra]


def refused(edge, name, send):
    status, reached = attack(edge, name, send)
    assert not reached, f"{name}: reached MLflow (answer {status})"
    return status


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
@pytest.mark.parametrize("accept", [JSON, BROWSER], ids=["api", "browser"])
def test_forged_forwarded_host_uri_method_never_use_the_portals_bypass(edge, method, accept):
    forged = {
        "host": {"X-Forwarded-Host": edge.auth_domain},
        "host+uri+method": {"X-Forwarded-Host": edge.auth_domain, "X-Forwarded-Uri": "/", "X-Forwarded-Method": "GET"},
        "uri": {"X-Forwarded-Uri": "/"},
        "method": {"X-Forwarded-Method": "OPTIONS"},
        "x-original-url": {"X-Original-URL": f"https://{edge.auth_domain}/"},
        "forwarded": {"Forwarded": f"host={edge.auth_domain};proto=https"},
        "x-forwarded-server+prefix": {"X-Forwarded-Server": edge.auth_domain, "X-Forwarded-Prefix": "/"},
    }
    for label, headers in forged.items():
        name = f"forged {label} ({method}, {'api' if accept is JSON else 'browser'})"
        status = refused(edge, name, lambda: edge.get(edge.domain, API, method=method, headers={**accept, **headers}))
        assert status in (401, 302, 303), name
    # What forward-auth was asked: the request's own host, path and method, never the client's.
    call = edge.stand_in.calls[-1]
    assert (call["host"], call["uri"], call["method"]) == (edge.domain, API, method)


def test_forged_forwarded_headers_sent_straight_to_traefik_by_the_load_balancers_address(edge):
    """As if the load balancer passed every client header through (it does, but for Proto,
    Port and For): Traefik alone must hold."""
    for label, extra in {
        "x-forwarded-host": [f"X-Forwarded-Host: {edge.auth_domain}"],
        "x_forwarded_host (underscore)": [f"X_Forwarded_Host: {edge.auth_domain}"],
        "x-forwarded-uri+method": ["X-Forwarded-Uri: /", "X-Forwarded-Method: GET"],
        "x_forwarded_uri (underscore)": ["X_Forwarded_Uri: /"],
        "x-original-url": [f"X-Original-Url: https://{edge.auth_domain}/"],
        "hop-by-hop removal of x-forwarded-proto": [f"X-Forwarded-Host: {edge.auth_domain}", "Connection: close, X-Forwarded-Proto"],
    }.items():
        status = refused(edge, f"straight to traefik: {label}", lambda: raw_request(edge.web_port, alb_lines(edge, edge.domain, API, extra=extra))[0])
        assert status in (401, 404), label


def test_forged_x_forwarded_for_and_proto_through_the_load_balancer(edge):
    # The client at CLIENT says it is FORGED_IP; the load balancer appends CLIENT, the address it saw.
    status = refused(edge, "forged x-forwarded-for", lambda: alb_request(edge, edge.domain, API, CLIENT, headers=[f"X-Forwarded-For: {FORGED_IP}, 203.0.113.9"]))
    assert status == 401
    # Authelia reads the left-most X-Forwarded-For: it must be the address the load balancer saw.
    xff = edge.stand_in.calls[-1]["headers"]["X-Forwarded-For"]
    assert xff.split(",")[0].strip() == CLIENT, xff
    assert FORGED_IP not in xff and "203.0.113.9" not in xff
    # A client's X-Forwarded-Proto/-Port are overwritten by the load balancer: still refused.
    status = refused(edge, "forged x-forwarded-proto/port", lambda: edge.get(edge.domain, API, headers={**JSON, "X-Forwarded-Proto": "https", "X-Forwarded-Port": "443"}))
    assert status == 401


def test_forged_forwarded_headers_from_a_peer_traefik_does_not_trust(edge):
    """Anything but the load balancer (the security groups allow nothing else; this is the
    second wall): Traefik drops every X-Forwarded-* and no router admits plain http."""
    for label, extra in {
        "proto https + host": [f"X-Forwarded-Host: {edge.auth_domain}"],
        "proto https": [],
    }.items():
        lines = alb_lines(edge, edge.domain, API, extra=extra)
        status = refused(edge, f"untrusted peer: {label}", lambda: raw_request(edge.web_port, lines, source=UNTRUSTED)[0])
        assert status == 404, label


def test_forged_identity_headers_in_every_spelling(edge):
    spellings = ["Remote-User", "Remote_User", "REMOTE-USER", "remote_user"]
    for spelling in spellings:
        extra = [f"{spelling}: admin", "Remote-Groups: admins", "Remote_Groups: admins", "Remote-Email: admin@example.com", "Remote-Name: Admin"]
        refused(edge, f"forged {spelling} without credentials", lambda: raw_request(edge.web_port, alb_lines(edge, edge.domain, API, extra=extra))[0])
        refused(edge, f"forged {spelling} on the portal host", lambda: raw_request(edge.web_port, alb_lines(edge, edge.auth_domain, API, extra=extra))[0])
        # The edge's own marker, forged in any spelling (with or without a session): never reaches MLflow.
        forged_edge = [f"{spelling}: {edge.admin_username}", "X-Mlflow-Kit-Edge: " + "x" * 48, "X_Mlflow_Kit_Edge: " + "y" * 48]
        refused(edge, f"forged {spelling} + edge marker", lambda: raw_request(edge.web_port, alb_lines(edge, edge.domain, API, extra=forged_edge))[0])
    # With valid Basic credentials MLflow is reached, with no identity header of the client's.
    token = base64.b64encode(f"{edge.api_username}:{edge.api_password}".encode()).decode()
    before = len(edge.recorder.requests)
    extra = [f"Authorization: Basic {token}", "X_Mlflow_Kit_Edge: " + "x" * 48] + [f"{s}: {edge.admin_username}" for s in spellings]
    status, _, _ = raw_request(edge.web_port, alb_lines(edge, edge.domain, "/version", extra=extra))
    assert status == 200
    got = edge.recorder.requests[before:]
    assert len(got) == 1
    identity = [(k, v) for k, v in got[0]["raw_headers"] if k.lower().replace("_", "-") in ("remote-user", "x-mlflow-kit-edge")]
    assert identity == [], identity
    # With a person's session, Authelia's identity only.
    before = len(edge.recorder.requests)
    cookie = edge.session("alice")["Cookie"]
    extra = [f"Cookie: {cookie}", "X_Mlflow_Kit_Edge: " + "x" * 48] + [f"{s}: {edge.admin_username}" for s in spellings]
    status, _, _ = raw_request(edge.web_port, alb_lines(edge, edge.domain, "/version", extra=extra))
    assert status == 200
    identity = [(k, v) for k, v in edge.recorder.requests[before]["raw_headers"] if k.lower().replace("_", "-") in ("remote-user", "x-mlflow-kit-edge")]
    assert sorted(identity) == [("Remote-User", "alice"), ("X-Mlflow-Kit-Edge", edge.edge_secret)], identity


@pytest.mark.parametrize("host", ["other.example.com", "127.0.0.1", "mlflow.example.com.evil.test", "evil.test", ""])
def test_a_host_that_is_neither(edge, host):
    status = refused(edge, f"host {host!r}", lambda: edge.get(host, API, headers=JSON))
    assert status in (400, 404)


def test_absolute_form_targets_and_doubled_hosts(edge):
    cases = {
        # Go takes the host of an absolute-form target over the Host header: routed as the portal, never MLflow.
        "absolute portal url, mlflow host": alb_lines(edge, edge.domain, f"http://{edge.auth_domain}{API}"),
        "absolute mlflow url, portal host": alb_lines(edge, edge.auth_domain, f"https://{edge.domain}{API}"),
        "two host headers": alb_lines(edge, edge.auth_domain, API, extra=[f"Host: {edge.domain}"]),
    }
    for label, lines in cases.items():
        refused(edge, label, lambda: raw_request(edge.web_port, lines)[0])


def test_http_instead_of_https(edge):
    # The load balancer's port 80 redirects; nothing is forwarded.
    status = refused(edge, "http listener", lambda: raw_request(edge.alb.http.port, [f"GET {API} HTTP/1.1", f"Host: {edge.domain}", "Connection: close"])[0])
    assert status == 301
    # Should http ever reach Traefik (a listener forwarding port 80), no router admits it.
    for host in (edge.domain, edge.auth_domain):
        status = refused(edge, f"x-forwarded-proto http to {host}", lambda: raw_request(edge.web_port, alb_lines(edge, host, API, proto="http"))[0])
        assert status == 404


PATH_TRICKS = [
    "//api/2.0/mlflow/experiments/search", "/%2e%2e/api/2.0/mlflow/experiments/search", "/./api/2.0/mlflow/experiments/search",
    "/api/2.0/mlflow/experiments%2Fsearch", "/%2fapi%2f2.0%2fmlflow%2fexperiments%2fsearch", "/static-files/..%2f..%2fapi/2.0/mlflow/experiments/search",
    "/static-files/../api/2.0/mlflow/experiments/search", "/%252e%252e/api/2.0/mlflow/experiments/search", "/api/2.0/mlflow/experiments/search%00",
    "/api/2.0/mlflow/experiments/search;/..", "/health/../api/2.0/mlflow/experiments/search", "/.well-known/../api/2.0/mlflow/experiments/search",
]


@pytest.mark.parametrize("path", PATH_TRICKS)
def test_path_tricks_on_both_hosts(edge, path):
    for host in (edge.domain, edge.auth_domain):
        refused(edge, f"path {path} on {host}", lambda: raw_request(edge.web_port, alb_lines(edge, host, path))[0])
        refused(edge, f"path {path} on {host} (browser)", lambda: edge.get(host, path, headers=BROWSER))


ATTACKER = "127.0.0.4"  # a stranger's address at the load balancer


def alb_request(edge, host, path, source, auth=None, headers=()):
    """A client at `source` through the load balancer stand-in's HTTPS listener."""
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Accept: application/json", "Connection: close", *headers]
    if auth:
        lines.append("Authorization: Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
    return raw_request(edge.alb.https.port, lines, source=source)[0]


def test_a_stranger_cannot_lock_out_any_api_identity(edge):
    """Ten wrong passwords for every API identity (the API user, the admin, a portal person's
    name), then the right ones: MLflow's auth app has no lockout, and Authelia (whose
    regulation bans a user by name) never sees Basic credentials."""
    identities = [(edge.api_username, edge.api_password), (edge.admin_username, edge.admin_password)]
    for name, _ in identities + [("alice", None)]:
        for attempt in range(10):
            status = attack(edge, f"lockout: wrong password {attempt + 1} for {name}", lambda: alb_request(edge, edge.domain, API, ATTACKER, auth=(name, f"wrong-{attempt}")), checked_by_mlflow=True)[0]
            assert status == 401, (name, attempt, status)
    assert not any(call["authorization"] for call in edge.stand_in.calls), "forward-auth was handed Basic credentials"
    for name, password in identities:
        # Another client, and the stranger's own address: both still get in at once.
        assert alb_request(edge, edge.domain, API, CLIENT, auth=(name, password)) == 200, name
        assert alb_request(edge, edge.domain, API, ATTACKER, auth=(name, password)) == 200, name


def test_basic_credentials_of_a_person_never_open_the_browser_path(edge):
    """A person's portal password is Authelia's; on the MLflow host Basic goes to MLflow, where
    people have no password anyone knows."""
    status = attack(edge, "a portal person's name over Basic", lambda: alb_request(edge, edge.domain, API, ATTACKER, auth=("alice", "alice")), checked_by_mlflow=True)[0]
    assert status == 401


# The server's Prometheus metrics (MLFLOW_METRICS=on in this edge's server, conftest.mlflow_env):
# MLflow's exporter serves exactly /metrics (prometheus_flask_exporter's default path, the only
# one it registers). Each spelling below is sent on the public MLflow host, with the API user's
# Basic credentials, a person's session or nothing: none may reach MLflow.
METRICS_PATHS = [
    "/metrics", "/metrics/", "/METRICS", "/Metrics", "/metrics?name[]=mlflow_http_request_total", "/%6detrics", "/%6D%65trics",
    "//metrics", "/./metrics", "/x/../metrics", "/static-files/../metrics", "/health/../metrics", "/metrics;x", "/metrics%3bx",
    "/metrics%2f", "/metrics%00", "/metrics.txt", "/%2e/metrics", "/%2e%2e/metrics",
]


def test_metrics_are_served_by_the_server_behind_the_edge(edge):
    """The control: straight to the server (not through the edge), /metrics answers with the
    exporter's figures to the admin (the monitoring side's credentials; MLflow's fail-closed
    basic auth answers 403 to the API user, a route no permission covers), so a refusal at the
    edge is the edge's doing."""
    direct = requests.get(f"http://127.0.0.1:{edge.mlflow_port}/metrics", auth=(edge.admin_username, edge.admin_password), timeout=30)
    assert direct.status_code == 200 and "# TYPE mlflow_" in direct.text, direct.status_code
    api_user = requests.get(f"http://127.0.0.1:{edge.mlflow_port}/metrics", auth=(edge.api_username, edge.api_password), timeout=30)
    assert api_user.status_code == 403 and "mlflow_" not in api_user.text
    # Which spellings the server itself answers with metrics (raw, no client normalization).
    basic = "Authorization: Basic " + base64.b64encode(f"{edge.admin_username}:{edge.admin_password}".encode()).decode()
    served = []
    for path in METRICS_PATHS:
        status, _, body = raw_request(edge.mlflow_port, [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", basic, "Connection: close"])
        if status == 200 and b"# TYPE mlflow_" in body:
            served.append(path)
    print(f"spellings the server answers with metrics: {served}")
    assert "/metrics" in served


@pytest.mark.parametrize("path", METRICS_PATHS)
def test_metrics_never_through_the_edge(edge, path):
    basic = "Authorization: Basic " + base64.b64encode(f"{edge.api_username}:{edge.api_password}".encode()).decode()
    admin = "Authorization: Basic " + base64.b64encode(f"{edge.admin_username}:{edge.admin_password}".encode()).decode()
    cookie = "Cookie: " + edge.session("alice")["Cookie"]
    for label, extra in {"api user": [basic], "admin": [admin], "a person's session": [cookie], "no credentials": []}.items():
        name = f"metrics {path} ({label})"
        answer = {}

        def send():
            answer["status"], _, answer["body"] = raw_request(edge.web_port, alb_lines(edge, edge.domain, path, extra=extra))
            return answer["status"]

        status = refused(edge, name, send)
        assert status in (400, 404), (name, status)
        assert b"mlflow_" not in answer["body"], name
    # And as a client sends it, through the load balancer stand-in's HTTPS listener.
    status = refused(edge, f"metrics {path} (client, api user)", lambda: edge.get(edge.domain, path, headers={**JSON, basic.split(": ", 1)[0]: basic.split(": ", 1)[1]}))
    assert status in (400, 404), (path, status)

