/**
 * Issue 15 items 11-18: the day-to-day flow of a team over weeks (a PR opens a review stack;
 * nobody merges for a week), each as the decision or CLI layer sees it. Items 13 (the Render
 * service kept) and 16 (`plan --strict`) evaluate a stack: test/unit/team-plan.test.ts.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parseSettings, SettingsError } from "../../infra/settings";
import { deploy, devTemplate, reviewUp, teardown } from "../../stacks/lifecycle/operations";
import { MAX_COMMENT_CHARS, offlineSection, parseReport, renderComment, type PrReport } from "../../stacks/lifecycle/pr-report";
import { reviewStackConfig, ReviewError, type ConfigEntry } from "../../stacks/lifecycle/review-config";
import { CREDENTIALS, planRotation, RotationError } from "../../stacks/lifecycle/rotation-decision";
import { readStackConfig } from "../../stacks/stack-config";
import { RecordingWorkspace } from "./recording-workspace";

const NOW = new Date("2026-11-24T10:15:00Z");
const ROOT = path.resolve(__dirname, "../..");
const log = () => ({ log: (_l: string) => undefined });

/** The shipped Pulumi.dev.yaml with `edit` applied to its config, in a scratch directory. */
function devDir(edit: (config: Record<string, unknown>) => void): string {
  const { parse, stringify } = require("yaml") as typeof import("yaml");
  const doc = parse(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8"));
  edit(doc.config);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "team-"));
  fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), stringify(doc));
  return dir;
}

const json = (e: ConfigEntry) => JSON.parse(e.value);
/** parseSettings over a config map of full keys, as the engine gives it. */
const settingsOf = (stack: string, config: Record<string, ConfigEntry>) =>
  parseSettings({
    project: "mlflow-kit", stack, now: NOW,
    values: Object.fromEntries(Object.entries(config).map(([k, v]) => [k, v.value])),
    secretKeys: new Set(Object.entries(config).filter(([, v]) => v.secret).map(([k]) => k)),
  }, { allowUnsupported: true });
const SECRETS = { "mlflow-kit:ghcrToken": "gh" + "p_reviewTokenFromTheEnvironment", "mlflow-kit:neonApiKey": "review-neon-key", "mlflow-kit:renderApiKey": "review-render-key" };

describe("11: review stacks run on a target Render's API can create, chosen in config", () => {
  it("the shipped dev file gives review stacks a paid Render plan, and settings accept it", () => {
    const { config } = reviewStackConfig({ pr: 42, dev: devTemplate(ROOT), secrets: SECRETS, now: NOW });
    expect(json(config["mlflow-kit:target"])).toEqual({ kind: "render", region: "ohio", plan: "starter", serviceName: "mlflow-kit-pr-42" });
    expect(settingsOf("pr-42", config).target).toMatchObject({ kind: "render", plan: "starter" });
  });

  it("dev on the free plan with no review target is refused, naming the setting and the three choices", () => {
    const dir = devDir((c) => delete c["mlflow-kit:review"]);
    expect(() => reviewStackConfig({ pr: 42, dev: devTemplate(dir), now: NOW })).toThrow(ReviewError);
    expect(() => reviewStackConfig({ pr: 42, dev: devTemplate(dir), now: NOW })).toThrow(/mlflow-kit:review\.target: review stacks would run on Render's free plan.*\{kind: render, plan: starter\}.*\{kind: hf-space.*\{kind: none\}/);
  });

  it("a Space, or no server with a clear note; a free plan chosen for review is refused by settings", () => {
    const space = devDir((c) => { (c["mlflow-kit:review"] as Record<string, unknown>).target = { kind: "hf-space", owner: "example-org" }; });
    const s = reviewStackConfig({ pr: 7, dev: devTemplate(space), now: NOW });
    expect(json(s.config["mlflow-kit:target"])).toEqual({ kind: "hf-space", owner: "example-org", spaceName: "mlflow-kit-pr-7" });
    const none = devDir((c) => { (c["mlflow-kit:review"] as Record<string, unknown>).target = { kind: "none" }; });
    const n = reviewStackConfig({ pr: 7, dev: devTemplate(none), secrets: SECRETS, now: NOW });
    expect(n.config["mlflow-kit:skipTarget"]).toEqual({ value: "true", secret: false });
    expect(n.notes.join("\n")).toMatch(/no server: mlflow-kit:review\.target is \{kind: none\}/);
    expect(settingsOf("pr-7", n.config).skipped).toEqual(["mlflow-kit:target: render skipped by mlflow-kit:skipTarget"]);
    const free = readStackConfig("dev", {});
    const values = { ...free.config, "mlflow-kit:review": JSON.stringify({ target: { kind: "render", plan: "free" } }) };
    expect(() => parseSettings({ project: "mlflow-kit", stack: "dev", values, secretKeys: new Set(free.secretKeys) })).toThrow(/mlflow-kit:review\.target\.plan: must be a paid Render plan/);
  });
});

describe("12: a review stack's data is its own (never dev's), within Neon's rules", () => {
  it("a branch pr-N of the review project's default branch when one is set; its own project otherwise", () => {
    const own = reviewStackConfig({ pr: 42, dev: devTemplate(ROOT), now: NOW });
    expect(json(own.config["mlflow-kit:database"])).toEqual({ kind: "neon", region: "aws-us-east-2", branch: "pr-42" });
    expect(own.notes.join("\n")).toMatch(/a Neon project of its own \(mlflow-kit-pr-42\), empty; never dev's data/);
    const shared = devDir((c) => { (c["mlflow-kit:review"] as Record<string, unknown>).database = { projectId: "review-fixtures-123" }; });
    const r = reviewStackConfig({ pr: 42, dev: devTemplate(shared), now: NOW });
    expect(json(r.config["mlflow-kit:database"])).toEqual({ kind: "neon", region: "aws-us-east-2", projectId: "review-fixtures-123", branch: "pr-42" });
  });

  it("never dev's project or branch: dev's projectId is not copied, and naming it for review stacks is refused", () => {
    const dev = devDir((c) => {
      (c["mlflow-kit:database"] as Record<string, unknown>).projectId = "dev-project-1";
      (c["mlflow-kit:database"] as Record<string, unknown>).branch = "dev-data";
    });
    const db = json(reviewStackConfig({ pr: 3, dev: devTemplate(dev), now: NOW }).config["mlflow-kit:database"]);
    expect(db.projectId).toBeUndefined();
    expect(db.branch).toBe("pr-3");
    const same = devDir((c) => {
      (c["mlflow-kit:database"] as Record<string, unknown>).projectId = "dev-project-1";
      (c["mlflow-kit:review"] as Record<string, unknown>).database = { projectId: "dev-project-1" };
    });
    expect(() => reviewStackConfig({ pr: 3, dev: devTemplate(same), now: NOW })).toThrow(/mlflow-kit:review\.database\.projectId: is dev's own project/);
  });

  it("the branch's expiry stays within Neon's 30 days: a longer review lease is refused", () => {
    expect(() => reviewStackConfig({ pr: 3, dev: devTemplate(ROOT), now: NOW, ttlHours: 720 })).toThrow(/Neon refuses a branch expiry more than 30 days ahead/);
    const long = devDir((c) => { (c["mlflow-kit:review"] as Record<string, unknown>).ttlHours = 900; });
    const cfg = readStackConfig("dev", {}, long);
    expect(() => parseSettings({ project: "mlflow-kit", stack: "dev", values: cfg.config, secretKeys: new Set(cfg.secretKeys) })).toThrow(/mlflow-kit:review\.ttlHours: must be at most 719: Neon refuses a branch expiry more than 30 days ahead/);
  });

  it("review up reads nothing of dev's stack: the template is the file, the secrets the review environment's", async () => {
    const ws = new RecordingWorkspace({ dev: { config: { "mlflow-kit:neonApiKey": { value: "dev-only-key", secret: true } } } });
    await reviewUp(ws, { pr: 5, now: NOW, env: { MLFLOW_KIT_NEON_API_KEY: "review-key" } }, log());
    expect(ws.methods().filter((m) => m.endsWith(" dev"))).toEqual([]);
    const set = ws.calls.find(([m]) => m === "setAllConfig")![2] as Record<string, ConfigEntry>;
    expect(set["mlflow-kit:neonApiKey"]).toEqual({ value: "review-key", secret: true });
    expect(JSON.stringify(set)).not.toContain("dev-only-key");
  });
});

describe("13: the schedule never tears down a shared environment; a deploy recreates what it needs", () => {
  const expired = "2026-11-20T00:00:00Z";
  const neonStack = (over: { projectId?: string; created?: string; lifecycle?: string }) => ({
    config: {
      "mlflow-kit:lifecycle": { value: over.lifecycle ?? "ephemeral", secret: false },
      "mlflow-kit:database": { value: JSON.stringify({ kind: "neon", ...(over.projectId ? { projectId: over.projectId } : {}) }), secret: false },
    },
    outputs: { lifecycle: { value: over.lifecycle ?? "ephemeral", secret: false }, expiresAt: { value: expired, secret: false }, ...(over.created ? { neonProjectId: { value: over.created, secret: false } } : {}) },
    resources: [{ urn: "urn:pulumi:x::mlflow-kit::aws:s3/bucket:Bucket::b", type: "aws:s3/bucket:Bucket" }],
  });

  it("the shipped dev is long-lived: --expired keeps it, --stack dev refuses it", async () => {
    expect(readStackConfig("dev", {}).config["mlflow-kit:lifecycle"]).toBe("long-lived");
    const dev = readStackConfig("dev", {});
    const ws = new RecordingWorkspace({ dev: { config: Object.fromEntries(Object.entries(dev.config).map(([k, v]) => [k, { value: v, secret: false }])), outputs: { lifecycle: { value: "long-lived", secret: false } } } });
    const r = await teardown(ws, { request: { expired: true }, now: NOW, dryRun: false }, log());
    expect(r.decisions).toEqual([{ stack: "dev", action: "keep", reason: "long-lived: never expires" }]);
    expect(ws.methods()).not.toContain("destroy dev");
  });

  it("an expired stack whose Neon project another stack branches in is kept (schedule) or refused (by name), naming it", async () => {
    const ws = new RecordingWorkspace({ dev: neonStack({ created: "proj-dev" }), "pr-3": neonStack({ projectId: "proj-dev" }) });
    const r = await teardown(ws, { request: { expired: true }, now: NOW, dryRun: false }, log());
    expect(r.decisions.find((d) => d.stack === "dev")).toEqual({ stack: "dev", action: "keep", reason: "stack dev is shared: pr-3 builds on its neon project proj-dev. Tear that stack down first" });
    expect(r.destroyed).toEqual(["pr-3"]);
    // The per-stack job of the schedule decides again with every other stack's config.
    const again = new RecordingWorkspace({ dev: neonStack({ created: "proj-dev" }), "pr-9": neonStack({ projectId: "proj-dev" }) });
    const one = await teardown(again, { request: { stack: "dev", ifExpired: true }, now: NOW, dryRun: false }, log());
    expect(one.decisions[0].action).toBe("keep");
    const named = await teardown(again, { request: { stack: "dev" }, now: NOW, dryRun: false }, log());
    expect(named.decisions[0]).toMatchObject({ action: "refuse", reason: expect.stringContaining("pr-9 builds on its neon project proj-dev") });
    expect(again.methods()).not.toContain("destroy dev");
  });

  it("deploy creates a stack that no longer exists, with the environment's secrets as secrets, then runs up with the policy pack", async () => {
    const ws = new RecordingWorkspace({});
    const lines: string[] = [];
    await deploy(ws, { stack: "dev", create: true, env: { MLFLOW_KIT_NEON_API_KEY: "dev-neon-from-env" }, policyPacks: ["/repo/policies"] }, { log: (l) => lines.push(l) });
    expect(ws.methods()).toEqual(["listStacks", "createOrSelectStack dev", "setAllConfig dev", "up dev"]);
    expect(ws.calls.find(([m]) => m === "setAllConfig")![2]).toEqual({ "mlflow-kit:neonApiKey": { value: "dev-neon-from-env", secret: true } });
    expect(lines.join("\n")).toContain("dev: did not exist; created from Pulumi.dev.yaml");
    expect(lines.join("\n")).not.toContain("dev-neon-from-env");
    await expect(deploy(new RecordingWorkspace({}), { stack: "pr-1", create: true, env: {} }, log())).rejects.toThrow(/--stack: "pr-1" has no Pulumi\.pr-1\.yaml/);
  });

  it("without --create a missing stack is refused before anything is made (prod: a wrong backend must not start a second prod)", async () => {
    const ws = new RecordingWorkspace({});
    await expect(deploy(ws, { stack: "prod", env: {} }, log())).rejects.toThrow(/--stack: there is no stack "prod" in this backend.*nothing was created/);
    expect(ws.methods()).toEqual(["listStacks"]);
    const existing = new RecordingWorkspace({ prod: {} });
    await deploy(existing, { stack: "prod", env: {} }, log());
    expect(existing.methods()).toEqual(["listStacks", "createOrSelectStack prod", "up prod"]);
  });

  it("the deploy workflow recreates dev (--create) but never prod", () => {
    const { parse } = require("yaml") as typeof import("yaml");
    const wf = parse(fs.readFileSync(path.join(ROOT, ".github/workflows/deploy.yml"), "utf8"));
    const runs = (job: string) => wf.jobs[job].steps.map((s: { run?: string }) => s.run).filter(Boolean);
    expect(runs("dev")).toContain("npm run deploy -- --stack dev --create");
    expect(runs("prod")).toContain("npm run deploy -- --stack prod");
    expect(runs("prod").join("\n")).not.toContain("--create");
  });
});

describe("14: upper-case stack names are refused (they would take another stack's names)", () => {
  it("Dev is refused with the rename; dev parses", () => {
    const dev = readStackConfig("dev", {});
    const raw = (stack: string) => ({ project: "mlflow-kit", stack, values: dev.config, secretKeys: new Set(dev.secretKeys) });
    expect(() => parseSettings(raw("dev"))).not.toThrow();
    expect(() => parseSettings(raw("Dev"))).toThrow(SettingsError);
    expect(() => parseSettings(raw("Dev"))).toThrow('stack name: "Dev" has upper-case letters, and every resource name is lower-case, so it would collide with stack "dev"');
    expect(() => parseSettings(raw("PR-4"))).toThrow("`pulumi stack rename pr-4`");
  });
});

describe("15: credentials outside the kit's namespace, and misspelled namespaces", () => {
  const dev = readStackConfig("dev", {});
  const problems = (extra: Record<string, string>, secret: string[] = []) => {
    try {
      parseSettings({ project: "mlflow-kit", stack: "dev", values: { ...dev.config, ...extra }, secretKeys: new Set([...dev.secretKeys, ...secret]) });
      return [];
    } catch (err) {
      return (err as SettingsError).problems;
    }
  };
  const fakeKey = "wJalr" + "XUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

  it.each(["aws:secretKey", "aws:accessKey", "aws:token", "docker:registryPassword", "postgresql:password", "random:apiKey"])("%s in plain text is refused with the --secret command, its value never shown", (key) => {
    const [p, ...rest] = problems({ [key]: fakeKey });
    expect(rest).toEqual([]);
    expect(p).toBe(`${key}: is a credential set in plain text, so it is stored unencrypted in Pulumi.dev.yaml. Remove it and set it as a secret: \`pulumi config rm ${key} && pulumi config set --secret ${key} <value>\` (for AWS, prefer the role the deploy assumes by OIDC to stored keys)`);
    expect(p).not.toContain(fakeKey);
  });

  it("the same keys as secrets pass; a provider's non-credential keys pass", () => {
    expect(problems({ "aws:secretKey": fakeKey, "aws:accessKey": "AKIA" + "EXAMPLEEXAMPLE12" }, ["aws:secretKey", "aws:accessKey"])).toEqual([]);
    expect(problems({ "aws:profile": "work", "aws:skipCredentialsValidation": "true", "postgresql:sslmode": "require" })).toEqual([]);
  });

  it("a credential inside a provider's structured value is refused", () => {
    expect(problems({ "docker:registryAuth": JSON.stringify([{ address: "ghcr.io", username: "u", password: fakeKey }]) })).toEqual([
      "docker:registryAuth[0].password: looks like a credential in plain config. Set docker:registryAuth as a secret: `pulumi config set --secret docker:registryAuth ...`",
    ]);
  });

  it("mlflw-kit:ttlHours (a misspelled namespace) is refused with the key it meant; an unknown namespace too", () => {
    expect(problems({ "mlflw-kit:ttlHours": "24" })).toEqual([
      'mlflw-kit:ttlHours: the namespace "mlflw-kit" is neither mlflow-kit nor a provider the kit uses (aws, docker, random, postgresql, pulumi), so nothing would read it. Did you mean mlflow-kit:ttlHours? Move it: `pulumi config rm mlflw-kit:ttlHours && pulumi config set mlflow-kit:ttlHours <value>`',
    ]);
    expect(problems({ "gcp:credentials": "{}" })[0]).toMatch(/^gcp:credentials: the namespace "gcp" is neither mlflow-kit nor a provider.*Remove it \(`pulumi config rm gcp:credentials`\)$/);
  });
});

describe("17: rotate s3-key knows each store's keys and writes only config that loads", () => {
  const shipped = ["dev", "demo", "prod", "local"];
  /** The config after a rotation's changes, applied as `pulumi config set --path` would. */
  const applied = (config: Record<string, string>, changes: Array<{ path: string; to: string | number }>) => {
    const out = { ...config };
    for (const c of changes) {
      const [top, ...rest] = c.path.split(".");
      if (!rest.length) { out[top] = String(c.to); continue; }
      const obj = out[top] ? JSON.parse(out[top]) : {};
      let node = obj;
      for (const k of rest.slice(0, -1)) node = node[k] ??= {};
      node[rest.at(-1)!] = c.to;
      out[top] = JSON.stringify(obj);
    }
    return out;
  };

  it("local (MinIO, one key): bumps artifacts.keyRotation, and the result loads", () => {
    const local = readStackConfig("local", {});
    const plan = planRotation("s3-key", local.config);
    expect(plan.changes).toEqual([{ path: "mlflow-kit:artifacts.keyRotation", from: undefined, to: 1 }]);
    const after = applied(local.config, plan.changes);
    expect(parseSettings({ project: "mlflow-kit", stack: "local", values: after, secretKeys: new Set(local.secretKeys) }).artifacts).toMatchObject({ kind: "minio", keyRotation: 1 });
    expect(() => planRotation("s3-key", local.config, { revokeInactive: true })).toThrow(/--revoke-inactive: mlflow-kit:artifacts\.kind is minio, whose user has one key/);
  });

  it.each(shipped)("every credential on %s: refused with a message, or a config that loads", (stack) => {
    const cfg = readStackConfig(stack, {});
    for (const credential of CREDENTIALS) {
      let plan;
      try {
        plan = planRotation(credential, cfg.config);
      } catch (err) {
        expect(err, `${stack} ${credential}`).toBeInstanceOf(RotationError);
        continue;
      }
      const after = applied(cfg.config, plan.changes);
      expect(() => parseSettings({ project: "mlflow-kit", stack, values: after, secretKeys: new Set(cfg.secretKeys) }, { allowUnsupported: true }), `${stack} ${credential}`).not.toThrow();
    }
  });
});

describe("18: the pull-request comment stays under GitHub's 65,536 characters", () => {
  const SHA = "b".repeat(40);
  const bigLog = (i: number) => Array.from({ length: 400 }, (_, n) => `stack ${i} line ${n}: ${"x".repeat(40)}`).join("\n") + "\nerror: the last line matters";
  const reportOf = (n: number, violations = 0): PrReport => parseReport(JSON.stringify({
    pr: 9, headSha: SHA, affected: {},
    sections: Array.from({ length: n }, (_, i) => ({
      ...offlineSection(`stack-${i}`, JSON.stringify({ resources: [], violations: Array.from({ length: violations }, () => ({ policy: "p", level: "mandatory", message: "m".repeat(1500) })) }), bigLog(i), 1),
    })),
  }));

  it.each([1, 5, 30, 120, 500])("%i stacks with 12k-character logs: under the limit, every summary shown, the logs' tails kept, the run linked", (n) => {
    const body = renderComment(reportOf(n), "https://github.com/o/r/actions/runs/1");
    expect(body.length).toBeLessThanOrEqual(MAX_COMMENT_CHARS);
    expect(MAX_COMMENT_CHARS).toBeLessThanOrEqual(65_536);
    const rows = body.split("\n").filter((l) => l.startsWith("| stack-")).length;
    if (n <= 120) {
      expect(rows).toBe(n);
      expect(body.indexOf("| stack-0 |")).toBeLessThan(body.indexOf("<details>")); // summaries first
    } else {
      expect(rows).toBeGreaterThan(100);
      expect(body).toMatch(new RegExp(`${n - rows} more stacks \\(${n - rows} failed\\) are not shown.*\\[the run\\]\\(https://github.com/o/r/actions/runs/1\\)`));
    }
    if (n <= 5) expect(body.split("error: the last line matters").length - 1).toBe(n);
    if (n >= 30 && n <= 120) expect(body).toMatch(/logs? cut to (its|their) last lines: GitHub limits a comment to 65,536 characters\. The full output is in \[the run\]/);
  });

  it("many violations on many stacks: counted, not listed, still under the limit", () => {
    const body = renderComment(reportOf(40, 50));
    expect(body.length).toBeLessThanOrEqual(MAX_COMMENT_CHARS);
    expect(body).toContain("50 policy violations: see the workflow run");
  });
});
