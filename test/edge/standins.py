"""Test doubles of the edge test, on 127.0.0.1 only.

AutheliaForwardAuthStandIn is NOT Authelia (no Authelia binary or image can be had here): it
plays Authelia 4.39's /api/authz/forward-auth with the configuration and users database the
program renders, following the answers measured on the real Authelia 4.39.20 (issue 14, "Done
when") and its source. AlbStandIn plays the AWS load balancer's header handling in front of
Traefik. UpstreamRecorder sits between Traefik and MLflow and keeps every request that reached
it, so a test can assert what MLflow was (or was not) sent.
"""

import base64
import http.client
import re
import secrets
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
import yaml

IDENTITY_HEADERS = ("Remote-User", "Remote-Groups", "Remote-Email", "Remote-Name")
HOP_BY_HOP = ("transfer-encoding", "content-length", "connection", "keep-alive")


class _Server:
    def __init__(self, handler, host="127.0.0.1"):
        self.httpd = ThreadingHTTPServer((host, 0), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _read_body(handler):
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        for _ in range(1_000_000):  # bounded: a chunked body of at most a million chunks
            size = int(handler.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
        raise ValueError("chunked body too long")
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else None


def _relay(handler, conn, headers, body):
    """Sends the request on `conn` with `headers` and writes the answer back to the client."""
    conn.putrequest(handler.command, handler.path, skip_host=True, skip_accept_encoding=True)
    for k, v in headers:
        conn.putheader(k, v)
    if body is not None:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    resp = conn.getresponse()
    data = resp.read()
    handler.send_response(resp.status)
    for k, v in resp.getheaders():
        if k.lower() not in HOP_BY_HOP:
            handler.send_header(k, v)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(data)


def _duration(text):
    """Authelia's duration strings as the kit writes them (90s, 2m, 10m, 1h)."""
    m = re.fullmatch(r"(\d+)([smh])", str(text))
    if not m:
        raise ValueError(f"duration {text!r}")
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2)]


class AutheliaForwardAuthStandIn(_Server):
    """A stand-in for Authelia 4.39's forward-auth endpoint (NOT Authelia). Sources, in
    authelia/authelia: internal/handlers/handler_authz.go (object, scheme and domain checks,
    rd and rm on the portal redirect), handler_authz_impl_forwardauth.go (X-Forwarded-Proto,
    -Host, -Uri, -Method; the method must be upper-case letters), handler_authz_common.go
    (Remote-* on 200, WWW-Authenticate: Basic on a failed Basic check), handler_authz_util.go
    isAuthzResult (bypass, deny for a known user -> 403, else 401/302/303),
    internal/regulation/regulator.go (ban after max_retries failures within find_time, then even
    the right password fails), internal/middlewares/wrap.go RequestCtxRemoteIP (the left-most
    X-Forwarded-For). Where the measured answers of issue 14 say 400, this says 400.

    Delays: a failed Basic check takes ~2 s and a good one ~0.15 s on the real one (argon2id
    plus its anti-timing delay); `delay_scale` shrinks both for tests, keeping their ratio."""

    FAILED_BASIC_SECONDS = 2.0
    GOOD_BASIC_SECONDS = 0.15

    def __init__(self, delay_scale=0.05, clock=time.monotonic):
        self.config = self.users = self.portal = None
        self.hasher = PasswordHasher()
        self.calls, self.portal_calls = [], []
        self.delay_scale, self.clock = delay_scale, clock
        self.failures, self.bans, self.sessions = {}, {}, {}
        self._lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                stand_in._handle(self)

            do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

        super().__init__(Handler)

    def load(self, config_path, users_path):
        """The rendered configuration and users database (rendered once this port is known)."""
        self.config = yaml.safe_load(open(config_path))
        self.users = yaml.safe_load(open(users_path))["users"]
        cookie = self.config["session"]["cookies"][0]
        self.portal, self.cookie_domain = cookie["authelia_url"], cookie["domain"]
        self.cookie_name = self.config["session"].get("name", "authelia_session")
        strategies = self.config["server"]["endpoints"]["authz"]["forward-auth"]["authn_strategies"]
        self.header_authorization = any(s["name"] == "HeaderAuthorization" for s in strategies)
        self.cookie_session = any(s["name"] == "CookieSession" for s in strategies)
        reg = self.config.get("regulation", {})
        self.max_retries = reg.get("max_retries", 3)
        self.find_time, self.ban_time = _duration(reg.get("find_time", "2m")), _duration(reg.get("ban_time", "5m"))
        return self

    def sign_in(self, username):
        """A session cookie for `username`, as the portal's first factor would set it."""
        token = secrets.token_urlsafe(24)
        self.sessions[token] = username
        return self.cookie_name, token

    # --- regulation (user mode) ---------------------------------------------------------

    def _banned(self, name):
        with self._lock:
            until = self.bans.get(name)
            return until is not None and self.clock() < until

    def _record(self, name, ok):
        with self._lock:
            if ok:
                self.failures.pop(name, None)
                return
            now = self.clock()
            recent = [t for t in self.failures.get(name, []) if now - t <= self.find_time] + [now]
            self.failures[name] = recent
            if len(recent) >= self.max_retries:
                self.bans[name] = now + self.ban_time
                self.failures[name] = []

    def _check_basic(self, value):
        """(user, failed): a Basic credential checked as Authelia does, with its delays."""
        try:
            name, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            time.sleep(self.FAILED_BASIC_SECONDS * self.delay_scale)
            return None, True
        record = self.users.get(name)
        ok = False
        if record is not None and not self._banned(name):
            try:
                ok = self.hasher.verify(record["password"], password)
            except (VerificationError, InvalidHashError):
                ok = False
        if record is not None and not self._banned(name):
            self._record(name, ok)
        if not ok:
            time.sleep(self.FAILED_BASIC_SECONDS * self.delay_scale)
            return None, True
        time.sleep(self.GOOD_BASIC_SECONDS * self.delay_scale)
        return {"name": name, **record}, False

    # --- access control ----------------------------------------------------------------

    def _required(self, host, user):
        """(policy, rule_has_subject) of the first rule matching host and user."""
        for rule in self.config["access_control"]["rules"]:
            domains = rule["domain"] if isinstance(rule["domain"], list) else [rule["domain"]]
            if not any(host == d or (d.startswith("*.") and host.endswith(d[1:])) for d in domains):
                continue
            subjects = rule.get("subject")
            if subjects is None:
                return rule["policy"], False
            if user is None:
                # An anonymous subject may still match once signed in: sign in first.
                return rule["policy"], True
            mine = {f"group:{g}" for g in user.get("groups", [])} | {f"user:{user['name']}"}
            alternatives = [s if isinstance(s, list) else [s] for s in subjects]
            if any(all(s in mine for s in alt) for alt in alternatives):
                return rule["policy"], True
        return self.config["access_control"]["default_policy"], False

    PORTAL_PAGE = (b"<!doctype html><title>authelia portal stand-in</title><form id=f>"
                   b"<input name=username id=username><input name=password id=password type=password>"
                   b"<button id=sign-in>Sign in</button></form><script>document.getElementById('f').onsubmit=async(e)=>{"
                   b"e.preventDefault();const r=await fetch('/api/firstfactor',{method:'POST',headers:{'Content-Type':'application/json'},"
                   b"body:JSON.stringify({username:username.value,password:password.value})});"
                   b"if(r.ok){const rd=new URLSearchParams(location.search).get('rd');if(rd)location.href=rd;}"
                   b"else document.body.insertAdjacentText('beforeend','Incorrect username or password.')}</script>"
                   b"<!-- authelia portal stand-in -->\n")

    def _first_factor(self, req):
        """POST /api/firstfactor {username, password}: the portal's sign-in (internal/handlers/
        handler_firstfactor_password.go): regulation applies, a session cookie on success."""
        import json

        try:
            body = json.loads(_read_body(req) or b"{}")
            name, password = str(body["username"]), str(body["password"])
        except (ValueError, KeyError):
            return self._reply(req, 400, {"Content-Type": "application/json"}, b'{"status":"KO","message":"Unable to parse body."}')
        token = base64.b64encode(f"{name}:{password}".encode()).decode()
        user, failed = self._check_basic(token)
        if failed:
            return self._reply(req, 401, {"Content-Type": "application/json"}, b'{"status":"KO","message":"Authentication failed. Check your credentials."}')
        cookie_name, value = self.sign_in(user["name"])
        cookie = f"{cookie_name}={value}; Domain={self.cookie_domain}; Path=/; HttpOnly; Secure; SameSite=Lax"
        return self._reply(req, 200, {"Content-Type": "application/json", "Set-Cookie": cookie}, b'{"status":"OK"}')

    def _handle(self, req):
        route = req.path.split("?")[0]
        if route != "/api/authz/forward-auth":
            self.portal_calls.append({"path": req.path, "headers": dict(req.headers.items())})
        if route == "/api/firstfactor" and req.command == "POST":
            return self._first_factor(req)
        if route != "/api/authz/forward-auth":
            return self._reply(req, 200, {"Content-Type": "text/html; charset=utf-8"}, self.PORTAL_PAGE)
        h = req.headers
        proto, host, uri, method = (h.get(k) for k in ("X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Uri", "X-Forwarded-Method"))
        self.calls.append({"host": host, "uri": uri, "method": method, "proto": proto, "authorization": "Authorization" in h,
                           "headers": dict(h.items())})
        # Target object: proto and host required, method upper-case letters only.
        if not proto or not host or not method or not re.fullmatch(r"[A-Z]+", method):
            return self._reply(req, 400, {}, b"400 Bad Request")
        if proto not in ("https", "wss"):
            return self._reply(req, 400, {}, b"400 Bad Request")  # insecure scheme
        hostname = host.split(":")[0].lower()
        if not (hostname == self.cookie_domain or hostname.endswith("." + self.cookie_domain)):
            return self._reply(req, 400, {}, b"400 Bad Request")  # not under the cookie domain
        target = f"{proto}://{host}{uri or '/'}"

        user, basic_failed = None, False
        auth = h.get("Authorization", "")
        if self.header_authorization and auth[:6].lower() == "basic ":
            user, basic_failed = self._check_basic(auth[6:].strip())
            if basic_failed:
                return self._reply(req, 401, {"WWW-Authenticate": 'Basic realm="Authorization Required"'}, b"401 Unauthorized")
        elif self.cookie_session:
            token = _cookie(h.get("Cookie", ""), self.cookie_name)
            if token in self.sessions:
                name = self.sessions[token]
                user = {"name": name, **self.users[name]}

        required, has_subject = self._required(hostname, user)
        if required == "bypass" or (user and required == "one_factor"):
            headers = {}
            if user:
                headers = {"Remote-User": user["name"], "Remote-Groups": ",".join(user.get("groups", [])),
                           "Remote-Email": user.get("email", ""), "Remote-Name": user.get("displayname", "")}
            return self._reply(req, 200, headers, b"")
        if required == "deny" and (user is not None or not has_subject):
            return self._reply(req, 403, {}, b"403 Forbidden")
        accept = h.get("Accept")
        browser = accept is not None and any(m in accept for m in ("text/html", "*/*", "text/*"))
        if h.get("X-Requested-With", "").lower() == "xmlhttprequest" or not browser:
            return self._reply(req, 401, {}, b"401 Unauthorized")
        status = 302 if method in ("GET", "HEAD", "OPTIONS") else 303
        return self._reply(req, status, {"Location": f"{self.portal}/?{urlencode({'rd': target, 'rm': method})}"}, b"")

    @staticmethod
    def _reply(req, status, headers, body):
        req.send_response(status)
        for k, v in headers.items():
            req.send_header(k, v)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        if req.command != "HEAD":
            req.wfile.write(body)


def _cookie(header, name):
    for part in header.split(";"):
        k, _, v = part.strip().partition("=")
        if k == name:
            return v
    return None


class UpstreamRecorder(_Server):
    """Forwards every request to `target` unchanged and records it (what MLflow got)."""

    def __init__(self, target_port):
        self.requests = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                body = _read_body(self)
                recorder.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers.items()),
                                          "raw_headers": list(self.headers.items())})
                conn = http.client.HTTPConnection("127.0.0.1", target_port, timeout=120)
                try:
                    headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP]
                    _relay(self, conn, headers, body)
                finally:
                    conn.close()

            do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

        super().__init__(Handler)

    def seen(self, predicate=lambda r: True):
        return [r for r in self.requests if predicate(r)]


class AlbStandIn:
    """The AWS Application Load Balancer's request handling as infra/targets/ecs-load-balancer.ts
    configures it (NOT the ALB), per
    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/x-forwarded-headers.html
    and the load balancer attributes page:
    - the HTTPS listener (plain HTTP here) sets X-Forwarded-Proto: https and X-Forwarded-Port:
      443, and appends the client's address to X-Forwarded-For (xff mode "append"); every other
      header, X-Forwarded-Host included, passes through as the client sent it;
    - routing.http.drop_invalid_header_fields.enabled: headers whose name is not [-A-Za-z0-9]+
      are removed;
    - the HTTP listener answers 301 to https.
    It connects to Traefik from 127.0.0.1 (the trusted address); clients reach it from any
    127.0.0.0/8 address, which becomes their X-Forwarded-For entry."""

    VALID_NAME = re.compile(r"^[-A-Za-z0-9]+$")

    def __init__(self, traefik_port):
        alb = self
        self.traefik_port = traefik_port

        class Https(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                body = _read_body(self)
                client_ip = self.client_address[0]
                headers, xff = [], []
                for k, v in self.headers.items():
                    if not alb.VALID_NAME.match(k) or k.lower() in HOP_BY_HOP:
                        continue
                    if k.lower() in ("x-forwarded-proto", "x-forwarded-port"):
                        continue
                    if k.lower() == "x-forwarded-for":
                        xff.append(v)
                        continue
                    headers.append((k, v))
                headers += [("X-Forwarded-For", ", ".join(xff + [client_ip])), ("X-Forwarded-Proto", "https"), ("X-Forwarded-Port", "443")]
                conn = http.client.HTTPConnection("127.0.0.1", alb.traefik_port, timeout=120, source_address=("127.0.0.1", 0))
                try:
                    _relay(self, conn, headers, body)
                finally:
                    conn.close()

            do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

        class Http(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.send_response(301)
                self.send_header("Location", f"https://{self.headers.get('Host', '')}:443{self.path}")
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

        self.https = _Server(Https)
        self.http = _Server(Http)

    def start(self):
        self.https.start()
        self.http.start()
        return self

    def stop(self):
        self.https.stop()
        self.http.stop()


def raw_request(port, lines, source="127.0.0.1", body=b"", timeout=30):
    """Sends exactly these request lines (no header added) and returns (status, headers, body).
    For requests no client library sends: absolute-form targets, forged spellings, raw paths."""
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    with socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0)) as s:
        s.sendall(data)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, rest = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ")[1]) if status_line.startswith("HTTP/") else 0
    headers = {}
    for line in header_lines:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, rest
