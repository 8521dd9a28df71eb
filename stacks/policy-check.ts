/**
 * Runs the policy pack (policies/) over an offline plan, in process, the way @pulumi/policy's
 * Analyzer server runs it for the CLI: the same deserialization of the engine's wire format
 * (secrets unwrapped for validations, kept as Secret for remediations), the same enforcement
 * levels and config, resource rules per resource, stack rules over all of them.
 * test/policies/host.test.ts checks that the real host (cmd/run-policy-pack) agrees.
 */
import * as fs from "node:fs";
import type { Policy, PolicyResource, ReportViolation, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { policies as packPolicies } from "../policies/policies";

// @pulumi/policy's own deserialization (the host's): no public entry point exports it.
const { deserializeProperties } = require("@pulumi/policy/deserialize") as { deserializeProperties(struct: { toJavaScript(): unknown }, proxySecrets: boolean): Record<string, any> };
const { unknownCheckingProxy } = require("@pulumi/policy/proxy") as { unknownCheckingProxy<T>(o: T): T };
const { Secret } = require("@pulumi/policy") as typeof import("@pulumi/policy");

export type Level = "mandatory" | "advisory" | "remediate";

export interface Violation {
  policy: string;
  level: Level;
  urn: string;
  message: string;
}

/** A resource as the engine describes it to an analyzer. */
export interface AnalyzedResource {
  urn: string;
  type: string;
  name: string;
  parent?: string;
  /** Wire format: secrets as {"4dabf...": "1b47...", value}. */
  properties: Record<string, unknown>;
  options: { protect?: boolean; retainOnDelete?: boolean; deleteBeforeReplace?: boolean; ignoreChanges?: string[] };
  propertyDependencies: Record<string, string[]>;
  dependencies: string[];
}

/** Per-policy config, as `pulumi preview --policy-pack-config` takes it. */
export type PolicyConfig = Record<string, string | ({ enforcementLevel?: string } & Record<string, unknown>)>;

export function readPolicyConfig(file: string): PolicyConfig {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as PolicyConfig;
  } catch (err) {
    throw new Error(`--policy-config: cannot read ${file} as JSON (${(err as Error).message}). Use the format of pulumi's --policy-pack-config: {"<policy>": {"enforcementLevel": "mandatory", "<setting>": value}}`);
  }
}

class NotApplicable extends Error {}

export async function checkPolicies(resources: AnalyzedResource[], config: PolicyConfig = {}, policies: Policy[] = packPolicies): Promise<Violation[]> {
  const out: Violation[] = [];
  const levelOf = (p: Policy) => {
    const c = config[p.name];
    return ((typeof c === "string" ? c : c?.enforcementLevel) ?? p.enforcementLevel ?? "advisory") as Level | "disabled";
  };
  const getConfig = (p: Policy) => () => {
    const c = config[p.name];
    if (!c || typeof c === "string") return {};
    const { enforcementLevel: _, ...rest } = c;
    return rest;
  };
  const notApplicable = (reason?: string): never => {
    throw new NotApplicable(reason);
  };
  const reporter = (p: Policy, level: Level, defaultUrn: string): ReportViolation => (message: any, urn?: string) => {
    const text = typeof message === "string" ? message : message?.message ?? p.description;
    out.push({ policy: p.name, level, urn: (typeof message === "object" && message?.urn) || urn || defaultUrn, message: text });
  };
  const run = async (f: () => unknown) => {
    try {
      await f();
    } catch (err) {
      if (!(err instanceof NotApplicable)) throw err;
    }
  };
  const props = (r: AnalyzedResource, keepSecrets: boolean) => unknownCheckingProxy(deserializeProperties({ toJavaScript: () => r.properties }, keepSecrets));
  const opts = (r: AnalyzedResource) => ({ protect: r.options.protect ?? false, ignoreChanges: r.options.ignoreChanges ?? [], deleteBeforeReplace: r.options.deleteBeforeReplace, aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [], parent: r.parent, retainOnDelete: r.options.retainOnDelete ?? false });
  const common = (r: AnalyzedResource, p: Record<string, any>) => ({
    type: r.type, props: p, urn: r.urn, name: r.name, opts: opts(r),
    isType: (cls: any) => cls?.__pulumiType === r.type, asType: (cls: any) => (cls?.__pulumiType === r.type ? p : undefined),
  });

  for (const r of resources) {
    for (const p of packPolicies_(policies)) {
      const level = levelOf(p);
      if (level === "disabled") continue;
      const rp = p as ResourceValidationPolicy;
      // A remediation runs first and sees secrets; what it would change is reported.
      if (level === "remediate" && rp.remediateResource) {
        const before = props(r, true);
        await run(async () => {
          const after = await rp.remediateResource!({ ...common(r, before), getConfig: getConfig(p), notApplicable } as any);
          if (after) {
            const paths = newlySecret(r.properties, after);
            reporter(p, "remediate", r.urn)(`${paths.length ? `${paths.join(", ")}: plain text; ` : ""}the policy changes this resource's inputs (${p.description})`);
          }
        });
      }
      if (!rp.validateResource) continue;
      const validations = Array.isArray(rp.validateResource) ? rp.validateResource : [rp.validateResource];
      for (const v of validations) {
        await run(() => v({ ...common(r, props(r, false)), getConfig: getConfig(p), notApplicable, stackTags: new Map() } as any, reporter(p, level === "remediate" ? "mandatory" : level, r.urn)));
      }
    }
  }

  // Stack rules: every resource, with parents and dependencies as objects.
  const byUrn = new Map<string, PolicyResource>();
  for (const r of resources) byUrn.set(r.urn, { ...common(r, props(r, false)), dependencies: [], propertyDependencies: {} } as unknown as PolicyResource);
  for (const r of resources) {
    const pr = byUrn.get(r.urn)!;
    if (r.parent && byUrn.has(r.parent)) pr.parent = byUrn.get(r.parent);
    pr.dependencies = r.dependencies.map((u) => byUrn.get(u)).filter((x): x is PolicyResource => !!x);
    pr.propertyDependencies = Object.fromEntries(Object.entries(r.propertyDependencies).map(([k, us]) => [k, us.map((u) => byUrn.get(u)).filter((x): x is PolicyResource => !!x)]));
  }
  for (const p of policies) {
    const sp = p as StackValidationPolicy;
    const level = levelOf(p);
    if (!sp.validateStack || level === "disabled") continue;
    await run(() => sp.validateStack({ resources: [...byUrn.values()], getConfig: getConfig(p), notApplicable, stackTags: new Map() } as any, reporter(p, level === "remediate" ? "mandatory" : level, "")));
  }
  return out;
}

const packPolicies_ = (ps: Policy[]) => ps.filter((p) => "validateResource" in p || "remediateResource" in p);

/** Paths that are plain in the wire inputs and a Secret in a remediation's result. */
function newlySecret(wire: unknown, after: unknown, path = ""): string[] {
  if (after instanceof Secret) {
    const plain = !(wire && typeof wire === "object" && "4dabf18193072939515e22adb298388d" in (wire as object));
    return plain ? [path] : [];
  }
  if (Array.isArray(after)) return after.flatMap((x, i) => newlySecret(Array.isArray(wire) ? wire[i] : undefined, x, `${path}[${i}]`));
  if (after && typeof after === "object") {
    return Object.entries(after).flatMap(([k, x]) => newlySecret((wire as any)?.[k], x, path ? `${path}.${k}` : k));
  }
  return [];
}
