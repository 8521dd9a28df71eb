/**
 * Decommissioning a long-lived stack (README): what `pulumi destroy` meets in each shipped
 * stack, before and after `mlflow-kit:decommission`, read off the dependency lists the engine
 * receives. The engine deletes a resource before everything it depends on, and a retained
 * (retainOnDelete) resource is only dropped from state: so every resource a retained one
 * depends on must be retained too, or AWS refuses to delete it while the retained one uses it.
 */
import { describe, expect, it } from "vitest";
import { mlflowStack } from "../../infra/program";
import { loadSettings } from "../../infra/settings";
import { evaluateStack, type EvaluatedStack } from "../../stacks/offline";
import { readStackConfig } from "../../stacks/stack-config";

async function evaluate(stack: string, extra: Record<string, string> = {}): Promise<EvaluatedStack> {
  const cfg = readStackConfig(stack);
  return evaluateStack({
    project: cfg.project,
    stack,
    config: { ...cfg.config, ...extra },
    secretKeys: cfg.secretKeys,
    program: () => mlflowStack(loadSettings({ allowUnsupported: true })),
  });
}

/** Resources that are retained on delete but depend on one that is not. */
function brokenRetainChains(s: EvaluatedStack): string[] {
  const byUrn = new Map(s.resources.map((r) => [r.urn, r]));
  const out: string[] = [];
  for (const r of s.resources.filter((x) => x.options.retainOnDelete)) {
    // Objects inside the database (bootstrap: direct) live and die with the instance itself.
    if (r.type.startsWith("postgresql:")) continue;
    // AWS refuses to delete what a retained AWS resource still uses; outside AWS nothing refuses
    // (dev's retained Neon databases and the adopted free Render service lose their endpoint,
    // credential and keys, which is what their retention means: data kept, service not ours).
    if (!r.type.startsWith("aws:")) continue;
    for (const dep of r.dependencies) {
      const d = byUrn.get(dep);
      // Providers and components are no cloud objects: nothing to refuse.
      if (!d || d.type.startsWith("pulumi:providers:") || d.type.startsWith("mlflow-kit:")) continue;
      if (!d.options.retainOnDelete) out.push(`${r.type} ${r.name} -> ${d.type} ${d.name}`);
    }
  }
  return out;
}

describe("decommissioning", async () => {
  const stacks = {
    prod: await evaluate("prod"),
    "prod (decommission)": await evaluate("prod", { "mlflow-kit:decommission": "true" }),
    dev: await evaluate("dev"),
  };

  it("records the engine's dependency lists (the check below would pass vacuously otherwise)", () => {
    const policy = stacks.prod.resources.find((r) => r.type === "aws:s3/bucketPolicy:BucketPolicy")!;
    const bucket = stacks.prod.resources.find((r) => r.type === "aws:s3/bucket:Bucket")!;
    expect(policy.dependencies).toContain(bucket.urn);
    expect(stacks.prod.resources.filter((r) => r.options.retainOnDelete).length).toBeGreaterThan(0);
  });

  it.each(Object.keys(stacks))("%s: every resource a retained resource depends on is retained too", (name) => {
    expect(brokenRetainChains(stacks[name as keyof typeof stacks])).toEqual([]);
  });

  it("prod: the database is protected but not retained, so destroy runs DeleteDBInstance (final snapshot)", () => {
    const db = stacks.prod.resources.find((r) => r.type === "aws:rds/instance:Instance")!;
    expect(db.options).toMatchObject({ protect: true });
    expect(db.options.retainOnDelete).toBeFalsy();
    expect(db.inputs).toMatchObject({ deletionProtection: true, skipFinalSnapshot: false, finalSnapshotIdentifier: "mlflow-kit-prod-db-final" });
  });

  it("prod with decommission: nothing is protected any more, the bucket is still retained, the final snapshot still taken", () => {
    const s = stacks["prod (decommission)"];
    expect(s.resources.filter((r) => r.options.protect).map((r) => `${r.type} ${r.name}`)).toEqual([]);
    const bucket = s.resources.find((r) => r.type === "aws:s3/bucket:Bucket")!;
    expect(bucket.options.retainOnDelete).toBe(true);
    expect(bucket.inputs.forceDestroy).toBeFalsy();
    const db = s.resources.find((r) => r.type === "aws:rds/instance:Instance")!;
    expect(db.inputs).toMatchObject({ deletionProtection: false, skipFinalSnapshot: false, deleteAutomatedBackups: false });
  });
});
