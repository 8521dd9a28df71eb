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


def _parent_of(head):
    import importlib.util

    from conftest import ROOT

    spec = importlib.util.spec_from_file_location("schema_gate", ROOT / "images/mlflow/schema_gate.py")
    gate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gate)
    return gate.migration_scripts("tracking").get_revision(head).down_revision
