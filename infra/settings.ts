/**
 * The stack config, validated once into typed Settings. The only module that reads config.
 *
 * Every problem is collected and reported at once, before any resource exists, as
 * "<key>: <what is wrong>. <the fix>". Values of secret keys never appear in a message.
 */
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { POSTGRES_MAJORS, storageCeilingProblem, subnetCidrs, VPC_PREFIX } from "./database/rds-rules";
import { DIGEST_PINNED, MINIO_IMAGE, POSTGRES_IMAGE } from "./docker/pinned-images";
import { GRAFANA_IMAGE, PROMETHEUS_IMAGE } from "./monitoring/images";
import { type EffectContext, RULES } from "./settings-effect";

export const PROJECT = "mlflow-kit";

// ---------------------------------------------------------------------------------------------
// Building blocks

const dnsLabel = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** A public DNS name: at least two labels, no IP address, no localhost, no trailing dot. */
const domainName = z
  .string()
  .refine((s) => s.length <= 253 && s.split(".").length >= 2 && s.split(".").every((l) => dnsLabel.test(l)) && !/^[0-9.]+$/.test(s), {
    message: "must be a fully qualified lower-case domain name such as mlflow.example.com (letters, digits and hyphens, at least two labels, no scheme, port or path)",
  })
  .refine((s) => !/(^|\.)localhost$/.test(s), { message: "must be a public domain, not localhost" });

/**
 * A browser origin exactly as a browser sends it in its Origin header (MLflow compares the
 * header with the allowed origins as strings): lower-case scheme://host[:port], no path, no
 * trailing slash, no wildcard. Mirrors MLFLOW_CORS_ALLOWED_ORIGINS's pattern in contract.json.
 */
const browserOrigin = z.string().refine((s) => /^https?:\/\/[a-z0-9.-]+(:[0-9]{1,5})?$/.test(s) && URL.canParse(s) && new URL(s).origin === s, {
  message: "must be an origin exactly as a browser sends it: http(s)://host[:port] in lower case, without a path, trailing slash or wildcard (e.g. https://app.example.com)",
});

const awsRegion = z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, { message: "must be an AWS region such as us-east-1" });
// /24 at most: the database's private subnets are each a sixteenth of the block (a /24 gives
// /28s, the smallest subnet AWS allows); see subnetCidrs in infra/database/rds-rules.ts.
const cidr = z.string().regex(/^(\d{1,3}\.){3}\d{1,3}\/(1[6-9]|2[0-4])$/, { message: `must be an IPv4 CIDR block from /${VPC_PREFIX.min} to /${VPC_PREFIX.max}, such as 10.40.0.0/16 (each private subnet is a sixteenth of it, and AWS subnets are /28 or larger)` });
const rotation = z.number().int().min(0);
/** Tag keys every taggable resource carries; policies/ reads the same keys. */
export const TAG_KEYS = { project: "mlflow-kit:project", stack: "mlflow-kit:stack", lifecycle: "mlflow-kit:lifecycle", expiresAt: "mlflow-kit:expires-at" } as const;
export const DEFAULT_TTL_HOURS = 168;
const lifecycle = z.enum(["long-lived", "ephemeral"]).describe("long-lived: data protected and retained (prod). ephemeral: torn down whole (review, demo)");
export type Lifecycle = z.infer<typeof lifecycle>;

// ---------------------------------------------------------------------------------------------
// database: discriminated by kind

const rdsDatabase = z.strictObject({
  kind: z.literal("rds"),
  instanceClass: z.string().regex(/^db\.[a-z0-9]+\.[a-z0-9]+$/, { message: "must be an RDS instance class such as db.t4g.micro" }).default("db.t4g.micro").describe("RDS instance class"),
  // A major only: RDS applies minor versions itself (autoMinorVersionUpgrade), and a pinned
  // minor would make the next plan ask RDS for a downgrade it refuses.
  engineVersion: z.string().regex(/^1[4-8]$/, { message: `must be a PostgreSQL major version from ${POSTGRES_MAJORS[0]} to ${POSTGRES_MAJORS[POSTGRES_MAJORS.length - 1]} without a minor, such as "16": RDS applies minor versions itself (autoMinorVersionUpgrade). Drop the ".minor"` }).default("16").describe("PostgreSQL major version (no minor: RDS applies minor versions itself)"),
  allocatedStorageGb: z.number().int().min(20).max(65536).default(20).describe("Initial storage in GiB (gp3)"),
  maxAllocatedStorageGb: z.number().int().min(20).max(65536).default(100).describe("Storage autoscaling ceiling in GiB: at least 10% above allocatedStorageGb, or equal to it to turn autoscaling off"),
  multiAz: z.boolean().default(false).describe("Keep a synchronous standby in a second availability zone"),
  backupRetentionDays: z.number().int().min(1, { message: "must be at least 1: automated backups stay on" }).max(35).default(7).describe("Days of automated backups (point-in-time recovery); 7 or more when long-lived"),
  /** Create a VPC with this block, or use an existing one (vpcId + privateSubnetIds). */
  cidrBlock: cidr.default("10.40.0.0/16").describe("CIDR block of the VPC created for the database (ignored with vpcId)"),
  availabilityZones: z.number().int().min(2).max(3).default(2).describe("Availability zones (private subnets) of the created VPC"),
  vpcId: z.string().regex(/^vpc-[0-9a-f]{8,17}$/, { message: "must be a VPC id such as vpc-0abc12345def67890" }).optional().describe("Use this existing VPC instead of creating one"),
  privateSubnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, { message: "must be subnet ids such as subnet-0abc1234" })).optional().describe("Private subnets of vpcId for the DB subnet group, at least two AZs"),
  /** lambda: a function inside the VPC creates role and databases during `pulumi up`. direct: the runner reaches the instance. */
  bootstrap: z.enum(["lambda", "direct"]).default("lambda").describe("How the role and databases are created: lambda (a function inside the VPC, during pulumi up) or direct (the runner reaches the instance)"),
  applyImmediately: z.boolean().optional().describe("Apply instance changes now rather than in the maintenance window; default: true when ephemeral, false when long-lived (set it for a major version upgrade)"),
  clientSecurityGroupIds: z.array(z.string().regex(/^sg-[0-9a-f]{8,17}$/, { message: "must be security group ids such as sg-0abc1234" })).default([]).describe("Further security groups admitted on 5432: the runner's with bootstrap: direct, a bastion's"),
  // Read when the instance is created only (README "Backup and restore"): a snapshot, or a
  // point in time of another instance's automated backups.
  restoreFrom: z.strictObject({
    snapshotIdentifier: z.string().regex(/^(arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:snapshot:)?[a-zA-Z][a-zA-Z0-9:-]{0,254}$/, { message: "must be an RDS snapshot identifier or ARN, such as mlflow-kit-prod-db-backup-20261204t1200z (npm run backup prints it)" }).optional().describe("Create the instance from this DB snapshot"),
    sourceInstance: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, { message: "must be an RDS instance identifier such as mlflow-kit-prod-db" }).optional().describe("Create the instance from this instance's automated backups at `time` (or the latest restorable time)"),
    time: z.iso.datetime({ offset: true, message: "must be an ISO 8601 date-time such as 2026-12-01T12:00:00Z" }).optional().describe("With sourceInstance: the point in time to restore (within its backupRetentionDays)"),
    latest: z.boolean().optional().describe("With sourceInstance: restore to the latest restorable time"),
  }).optional().describe("Create the instance from a backup: a snapshot (snapshotIdentifier) or a point in time of another instance (sourceInstance with time or latest). Read when the instance is created only"),
});

const neonDatabase = z.strictObject({
  kind: z.literal("neon"),
  /** An existing Neon project; omitted: one is created. */
  projectId: z.string().regex(/^[a-z0-9-]{1,60}$/, { message: "must be a Neon project id such as shiny-wind-028834 (Neon console: Settings > General)" }).optional().describe("An existing Neon project; created when unset"),
  region: z.string().regex(/^aws-[a-z]{2}-[a-z]+-\d$|^azure-[a-z0-9]+$/, { message: "must be a Neon region id such as aws-us-east-2" }).default("aws-us-east-2").describe("Neon region id"),
  /** Copy-on-write branch of the project's default branch; named after the stack when unset. */
  branch: z.string().min(1).max(256).optional().describe("Name of this stack's copy-on-write branch of the project's default branch (default: <project>-<stack>)"),
  /** Neon needs an organization for every created project; unset: the one the API key belongs to. */
  orgId: z.string().regex(/^org-[a-z0-9-]+$/, { message: "must be a Neon organization id such as org-morning-bread-81040908" }).optional().describe("Neon organization of a created project; unset: the only organization the API key belongs to (required when it belongs to several)"),
  // Neon's point in time: a branch of another branch as it was then (parent_timestamp /
  // parent_lsn of the branch create call). Read when the branch is created only.
  restoreFrom: z.strictObject({
    branchId: z.string().regex(/^br-[a-z0-9-]{1,57}$/, { message: "must be a Neon branch id such as br-wispy-meadow-12345678 (npm run backup prints it)" }).describe("The branch to restore from (the source stack's)"),
    timestamp: z.iso.datetime({ offset: true, message: "must be an ISO 8601 date-time such as 2026-12-01T12:00:00Z" }).optional().describe("Its state at this time (within the project's history window)"),
    lsn: z.string().regex(/^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/, { message: "must be a PostgreSQL LSN such as 0/1F4A3B8" }).optional().describe("Its state at this LSN, instead of a timestamp"),
  }).optional().describe("Create this stack's branch from another branch as it was at a timestamp or LSN (needs projectId: the source's project). Read when the branch is created only"),
});

const pinnedImage = (fallback: string, what: string) => z.string()
  .regex(DIGEST_PINNED, { message: `must be an image pinned by digest, such as ${fallback.replace(/@.*/, "")}@sha256:<64 hex>: a tag can move under a running stack` })
  .default(fallback).describe(`${what} image, pinned by digest`);

/** PostgreSQL in a container on the machine running `pulumi up` (target.kind local only). */
const localDatabase = z.strictObject({
  kind: z.literal("local"),
  image: pinnedImage(POSTGRES_IMAGE, "PostgreSQL"),
});

const database = z.discriminatedUnion("kind", [rdsDatabase, neonDatabase, localDatabase]);

// ---------------------------------------------------------------------------------------------
// target: discriminated by kind

const renderTarget = z.strictObject({
  kind: z.literal("render"),
  serviceName: z.string().regex(dnsLabel, { message: "must be a lower-case DNS label (letters, digits, hyphens)" }).optional().describe("Render service name; <project>-<stack> when unset"),
  region: z.enum(["oregon", "ohio", "virginia", "frankfurt", "singapore"]).default("oregon").describe("Render region"),
  plan: z.enum(["free", "starter", "standard", "pro"]).default("starter").describe("Render instance plan; free is 512 MB"),
  domain: domainName.optional().describe("A custom domain; the service also answers on <serviceName>.onrender.com"),
  ownerId: z.string().regex(/^(tea|usr)-[a-z0-9]+$/, { message: "must be a Render workspace id such as tea-abc123 (a team) or usr-abc123 (a personal workspace), from the workspace's Settings page" }).optional().describe("Render workspace id (tea-... or usr-...); the only workspace the API key sees when unset"),
  deployTimeoutMinutes: z.number().int().min(1).max(120).default(20).describe("How long a deploy may take to go live before pulumi up fails naming it"),
});

const hfSpaceTarget = z.strictObject({
  kind: z.literal("hf-space"),
  owner: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,95}$/, { message: "must be a Hugging Face user or organization name" }).describe("Hugging Face user or organization that owns the Space"),
  spaceName: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/, { message: "must be a Space name (letters, digits, . _ -)" }).optional().describe("Space name; <project>-<stack> when unset"),
  // The flavors @huggingface/hub 2.17 knows (SpaceHardwareFlavor); cpu-basic is the free one.
  hardware: z.enum(["cpu-basic", "cpu-upgrade", "cpu-performance", "cpu-xl", "sprx8", "zero-a10g", "inf2x6", "t4-small", "t4-medium", "l4x1", "l4x4", "l40sx1", "l40sx4", "l40sx8", "a10g-small", "a10g-large", "a10g-largex2", "a10g-largex4", "a100-large", "a100x4", "a100x8"]).default("cpu-basic").describe("Space hardware flavor; cpu-basic is free"),
  visibility: z.enum(["private", "public"]).default("private").describe("Space visibility"),
  sleepTimeSeconds: z.number().int().min(300).max(7 * 24 * 3600).optional().describe("Paid hardware: seconds idle before the Space sleeps (cpu-basic always sleeps after 48 h)"),
});

const subnetIds = z.array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, { message: "must be subnet ids such as subnet-0abc1234" }));
const authUser = z.strictObject({
  username: z.string().regex(/^[a-z][a-z0-9_.-]{1,63}$/, { message: "must be 2-64 lower-case letters, digits, _ . - starting with a letter" }).describe("Sign-in name"),
  displayName: z.string().min(1).max(100).describe("Name shown in the portal"),
  email: z.string().email({ message: "must be an e-mail address" }).optional().describe("E-mail address"),
});

const ecsTarget = z.strictObject({
  kind: z.literal("ecs"),
  domain: domainName.describe("Host name of the tracking server: https://<domain>, through the load balancer (ACM certificate) and Traefik"),
  authDomain: domainName.optional().describe("Host name of Authelia's portal; auth.<parent of domain> when unset"),
  hostedZoneId: z.string().regex(/^Z[A-Z0-9]{1,32}$/, { message: "must be a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ" }).optional().describe("Route 53 zone of the domain: the certificate's DNS validation and the alias records are created there. Unset: they are stack outputs to add to your DNS"),
  publicSubnetIds: subnetIds.optional().describe("Public subnets (two AZs) for the load balancer in an existing VPC (database.vpcId); created otherwise"),
  cpu: z.number().int().refine((n) => [256, 512, 1024, 2048, 4096].includes(n), { message: "must be one of 256, 512, 1024, 2048, 4096 (Fargate CPU units)" }).default(512).describe("Fargate CPU units per MLflow task"),
  memoryMb: z.number().int().min(512).max(30720).default(1024).describe("Fargate memory per MLflow task in MB"),
  desiredCount: z.number().int().min(1).max(10).default(1).describe("MLflow tasks behind Traefik"),
  apiUsername: z.string().regex(/^[a-z][a-z0-9_.-]{1,63}$/, { message: "must be 2-64 lower-case letters, digits, _ . - starting with a letter" }).default("mlflow-api").describe("MLflow user of API clients (HTTP Basic, checked by MLflow itself behind Traefik); its password is generated and rotated by rotation.apiUserPassword"),
  users: z.array(authUser).default([]).describe("People who sign in through Authelia's portal; their argon2id digests go in the secret autheliaPasswordHashes"),
  alarmEmails: z.array(z.string().email({ message: "must be e-mail addresses" })).default([]).describe("E-mail subscribers of the alarm topic (each confirms once by e-mail)"),
});

const localTarget = z.strictObject({
  kind: z.literal("local"),
  port: z.number().int({ message: "must be a whole TCP port number" })
    .min(1024, { message: "must be between 1024 and 65535 (an unprivileged port, published on 127.0.0.1 only)" })
    .max(65535, { message: "must be between 1024 and 65535 (an unprivileged port, published on 127.0.0.1 only)" })
    .default(5000).describe("Port of the server on 127.0.0.1 (published there only)"),
});

const target = z.discriminatedUnion("kind", [renderTarget, hfSpaceTarget, ecsTarget, localTarget]);

// ---------------------------------------------------------------------------------------------
// the rest

const artifactPrefix = z.string().regex(/^[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*)*$/, { message: "must be a key prefix without leading or trailing slash, such as mlflow" }).default("mlflow").describe("Key prefix of every artifact in the bucket");

const s3Artifacts = z.strictObject({
  kind: z.literal("s3"),
  prefix: artifactPrefix,
  noncurrentVersionDays: z.number().int().min(1).max(3650).default(30).describe("Days a deleted or overwritten artifact stays recoverable"),
  activeKey: z.enum(["blue", "green"]).default("blue").describe("The access-key slot the server uses (see Rotating credentials)"),
  keyRotations: z.strictObject({
    blue: rotation.default(0).describe("Bump to recreate the blue key"),
    green: rotation.default(0).describe("Bump to recreate the green key"),
  }).default({ blue: 0, green: 0 }).describe("Rotation counters of the two key slots"),
});

/** MinIO in a container beside the server (target.kind local only), with its own bucket and user. */
const minioArtifacts = z.strictObject({
  kind: z.literal("minio"),
  prefix: artifactPrefix,
  image: pinnedImage(MINIO_IMAGE, "MinIO"),
  keyRotation: rotation.default(0).describe("Bump to give the server's MinIO user a new secret key"),
});

// An artifacts object without kind is S3 (configs written before MinIO existed); see parseSettings.
const artifacts = z
  .discriminatedUnion("kind", [s3Artifacts, minioArtifacts])
  .default({ kind: "s3", prefix: "mlflow", noncurrentVersionDays: 30, activeKey: "blue", keyRotations: { blue: 0, green: 0 } });

const server = z
  .strictObject({
    workers: z.number().int().min(1).max(16).default(1).describe("uvicorn workers; 1 fits 512 MB"),
    adminUsername: z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/, { message: "must be 1-64 letters, digits, _ . @ -" }).default("admin").describe("MLflow basic-auth admin user"),
    defaultPermission: z.enum(["READ", "EDIT", "MANAGE", "NO_PERMISSIONS"]).default("READ").describe("What a signed-in user may do with others' experiments"),
    corsAllowedOrigins: z.array(browserOrigin).default([]).describe("Browser origins allowed to call the API beside the target's own public origin, which is always allowed (https://<host>; local: http://localhost:<port> and http://127.0.0.1:<port>)"),
    allowMajorUpgrade: z.boolean().default(false).describe("Let the server upgrade an adopted MLflow 2.x database to 3.x (one way; back up both databases first, README: Adopting an MLflow 2.x server)"),
  })
  .default({ workers: 1, adminUsername: "admin", defaultPermission: "READ", corsAllowedOrigins: [], allowMajorUpgrade: false });

const image = z.strictObject({
  // Required where the image is pushed (every target but local): see requiredImageSettings.
  owner: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,38})$/, { message: "must be a lower-case GitHub user or organization name (GHCR names are lower-case)" }).optional().describe("GitHub user or organization: ghcr.io/<owner>/<name> (not needed by target.kind local, which builds without pushing)"),
  name: z.string().regex(/^[a-z0-9]+([._-][a-z0-9]+)*$/, { message: "must be a lower-case image name such as mlflow-kit-server" }).default("mlflow-kit-server").describe("Image name under the owner"),
  username: z.string().optional().describe("GitHub user the token belongs to; owner when unset"),
  platform: z.enum(["linux/amd64", "linux/arm64"]).optional().describe("Platform of the image: linux/amd64 when unset where it is pushed; target.kind local builds for it when set, else for DOCKER_DEFAULT_PLATFORM or the Docker engine's own platform"),
}).default({ name: "mlflow-kit-server" });

const credentialRotation = z
  .strictObject({
    adminPassword: rotation.default(0).describe("Bump to generate a new admin password (when adminPassword is not set)"),
    databasePassword: rotation.default(0).describe("Bump to generate a new database role password"),
    flaskSecretKey: rotation.default(0).describe("Bump to generate a new Flask secret key"),
    apiUserPassword: rotation.default(0).describe("Bump to generate a new password for the API user (target.kind ecs only)"),
    // The path `npm run rotate -- authelia` bumps; the ecs target (Authelia) derives its
    // session and JWT secrets from it.
    autheliaSecrets: rotation.default(0).describe("Bump to generate new Authelia session and JWT secrets and the edge secret (target.kind ecs only; signs browsers out)"),
  })
  .default({ adminPassword: 0, databasePassword: 0, flaskSecretKey: 0, apiUserPassword: 0, autheliaSecrets: 0 });

/**
 * What review stacks (pr-N, `npm run review`) made from this stack's file differ in; read from
 * Pulumi.dev.yaml only. The target's other settings come from this stack's target when the kind
 * is the same, and are validated by the review stack's own settings.
 */
const reviewTemplate = z.strictObject({
  target: z.looseObject({
    kind: z.enum(["render", "hf-space", "none"], { message: "must be render (a paid plan: Render's API cannot create free services), hf-space, or none (no server)" }),
    plan: z.string().refine((p) => ["starter", "standard", "pro"].includes(p), { message: "must be a paid Render plan (starter, standard, pro): Render's API cannot create free services, so no review stack could be made" }).optional(),
  }).optional().describe("Review stacks' target: {kind: render, plan: starter}, {kind: hf-space, owner: ...}, or {kind: none} (no server)"),
  database: z.strictObject({
    projectId: z.string().regex(/^[a-z0-9-]{1,60}$/, { message: "must be a Neon project id such as shiny-wind-028834" }).optional().describe("Neon project whose default branch each review stack branches (its data: empty, or fixtures loaded there); never dev's. Unset: each review stack creates its own project"),
  }).optional().describe("Review stacks' data"),
  ttlHours: z.number().int().min(1).max(719, { message: "must be at most 719: Neon refuses a branch expiry more than 30 days ahead, and the expiry is rounded up to the next full hour" }).optional().describe("Review stacks' lease in hours (default 72), renewed by each push"),
}).optional().describe("Pulumi.dev.yaml: what review stacks made from it differ in");

/**
 * AWS logging that Security Hub's FSBP asks for and AWS bills for (policies/README.md, "AWS
 * Foundational Security Best Practices"). Unset: on for long-lived stacks, off for ephemeral ones.
 */
const logging = z
  .strictObject({
    accessLogs: z.boolean().optional().describe("S3 server access logs of the artifact bucket and the load balancer's access logs, to a log bucket (FSBP S3.9, ELB.5). Default: long-lived stacks"),
    flowLogs: z.boolean().optional().describe("VPC flow logs of a created VPC, to the log bucket (FSBP EC2.6). Default: long-lived stacks"),
    databaseLogs: z.boolean().optional().describe("RDS PostgreSQL and upgrade logs to CloudWatch Logs (FSBP RDS.9, RDS.36). Default: long-lived stacks"),
    enhancedMonitoringSeconds: z.number().int().refine((v) => [0, 1, 5, 10, 15, 30, 60].includes(v), { message: "must be one of 0 (off), 1, 5, 10, 15, 30, 60: the intervals RDS accepts" }).optional().describe("RDS Enhanced Monitoring interval in seconds: 0 (off), 1, 5, 10, 15, 30 or 60 (FSBP RDS.6). Default: 60 on long-lived stacks"),
    retentionDays: z.number().int().min(7).max(3653).default(90).describe("Days the log bucket and the log groups keep these logs"),
  })
  .default({ retentionDays: 90 });
const monitoringPort = (fallback: number, what: string) => z.number().int({ message: "must be a whole TCP port number" })
  .min(1024, { message: "must be between 1024 and 65535 (published on 127.0.0.1 only)" })
  .max(65535, { message: "must be between 1024 and 65535 (published on 127.0.0.1 only)" })
  .default(fallback).describe(`Port of ${what} on 127.0.0.1 (target.kind local)`);

/** Prometheus metrics of the server (MLFLOW_METRICS) and, on local, Prometheus + Grafana beside it. */
const monitoring = z.strictObject({
  enabled: z.boolean().default(false).describe("Serve /metrics from the server (never through the public edge; behind basic auth where that is on); on target.kind local also run Prometheus and Grafana beside it; on ecs a collector in each MLflow task sends the metrics to CloudWatch, with a dashboard"),
  prometheusPort: monitoringPort(9090, "Prometheus"),
  grafanaPort: monitoringPort(3000, "Grafana"),
  prometheusImage: pinnedImage(PROMETHEUS_IMAGE, "Prometheus"),
  grafanaImage: pinnedImage(GRAFANA_IMAGE, "Grafana"),
  managedPrometheus: z.boolean().default(false).describe("target.kind ecs with monitoring.enabled: also send the metrics to an Amazon Managed Service for Prometheus workspace the stack creates (remote write, SigV4). CloudWatch (the dashboard) gets them either way"),
}).default({ enabled: false, prometheusPort: 9090, grafanaPort: 3000, prometheusImage: PROMETHEUS_IMAGE, grafanaImage: GRAFANA_IMAGE, managedPrometheus: false });

/** Config keys (without the "mlflow-kit:" namespace) and their schemas. */
const plainKeys = {
  lifecycle,
  database,
  target,
  artifacts,
  server,
  monitoring,
  image,
  rotation: credentialRotation,
  logging,
  /** Ephemeral stacks only: how long after its last `pulumi up` the stack may be torn down. */
  ttlHours: z.number().int().min(1).max(24 * 90, { message: "must be at most 2160 (90 days): an ephemeral stack that lives longer is long-lived" }).default(DEFAULT_TTL_HOURS).describe("Ephemeral stacks: hours after the last pulumi up until the stack expires (the mlflow-kit:expires-at tag); at most 719 on a Neon database (Neon caps a branch expiry at 30 days)"),
  /** Ephemeral stacks only: a fixed expiry instead of ttlHours (review tooling pins it). */
  expiresAt: z.iso.datetime({ offset: true, message: "must be an ISO 8601 date-time such as 2026-12-01T00:00:00Z" }).optional().describe("Ephemeral stacks: a fixed expiry (ISO 8601) instead of ttlHours"),
  /** Deploy storage, database and image only (a target that is not yet supported, or a data-first rollout). */
  skipTarget: z.boolean().default(false).describe("Deploy storage, database and image only"),
  /** Step 1 of "Decommissioning a long-lived stack" (README): protection off, data kept. */
  decommission: z.boolean().default(false).describe("Before `pulumi destroy` of a long-lived stack: turns off protect and RDS deletion protection; the bucket is kept and RDS leaves a final snapshot"),
  review: reviewTemplate,
} as const;

/** Secret config keys: set with `pulumi config set --secret`, never in plain text. */
export const SECRET_KEYS = {
  ghcrToken: "GitHub token with write:packages, to push the image to GHCR (every target but local)",
  renderApiKey: "Render API key (target.kind render)",
  hfToken: "Hugging Face token with write access (target.kind hf-space)",
  neonApiKey: "Neon API key (database.kind neon)",
  adminPassword: "MLflow admin password (optional: generated and rotated by `rotation.adminPassword` when unset)",
  autheliaPasswordHashes: "JSON object of target.users' usernames to argon2id digests (`authelia crypto hash generate argon2`); ecs with users only",
} as const;
export type SecretKey = keyof typeof SECRET_KEYS;

/** What this version deploys; the rest of the schema is accepted so configs stay valid as targets land. */
const SUPPORTED = { database: ["rds", "neon", "local"], target: ["render", "hf-space", "ecs", "local"] as string[] } as const;

const schema = z.object({
  ...plainKeys,
  aws: z.strictObject({ region: awsRegion }).optional(),
});

type Parsed = z.infer<typeof schema>;
export type DatabaseSettings = Parsed["database"];
export type TargetSettings = Parsed["target"];

export interface Settings {
  project: string;
  stack: string;
  /** `<project>-<stack>`: the prefix of every physical name, so that stacks never collide. */
  namePrefix: string;
  lifecycle: Lifecycle;
  /** Region of the AWS resources; us-east-1 (also MinIO's default region) on a stack with none. */
  region: string;
  database: DatabaseSettings;
  target: TargetSettings;
  /** What gets deployed: false for a skipped target (skipTarget), or, in the offline plan only, a kind not yet supported. */
  deploy: { database: boolean; target: boolean };
  artifacts: Parsed["artifacts"];
  server: Parsed["server"];
  monitoring: Parsed["monitoring"];
  image: Parsed["image"];
  rotation: Parsed["rotation"];
  /** FSBP logging, each switch resolved from the lifecycle when unset. */
  logging: { accessLogs: boolean; flowLogs: boolean; databaseLogs: boolean; enhancedMonitoringSeconds: number; retentionDays: number };
  /** Protection off before `pulumi destroy` (long-lived stacks); data is still kept. */
  decommission: boolean;
  secrets: Partial<Record<SecretKey, pulumi.Output<string>>>;
  /** Ephemeral stacks: when the stack expires (ISO 8601, UTC); also the TAG_KEYS.expiresAt tag. */
  expiresAt: string | undefined;
  tags: Record<string, string>;
  /** What settings left out, and why (shown by the plan). */
  skipped: string[];
  /** Accepted, but worth a second look (the program logs each as a warning). */
  warnings: string[];
}

export class SettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(`mlflow-kit: the stack config has ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "SettingsError";
  }
}

export interface RawConfig {
  project: string;
  stack: string;
  /** Full keys ("mlflow-kit:lifecycle", "aws:region") to their string values, as the engine has them. */
  values: Record<string, string>;
  /** Full keys whose values are secrets. */
  secretKeys: ReadonlySet<string>;
  /** The time an ephemeral stack's expiry counts from; now when unset (tests pin it). */
  now?: Date;
}

/** Reads the engine's config for this stack and validates it. */
export function loadSettings(options: { allowUnsupported?: boolean } = {}): Settings {
  const values = pulumi.runtime.allConfig();
  // isConfigSecret is exported by the runtime but not declared in its typings.
  const isSecret = (require("@pulumi/pulumi/runtime/config") as { isConfigSecret(k: string): boolean }).isConfigSecret;
  const secretKeys = new Set(Object.keys(values).filter((k) => isSecret(k)));
  return parseSettings({ project: pulumi.getProject(), stack: pulumi.getStack(), values, secretKeys }, options);
}

/** Pure: raw config in, Settings out, or a SettingsError listing every problem. */
export function parseSettings(raw: RawConfig, options: { allowUnsupported?: boolean } = {}): Settings {
  const problems: string[] = [];
  const ns = `${PROJECT}:`;
  const input: Record<string, unknown> = {};
  const secrets: Partial<Record<SecretKey, pulumi.Output<string>>> = {};
  const plainSecrets = new Set<string>();

  for (const [fullKey, value] of Object.entries(raw.values)) {
    if (fullKey === "aws:region") {
      input.aws = { region: value };
      continue;
    }
    if (!fullKey.startsWith(ns)) {
      problems.push(...providerKeyProblems(fullKey, value, raw));
      continue; // other providers' config (aws:profile, ...) is theirs
    }
    const key = fullKey.slice(ns.length);
    if (key in SECRET_KEYS) {
      if (!raw.secretKeys.has(fullKey)) {
        plainSecrets.add(key);
        problems.push(`${fullKey}: is set in plain text, so it is stored unencrypted in Pulumi.${raw.stack}.yaml. Remove it and set it as a secret: \`pulumi config rm ${fullKey} && pulumi config set --secret ${fullKey} <value>\``);
      } else {
        secrets[key as SecretKey] = pulumi.secret(value);
      }
      continue;
    }
    if (!(key in plainKeys)) {
      const hint = closest(key, [...Object.keys(plainKeys), ...Object.keys(SECRET_KEYS)]);
      problems.push(`${fullKey}: is not a setting of mlflow-kit.${hint ? ` Did you mean ${ns}${hint}?` : ""} See the configuration reference in README.md, or remove it with \`pulumi config rm ${fullKey}\``);
      continue;
    }
    input[key] = parseValue(value);
    for (const path of credentialLikePaths(input[key], key)) {
      problems.push(`${ns}${path}: looks like a credential in plain config. Credentials are separate secret keys (${Object.keys(SECRET_KEYS).map((k) => ns + k).join(", ")}): remove it from this object and use \`pulumi config set --secret\``);
    }
  }
  // Configs written before artifacts had a kind meant S3.
  const rawArtifacts = input.artifacts;
  if (rawArtifacts && typeof rawArtifacts === "object" && !Array.isArray(rawArtifacts) && !("kind" in rawArtifacts)) {
    input.artifacts = { kind: "s3", ...rawArtifacts };
  }
  // Read before parsing, so that a missing region or image joins the other problems.
  const kinds = { database: rawKind(input.database), target: rawKind(input.target), artifacts: rawKind(input.artifacts) ?? "s3" };
  const awsUsers = [kinds.artifacts === "s3" && "artifacts.kind s3", kinds.database === "rds" && "database.kind rds", kinds.target === "ecs" && "target.kind ecs"].filter(Boolean);
  if (!raw.values["aws:region"] && awsUsers.length > 0) {
    problems.push(`aws:region: is missing; ${awsUsers.join(", ")} deploy${awsUsers.length === 1 ? "s" : ""} to AWS there. Set it: \`pulumi config set aws:region us-east-1\``);
  }
  for (const required of ["lifecycle", "database", "target", "image"] as const) {
    // The local target builds the image without pushing it: no GHCR owner to name.
    if (required === "image" && kinds.target === "local") continue;
    if (input[required] === undefined) problems.push(`${ns}${required}: is missing. ${MISSING_HINT[required]}`);
  }

  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.path.length === 1 && input[String(issue.path[0])] === undefined && issue.code === "invalid_type") continue; // reported as missing above
      problems.push(describeIssue(issue, ns, input));
    }
  }
  // Rules that span keys need a parsed config; they still join the problems found so far.
  if (!parsed.success) throw new SettingsError(problems);
  const s = parsed.data;

  const skipped: string[] = [];
  if (s.database.kind === "rds") {
    if (s.database.vpcId && (s.database.privateSubnetIds?.length ?? 0) < 2) {
      problems.push(`${ns}database.privateSubnetIds: an existing VPC (database.vpcId) needs at least two private subnets in different availability zones for the RDS subnet group. List them: privateSubnetIds: [subnet-..., subnet-...]`);
    }
    if (!s.database.vpcId && s.database.privateSubnetIds) {
      problems.push(`${ns}database.privateSubnetIds: is only used with database.vpcId. Set vpcId too, or remove privateSubnetIds to let mlflow-kit create the VPC`);
    }
    if (!s.database.vpcId) {
      try {
        subnetCidrs(s.database.cidrBlock, s.database.availabilityZones);
      } catch (err) {
        problems.push(`${ns}database.cidrBlock: ${(err as Error).message}. Give the network address of the block (host bits zero), such as 10.40.0.0/16`);
      }
    }
    const storage = storageCeilingProblem(s.database.allocatedStorageGb, s.database.maxAllocatedStorageGb);
    if (storage) problems.push(`${ns}database.maxAllocatedStorageGb: ${storage}`);
    if (s.database.bootstrap === "direct" && s.database.clientSecurityGroupIds.length === 0) {
      problems.push(`${ns}database.clientSecurityGroupIds: bootstrap: direct creates the role and databases from the machine running \`pulumi up\`, which must reach the private instance. Add that runner's security group (sg-...), or use bootstrap: lambda`);
    }
    const restore = s.database.restoreFrom;
    if (restore) {
      if (Boolean(restore.snapshotIdentifier) === Boolean(restore.sourceInstance)) {
        problems.push(`${ns}database.restoreFrom: name one source, snapshotIdentifier (a DB snapshot) or sourceInstance (a point in time of its automated backups), not ${restore.snapshotIdentifier ? "both" : "neither"}`);
      } else if (restore.snapshotIdentifier && (restore.time || restore.latest !== undefined)) {
        problems.push(`${ns}database.restoreFrom: time and latest go with sourceInstance; a snapshot is one point already. Remove them, or restore from sourceInstance`);
      } else if (restore.sourceInstance && Boolean(restore.time) === Boolean(restore.latest)) {
        problems.push(`${ns}database.restoreFrom: with sourceInstance give either time (ISO 8601, within its backupRetentionDays) or latest: true`);
      }
      if (restore.sourceInstance && restore.sourceInstance === `${raw.project}-${raw.stack}-db`) {
        problems.push(`${ns}database.restoreFrom.sourceInstance: ${restore.sourceInstance} is this stack's own instance; restore into a new stack (npm run restore -- --from ${raw.stack} --to <new stack>)`);
      }
    }
    if (s.target && s.target.kind !== "ecs") {
      problems.push(`${ns}database.kind: rds is private to its VPC and only target.kind ecs runs inside it; ${s.target.kind} could never reach it. Use database.kind neon for ${s.target.kind}, or target.kind ecs`);
    }
  }
  if (s.database.kind === "neon" && s.database.restoreFrom) {
    if (!s.database.projectId) {
      problems.push(`${ns}database.restoreFrom: a Neon branch is restored inside its own project. Set database.projectId to the source stack's neonProjectId output`);
    }
    if (s.database.restoreFrom.timestamp && s.database.restoreFrom.lsn) {
      problems.push(`${ns}database.restoreFrom: give timestamp or lsn, not both`);
    }
  }
  // Containers on the machine running `pulumi up` are reachable from that machine's server only.
  if (s.database.kind === "local" && s.target.kind !== "local") {
    problems.push(`${ns}database.kind: local runs PostgreSQL in Docker on the machine running \`pulumi up\`, which a ${s.target.kind} server could never reach. Use database.kind ${s.target.kind === "ecs" ? "rds" : "neon"} for ${s.target.kind}, or target.kind local`);
  }
  // monitoring.managedPrometheus off ecs or without monitoring.enabled: settings-effect.ts.
  if (s.monitoring.enabled && s.target.kind === "local" && [s.monitoring.prometheusPort, s.monitoring.grafanaPort].includes(s.target.port)) {
    problems.push(`${ns}monitoring: prometheusPort and grafanaPort must differ from target.port (${s.target.port}); all three are published on 127.0.0.1`);
  }
  if (s.monitoring.prometheusPort === s.monitoring.grafanaPort) {
    problems.push(`${ns}monitoring.grafanaPort: ${s.monitoring.grafanaPort} is also monitoring.prometheusPort; give each its own port`);
  }
  if (s.artifacts.kind === "minio" && s.target.kind !== "local") {
    problems.push(`${ns}artifacts.kind: minio runs in Docker on the machine running \`pulumi up\`, which a ${s.target.kind} server could never reach. Use artifacts.kind s3 for ${s.target.kind}, or target.kind local`);
  }
  if (s.target.kind !== "local" && input.image !== undefined && !s.image.owner) {
    problems.push(`${ns}image.owner: is missing; a ${s.target.kind} server pulls the image from ghcr.io/<owner>/${s.image.name}. Set it, e.g. \`mlflow-kit:image: {owner: <github user or org>}\``);
  }
  if (s.target.kind === "ecs") problems.push(...ecsProblems(s, raw, ns));
  const noEffect = noEffectFindings(s, raw, input);
  problems.push(...noEffect.problems);
  if (s.lifecycle === "long-lived" && s.database.kind === "rds" && s.database.backupRetentionDays < 7) {
    problems.push(`${ns}database.backupRetentionDays: a long-lived stack keeps at least 7 days of automated backups (got ${s.database.backupRetentionDays}). Raise it to 7 or more`);
  }
  let expiresAt: string | undefined;
  if (s.lifecycle === "ephemeral") {
    const now = (raw.now ?? new Date()).getTime();
    expiresAt = s.expiresAt ? new Date(s.expiresAt).toISOString().replace(/\.\d{3}Z$/, "Z") : expiryFrom(raw.now ?? new Date(), s.ttlHours);
    if (s.expiresAt && Date.parse(s.expiresAt) <= now) {
      problems.push(`${ns}expiresAt: ${s.expiresAt} is in the past, so teardown would remove the stack at once. Set a future time, or remove it to expire ${s.ttlHours} hours after each pulumi up (ttlHours)`);
    }
    // Neon gives the stack's branch this expiry and takes at most 30 days from the time of the
    // call (neondatabase/website content/docs/guides/branch-expiration.md).
    if (s.database.kind === "neon" && !s.expiresAt && s.ttlHours > NEON_MAX_TTL_HOURS) {
      problems.push(`${ns}ttlHours: ${s.ttlHours} hours is beyond what Neon allows for the branch's expiry (30 days ahead; the expiry is rounded up to the next full hour, so at most ${NEON_MAX_TTL_HOURS}). Set ttlHours to ${NEON_MAX_TTL_HOURS} or less, or make the stack long-lived`);
    }
    if (s.database.kind === "neon" && s.expiresAt && Date.parse(s.expiresAt) > now + 720 * 3_600_000) {
      problems.push(`${ns}expiresAt: ${s.expiresAt} is more than 30 days ahead, which Neon refuses for the branch's expiry. Set a time within 30 days (renewed by each pulumi up with ttlHours instead), or make the stack long-lived`);
    }
  } else if (s.expiresAt) {
    problems.push(`${ns}expiresAt: a long-lived stack never expires. Remove it, or set ${ns}lifecycle ephemeral`);
  }
  if (s.target?.kind === "hf-space" && s.target.hardware === "cpu-basic" && s.target.sleepTimeSeconds !== undefined) {
    problems.push(`${ns}target.sleepTimeSeconds: free cpu-basic Spaces sleep after 48 hours idle and the Hub does not let that change. Remove sleepTimeSeconds, or choose paid hardware (target.hardware, e.g. cpu-upgrade)`);
  }
  if (s.target?.kind === "render" && s.target.plan === "free" && s.server.workers > 1) {
    problems.push(`${ns}server.workers: ${s.server.workers} workers do not fit Render's free plan (512 MB); each worker is a full MLflow process. Use workers: 1 or a larger plan`);
  }
  for (const need of requiredSecrets(s)) {
    // A secret set in plain text was reported above; "missing" as well would only confuse.
    if (!secrets[need] && !plainSecrets.has(need)) {
      problems.push(`${ns}${need}: is missing: ${SECRET_KEYS[need]}. Set it: \`pulumi config set --secret ${ns}${need} <value>\``);
    }
  }
  // Kinds the schema knows but this version cannot deploy yet: an error for `pulumi up`, a
  // note for the offline plan (options.allowUnsupported), which shows the rest of the stack.
  const deploy = { database: true, target: true };
  if (!(SUPPORTED.database as readonly string[]).includes(s.database.kind)) {
    const why = `${ns}database.kind: ${s.database.kind} is not yet supported by this version of mlflow-kit (supported now: ${SUPPORTED.database.join(", ")})`;
    if (options.allowUnsupported) skipped.push(why);
    else problems.push(`${why}. Use one of those, or wait for the ${s.database.kind} database to land`);
    deploy.database = false;
  }
  if (s.skipTarget) {
    skipped.push(`${ns}target: ${s.target.kind} skipped by ${ns}skipTarget`);
    deploy.target = false;
  } else if (!(SUPPORTED.target as readonly string[]).includes(s.target.kind)) {
    const why = `${ns}target.kind: ${s.target.kind} is not yet supported by this version of mlflow-kit`;
    if (options.allowUnsupported) skipped.push(why);
    else problems.push(`${why}. To deploy storage, database and image now, set \`pulumi config set ${ns}skipTarget true\``);
    deploy.target = false;
  }
  // Names are lower-cased (S3, Render, Neon): "Dev" would plan dev's names and adopt, then
  // delete, dev's service. Refused before anything exists, beside any other problem.
  if (/[A-Z]/.test(raw.stack)) {
    throw new SettingsError([...problems, `stack name: "${raw.stack}" has upper-case letters, and every resource name is lower-case, so it would collide with stack "${raw.stack.toLowerCase()}" (the same bucket, database and service). Use a lower-case stack name: \`pulumi stack rename ${raw.stack.toLowerCase()}\` (or \`pulumi stack init ${raw.stack.toLowerCase()}\`)`]);
  }
  if (problems.length) throw new SettingsError(problems);
  const namePrefix = `${raw.project}-${raw.stack}`.toLowerCase();
  if (!/^[a-z0-9][a-z0-9-]{1,40}[a-z0-9]$/.test(namePrefix)) {
    throw new SettingsError([`stack name: "${raw.stack}" gives the name prefix "${namePrefix}", which must be 3-42 lower-case letters, digits and hyphens (it names the bucket and the database). Use a shorter stack name of that form`]);
  }
  return {
    project: raw.project,
    stack: raw.stack,
    namePrefix,
    lifecycle: s.lifecycle,
    region: s.aws?.region ?? "us-east-1",
    database: s.database,
    target: s.target,
    deploy,
    artifacts: s.artifacts,
    server: s.server,
    monitoring: s.monitoring,
    image: s.image,
    rotation: s.rotation,
    logging: {
      accessLogs: s.logging.accessLogs ?? s.lifecycle === "long-lived",
      flowLogs: s.logging.flowLogs ?? s.lifecycle === "long-lived",
      databaseLogs: s.logging.databaseLogs ?? s.lifecycle === "long-lived",
      enhancedMonitoringSeconds: s.logging.enhancedMonitoringSeconds ?? (s.lifecycle === "long-lived" ? 60 : 0),
      retentionDays: s.logging.retentionDays,
    },
    decommission: s.decommission,
    secrets,
    expiresAt,
    tags: {
      [TAG_KEYS.project]: raw.project,
      [TAG_KEYS.stack]: raw.stack,
      [TAG_KEYS.lifecycle]: s.lifecycle,
      ...(expiresAt ? { [TAG_KEYS.expiresAt]: expiresAt } : {}),
    },
    skipped,
    warnings: [...ecsWarnings(s, ns), ...noEffect.warnings],
  };
}

/** ttlHours a Neon stack may have: its branch expiry, rounded up, stays within Neon's 30 days. */
export const NEON_MAX_TTL_HOURS = 719;

/** The host names Authelia's session cookie is scoped to (edge/authelia.ts cookieDomain). */
function sharedParent(a: string, b: string): string {
  const x = a.split(".").reverse(), y = b.split(".").reverse();
  const common: string[] = [];
  for (let n = 0; n < Math.min(x.length, y.length) && x[n] === y[n]; n++) common.push(x[n]);
  return common.reverse().join(".");
}

function ecsWarnings(s: Parsed, ns: string): string[] {
  if (s.target.kind !== "ecs") return [];
  const t = s.target;
  const authDomain = t.authDomain ?? `auth.${t.domain.split(".").slice(1).join(".")}`;
  const cookie = sharedParent(t.domain, authDomain);
  if (cookie === t.domain || cookie === authDomain) return [];
  return [`${ns}target.authDomain: Authelia's session cookie is scoped to ${cookie}, so every host under ${cookie} receives it, not only ${t.domain} and ${authDomain}. To keep it to MLflow's own name, put the portal under it: authDomain: auth.${t.domain} (the cookie is then scoped to ${t.domain})`];
}

/**
 * Settings that do nothing on this stack (its target, database, artifact store, lifecycle),
 * refused where given, saying why and the fix; the rules are the table of ./settings-effect.
 */
function noEffectFindings(s: Parsed, raw: RawConfig, input: Record<string, unknown>): { problems: string[]; warnings: string[] } {
  const ns = `${PROJECT}:`;
  const at = (root: unknown, path: string) => path.split(".").reduce<unknown>((v, k) => (v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>)[k] : undefined), root);
  const fullKey = (key: string) => (key.includes(":") ? key : `${ns}${key}`);
  const given = (key: string) => {
    const full = fullKey(key);
    if (full in raw.values) return true;
    return full.startsWith(ns) && at(input, full.slice(ns.length)) !== undefined;
  };
  const c: EffectContext = {
    stack: raw.stack,
    target: s.target.kind,
    database: s.database.kind,
    artifacts: s.artifacts.kind,
    lifecycle: s.lifecycle,
    existingVpc: s.database.kind === "rds" && Boolean(s.database.vpcId),
    existingNeonProject: s.database.kind === "neon" && Boolean(s.database.projectId),
    monitoringEnabled: s.monitoring.enabled,
    logging: {
      accessLogs: s.logging.accessLogs ?? s.lifecycle === "long-lived",
      flowLogs: s.logging.flowLogs ?? s.lifecycle === "long-lived",
      databaseLogs: s.logging.databaseLogs ?? s.lifecycle === "long-lived",
      enhancedMonitoringSeconds: s.logging.enhancedMonitoringSeconds ?? (s.lifecycle === "long-lived" ? 60 : 0),
    },
    given,
    value: (path) => at(s, path),
  };
  const out = { problems: [] as string[], warnings: [] as string[] };
  for (const rule of RULES) {
    if (!given(rule.key)) continue;
    const why = rule.noEffect(c);
    if (!why) continue;
    const full = fullKey(rule.key);
    const rm = `\`pulumi config rm ${full.includes(".") ? "--path " : ""}${full}\``;
    const message = `${full}: has no effect with target.kind ${c.target} (database.kind ${c.database}, artifacts.kind ${c.artifacts}, ${c.lifecycle}): ${why}. It acts only on ${rule.appliesWhere}. Remove it (${rm})${rule.fix ? `. ${rule.fix}` : ""}`;
    (rule.warnOnly ? out.warnings : out.problems).push(message);
  }
  return out;
}

/**
 * An ephemeral stack's expiry: ttlHours after the start of the next UTC hour, so at least
 * ttlHours from now (rounding down could put a 1-hour expiry minutes away, and Neon refuses an
 * expiry that has passed by the time of the call). Every `pulumi up` renews it (a lease), and
 * within one hour two plans give the same tags.
 */
export function expiryFrom(now: Date, ttlHours: number): string {
  const hour = Math.ceil(now.getTime() / 3_600_000) * 3_600_000;
  return new Date(hour + ttlHours * 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The secret keys a stack must have for what it deploys. */
function requiredSecrets(s: Parsed): SecretKey[] {
  const need: SecretKey[] = [];
  if (pushesImage(s)) need.push("ghcrToken");
  if (s.database.kind === "neon") need.push("neonApiKey");
  if (!s.skipTarget && s.target.kind === "render") need.push("renderApiKey");
  if (!s.skipTarget && s.target.kind === "hf-space") need.push("hfToken");
  if (!s.skipTarget && s.target.kind === "ecs" && s.target.users.length) need.push("autheliaPasswordHashes");
  return need;
}

/** Every target but local pulls the image from GHCR; the local one runs what the local engine built. */
export function pushesImage(s: { target: { kind: string } }): boolean {
  return s.target.kind !== "local";
}

/** The kind of a structured key as given, before validation. */
function rawKind(value: unknown): string | undefined {
  return value && typeof value === "object" && typeof (value as { kind?: unknown }).kind === "string" ? (value as { kind: string }).kind : undefined;
}

/** Fargate's valid memory (MB) per CPU value. */
const FARGATE_MEMORY: Record<number, [number, number, number]> = {
  256: [512, 2048, 1024], 512: [1024, 4096, 1024], 1024: [2048, 8192, 1024], 2048: [4096, 16384, 1024], 4096: [8192, 30720, 1024],
};
const DIGEST = /^\$(argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9/+]+\$[A-Za-z0-9/+]+)$/;

/** Rules of the ecs target that span keys. Messages name users and keys, never a digest. */
function ecsProblems(s: Parsed, raw: RawConfig, ns: string): string[] {
  if (s.target.kind !== "ecs") return [];
  const t = s.target;
  const out: string[] = [];
  const [min, max, step] = FARGATE_MEMORY[t.cpu];
  if (t.memoryMb < min || t.memoryMb > max || (t.memoryMb > 512 && t.memoryMb % step !== 0)) {
    out.push(`${ns}target.memoryMb: ${t.memoryMb} MB is not a Fargate size for cpu ${t.cpu}. Use ${min} to ${max} in steps of ${step}, or change target.cpu`);
  }
  const authDomain = t.authDomain ?? `auth.${t.domain.split(".").slice(1).join(".")}`;
  const common = (a: string, b: string) => {
    const x = a.split(".").reverse(), y = b.split(".").reverse();
    let n = 0;
    while (n < Math.min(x.length, y.length) && x[n] === y[n]) n++;
    return n;
  };
  if (authDomain === t.domain) out.push(`${ns}target.authDomain: must differ from target.domain (Traefik routes by host). Use e.g. auth.${t.domain.split(".").slice(1).join(".")}`);
  else if (common(t.domain, authDomain) < 2) {
    out.push(`${ns}target.${t.authDomain ? "authDomain" : "domain"}: ${t.domain} and ${authDomain} share no parent domain for Authelia's session cookie (a top-level domain is not one). Use a domain with at least three labels (mlflow.example.com) and an authDomain under the same parent (auth.example.com)`);
  }
  if (s.database.kind === "rds") {
    if (s.database.vpcId && (t.publicSubnetIds?.length ?? 0) < 2) {
      out.push(`${ns}target.publicSubnetIds: an existing VPC (database.vpcId) needs the public subnets of two availability zones for the load balancer. List them: publicSubnetIds: [subnet-..., subnet-...]`);
    }
    if (!s.database.vpcId && t.publicSubnetIds) {
      out.push(`${ns}target.publicSubnetIds: is only used with database.vpcId (an existing VPC); mlflow-kit creates public subnets in the VPC it creates. Remove it`);
    }
  } else {
    out.push(`${ns}target.kind: ecs runs in the database's VPC and needs database.kind rds. Set database: {kind: rds}`);
  }
  const names = t.users.map((u) => u.username);
  for (const dup of names.filter((n, i) => names.indexOf(n) !== i)) out.push(`${ns}target.users: ${dup} is listed twice. Keep one entry`);
  if (names.includes(t.apiUsername)) out.push(`${ns}target.users: ${t.apiUsername} is the API user (target.apiUsername), whose password is generated. Use another username`);
  // A person signed in at the portal reaches MLflow as Remote-User: never as its admin.
  if (names.includes(s.server.adminUsername)) out.push(`${ns}target.users: ${s.server.adminUsername} is MLflow's admin (server.adminUsername); a portal user of that name would be MLflow's admin. Use another username`);
  if (t.apiUsername === s.server.adminUsername) out.push(`${ns}target.apiUsername: ${t.apiUsername} is MLflow's admin (server.adminUsername). Give the API client its own name`);
  const hashesKey = `${ns}autheliaPasswordHashes`;
  const text = raw.values[hashesKey];
  if (text !== undefined && raw.secretKeys.has(hashesKey)) {
    let hashes: unknown;
    try {
      hashes = JSON.parse(text);
    } catch {
      hashes = undefined;
    }
    if (!hashes || typeof hashes !== "object" || Array.isArray(hashes)) {
      out.push(`${hashesKey}: must be a JSON object of username to argon2id digest. Set it: \`pulumi config set --secret --path '${hashesKey}.<username>' '$argon2id$v=19$...'\``);
    } else {
      const h = hashes as Record<string, unknown>;
      for (const n of names) {
        if (!(n in h)) out.push(`${hashesKey}: has no digest for target.users ${n}. Add one: \`pulumi config set --secret --path '${hashesKey}.${n}' "$(authelia crypto hash generate argon2 --no-confirm ...)"\``);
        else if (typeof h[n] !== "string" || !DIGEST.test(h[n] as string)) out.push(`${hashesKey}: the digest of ${n} is not an argon2id digest ($argon2id$v=19$m=...,t=...,p=...$salt$key). Generate it with \`authelia crypto hash generate argon2\``);
      }
      for (const extra of Object.keys(h).filter((k) => !names.includes(k))) out.push(`${hashesKey}: ${extra} is not in target.users. Add the user to target.users or remove its digest`);
    }
  }
  return out;
}

const MISSING_HINT: Record<string, string> = {
  lifecycle: "Say whether the stack's data is kept: `pulumi config set mlflow-kit:lifecycle long-lived` (prod) or `ephemeral` (review, demo)",
  database: "Choose the metadata store, e.g. in Pulumi.<stack>.yaml: `mlflow-kit:database: {kind: rds}` (or neon, local)",
  target: "Choose where MLflow runs, e.g. `mlflow-kit:target: {kind: ecs, domain: mlflow.example.com}` (or render, hf-space, local)",
  image: "Name the GHCR owner the image is pushed to: `mlflow-kit:image: {owner: <github user or org>}` (target.kind local needs none)",
};

/** The engine gives structured config as JSON text, scalars as plain text. */
function parseValue(value: string): unknown {
  const t = value.trim();
  if (/^[[{]/.test(t) || t === "true" || t === "false" || /^-?\d+(\.\d+)?$/.test(t)) {
    try {
      return JSON.parse(t);
    } catch {
      return value;
    }
  }
  return value;
}

/** Config namespaces the kit's program and providers read; any other is a typo or left over. */
export const PROVIDER_NAMESPACES = ["aws", "docker", "random", "postgresql", "pulumi"] as const;
/** A provider config key that holds a credential (aws:secretKey, aws:accessKey, aws:token, gcp:credentials, ...). */
const CREDENTIAL_KEY = /(secret|secretkey|password|passwd|token|api[-_]?key|access[-_]?key|private[-_]?key|credentials?)$/i;

/** Config outside the kit's namespace: only providers' namespaces, and their credentials only as secrets. */
function providerKeyProblems(fullKey: string, value: string, raw: RawConfig): string[] {
  const at = fullKey.indexOf(":");
  const namespace = at > 0 ? fullKey.slice(0, at) : "";
  const key = at > 0 ? fullKey.slice(at + 1) : fullKey;
  if (!(PROVIDER_NAMESPACES as readonly string[]).includes(namespace)) {
    const meant = closest(namespace, [raw.project, ...PROVIDER_NAMESPACES]);
    const fix = meant ? `Did you mean ${meant}:${key}? Move it: \`pulumi config rm ${fullKey} && pulumi config set ${meant}:${key} <value>\`` : `Remove it (\`pulumi config rm ${fullKey}\`)`;
    return [`${fullKey}: the namespace "${namespace || "(none)"}" is neither ${raw.project} nor a provider the kit uses (${PROVIDER_NAMESPACES.join(", ")}), so nothing would read it. ${fix}`];
  }
  if (raw.secretKeys.has(fullKey)) return [];
  const out: string[] = [];
  if (CREDENTIAL_KEY.test(key)) {
    out.push(`${fullKey}: is a credential set in plain text, so it is stored unencrypted in Pulumi.${raw.stack}.yaml. Remove it and set it as a secret: \`pulumi config rm ${fullKey} && pulumi config set --secret ${fullKey} <value>\` (for AWS, prefer the role the deploy assumes by OIDC to stored keys)`);
  }
  let parsedValue: unknown;
  try {
    parsedValue = /^[[{]/.test(value.trim()) ? JSON.parse(value) : undefined;
  } catch {
    parsedValue = undefined;
  }
  for (const p of credentialLikePaths(parsedValue, fullKey)) {
    out.push(`${p}: looks like a credential in plain config. Set ${fullKey} as a secret: \`pulumi config set --secret ${fullKey} ...\``);
  }
  return out;
}

/** Paths inside a structured value whose key names a credential. */
function credentialLikePaths(value: unknown, path: string): string[] {
  if (!value || typeof value !== "object") return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    const p = Array.isArray(value) ? `${path}[${k}]` : `${path}.${k}`;
    // Strings only: rotation.adminPassword is a counter, not a password.
    if (!Array.isArray(value) && typeof v === "string" && /(password|passwd|secret|token|api[-_]?key|access[-_]?key|private[-_]?key)$/i.test(k)) out.push(p);
    else out.push(...credentialLikePaths(v, p));
  }
  return out;
}

const KINDS: Record<string, string> = { database: "rds, neon, local", target: "render, hf-space, ecs, local", artifacts: "s3, minio" };

function describeIssue(issue: z.core.$ZodIssue, ns: string, input: Record<string, unknown>): string {
  const [head, ...rest] = issue.path.map(String);
  const key = head === "aws" ? `aws:${rest.join(".")}` : `${ns}${[head, ...rest].join(".")}`;
  switch (issue.code) {
    case "invalid_union":
      if ((issue as { note?: string }).note === "No matching discriminator") {
        return `${key.replace(/\.kind$/, "")}.kind: must be one of ${KINDS[head] ?? "the documented kinds"}. Set it, e.g. \`kind: ${KINDS[head]?.split(", ")[0]}\``;
      }
      return `${key}: ${issue.message}`;
    case "unrecognized_keys":
      return `${key}: has unknown setting${issue.keys.length > 1 ? "s" : ""} ${issue.keys.join(", ")}. Check the spelling against the configuration reference in README.md, or remove ${issue.keys.length > 1 ? "them" : "it"}`;
    case "invalid_value":
      return `${key}: must be one of ${issue.values.map((v) => String(v)).join(", ")}. Pick one of those`;
    case "invalid_type": {
      // zod leaves the input out of its issues: look the value up to tell missing from wrong.
      const given = issue.path.reduce<unknown>((v, k) => (v && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[k] : undefined), input);
      const custom = !issue.message.startsWith("Invalid input");
      return `${key}: ${given === undefined ? "is missing" : custom ? issue.message : `must be ${issue.expected}`}. Set it in Pulumi.<stack>.yaml (see the configuration reference in README.md)`;
    }
    default:
      return `${key}: ${issue.message}. Fix it in Pulumi.<stack>.yaml (see the configuration reference in README.md)`;
  }
}

function closest(word: string, candidates: string[]): string | undefined {
  const dist = (a: string, b: string) => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0][j] = j;
    for (let i = 1; i <= a.length; i++)
      for (let j = 1; j <= b.length; j++)
        d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
    return d[a.length][b.length];
  };
  const best = candidates.map((c) => ({ c, d: dist(word, c) })).sort((x, y) => x.d - y.d)[0];
  return best && best.d <= Math.max(2, Math.floor(word.length / 3)) ? best.c : undefined;
}

/** The config keys as rows of the README's configuration reference (generated, test-checked). */
export function configReference(): Array<{ key: string; type: string; default: string; description: string }> {
  type Row = { key: string; type: string; default: string; description: string };
  const rows: Row[] = [];
  const cell = (v: unknown) => (v === undefined ? "" : JSON.stringify(v));
  // Leaves only: objects recurse, unions recurse into each kind and label its rows "(kind)".
  const walk = (node: any, key: string, kind: string) => {
    const variants = node.anyOf ?? node.oneOf;
    if (variants) {
      const kinds = variants.map((v: any) => v.properties?.kind?.const).filter(Boolean);
      rows.push({ key: `${PROJECT}:${key}.kind`, type: kinds.join(" | "), default: cell(node.default?.kind), description: `Which ${key} to deploy` });
      for (const v of variants) walk(v, key, v.properties?.kind?.const ?? kind);
      return;
    }
    if (node.properties) {
      for (const [k, v] of Object.entries(node.properties as Record<string, any>)) if (k !== "kind") walk(v, `${key}.${k}`, kind);
      return;
    }
    const type = node.enum ? node.enum.join(" | ") : node.type === "array" ? `${node.items?.type ?? "any"}[]` : String(node.type);
    rows.push({ key: `${PROJECT}:${key}${kind ? ` (${kind})` : ""}`, type, default: cell(node.default), description: node.description ?? "" });
  };
  const json = z.toJSONSchema(z.object(plainKeys), { io: "input", unrepresentable: "any" }) as any;
  for (const [k, v] of Object.entries(json.properties as Record<string, any>)) walk(v, k, "");
  for (const [k, d] of Object.entries(SECRET_KEYS)) rows.push({ key: `${PROJECT}:${k}`, type: "secret string", default: "", description: d });
  rows.push({ key: "aws:region", type: "string", default: "", description: "Region of the AWS resources (S3 artifacts, RDS, ECS); a stack without any needs none" });
  return rows;
}

/**
 * Where a key has an effect, from the table settings refuse by (./settings-effect): elsewhere
 * `pulumi up` refuses it (secrets: warns). Empty for keys that act wherever they are accepted.
 */
function actsOn(key: string): string {
  const bare = key.split(" ")[0].replace(/^mlflow-kit:/, "");
  const rule = RULES.find((r) => r.key === bare || bare.startsWith(`${r.key}.`));
  return rule ? `${rule.appliesWhere}${rule.warnOnly ? " (elsewhere: a warning)" : ""}` : "";
}

/** configReference() as the Markdown table README.md carries. */
export function configReferenceMarkdown(): string {
  const esc = (t: string) => t.replace(/\|/g, "\\|"); // a pipe would end the cell
  return ["| key | type | default | description | has an effect only on (refused elsewhere) |", "| --- | --- | --- | --- | --- |",
    ...configReference().map((r) => `| \`${r.key}\` | ${esc(r.type)} | ${r.default ? `\`${r.default}\`` : ""} | ${esc(r.description)} | ${esc(actsOn(r.key))} |`)].join("\n");
}
