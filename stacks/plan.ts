/**
 * The offline plan: `npm run plan -- --stack <name> [--json] [--strict]`.
 *
 * Evaluates the program for Pulumi.<name>.yaml under mocks (no CLI, no credentials, no
 * network) and prints every resource with its key settings, secrets shown as "[secret]".
 * A reviewer without cloud credentials (a pull request from a fork) sees what a change does.
 * Kinds this version cannot deploy yet are left out with a note; --strict fails on them the
 * way `pulumi up` does. The policy pack (policies/) runs over the planned resources; its
 * violations follow the tree, and a mandatory one fails the plan as it fails `pulumi preview`.
 */
import { parseArgs } from "node:util";
import { mlflowStack } from "../infra/program";
import { loadSettings, SettingsError } from "../infra/settings";
import { evaluateStack, type EvaluatedStack, type PlannedResource } from "./offline";
import { checkPolicies, readPolicyConfig, type PolicyConfig, type Violation } from "./policy-check";
import { readStackConfig } from "./stack-config";

/** placeholders: the secret keys filled with a stand-in value (offline only), as the plan says. */
export type Plan = EvaluatedStack & { skipped: string[]; violations: Violation[]; placeholders: string[] };

export interface PlanOptions {
  /** Kinds this version cannot deploy fail, as in `pulumi up` (otherwise: left out with a note). */
  strict?: boolean;
  /**
   * A secret neither the environment (MLFLOW_KIT_<KEY>) nor the file holds is missing, as in
   * `pulumi up`: settings name it with the `pulumi config set --secret` command. The CLI's
   * --strict sets this too; otherwise a placeholder stands in and the plan lists it.
   */
  requireSecrets?: boolean;
  dir?: string;
  revealSecrets?: boolean;
  /** Config values over Pulumi.<stack>.yaml's (full keys, strings as the engine has them). */
  overrides?: Record<string, string>;
  /** Policy config, as `pulumi preview --policy-pack-config` takes it. */
  policyConfig?: PolicyConfig;
}

export async function plan(stack: string, opts: PlanOptions = {}): Promise<Plan> {
  const cfg = readStackConfig(stack, process.env, opts.dir, opts.overrides);
  const dropped = new Set(opts.requireSecrets ? cfg.missing.filter((k) => !(k in (opts.overrides ?? {}))) : []);
  const config = Object.fromEntries(Object.entries({ ...cfg.config, ...opts.overrides }).filter(([k]) => !dropped.has(k)));
  let skipped: string[] = [];
  const evaluated = await evaluateStack({
    project: cfg.project,
    stack,
    config,
    secretKeys: cfg.secretKeys.filter((k) => !dropped.has(k)),
    revealSecrets: opts.revealSecrets,
    program: () => {
      const settings = loadSettings({ allowUnsupported: !opts.strict });
      skipped = settings.skipped;
      return mlflowStack(settings);
    },
  });
  const violations = await checkPolicies(evaluated.resources.map((r) => ({
    urn: r.urn, type: r.type, name: r.name, parent: r.parent, options: r.options, ...r.analyzer,
  })), opts.policyConfig);
  const placeholders = cfg.placeholders.filter((k) => !dropped.has(k) && !(k in (opts.overrides ?? {})));
  return { ...evaluated, skipped, violations, placeholders };
}

export const hasMandatory = (p: Plan) => p.violations.some((v) => v.level === "mandatory");

export function planJson(p: Plan): string {
  return JSON.stringify({
    stack: p.stack,
    resources: p.resources.map(({ urn, type, name, parent, inputs }) => ({ urn, type, name, parent, inputs: shown(inputs) })),
    outputs: p.outputs,
    skipped: p.skipped,
    placeholders: p.placeholders,
    violations: p.violations,
  }, null, 2);
}

/** The resource tree, each resource with its inputs on indented lines. */
export function planText(p: Plan): string {
  const children = new Map<string | undefined, PlannedResource[]>();
  const urns = new Set(p.resources.map((r) => r.urn));
  for (const r of p.resources) {
    const parent = r.parent && urns.has(r.parent) ? r.parent : undefined;
    children.set(parent, [...(children.get(parent) ?? []), r]);
  }
  const lines = [`stack ${p.stack}: ${p.resources.length} resources`];
  const walk = (parent: string | undefined, depth: number) => {
    for (const r of children.get(parent) ?? []) {
      const flags = [r.options.protect && "protected", r.options.retainOnDelete && "retained on delete"].filter(Boolean);
      lines.push(`${"  ".repeat(depth)}+ ${r.type} ${r.name}${flags.length ? `  [${flags.join(", ")}]` : ""}`);
      for (const [k, v] of Object.entries(shown(r.inputs))) {
        const text = typeof v === "string" ? v : JSON.stringify(v);
        lines.push(`${"  ".repeat(depth + 2)}${k}: ${text.length > 160 ? `${text.slice(0, 157)}...` : text}`);
      }
      walk(r.urn, depth + 1);
    }
  };
  walk(undefined, 1);
  lines.push("outputs:");
  for (const [k, v] of Object.entries(p.outputs)) lines.push(`  ${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`);
  for (const s of p.skipped) lines.push(`not planned: ${s}`);
  if (p.placeholders.length) lines.push(placeholderNote(p.placeholders));
  const counts = (["mandatory", "advisory", "remediate"] as const).map((l) => `${p.violations.filter((v) => v.level === l).length} ${l}`);
  lines.push(`policy violations (policies/): ${counts.join(", ")}`);
  for (const v of p.violations) {
    lines.push(`  [${v.level}] ${v.policy}: ${v.urn.split("::").pop()}`);
    for (const l of v.message.split("\n")) lines.push(`      ${l}`);
  }
  return lines.join("\n");
}

/** Which secrets the plan filled with stand-ins: its resources are right, those values are not real. */
export function placeholderNote(keys: string[]): string {
  return `placeholders used for ${keys.length} secret${keys.length === 1 ? "" : "s"} not in the environment (offline only; MLFLOW_KIT_<KEY> gives a real one; --strict fails instead): ${keys.join(", ")}`;
}

/** Inputs as a reviewer reads them: without a dynamic resource's serialized provider code. */
function shown(inputs: Record<string, unknown>): Record<string, unknown> {
  const { __provider: _code, ...rest } = inputs;
  return rest;
}

async function main() {
  const { values } = parseArgs({
    options: {
      stack: { type: "string", default: "prod" },
      json: { type: "boolean", default: false },
      strict: { type: "boolean", default: false },
      dir: { type: "string" }, // where Pulumi.<stack>.yaml is; the project root by default
      "policy-config": { type: "string" }, // a JSON file as for pulumi's --policy-pack-config
    },
    allowPositionals: false,
  });
  // Pulumi records a stack trace on every promise it makes (debuggablePromise), read only to
  // report leaked promises under PULUMI_DEBUG_PROMISE_LEAKS: ~0.3 s of CPU in a prod plan. The
  // CLI prints messages, never stacks; resources' source positions set their own limit.
  if (!process.env.PULUMI_DEBUG_PROMISE_LEAKS) Error.stackTraceLimit = 0;
  try {
    const policyConfig = values["policy-config"] ? readPolicyConfig(values["policy-config"]) : undefined;
    const p = await plan(values.stack!, { strict: values.strict, requireSecrets: values.strict, dir: values.dir, policyConfig });
    for (const s of p.skipped) process.stderr.write(`note: not planned: ${s}\n`);
    if (p.placeholders.length) process.stderr.write(`note: ${placeholderNote(p.placeholders)}\n`);
    process.stdout.write(`${values.json ? planJson(p) : planText(p)}\n`);
    if (hasMandatory(p)) {
      process.stderr.write(`policy: ${p.violations.filter((v) => v.level === "mandatory").length} mandatory violation(s); pulumi preview with --policy-pack policies would fail the same way\n`);
      process.exitCode = 1;
    }
  } catch (err) {
    process.stderr.write(`${err instanceof SettingsError || err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}

if (require.main === module) void main();
