/**
 * S3: the artifact bucket is private, encrypted, versioned when long-lived, reachable over TLS
 * only, and grants nothing to everyone.
 */
import type { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { asArray, configOf, isType, label, parseJson, refersTo, stackLifecycle, T } from "./resources";

interface Statement {
  Sid?: string;
  Effect?: string;
  Principal?: unknown;
  Action?: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

const buckets = (rs: PolicyResource[]) => rs.filter((r) => isType(r, T.bucket, T.bucketV2));
/** The bucket's configuration resources of the given types (their `bucket` input names it). */
const partsOf = (rs: PolicyResource[], bucket: PolicyResource, ...types: string[]) =>
  rs.filter((r) => isType(r, ...types) && refersTo(r, "bucket", bucket, ["bucket", "id"]));

const statementsOf = (policy: unknown): Statement[] => asArray(parseJson<{ Statement?: Statement | Statement[] }>(policy)?.Statement);

/** Principal "*" or {AWS: "*"}: everyone, including anonymous callers. */
export function grantsToEveryone(s: Statement): boolean {
  const p = s.Principal as any;
  return p === "*" || (p && typeof p === "object" && asArray(p.AWS).includes("*"));
}

export const s3Policies: Array<ResourceValidationPolicy | StackValidationPolicy> = [
  {
    name: "s3-public-access-blocked",
    description: "Every bucket has a public access block with all four settings on.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      for (const bucket of buckets(args.resources)) {
        const blocks = partsOf(args.resources, bucket, T.publicAccessBlock);
        if (blocks.length === 0) {
          report(`${label(bucket)} has no aws.s3.BucketPublicAccessBlock: add one with blockPublicAcls, blockPublicPolicy, ignorePublicAcls and restrictPublicBuckets all true`, bucket.urn);
        }
        for (const b of blocks) {
          const off = ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"].filter((k) => b.props[k] !== true);
          if (off.length) report(`${label(b)} leaves ${off.join(", ")} off: set ${off.length > 1 ? "them" : "it"} to true so that no ACL or policy can make ${label(bucket)} public`, b.urn);
        }
      }
    },
  },
  {
    name: "s3-encrypted",
    description: "Every bucket has default server-side encryption (SSE-S3 or SSE-KMS).",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      const allowed = ["AES256", "aws:kms", "aws:kms:dsse"];
      for (const bucket of buckets(args.resources)) {
        const configs = partsOf(args.resources, bucket, T.sse, T.sseV2);
        if (configs.length === 0) {
          report(`${label(bucket)} has no aws.s3.BucketServerSideEncryptionConfiguration: add one with sseAlgorithm AES256 (or aws:kms)`, bucket.urn);
        }
        for (const c of configs) {
          const algorithms = asArray(c.props.rules).map((r: any) => r?.applyServerSideEncryptionByDefault?.sseAlgorithm);
          if (algorithms.length === 0 || algorithms.some((a) => !allowed.includes(a))) {
            report(`${label(c)} sets sseAlgorithm ${JSON.stringify(algorithms)}: every rule needs applyServerSideEncryptionByDefault.sseAlgorithm AES256, aws:kms or aws:kms:dsse`, c.urn);
          }
        }
      }
    },
  },
  {
    name: "s3-versioned-when-long-lived",
    description: "A long-lived stack's buckets keep versions, so a deleted or overwritten artifact can be recovered.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      if (stackLifecycle(args.resources) !== "long-lived") return;
      for (const bucket of buckets(args.resources)) {
        const status = partsOf(args.resources, bucket, T.versioning, T.versioningV2).map((v) => v.props.versioningConfiguration?.status);
        if (!status.includes("Enabled")) {
          report(`${label(bucket)} belongs to a long-lived stack but its versioning is ${status.length ? status.join(", ") : "not configured"}: add an aws.s3.BucketVersioning with versioningConfiguration.status "Enabled"`, bucket.urn);
        }
      }
    },
  },
  {
    name: "s3-noncurrent-versions-kept",
    description: "A long-lived stack keeps noncurrent artifact versions for at least minNoncurrentVersionDays.",
    enforcementLevel: "advisory",
    configSchema: { properties: { minNoncurrentVersionDays: { type: "integer", minimum: 1, default: 30 } } },
    validateStack: (args, report) => {
      if (stackLifecycle(args.resources) !== "long-lived") return;
      const { minNoncurrentVersionDays } = configOf(args, { minNoncurrentVersionDays: 30 });
      for (const lc of args.resources.filter((r) => isType(r, T.lifecycle, T.lifecycleV2))) {
        for (const rule of asArray(lc.props.rules) as any[]) {
          const days = rule?.noncurrentVersionExpiration?.noncurrentDays;
          if (rule?.status === "Enabled" && typeof days === "number" && days < minNoncurrentVersionDays) {
            report(`${label(lc)} rule "${rule.id}" deletes noncurrent versions after ${days} days, below ${minNoncurrentVersionDays}: a deleted artifact is gone for good after that. Raise mlflow-kit:artifacts.noncurrentVersionDays to ${minNoncurrentVersionDays} or more`, lc.urn);
          }
        }
      }
    },
  },
  {
    name: "s3-tls-only",
    description: "Every bucket's policy denies requests that do not use TLS, on the bucket and its objects.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      for (const bucket of buckets(args.resources)) {
        const statements = partsOf(args.resources, bucket, T.bucketPolicy).flatMap((p) => statementsOf(p.props.policy));
        const denies = statements.filter((s) =>
          s.Effect === "Deny" && grantsToEveryone(s) && asArray(s.Action).some((a) => a === "s3:*" || a === "*") &&
          String((s.Condition?.Bool as any)?.["aws:SecureTransport"]) === "false");
        const resources = denies.flatMap((s) => asArray(s.Resource));
        const coversBucket = resources.some((r) => !r.endsWith("/*") && !r.includes("*"));
        const coversObjects = resources.some((r) => r.endsWith("/*"));
        if (!denies.length || !coversBucket || !coversObjects) {
          report(`${label(bucket)} has no bucket policy statement that denies s3:* to "*" when aws:SecureTransport is "false" on both the bucket ARN and ARN/*: add it (see tlsOnlyBucketPolicy in infra/artifacts/s3.ts)`, bucket.urn);
        }
      }
    },
  },
  {
    name: "s3-no-public-grant",
    description: "No bucket policy allows anything to the principal \"*\".",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      if (!isType(args, T.bucketPolicy, T.bucket, T.bucketV2) || args.props.policy === undefined) return;
      for (const s of statementsOf(args.props.policy)) {
        if (s.Effect === "Allow" && grantsToEveryone(s)) {
          report(`statement ${s.Sid ? `"${s.Sid}" ` : ""}allows ${JSON.stringify(s.Action)} to the principal "*": grant to named IAM principals only (the artifact user's own identity policy needs no bucket grant)`);
        }
      }
    },
  },
];
