"""Carries the explicit denies of a pre-RBAC auth database over MLflow 3's auth upgrade.

MLflow 2.x (and 3.x before its RBAC migration) stored "this user may not see this experiment /
model" as a per-resource grant with permission NO_PERMISSIONS (experiment_permissions,
registered_model_permissions, ...). MLflow 3.17's auth migration e5f6a7b8c9d0
(mlflow/server/auth/db/migrations/versions/e5f6a7b8c9d0_migrate_permissions_to_roles.py)
copies those tables into role_permissions but SKIPS every NO_PERMISSIONS row ("an absent grant
combined with the configured default_permission already expresses no access"), and 3.17's auth
app reads role_permissions only. Under any default_permission other than NO_PERMISSIONS the
user then gets the default (READ here): the deny is silently gone. 3.17's explicit deny is
DENY (mlflow/server/auth/permissions.py: RESOURCE_GRANTABLE_PERMISSIONS; the migration's own
_VALID_RESOURCE_PERMISSIONS drops DENY too, so rewriting the legacy rows before it is no use).

So, around the auth upgrade the entrypoint runs:
  stash(conn)  before: if the database predates e5f6a7b8c9d0, copy its NO_PERMISSIONS rows
               into the kit's table mlflow_kit_legacy_denies (committed);
  apply(conn)  after: write each stashed row as a DENY grant on the user's synthetic
               __user_<id>__ role, exactly as the migration writes the grants it keeps, and
               empty the stash, in one transaction.
A crash between the two leaves the stash in place; the next start applies it (the gate
refuses MLFLOW_MIGRATE=off while it holds rows). Workspace-wide NO_PERMISSIONS rows need
nothing: with no workspace grant the user has no presence there, as before.
"""

from urllib.parse import quote

STASH_TABLE = "mlflow_kit_legacy_denies"
# The auth revision that drops NO_PERMISSIONS rows; a database at or after it has no stash to make.
RBAC_BACKFILL_REVISION = "e5f6a7b8c9d0"
LEGACY_DENY = "NO_PERMISSIONS"
DENY = "DENY"
# mlflow/utils/workspace_utils.py DEFAULT_WORKSPACE_NAME: where the migration puts grants of
# tables without a workspace column, and where a server without workspaces looks.
DEFAULT_WORKSPACE = "default"
SYNTHETIC_ROLE = "__user_{user_id}__"


def _scorer_pattern(row):
    # The migration's (and SqlAlchemyStore._scorer_pattern's) compound key.
    return f"{row['experiment_id']}/{quote(row['scorer_name'], safe='')}"


# Legacy table -> (role_permissions.resource_type, the resource_pattern of a row), as in
# e5f6a7b8c9d0's upgrade().
LEGACY_TABLES = {
    "experiment_permissions": ("experiment", lambda r: str(r["experiment_id"])),
    "registered_model_permissions": ("registered_model", lambda r: r["name"]),
    "scorer_permissions": ("scorer", _scorer_pattern),
    "gateway_secret_permissions": ("gateway_secret", lambda r: str(r["secret_id"])),
    "gateway_endpoint_permissions": ("gateway_endpoint", lambda r: str(r["endpoint_id"])),
    "gateway_model_definition_permissions": (
        "gateway_model_definition", lambda r: str(r["model_definition_id"])),
}


def _tables(cursor):
    cursor.execute("SELECT table_name FROM information_schema.tables "
                   "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")
    return {row[0] for row in cursor.fetchall()}


def _columns(cursor, table):
    cursor.execute("SELECT column_name FROM information_schema.columns "
                   "WHERE table_schema = current_schema() AND table_name = %s", (table,))
    return {row[0] for row in cursor.fetchall()}


def predates_backfill(revision, scripts):
    """True for an auth schema the RBAC backfill has not run on (None: a pre-alembic 2.x one)."""
    if revision is None:
        return True
    ancestry = {s.revision for s in scripts.iterate_revisions(revision, "base")}
    return RBAC_BACKFILL_REVISION not in ancestry


def legacy_denies(cursor):
    """(user_id, workspace, resource_type, resource_pattern) of every NO_PERMISSIONS row."""
    tables = _tables(cursor)
    found = []
    for table, (resource_type, pattern) in LEGACY_TABLES.items():
        if table not in tables:
            continue
        columns = _columns(cursor, table)
        cursor.execute(f"SELECT * FROM {table} WHERE permission = %s", (LEGACY_DENY,))  # noqa: S608
        names = [d[0] for d in cursor.description]
        for values in cursor.fetchall():
            row = dict(zip(names, values))
            # registered_model_permissions has a workspace column since 3.x; 2.x has none.
            workspace = row["workspace"] if "workspace" in columns else DEFAULT_WORKSPACE
            found.append((row["user_id"], workspace, resource_type, pattern(row)))
    return found


def stash(conn, revision, scripts):
    """Before the auth upgrade: keep the rows the backfill would drop. Returns how many."""
    if not predates_backfill(revision, scripts):
        return 0
    with conn, conn.cursor() as cursor:
        denies = legacy_denies(cursor)
        if not denies:
            return 0
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {STASH_TABLE} (user_id INTEGER NOT NULL, "
            "workspace VARCHAR(63) NOT NULL, resource_type VARCHAR(64) NOT NULL, "
            "resource_pattern VARCHAR(255) NOT NULL, "
            "PRIMARY KEY (user_id, workspace, resource_type, resource_pattern))")
        cursor.executemany(f"INSERT INTO {STASH_TABLE} VALUES (%s, %s, %s, %s) "
                           "ON CONFLICT DO NOTHING", denies)
    return len(denies)


def pending(conn):
    """Stashed denies not yet written as DENY grants (0 when there is no stash)."""
    with conn.cursor() as cursor:
        if STASH_TABLE not in _tables(cursor):
            return 0
        cursor.execute(f"SELECT count(*) FROM {STASH_TABLE}")  # noqa: S608 (a constant)
        return cursor.fetchone()[0]


def _synthetic_role(cursor, user_id, workspace):
    # As e5f6a7b8c9d0's _get_or_create_synthetic_role: the user's own role, never one that is
    # assigned to someone else.
    name = SYNTHETIC_ROLE.format(user_id=user_id)
    cursor.execute("SELECT id FROM roles WHERE workspace = %s AND name = %s", (workspace, name))
    row = cursor.fetchone()
    if row is None:
        cursor.execute("INSERT INTO roles (name, workspace, description) VALUES (%s, %s, NULL) "
                       "RETURNING id", (name, workspace))
        role_id = cursor.fetchone()[0]
    else:
        role_id = row[0]
        cursor.execute("SELECT user_id FROM user_role_assignments WHERE role_id = %s "
                       "AND user_id <> %s", (role_id, user_id))
        other = cursor.fetchone()
        if other is not None:
            raise RuntimeError(f"role {name!r} in workspace {workspace!r} is assigned to another "
                               f"user (id {other[0]}): rename it, then start again")
    cursor.execute("INSERT INTO user_role_assignments (user_id, role_id) SELECT %s, %s "
                   "WHERE NOT EXISTS (SELECT 1 FROM user_role_assignments "
                   "WHERE user_id = %s AND role_id = %s)", (user_id, role_id, user_id, role_id))
    return role_id


def apply(conn):
    """After the auth upgrade: the stashed denies as DENY grants. Returns (written, kept)."""
    written = kept = 0
    with conn, conn.cursor() as cursor:
        if STASH_TABLE not in _tables(cursor):
            return 0, 0
        cursor.execute(f"SELECT user_id, workspace, resource_type, resource_pattern "  # noqa: S608
                       f"FROM {STASH_TABLE} ORDER BY 1, 2, 3, 4")
        for user_id, workspace, resource_type, pattern in cursor.fetchall():
            role_id = _synthetic_role(cursor, user_id, workspace)
            # A grant already at that key was made after the backfill by an admin: it stands.
            cursor.execute(
                "INSERT INTO role_permissions (role_id, resource_type, resource_pattern, permission) "
                "SELECT %s, %s, %s, %s WHERE NOT EXISTS (SELECT 1 FROM role_permissions "
                "WHERE role_id = %s AND resource_type = %s AND resource_pattern = %s)",
                (role_id, resource_type, pattern, DENY, role_id, resource_type, pattern))
            if cursor.rowcount:
                written += 1
            else:
                kept += 1
        cursor.execute(f"DROP TABLE {STASH_TABLE}")
    return written, kept


def around_upgrade(open_connection, upgrade, log):
    """Runs upgrade() (MLflow's auth migration) between stash() and apply()."""
    import schema_gate  # beside this file

    conn = open_connection()
    try:
        schema = schema_gate.read_schema(conn, "auth")
        conn.rollback()  # read_schema's snapshot: the stash reads in its own transaction
        if schema.state == "versioned":
            stashed = stash(conn, schema.revision, schema_gate.migration_scripts("auth"))
            if stashed:
                log(f"auth database: {stashed} NO_PERMISSIONS grant(s) of the old schema kept "
                    "aside; MLflow's RBAC migration drops them")
        upgrade()
        written, kept = apply(conn)
        if written or kept:
            log(f"auth database: {written} NO_PERMISSIONS grant(s) carried over as DENY"
                + (f", {kept} left as an admin set them since" if kept else ""))
    finally:
        conn.close()
