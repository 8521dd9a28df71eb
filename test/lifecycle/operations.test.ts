/**
 * The Automation API layer (review stacks, teardown, rotation) against a recording double of
 * the workspace: what it calls, in which order, with which config, and what it never does.
 */
import { describe, expect, it } from "vitest";
import { readStackConfig } from "../../stacks/stack-config";
import { reviewDown, reviewUp, rotate, teardown } from "../../stacks/lifecycle/operations";
import { RecordingWorkspace, type FakeStack } from "./recording-workspace";

const NOW = new Date("2026-11-24T12:00:00Z");
const SECRET = "neon_" + "secretValueThatMustNeverBeLogged";

function logger() {
  const lines: string[] = [];
  return { lines, io: { log: (l: string) => lines.push(l) } };
}

function devStack(): Partial<FakeStack> {
  const dev = readStackConfig("dev", {});
  const config = Object.fromEntries(Object.entries(dev.config).map(([k, v]) => [k, { value: v, secret: dev.secretKeys.includes(k) }]));
  config["mlflow-kit:neonApiKey"] = { value: SECRET, secret: true };
  return { config, outputs: { neonProjectId: { value: "dev-neon-project", secret: false }, lifecycle: { value: "ephemeral", secret: false } } };
}

const reviewResources = (stack: string, expiresAt: string, protect = false): FakeStack["resources"] => [
  { urn: `urn:pulumi:${stack}::mlflow-kit::pulumi:pulumi:Stack::mlflow-kit-${stack}`, type: "pulumi:pulumi:Stack", outputs: { lifecycle: "ephemeral", expiresAt } },
  { urn: `urn:pulumi:${stack}::mlflow-kit::aws:s3/bucket:Bucket::mlflow-artifacts-bucket`, type: "aws:s3/bucket:Bucket", protect, inputs: { tags: { "mlflow-kit:lifecycle": "ephemeral", "mlflow-kit:expires-at": expiresAt } } },
];

const prod = (): Partial<FakeStack> => ({
  config: { "mlflow-kit:lifecycle": { value: "long-lived", secret: false } },
  outputs: { lifecycle: { value: "long-lived", secret: false } },
  resources: [{ urn: "urn:pulumi:prod::mlflow-kit::aws:rds/instance:Instance::mlflow-db", type: "aws:rds/instance:Instance", protect: true }],
});

describe("review up", () => {
  it("creates pr-N from the repository's Pulumi.dev.yaml, sets it (secrets as secrets), and runs up with the policy pack", async () => {
    const ws = new RecordingWorkspace({ dev: devStack() });
    const { lines, io } = logger();
    const result = await reviewUp(ws, { pr: 42, now: NOW, env: { MLFLOW_KIT_NEON_API_KEY: SECRET }, policyPacks: ["/repo/policies"] }, io);
    expect(result).toEqual({ stack: "pr-42", expiresAt: "2026-11-27T12:00:00Z" });
    // Nothing of dev's stack is read: the review credential cannot see it.
    expect(ws.methods()).toEqual(["createOrSelectStack pr-42", "getAllConfig pr-42", "setAllConfig pr-42", "up pr-42"]);
    const [, , config, path] = ws.calls.find(([m]) => m === "setAllConfig")!;
    expect(path).toBe(false);
    const set = config as Record<string, { value: string; secret: boolean }>;
    expect(set["mlflow-kit:neonApiKey"]).toEqual({ value: SECRET, secret: true });
    expect(set["mlflow-kit:ghcrToken"]).toBeUndefined(); // not in the environment: settings name it at up
    expect(set["mlflow-kit:ttlHours"]).toEqual({ value: "72", secret: false });
    expect(JSON.parse(set["mlflow-kit:database"].value)).toEqual({ kind: "neon", region: "aws-us-east-2", branch: "pr-42" });
    expect(ws.calls.find(([m]) => m === "up")).toEqual(["up", "pr-42", { policyPacks: ["/repo/policies"] }]);
    expect(lines.join("\n")).not.toContain(SECRET);
    expect(lines).toContain("pr-42 mlflow-kit:neonApiKey: [secret]");
  });

  it("takes secrets from MLFLOW_KIT_* in the environment, as secrets", async () => {
    const ws = new RecordingWorkspace({});
    await reviewUp(ws, { pr: 7, now: NOW, env: { MLFLOW_KIT_RENDER_API_KEY: "rnd_from_env" } }, logger().io);
    const set = ws.calls.find(([m]) => m === "setAllConfig")![2] as Record<string, { value: string; secret: boolean }>;
    expect(set["mlflow-kit:renderApiKey"]).toEqual({ value: "rnd_from_env", secret: true });
  });

  it("on a later push, renews the lease and drops config keys the template no longer has (a pinned expiry too)", async () => {
    const ws = new RecordingWorkspace({ "pr-42": { config: { "mlflow-kit:stale": { value: "x", secret: false }, "mlflow-kit:expiresAt": { value: "2026-11-25T00:00:00Z", secret: false } } } });
    await reviewUp(ws, { pr: 42, now: NOW, env: {} }, logger().io);
    expect(ws.calls.find(([m]) => m === "removeAllConfig")).toEqual(["removeAllConfig", "pr-42", ["mlflow-kit:stale", "mlflow-kit:expiresAt"]]);
    expect(ws.stacks.get("pr-42")!.config["mlflow-kit:ttlHours"].value).toBe("72");
    expect(ws.methods().at(-1)).toBe("up pr-42");
  });

  it("--dry-run prints the config (secrets masked) and the notes without touching any stack", async () => {
    const ws = new RecordingWorkspace({ dev: devStack() });
    const { lines, io } = logger();
    await reviewUp(ws, { pr: 42, now: NOW, env: { MLFLOW_KIT_NEON_API_KEY: SECRET }, dryRun: true }, io);
    expect(ws.methods()).toEqual([]);
    expect(ws.stacks.has("pr-42")).toBe(false);
    expect(lines.join("\n")).not.toContain(SECRET);
    expect(lines.some((l) => l.startsWith("note: data: a Neon project of its own"))).toBe(true);
  });
});

describe("review down", () => {
  it("destroys pr-N and removes the stack", async () => {
    const ws = new RecordingWorkspace({ dev: devStack(), "pr-42": { resources: reviewResources("pr-42", "2026-11-27T12:00:00Z") } });
    const result = await reviewDown(ws, { pr: 42, now: NOW }, logger().io);
    expect(result.destroyed).toEqual(["pr-42"]);
    expect(ws.methods().slice(-2)).toEqual(["destroy pr-42", "removeStack pr-42"]);
    expect(ws.stacks.has("pr-42")).toBe(false);
  });

  it("is a no-op when the stack does not exist (a fork's pull request never had one)", async () => {
    const ws = new RecordingWorkspace({ dev: devStack() });
    const { lines, io } = logger();
    expect((await reviewDown(ws, { pr: 9, now: NOW }, io)).destroyed).toEqual([]);
    expect(ws.methods()).toEqual(["listStacks"]);
    expect(lines).toEqual(["pr-9 does not exist: nothing to tear down"]);
  });

  it("removes a review stack whose first up failed before creating anything (no config on this runner)", async () => {
    const ws = new RecordingWorkspace({ "pr-8": { resources: [{ urn: "urn:pulumi:pr-8::mlflow-kit::pulumi:pulumi:Stack::mlflow-kit-pr-8", type: "pulumi:pulumi:Stack" }] } });
    const result = await reviewDown(ws, { pr: 8, now: NOW }, logger().io);
    expect(result.destroyed).toEqual(["pr-8"]);
    expect(ws.stacks.has("pr-8")).toBe(false);
  });

  it("refuses a review stack with a protected resource and destroys nothing", async () => {
    const ws = new RecordingWorkspace({ "pr-5": { resources: reviewResources("pr-5", "2026-11-27T12:00:00Z", true) } });
    const result = await reviewDown(ws, { pr: 5, now: NOW }, logger().io);
    expect(result.decisions[0]).toMatchObject({ action: "refuse" });
    expect(result.decisions[0].reason).toContain("urn:pulumi:pr-5::mlflow-kit::aws:s3/bucket:Bucket::mlflow-artifacts-bucket");
    expect(ws.methods().filter((m) => m.startsWith("destroy") || m.startsWith("removeStack"))).toEqual([]);
  });
});

describe("teardown", () => {
  const world = () =>
    new RecordingWorkspace({
      prod: prod(),
      dev: devStack(),
      "pr-1": { resources: reviewResources("pr-1", "2026-11-20T00:00:00Z") },
      "pr-2": { resources: reviewResources("pr-2", "2026-11-30T00:00:00Z") },
      "pr-3": { resources: reviewResources("pr-3", "2026-11-21T00:00:00+09:00", true) },
    });

  it("--expired destroys and removes only expired, unprotected ephemeral stacks; refuses the protected one by name", async () => {
    const ws = world();
    const { lines, io } = logger();
    const result = await teardown(ws, { request: { expired: true }, now: NOW, dryRun: false }, io);
    expect(result.destroyed).toEqual(["pr-1"]);
    expect(result.decisions.map((d) => [d.stack, d.action])).toEqual([
      ["prod", "keep"],
      ["dev", "keep"],
      ["pr-1", "destroy"],
      ["pr-2", "keep"],
      ["pr-3", "refuse"],
    ]);
    expect(ws.methods().filter((m) => /^(destroy|removeStack)/.test(m))).toEqual(["destroy pr-1", "removeStack pr-1"]);
    expect(lines.find((l) => l.startsWith("refuse"))).toContain("stack pr-3 has 1 protected resource");
    expect([...ws.stacks.keys()]).toEqual(["prod", "dev", "pr-2", "pr-3"]);
  });

  it("--dry-run reads every stack and destroys nothing", async () => {
    const ws = world();
    const result = await teardown(ws, { request: { expired: true }, now: NOW, dryRun: true }, logger().io);
    expect(result.decisions.filter((d) => d.action === "destroy").map((d) => d.stack)).toEqual(["pr-1"]);
    expect(ws.methods().some((m) => /^(destroy|removeStack|up|setAllConfig)/.test(m))).toBe(false);
  });

  it("--stack prod is refused as long-lived and nothing is destroyed", async () => {
    const ws = world();
    const result = await teardown(ws, { request: { stack: "prod" }, now: NOW, dryRun: false }, logger().io);
    expect(result.decisions).toHaveLength(1);
    expect(result.decisions[0].reason).toContain("stack prod is long-lived");
    expect(ws.methods().filter((m) => /^(destroy|removeStack)/.test(m))).toEqual([]);
    // Only prod was read: --stack does not touch the others.
    expect(ws.methods().filter((m) => m.startsWith("exportStack"))).toEqual(["exportStack prod"]);
  });

  it("a stack whose state cannot be read is refused by name; the others go on", async () => {
    const ws = world().failOn("exportStack", "pr-2", new Error("backend unreachable\nstack trace"));
    const result = await teardown(ws, { request: { expired: true }, now: NOW, dryRun: false }, logger().io);
    expect(result.destroyed).toEqual(["pr-1"]);
    expect(result.decisions.find((d) => d.stack === "pr-2")).toEqual({
      stack: "pr-2",
      action: "refuse",
      reason: "stack pr-2: its state could not be read (backend unreachable); nothing was decided. Check `pulumi stack export --stack pr-2`",
    });
  });

  it("a failed destroy is reported, the stack is kept, and the next expired stack is still destroyed", async () => {
    const ws = world();
    ws.stacks.set("pr-4", { config: {}, outputs: {}, resources: reviewResources("pr-4", "2026-11-01T00:00:00Z") });
    ws.failOn("destroy", "pr-1");
    const result = await teardown(ws, { request: { expired: true }, now: NOW, dryRun: false }, logger().io);
    expect(result.failed).toEqual([{ stack: "pr-1", error: "destroy failed for pr-1" }]);
    expect(result.destroyed).toEqual(["pr-4"]);
    expect(ws.stacks.has("pr-1")).toBe(true);
    expect(ws.methods()).not.toContain("removeStack pr-1");
  });

  it("--stack of a stack that does not exist is an error naming the stacks", async () => {
    await expect(teardown(world(), { request: { stack: "staging" }, now: NOW, dryRun: false }, logger().io)).rejects.toThrow('--stack: there is no stack "staging" in this project. Stacks: prod, dev, pr-1, pr-2, pr-3');
  });
});

describe("rotate", () => {
  const prodWithKeys = () =>
    new RecordingWorkspace({
      prod: {
        ...prod(),
        config: {
          "mlflow-kit:lifecycle": { value: "long-lived", secret: false },
          "mlflow-kit:artifacts": { value: JSON.stringify({ prefix: "mlflow", activeKey: "blue", keyRotations: { blue: 0, green: 0 } }), secret: false },
        },
      },
    });

  it("s3-key twice: writes the config with --path (numbers stay numbers), runs up each time, flips the slots", async () => {
    const ws = prodWithKeys();
    await rotate(ws, { stack: "prod", credential: "s3-key", policyPacks: ["/repo/policies"] }, logger().io);
    expect(ws.calls.find(([m]) => m === "setAllConfig")).toEqual([
      "setAllConfig",
      "prod",
      { "mlflow-kit:artifacts.activeKey": { value: "green", secret: false }, "mlflow-kit:artifacts.keyRotations.green": { value: "1", secret: false } },
      true,
    ]);
    expect(ws.methods().slice(-2)).toEqual(["setAllConfig prod", "up prod"]);
    await rotate(ws, { stack: "prod", credential: "s3-key" }, logger().io);
    expect(JSON.parse(ws.stacks.get("prod")!.config["mlflow-kit:artifacts"].value)).toEqual({ prefix: "mlflow", activeKey: "blue", keyRotations: { blue: 1, green: 1 } });
    expect(ws.methods().filter((m) => m === "up prod")).toHaveLength(2);
  });

  it("reads a structured value from objectValue when the CLI gives one", async () => {
    const ws = prodWithKeys();
    const entry = ws.stacks.get("prod")!.config["mlflow-kit:artifacts"] as { value: string; objectValue?: unknown };
    entry.value = "activeKey: green"; // whatever the text, the parsed object wins
    entry.objectValue = { activeKey: "green", keyRotations: { blue: 2, green: 5 } };
    const plan = await rotate(ws, { stack: "prod", credential: "s3-key", dryRun: true }, logger().io);
    expect(plan.changes).toEqual([
      { path: "mlflow-kit:artifacts.activeKey", from: "green", to: "blue" },
      { path: "mlflow-kit:artifacts.keyRotations.blue", from: 2, to: 3 },
    ]);
  });

  it("--dry-run prints the change and writes nothing", async () => {
    const ws = prodWithKeys();
    const { lines, io } = logger();
    await rotate(ws, { stack: "prod", credential: "s3-key", dryRun: true }, io);
    expect(lines.slice(0, 3)).toEqual(["rotate s3-key on prod: config change", "  mlflow-kit:artifacts.activeKey: blue -> green", "  mlflow-kit:artifacts.keyRotations.green: 0 -> 1"]);
    expect(ws.methods()).toEqual(["listStacks", "getAllConfig prod"]);
  });

  it("--config-only writes the change for a pull request and does not deploy", async () => {
    const ws = prodWithKeys();
    await rotate(ws, { stack: "prod", credential: "db-password", configOnly: true }, logger().io);
    expect(ws.methods()).toEqual(["listStacks", "getAllConfig prod", "setAllConfig prod"]);
    expect(JSON.parse(ws.stacks.get("prod")!.config["mlflow-kit:rotation"].value)).toEqual({ databasePassword: 1 });
  });

  it("a refused rotation changes nothing; an unknown stack is an error", async () => {
    const ws = prodWithKeys();
    await expect(rotate(ws, { stack: "prod", credential: "authelia" }, logger().io)).rejects.toThrow("mlflow-kit:target.kind:");
    expect(ws.methods()).toEqual(["listStacks", "getAllConfig prod"]);
    await expect(rotate(ws, { stack: "staging", credential: "s3-key" }, logger().io)).rejects.toThrow('--stack: there is no stack "staging"');
  });
});
