"""Short-lived, bounded caches of what MLflow's auth app looks up on every request.

With MLflow's own credential cache on (auth_cache_ttl_seconds, keyed by username and an HMAC
of the password under a per-process random key, so a wrong or changed password never hits it),
a request still paid, per py-spy under load (bench/image): the user row again to see whether
the sender is admin (sender_is_admin -> store.get_user), and for everyone else the user row,
the grants query (resolve_permissions -> store.list_grants) and the whole run (_run_requirement
-> tracking get_run: run, tags, params, latest metrics) only to learn the run's experiment.

Cached here, per process:
  users    store.get_user(name)                          at most MAX_USERS entries
  known    store.has_user(name), only when True          at most MAX_USERS entries
  runs     a run's experiment id (never changes)         at most MAX_RUNS entries
every entry for at most TTL seconds: MLflow's auth_cache_ttl_seconds (0 turns all of this off),
so one number bounds every cached auth fact, credentials included.

Not cached: a user's grants (store.list_grants). Each worker and each task has its own caches,
and a grant is most often new: MLflow writes MANAGE for the creator of an experiment or model
in the worker that served the create, and the creator's next request (create a run in it) may
reach another worker. A grants list cached there before the create would answer with the
default permission (READ on the dev and prod stacks) and refuse the creator for up to TTL
seconds: found by test:edge on the prod stack's two workers. Likewise "no such user" is not
cached (a user just created elsewhere), nor is any missing user.

Invalidation: every auth-store method that is not a read (anything but get_/list_/has_/is_/
user_has_/authenticate_: create_user, update_user, delete_user, grant_..., revoke_..., roles, ...)
clears the users caches, and MLflow's credential cache, in the process that ran it, after it
ran (even if it failed). A read that started before a change never stores its result (a
generation counter). So a deleted or demoted user, or a changed password, applies at once in
the worker that served the change, and within TTL seconds in every other worker of the task and
in every other task (nothing is shared between processes); permissions apply at once
everywhere. Wrong credentials are never cached (MLflow's cache stores successes only), so a
wrong-password flood cannot grow any of this: each cache is bounded by its entry count whatever
arrives.
"""

import threading
import time

MAX_USERS = 1024
MAX_RUNS = 10000
READ_PREFIXES = ("get_", "list_", "has_", "is_", "user_has_", "authenticate_")


class Caches:
    """The three caches, one lock and one generation; `timer` is for tests."""

    def __init__(self, ttl, timer=time.monotonic):
        from cachetools import TTLCache

        self.ttl = ttl
        self.lock = threading.Lock()
        self.generation = 0
        self.users = TTLCache(MAX_USERS, ttl, timer=timer)
        self.known = TTLCache(MAX_USERS, ttl, timer=timer)
        self.runs = TTLCache(MAX_RUNS, ttl, timer=timer)
        self.on_change = []  # more caches to drop with ours (MLflow's credential cache)

    def fetch(self, cache, key, load, keep=lambda value: True):
        """cache[key], or load(), stored if keep(value) and nothing changed while it ran."""
        with self.lock:
            try:
                return cache[key]
            except KeyError:
                generation = self.generation
        value = load()
        with self.lock:
            if generation == self.generation and keep(value):
                cache[key] = value
        return value

    def changed(self):
        with self.lock:
            self.generation += 1
            self.users.clear()
            self.known.clear()
        for drop in self.on_change:
            drop()

    def sizes(self):
        with self.lock:
            return {"users": len(self.users), "known": len(self.known), "runs": len(self.runs)}


def cache_store(store, caches):
    """Wraps one auth SqlAlchemyStore instance: cached reads, every write invalidates."""
    get_user, has_user = store.get_user, store.has_user

    def cached_get_user(username):
        return caches.fetch(caches.users, username, lambda: get_user(username))

    def cached_has_user(username, **kwargs):
        if kwargs:  # use_primary=True: a caller that wants the primary's answer now
            return has_user(username, **kwargs)
        # Only "exists": a user created a moment ago by another worker must be found.
        return caches.fetch(caches.known, username, lambda: has_user(username),
                            keep=lambda exists: exists is True)

    store.get_user = cached_get_user
    store.has_user = cached_has_user
    for name in dir(type(store)):
        if name.startswith("_") or name.startswith(READ_PREFIXES):
            continue
        method = getattr(store, name)
        if callable(method):
            setattr(store, name, _invalidating(method, caches))
    return store


def _invalidating(method, caches):
    def write(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        finally:
            caches.changed()

    write.__name__ = method.__name__
    write.__wrapped__ = method
    return write


def install(auth, caches):
    """Caches MLflow's auth module (mlflow.server.auth, imported): its store, its credential
    cache's invalidation, and the run -> experiment lookup of _run_requirement."""
    cache_store(auth.store, caches)
    if auth._USER_AUTH_CACHE is not None:
        def drop_credentials():
            with auth._USER_AUTH_CACHE_LOCK:
                auth._USER_AUTH_CACHE.clear()

        caches.on_change.append(drop_credentials)
    auth._run_requirement = _cached_run_requirement(auth, caches)


def _cached_run_requirement(auth, caches):
    """MLflow's _run_requirement (pinned in test_auth_caches_unit.py), with the run's
    experiment id cached: a run never moves to another experiment."""
    Requirement = auth.Requirement
    EXPERIMENT, RUN = auth.RESOURCE_TYPE_EXPERIMENT, auth.RESOURCE_TYPE_RUN
    missing = object()

    def experiment_of(run_id):
        run = auth._fetch_or_none(auth._get_tracking_store().get_run, run_id)
        return missing if run is None else run.info.experiment_id

    def run_requirement(run_id, action):
        # A missing run is not cached: it denies now and may exist a moment later.
        if isinstance(run_id, str) and run_id:
            experiment_id = caches.fetch(caches.runs, run_id, lambda: experiment_of(run_id),
                                         keep=lambda found: found is not missing)
        else:
            experiment_id = experiment_of(run_id)
        if experiment_id is missing:
            return None
        experiment = (EXPERIMENT, experiment_id)
        return experiment, [
            Requirement(EXPERIMENT, experiment_id, "read"),
            Requirement(RUN, "*", action, fallback_if_no_grant=(experiment,)),
        ]

    return run_requirement
