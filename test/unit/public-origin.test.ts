/**
 * The public host and origin each target hands the image (infra side of the runtime contract).
 * MLflow 3.17 refuses a state-changing request whose Origin is neither loopback nor allowed,
 * and the UI sends its reads as POST: the image allows <MLFLOW_PUBLIC_SCHEME>://<host>
 * (images/mlflow/entrypoint.py, public_origins; test/image/test_public_origin.py runs the same
 * stacks' env through it), so each target must give the host and scheme browsers really use.
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { contractProblems, stackRuntimeEnvironment, type DeployedParts } from "../../infra/runtime-contract";
import { parseSettings, SettingsError } from "../../infra/settings";
import { settleDeep } from "../../stacks/offline";
import { OfflineMocks } from "../../stacks/offline-mocks";
import { readStackConfig } from "../../stacks/stack-config";

const parts: DeployedParts = {
  trackingDatabaseUri: "postgresql://mlflow_app:pw@db.internal:5432/mlflow_tracking",
  authDatabaseUri: "postgresql://mlflow_app:pw@db.internal:5432/mlflow_auth",
  adminPassword: "Admin-password-0123456789",
  flaskSecretKey: "k".repeat(64),
  artifactsDestination: "s3://mlflow-kit-artifacts/mlflow",
  artifactsRegion: "eu-west-1",
  accessKey: { id: "AKIDEXAMPLEEXAMPLE12", secret: "s".repeat(40) },
};

/** A stack's config from its Pulumi.<stack>.yaml, with `change` applied to its values. */
function settings(stack: string, change: (values: Record<string, unknown>) => void = () => {}) {
  const cfg = readStackConfig(stack);
  const values: Record<string, unknown> = Object.fromEntries(Object.entries(cfg.config).map(([k, v]) => [k, JSON.parse(JSON.stringify(v))]));
  change(values);
  const raw = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
  return parseSettings({ project: cfg.project, stack: cfg.stack, values: raw, secretKeys: new Set(cfg.secretKeys) }, { allowUnsupported: true });
}

async function env(stack: string, change?: (values: Record<string, unknown>) => void) {
  const e = (await settleDeep(stackRuntimeEnvironment(settings(stack, change), parts), true)) as Record<string, string>;
  expect(contractProblems(e)).toEqual([]);
  return e;
}

function target(values: Record<string, unknown>) {
  const raw = values["mlflow-kit:target"];
  return (typeof raw === "string" ? JSON.parse(raw) : raw) as Record<string, unknown>;
}

beforeAll(async () => {
  await pulumi.runtime.setMocks(new OfflineMocks(), "mlflow-kit", "test", false);
});

describe("the public host and origin per target", () => {
  it("render (dev): https://<service>.onrender.com, nothing else", async () => {
    const e = await env("dev");
    expect(e).toMatchObject({ MLFLOW_PUBLIC_HOSTNAME: "mlflow-kit-dev.onrender.com", MLFLOW_PUBLIC_SCHEME: "https" });
    expect(e).not.toHaveProperty("MLFLOW_CORS_ALLOWED_ORIGINS");
  });

  it("render with a custom domain: https://<domain>", async () => {
    const e = await env("dev", (v) => { v["mlflow-kit:target"] = { ...target(v), domain: "mlflow.example.com" }; });
    expect(e).toMatchObject({ MLFLOW_PUBLIC_HOSTNAME: "mlflow.example.com", MLFLOW_PUBLIC_SCHEME: "https" });
  });

  it("hf-space (demo): https://<owner>-<space>.hf.space", async () => {
    const e = await env("demo");
    expect(e).toMatchObject({ MLFLOW_PUBLIC_HOSTNAME: "example-org-mlflow-kit-demo.hf.space", MLFLOW_PUBLIC_SCHEME: "https" });
    expect(e).not.toHaveProperty("MLFLOW_CORS_ALLOWED_ORIGINS");
  });

  it("ecs (prod): https://<target.domain>", async () => {
    const e = await env("prod");
    expect(e).toMatchObject({ MLFLOW_PUBLIC_HOSTNAME: "mlflow.example.com", MLFLOW_PUBLIC_SCHEME: "https" });
    expect(e).not.toHaveProperty("MLFLOW_CORS_ALLOWED_ORIGINS");
  });

  it("local: http on the published port (http://localhost:<port>, http://127.0.0.1:<port>)", async () => {
    const e = await env("local");
    expect(e).toMatchObject({ MLFLOW_PUBLIC_HOSTNAME: "localhost", MLFLOW_PUBLIC_SCHEME: "http", PORT: "5000" });
  });

  it("server.corsAllowedOrigins adds origins beside the public one", async () => {
    const e = await env("dev", (v) => { v["mlflow-kit:server"] = { corsAllowedOrigins: ["https://app.example.com", "http://localhost:3000"] }; });
    expect(e.MLFLOW_CORS_ALLOWED_ORIGINS).toBe("https://app.example.com,http://localhost:3000");
    expect(e.MLFLOW_PUBLIC_SCHEME).toBe("https");
  });

  it.each([
    ["https://app.example.com/", "trailing slash"],
    ["https://app.example.com/ui", "path"],
    ["https://App.example.com", "upper case"],
    ["https://*.example.com", "wildcard"],
    ["*", "wildcard"],
    ["https://app.example.com:443", "default port"],
    ["ftp://app.example.com", "scheme"],
  ])("server.corsAllowedOrigins refuses %s (%s): a browser never sends it, or it opens every origin", (origin) => {
    let error: unknown;
    try {
      settings("dev", (v) => { v["mlflow-kit:server"] = { corsAllowedOrigins: [origin] }; });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(SettingsError);
    expect((error as SettingsError).problems.join("\n")).toMatch(/server\.corsAllowedOrigins\.0.*must be an origin exactly as a browser sends it/);
  });
});
