"""The upgrade gate end to end: the real entrypoint on real Postgres databases whose schema
revision is newer than the image, older, or missing. Every refusal is exit 4, one line, no
traceback, and leaves the databases as they were."""

import pytest
from conftest import image_conftest

EXIT_MIGRATION = 4


@pytest.fixture(scope="module")
def initialized(make_env):
    """A database pair at the image's head (MLFLOW_MIGRATE=only), to copy per test."""
    env, _ = make_env("gate")
    rc, output = image_conftest.run_entrypoint(dict(env, MLFLOW_MIGRATE="only"))
    assert rc == 0, output
    assert "schema gate: tracking database" in output and ": initialize" in output, output
    return env


def copy_pair(postgres, env, name):
    """Copies of the initialized pair (CREATE DATABASE ... TEMPLATE), owned by the app role."""
    out = dict(env)
    for var in ("MLFLOW_BACKEND_STORE_URI", "MLFLOW_AUTH_DATABASE_URI"):
        source = env[var].rsplit("/", 1)[1]
        target = f"{name}_{'t' if var == 'MLFLOW_BACKEND_STORE_URI' else 'a'}"
        postgres.sql(f"CREATE DATABASE {target} TEMPLATE {source} OWNER mlflow_app")
        out[var] = postgres.uri(target)
    return out


def database(env, var="MLFLOW_BACKEND_STORE_URI"):
    return env[var].rsplit("/", 1)[1]


def revision(postgres, env, table="alembic_version", var="MLFLOW_BACKEND_STORE_URI"):
    return postgres.sql(f"SELECT version_num FROM {table}", database(env, var))


def assert_refused(rc, output, *needles):
    assert rc == EXIT_MIGRATION, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    last = output.strip().splitlines()[-1]
    assert last.startswith("[entrypoint] error: refusing to start: "), last
    for needle in needles:
        assert needle in last, last
    assert "Started server process" not in output


def test_a_newer_revision_is_refused_by_name(postgres, initialized):
    env = copy_pair(postgres, initialized, "gate_newer")
    postgres.sql("UPDATE alembic_version SET version_num = '0123abcdef99'", database(env))
    rc, output = image_conftest.run_entrypoint(dict(env, MLFLOW_ALLOW_MAJOR_UPGRADE="true"))
    assert_refused(rc, output, "schema revision 0123abcdef99", "does not know", "newer MLflow")
    assert revision(postgres, env) == "0123abcdef99"


def test_off_refuses_an_older_schema_instead_of_a_traceback(postgres, initialized):
    env = copy_pair(postgres, initialized, "gate_off")
    head = revision(postgres, env)
    # Marked one revision back: MLflow itself exits 1 with a traceback on it ("out-of-date").
    older = _parent_of(head)
    postgres.sql(f"UPDATE alembic_version SET version_num = '{older}'", database(env))
    rc, output = image_conftest.run_entrypoint(dict(env, MLFLOW_MIGRATE="off"))
    assert_refused(rc, output, f"revision {older}, older", "MLFLOW_MIGRATE=off",
                   "MLFLOW_MIGRATE=only")
    assert revision(postgres, env) == older


def test_off_refuses_an_empty_database(postgres, initialized):
    env = dict(initialized,
               MLFLOW_BACKEND_STORE_URI=postgres.create_database("gate_empty_t"),
               MLFLOW_AUTH_DATABASE_URI=postgres.create_database("gate_empty_a"))
    rc, output = image_conftest.run_entrypoint(dict(env, MLFLOW_MIGRATE="off"))
    assert_refused(rc, output, "tracking database is empty and MLFLOW_MIGRATE=off")


def test_an_unknown_auth_revision_is_refused_too(postgres, initialized):
    env = copy_pair(postgres, initialized, "gate_auth")
    postgres.sql("UPDATE alembic_version_auth SET version_num = 'fedcba987654'",
                 database(env, "MLFLOW_AUTH_DATABASE_URI"))
    rc, output = image_conftest.run_entrypoint(env)
    assert_refused(rc, output, "auth database is at schema revision fedcba987654")


def test_an_interrupted_deny_carry_over_is_finished_before_serving(postgres, initialized):
    """A start that stopped after the auth upgrade and before writing the stashed NO_PERMISSIONS
    grants as DENY (images/mlflow/auth_carryover.py): off refuses, the next migration finishes."""
    env = copy_pair(postgres, initialized, "gate_denies")
    auth = database(env, "MLFLOW_AUTH_DATABASE_URI")
    bob = postgres.sql("INSERT INTO users (username, password_hash, is_admin) "
                       "VALUES ('bob', 'x', false) RETURNING id", auth).splitlines()[0]
    postgres.sql("CREATE TABLE mlflow_kit_legacy_denies (user_id INTEGER NOT NULL, workspace "
                 "VARCHAR(63) NOT NULL, resource_type VARCHAR(64) NOT NULL, resource_pattern "
                 "VARCHAR(255) NOT NULL, PRIMARY KEY (user_id, workspace, resource_type, "
                 f"resource_pattern)); INSERT INTO mlflow_kit_legacy_denies VALUES ({bob}, "
                 "'default', 'experiment', '7'); ALTER TABLE mlflow_kit_legacy_denies "
                 "OWNER TO mlflow_app", auth)
    rc, output = image_conftest.run_entrypoint(dict(env, MLFLOW_MIGRATE="off"))
    assert_refused(rc, output, "1 NO_PERMISSIONS grant(s)", "not yet carried over as DENY",
                   "MLFLOW_MIGRATE=auto or only")
    rc, output = image_conftest.run_entrypoint(dict(env, MLFLOW_MIGRATE="only"))
    assert rc == 0, output[-3000:]
    assert "1 NO_PERMISSIONS grant(s) carried over as DENY" in output, output[-3000:]
    assert postgres.sql("SELECT r.name || ' ' || rp.resource_type || ' ' || rp.resource_pattern"
                        " || ' ' || rp.permission FROM role_permissions rp JOIN roles r ON"
                        f" r.id = rp.role_id JOIN user_role_assignments a ON a.role_id = r.id"
                        f" WHERE a.user_id = {bob}", auth) == f"__user_{bob}__ experiment 7 DENY"
    assert postgres.sql("SELECT to_regclass('mlflow_kit_legacy_denies') IS NULL", auth) == "t"


def _parent_of(head):
    import importlib.util

    from conftest import ROOT

    spec = importlib.util.spec_from_file_location("schema_gate", ROOT / "images/mlflow/schema_gate.py")
    gate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gate)
    return gate.migration_scripts("tracking").get_revision(head).down_revision
