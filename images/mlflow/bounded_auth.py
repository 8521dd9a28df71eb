"""MLflow's basic-auth app, with password checks run one at a time per process (and a check
already running shared by the requests that need the same one), the lookups
every request repeats cached for a bounded time (auth_caches.py), and MLflow's middlewares
skipped where they would only pass a request on (lean_middleware.py).

Each check is werkzeug's scrypt hash: about 32 MiB and 150 ms of CPU. MLflow runs them in
parallel on its request threads, so 16 clients logging at once (or a wrong-password flood,
which no credential cache absorbs) took the one-worker server from 300 MiB to 750 MiB in
bench/image: an OOM kill on a 512 MB instance. One at a time, memory stays flat; throughput
does not suffer, since the checks competed for the same cores anyway.

The entrypoint serves `bounded_auth:create_app` in place of `mlflow.server.auth:create_app`.
"""

import hmac
import secrets
import threading

import mlflow.server.auth.sqlalchemy_store as _store

_check_password_hash = _store.check_password_hash
_one_at_a_time = threading.BoundedSemaphore(1)
# Checks running now, by (hash, HMAC of the password under a per-process random key): a request
# that needs the same check waits for its answer instead of running it again. 16 clients of one
# user starting at once (nothing cached yet) pay one check, not 16 in a row. Entries live only
# while their check runs, so there are never more than the requests in flight.
_in_flight = {}
_in_flight_lock = threading.Lock()
_digest_key = secrets.token_bytes(32)


class _Check:
    def __init__(self):
        self.done = threading.Event()
        self.result = None
        self.ok = False
        self.waiters = 0


def bounded_check_password_hash(pwhash, password):
    digest = hmac.new(_digest_key, str(password).encode("utf-8", "surrogatepass"), "sha256").digest()
    key = (pwhash, digest)
    with _in_flight_lock:
        check = _in_flight.get(key)
        leader = check is None
        if leader:
            check = _in_flight[key] = _Check()
        else:
            check.waiters += 1
    if not leader:
        check.done.wait()
        if check.ok:
            return check.result
        # The check we waited for failed: run our own (one at a time, as always).
        with _one_at_a_time:
            return _check_password_hash(pwhash, password)
    try:
        with _one_at_a_time:
            check.result = _check_password_hash(pwhash, password)
        check.ok = True
        return check.result
    finally:
        with _in_flight_lock:
            del _in_flight[key]
        check.done.set()


# SqlAlchemyStore.authenticate_user calls the module-level name: replace it there.
_store.check_password_hash = bounded_check_password_hash

# Artifacts only through the server (proxied_artifacts.py), before the app exists.
import proxied_artifacts  # noqa: E402,F401
import mlflow.server.auth as _auth  # noqa: E402  (after the patch, on purpose)

import auth_caches  # noqa: E402
import lean_middleware  # noqa: E402


def create_app():
    """MLflow's auth app factory (uvicorn --factory), then the caches and the lean middleware."""
    app = _auth.create_app()
    ttl = _auth.auth_config.auth_cache_ttl_seconds
    if ttl > 0:
        auth_caches.install(_auth, auth_caches.Caches(ttl))
    if hasattr(app, "user_middleware"):  # the FastAPI app (uvicorn); Flask otherwise
        lean_middleware.apply(app)
    return app


__all__ = ["create_app", "bounded_check_password_hash"]
