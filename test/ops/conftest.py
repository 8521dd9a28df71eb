"""Fixtures of the operations tests (backup and restore drill, import): the image test's
throwaway PostgreSQL cluster (Debian's server), moto's S3 server and the kit's real entrypoint
in the image venv, all on 127.0.0.1 (test/image/conftest.py and helpers.py, loaded from there
so both suites run the same thing)."""

import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

HERE = Path(__file__).resolve().parent
IMAGE_TESTS = HERE.parent / "image"
sys.path.insert(0, str(IMAGE_TESTS))
sys.path.insert(0, str(HERE))
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"

import helpers  # noqa: E402  (test/image/helpers.py)


image = helpers.image_conftest()
# The image suite's fixtures, registered here as this suite's own.
postgres = image.postgres
s3 = image.s3
start_server = image.start_server


class Deployment:
    """What a stack gives the ops tools: the database pair, the artifact destination, the S3
    credentials, and the server env computed by the runtime contract for it."""

    def __init__(self, pair, env, creds, s3_server):
        self.pair = pair
        self.env = env
        self.creds = creds
        self.s3 = s3_server
        self.destination = env["MLFLOW_ARTIFACTS_DESTINATION"]
        self.bucket = urlsplit(self.destination).netloc

    def tool_env(self):
        """The environment tools/ops/kit_backup.py reads (secrets never on its command line)."""
        return {
            "MLFLOW_KIT_TRACKING_DB_URI": self.pair.tracking_uri,
            "MLFLOW_KIT_AUTH_DB_URI": self.pair.auth_uri,
            "MLFLOW_KIT_ARTIFACTS_DESTINATION": self.destination,
            "MLFLOW_S3_ENDPOINT_URL": self.s3.endpoint,
            "AWS_ACCESS_KEY_ID": self.s3.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.s3.secret_access_key,
            "AWS_DEFAULT_REGION": self.env["AWS_DEFAULT_REGION"],
            "MLFLOW_KIT_PG_BIN": str(helpers.postgres_bin()),
        }


@pytest.fixture(scope="session")
def make_deployment(postgres, s3):
    """make_deployment(name, versioned=False) -> a Deployment on a fresh database pair and its
    own new bucket (versioned on request, as the kit's S3 buckets are)."""
    counter = {"n": 0}

    def make(name, versioned=False):
        counter["n"] += 1
        bucket = f"mlflow-kit-{name}-{counter['n']}".lower()
        creds = image.Secrets()
        pair = postgres.database_pair(name)
        env = helpers.runtime_env("dev", pair.tracking_uri, pair.auth_uri, s3, helpers.free_port(),
                                  creds.admin_password, creds.flask_secret_key, bucket=bucket)
        env["MLFLOW_DB_WAIT_SECONDS"] = "30"
        s3.ensure_bucket(bucket, env["AWS_DEFAULT_REGION"])
        if versioned:
            s3.client(env["AWS_DEFAULT_REGION"]).put_bucket_versioning(
                Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        return Deployment(pair, env, creds, s3)

    return make
