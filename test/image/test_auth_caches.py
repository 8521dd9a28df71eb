"""The auth caches (images/mlflow/auth_caches.py) against the real server, per kind (the
entrypoint in the test venv, and the built image as a container), one worker as the dev stack
runs: every fact a request checked is cached after the first request, and each change below
must hold on the very next request. (Across workers and tasks the bound is the TTL, MLflow's
auth_cache_ttl_seconds: auth_caches.py, unit-tested on a fake clock in
test_auth_caches_unit.py.)"""

import concurrent.futures
import threading

import pytest
import requests
from conftest import token

PASSWORD = "first-password-" + token(12)


@pytest.fixture(scope="module", params=["venv", "container"])
def kind(request):
    return request.param


@pytest.fixture(scope="module")
def env(make_env, kind):
    env, _ = make_env(f"caches_{kind}")
    return env


@pytest.fixture(scope="module")
def server(env, start_server, kind):
    return start_server(env, kind)


def admin(env):
    return (env["MLFLOW_ADMIN_USERNAME"], env["MLFLOW_ADMIN_PASSWORD"])


def call(server, auth, method, path, body=None, version="2.0"):
    return requests.request(method, f"{server.url}/api/{version}/mlflow/{path}", json=body,
                            auth=auth, timeout=30)


def ok(response):
    assert response.status_code == 200, f"{response.status_code}: {response.text[:300]}"
    return response.json()


@pytest.fixture
def editor(server, env):
    """A fresh non-admin user with EDIT on a fresh experiment and a run in it, whose
    log-metric has passed once (so its credential, user, grants and run are all cached)."""
    name = f"user{token(8).lower()}"
    ok(call(server, admin(env), "POST", "users/create", {"username": name, "password": PASSWORD}))
    experiment = ok(call(server, admin(env), "POST", "experiments/create",
                         {"name": f"caches-{token(8)}"}))["experiment_id"]
    grant(server, env, name, experiment, "EDIT")
    run = ok(call(server, admin(env), "POST", "runs/create",
                  {"experiment_id": experiment, "start_time": 0}))["run"]["info"]["run_id"]
    user = {"name": name, "auth": (name, PASSWORD), "experiment": experiment, "run": run}
    for step in range(3):  # cached after the first
        assert log_metric(server, user, step=step).status_code == 200
    return user


def grant(server, env, name, experiment, permission):
    ok(call(server, admin(env), "POST", "users/permissions/grant",
            {"username": name, "resource_type": "experiment", "resource_id": experiment,
             "permission": permission}, version="3.0"))


def log_metric(server, user, auth=None, step=0):
    return call(server, auth or user["auth"], "POST", "runs/log-metric",
                {"run_id": user["run"], "key": "loss", "value": 0.5, "timestamp": 0, "step": step})


def test_a_deleted_user_is_refused_on_the_next_request(server, env, editor):
    ok(requests.delete(f"{server.url}/api/2.0/mlflow/users/delete",
                       json={"username": editor["name"]}, auth=admin(env), timeout=30))
    assert log_metric(server, editor).status_code == 401


def test_a_changed_password_applies_on_the_next_request(server, env, editor):
    new = "second-password-" + token(12)
    ok(requests.patch(f"{server.url}/api/2.0/mlflow/users/update-password",
                      json={"username": editor["name"], "password": new}, auth=admin(env),
                      timeout=30))
    assert log_metric(server, editor).status_code == 401
    assert log_metric(server, editor, auth=(editor["name"], new)).status_code == 200
    assert log_metric(server, editor).status_code == 401


def revoke(server, env, name, experiment):
    ok(call(server, admin(env), "POST", "users/permissions/revoke",
            {"username": name, "resource_type": "experiment", "resource_id": experiment},
            version="3.0"))


def test_a_revoked_or_lowered_permission_applies_on_the_next_request(server, env, editor):
    name, experiment = editor["name"], editor["experiment"]
    revoke(server, env, name, experiment)
    # Without a grant the dev stack's default permission (READ) governs: no writes.
    assert env["MLFLOW_DEFAULT_PERMISSION"] == "READ"
    assert log_metric(server, editor, step=10).status_code == 403
    grant(server, env, name, experiment, "EDIT")
    assert log_metric(server, editor, step=11).status_code == 200
    revoke(server, env, name, experiment)
    grant(server, env, name, experiment, "READ")
    assert log_metric(server, editor, step=12).status_code == 403


def test_admin_rights_taken_away_apply_on_the_next_request(server, env, editor):
    # Deleting a user is for admins only (MLflow's validate_can_delete_user).
    promote = f"{server.url}/api/2.0/mlflow/users/update-admin"
    victims = [f"victim{token(8).lower()}" for _ in range(2)]
    for victim in victims:
        ok(call(server, admin(env), "POST", "users/create", {"username": victim, "password": PASSWORD}))

    def delete(victim):
        return requests.delete(f"{server.url}/api/2.0/mlflow/users/delete",
                               json={"username": victim}, auth=editor["auth"], timeout=30)

    ok(requests.patch(promote, json={"username": editor["name"], "is_admin": True},
                      auth=admin(env), timeout=30))
    assert delete(victims[0]).status_code == 200
    ok(requests.patch(promote, json={"username": editor["name"], "is_admin": False},
                      auth=admin(env), timeout=30))
    assert delete(victims[1]).status_code == 403


def tree_rss(server):
    root = server.main_process()
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])


class PeakRss:
    """The server tree's highest RSS while the block runs, sampled every 20 ms."""

    def __init__(self, server):
        self.server, self.peak, self._done = server, 0, threading.Event()

    def __enter__(self):
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._done.wait(0.02):
            self.peak = max(self.peak, tree_rss(self.server))

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join(5)


def test_a_wrong_password_flood_keeps_memory_flat(server, env, editor):
    # Wrong passwords are never cached, and every check (scrypt: 32 MiB for a moment) runs one
    # at a time (bounded_auth.py): a flood from 8 clients at once may cost one check's memory
    # over the idle level, never one per client, and twice the requests cost no more.
    names = [editor["name"], env["MLFLOW_ADMIN_USERNAME"], "nobody"]
    check = 32 * 2**20

    def wrong(i):
        auth = (names[i % len(names)], f"wrong-{token(10)}")
        return log_metric(server, editor, auth=auth).status_code

    before = tree_rss(server)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        with PeakRss(server) as first:
            assert set(pool.map(wrong, range(24))) == {401}
        with PeakRss(server) as second:
            assert set(pool.map(wrong, range(48))) == {401}
    after = tree_rss(server)
    mib = {k: v >> 20 for k, v in dict(before=before, first=first.peak, second=second.peak,
                                       after=after).items()}
    assert first.peak - before < check + 16 * 2**20, mib
    assert second.peak - first.peak < 8 * 2**20, mib
    assert after - before < check, mib
    # And the server still takes the right password.
    assert log_metric(server, editor, step=20).status_code == 200


# --- two workers, as the prod stack runs (server.workers: 2) ----------------------------------


@pytest.fixture(scope="module")
def two_workers(make_env, start_server):
    env, _ = make_env("caches_two_workers")
    env["MLFLOW_WORKERS"] = "2"
    return env, start_server(env, "venv")


def test_the_creator_of_an_experiment_uses_it_at_once_whichever_worker_answers(two_workers):
    # MLflow grants MANAGE to an experiment's creator in the worker that served the create. A
    # grants list cached by the other worker must not answer the creator's next request with
    # the default permission (READ): that refused runs/create with 403 through the prod edge.
    # Each call is a new connection, so the two workers share them between them.
    env, server = two_workers
    name = f"user{token(8).lower()}"
    ok(call(server, admin(env), "POST", "users/create", {"username": name, "password": PASSWORD}))
    user = (name, PASSWORD)
    shared = ok(call(server, admin(env), "POST", "experiments/create",
                     {"name": f"shared-{token(8)}"}))["experiment_id"]
    grant(server, env, name, shared, "EDIT")
    for _ in range(16):  # both workers look this user's grants up (and, before, kept them)
        ok(call(server, user, "POST", "runs/create", {"experiment_id": shared, "start_time": 0}))
    refused = []
    for attempt in range(3):
        own = ok(call(server, user, "POST", "experiments/create",
                      {"name": f"own-{attempt}-{token(8)}"}))["experiment_id"]
        for _ in range(8):
            response = call(server, user, "POST", "runs/create",
                            {"experiment_id": own, "start_time": 0})
            if response.status_code != 200:
                refused.append((attempt, response.status_code, response.text[:120]))
    assert refused == []
