"""The upgrade gate: reads the schema revision of the tracking and auth databases itself, before
MLflow opens its store, and decides whether this start may go on.

MLflow 3 upgrades a database on its own when its newer tables are missing (a 2.x database),
whatever MLFLOW_MIGRATE says, and an upgraded database can no longer be used by the old server.
So the decision is made here, from the alembic version tables, against the head revision of the
migration scripts shipped in the installed MLflow package:

  empty                 -> initialize (MLFLOW_MIGRATE auto/only), refuse with off
  at the image's head   -> start
  older, same major     -> upgrade with auto/only, refuse with off
  older, 2.x (or 1.x)   -> upgrade only with auto/only AND MLFLOW_ALLOW_MAJOR_UPGRADE=true,
                           else refuse, naming the backup to take first
  unknown revision      -> refuse, naming it (a newer MLflow upgraded this database)

A refusal is a GateRefusal: one line, no traceback, the entrypoint's migration exit code.
"""

import importlib.util
from pathlib import Path

# Head of MLflow's tracking migrations in the last 2.x releases: 2.21.3, 2.22.1 and 2.22.5 all
# ship mlflow/store/db_migrations/versions/0584bdc529eb_*.py as their only head (read from the
# wheels on PyPI); 3.0.0 adds revisions after it. A database at this revision or any ancestor
# of it holds a 2.x (or older) schema, and upgrading it is a one-way jump to 3.x.
LAST_2X_TRACKING_HEAD = "0584bdc529eb"
TRACKING_VERSION_TABLE = "alembic_version"
# mlflow/server/auth/db/migrations/env.py: version_table="alembic_version_auth" since 3.6; older
# auth databases have the `users` table and no such table (mlflow/server/auth/db/utils.py,
# _is_legacy_database), and MLflow stamps them at the initial revision before upgrading.
AUTH_VERSION_TABLE = "alembic_version_auth"
AUTH_LEGACY_MARKER_TABLE = "users"


class GateRefusal(Exception):
    pass


def mlflow_package_dir():
    # Located, not imported: importing mlflow is slow and must not open any store yet.
    spec = importlib.util.find_spec("mlflow")
    return Path(list(spec.submodule_search_locations)[0])


def migration_scripts(kind):
    from alembic.script import ScriptDirectory

    base = mlflow_package_dir()
    path = base / ("store/db_migrations" if kind == "tracking" else "server/auth/db/migrations")
    return ScriptDirectory(str(path))


class Schema:
    """What a database holds: 'empty', or 'versioned' with a revision (None for a pre-alembic
    or legacy database whose tables exist without a version table)."""

    def __init__(self, state, revision=None):
        self.state = state
        self.revision = revision

    def __repr__(self):
        return f"Schema({self.state!r}, {self.revision!r})"


def read_schema(conn, kind):
    """The schema of one database, through an open psycopg2 connection (read only)."""
    table = TRACKING_VERSION_TABLE if kind == "tracking" else AUTH_VERSION_TABLE
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        )
        tables = {row[0] for row in cursor.fetchall()}
        if table in tables:
            cursor.execute(f"SELECT version_num FROM {table}")  # noqa: S608 (a constant)
            rows = [row[0] for row in cursor.fetchall()]
            if len(rows) > 1:
                raise GateRefusal(f"the {kind} database's {table} holds several revisions "
                                  f"({', '.join(rows)}); it is not a database MLflow made")
            if rows:
                return Schema("versioned", rows[0])
    if kind == "auth":
        return Schema("versioned", None) if AUTH_LEGACY_MARKER_TABLE in tables else Schema("empty")
    # MLflow's own emptiness test (mlflow/store/db/utils.py, _is_empty_database).
    if all(name.startswith("alembic_") for name in tables):
        return Schema("empty")
    return Schema("versioned", None)


def ancestors(scripts, revision):
    """The revision and every revision before it."""
    return {script.revision for script in scripts.iterate_revisions(revision, "base")}


def is_2x_schema(scripts, revision):
    if revision is None:
        return True  # tables without a version table: older than any 2.x MLflow
    return revision in ancestors(scripts, LAST_2X_TRACKING_HEAD)


def decide(kind, schema, scripts, migrate, allow_major, backup_hint, image_version):
    """'initialize', 'start' or 'upgrade' for one database; raises GateRefusal otherwise."""
    head = scripts.get_current_head()
    if schema.state == "empty":
        if migrate == "off":
            raise GateRefusal(
                f"the {kind} database is empty and MLFLOW_MIGRATE=off: initialize it first with "
                "the migration step (MLFLOW_MIGRATE=only), or start with MLFLOW_MIGRATE=auto")
        return "initialize"
    revision = schema.revision
    if revision == head:
        return "start"
    if revision is not None and not known(scripts, revision):
        raise GateRefusal(
            f"the {kind} database is at schema revision {revision}, which MLflow "
            f"{image_version} in this image does not know (its head is {head}): a newer MLflow "
            "upgraded it. Run an image with that MLflow version, or restore the backup taken "
            "before that upgrade (README: Rolling back an upgrade)")
    shown = revision or "an unversioned (pre-alembic) schema"
    major = kind == "tracking" and is_2x_schema(scripts, revision)
    if major and not (allow_major and migrate in ("auto", "only")):
        raise GateRefusal(
            f"the {kind} database holds an MLflow 2.x schema ({shown}); upgrading it to MLflow "
            f"{image_version} ({head}) is one way: the old server cannot open it afterwards. "
            f"Take a backup first ({backup_hint}), then start once with "
            "MLFLOW_ALLOW_MAJOR_UPGRADE=true and MLFLOW_MIGRATE=auto or only")
    if migrate == "off":
        raise GateRefusal(
            f"the {kind} database is at schema revision {shown}, older than this image's {head}, "
            "and MLFLOW_MIGRATE=off: run the migration step (MLFLOW_MIGRATE=only) first, after "
            f"a backup ({backup_hint})")
    return "upgrade"


def known(scripts, revision):
    from alembic.util import CommandError

    try:
        return scripts.get_revision(revision) is not None
    except CommandError:
        return False


def check(databases, migrate, allow_major, backup_hint, image_version, log):
    """databases: [(kind, label, open psycopg2 connection)]. Returns {kind: action}."""
    actions = {}
    for kind, label, conn in databases:
        scripts = migration_scripts(kind)
        schema = read_schema(conn, kind)
        action = decide(kind, schema, scripts, migrate, allow_major, backup_hint, image_version)
        if kind == "auth" and migrate == "off":
            refuse_pending_denies(conn)
        current = schema.revision or ("empty" if schema.state == "empty" else "unversioned")
        log(f"schema gate: {label} at {current}, image head {scripts.get_current_head()}: {action}")
        actions[kind] = action
    return actions


def refuse_pending_denies(conn):
    """A start interrupted after the auth upgrade left NO_PERMISSIONS grants not yet written as
    DENY (auth_carryover.py): serving now would let those users in."""
    import auth_carryover  # beside this file

    count = auth_carryover.pending(conn)
    if count:
        raise GateRefusal(
            f"the auth database holds {count} NO_PERMISSIONS grant(s) of its old schema not yet "
            "carried over as DENY (an earlier start stopped after the auth upgrade): start once "
            "with MLFLOW_MIGRATE=auto or only to finish it")
