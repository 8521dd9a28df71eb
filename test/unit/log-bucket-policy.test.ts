/**
 * The log bucket's policy as the LogBucket component deploys it (read back from the recorded
 * inputs), fed to an IAM policy simulator with the requests each AWS log-delivery service
 * makes (S3 server access logs, ELB access logs, VPC flow logs), and with what nobody else may do.
 */
import { runSimulation } from "@cloud-copilot/iam-simulate";
import { beforeAll, describe, expect, it } from "vitest";
import type { PolicyDocument } from "../../infra/artifacts/s3";
import { LogBucket } from "../../infra/logging/log-bucket";
import { evaluateStack } from "../../stacks/offline";

const ACCOUNT = "123456789012"; // the offline mocks' account
const BUCKET = "mlflow-kit-sim-logs-123456789012";
const ARN = `arn:aws:s3:::${BUCKET}`;
const ARTIFACTS = "arn:aws:s3:::mlflow-kit-sim-art-123456789012";
const TLS = { "aws:SecureTransport": "true", "s3:TlsVersion": "1.3" };

let policy: PolicyDocument;
let resources: Array<{ type: string; inputs: Record<string, any>; options: Record<string, any> }>;

beforeAll(async () => {
  const ev = await evaluateStack({
    project: "mlflow-kit", stack: "sim", config: { "aws:region": "eu-west-1" }, secretKeys: [],
    program: () => {
      new LogBucket("logs", { bucketName: BUCKET, region: "eu-west-1", lifecycle: "long-lived", retentionDays: 90, sourceBucketArns: [ARTIFACTS], tags: {} });
      return {};
    },
  });
  resources = ev.resources as any;
  policy = JSON.parse(ev.resources.find((r) => r.type === "aws:s3/bucketPolicy:BucketPolicy")!.inputs.policy as string);
});

async function decide(principal: string, action: string, resource: string, context: Record<string, string> = {}, foreign = false) {
  const response = await runSimulation({
    request: { principal, action, resource: { resource, accountId: ACCOUNT }, contextVariables: { ...TLS, ...context } },
    // Another account's principal also needs its own account's allow; give it one, so that the
    // verdict is this bucket policy's.
    identityPolicies: foreign ? [{ name: "own-side", policy: { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: action, Resource: "*" }] } }] : [],
    serviceControlPolicies: [], resourceControlPolicies: [], resourcePolicy: policy,
  }, {});
  if (response.resultType !== "single") throw new Error(`simulation did not run: ${JSON.stringify(response)}`);
  expect(response.result.ignoredContextKeys ?? [], `${action} ignored context keys`).toEqual([]);
  return response.overallResult;
}

const S3_LOGS = "logging.s3.amazonaws.com";
const ELB = "logdelivery.elasticloadbalancing.amazonaws.com";
const ELB_EU_WEST_1 = "arn:aws:iam::156460612806:root";
const FLOW_LOGS = "delivery.logs.amazonaws.com";

describe("log bucket policy: each delivery service writes its own prefix, nothing else", () => {
  it("S3 writes the artifact bucket's server access logs under s3-access/", async () => {
    expect(await decide(S3_LOGS, "s3:PutObject", `${ARN}/s3-access/mlflow-kit-sim-art-123456789012/2026-12-04-10-00-00-ABC`, { "aws:SourceArn": ARTIFACTS, "aws:SourceAccount": ACCOUNT })).toBe("Allowed");
    // For another bucket (a confused deputy), or another prefix: no.
    expect(await decide(S3_LOGS, "s3:PutObject", `${ARN}/s3-access/x/log`, { "aws:SourceArn": "arn:aws:s3:::someone-elses-bucket", "aws:SourceAccount": "999999999999" })).not.toBe("Allowed");
    expect(await decide(S3_LOGS, "s3:PutObject", `${ARN}/load-balancer/AWSLogs/${ACCOUNT}/x`, { "aws:SourceArn": ARTIFACTS, "aws:SourceAccount": ACCOUNT })).not.toBe("Allowed");
  });

  it("ELB writes access logs under load-balancer/AWSLogs/<account>/, as its service principal or eu-west-1's ELB account", async () => {
    const key = `${ARN}/load-balancer/AWSLogs/${ACCOUNT}/elasticloadbalancing/eu-west-1/2026/12/04/log.gz`;
    expect(await decide(ELB, "s3:PutObject", key)).toBe("Allowed");
    expect(await decide(ELB_EU_WEST_1, "s3:PutObject", key, {}, true)).toBe("Allowed");
    expect(await decide(ELB_EU_WEST_1, "s3:PutObject", `${ARN}/load-balancer/AWSLogs/999999999999/x`, {}, true)).not.toBe("Allowed");
    expect(await decide(ELB_EU_WEST_1, "s3:GetObject", key, {}, true)).not.toBe("Allowed");
  });

  it("VPC flow logs are written with bucket-owner-full-control, after the ACL check", async () => {
    const key = `${ARN}/vpc-flow-logs/AWSLogs/${ACCOUNT}/vpcflowlogs/eu-west-1/2026/12/04/x.log.gz`;
    expect(await decide(FLOW_LOGS, "s3:PutObject", key, { "s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceAccount": ACCOUNT })).toBe("Allowed");
    expect(await decide(FLOW_LOGS, "s3:PutObject", key, { "s3:x-amz-acl": "public-read", "aws:SourceAccount": ACCOUNT })).not.toBe("Allowed");
    expect(await decide(FLOW_LOGS, "s3:GetBucketAcl", ARN, { "aws:SourceAccount": ACCOUNT })).toBe("Allowed");
  });

  it("nobody reads or deletes through the bucket policy, and plain HTTP is refused even to the services", async () => {
    const key = `${ARN}/load-balancer/AWSLogs/${ACCOUNT}/x`;
    expect(await decide("arn:aws:iam::999999999999:root", "s3:GetObject", key, {}, true)).not.toBe("Allowed");
    expect(await decide("arn:aws:iam::999999999999:root", "s3:PutBucketPolicy", ARN, {}, true)).not.toBe("Allowed");
    expect(await decide(ELB, "s3:PutObject", key, { "aws:SecureTransport": "false" })).toBe("ExplicitlyDenied");
  });
});

describe("log bucket: guarded like the artifact bucket", () => {
  it("versioned, SSE-S3 (ELB refuses SSE-KMS buckets), ACLs off, public access blocked, logs expire", () => {
    const of = (t: string) => resources.find((r) => r.type === `aws:s3/${t}`)!.inputs;
    expect(of("bucketVersioning:BucketVersioning").versioningConfiguration).toEqual({ status: "Enabled" });
    expect(of("bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").rules[0].applyServerSideEncryptionByDefault.sseAlgorithm).toBe("AES256");
    expect(of("bucketOwnershipControls:BucketOwnershipControls").rule.objectOwnership).toBe("BucketOwnerEnforced");
    expect(of("bucketPublicAccessBlock:BucketPublicAccessBlock")).toMatchObject({ blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true });
    expect(of("bucketLifecycleConfiguration:BucketLifecycleConfiguration").rules[0]).toMatchObject({ status: "Enabled", expiration: { days: 90 } });
    const bucket = resources.find((r) => r.type === "aws:s3/bucket:Bucket")!;
    expect(bucket.inputs.forceDestroy).toBe(false);
    expect(bucket.options).toMatchObject({ protect: true, retainOnDelete: true });
  });

  it("refuses a retention that is not a positive number of days before creating anything", () => {
    expect(() => new LogBucket("bad", { bucketName: BUCKET, region: "eu-west-1", lifecycle: "long-lived", retentionDays: 0, sourceBucketArns: [], tags: {} })).toThrow(/retentionDays must be a positive integer/);
  });
});
