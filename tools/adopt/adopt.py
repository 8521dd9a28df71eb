#!/usr/bin/env python3
"""Adopting an MLflow 2.x server: the two steps MLflow has no command for.

  artifacts  copies the old artifact tree under the kit's prefix with the same layout:
             s3://old-bucket/old-root/<key> -> s3://kit-bucket/kit-prefix/<key>
  locations  rewrites the absolute artifact locations the old server stored (experiments,
             runs, model versions) from the old root to the kit's proxied scheme:
             s3://old-bucket/old-root/1/abc/artifacts -> mlflow-artifacts:/1/abc/artifacts
             (a server that already proxied artifacts stored mlflow-artifacts:/ locations;
             those need no rewrite, only the copy)

Credentials never go in argv: S3 uses boto3's usual chain (AWS_* variables, a profile, a role);
the database URI is read from the variable named by --database-url-env. Both steps are
idempotent. Needs boto3 and psycopg2 (the image's venv has both). See README: Adopting an
MLflow 2.x server.
"""

import argparse
import os
import sys
from urllib.parse import urlsplit

PROXIED = "mlflow-artifacts:"
# (table, column) holding absolute artifact locations, in MLflow 2.x and 3.x schemas.
LOCATION_COLUMNS = [
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("model_versions", "source"),
    ("model_versions", "storage_location"),
    ("logged_models", "artifact_location"),
]


class AdoptError(Exception):
    pass


def s3_location(value, option):
    parts = urlsplit(value)
    if parts.scheme != "s3" or not parts.netloc or value.endswith("/"):
        raise AdoptError(f"{option} {value!r} must be s3://bucket or s3://bucket/prefix, "
                         "with no trailing slash")
    return parts.netloc, parts.path.strip("/")


def s3_client(endpoint):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint or os.environ.get("MLFLOW_S3_ENDPOINT_URL"))


def copy_artifacts(args):
    src_bucket, src_prefix = s3_location(args.source, "--from")
    dst_bucket, dst_prefix = s3_location(args.destination, "--to")
    if (src_bucket, src_prefix) == (dst_bucket, dst_prefix):
        raise AdoptError("--from and --to are the same location: nothing to copy")
    source, destination = s3_client(args.from_endpoint), s3_client(args.to_endpoint)
    copied = skipped = 0
    listing = f"{src_prefix}/" if src_prefix else ""
    for page in source.get_paginator("list_objects_v2").paginate(Bucket=src_bucket, Prefix=listing):
        for item in page.get("Contents", []):
            relative = item["Key"][len(listing):]
            key = f"{dst_prefix}/{relative}" if dst_prefix else relative
            if same_object(destination, dst_bucket, key, item):
                skipped += 1
                continue
            if not args.dry_run:
                body = source.get_object(Bucket=src_bucket, Key=item["Key"])["Body"]
                destination.upload_fileobj(body, dst_bucket, key)
            copied += 1
    verb = "would copy" if args.dry_run else "copied"
    print(f"artifacts: {verb} {copied} objects, {skipped} already there "
          f"(s3://{src_bucket}/{listing} -> s3://{dst_bucket}/{dst_prefix})")


def same_object(client, bucket, key, item):
    from botocore.exceptions import ClientError

    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except ClientError:
        return False
    return head["ContentLength"] == item["Size"] and head.get("ETag") == item.get("ETag")


def rewrite_locations(args):
    import psycopg2

    uri = os.environ.get(args.database_url_env)
    if not uri:
        raise AdoptError(f"{args.database_url_env} is not set: export the tracking database's "
                         "URI (postgresql://user:password@host:port/db) under that name")
    old = args.source
    s3_location(old, "--from")
    conn = psycopg2.connect(uri.replace("postgresql+psycopg2://", "postgresql://"))
    try:
        with conn, conn.cursor() as cursor:
            for table, column in LOCATION_COLUMNS:
                cursor.execute(
                    "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()"
                    " AND table_name = %s AND column_name = %s", (table, column))
                if not cursor.fetchone():
                    continue
                # Exactly the old root, or below it: s3://old/root2 is not under s3://old/root.
                cursor.execute(
                    f"UPDATE {table} SET {column} = %s || substr({column}, %s) "  # noqa: S608
                    f"WHERE {column} = %s OR left({column}, %s) = %s",
                    (PROXIED, len(old) + 1, old, len(old) + 1, old + "/"))
                print(f"locations: {table}.{column}: {cursor.rowcount} rewritten "
                      f"({old} -> {PROXIED})")
            if args.dry_run:
                conn.rollback()
                print("locations: dry run, rolled back")
    finally:
        conn.close()


def parser():
    top = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(dest="command", required=True)
    art = commands.add_parser("artifacts", help="copy the old artifact tree under the kit's prefix")
    art.add_argument("--from", dest="source", required=True, help="s3://old-bucket/old-root")
    art.add_argument("--to", dest="destination", required=True,
                     help="the kit's MLFLOW_ARTIFACTS_DESTINATION, s3://bucket/prefix")
    art.add_argument("--from-endpoint", help="S3 endpoint of the old store (MinIO); AWS if unset")
    art.add_argument("--to-endpoint", help="S3 endpoint of the kit's store; AWS if unset")
    art.add_argument("--dry-run", action="store_true")
    art.set_defaults(run=copy_artifacts)
    loc = commands.add_parser("locations", help="rewrite stored absolute artifact locations")
    loc.add_argument("--from", dest="source", required=True,
                     help="the old server's --default-artifact-root, s3://old-bucket/old-root")
    loc.add_argument("--database-url-env", default="MLFLOW_BACKEND_STORE_URI",
                     help="variable holding the kit's tracking database URI")
    loc.add_argument("--dry-run", action="store_true")
    loc.set_defaults(run=rewrite_locations)
    return top


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except AdoptError as error:
        print(f"adopt: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
