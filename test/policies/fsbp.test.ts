/**
 * AWS Security Hub FSBP on the prod stack as planned: the plan satisfies every control the pack
 * enforces, and each edit of fsbp-cases.ts, which breaks exactly one control on that real plan,
 * is caught by its rule, mandatory, with the control id in the message.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { policies } from "../../policies/policies";
import { plan } from "../../stacks/plan";
import { checkPolicies, type AnalyzedResource } from "../../stacks/policy-check";
import { REPO_ROOT } from "../../stacks/stack-config";
import { FSBP_CASES } from "./fsbp-cases";

let prod: AnalyzedResource[];
const fresh = (): AnalyzedResource[] => structuredClone(prod);

beforeAll(async () => {
  const p = await plan("prod");
  expect(p.violations).toEqual([]);
  prod = p.resources.map((r) => ({ urn: r.urn, type: r.type, name: r.name, parent: r.parent, options: r.options, ...r.analyzer }));
}, 180_000);

describe("FSBP controls on prod's plan", () => {
  it.each(FSBP_CASES.map((c) => [`${c.control}: ${c.name} -> ${c.policy}`, c] as const))("%s", async (_n, c) => {
    const violations = await checkPolicies(c.mutate(fresh()));
    const caught = violations.filter((v) => v.policy === c.policy);
    expect(caught.length, JSON.stringify(violations.map((v) => `${v.policy}: ${v.message}`))).toBeGreaterThan(0);
    for (const v of caught) expect(v.level).toBe("mandatory");
    // The control named first; the edit breaks that control, not others by accident.
    expect(caught.map((v) => v.message).join("\n")).toContain(`FSBP ${c.control}:`);
    const others = violations.filter((v) => v.policy !== c.policy && v.level === "mandatory");
    expect(others.map((v) => `${v.policy}: ${v.message}`)).toEqual([]);
  });

  it("each FSBP rule's description names its controls, and has a case here or in rules.test.ts", () => {
    const fsbpRules = policies.filter((p) => /FSBP [A-Za-z]+\.\d+/.test(p.description ?? ""));
    expect(fsbpRules.length).toBeGreaterThanOrEqual(15);
    for (const p of fsbpRules) expect(FSBP_CASES.some((c) => c.policy === p.name), p.name).toBe(true);
  });

  it("policies/README.md's FSBP table lists every control a case breaks, with the rule that catches it", () => {
    const readme = fs.readFileSync(path.join(REPO_ROOT, "policies", "README.md"), "utf8");
    for (const c of FSBP_CASES) {
      for (const id of c.control.split(", ")) {
        const row = readme.split("\n").find((l) => l.startsWith(`| ${id} |`));
        expect(row, `README row for ${id}`).toBeDefined();
        expect(row, `README row for ${id}`).toContain(`\`${c.policy}\``);
      }
    }
  });
});
