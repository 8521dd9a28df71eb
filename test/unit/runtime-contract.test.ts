import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { CONTRACT_VARIABLES, contractProblems, requiredVariables, runtimeEnvironment, type RuntimeInputs } from "../../infra/runtime-contract";
import { settleDeep } from "../../stacks/offline";
import { OfflineMocks } from "../../stacks/offline-mocks";

const inputs = (auth: "basic" | "proxy"): RuntimeInputs => ({
  trackingDatabaseUri: pulumi.secret("postgresql://mlflow_app:pw@db.internal:5432/mlflow_tracking?sslmode=require"),
  auth: auth === "proxy" ? { mode: "proxy" } : {
    mode: "basic",
    databaseUri: pulumi.secret("postgresql://mlflow_app:pw@db.internal:5432/mlflow_auth?sslmode=require"),
    adminUsername: "admin",
    adminPassword: pulumi.secret("Admin-password-0123456789"),
    flaskSecretKey: pulumi.secret("k".repeat(64)),
    defaultPermission: "READ",
  },
  artifacts: {
    destination: pulumi.output("s3://mlflow-kit-prod-artifacts/mlflow"),
    region: "eu-west-1",
    accessKey: auth === "proxy" ? undefined : { id: pulumi.secret("AKIDEXAMPLEEXAMPLE12"), secret: pulumi.secret("s".repeat(40)) },
  },
  server: { publicHostname: "mlflow.example.com", port: 5000, workers: 2, migrate: auth === "proxy" ? "off" : "auto", corsAllowedOrigins: ["https://app.example.com"] },
});

beforeAll(async () => {
  await pulumi.runtime.setMocks(new OfflineMocks(), "mlflow-kit", "test", false);
});

describe("runtime contract (infra side)", () => {
  it.each(["basic", "proxy"] as const)("%s: every variable is declared, every required one present, values valid", async (mode) => {
    const env = runtimeEnvironment(inputs(mode));
    const plain = (await settleDeep(env, true)) as Record<string, string>;
    for (const name of requiredVariables(mode)) expect(plain).toHaveProperty(name);
    expect(contractProblems(plain)).toEqual([]);
    if (mode === "proxy") {
      expect(plain).not.toHaveProperty("MLFLOW_AUTH_DATABASE_URI");
      expect(plain).not.toHaveProperty("MLFLOW_ADMIN_PASSWORD");
      expect(plain).not.toHaveProperty("AWS_ACCESS_KEY_ID");
    } else {
      expect(plain.MLFLOW_CORS_ALLOWED_ORIGINS).toBe("https://app.example.com");
      expect(plain.MLFLOW_WORKERS).toBe("2");
    }
  });

  it("a direct (non-pooled) database host reaches the container as MLFLOW_DB_DIRECT_HOST; the URIs stay as given", async () => {
    const plain = (await settleDeep(runtimeEnvironment({ ...inputs("basic"), databaseDirectHost: "ep-cool-123.us-east-2.aws.neon.tech" }), true)) as Record<string, string>;
    expect(plain.MLFLOW_DB_DIRECT_HOST).toBe("ep-cool-123.us-east-2.aws.neon.tech");
    expect(plain.MLFLOW_BACKEND_STORE_URI).toContain("@db.internal:5432/");
    expect(contractProblems(plain)).toEqual([]);
    expect(contractProblems({ ...plain, MLFLOW_DB_DIRECT_HOST: "postgresql://u:p@h/db" })).toEqual([expect.stringMatching(/^MLFLOW_DB_DIRECT_HOST: does not match/)]);
    expect(contractProblems({ ...plain, MLFLOW_DB_DIRECT_HOST: "db.internal:6432" })).toEqual([]);
    // Unset: no variable, and the entrypoint uses the URIs for everything.
    expect((await settleDeep(runtimeEnvironment(inputs("basic")), true)) as Record<string, string>).not.toHaveProperty("MLFLOW_DB_DIRECT_HOST");
  });

  it("every variable the contract marks secret is a Pulumi secret, the others are not", async () => {
    const env = runtimeEnvironment(inputs("basic"));
    for (const [name, value] of Object.entries(env)) {
      const declared = CONTRACT_VARIABLES.find((v) => v.name === name)!;
      expect(await pulumi.isSecret(value), name).toBe(declared.secret);
    }
  });

  it("a plain input to a secret variable still comes out secret", async () => {
    const i = inputs("basic");
    i.trackingDatabaseUri = "postgresql://mlflow_app:pw@db.internal:5432/mlflow_tracking";
    expect(await pulumi.isSecret(runtimeEnvironment(i).MLFLOW_BACKEND_STORE_URI)).toBe(true);
  });

  it("MLFLOW_ALLOW_MAJOR_UPGRADE is set only when a stack allows the 2.x -> 3.x jump, and valid then", async () => {
    const plain = async (i: RuntimeInputs) => (await settleDeep(runtimeEnvironment(i), true)) as Record<string, string>;
    expect(await plain(inputs("basic"))).not.toHaveProperty("MLFLOW_ALLOW_MAJOR_UPGRADE");
    const i = inputs("basic");
    i.server.allowMajorUpgrade = true;
    const env = await plain(i);
    expect(env.MLFLOW_ALLOW_MAJOR_UPGRADE).toBe("true");
    expect(contractProblems(env)).toEqual([]);
    expect(contractProblems({ ...env, MLFLOW_ALLOW_MAJOR_UPGRADE: "yes" })).toEqual(["MLFLOW_ALLOW_MAJOR_UPGRADE: not one of true, false"]);
  });

  it("contractProblems catches what the image would refuse, without echoing values", () => {
    const problems = contractProblems({ MLFLOW_BACKEND_STORE_URI: "sqlite:///tmp/x.db", MLFLOW_ADMIN_PASSWORD: "short", PORT: "0", NOT_A_VAR: "x" });
    const text = problems.join("\n");
    expect(text).toMatch(/MLFLOW_BACKEND_STORE_URI: does not match/);
    expect(text).toMatch(/MLFLOW_ADMIN_PASSWORD: shorter than 12/);
    expect(text).toMatch(/PORT: does not match/);
    expect(text).toMatch(/NOT_A_VAR: not in the contract/);
    expect(text).toMatch(/MLFLOW_ARTIFACTS_DESTINATION: required/);
    expect(text).not.toContain("sqlite:///tmp/x.db");
  });
});
