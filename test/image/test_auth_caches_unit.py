"""Fast checks of auth_caches.py and lean_middleware.py (images/mlflow), without a server: the
caches' bounds, expiry and invalidation on a fake clock, and the MLflow code both rely on,
pinned by its source so that a bump of MLflow fails here until it is re-read.

The same behaviour against the real server: test_auth_caches.py."""

import hashlib
import inspect
import sys
import threading
from importlib.metadata import version

import pytest
from conftest import ENTRYPOINT

sys.path.insert(0, str(ENTRYPOINT.parent))
import auth_caches  # noqa: E402
import lean_middleware  # noqa: E402


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class FakeStore:
    """The auth store's shape (the methods auth_caches wraps), counting database reads."""

    def __init__(self):
        self.reads = 0
        self.users = {"ana": {"admin": False}}

    def get_user(self, username):
        self.reads += 1
        if username not in self.users:
            raise LookupError(username)
        return dict(self.users[username])

    def has_user(self, username, *, use_primary=False):
        self.reads += 1
        return username in self.users

    def list_grants(self, user_id, workspace, resource_types):
        self.reads += 1
        return [(user_id, workspace, sorted(resource_types))]

    def authenticate_user(self, username, password):
        return True

    def update_user(self, username, password=None, is_admin=None):
        if is_admin is not None:
            self.users[username]["admin"] = is_admin

    def delete_user(self, username):
        del self.users[username]

    def grant_user_permission(self, *args):
        raise RuntimeError("a write that fails still invalidates")


def cached_store(ttl=30):
    clock = Clock()
    caches = auth_caches.Caches(ttl, timer=clock)
    return auth_caches.cache_store(FakeStore(), caches), caches, clock


def test_reads_are_cached_for_the_ttl_and_no_longer():
    store, caches, clock = cached_store(ttl=30)
    assert store.get_user("ana") == {"admin": False}
    store.get_user("ana")
    store.has_user("ana")
    store.has_user("ana")
    assert store.reads == 2
    clock.now += 29.9
    store.get_user("ana")
    assert store.reads == 2
    clock.now += 0.2  # past the TTL
    store.get_user("ana")
    assert store.reads == 3


def test_grants_and_unknown_users_are_read_every_time():
    # Another worker may have granted MANAGE to an experiment's creator or created the user a
    # moment ago; nothing in this process would say so (test_auth_caches.py, two workers).
    store, caches, _ = cached_store()
    for _ in range(3):
        store.list_grants(1, "default", ["experiment", "run"])
    assert store.reads == 3
    for _ in range(3):
        assert store.has_user("ben") is False
    assert store.reads == 6 and caches.sizes()["known"] == 0
    store.users["ben"] = {"admin": False}  # created elsewhere: this process saw no write
    assert store.has_user("ben") is True


def test_every_write_invalidates_even_when_it_fails():
    store, caches, _ = cached_store()
    dropped = []
    caches.on_change.append(lambda: dropped.append(1))
    store.get_user("ana")
    store.update_user("ana", is_admin=True)
    assert store.get_user("ana") == {"admin": True}
    with pytest.raises(RuntimeError):
        store.grant_user_permission("ana", "experiment", "1", "EDIT")
    assert caches.sizes()["users"] == 0 and len(dropped) == 2
    store.delete_user("ana")
    with pytest.raises(LookupError):  # a missing user is never cached
        store.get_user("ana")
    assert caches.sizes()["users"] == 0


def test_primary_reads_and_failures_are_not_cached():
    store, caches, _ = cached_store()
    store.has_user("ana", use_primary=True)
    store.has_user("ana", use_primary=True)
    assert store.reads == 2 and caches.sizes()["known"] == 0


def test_a_read_that_raced_a_write_is_not_stored():
    caches = auth_caches.Caches(30, timer=Clock())
    started, release = threading.Event(), threading.Event()
    slow = FakeStore.get_user

    def get_user_slowly(self, username):
        started.set()
        release.wait(10)
        return slow(self, username)

    inner = FakeStore()
    inner.get_user = get_user_slowly.__get__(inner)
    cached = auth_caches.cache_store(inner, caches)
    reader = threading.Thread(target=lambda: cached.get_user("ana"))
    reader.start()
    assert started.wait(10)
    cached.update_user("ana", is_admin=True)  # lands while the read is in flight
    release.set()
    reader.join(10)
    assert caches.sizes()["users"] == 0


def test_caches_are_bounded_by_count_whatever_arrives():
    store, caches, _ = cached_store()
    store.users = {f"user{i}": {"admin": False} for i in range(auth_caches.MAX_USERS * 3)}
    for name in store.users:
        store.get_user(name)
        store.has_user(name)
        store.has_user(name + "-unknown")
    sizes = caches.sizes()
    assert sizes["users"] == auth_caches.MAX_USERS
    assert sizes["known"] == auth_caches.MAX_USERS


def test_all_writes_of_mlflows_auth_store_are_wrapped():
    # Every public method of MLflow's store that is not a read must invalidate: a new write
    # method in a future MLflow is caught by the prefix rule, not by a list kept here.
    from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore()
    auth_caches.cache_store(store, auth_caches.Caches(30))
    writes = [n for n in dir(SqlAlchemyStore)
              if not n.startswith("_") and not n.startswith(auth_caches.READ_PREFIXES)
              and callable(getattr(SqlAlchemyStore, n))]
    assert {"create_user", "update_user", "delete_user", "grant_user_permission",
            "revoke_user_resource_permission", "assign_role_to_user",
            "update_experiment_permission"} <= set(writes)
    for name in writes:
        assert getattr(getattr(store, name), "__wrapped__", None) is not None, name
    for name in ("authenticate_user", "get_user", "list_grants", "has_user"):
        assert getattr(getattr(store, name), "__wrapped__", None) is None, name


# --- the MLflow code these modules mirror, pinned ---------------------------------------

# sha256 of inspect.getsource() of each function, as read for MLflow 3.17.2. When MLflow is
# bumped this fails: re-read each function against auth_caches.py / lean_middleware.py and
# update the hash.
PINNED_SOURCES = {
    "mlflow.server.auth:_authenticate_cached": "d09f6f01ada89979f11b8ec89377d65e44c5fd7f1fc956c50adfff6c515eb127",
    "mlflow.server.auth:_run_requirement": "dd0c00e3e8452138dae2eda36094af07e9006c2223cffff5926806cce4641cfe",
    "mlflow.server.auth:add_fastapi_permission_middleware": "344ee9b3adc66f0cb7025ba78bf41537cd96b1f01163f80c896bfdf85b4baee2",
    "mlflow.server.auth:resolve_permissions": "89b4cbe233367e84f393b01f710c69faf5393aa995b183af71843cde78f70c38",
    "mlflow.server.auth:sender_is_admin": "7a9ed36212d57ad60c8fc364947142d2ee82003c2897a0a4c8e5363249db70f6",
    "mlflow.server.fastapi_app:add_fastapi_workspace_middleware": "d8d5ee8b68c372282dd792441e6e133620d48c6b6c78a4a1f0faf3baa50c7f23",
    "mlflow.server.fastapi_app:add_gateway_timing_middleware": "8ddc5843da616e609ad973463389c9b9eb47806b3b164562add81c185a3ac96d",
    "mlflow.server.workspace_helpers:resolve_workspace_for_request_if_enabled": "6a120d154ab0367e2aab63e08988aa35c738e6108bf68456f0976a8a5daf6ed8",
}


def source_hash(target):
    import importlib

    module, name = target.split(":")
    return hashlib.sha256(inspect.getsource(getattr(importlib.import_module(module), name))
                          .encode()).hexdigest()


@pytest.mark.parametrize("target", sorted(PINNED_SOURCES))
def test_the_mlflow_code_mirrored_here_is_the_code_that_was_read(target):
    assert version("mlflow") == lean_middleware.PINNED_MLFLOW
    assert source_hash(target) == PINNED_SOURCES[target], (
        f"{target} changed with MLflow {version('mlflow')}: re-read it against "
        "images/mlflow/auth_caches.py and lean_middleware.py, then update PINNED_SOURCES")


def test_requests_needing_the_same_password_check_share_one():
    # 16 clients of one user starting at once: one scrypt check, not 16 in a row. A different
    # password (or hash) is its own check, and the shared answer is the check's own.
    import bounded_auth
    from werkzeug.security import generate_password_hash

    pwhash = generate_password_hash("right-password")
    release, calls = threading.Event(), []
    real = bounded_auth._check_password_hash

    def slow(h, p):
        calls.append(p)
        release.wait(10)
        return real(h, p)

    bounded_auth._check_password_hash = slow
    try:
        results = {}
        threads = [threading.Thread(target=lambda i=i, p=p: results.__setitem__(
            i, bounded_auth.bounded_check_password_hash(pwhash, p)))
            for i, p in enumerate(["right-password"] * 6 + ["wrong"] * 2)]
        for t in threads:
            t.start()
        for _ in range(500):  # until all but the two leaders wait on a check (bounded)
            with bounded_auth._in_flight_lock:
                waiting = sum(c.waiters for c in bounded_auth._in_flight.values())
            if waiting == 6:
                break
            threading.Event().wait(0.01)
        assert waiting == 6
        release.set()
        for t in threads:
            t.join(10)
    finally:
        bounded_auth._check_password_hash = real
    assert [results[i] for i in range(8)] == [True] * 6 + [False] * 2
    assert sorted(calls) == ["right-password", "wrong"]
    assert bounded_auth._in_flight == {}
