/**
 * ArtifactStore: the S3 bucket that MLflow's proxied artifact serving writes to, and the IAM
 * user (with two access-key slots) that the server signs its requests with.
 *
 * Clients never talk to S3: the server proxies every artifact call (--serve-artifacts with
 * --artifacts-destination s3://bucket/prefix), so only the server holds a key, and that key can
 * do exactly what MLflow's S3ArtifactRepository does through boto3, under the prefix only.
 *
 * ## Key rotation (two slots, never a moment without a valid key)
 *
 * An IAM user may hold at most two access keys. The user gets two slots, "blue" and "green";
 * the server uses the key of `accessKeys.active`. Each slot is replaced when its number in
 * `accessKeys.rotations` changes (replacementTrigger), deleting the old key first
 * (deleteBeforeReplace), because with both slots taken there is no room for a third key.
 *
 * To rotate, in ONE `pulumi up`: switch `active` to the other slot AND bump that slot's
 * rotation number. The newly active slot was not in use, so deleting and recreating it breaks
 * nothing; the server is redeployed with the new key; the previously active key stays valid
 * until the next rotation, so requests in flight on the old deployment keep working.
 *
 * Never bump the rotation of the slot that is ACTIVE: deleteBeforeReplace would delete the key
 * the running server signs with before its replacement exists and before the server has been
 * redeployed with it, so artifact uploads and downloads fail until the rollout completes.
 */
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import type { ArtifactStorage } from "./types";

export type KeySlot = "blue" | "green";
export const KEY_SLOTS: readonly KeySlot[] = ["blue", "green"];

/**
 * The bucket's physical name: `<project>-<stack>-art-<account id>`. Bucket names are global
 * across all AWS accounts, so `<project>-<stack>` alone collides with any other account that
 * deploys a stack of the same name; the account id makes it unique per account, stays the same
 * for the same stack in the same account (no state needed), and fits S3's 63 characters for
 * every name prefix settings accepts (42 + 5 + 12). The one place this name is built.
 */
export function artifactBucketName(namePrefix: string, accountId: string): string {
  if (!/^\d{12}$/.test(accountId)) throw new Error(`artifactBucketName: "${accountId}" is not a 12-digit AWS account id`);
  const name = `${namePrefix}-art-${accountId}`;
  if (!/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(name)) {
    throw new Error(`artifactBucketName: "${name}" is not a valid S3 bucket name (3-63 lower-case letters, digits, hyphens)`);
  }
  return name;
}

export interface ArtifactStoreArgs {
  bucketName: pulumi.Input<string>;  // physical name: artifactBucketName(namePrefix, account id)
  prefix: string;              // artifact prefix inside the bucket, no leading/trailing slash, e.g. "mlflow"
  lifecycle: "long-lived" | "ephemeral";
  /** Long-lived only: protection off before `pulumi destroy`; the bucket is still retained. */
  decommission?: boolean;
  noncurrentVersionExpirationDays: number;
  accessKeys: { active: KeySlot; rotations: Record<KeySlot, number> };
  userName: string;            // physical IAM user name: `${project}-${stack}-artifacts`
  /**
   * The IAM user and its two keys, for servers outside AWS (Render, Hugging Face). False where
   * the server runs with a role (ECS): long-lived keys nothing uses are what FSBP IAM.3 and IAM.8
   * flag, and a user with a policy is what IAM.2 flags. Default true.
   */
  staticKeys?: boolean;
  /** Server access logs (FSBP S3.9): the log bucket (named once its policy admits S3) and key prefix. */
  accessLogs?: { bucketName: pulumi.Input<string>; prefix: string };
  tags: Record<string, string>;
}

/** A plain IAM policy document: what is deployed, and what the simulator tests evaluate. */
export interface PolicyDocument {
  Version: "2012-10-17";
  Statement: PolicyStatement[];
}

export interface PolicyStatement {
  Sid: string;
  Effect: "Allow" | "Deny";
  Principal?: "*" | { AWS?: string | string[]; Service?: string | string[] };
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

/**
 * Object actions MLflow's S3ArtifactRepository needs, on `prefix/*` only:
 * - s3:PutObject: upload_file (PutObject, or CreateMultipartUpload + UploadPart +
 *   CompleteMultipartUpload above boto3's 8 MB threshold), and MLflow's own proxied multipart
 *   upload (create/complete, plus the presigned upload_part URLs the server signs).
 * - s3:GetObject: download_file (HeadObject + GetObject, ranged GETs for large files).
 * - s3:DeleteObject: delete_artifacts (DeleteObjects checks s3:DeleteObject per key). On a
 *   versioned bucket this only adds a delete marker: s3:DeleteObjectVersion is NOT granted, so
 *   the server's key can never destroy history; the lifecycle rule does that after N days.
 * - s3:AbortMultipartUpload: abort_multipart_upload, and boto3 aborting a failed transfer.
 */
export const ARTIFACT_OBJECT_ACTIONS = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"] as const;

/** Keeps a prefix from widening a policy: no wildcards, no `${...}` variables, no empty segments. */
const SAFE_PREFIX = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

function checkPrefix(prefix: string): void {
  if (!SAFE_PREFIX.test(prefix)) {
    throw new Error(
      `ArtifactStore: prefix must be non-empty path segments of [A-Za-z0-9._-] separated by "/", ` +
        `with no leading or trailing slash (got ${JSON.stringify(prefix)})`,
    );
  }
}

function checkArgs(args: ArtifactStoreArgs): void {
  checkPrefix(args.prefix);
  if (!KEY_SLOTS.includes(args.accessKeys.active)) {
    throw new Error(`ArtifactStore: accessKeys.active must be "blue" or "green"`);
  }
  for (const slot of KEY_SLOTS) {
    if (!Number.isInteger(args.accessKeys.rotations[slot])) {
      throw new Error(`ArtifactStore: accessKeys.rotations.${slot} must be an integer`);
    }
  }
  if (!Number.isInteger(args.noncurrentVersionExpirationDays) || args.noncurrentVersionExpirationDays < 1) {
    throw new Error("ArtifactStore: noncurrentVersionExpirationDays must be a positive integer");
  }
}

/** The identity policy of the artifacts user: list, read, write and delete under `prefix/` only. */
export function artifactUserPolicy(bucketArn: string, prefix: string): PolicyDocument {
  checkPrefix(prefix);
  return {
    Version: "2012-10-17",
    Statement: [
      {
        // list_objects_v2 with Prefix "prefix/..." (listing, and finding the keys to delete).
        // A missing s3:prefix fails StringLike, so listing the whole bucket is denied.
        Sid: "ListArtifactPrefix",
        Effect: "Allow",
        Action: "s3:ListBucket",
        Resource: bucketArn,
        Condition: { StringLike: { "s3:prefix": [`${prefix}/*`] } },
      },
      {
        Sid: "ReadWriteArtifactObjects",
        Effect: "Allow",
        Action: [...ARTIFACT_OBJECT_ACTIONS],
        Resource: `${bucketArn}/${prefix}/*`,
      },
    ],
  };
}

/** The bucket policy: every principal is refused over plain HTTP or TLS older than 1.2. */
export function tlsOnlyBucketPolicy(bucketArn: string): PolicyDocument {
  const everything = [bucketArn, `${bucketArn}/*`];
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "DenyInsecureTransport",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: everything,
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      },
      {
        Sid: "DenyTlsOlderThan12",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: everything,
        Condition: { NumericLessThan: { "s3:TlsVersion": "1.2" } },
      },
    ],
  };
}

export class ArtifactStore extends pulumi.ComponentResource implements ArtifactStorage {
  public readonly bucketName: pulumi.Output<string>;
  public readonly bucketArn: pulumi.Output<string>;
  public readonly region: pulumi.Output<string>;
  /** AWS S3: the SDK's own endpoint. */
  public readonly endpointUrl = undefined;
  /** s3://bucket/prefix: the server's --artifacts-destination. */
  public readonly artifactsDestination: pulumi.Output<string>;
  /** The IAM user and its keys: undefined without static keys (ECS). */
  public readonly userName: pulumi.Output<string> | undefined;
  public readonly userArn: pulumi.Output<string> | undefined;
  /** The ACTIVE slot's key id (secret). */
  public readonly accessKeyId: pulumi.Output<string> | undefined;
  /** The ACTIVE slot's secret access key (secret). */
  public readonly secretAccessKey: pulumi.Output<string> | undefined;
  /** Both slots' key ids (secrets), for auditing which key is which. */
  public readonly keySlots: Record<KeySlot, { accessKeyId: pulumi.Output<string> }> | undefined;

  constructor(name: string, args: ArtifactStoreArgs, opts?: pulumi.ComponentResourceOptions) {
    // Checked before registering anything, so bad args leave no half-built component behind.
    checkArgs(args);
    super("mlflow-kit:artifacts:ArtifactStore", name, {}, opts);

    const longLived = args.lifecycle === "long-lived";
    // Artifacts are the data: a long-lived bucket survives `pulumi destroy` and refuses deletion.
    // Decommissioning drops protect so that `pulumi destroy` can finish; retainOnDelete still
    // leaves the bucket and its data in the account.
    const keepData: pulumi.CustomResourceOptions = longLived ? { protect: !args.decommission, retainOnDelete: true } : {};
    // The bucket's guards stay with a retained bucket; they are per-bucket singletons, so this
    // also keeps a replacement's delete step from removing the configuration it just wrote.
    const keepGuards: pulumi.CustomResourceOptions = longLived ? { retainOnDelete: true } : {};

    const bucket = new aws.s3.Bucket(name, {
      bucket: args.bucketName,
      // Only ephemeral stacks are torn down whole; a long-lived bucket must be emptied by hand.
      forceDestroy: !longLived,
      tags: args.tags,
    }, { parent: this, ...keepData });

    const versioning = new aws.s3.BucketVersioning(`${name}-versioning`, {
      bucket: bucket.id,
      versioningConfiguration: { status: "Enabled" },
    }, { parent: this, ...keepData });

    // SSE-S3 (AES256): encrypted at rest with no key policy to manage, no per-request KMS cost
    // or throttling, and the IAM user needs no kms:* permission. A customer-managed KMS key
    // would add a key whose loss or deletion makes every artifact unreadable.
    new aws.s3.BucketServerSideEncryptionConfiguration(`${name}-sse`, {
      bucket: bucket.id,
      rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
    }, { parent: this, ...keepGuards });

    // ACLs off: every object belongs to the bucket owner, access is decided by policies alone.
    new aws.s3.BucketOwnershipControls(`${name}-ownership`, {
      bucket: bucket.id,
      rule: { objectOwnership: "BucketOwnerEnforced" },
    }, { parent: this, ...keepGuards });

    const publicAccessBlock = new aws.s3.BucketPublicAccessBlock(`${name}-public-access`, {
      bucket: bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    }, { parent: this, ...keepGuards });

    // After the public access block: S3 rejects concurrent changes to one bucket's settings.
    new aws.s3.BucketPolicy(`${name}-tls-only`, {
      bucket: bucket.id,
      policy: bucket.arn.apply((arn) => JSON.stringify(tlsOnlyBucketPolicy(arn))),
    }, { parent: this, dependsOn: [publicAccessBlock], ...keepGuards });

    // Noncurrent-version rules need versioning in place first.
    new aws.s3.BucketLifecycleConfiguration(`${name}-lifecycle`, {
      bucket: bucket.id,
      rules: [
        {
          // Deleted or overwritten artifacts stay recoverable for N days, then go for good.
          id: "expire-noncurrent-versions",
          status: "Enabled",
          filter: {},
          noncurrentVersionExpiration: { noncurrentDays: args.noncurrentVersionExpirationDays },
          // Drop the delete markers left once every older version has expired.
          expiration: { expiredObjectDeleteMarker: true },
        },
        {
          // Interrupted uploads leave invisible, billed parts behind.
          id: "abort-incomplete-multipart-uploads",
          status: "Enabled",
          filter: {},
          abortIncompleteMultipartUpload: { daysAfterInitiation: 3 },
        },
      ],
    }, { parent: this, dependsOn: [versioning], ...keepGuards });

    if (args.accessLogs) {
      // One prefix per bucket: <prefix>/<bucket>/ keeps several sources apart in the log bucket.
      new aws.s3.BucketLogging(`${name}-access-logs`, {
        bucket: bucket.id,
        targetBucket: args.accessLogs.bucketName,
        targetPrefix: pulumi.interpolate`${args.accessLogs.prefix}/${bucket.bucket}/`,
      }, { parent: this, ...keepGuards });
    }

    this.bucketName = bucket.bucket;
    this.bucketArn = bucket.arn;
    this.region = bucket.region;
    this.artifactsDestination = pulumi.interpolate`s3://${bucket.bucket}/${args.prefix}`;
    if (args.staticKeys === false) {
      this.registerOutputs({ bucketName: this.bucketName, bucketArn: this.bucketArn, region: this.region, artifactsDestination: this.artifactsDestination });
      return;
    }

    const user = new aws.iam.User(`${name}-user`, {
      name: args.userName,
      path: "/mlflow-kit/",
      tags: args.tags,
    }, { parent: this });

    // Inline: the policy lives and dies with the user and cannot be attached to anything else.
    new aws.iam.UserPolicy(`${name}-user-policy`, {
      name: "mlflow-artifacts",
      user: user.name,
      policy: bucket.arn.apply((arn) => JSON.stringify(artifactUserPolicy(arn, args.prefix))),
    }, { parent: this });

    const keys = {} as Record<KeySlot, aws.iam.AccessKey>;
    for (const slot of KEY_SLOTS) {
      keys[slot] = new aws.iam.AccessKey(`${name}-key-${slot}`, { user: user.name }, {
        parent: this,
        // Bumping a slot's number recreates its key; see the rotation procedure at the top.
        replacementTrigger: args.accessKeys.rotations[slot],
        // Two keys per user at most: the old key must go before its replacement can exist.
        deleteBeforeReplace: true,
      });
    }

    const active = keys[args.accessKeys.active];
    this.userName = user.name;
    this.userArn = user.arn;
    this.accessKeyId = pulumi.secret(active.id);
    this.secretAccessKey = pulumi.secret(active.secret);
    this.keySlots = {
      blue: { accessKeyId: pulumi.secret(keys.blue.id) },
      green: { accessKeyId: pulumi.secret(keys.green.id) },
    };

    this.registerOutputs({
      bucketName: this.bucketName,
      bucketArn: this.bucketArn,
      region: this.region,
      artifactsDestination: this.artifactsDestination,
      userName: this.userName,
      userArn: this.userArn,
      accessKeyId: this.accessKeyId,
      secretAccessKey: this.secretAccessKey,
      keySlots: this.keySlots,
    });
  }
}
