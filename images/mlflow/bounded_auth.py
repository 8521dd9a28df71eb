"""MLflow's basic-auth app, with password checks run one at a time per process.

Each check is werkzeug's scrypt hash: about 32 MiB and 150 ms of CPU. MLflow runs them in
parallel on its request threads, so 16 clients logging at once (or a wrong-password flood,
which no credential cache absorbs) took the one-worker server from 300 MiB to 750 MiB in
bench/image: an OOM kill on a 512 MB instance. One at a time, memory stays flat; throughput
does not suffer, since the checks competed for the same cores anyway.

The entrypoint serves `bounded_auth:create_app` in place of `mlflow.server.auth:create_app`.
"""

import threading

import mlflow.server.auth.sqlalchemy_store as _store

_check_password_hash = _store.check_password_hash
_one_at_a_time = threading.BoundedSemaphore(1)


def bounded_check_password_hash(pwhash, password):
    with _one_at_a_time:
        return _check_password_hash(pwhash, password)


# SqlAlchemyStore.authenticate_user calls the module-level name: replace it there.
_store.check_password_hash = bounded_check_password_hash

# Artifacts only through the server (proxied_artifacts.py), before the app exists.
import proxied_artifacts  # noqa: E402,F401
from mlflow.server.auth import create_app  # noqa: E402  (after the patch, on purpose)

__all__ = ["create_app", "bounded_check_password_hash"]
