/**
 * The shipped stacks, evaluated the way the offline plan does (the same program, settings and
 * mocks): what each creates, and that no credential ever leaves as a plain value.
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { plan } from "../../stacks/plan";
import type { EvaluatedStack, PlannedResource } from "../../stacks/offline";

let prod: EvaluatedStack & { skipped: string[] };
const byType = (e: EvaluatedStack, type: string): PlannedResource[] => e.resources.filter((r) => r.type === type);

beforeAll(async () => {
  prod = await plan("prod");
});

describe("prod (rds, long-lived)", () => {
  it("creates the artifact store, without an IAM user or keys: the ECS tasks sign with their role", () => {
    const bucket = byType(prod, "aws:s3/bucket:Bucket").find((b) => /-art-/.test(String(b.inputs.bucket)))!;
    // Unique per account: the offline account id is part of the name.
    expect(bucket.inputs.bucket).toBe("mlflow-kit-prod-art-123456789012");
    expect(bucket.inputs.forceDestroy).toBeFalsy();
    expect(bucket.options).toMatchObject({ protect: true, retainOnDelete: true });
    // FSBP IAM.2, IAM.3, IAM.8: no user with a policy, no long-lived keys nothing uses.
    expect(byType(prod, "aws:iam/user:User")).toEqual([]);
    expect(byType(prod, "aws:iam/accessKey:AccessKey")).toEqual([]);
    expect(prod.rawOutputs.activeAccessKeyId).toBeUndefined();
  });

  it("creates a private, encrypted, protected RDS instance and the bootstrap of its role and databases", () => {
    const [db] = byType(prod, "aws:rds/instance:Instance");
    expect(db.inputs).toMatchObject({ identifier: "mlflow-kit-prod-db", engine: "postgres", storageEncrypted: true, publiclyAccessible: false, deletionProtection: true, multiAz: true, backupRetentionPeriod: 14, instanceClass: "db.t4g.small" });
    // Protected, not retained: `pulumi destroy` after decommissioning deletes it with a final snapshot.
    expect(db.options).toMatchObject({ protect: true });
    expect(db.options.retainOnDelete).toBeFalsy();
    expect(byType(prod, "aws:rds/subnetGroup:SubnetGroup")).toHaveLength(1);
    expect(byType(prod, "aws:ec2/securityGroup:SecurityGroup").length).toBeGreaterThanOrEqual(1);
    const [invocation] = byType(prod, "pulumi-nodejs:dynamic/aws:FunctionInvocation");
    expect(invocation.inputs.input).toBe("[secret]");
  });

  it("builds the image for GHCR", () => {
    const [image] = byType(prod, "docker:index/image:Image");
    expect(String(image.inputs.imageName)).toMatch(/^ghcr\.io\/example-org\/mlflow-kit-server:/);
  });

  it("deploys the ECS target: the tracking URI is the domain, the API user's password a secret", () => {
    expect(prod.skipped).toEqual([]);
    expect(prod.outputs.trackingUri).toBe("https://mlflow.example.com");
    expect(prod.outputs).toMatchObject({ portalUrl: "https://auth.example.com", apiUsername: "mlflow-api", apiPassword: "[secret]" });
    expect(byType(prod, "aws:ecs/service:Service").map((r) => r.inputs.name).sort()).toEqual(["authelia", "mlflow", "traefik"]);
  });

  it("every credential among the outputs is a Pulumi secret", async () => {
    const credential = /password|secret|token|key|uri|env/i;
    // trackingUri is the public https URL, not a connection string.
    const names = Object.keys(prod.rawOutputs).filter((k) => credential.test(k) && k !== "trackingUri" && prod.rawOutputs[k] !== undefined);
    expect(names).toEqual(expect.arrayContaining(["adminPassword", "trackingDatabaseUri", "authDatabaseUri", "envFile", "apiPassword"]));
    for (const name of names) expect(await pulumi.isSecret(prod.rawOutputs[name] as pulumi.Output<unknown>), name).toBe(true);
    for (const name of names) expect(prod.outputs[name], name).toBe("[secret]");
  });

  it("no secret value appears anywhere in the plan", async () => {
    const revealed = await plan("prod", { revealSecrets: true });
    const secrets = ["adminPassword", "trackingDatabaseUri", "envFile"].map((k) => String(revealed.outputs[k]));
    const password = /^postgresql:\/\/mlflow_app:([^@]+)@/.exec(secrets[1])![1];
    const visible = JSON.stringify({ resources: prod.resources.map(({ urn, inputs }) => ({ urn, inputs })), outputs: prod.outputs });
    for (const s of [secrets[0], decodeURIComponent(password)]) expect(visible).not.toContain(s);
    // The env file carries the whole contract, secrets included, and is itself secret.
    expect(secrets[2]).toMatch(/^MLFLOW_AUTH_MODE=basic$/m);
    expect(secrets[2]).not.toMatch(/^AWS_ACCESS_KEY_ID=/m);
  });
});

describe("dev (neon + render, long-lived: the shared environment every merge deploys)", () => {
  let dev: Awaited<ReturnType<typeof plan>>;
  beforeAll(async () => {
    dev = await plan("dev");
  });

  it("keeps its artifact store: protected, retained, never force-destroyed", () => {
    // Beside it, long-lived: the log bucket its access logs go to (FSBP S3.9).
    expect(byType(dev, "aws:s3/bucket:Bucket").map((b) => b.inputs.bucket).sort()).toEqual(["mlflow-kit-dev-art-123456789012", "mlflow-kit-dev-logs-123456789012"]);
    const bucket = byType(dev, "aws:s3/bucket:Bucket").find((b) => b.inputs.bucket === "mlflow-kit-dev-art-123456789012")!;
    expect(bucket.inputs).toMatchObject({ bucket: "mlflow-kit-dev-art-123456789012", forceDestroy: false });
    expect(bucket.options).toMatchObject({ protect: true, retainOnDelete: true });
    expect(byType(dev, "aws:iam/accessKey:AccessKey")).toHaveLength(2);
  });

  it("puts the metadata on a protected Neon branch of its own project, without expiry", () => {
    expect(byType(dev, "aws:rds/instance:Instance")).toHaveLength(0);
    const [project] = byType(dev, "pulumi-nodejs:dynamic/neon:Project");
    expect(project.inputs).toMatchObject({ name: "mlflow-kit-dev", regionId: "aws-us-east-2" });
    const [branch] = byType(dev, "pulumi-nodejs:dynamic/neon:Branch");
    expect(branch.inputs).toMatchObject({ name: "mlflow-kit-dev" });
    expect(branch.inputs.expiresAt).toBeUndefined();
    expect(branch.options.protect).toBe(true);
    expect(byType(dev, "pulumi-nodejs:dynamic/neon:Database").map((d) => d.inputs.name).sort()).toEqual(["mlflow_auth", "mlflow_tracking"]);
    expect(dev.skipped.join("\n")).not.toMatch(/database\.kind/);
  });

  it("runs the Render target on that database (nothing left out)", () => {
    expect(dev.skipped).toEqual([]);
    expect(dev.resources.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/render:")).length).toBeGreaterThan(0);
  });

  it("plans no __provider code (the serialized providers are not settings)", async () => {
    const { planJson, planText } = await import("../../stacks/plan");
    expect(planText(dev)).not.toContain("__provider");
    expect(planJson(dev)).not.toContain("__provider");
  });

  it("leaves the providers' code unserialized offline (test/providers serializes each), and puts Pulumi's serializer back", async () => {
    const { OFFLINE_PROVIDER } = await import("../../stacks/offline");
    const dynamic = dev.resources.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/"));
    expect(dynamic.length).toBeGreaterThan(0);
    for (const r of dynamic) expect(r.analyzer.properties.__provider, r.urn).toBe(OFFLINE_PROVIDER);
    const closure = require("@pulumi/pulumi/runtime/closure/serializeClosure") as { serializeFunction(f: () => unknown): Promise<{ text: string }> };
    const serialized = await closure.serializeFunction(() => 42);
    expect(serialized.text).toContain("42");
    expect(serialized.text).not.toBe(OFFLINE_PROVIDER);
  });

  it("keeps its credentials secret", async () => {
    for (const name of ["adminPassword", "activeAccessKeyId", "trackingDatabaseUri", "authDatabaseUri", "envFile"]) {
      expect(await pulumi.isSecret(dev.rawOutputs[name] as pulumi.Output<unknown>), name).toBe(true);
    }
  });
});

describe("demo (neon + hugging face space, ephemeral)", () => {
  let demo: Awaited<ReturnType<typeof plan>>;
  beforeAll(async () => {
    demo = await plan("demo", { strict: true });
  });

  it("plans the whole environment: Neon branch, the Space and its release, nothing left out", () => {
    expect(demo.skipped).toEqual([]);
    const [space] = byType(demo, "pulumi-nodejs:dynamic/hf:Space");
    expect(space.inputs).toMatchObject({ owner: "example-org", name: "mlflow-kit-demo", hardware: "cpu-basic" });
    expect(space.options.protect).toBeFalsy();
    expect(byType(demo, "pulumi-nodejs:dynamic/hf:SpaceRelease")).toHaveLength(1);
    const [branch] = byType(demo, "pulumi-nodejs:dynamic/neon:Branch");
    expect(branch.inputs.expiresAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:00:00Z$/);
  });

  it("serves on the Space's own host, which MLflow is told to accept", async () => {
    expect(demo.outputs.trackingUri).toBe("https://example-org-mlflow-kit-demo.hf.space");
    const revealed = await plan("demo", { strict: true, revealSecrets: true });
    const [release] = byType(revealed, "pulumi-nodejs:dynamic/hf:SpaceRelease");
    expect(release.inputs.variables).toMatchObject({ MLFLOW_PUBLIC_HOSTNAME: "example-org-mlflow-kit-demo.hf.space", PORT: "7860", MLFLOW_AUTH_MODE: "basic" });
  });

  it("every credential the Space receives is a Pulumi secret, as a Space secret", async () => {
    const [release] = byType(demo, "pulumi-nodejs:dynamic/hf:SpaceRelease");
    expect(release.inputs.secrets).toBe("[secret]");
    const revealed = await plan("demo", { strict: true, revealSecrets: true });
    const [open] = byType(revealed, "pulumi-nodejs:dynamic/hf:SpaceRelease");
    const secrets = open.inputs.secrets as Record<string, string>;
    for (const name of ["MLFLOW_BACKEND_STORE_URI", "MLFLOW_AUTH_DATABASE_URI", "MLFLOW_ADMIN_PASSWORD", "MLFLOW_FLASK_SERVER_SECRET_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]) {
      expect(secrets[name], name).toBeTruthy();
      expect(open.inputs.variables as Record<string, string>).not.toHaveProperty(name);
    }
    // Neon's pooled URIs require TLS.
    expect(secrets.MLFLOW_BACKEND_STORE_URI).toMatch(/sslmode=require/);
    for (const name of ["adminPassword", "trackingDatabaseUri", "authDatabaseUri", "envFile"]) {
      expect(await pulumi.isSecret(demo.rawOutputs[name] as pulumi.Output<unknown>), name).toBe(true);
    }
  });
});
