/**
 * The shipped stacks against the pack: no mandatory violation as shipped, and every unsafe
 * shape their settings can still take (the schema accepts it) is caught. Each shape edits one
 * stack's Pulumi.<stack>.yaml values the way an operator would and runs the offline plan.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { plan } from "../../stacks/plan";
import type { PolicyConfig } from "../../stacks/policy-check";
import { readStackConfig, REPO_ROOT } from "../../stacks/stack-config";

const SHIPPED = fs.readdirSync(REPO_ROOT).map((f) => /^Pulumi\.([^.]+)\.yaml$/.exec(f)?.[1]).filter((s): s is string => !!s);
const inDays = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString().replace(/\.\d{3}Z$/, "Z");

/** The stack's value of `key` with `patch` merged in (objects), as the engine passes config. */
function edit(stack: string, key: string, patch: unknown): Record<string, string> {
  const full = `mlflow-kit:${key}`;
  const current = readStackConfig(stack, {}).config[full];
  const merged = patch && typeof patch === "object" && current?.startsWith("{") ? { ...JSON.parse(current), ...patch } : patch;
  return { [full]: typeof merged === "string" ? merged : JSON.stringify(merged) };
}

interface Shape {
  stack: string;
  name: string;
  overrides: () => Record<string, string>;
  policy: string;
  level: "mandatory" | "advisory";
  message: RegExp;
  policyConfig?: PolicyConfig;
  /** A target that must be deployable for the resource the rule checks to exist. */
  needsTarget?: RegExp;
}

/** The Render target is planned once it and its database (Neon) are deployable. */
const RENDER_PENDING = /target\.kind: render is not yet supported|database\.kind: neon is not yet supported/;

export const UNSAFE_SHAPES: Shape[] = [
  { stack: "prod", name: "decommission set without the decommission policy config", overrides: () => edit("prod", "decommission", "true"), policy: "data-protected-when-long-lived", level: "mandatory", message: /lacks protect: true/ },
  { stack: "prod", name: "made ephemeral with a TTL of 2000 hours", overrides: () => ({ ...edit("prod", "lifecycle", "ephemeral"), ...edit("prod", "ttlHours", "2000") }), policy: "ephemeral-stack-expires", level: "mandatory", message: /more than 720 hours from now/ },
  { stack: "prod", name: "made ephemeral with an expiry 60 days away", overrides: () => ({ ...edit("prod", "lifecycle", "ephemeral"), ...edit("prod", "expiresAt", inDays(60)) }), policy: "ephemeral-stack-expires", level: "mandatory", message: /more than 720 hours from now/ },
  { stack: "prod", name: "noncurrent artifact versions kept 1 day", overrides: () => edit("prod", "artifacts", { noncurrentVersionDays: 1 }), policy: "s3-noncurrent-versions-kept", level: "advisory", message: /after 1 days, below 30/ },
  { stack: "prod", name: "7 days of backups under a 14-day team policy", overrides: () => edit("prod", "database", { backupRetentionDays: 7 }), policyConfig: { "rds-backups-kept": { minBackupRetentionDays: 14 } }, policy: "rds-backups-kept", level: "mandatory", message: /backupRetentionPeriod is 7 days, below the 14/ },
  { stack: "prod", name: "access logs turned off (mlflow-kit:logging.accessLogs false)", overrides: () => edit("prod", "logging", { accessLogs: false }), policy: "elb-access-logged-when-long-lived", level: "mandatory", message: /FSBP ELB\.5: .* logs no requests/ },
  { stack: "prod", name: "16 workers in a 2 GB task", overrides: () => edit("prod", "server", { workers: 16 }), policy: "workers-fit-memory", level: "mandatory", message: /MLFLOW_WORKERS=16 does not fit 2048 MB/ },
  { stack: "local", name: "decommission set without the decommission policy config", overrides: () => edit("local", "decommission", "true"), policy: "data-protected-when-long-lived", level: "mandatory", message: /docker:index\/volume:Volume .* lacks protect: true/ },
  // Neon stacks cannot reach 720 hours (settings refuse ttlHours > 719: Neon caps a branch expiry at 30 days): a stricter team ceiling instead.
  { stack: "demo", name: "a TTL of 700 hours under a 24-hour team ceiling", overrides: () => edit("demo", "ttlHours", "700"), policyConfig: { "ephemeral-stack-expires": { maxTtlHours: 24 } }, policy: "ephemeral-stack-expires", level: "mandatory", message: /more than 24 hours from now/ },
  { stack: "demo", name: "MANAGE as the default permission", overrides: () => edit("demo", "server", { defaultPermission: "MANAGE" }), policy: "server-access-defaults", level: "advisory", message: /MLFLOW_DEFAULT_PERMISSION=MANAGE/, needsTarget: /database\.kind: neon is not yet supported/ },
  { stack: "dev", name: "made ephemeral with a TTL of 700 hours under a 24-hour team ceiling", overrides: () => ({ ...edit("dev", "lifecycle", "ephemeral"), ...edit("dev", "ttlHours", "700") }), policyConfig: { "ephemeral-stack-expires": { maxTtlHours: 24 } }, policy: "ephemeral-stack-expires", level: "mandatory", message: /more than 24 hours from now/ },
  { stack: "dev", name: "2 workers on Render's starter plan (512 MB)", overrides: () => ({ ...edit("dev", "target", { plan: "starter" }), ...edit("dev", "server", { workers: 2 }) }), policy: "workers-fit-memory", level: "mandatory", message: /MLFLOW_WORKERS=2 does not fit Render's starter plan \(512 MB\)/, needsTarget: RENDER_PENDING },
  { stack: "dev", name: "a plain-HTTP CORS origin", overrides: () => edit("dev", "server", { corsAllowedOrigins: ["http://notebooks.example.com"] }), policy: "server-access-defaults", level: "advisory", message: /allows http:\/\/notebooks\.example\.com over plain HTTP/, needsTarget: RENDER_PENDING },
];

describe("shipped stacks", () => {
  it("are the ones this file knows", () => {
    expect(SHIPPED.length).toBeGreaterThanOrEqual(2);
    for (const s of SHIPPED) expect(UNSAFE_SHAPES.some((u) => u.stack === s), `an unsafe shape of ${s}`).toBe(true);
  });

  it.each(SHIPPED)("%s: the plan has no mandatory violation", async (stack) => {
    const p = await plan(stack);
    expect(p.violations.filter((v) => v.level === "mandatory")).toEqual([]);
  });
});

describe("decommissioning a long-lived stack", () => {
  it("mlflow-kit:decommission alone is caught; with policies/config/decommission.json it is advisory", async () => {
    const overrides = edit("prod", "decommission", "true");
    const caught = await plan("prod", { overrides });
    const mandatory = caught.violations.filter((v) => v.level === "mandatory");
    expect([...new Set(mandatory.map((v) => v.policy))].sort()).toEqual(["data-protected-when-long-lived", "elb-deletion-protected-when-long-lived", "rds-deletion-guarded-when-long-lived"]);
    expect(mandatory.map((v) => v.message).join("\n")).toMatch(/lacks protect: true/);
    const config = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "policies", "config", "decommission.json"), "utf8"));
    const allowed = await plan("prod", { overrides, policyConfig: config });
    expect(allowed.violations.filter((v) => v.level === "mandatory")).toEqual([]);
    expect(allowed.violations.map((v) => `${v.level} ${v.policy}`)).toEqual(expect.arrayContaining(["advisory data-protected-when-long-lived", "advisory elb-deletion-protected-when-long-lived", "advisory rds-deletion-guarded-when-long-lived"]));
  });
});

describe("unsafe shapes the settings still accept are caught", () => {
  it.each(UNSAFE_SHAPES.map((u) => [`${u.stack}: ${u.name}`, u] as const))("%s", async (_n, u) => {
    const p = await plan(u.stack, { overrides: u.overrides(), policyConfig: u.policyConfig });
    const pending = u.needsTarget && p.skipped.some((s) => u.needsTarget!.test(s));
    if (pending) {
      // The target is not deployable in this version: the resource the rule reads is not
      // planned. tests/policies/rules.test.ts catches the same shape on a realistic resource.
      const targetTypes = /target\.kind: ecs/.test(u.needsTarget!.source) ? /^aws:ecs\// : /^pulumi-nodejs:dynamic\/(render|hf):/;
      expect(p.resources.filter((r) => targetTypes.test(r.type))).toEqual([]);
      return;
    }
    const found = p.violations.filter((v) => v.policy === u.policy);
    expect(found.map((v) => v.level)).toContain(u.level);
    expect(found.map((v) => v.message).join("\n")).toMatch(u.message);
  });
});

it("the shapes are listed in policies/README.md", () => {
  const readme = fs.readFileSync(path.join(REPO_ROOT, "policies", "README.md"), "utf8");
  for (const u of UNSAFE_SHAPES) expect(readme, u.name).toContain(`${u.stack}: ${u.name}`);
});
