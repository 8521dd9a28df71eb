/**
 * S3: the artifact bucket is private, encrypted, versioned when long-lived, reachable over TLS
 * only, and grants nothing to everyone.
 */
import type { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { asArray, configOf, fsbp, isType, label, parseJson, refersTo, stackLifecycle, T } from "./resources";

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
          report(fsbp("S3.8", `${label(bucket)} has no aws.s3.BucketPublicAccessBlock: add one with blockPublicAcls, blockPublicPolicy, ignorePublicAcls and restrictPublicBuckets all true`), bucket.urn);
        }
        for (const b of blocks) {
          const off = ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"].filter((k) => b.props[k] !== true);
          if (off.length) report(fsbp("S3.8", `${label(b)} leaves ${off.join(", ")} off: set ${off.length > 1 ? "them" : "it"} to true so that no ACL or policy can make ${label(bucket)} public`), b.urn);
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
          report(fsbp("S3.5", `${label(bucket)} has no bucket policy statement that denies s3:* to "*" when aws:SecureTransport is "false" on both the bucket ARN and ARN/*: add it (see tlsOnlyBucketPolicy in infra/artifacts/s3.ts)`), bucket.urn);
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
  {
    name: "s3-no-cross-account-admin",
    description: "No bucket policy lets another account's principals administer the bucket: delete or put its policy, put ACLs, change its encryption (FSBP S3.6).",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      if (!isType(args, T.bucketPolicy) || args.props.policy === undefined) return;
      for (const s of statementsOf(args.props.policy)) {
        const principals = asArray((s.Principal as any)?.AWS ?? (s.Principal === "*" ? "*" : undefined)) as string[];
        if (s.Effect !== "Allow" || principals.length === 0) continue;
        const risky = asArray(s.Action).filter((a) => a === "*" || a === "s3:*" || ADMIN_ACTIONS.some((x) => x.toLowerCase() === a.toLowerCase()));
        if (risky.length) {
          report(fsbp("S3.6", `statement ${s.Sid ? `"${s.Sid}" ` : ""}allows ${risky.join(", ")} to ${principals.join(", ")}: another account could rewrite the bucket's policy, ACLs or encryption. Grant object actions (s3:PutObject) only, as the log-delivery grants do`));
        }
      }
    },
  },
  {
    name: "s3-lifecycle-configured",
    description: "Every bucket has an enabled lifecycle rule, so old versions, logs and abandoned uploads expire (FSBP S3.10, S3.13).",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      for (const bucket of buckets(args.resources)) {
        const rules = partsOf(args.resources, bucket, T.lifecycle, T.lifecycleV2).flatMap((l) => asArray(l.props.rules) as any[]);
        if (!rules.some((r) => r?.status === "Enabled")) {
          report(fsbp("S3.10, S3.13", `${label(bucket)} has no enabled lifecycle rule: noncurrent versions and incomplete uploads are kept and billed forever. Add an aws.s3.BucketLifecycleConfiguration (see ArtifactStore and LogBucket)`), bucket.urn);
        }
      }
    },
  },
  {
    name: "s3-acls-disabled",
    description: "Every bucket has object ownership BucketOwnerEnforced (ACLs off) and no ACL is set (FSBP S3.12).",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      for (const bucket of buckets(args.resources)) {
        const enforced = partsOf(args.resources, bucket, T.ownershipControls).some((o) => o.props.rule?.objectOwnership === "BucketOwnerEnforced");
        const acls = partsOf(args.resources, bucket, T.bucketAcl, T.bucketAclV2);
        if (!enforced) report(fsbp("S3.12", `${label(bucket)} has no aws.s3.BucketOwnershipControls with objectOwnership BucketOwnerEnforced: ACLs can grant access past the bucket policy. Add it`), bucket.urn);
        for (const a of acls) report(fsbp("S3.12", `${label(a)} sets an ACL on ${label(bucket)}: manage access with the bucket policy and IAM only. Remove it`), a.urn);
        if (bucket.props.acl !== undefined) report(fsbp("S3.12", `${label(bucket)} sets acl ${JSON.stringify(bucket.props.acl)}: remove it; access is decided by policies`), bucket.urn);
      }
    },
  },
  {
    name: "s3-access-logged-when-long-lived",
    description: "A long-lived stack's buckets log their requests to the stack's log bucket; the log bucket itself is the exception (FSBP S3.9).",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      if (stackLifecycle(args.resources) !== "long-lived") return;
      const logging = args.resources.filter((r) => isType(r, T.bucketLogging, T.bucketLoggingV2));
      // The log bucket: where server access logs, ELB access logs or flow logs are delivered.
      const isLogTarget = (b: PolicyResource) =>
        logging.some((l) => refersTo(l, "targetBucket", b, ["bucket", "id"])) ||
        args.resources.some((r) => isType(r, T.loadBalancer, T.albLoadBalancer) && r.props.accessLogs?.bucket !== undefined && (refersTo(r, "accessLogs", b, ["bucket"]) || r.props.accessLogs.bucket === b.props.bucket)) ||
        args.resources.some((r) => isType(r, T.flowLog) && typeof r.props.logDestination === "string" && r.props.logDestination.startsWith(`arn:aws:s3:::${b.props.bucket}/`));
      for (const bucket of buckets(args.resources)) {
        if (isLogTarget(bucket)) continue;
        if (!logging.some((l) => refersTo(l, "bucket", bucket, ["bucket", "id"]))) {
          report(fsbp("S3.9", `${label(bucket)} belongs to a long-lived stack but logs no requests: who read or deleted an artifact cannot be told afterwards. Keep mlflow-kit:logging.accessLogs on (an aws.s3.BucketLogging to the log bucket)`), bucket.urn);
        }
      }
    },
  },
];

/** What another account must never be allowed on a bucket (FSBP S3.6's blacklistedActionPatterns). */
const ADMIN_ACTIONS = ["s3:DeleteBucketPolicy", "s3:PutBucketAcl", "s3:PutBucketPolicy", "s3:PutEncryptionConfiguration", "s3:PutObjectAcl"];
