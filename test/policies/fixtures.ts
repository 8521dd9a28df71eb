/**
 * Resources as the engine describes them to a policy pack (wire format: secrets as secret
 * objects), compliant with every rule: each rule test breaks one thing. Shapes of the kit's
 * dynamic resources follow the documented inputs (render:Service, hf:Space, neon:Branch).
 */
import { artifactUserPolicy, tlsOnlyBucketPolicy } from "../../infra/artifacts/s3";
import { T, TAG } from "../../policies/resources";
import type { AnalyzedResource } from "../../stacks/policy-check";

export const SIG = "4dabf18193072939515e22adb298388d";
export const secret = (value: unknown) => ({ [SIG]: "1b47061264138c4ac30d75fd1eb44270", value });

export function res(type: string, name: string, properties: Record<string, unknown>, more: Partial<AnalyzedResource> = {}): AnalyzedResource {
  return { urn: `urn:pulumi:test::mlflow-kit::${type}::${name}`, type, name, properties, options: {}, propertyDependencies: {}, dependencies: [], ...more };
}
const keep = { options: { protect: true, retainOnDelete: true } };
const dep = (deps: Record<string, AnalyzedResource[]>) => ({ propertyDependencies: Object.fromEntries(Object.entries(deps).map(([k, rs]) => [k, rs.map((r) => r.urn)])) });

export const inHours = (h: number) => new Date(Date.now() + h * 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z");

/** A long-lived stack with every part: S3, IAM, RDS, a load balancer, ECS with Authelia. */
export function longLived() {
  const tags = { "mlflow-kit:project": "mlflow-kit", "mlflow-kit:stack": "prod", [TAG.lifecycle]: "long-lived" };
  const bucketArn = "arn:aws:s3:::kit-prod-artifacts";
  const bucket = res(T.bucket, "artifacts", { bucket: "kit-prod-artifacts", forceDestroy: false, tags }, keep);
  const dbSg = res(T.securityGroup, "db-sg", { description: "db", vpcId: "vpc-1", tags });
  const appSg = res(T.securityGroup, "app-sg", { description: "app", vpcId: "vpc-1", tags });
  const lbSg = res(T.securityGroup, "lb-sg", { description: "lb", vpcId: "vpc-1", tags });
  const pg = res(T.rdsParameterGroup, "params", { name: "kit-prod-pg16", family: "postgres16", parameters: [{ name: "rds.force_ssl", value: "1", applyMethod: "immediate" }], tags });
  const r = {
    bucket,
    publicAccess: res(T.publicAccessBlock, "public-access", { bucket: "kit-prod-artifacts", blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true }, dep({ bucket: [bucket] })),
    sse: res(T.sse, "sse", { bucket: "kit-prod-artifacts", rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }] }, dep({ bucket: [bucket] })),
    versioning: res(T.versioning, "versioning", { bucket: "kit-prod-artifacts", versioningConfiguration: { status: "Enabled" } }, dep({ bucket: [bucket] })),
    bucketPolicy: res(T.bucketPolicy, "tls-only", { bucket: "kit-prod-artifacts", policy: JSON.stringify(tlsOnlyBucketPolicy(bucketArn)) }, dep({ bucket: [bucket] })),
    lifecycle: res(T.lifecycle, "lifecycle", { bucket: "kit-prod-artifacts", rules: [{ id: "expire-noncurrent-versions", status: "Enabled", filter: {}, noncurrentVersionExpiration: { noncurrentDays: 90 } }] }, dep({ bucket: [bucket] })),
    ownership: res(T.ownershipControls, "ownership", { bucket: "kit-prod-artifacts", rule: { objectOwnership: "BucketOwnerEnforced" } }, dep({ bucket: [bucket] })),
    accessLogs: res(T.bucketLogging, "access-logs", { bucket: "kit-prod-artifacts", targetBucket: "kit-prod-logs", targetPrefix: "s3-access/kit-prod-artifacts/" }, dep({ bucket: [bucket] })),
    user: res(T.iamUser, "user", { name: "kit-prod-artifacts", path: "/mlflow-kit/", tags }),
    userPolicy: res(T.iamUserPolicy, "user-policy", { name: "mlflow-artifacts", user: "kit-prod-artifacts", policy: JSON.stringify(artifactUserPolicy(bucketArn, "mlflow")) }),
    keyBlue: res(T.accessKey, "key-blue", { user: "kit-prod-artifacts" }),
    keyGreen: res(T.accessKey, "key-green", { user: "kit-prod-artifacts" }),
    dbSg, appSg, lbSg, pg,
    dbIngress: res(T.ingressRule, "db-from-app", { securityGroupId: "sg-db", referencedSecurityGroupId: "sg-app", ipProtocol: "tcp", fromPort: 5432, toPort: 5432, tags }, dep({ securityGroupId: [dbSg], referencedSecurityGroupId: [appSg] })),
    db: res(T.rdsInstance, "db", {
      identifier: "kit-prod-db", engine: "postgres", engineVersion: "16", publiclyAccessible: false, storageEncrypted: true, backupRetentionPeriod: 14,
      deletionProtection: true, skipFinalSnapshot: false, finalSnapshotIdentifier: "kit-prod-db-final", deleteAutomatedBackups: false,
      multiAz: true, autoMinorVersionUpgrade: true, copyTagsToSnapshot: true, dbSubnetGroupName: "kit-prod-db",
      enabledCloudwatchLogsExports: ["postgresql", "upgrade"], monitoringInterval: 60, monitoringRoleArn: "arn:aws:iam::123456789012:role/kit-prod-db-monitoring",
      parameterGroupName: "kit-prod-pg16", vpcSecurityGroupIds: ["sg-db"], username: "mlflow_admin", password: secret("m4st3rP4ssw0rdFromRandom"), tags,
    // Like infra/database/rds.ts: protected, retained by its final snapshot, not retainOnDelete.
    }, { options: { protect: true }, ...dep({ parameterGroupName: [pg], vpcSecurityGroupIds: [dbSg] }) }),
    lbHttps: res(T.ingressRule, "lb-https", { securityGroupId: "sg-lb", cidrIpv4: "0.0.0.0/0", ipProtocol: "tcp", fromPort: 443, toPort: 443, tags }, dep({ securityGroupId: [lbSg] })),
    lb: res(T.loadBalancer, "edge", {
      loadBalancerType: "application", internal: false, securityGroups: ["sg-lb"], subnets: ["subnet-a", "subnet-b"], dropInvalidHeaderFields: true,
      enableDeletionProtection: true, accessLogs: { bucket: "kit-prod-logs", prefix: "load-balancer", enabled: true }, tags,
    }, dep({ securityGroups: [lbSg] })),
    logs: res(T.logGroup, "logs", { name: "/ecs/kit-prod", retentionInDays: 30, tags }),
    task: res(T.taskDefinition, "mlflow-task", {
      family: "kit-prod-mlflow", cpu: "1024", memory: "2048", networkMode: "awsvpc", tags,
      containerDefinitions: JSON.stringify([
        {
          name: "mlflow", image: "ghcr.io/example-org/mlflow-kit-server@sha256:0123",
          environment: [{ name: "MLFLOW_AUTH_MODE", value: "proxy" }, { name: "MLFLOW_WORKERS", value: "2" }, { name: "MLFLOW_ARTIFACTS_DESTINATION", value: "s3://kit-prod-artifacts/mlflow" }],
          secrets: [{ name: "MLFLOW_BACKEND_STORE_URI", valueFrom: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:kit-prod-tracking" }],
          logConfiguration: { logDriver: "awslogs", options: { "awslogs-group": "/ecs/kit-prod", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "mlflow" } },
          readonlyRootFilesystem: true, mountPoints: [{ sourceVolume: "tmp", containerPath: "/tmp", readOnly: false }],
        },
        { name: "authelia", image: "authelia/authelia:4.39", readonlyRootFilesystem: true, mountPoints: [{ sourceVolume: "config", containerPath: "/config", readOnly: false }], logConfiguration: { logDriver: "awslogs", options: { "awslogs-group": "/ecs/kit-prod", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "authelia" } } },
      ]),
    }),
    service: res(T.ecsService, "mlflow-service", { desiredCount: 2, launchType: "FARGATE", networkConfiguration: { assignPublicIp: false, subnets: ["subnet-1"], securityGroups: ["sg-app"] }, tags }, dep({ networkConfiguration: [appSg] })),
    // A long-lived server outside AWS (Render) that signs with the artifact user's key: what the
    // user and its two key slots are for (FSBP IAM.2/3/8 allow them only then).
    render: res(T.renderService, "render", {
      name: "kit-prod-render", plan: "standard", region: "frankfurt", numInstances: 1,
      envVars: Object.entries(contract("kit-prod")).map(([key, value]) => ({ key, value: isSecretVar(key) ? secret(value) : value })),
    }),
  };
  return r;
}

/** The runtime contract of a server with MLflow's basic auth, Neon and the artifact user's key. */
const contract = (stack = "kit-dev", auth: "basic" | "proxy" = "basic") => ({
    MLFLOW_BACKEND_STORE_URI: "postgresql://mlflow_app:pw@ep-1.neon.tech/mlflow_tracking?sslmode=require",
    MLFLOW_AUTH_MODE: auth,
    MLFLOW_AUTH_DATABASE_URI: "postgresql://mlflow_app:pw@ep-1.neon.tech/mlflow_auth?sslmode=require",
    MLFLOW_ADMIN_USERNAME: "admin",
    MLFLOW_ADMIN_PASSWORD: "aGeneratedAdminPassword123",
    MLFLOW_FLASK_SERVER_SECRET_KEY: "aGeneratedFlaskSecretKeyOf32CharsAtLeast",
    MLFLOW_ARTIFACTS_DESTINATION: `s3://${stack}-artifacts/mlflow`,
    AWS_ACCESS_KEY_ID: ["AKIA", "EXAMPLEEXAMPLE01"].join("") /* a fake, split so scanners never take it for a key */,
    AWS_SECRET_ACCESS_KEY: "aSecretAccessKeyOfFortyCharactersExample0",
    MLFLOW_WORKERS: "1",
  });
const isSecretVar = (k: string) => /URI|PASSWORD|SECRET|AWS_ACCESS_KEY_ID/.test(k);

/** An ephemeral stack: Neon, the Render, Hugging Face and local Docker targets. */
export function ephemeral() {
  const expires = inHours(168);
  const tags = { "mlflow-kit:project": "mlflow-kit", "mlflow-kit:stack": "dev", [TAG.lifecycle]: "ephemeral", [TAG.expiresAt]: expires };
  const bucket = res(T.bucket, "artifacts", { bucket: "kit-dev-artifacts", forceDestroy: true, tags });
  return {
    bucket,
    publicAccess: res(T.publicAccessBlock, "public-access", { bucket: "kit-dev-artifacts", blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true }, dep({ bucket: [bucket] })),
    sse: res(T.sse, "sse", { bucket: "kit-dev-artifacts", rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }] }, dep({ bucket: [bucket] })),
    bucketPolicy: res(T.bucketPolicy, "tls-only", { bucket: "kit-dev-artifacts", policy: JSON.stringify(tlsOnlyBucketPolicy("arn:aws:s3:::kit-dev-artifacts")) }, dep({ bucket: [bucket] })),
    ownership: res(T.ownershipControls, "ownership", { bucket: "kit-dev-artifacts", rule: { objectOwnership: "BucketOwnerEnforced" } }, dep({ bucket: [bucket] })),
    lifecycle: res(T.lifecycle, "lifecycle", { bucket: "kit-dev-artifacts", rules: [{ id: "abort-incomplete-multipart-uploads", status: "Enabled", filter: {}, abortIncompleteMultipartUpload: { daysAfterInitiation: 3 } }] }, dep({ bucket: [bucket] })),
    branch: res(T.neonBranch, "branch", { projectId: "proj-1", name: "dev", expiresAt: expires }),
    render: res(T.renderService, "render", {
      name: "kit-dev", plan: "free", region: "ohio", numInstances: 1,
      envVars: Object.entries(contract()).map(([key, value]) => ({ key, value: isSecretVar(key) ? secret(value) : value })),
    }),
    // infra/targets/hf-space.ts: a Space, and a release with the contract (secrets as one secret).
    space: res(T.hfSpace, "space", { owner: "acme", name: "kit-demo", visibility: "private", hardware: "cpu-basic" }),
    release: res(T.hfSpaceRelease, "release", {
      repoId: "acme/kit-demo", files: { Dockerfile: "FROM ghcr.io/acme/mlflow-kit-server@sha256:0123" },
      variables: Object.fromEntries(Object.entries(contract()).filter(([k]) => !isSecretVar(k))),
      secrets: secret(Object.fromEntries(Object.entries(contract()).filter(([k]) => isSecretVar(k)))),
    }),
    container: res(T.dockerContainer, "local", {
      name: "kit-local", image: "mlflow-kit-server:local", memory: 1024,
      envs: Object.entries(contract()).map(([k, v]) => (isSecretVar(k) ? secret(`${k}=${v}`) : `${k}=${v}`)),
      ports: [{ internal: 5000, external: 5000, ip: "127.0.0.1", protocol: "tcp" }],
    }),
  };
}

export type Fixture = Record<string, AnalyzedResource>;
export const all = (f: Fixture) => Object.values(f);
/** Change one input of one resource (a deep path, "a.b.0.c"), returning the fixture. */
export function set<F extends Fixture>(f: F, key: keyof F, path: string, value: unknown): F {
  const parts = path.split(".");
  let o: any = f[key].properties;
  for (const p of parts.slice(0, -1)) o = o[p];
  if (value === undefined) delete o[parts.at(-1)!];
  else o[parts.at(-1)!] = value;
  return f;
}
/** Rewrite a JSON-text input (a policy document, container definitions). */
export function editJson<F extends Fixture>(f: F, key: keyof F, input: string, edit: (doc: any) => void): F {
  const doc = JSON.parse(f[key].properties[input] as string);
  edit(doc);
  f[key].properties[input] = JSON.stringify(doc);
  return f;
}
