"""Test doubles of the edge test, on 127.0.0.1 only.

AutheliaForwardAuthStandIn is NOT Authelia (no Authelia binary or image can be had here): it
plays Authelia 4.39's documented /api/authz/forward-auth contract with the users database and
access rules the program renders. UpstreamRecorder sits between Traefik and MLflow and keeps
the headers of every request that reached it, so a test can see what MLflow was sent.
"""

import base64
import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

IDENTITY_HEADERS = ("Remote-User", "Remote-Groups", "Remote-Email", "Remote-Name")


class _Server:
    def __init__(self, handler):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class AutheliaForwardAuthStandIn(_Server):
    """A stand-in for Authelia's forward-auth endpoint (NOT Authelia), per its 4.39 handlers:
    valid Basic credentials of a user a rule allows -> 200 with Remote-User/Groups/Email/Name;
    no credentials -> 401 for API clients (XHR, or not accepting text/html), else 302 (GET,
    HEAD, OPTIONS) or 303 to the portal with the original URL as `rd`; wrong credentials ->
    401 with WWW-Authenticate (the real one waits ~2 s first; this one does not). Any other
    path answers as the portal would be reached. Credentials sent from a client in
    Remote-* headers are never read."""

    def __init__(self):
        self.config = self.users = self.portal = None
        self.hasher = PasswordHasher()
        self.calls = []
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
        self.portal = self.config["session"]["cookies"][0]["authelia_url"]
        return self

    def _policy(self, host, user):
        """access_control as Authelia evaluates it: first matching rule, else default."""
        for rule in self.config["access_control"]["rules"]:
            if host not in rule["domain"]:
                continue
            subjects = rule.get("subject")
            if subjects is None:
                return rule["policy"]
            if user is None:
                return "needs-login"
            groups = {f"group:{g}" for g in user["groups"]} | {f"user:{user['name']}"}
            if any(all(s in groups for s in alternative) for alternative in subjects):
                return rule["policy"]
        return self.config["access_control"]["default_policy"] if user else "needs-login"

    def _handle(self, req):
        if req.path.split("?")[0] != "/api/authz/forward-auth":
            return self._reply(req, 200, {"Content-Type": "text/plain"}, b"authelia portal stand-in\n")
        h = req.headers
        method = h.get("X-Forwarded-Method", "GET")
        host = h.get("X-Forwarded-Host", "")
        original = f"{h.get('X-Forwarded-Proto', 'http')}://{host}{h.get('X-Forwarded-Uri', '/')}"
        self.calls.append({"host": host, "uri": h.get("X-Forwarded-Uri"), "authorization": "Authorization" in h})
        user = None
        auth = h.get("Authorization", "")
        if auth.lower().startswith("basic "):
            try:
                name, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                record = self.users.get(name)
                if record is None:
                    raise VerificationError("unknown user")
                self.hasher.verify(record["password"], password)
                user = {"name": name, **record}
            except (VerificationError, InvalidHashError, ValueError, UnicodeDecodeError):
                return self._reply(req, 401, {"WWW-Authenticate": 'Basic realm="Authorization Required"'}, b"401 Unauthorized")
        policy = self._policy(host, user)
        if user and policy in ("one_factor", "bypass"):
            return self._reply(req, 200, {
                "Remote-User": user["name"], "Remote-Groups": ",".join(user["groups"]),
                "Remote-Email": user.get("email", ""), "Remote-Name": user["displayname"],
            }, b"")
        if user:
            return self._reply(req, 403, {}, b"403 Forbidden")
        if policy == "bypass":
            return self._reply(req, 200, {}, b"")
        api_client = h.get("X-Requested-With", "").lower() == "xmlhttprequest" or "text/html" not in h.get("Accept", "")
        if api_client:
            return self._reply(req, 401, {}, b"401 Unauthorized")
        status = 302 if method in ("GET", "HEAD", "OPTIONS") else 303
        return self._reply(req, status, {"Location": f"{self.portal}/?rd={quote(original, safe='')}"}, b"")

    @staticmethod
    def _reply(req, status, headers, body):
        req.send_response(status)
        for k, v in headers.items():
            req.send_header(k, v)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        if req.command != "HEAD":
            req.wfile.write(body)


class UpstreamRecorder(_Server):
    """Forwards every request to `target` unchanged and records its headers (what MLflow got)."""

    def __init__(self, target_port):
        self.requests = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                body = self._body()
                recorder.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers.items())})
                conn = http.client.HTTPConnection("127.0.0.1", target_port, timeout=120)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in ("transfer-encoding", "content-length", "connection")}
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    self.send_response(resp.status)
                    for k, v in resp.getheaders():
                        if k.lower() not in ("transfer-encoding", "content-length", "connection"):
                            self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    conn.close()

            do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

            def _body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else None

        super().__init__(Handler)

    def seen(self, predicate=lambda r: True):
        return [r for r in self.requests if predicate(r)]
