/**
 * Review stack pr-N made from the shipped Pulumi.dev.yaml: the derived config passes settings,
 * and evaluated the way the offline plan does, it has its own bucket, user, service and branch,
 * and carries its expiry as a tag and a stack output.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { mlflowStack } from "../../infra/program";
import { loadSettings, parseSettings } from "../../infra/settings";
import { evaluateStack, type EvaluatedStack } from "../../stacks/offline";
import { readStackConfig } from "../../stacks/stack-config";
import { ReviewError, reviewStackConfig, reviewStackName, type ConfigEntry } from "../../stacks/lifecycle/review-config";

const NOW = new Date("2026-11-24T10:15:30.500Z");

function devEntries(): Record<string, ConfigEntry> {
  const dev = readStackConfig("dev", {});
  return Object.fromEntries(Object.entries(dev.config).map(([k, v]) => [k, { value: v, secret: dev.secretKeys.includes(k) }]));
}

const review = () => reviewStackConfig({ pr: 42, dev: devEntries(), neonProjectId: "dev-project-123", now: NOW });

describe("reviewStackConfig", () => {
  it("names the stack pr-N and refuses what is not a pull-request number", () => {
    expect(reviewStackName(7)).toBe("pr-7");
    expect(reviewStackName(" 12 ")).toBe("pr-12");
    for (const bad of [0, -3, 1.5, "12a", "", "pr-12"]) expect(() => reviewStackName(bad as never)).toThrow(ReviewError);
    expect(() => reviewStackName("12a")).toThrow('--pr: "12a" is not a pull-request number');
  });

  it("is ephemeral, expires after the TTL (default 72 h, UTC), and branches dev's Neon project", () => {
    const { stack, config, expiresAt } = review();
    expect(stack).toBe("pr-42");
    expect(expiresAt).toBe("2026-11-27T10:15:30Z");
    expect(config["mlflow-kit:lifecycle"]).toEqual({ value: "ephemeral", secret: false });
    expect(config["mlflow-kit:expiresAt"]).toEqual({ value: "2026-11-27T10:15:30Z", secret: false });
    expect(JSON.parse(config["mlflow-kit:database"].value)).toEqual({ kind: "neon", region: "aws-us-east-2", projectId: "dev-project-123", branch: "pr-42" });
    expect(reviewStackConfig({ pr: 42, dev: devEntries(), neonProjectId: "p", now: NOW, ttlHours: 1 }).expiresAt).toBe("2026-11-24T11:15:30Z");
  });

  it("has its own Render service, no custom domain, and fresh key slots; keeps dev's prefix and plan", () => {
    const dev = devEntries();
    dev["mlflow-kit:target"] = { value: JSON.stringify({ kind: "render", region: "ohio", plan: "free", serviceName: "dev-svc", domain: "dev.example.com" }), secret: false };
    dev["mlflow-kit:artifacts"] = { value: JSON.stringify({ prefix: "mlflow", activeKey: "green", keyRotations: { blue: 3, green: 4 } }), secret: false };
    dev["mlflow-kit:rotation"] = { value: JSON.stringify({ databasePassword: 5 }), secret: false };
    const { config } = reviewStackConfig({ pr: 42, dev, neonProjectId: "p", now: NOW });
    expect(JSON.parse(config["mlflow-kit:target"].value)).toEqual({ kind: "render", region: "ohio", plan: "free", serviceName: "mlflow-kit-pr-42" });
    expect(JSON.parse(config["mlflow-kit:artifacts"].value)).toEqual({ prefix: "mlflow", activeKey: "blue", keyRotations: { blue: 0, green: 0 } });
    expect(config["mlflow-kit:rotation"]).toBeUndefined();
  });

  it("keeps dev's secrets as secrets", () => {
    const dev = devEntries();
    dev["mlflow-kit:renderApiKey"] = { value: "rnd_secret_value", secret: true };
    const { config } = reviewStackConfig({ pr: 1, dev, neonProjectId: "p", now: NOW });
    expect(config["mlflow-kit:renderApiKey"]).toEqual({ value: "rnd_secret_value", secret: true });
  });

  it("takes dev's own projectId when its config has one", () => {
    const dev = devEntries();
    dev["mlflow-kit:database"] = { value: JSON.stringify({ kind: "neon", projectId: "from-config" }), secret: false };
    const { config } = reviewStackConfig({ pr: 3, dev, now: NOW });
    expect(JSON.parse(config["mlflow-kit:database"].value).projectId).toBe("from-config");
  });

  it("refuses, naming the setting and the fix: unknown Neon project, rds or ecs dev, bad TTL, no database", () => {
    expect(() => reviewStackConfig({ pr: 3, dev: devEntries(), now: NOW })).toThrow("mlflow-kit:database.projectId: dev's Neon project is unknown");
    const rds = { ...devEntries(), "mlflow-kit:database": { value: JSON.stringify({ kind: "rds" }), secret: false } };
    expect(() => reviewStackConfig({ pr: 3, dev: rds, now: NOW })).toThrow("mlflow-kit:database.kind: dev uses rds");
    const ecs = { ...devEntries(), "mlflow-kit:target": { value: JSON.stringify({ kind: "ecs" }), secret: false } };
    expect(() => reviewStackConfig({ pr: 3, dev: ecs, neonProjectId: "p", now: NOW })).toThrow("mlflow-kit:target.kind: dev runs on ecs");
    for (const ttl of [0, -1, 721, Number.NaN]) expect(() => reviewStackConfig({ pr: 3, dev: devEntries(), neonProjectId: "p", now: NOW, ttlHours: ttl })).toThrow("--ttl-hours:");
    const { ["mlflow-kit:database"]: _, ...noDb } = devEntries();
    expect(() => reviewStackConfig({ pr: 3, dev: noDb, neonProjectId: "p", now: NOW })).toThrow("mlflow-kit:database: dev has none");
  });

  it("passes settings (the program's own validation) with the expiry tag on every resource", () => {
    const { config } = review();
    const values = Object.fromEntries(Object.entries(config).map(([k, v]) => [k, v.value]));
    const secretKeys = new Set(Object.entries(config).filter(([, v]) => v.secret).map(([k]) => k));
    const s = parseSettings({ project: "mlflow-kit", stack: "pr-42", values, secretKeys }, { allowUnsupported: true });
    expect(s.namePrefix).toBe("mlflow-kit-pr-42");
    expect(s.expiresAt).toBe("2026-11-27T10:15:30Z");
    expect(s.tags).toMatchObject({ "mlflow-kit:lifecycle": "ephemeral", "mlflow-kit:expires-at": "2026-11-27T10:15:30Z", "mlflow-kit:stack": "pr-42" });
  });
});

describe("settings: expiresAt", () => {
  const base = { "aws:region": "us-east-1", "mlflow-kit:image": '{"owner":"o"}', "mlflow-kit:database": '{"kind":"rds"}', "mlflow-kit:target": '{"kind":"ecs","domain":"m.example.com","acmeEmail":"a@example.com"}', "mlflow-kit:skipTarget": "true", "mlflow-kit:ghcrToken": "x" };
  const parse = (extra: Record<string, string>) => parseSettings({ project: "mlflow-kit", stack: "demo", values: { ...base, ...extra }, secretKeys: new Set(["mlflow-kit:ghcrToken"]) });
  const problems = (extra: Record<string, string>) => {
    try {
      parse(extra);
    } catch (err) {
      return (err as { problems: string[] }).problems;
    }
    throw new Error("expected a SettingsError");
  };

  it("an ephemeral stack may carry one; it is tagged; without it there is no tag", () => {
    expect(parse({ "mlflow-kit:lifecycle": "ephemeral", "mlflow-kit:expiresAt": "2026-12-01T18:00:00+01:00" }).tags["mlflow-kit:expires-at"]).toBe("2026-12-01T18:00:00+01:00");
    expect(parse({ "mlflow-kit:lifecycle": "ephemeral" }).tags).not.toHaveProperty("mlflow-kit:expires-at");
    expect(parse({ "mlflow-kit:lifecycle": "ephemeral" }).rotation.autheliaSecrets).toBe(0);
  });

  it("a long-lived stack may not: the message names the key and the fix", () => {
    const [p] = problems({ "mlflow-kit:lifecycle": "long-lived", "mlflow-kit:expiresAt": "2026-12-01T18:00:00Z" });
    expect(p).toMatch(/^mlflow-kit:expiresAt: a long-lived stack never expires.*pulumi config rm mlflow-kit:expiresAt/);
  });

  it("a time without an offset, or no real date, is refused naming the key", () => {
    expect(problems({ "mlflow-kit:lifecycle": "ephemeral", "mlflow-kit:expiresAt": "2026-12-01T18:00:00" })[0]).toMatch(/^mlflow-kit:expiresAt: "2026-12-01T18:00:00" is not an RFC 3339 timestamp with an offset/);
    expect(problems({ "mlflow-kit:lifecycle": "ephemeral", "mlflow-kit:expiresAt": "2026-02-30T00:00:00Z" })[0]).toMatch(/^mlflow-kit:expiresAt: "2026-02-30T00:00:00Z" is not a real date and time/);
  });
});

describe("the review stack, evaluated as the offline plan does", () => {
  let evaluated: EvaluatedStack;
  beforeAll(async () => {
    const { config } = review();
    evaluated = await evaluateStack({
      project: "mlflow-kit",
      stack: "pr-42",
      config: Object.fromEntries(Object.entries(config).map(([k, v]) => [k, v.value])),
      secretKeys: Object.entries(config).filter(([, v]) => v.secret).map(([k]) => k),
      program: () => mlflowStack(loadSettings({ allowUnsupported: true })),
    });
  });

  it("has its own bucket and IAM user, force-destroyable, not protected", () => {
    const bucket = evaluated.resources.find((r) => r.type === "aws:s3/bucket:Bucket")!;
    expect(bucket.inputs.bucket).toBe("mlflow-kit-pr-42-artifacts");
    expect(bucket.options.protect).toBeFalsy();
    expect(evaluated.resources.filter((r) => r.type === "aws:iam/user:User").map((u) => u.inputs.name)).toEqual(["mlflow-kit-pr-42-artifacts"]);
  });

  it("tags every tagged resource with its expiry, and exports lifecycle and expiresAt for the teardown", () => {
    const tagged = evaluated.resources.filter((r) => r.inputs.tags && typeof r.inputs.tags === "object");
    expect(tagged.map((r) => r.type)).toEqual(expect.arrayContaining(["aws:s3/bucket:Bucket", "aws:iam/user:User"]));
    for (const r of tagged) expect((r.inputs.tags as Record<string, string>)["mlflow-kit:expires-at"], r.urn).toBe("2026-11-27T10:15:30Z");
    expect(evaluated.outputs).toMatchObject({ lifecycle: "ephemeral", expiresAt: "2026-11-27T10:15:30Z" });
  });
});
