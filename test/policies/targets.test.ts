/**
 * The pack over the real target components (not fixtures): each target that has landed is
 * evaluated under the offline mocks and its resources run through the pack, compliant and
 * broken. Targets still to land are covered by rules.test.ts on their documented shapes.
 */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { runtimeEnvironment } from "../../infra/runtime-contract";
import { HfSpaceTarget } from "../../infra/targets/hf-space";
import { evaluateStack } from "../../stacks/offline";
import { checkPolicies, type AnalyzedResource } from "../../stacks/policy-check";

async function hfSpace(o: { visibility: "private" | "public"; workers: number; auth?: "basic" | "proxy" }): Promise<AnalyzedResource[]> {
  const e = await evaluateStack({
    project: "mlflow-kit", stack: "demo", config: {}, secretKeys: [],
    program: () => {
      const environment = runtimeEnvironment({
        trackingDatabaseUri: pulumi.secret("postgresql://app:DbPw-1@ep.neon.tech/mlflow_tracking?sslmode=require"),
        auth: o.auth === "proxy" ? { mode: "proxy" } : { mode: "basic", databaseUri: pulumi.secret("postgresql://app:DbPw-1@ep.neon.tech/mlflow_auth?sslmode=require"), adminUsername: "admin", adminPassword: pulumi.secret("AdminPw-unit-0123456789"), flaskSecretKey: pulumi.secret("f".repeat(64)), defaultPermission: "READ" },
        artifacts: { destination: "s3://bucket/mlflow", region: "us-east-1", accessKey: { id: pulumi.secret("AKIDEXAMPLE"), secret: pulumi.secret("aws-secret-value-1") } },
        server: { publicHostname: "acme-mlflow-kit-demo.hf.space", port: 7860, workers: o.workers, migrate: "auto" },
      });
      const t = new HfSpaceTarget("mlflow-hf-space", {
        owner: "acme", spaceName: "mlflow-kit-demo", visibility: o.visibility, hardware: "cpu-basic", lifecycle: "ephemeral",
        environment, imageRef: `ghcr.io/acme/mlflow-kit-server@sha256:${"ab".repeat(32)}`, repository: "ghcr.io/acme/mlflow-kit-server",
        publicHostname: "acme-mlflow-kit-demo.hf.space", appPort: 7860, title: "MLflow (mlflow-kit-demo)",
      });
      return { url: t.url };
    },
  });
  return e.resources.map((r) => ({ urn: r.urn, type: r.type, name: r.name, parent: r.parent, options: r.options, ...r.analyzer }));
}

describe("the Hugging Face target (infra/targets/hf-space.ts) through the pack", () => {
  it("a private Space with one worker and basic auth: nothing to report; the pack sees its server", async () => {
    const resources = await hfSpace({ visibility: "private", workers: 1 });
    expect(resources.map((r) => r.type)).toEqual(expect.arrayContaining(["pulumi-nodejs:dynamic/hf:Space", "pulumi-nodejs:dynamic/hf:SpaceRelease"]));
    expect(await checkPolicies(resources)).toEqual([]);
    // The secrets reach the pack as one secret: the remediation has nothing to wrap.
    const release = resources.find((r) => r.type === "pulumi-nodejs:dynamic/hf:SpaceRelease")!;
    expect(Object.keys(release.properties.secrets as object)).toContain("4dabf18193072939515e22adb298388d");
  });

  it("public, 40 workers on cpu-basic, MLflow's auth off: each caught on the real resources", async () => {
    const found = await checkPolicies(await hfSpace({ visibility: "public", workers: 40, auth: "proxy" }));
    const by = (p: string) => found.filter((v) => v.policy === p).map((v) => `${v.level}: ${v.message}`).join("\n");
    expect(by("hf-space-private")).toMatch(/^advisory: visibility is public/);
    expect(by("workers-fit-memory")).toMatch(/^mandatory: hf:SpaceRelease "mlflow-hf-space-release": MLFLOW_WORKERS=40 does not fit 16384 MB/);
    expect(by("server-authenticated")).toMatch(/^mandatory: hf:SpaceRelease "mlflow-hf-space-release" sets MLFLOW_AUTH_MODE=proxy/);
  });
});
