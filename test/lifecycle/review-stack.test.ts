/**
 * Review stack pr-N made from the shipped Pulumi.dev.yaml (its plain values and review
 * settings): the derived config passes settings, and evaluated the way the offline plan does, it
 * has its own bucket, user, service and data, and carries its expiry as a tag and a stack output.
 * Issue 15 items 11-12 (target, data) are in team-over-weeks.test.ts.
 */
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { mlflowStack } from "../../infra/program";
import { expiryFrom, loadSettings, parseSettings } from "../../infra/settings";
import { evaluateStack, type EvaluatedStack } from "../../stacks/offline";
import { devTemplate } from "../../stacks/lifecycle/operations";
import { ReviewError, reviewStackConfig, reviewStackName, type ConfigEntry } from "../../stacks/lifecycle/review-config";

const NOW = new Date("2026-11-24T10:15:30.500Z");
const ROOT = path.resolve(__dirname, "../..");
const SECRETS = { "mlflow-kit:ghcrToken": "review-ghcr", "mlflow-kit:neonApiKey": "review-neon", "mlflow-kit:renderApiKey": "review-render" };

const devEntries = (): Record<string, ConfigEntry> => devTemplate(ROOT);
const review = () => reviewStackConfig({ pr: 42, dev: devEntries(), secrets: SECRETS, now: NOW });

describe("reviewStackConfig", () => {
  it("names the stack pr-N and refuses what is not a pull-request number", () => {
    expect(reviewStackName(7)).toBe("pr-7");
    expect(reviewStackName(" 12 ")).toBe("pr-12");
    for (const bad of [0, -3, 1.5, "12a", "", "pr-12"]) expect(() => reviewStackName(bad as never)).toThrow(ReviewError);
    expect(() => reviewStackName("12a")).toThrow('--pr: "12a" is not a pull-request number');
  });

  it("is ephemeral on a 72 h lease (renewed by each up), with a Neon branch pr-N of its own data", () => {
    const { stack, config, expiresAt } = review();
    expect(stack).toBe("pr-42");
    expect(expiresAt).toBe("2026-11-27T11:00:00Z"); // from the start of the next hour, as settings compute it
    expect(config["mlflow-kit:lifecycle"]).toEqual({ value: "ephemeral", secret: false });
    expect(config["mlflow-kit:ttlHours"]).toEqual({ value: "72", secret: false });
    expect(config["mlflow-kit:expiresAt"]).toBeUndefined();
    expect(config["mlflow-kit:review"]).toBeUndefined();
    expect(JSON.parse(config["mlflow-kit:database"].value)).toEqual({ kind: "neon", region: "aws-us-east-2", branch: "pr-42" });
    expect(reviewStackConfig({ pr: 42, dev: devEntries(), now: NOW, ttlHours: 1 }).expiresAt).toBe("2026-11-24T12:00:00Z");
    const pinned = { ...devEntries(), "mlflow-kit:expiresAt": { value: "2026-12-24T00:00:00Z", secret: false } };
    expect(reviewStackConfig({ pr: 42, dev: pinned, now: NOW }).config["mlflow-kit:expiresAt"]).toBeUndefined();
  });

  it("has its own Render service, no custom domain, and fresh key slots; keeps dev's prefix and region", () => {
    const dev = devEntries();
    dev["mlflow-kit:target"] = { value: JSON.stringify({ kind: "render", region: "ohio", plan: "free", serviceName: "dev-svc", domain: "dev.example.com" }), secret: false };
    dev["mlflow-kit:artifacts"] = { value: JSON.stringify({ prefix: "mlflow", activeKey: "green", keyRotations: { blue: 3, green: 4 } }), secret: false };
    dev["mlflow-kit:rotation"] = { value: JSON.stringify({ databasePassword: 5 }), secret: false };
    const { config } = reviewStackConfig({ pr: 42, dev, now: NOW });
    expect(JSON.parse(config["mlflow-kit:target"].value)).toEqual({ kind: "render", region: "ohio", plan: "starter", serviceName: "mlflow-kit-pr-42" });
    expect(JSON.parse(config["mlflow-kit:artifacts"].value)).toEqual({ prefix: "mlflow", activeKey: "blue", keyRotations: { blue: 0, green: 0 } });
    expect(config["mlflow-kit:rotation"]).toBeUndefined();
  });

  it("takes the review environment's secrets as secrets, never dev's", () => {
    const dev = devEntries();
    dev["mlflow-kit:renderApiKey"] = { value: "dev-render-key", secret: true };
    const { config } = reviewStackConfig({ pr: 1, dev, secrets: { "mlflow-kit:neonApiKey": "review-neon" }, now: NOW });
    expect(config["mlflow-kit:neonApiKey"]).toEqual({ value: "review-neon", secret: true });
    expect(config["mlflow-kit:renderApiKey"]).toBeUndefined();
  });

  it("refuses, naming the setting and the fix: rds or ecs dev, bad TTL, no database", () => {
    const rds = { ...devEntries(), "mlflow-kit:database": { value: JSON.stringify({ kind: "rds" }), secret: false } };
    expect(() => reviewStackConfig({ pr: 3, dev: rds, now: NOW })).toThrow("mlflow-kit:database.kind: dev uses rds");
    const ecs = { ...devEntries(), "mlflow-kit:target": { value: JSON.stringify({ kind: "ecs" }), secret: false }, "mlflow-kit:review": { value: "{}", secret: false } };
    expect(() => reviewStackConfig({ pr: 3, dev: ecs, now: NOW })).toThrow("mlflow-kit:target.kind: dev runs on ecs");
    for (const ttl of [0, -1, 720, Number.NaN, 1.5]) expect(() => reviewStackConfig({ pr: 3, dev: devEntries(), now: NOW, ttlHours: ttl })).toThrow("--ttl-hours:");
    const { ["mlflow-kit:database"]: _, ...noDb } = devEntries();
    expect(() => reviewStackConfig({ pr: 3, dev: noDb, now: NOW })).toThrow("mlflow-kit:database: Pulumi.dev.yaml has none");
    const badTarget = { ...devEntries(), "mlflow-kit:review": { value: JSON.stringify({ target: { kind: "ecs" } }), secret: false } };
    expect(() => reviewStackConfig({ pr: 3, dev: badTarget, now: NOW })).toThrow("mlflow-kit:review.target.kind: must be render, hf-space or none");
  });

  it("passes settings (the program's own validation) with the expiry tag on every resource", () => {
    const { config } = review();
    const values = Object.fromEntries(Object.entries(config).map(([k, v]) => [k, v.value]));
    const secretKeys = new Set(Object.entries(config).filter(([, v]) => v.secret).map(([k]) => k));
    const s = parseSettings({ project: "mlflow-kit", stack: "pr-42", values, secretKeys, now: NOW }, { allowUnsupported: true });
    expect(s.namePrefix).toBe("mlflow-kit-pr-42");
    expect(s.expiresAt).toBe(review().expiresAt);
    expect(s.rotation.autheliaSecrets).toBe(0);
    expect(s.tags).toMatchObject({ "mlflow-kit:lifecycle": "ephemeral", "mlflow-kit:expires-at": "2026-11-27T11:00:00Z", "mlflow-kit:stack": "pr-42" });
  });
});


describe("the review stack, evaluated as the offline plan does", () => {
  let evaluated: EvaluatedStack;
  let leases: string[];
  beforeAll(async () => {
    leases = [expiryFrom(new Date(), 72)];
    const { config } = review();
    evaluated = await evaluateStack({
      project: "mlflow-kit",
      stack: "pr-42",
      config: Object.fromEntries(Object.entries(config).map(([k, v]) => [k, v.value])),
      secretKeys: Object.entries(config).filter(([, v]) => v.secret).map(([k]) => k),
      program: () => mlflowStack(loadSettings({ allowUnsupported: true })),
    });
    leases.push(expiryFrom(new Date(), 72)); // an hour may turn during the evaluation
  }, 120_000); // a whole stack evaluation: slow on a loaded machine

  it("has its own bucket, IAM user and Render service (a paid plan the API creates, deleted with the stack)", () => {
    const service = evaluated.resources.find((r) => r.type === "pulumi-nodejs:dynamic/render:Service")!;
    expect(service.inputs).toMatchObject({ name: "mlflow-kit-pr-42", plan: "starter" });
    expect(service.options.retainOnDelete).toBe(false);
  });

  it("its data: an empty Neon project of its own with branch pr-42, expiring with the stack, deleted with it", () => {
    const project = evaluated.resources.find((r) => r.type === "pulumi-nodejs:dynamic/neon:Project")!;
    expect(project.inputs).toMatchObject({ name: "mlflow-kit-pr-42" });
    expect(project.options.protect).toBeFalsy();
    expect(project.options.retainOnDelete).toBeFalsy();
    const branch = evaluated.resources.find((r) => r.type === "pulumi-nodejs:dynamic/neon:Branch")!;
    expect(branch.inputs).toMatchObject({ name: "pr-42", expiresAt: evaluated.outputs.expiresAt });
  });

  it("has its own bucket and IAM user, force-destroyable, not protected", () => {
    const bucket = evaluated.resources.find((r) => r.type === "aws:s3/bucket:Bucket")!;
    expect(String(bucket.inputs.bucket)).toMatch(/^mlflow-kit-pr-42-/); // the stack name makes it its own
    expect(bucket.options.protect).toBeFalsy();
    expect(evaluated.resources.filter((r) => r.type === "aws:iam/user:User").map((u) => u.inputs.name)).toEqual(["mlflow-kit-pr-42-artifacts"]);
  });

  it("tags every tagged resource with its expiry, and exports lifecycle and expiresAt for the teardown", () => {
    const tagged = evaluated.resources.filter((r) => r.inputs.tags && typeof r.inputs.tags === "object");
    expect(tagged.map((r) => r.type)).toEqual(expect.arrayContaining(["aws:s3/bucket:Bucket", "aws:iam/user:User"]));
    expect(evaluated.outputs.lifecycle).toBe("ephemeral");
    expect(leases).toContain(evaluated.outputs.expiresAt);
    for (const r of tagged) expect((r.inputs.tags as Record<string, string>)["mlflow-kit:expires-at"], r.urn).toBe(evaluated.outputs.expiresAt);
  });
});
