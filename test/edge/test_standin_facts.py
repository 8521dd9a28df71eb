"""Pins, on the forward-auth stand-in, each answer of the real Authelia 4.39.20 the kit relies
on (measured with a configuration like the kit's; issue 14, "Done when"). The stand-in runs
here with a configuration that enables Basic (HeaderAuthorization) so every fact can be shown;
the prod configuration is the one the program renders."""

import base64
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import yaml
from argon2 import PasswordHasher

from helpers import token
from standins import AutheliaForwardAuthStandIn

DOMAIN, PORTAL = "mlflow.example.com", "auth.example.com"
SCALE = 0.05  # the real delays (2 s failed, 0.15 s good) times this


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def authelia(tmp_path, clock):
    password = token(20)
    hasher = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    config = {
        "server": {"endpoints": {"authz": {"forward-auth": {"implementation": "ForwardAuth", "authn_strategies": [
            {"name": "HeaderAuthorization", "schemes": ["basic"]}, {"name": "CookieSession"}]}}}},
        "session": {"name": "s", "cookies": [{"domain": "example.com", "authelia_url": f"https://{PORTAL}"}]},
        "regulation": {"modes": ["user"], "max_retries": 5, "find_time": "2m", "ban_time": "10m"},
        "access_control": {"default_policy": "deny", "rules": [
            {"domain": [PORTAL], "policy": "bypass"},
            {"domain": [DOMAIN], "subject": [["group:mlflow-users"]], "policy": "one_factor"},
        ]},
    }
    users = {"users": {"alice": {"displayname": "Alice", "email": "alice@example.com", "groups": ["mlflow-users"], "password": hasher.hash(password)}}}
    (tmp_path / "c.yml").write_text(yaml.safe_dump(config))
    (tmp_path / "u.yml").write_text(yaml.safe_dump(users))
    stand_in = AutheliaForwardAuthStandIn(delay_scale=SCALE, clock=clock).start()
    stand_in.load(tmp_path / "c.yml", tmp_path / "u.yml")
    stand_in.password = password
    yield stand_in
    stand_in.stop()


def ask(authelia, host=DOMAIN, uri="/api/2.0/mlflow/experiments/search", method="GET", proto="https", accept="*/*", auth=None, headers=None, omit=()):
    h = {"X-Forwarded-Proto": proto, "X-Forwarded-Host": host, "X-Forwarded-Uri": uri, "X-Forwarded-Method": method, "X-Forwarded-For": "203.0.113.5"}
    if accept is not None:
        h["Accept"] = accept
    if auth:
        h["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    h.update(headers or {})
    for k in omit:
        h.pop(k, None)
    # requests adds Accept: */* unless told not to: None removes it.
    if accept is None:
        h["Accept"] = None
    return requests.get(f"{authelia.url}/api/authz/forward-auth", headers=h, allow_redirects=False, timeout=30)


def test_no_credentials_accepting_any_type_is_302_to_the_portal_with_rd_and_rm(authelia):
    r = ask(authelia, accept="*/*")
    assert r.status_code == 302
    loc = urlsplit(r.headers["Location"])
    assert f"{loc.scheme}://{loc.netloc}" == f"https://{PORTAL}"
    q = parse_qs(loc.query)
    assert q["rd"] == [f"https://{DOMAIN}/api/2.0/mlflow/experiments/search"] and q["rm"] == ["GET"]
    assert ask(authelia, accept="text/html").status_code == 302
    assert ask(authelia, method="POST", accept="text/html").status_code == 303


@pytest.mark.parametrize("kind", ["json", "xhr", "no-accept"])
def test_no_credentials_from_an_api_client_is_401(authelia, kind):
    r = {"json": lambda: ask(authelia, accept="application/json"),
         "xhr": lambda: ask(authelia, accept="*/*", headers={"X-Requested-With": "XMLHttpRequest"}),
         "no-accept": lambda: ask(authelia, accept=None)}[kind]()
    assert r.status_code == 401 and "Location" not in r.headers


def test_insecure_scheme_missing_headers_and_foreign_host_are_400(authelia):
    assert ask(authelia, proto="http").status_code == 400
    for missing in ("X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Method"):
        assert ask(authelia, omit=(missing,)).status_code == 400, missing
    assert ask(authelia, host="mlflow.example.org").status_code == 400
    assert ask(authelia, method="get").status_code == 400


def test_bypass_answers_200_without_identity_and_with_it_for_valid_basic(authelia):
    anonymous = ask(authelia, host=PORTAL, uri="/")
    assert anonymous.status_code == 200 and "Remote-User" not in anonymous.headers
    signed = ask(authelia, host=PORTAL, uri="/", auth=("alice", authelia.password))
    assert signed.status_code == 200 and signed.headers["Remote-User"] == "alice"


def test_valid_credentials_on_a_host_under_the_default_deny_is_403(authelia):
    assert ask(authelia, host="other.example.com", auth=("alice", authelia.password)).status_code == 403
    assert ask(authelia, auth=("alice", authelia.password)).status_code == 200


def test_five_wrong_passwords_ban_the_user_and_the_right_one_then_answers_like_a_wrong_one(authelia, clock):
    for _ in range(5):
        assert ask(authelia, auth=("alice", "wrong")).status_code == 401
        clock.now += 10
    banned = ask(authelia, auth=("alice", authelia.password))
    wrong = ask(authelia, auth=("alice", "wrong"))
    assert banned.status_code == wrong.status_code == 401
    assert banned.headers.get("WWW-Authenticate") == wrong.headers.get("WWW-Authenticate")
    clock.now += 10 * 60 + 1  # ban_time over
    assert ask(authelia, auth=("alice", authelia.password)).status_code == 200


def test_failures_outside_find_time_do_not_ban(authelia, clock):
    for _ in range(4):
        ask(authelia, auth=("alice", "wrong"))
    clock.now += 2 * 60 + 1
    ask(authelia, auth=("alice", "wrong"))
    assert ask(authelia, auth=("alice", authelia.password)).status_code == 200


def test_a_failed_basic_check_takes_much_longer_than_a_good_one(authelia):
    """The shape (about 2 s against 0.15 s, scaled by SCALE), not a benchmark: the stand-in's
    own sleeps, which a test can read without timing anything."""
    assert authelia.FAILED_BASIC_SECONDS == 2.0 and authelia.GOOD_BASIC_SECONDS == 0.15
    started = time.monotonic()
    ask(authelia, auth=("alice", "wrong"))
    assert time.monotonic() - started >= authelia.FAILED_BASIC_SECONDS * SCALE


def test_the_portal_signs_a_person_in_with_a_session_cookie_for_the_cookie_domain(authelia, clock):
    url = f"{authelia.url}/api/firstfactor"
    assert requests.post(url, json={"username": "alice", "password": "wrong"}, timeout=30).status_code == 401
    ok = requests.post(url, json={"username": "alice", "password": authelia.password}, timeout=30)
    assert ok.status_code == 200 and ok.json() == {"status": "OK"}
    cookie = ok.headers["Set-Cookie"]
    assert "Domain=example.com" in cookie and "Secure" in cookie and "HttpOnly" in cookie
    name, value = cookie.split(";")[0].split("=", 1)
    r = ask(authelia, headers={"Cookie": f"{name}={value}"})
    assert r.status_code == 200 and r.headers["Remote-User"] == "alice"
    # Regulation at the portal: five failures ban the person, the right password then fails too.
    for _ in range(5):
        requests.post(url, json={"username": "alice", "password": "wrong"}, timeout=30)
    assert requests.post(url, json={"username": "alice", "password": authelia.password}, timeout=30).status_code == 401
