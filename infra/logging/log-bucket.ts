/**
 * LogBucket: where AWS delivers the stack's access and network logs (Security Hub FSBP S3.9,
 * ELB.5, EC2.6): the artifact bucket's server access logs, the load balancer's access logs and
 * the VPC's flow logs, each under its own prefix, expired after `retentionDays`.
 *
 * The bucket holds to the rules every bucket of the kit holds to (policies/s3.ts): public
 * access blocked, SSE-S3 (the only encryption ELB access logs accept), ACLs off, TLS only,
 * versioned, a lifecycle. It does not log its own access: that would write a log object for
 * every log object written (S3.9 is a deliberate exception for this bucket, policies/README.md).
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { tlsOnlyBucketPolicy, type PolicyDocument, type PolicyStatement } from "../artifacts/s3";

/** The prefixes each log source writes under. */
export const LOG_PREFIXES = { s3: "s3-access", loadBalancer: "load-balancer", flowLogs: "vpc-flow-logs" } as const;

/**
 * Elastic Load Balancing's log-delivery account per Region, for Regions opened before August
 * 2022 (AWS, "Enable access logs for your Application Load Balancer", step "Attach a policy to
 * your bucket"; the same table as the Terraform provider's aws_elb_service_account). Newer
 * Regions deliver as the service principal logdelivery.elasticloadbalancing.amazonaws.com,
 * which the policy grants in every Region.
 */
export const ELB_LOG_ACCOUNTS: Record<string, string> = {
  "us-east-1": "127311923021", "us-east-2": "033677994240", "us-west-1": "027434742980", "us-west-2": "797873946194",
  "af-south-1": "098369216593", "ca-central-1": "985666609251", "eu-central-1": "054676820928", "eu-west-1": "156460612806",
  "eu-west-2": "652711504416", "eu-south-1": "635631232127", "eu-west-3": "009996457667", "eu-north-1": "897822967062",
  "ap-east-1": "754344448648", "ap-northeast-1": "582318560864", "ap-northeast-2": "600734575887", "ap-northeast-3": "383597477331",
  "ap-southeast-1": "114774131450", "ap-southeast-2": "783225319266", "ap-southeast-3": "589379963580", "ap-south-1": "718504428378",
  "me-south-1": "076674570225", "sa-east-1": "507241528517",
};

export interface LogBucketArgs {
  /** Physical name: `<prefix>-logs-<account>` (logBucketName). */
  bucketName: pulumi.Input<string>;
  region: string;
  lifecycle: "long-lived" | "ephemeral";
  decommission?: boolean;
  /** Log objects are deleted this many days after delivery. */
  retentionDays: number;
  /** Buckets whose server access logs land here (aws:SourceArn of S3's log delivery). */
  sourceBucketArns: pulumi.Input<string>[];
  tags: Record<string, string>;
}

export function logBucketName(namePrefix: string, accountId: string): string {
  if (!/^\d{12}$/.test(accountId)) throw new Error(`logBucketName: "${accountId}" is not a 12-digit AWS account id`);
  return `${namePrefix}-logs-${accountId}`;
}

/**
 * The log bucket's policy: TLS only (as every bucket), and exactly the three delivery services
 * writing under their own prefix of this account's logs. Sources: S3 "Permissions for log
 * delivery" (logging.s3.amazonaws.com, aws:SourceArn/aws:SourceAccount), ELB "Enable access
 * logs" (the Region's ELB account or logdelivery.elasticloadbalancing.amazonaws.com on
 * <prefix>/AWSLogs/<account>/*), VPC "Publish flow logs to Amazon S3" (delivery.logs.amazonaws.com
 * with bucket-owner-full-control, and GetBucketAcl/ListBucket on the bucket).
 */
export function logBucketPolicy(bucketArn: string, accountId: string, region: string, sourceBucketArns: string[]): PolicyDocument {
  const tls = tlsOnlyBucketPolicy(bucketArn).Statement;
  const account = { "aws:SourceAccount": accountId };
  const elbAccount = ELB_LOG_ACCOUNTS[region];
  const statements: PolicyStatement[] = [
    ...tls,
    ...(sourceBucketArns.length ? [{
      Sid: "S3ServerAccessLogs", Effect: "Allow" as const, Principal: { Service: "logging.s3.amazonaws.com" },
      Action: "s3:PutObject", Resource: `${bucketArn}/${LOG_PREFIXES.s3}/*`,
      Condition: { ArnLike: { "aws:SourceArn": sourceBucketArns }, StringEquals: account },
    }] : []),
    {
      Sid: "LoadBalancerAccessLogs", Effect: "Allow", Principal: { Service: "logdelivery.elasticloadbalancing.amazonaws.com" },
      Action: "s3:PutObject", Resource: `${bucketArn}/${LOG_PREFIXES.loadBalancer}/AWSLogs/${accountId}/*`,
    },
    ...(elbAccount ? [{
      Sid: "LoadBalancerAccessLogsRegionAccount", Effect: "Allow" as const, Principal: { AWS: `arn:aws:iam::${elbAccount}:root` },
      Action: "s3:PutObject", Resource: `${bucketArn}/${LOG_PREFIXES.loadBalancer}/AWSLogs/${accountId}/*`,
    }] : []),
    {
      Sid: "FlowLogsWrite", Effect: "Allow", Principal: { Service: "delivery.logs.amazonaws.com" },
      Action: "s3:PutObject", Resource: `${bucketArn}/${LOG_PREFIXES.flowLogs}/AWSLogs/${accountId}/*`,
      Condition: { StringEquals: { "s3:x-amz-acl": "bucket-owner-full-control", ...account } },
    },
    {
      Sid: "FlowLogsAclCheck", Effect: "Allow", Principal: { Service: "delivery.logs.amazonaws.com" },
      Action: ["s3:GetBucketAcl", "s3:ListBucket"], Resource: bucketArn,
      Condition: { StringEquals: account },
    },
  ];
  return { Version: "2012-10-17", Statement: statements };
}

export class LogBucket extends pulumi.ComponentResource {
  readonly bucketName: pulumi.Output<string>;
  readonly bucketArn: pulumi.Output<string>;
  /** The bucket's name once its policy is in place: log sources take this, so AWS can write when they start. */
  readonly readyBucketName: pulumi.Output<string>;

  constructor(name: string, args: LogBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    if (!Number.isInteger(args.retentionDays) || args.retentionDays < 1) throw new Error("LogBucket: retentionDays must be a positive integer");
    super("mlflow-kit:logging:LogBucket", name, {}, opts);
    const longLived = args.lifecycle === "long-lived";
    // Logs are evidence: a long-lived stack keeps them past `pulumi destroy`, like its data.
    const keep: pulumi.CustomResourceOptions = longLived ? { protect: !args.decommission, retainOnDelete: true } : {};
    const keepGuards: pulumi.CustomResourceOptions = longLived ? { retainOnDelete: true } : {};

    const bucket = new aws.s3.Bucket(name, { bucket: args.bucketName, forceDestroy: !longLived, tags: args.tags }, { parent: this, ...keep });
    const versioning = new aws.s3.BucketVersioning(`${name}-versioning`, { bucket: bucket.id, versioningConfiguration: { status: "Enabled" } }, { parent: this, ...keep });
    // SSE-S3: ELB access logs are refused by a bucket with SSE-KMS default encryption.
    new aws.s3.BucketServerSideEncryptionConfiguration(`${name}-sse`, { bucket: bucket.id, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }] }, { parent: this, ...keepGuards });
    new aws.s3.BucketOwnershipControls(`${name}-ownership`, { bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } }, { parent: this, ...keepGuards });
    const publicAccessBlock = new aws.s3.BucketPublicAccessBlock(`${name}-public-access`, {
      bucket: bucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true,
    }, { parent: this, ...keepGuards });
    const account = aws.getCallerIdentityOutput({}, { parent: this }).accountId;
    const policy = new aws.s3.BucketPolicy(`${name}-policy`, {
      bucket: bucket.id,
      policy: pulumi.all([bucket.arn, account, pulumi.all(args.sourceBucketArns)]).apply(([arn, acct, sources]) => JSON.stringify(logBucketPolicy(arn, acct, args.region, sources))),
    }, { parent: this, dependsOn: [publicAccessBlock], ...keepGuards });
    new aws.s3.BucketLifecycleConfiguration(`${name}-lifecycle`, {
      bucket: bucket.id,
      rules: [{
        id: "expire-logs",
        status: "Enabled",
        filter: {},
        expiration: { days: args.retentionDays },
        // Logs are never overwritten; a noncurrent version is a deleted log, kept 30 days like a deleted artifact.
        noncurrentVersionExpiration: { noncurrentDays: 30 },
      }, {
        id: "abort-incomplete-multipart-uploads", status: "Enabled", filter: {}, abortIncompleteMultipartUpload: { daysAfterInitiation: 3 },
      }],
    }, { parent: this, dependsOn: [versioning], ...keepGuards });

    this.bucketName = bucket.bucket;
    this.bucketArn = bucket.arn;
    this.readyBucketName = pulumi.all([bucket.bucket, policy.id]).apply(([b]) => b);
    this.registerOutputs({ bucketName: this.bucketName });
  }
}
