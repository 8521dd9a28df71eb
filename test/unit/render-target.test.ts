/**
 * The Render target of the dev stack under mocks: the settings of Pulumi.dev.yaml, the runtime
 * contract the deployment computes from them, and the RenderTarget it feeds. Also: the types
 * generated from Render's OpenAPI document are current.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { CONTRACT_VARIABLES, stackRuntimeEnvironment } from "../../infra/runtime-contract";
import { loadSettings } from "../../infra/settings";
import { targetProfile } from "../../infra/targets/profile";
import { RenderTarget } from "../../infra/targets/render";
import { evaluateStack, type EvaluatedStack, type PlannedResource } from "../../stacks/offline";
import { readStackConfig } from "../../stacks/stack-config";

const ROOT = path.resolve(__dirname, "..", "..");
const SECRET_PARTS = {
  trackingDatabaseUri: "postgresql://mlflow_app:" + "trackingDbPassw0rd" + "@ep-dev.neon.tech/mlflow?sslmode=require",
  authDatabaseUri: "postgresql://mlflow_app:" + "authDbPassw0rd0" + "@ep-dev.neon.tech/mlflow_auth?sslmode=require",
  adminPassword: "admin-" + "passw0rd-0123456789",
  flaskSecretKey: "flask-" + "secret-key-0123456789-0123456789",
  accessKey: { id: ["AKIA", "OFFLINE000000000"].join(""), secret: "aws-" + "secret-0123456789abcdef" },
};

let dev: EvaluatedStack;
let revealed: EvaluatedStack;
let hostname: string;
const byType = (e: EvaluatedStack, type: string): PlannedResource[] => e.resources.filter((r) => r.type === type);

/** The dev stack's Render target, fed the contract the deployment computes for dev. */
async function evaluateDevTarget(revealSecrets: boolean): Promise<EvaluatedStack> {
  const cfg = readStackConfig("dev", {});
  return evaluateStack({
    project: cfg.project, stack: "dev", config: cfg.config, secretKeys: cfg.secretKeys, revealSecrets,
    program: () => {
      const s = loadSettings({ allowUnsupported: true });
      if (s.target.kind !== "render") throw new Error("Pulumi.dev.yaml: expected target.kind render");
      hostname = targetProfile(s).publicHostname;
      const environment = stackRuntimeEnvironment(s, {
        trackingDatabaseUri: pulumi.secret(SECRET_PARTS.trackingDatabaseUri),
        authDatabaseUri: pulumi.secret(SECRET_PARTS.authDatabaseUri),
        adminPassword: pulumi.secret(SECRET_PARTS.adminPassword),
        flaskSecretKey: pulumi.secret(SECRET_PARTS.flaskSecretKey),
        artifactsDestination: "s3://mlflow-kit-dev-artifacts/mlflow",
        artifactsRegion: "us-east-1",
        accessKey: { id: pulumi.secret(SECRET_PARTS.accessKey.id), secret: pulumi.secret(SECRET_PARTS.accessKey.secret) },
      });
      const target = new RenderTarget("mlflow-render", {
        serviceName: s.target.serviceName ?? s.namePrefix, ownerId: s.target.ownerId, region: s.target.region, plan: s.target.plan, domain: s.target.domain,
        imageRef: "ghcr.io/example-org/mlflow-kit-server@sha256:" + "a".repeat(64),
        registry: { username: s.image.owner!, token: s.secrets.ghcrToken! },
        environment, deployTimeoutMinutes: s.target.deployTimeoutMinutes,
      });
      return { url: target.url };
    },
  });
}

beforeAll(async () => {
  dev = await evaluateDevTarget(false);
  revealed = await evaluateDevTarget(true);
});

describe("dev: the Render target", () => {
  it("a free web service on Render, one instance, one worker, health check /health, the image by digest", () => {
    const [service] = byType(dev, "pulumi-nodejs:dynamic/render:Service");
    expect(service.inputs).toMatchObject({
      name: "mlflow-kit-dev", region: "ohio", plan: "free", numInstances: 1, healthCheckPath: "/health",
      imagePath: "ghcr.io/example-org/mlflow-kit-server@sha256:" + "a".repeat(64), hostnameEnvKey: "MLFLOW_PUBLIC_HOSTNAME", deployTimeoutSeconds: 1200,
    });
    const env = service.inputs.envVars as Array<{ key: string; value: string }>;
    expect(env.find((e) => e.key === "MLFLOW_WORKERS")!.value).toBe("1");
    expect(env.find((e) => e.key === "MLFLOW_MIGRATE")!.value).toBe("auto");
    expect(env.find((e) => e.key === "MLFLOW_AUTH_MODE")!.value).toBe("basic");
    // The host the env allows is the one the service URL has.
    expect(env.find((e) => e.key === "MLFLOW_PUBLIC_HOSTNAME")!.value).toBe("mlflow-kit-dev.onrender.com");
    expect(hostname).toBe("mlflow-kit-dev.onrender.com");
    expect(dev.outputs.url).toBe("https://mlflow-kit-dev.onrender.com");
  });

  it("every env var the contract marks secret is a Pulumi secret, and only those are hidden", () => {
    const [service] = byType(dev, "pulumi-nodejs:dynamic/render:Service");
    const env = service.inputs.envVars as Array<{ key: string; value: string }>;
    const secretNames = new Set(CONTRACT_VARIABLES.filter((v) => v.secret).map((v) => v.name));
    const present = env.filter((e) => secretNames.has(e.key)).map((e) => e.key).sort();
    expect(present).toEqual(["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "MLFLOW_ADMIN_PASSWORD", "MLFLOW_AUTH_DATABASE_URI", "MLFLOW_BACKEND_STORE_URI", "MLFLOW_FLASK_SERVER_SECRET_KEY"]);
    for (const e of env) expect(e.value === "[secret]", e.key).toBe(secretNames.has(e.key));
  });

  it("the GHCR token reaches the registry credential as a secret, in the same workspace as the service", async () => {
    const [cred] = byType(dev, "pulumi-nodejs:dynamic/render:RegistryCredential");
    expect(cred.inputs).toMatchObject({ name: "mlflow-kit-dev-ghcr", registry: "GITHUB", username: "example-org", authToken: "[secret]" });
    const resource = cred.resource as unknown as { authToken: pulumi.Output<string> };
    expect(await pulumi.isSecret(resource.authToken)).toBe(true);
    const [service] = byType(dev, "pulumi-nodejs:dynamic/render:Service");
    expect(service.inputs.registryCredentialId).toMatch(/^rgc-/);
    expect(service.inputs.ownerId).toBe("tea-offline0000000000");
  });

  it("no secret value appears in any plain input, and the provider text holds no token", () => {
    const visible = JSON.stringify(dev.resources.map(({ urn, inputs }) => ({ urn, inputs })));
    for (const s of [SECRET_PARTS.trackingDatabaseUri, SECRET_PARTS.adminPassword, SECRET_PARTS.flaskSecretKey, SECRET_PARTS.accessKey.secret, "offline-placeholder-ghcrToken", "offline-placeholder-renderApiKey"]) {
      expect(visible).not.toContain(s);
    }
    // Revealed, the secrets are there: the check above could fail.
    expect(JSON.stringify(revealed.resources.map((r) => r.inputs))).toContain(SECRET_PARTS.adminPassword);
  });

  it("types: a component parenting both dynamic resources", () => {
    const [component] = byType(dev, "mlflow-kit:target:RenderTarget");
    for (const t of ["pulumi-nodejs:dynamic/render:RegistryCredential", "pulumi-nodejs:dynamic/render:Service"]) {
      expect(byType(dev, t).map((r) => r.parent)).toEqual([component.urn]);
    }
  });
});

describe("dev: the whole stack as `pulumi up` plans it (Neon + Render, --strict)", () => {
  it("runs the Render service on the Neon database: free, one instance, one worker, every contract secret hidden", async () => {
    const { plan } = await import("../../stacks/plan");
    const p = await plan("dev", { strict: true });
    expect(p.skipped).toEqual([]);
    const [service] = byType(p, "pulumi-nodejs:dynamic/render:Service");
    expect(service.inputs).toMatchObject({ name: "mlflow-kit-dev", plan: "free", numInstances: 1, region: "ohio", healthCheckPath: "/health" });
    const env = service.inputs.envVars as Array<{ key: string; value: string }>;
    const secretNames = new Set(CONTRACT_VARIABLES.filter((v) => v.secret).map((v) => v.name));
    for (const e of env) expect(e.value === "[secret]", e.key).toBe(secretNames.has(e.key));
    expect(env.find((e) => e.key === "MLFLOW_WORKERS")!.value).toBe("1");
    expect(env.map((e) => e.key)).toEqual(expect.arrayContaining(["MLFLOW_BACKEND_STORE_URI", "MLFLOW_AUTH_DATABASE_URI", "MLFLOW_ADMIN_PASSWORD"]));
    expect(p.outputs.trackingUri).toBe("https://mlflow-kit-dev.onrender.com");
  });
});

describe("infra/providers/render/openapi.d.ts", () => {
  it("is what openapi-typescript generates from openapi.json (npm run gen:render)", () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "render-types-")), "openapi.d.ts");
    const r = spawnSync(path.join(ROOT, "node_modules", ".bin", "openapi-typescript"), [path.join(ROOT, "infra/providers/render/openapi.json"), "-o", out], { encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readFileSync(out, "utf8") === fs.readFileSync(path.join(ROOT, "infra/providers/render/openapi.d.ts"), "utf8"), "run npm run gen:render and commit the result").toBe(true);
  });
});
