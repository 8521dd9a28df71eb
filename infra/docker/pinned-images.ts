/**
 * Third-party images the local stack runs, pinned by digest: a tag can be re-pushed, a digest
 * cannot, so every machine runs the same bytes. Each can be overridden in stack config (a
 * mirror, a newer release) but only by another digest-pinned reference.
 *
 * Digests as published by their registries for these tags (index digests, multi-platform).
 */

/** PostgreSQL 17 on Debian bookworm (Docker Official Image). */
export const POSTGRES_IMAGE = "postgres:17.10-bookworm@sha256:4f736ae292687621d4dbe0d499ffd024a36bd2ee7d8ca6f2ccd4c800f047b394";

/**
 * MinIO's last published community release (MinIO ships the community edition as source only
 * since October 2025; quay.io still serves this image). Carries `mc`, which the bucket setup uses.
 */
export const MINIO_IMAGE = "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z@sha256:14cea493d9a34af32f524e538b8346cf79f3321eff8e708c1e2960462bd8936e";

/** repository[:tag]@sha256:<64 hex>: what "pinned by digest" means here. */
export const DIGEST_PINNED = /^[a-z0-9][a-z0-9._\-/:]*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?@sha256:[0-9a-f]{64}$/;
