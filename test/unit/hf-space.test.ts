/** The Hugging Face target under mocks: what it asks the Hub for, and that credentials stay secrets. */
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import { describe, expect, it } from "vitest";
import { CONTRACT_VARIABLES, runtimeEnvironment } from "../../infra/runtime-contract";
import { HfSpaceTarget } from "../../infra/targets/hf-space";
import { evaluateStack, SECRET, type EvaluatedStack } from "../../stacks/offline";

const IMAGE = `ghcr.io/acme/mlflow-kit-server@sha256:${"ab".repeat(32)}`;
const PASSWORD = "AdminPw-unit-0123456789";

function evaluate(lifecycle: "ephemeral" | "long-lived", reveal = false): Promise<EvaluatedStack> {
  return evaluateStack({
    project: "mlflow-kit", stack: "demo", config: {}, secretKeys: [], revealSecrets: reveal,
    program: () => {
      const environment = runtimeEnvironment({
        trackingDatabaseUri: pulumi.secret("postgresql://app:DbPw-1@ep.neon.tech/mlflow_tracking?sslmode=require"),
        auth: { mode: "basic", databaseUri: pulumi.secret("postgresql://app:DbPw-1@ep.neon.tech/mlflow_auth?sslmode=require"), adminUsername: "admin", adminPassword: PASSWORD, flaskSecretKey: "f".repeat(64), defaultPermission: "READ" },
        artifacts: { destination: "s3://bucket/mlflow", region: "us-east-1", accessKey: { id: "AKIDEXAMPLE", secret: "aws-secret-value-1" } },
        server: { publicHostname: "acme-mlflow-kit-demo.hf.space", port: 7860, workers: 1, migrate: "auto" },
      });
      const t = new HfSpaceTarget("mlflow-hf-space", {
        owner: "acme", spaceName: "mlflow-kit-demo", visibility: "public", hardware: "cpu-basic", lifecycle,
        environment, imageRef: IMAGE, repository: "ghcr.io/acme/mlflow-kit-server",
        publicHostname: "acme-mlflow-kit-demo.hf.space", appPort: 7860, title: "MLflow (mlflow-kit-demo)",
      });
      return { url: t.url };
    },
  });
}

const one = (e: EvaluatedStack, type: string) => {
  const found = e.resources.filter((r) => r.type === type);
  expect(found).toHaveLength(1);
  return found[0];
};

describe("HfSpaceTarget", () => {
  it("a Docker Space with the chosen owner, name, visibility and hardware; protected only when long-lived", async () => {
    const e = await evaluate("ephemeral");
    const space = one(e, "pulumi-nodejs:dynamic/hf:Space");
    expect(space.inputs).toMatchObject({ owner: "acme", name: "mlflow-kit-demo", visibility: "public", hardware: "cpu-basic", apiUrl: "https://huggingface.co" });
    expect(space.options.protect).toBeFalsy();
    expect(one(await evaluate("long-lived"), "pulumi-nodejs:dynamic/hf:Space").options.protect).toBe(true);
    expect(e.outputs.url).toBe("https://acme-mlflow-kit-demo.hf.space");
  });

  it("every variable the contract marks secret is a Space secret, as a Pulumi secret; the rest are variables", async () => {
    const hidden = one(await evaluate("ephemeral"), "pulumi-nodejs:dynamic/hf:SpaceRelease");
    expect(hidden.inputs.secrets).toBe(SECRET);
    expect(JSON.stringify(hidden.inputs)).not.toContain(PASSWORD);

    const release = one(await evaluate("ephemeral", true), "pulumi-nodejs:dynamic/hf:SpaceRelease");
    const secrets = release.inputs.secrets as Record<string, string>;
    const variables = release.inputs.variables as Record<string, string>;
    const secretNames = CONTRACT_VARIABLES.filter((v) => v.secret).map((v) => v.name);
    expect(Object.keys(secrets).sort()).toEqual(["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "MLFLOW_ADMIN_PASSWORD", "MLFLOW_AUTH_DATABASE_URI", "MLFLOW_BACKEND_STORE_URI", "MLFLOW_FLASK_SERVER_SECRET_KEY"].filter((n) => secretNames.includes(n)).sort());
    for (const name of Object.keys(variables)) expect(secretNames).not.toContain(name);
    expect(variables).toMatchObject({ PORT: "7860", MLFLOW_WORKERS: "1", MLFLOW_AUTH_MODE: "basic", MLFLOW_PUBLIC_HOSTNAME: "acme-mlflow-kit-demo.hf.space" });
    expect(secrets.MLFLOW_ADMIN_PASSWORD).toBe(PASSWORD);
  });

  it("the Space's files build FROM the image digest and route to app_port 7860", async () => {
    const release = one(await evaluate("ephemeral"), "pulumi-nodejs:dynamic/hf:SpaceRelease");
    const files = release.inputs.files as Record<string, string>;
    expect(files.Dockerfile).toMatch(new RegExp(`^FROM ${IMAGE.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}$`, "m"));
    const front = parseYaml(files["README.md"].split("---")[1]);
    expect(front).toMatchObject({ sdk: "docker", app_port: 7860 });
  });
});
