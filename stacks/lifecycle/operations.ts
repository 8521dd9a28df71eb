/**
 * Review stacks, teardown and rotation as operations on a LifecycleWorkspace: each gathers
 * facts through the workspace, asks a decision function, and carries out only what it decided.
 * Secrets pass from one config to another as secrets and are never written to the log.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { ConfigMap } from "@pulumi/pulumi/automation";
import { PROJECT, SECRET_KEYS } from "../../infra/settings";
import { readStackConfig, REPO_ROOT, secretEnvName } from "../stack-config";
import { planRotation, describeChanges, type Credential, type RotationPlan } from "./rotation-decision";
import { decideTeardown, stackFacts, withDependents, type StackFacts, type TeardownDecision, type TeardownRequest } from "./teardown-decision";
import { reviewStackConfig, reviewStackName, type ConfigEntry } from "./review-config";
import type { LifecycleWorkspace } from "./workspace";

export interface Io {
  /** Progress and the CLI's own output (which masks secrets). */
  log: (line: string) => void;
}


/**
 * Full keys to values, structured ones as JSON text. `pulumi config --json` gives an object's
 * text in `value` and the parsed object in `objectValue` (not in the SDK's type): prefer the latter.
 */
function plainValues(config: ConfigMap): Record<string, string> {
  return Object.fromEntries(
    Object.entries(config).map(([k, v]) => {
      const object = (v as { objectValue?: unknown }).objectValue;
      return [k, object !== undefined && object !== null && typeof object === "object" ? JSON.stringify(object) : v.value];
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// teardown

export interface TeardownResult {
  decisions: TeardownDecision[];
  destroyed: string[];
  failed: Array<{ stack: string; error: string }>;
}

async function gatherFacts(ws: LifecycleWorkspace, name: string, updateInProgress: boolean): Promise<StackFacts | { name: string; error: string }> {
  try {
    const [config, outputs, state] = await Promise.all([ws.getAllConfig(name), ws.stackOutputs(name), ws.exportStack(name)]);
    return stackFacts({
      name,
      config: plainValues(config),
      outputs: Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.secret ? undefined : v.value])),
      deployment: state.deployment,
      updateInProgress,
    });
  } catch (err) {
    return { name, error: err instanceof Error ? err.message.split("\n")[0] : String(err) };
  }
}

export async function teardown(ws: LifecycleWorkspace, opts: { request: TeardownRequest; now: Date; dryRun: boolean }, io: Io): Promise<TeardownResult> {
  const summaries = await ws.listStacks();
  if ("stack" in opts.request && !summaries.some((s) => s.name === (opts.request as { stack: string }).stack)) {
    // The decision names every stack there is; only the requested one is read below.
    decideTeardown(summaries.map((s) => stackFacts({ name: s.name })), opts.request, opts.now);
  }
  const wanted = "stack" in opts.request ? summaries.filter((s) => s.name === (opts.request as { stack: string }).stack) : summaries;
  const facts: StackFacts[] = [];
  const unreadable: TeardownDecision[] = [];
  for (const s of wanted) {
    const f = await gatherFacts(ws, s.name, s.updateInProgress ?? false);
    if ("error" in f) unreadable.push({ stack: s.name, action: "refuse", reason: `stack ${s.name}: its state could not be read (${f.error}); nothing was decided. Check \`pulumi stack export --stack ${s.name}\`` });
    else facts.push(f);
  }
  // What every other stack builds on (its config), so that a shared stack outlives its users.
  const users: Array<{ name: string; uses: string[] }> = facts.map((f) => ({ name: f.name, uses: f.uses ?? [] }));
  for (const s of summaries.filter((x) => !wanted.includes(x))) {
    try {
      users.push({ name: s.name, uses: stackFacts({ name: s.name, config: plainValues(await ws.getAllConfig(s.name)) }).uses ?? [] });
    } catch {
      // Unreadable: it cannot be shown to depend on anything; its own decision says so.
    }
  }
  const linked = withDependents(facts, users);
  // An explicit --stack that is unreadable is refused as such; one that does not exist is an error.
  const decisions = "stack" in opts.request && unreadable.length ? unreadable : [...decideTeardown(linked, opts.request, opts.now), ...unreadable];
  const result: TeardownResult = { decisions, destroyed: [], failed: [] };
  for (const d of decisions) io.log(`${d.action.padEnd(7)} ${d.stack}: ${d.reason}`);
  if (opts.dryRun) {
    io.log("dry run: nothing destroyed");
    return result;
  }
  for (const d of decisions.filter((x) => x.action === "destroy")) {
    try {
      io.log(`destroying ${d.stack}`);
      await ws.destroy(d.stack, { onOutput: (t) => io.log(t.trimEnd()) });
      await ws.removeStack(d.stack);
      result.destroyed.push(d.stack);
      io.log(`removed ${d.stack}`);
    } catch (err) {
      // One failed stack does not stop the others; the run still fails at the end.
      result.failed.push({ stack: d.stack, error: err instanceof Error ? err.message.split("\n")[0] : String(err) });
      io.log(`failed ${d.stack}: ${result.failed.at(-1)!.error}`);
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// review stacks

/** Pulumi.dev.yaml's plain values as the workspace would give them: the review stacks' template. */
export function devTemplate(root = REPO_ROOT): Record<string, ConfigEntry> {
  const dev = readStackConfig("dev", {}, root);
  return Object.fromEntries(Object.entries(dev.config).filter(([k]) => !dev.secretKeys.includes(k)).map(([k, v]) => [k, { value: v, secret: false }]));
}

/** MLFLOW_KIT_<KEY> of the environment (the review environment's own keys), as full config keys. */
export function secretsFromEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(SECRET_KEYS)) {
    const value = env[secretEnvName(key)];
    if (value) out[`${PROJECT}:${key}`] = value;
  }
  return out;
}

/**
 * Creates or updates pr-N. Reads nothing of dev's stack: the template is the repository's
 * Pulumi.dev.yaml, the secrets the review environment's, so the review credential needs no
 * access to dev (and has none).
 */
export async function reviewUp(
  ws: LifecycleWorkspace,
  opts: { pr: number | string; now: Date; ttlHours?: number; env: NodeJS.ProcessEnv; dryRun?: boolean; policyPacks?: string[]; root?: string },
  io: Io,
): Promise<{ stack: string; expiresAt: string }> {
  const { stack, config, expiresAt, notes } = reviewStackConfig({ pr: opts.pr, dev: devTemplate(opts.root), secrets: secretsFromEnv(opts.env), now: opts.now, ttlHours: opts.ttlHours });
  for (const [k, v] of Object.entries(config).sort(([a], [b]) => a.localeCompare(b))) io.log(`${stack} ${k}: ${v.secret ? "[secret]" : v.value}`);
  for (const note of notes) io.log(`note: ${note}`);
  if (opts.dryRun) {
    io.log("dry run: no stack created");
    return { stack, expiresAt };
  }
  await ws.createOrSelectStack(stack);
  const existing = Object.keys(await ws.getAllConfig(stack));
  const stale = existing.filter((k) => !(k in config));
  if (stale.length) await ws.removeAllConfig(stack, stale);
  // Structured values go in as JSON text (no --path): settings parse them, and a string such as
  // engineVersion "16" keeps its type.
  await ws.setAllConfig(stack, Object.fromEntries(Object.entries(config).map(([k, v]) => [k, { value: v.value, secret: v.secret }])), false);
  await ws.up(stack, { policyPacks: opts.policyPacks, onOutput: (t) => io.log(t.trimEnd()) });
  io.log(`${stack} is up; it expires ${expiresAt}`);
  return { stack, expiresAt };
}

/**
 * `npm run deploy -- --stack S [--create]` (the deploy workflow, default branch only): with
 * --create, makes the stack when it is missing (dev removed by hand, or never made; without it
 * a missing stack is refused), sets the secrets the environment
 * gives (MLFLOW_KIT_<KEY>, as secrets), and runs `pulumi up` with the policy pack, which previews
 * before it changes anything.
 */
export async function deploy(
  ws: LifecycleWorkspace,
  opts: { stack: string; env: NodeJS.ProcessEnv; create?: boolean; policyPacks?: string[]; root?: string },
  io: Io,
): Promise<void> {
  const root = opts.root ?? REPO_ROOT;
  if (!/^[a-z0-9][a-z0-9_.-]*$/.test(opts.stack) || !fs.existsSync(path.join(root, `Pulumi.${opts.stack}.yaml`))) {
    throw new Error(`--stack: "${opts.stack}" has no Pulumi.${opts.stack}.yaml in the repository; deploy only makes stacks the repository describes`);
  }
  const existed = (await ws.listStacks()).some((s) => s.name === opts.stack);
  // Only where asked (dev): a missing prod more likely means the wrong backend or organization,
  // and creating it would start a second prod beside the real one.
  if (!existed && !opts.create) {
    throw new Error(`--stack: there is no stack "${opts.stack}" in this backend; nothing was created. Check the environment's PULUMI_BACKEND_URL or PULUMI_ORGANIZATION; if the stack really is to be made anew, run with --create`);
  }
  await ws.createOrSelectStack(opts.stack);
  io.log(existed ? `${opts.stack}: selected` : `${opts.stack}: did not exist; created from Pulumi.${opts.stack}.yaml`);
  const secrets = secretsFromEnv(opts.env);
  if (Object.keys(secrets).length) {
    await ws.setAllConfig(opts.stack, Object.fromEntries(Object.entries(secrets).map(([k, v]) => [k, { value: v, secret: true }])), false);
    io.log(`${opts.stack}: secrets from the environment: ${Object.keys(secrets).join(", ")}`);
  }
  await ws.up(opts.stack, { policyPacks: opts.policyPacks, onOutput: (t) => io.log(t.trimEnd()) });
}

export async function reviewDown(ws: LifecycleWorkspace, opts: { pr: number | string; now: Date; dryRun?: boolean }, io: Io): Promise<TeardownResult> {
  const stack = reviewStackName(opts.pr);
  if (!(await ws.listStacks()).some((s) => s.name === stack)) {
    io.log(`${stack} does not exist: nothing to tear down`);
    return { decisions: [], destroyed: [], failed: [] };
  }
  return teardown(ws, { request: { stack }, now: opts.now, dryRun: opts.dryRun ?? false }, io);
}

// ---------------------------------------------------------------------------------------------
// rotation

export async function rotate(
  ws: LifecycleWorkspace,
  opts: { stack: string; credential: Credential; revokeInactive?: boolean; dryRun?: boolean; configOnly?: boolean; policyPacks?: string[] },
  io: Io,
): Promise<RotationPlan> {
  if (!(await ws.listStacks()).some((s) => s.name === opts.stack)) {
    throw new Error(`--stack: there is no stack "${opts.stack}". Create it first (pulumi stack select --create ${opts.stack})`);
  }
  const plan = planRotation(opts.credential, plainValues(await ws.getAllConfig(opts.stack)), { revokeInactive: opts.revokeInactive });
  io.log(`rotate ${plan.credential} on ${opts.stack}: config change`);
  for (const line of describeChanges(plan.changes)) io.log(`  ${line}`);
  for (const note of plan.notes) io.log(`note: ${note}`);
  if (opts.dryRun) {
    io.log("dry run: config unchanged, nothing deployed");
    return plan;
  }
  await ws.setAllConfig(opts.stack, Object.fromEntries(plan.changes.map((c) => [c.path, { value: String(c.to), secret: false }])), true);
  io.log(`Pulumi.${opts.stack}.yaml updated: commit it with the update`);
  if (opts.configOnly) return plan;
  await ws.up(opts.stack, { policyPacks: opts.policyPacks, onOutput: (t) => io.log(t.trimEnd()) });
  return plan;
}
