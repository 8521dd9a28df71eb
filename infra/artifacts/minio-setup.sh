#!/bin/sh
# The local stack's artifact bucket and the server's MinIO user, limited to the bucket's prefix.
#
# Runs in a one-shot container of the MinIO image (which carries `mc`) on the private network.
# Idempotent: every run converges MinIO, whatever it held before (a first start, a rotated
# secret key, a volume kept from an earlier stack). Nothing secret is passed on a command line
# except the user's secret key to `mc admin user add`, which has no other way to take it.
#
#   MC_HOST_local          http://<root user>:<root password>@minio:9000 (mc's alias from the env)
#   MLFLOW_BUCKET          bucket name
#   MLFLOW_POLICY          policy name; its document is /mlflow-kit/policy.json
#   MLFLOW_ACCESS_KEY      the server's access key (MinIO's user name)
#   MLFLOW_SECRET_KEY      its secret key
set -eu

: "${MC_HOST_local:?MC_HOST_local is required}"
: "${MLFLOW_BUCKET:?MLFLOW_BUCKET is required}"
: "${MLFLOW_POLICY:?MLFLOW_POLICY is required}"
: "${MLFLOW_ACCESS_KEY:?MLFLOW_ACCESS_KEY is required}"
: "${MLFLOW_SECRET_KEY:?MLFLOW_SECRET_KEY is required}"

# Bounded: MinIO was healthy when this container was created; this covers a restart.
attempt=0
until mc admin info local >/dev/null 2>&1; do
  attempt=$((attempt + 1))
  if [ "$attempt" -ge 60 ]; then
    echo "mlflow-kit setup: MinIO did not answer within 120 s" >&2
    exit 3
  fi
  sleep 2
done

mc mb --ignore-existing "local/${MLFLOW_BUCKET}"
# Replaces the document of an existing policy of that name.
mc admin policy create local "${MLFLOW_POLICY}" /mlflow-kit/policy.json
# Creates the user, or sets a new secret key on an existing one (a rotation).
mc admin user add local "${MLFLOW_ACCESS_KEY}" "${MLFLOW_SECRET_KEY}"
# Succeeds when already attached (mc since October 2024, minio/mc#5058).
mc admin policy attach local "${MLFLOW_POLICY}" --user "${MLFLOW_ACCESS_KEY}"

echo "mlflow-kit setup: bucket ${MLFLOW_BUCKET} and its user ready"
