/**
 * Review stacks, teardown and rotation as operations on a LifecycleWorkspace: each gathers
 * facts through the workspace, asks a decision function, and carries out only what it decided.
 * Secrets pass from one config to another as secrets and are never written to the log.
 */
import type { ConfigMap } from "@pulumi/pulumi/automation";
import { PROJECT, SECRET_KEYS } from "../../infra/settings";
import { secretEnvName } from "../stack-config";
import { planRotation, describeChanges, type Credential, type RotationPlan } from "./rotation-decision";
import { decideTeardown, stackFacts, type StackFacts, type TeardownDecision, type TeardownRequest } from "./teardown-decision";
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
  // An explicit --stack that is unreadable is refused as such; one that does not exist is an error.
  const decisions = "stack" in opts.request && unreadable.length ? unreadable : [...decideTeardown(facts, opts.request, opts.now), ...unreadable];
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

export async function reviewUp(
  ws: LifecycleWorkspace,
  opts: { pr: number | string; now: Date; ttlHours?: number; env: NodeJS.ProcessEnv; dryRun?: boolean; policyPacks?: string[] },
  io: Io,
): Promise<{ stack: string; expiresAt: string }> {
  const stack = reviewStackName(opts.pr);
  const dev = await ws.getAllConfig("dev");
  const devText = plainValues(dev);
  const devValues: Record<string, ConfigEntry> = Object.fromEntries(Object.entries(dev).map(([k, v]) => [k, { value: devText[k], secret: v.secret ?? false }]));
  // Secrets may come from the environment (CI), as for the offline plan: MLFLOW_KIT_<KEY>.
  for (const key of Object.keys(SECRET_KEYS)) {
    const fromEnv = opts.env[secretEnvName(key)];
    if (fromEnv) devValues[`${PROJECT}:${key}`] = { value: fromEnv, secret: true };
  }
  let neonProjectId: string | undefined;
  try {
    const out = (await ws.stackOutputs("dev")).neonProjectId;
    if (out && typeof out.value === "string") neonProjectId = out.value;
  } catch {
    neonProjectId = undefined; // dev not deployed: reviewStackConfig says what to do
  }
  const { config, expiresAt } = reviewStackConfig({ pr: opts.pr, dev: devValues, neonProjectId, now: opts.now, ttlHours: opts.ttlHours });
  for (const [k, v] of Object.entries(config).sort(([a], [b]) => a.localeCompare(b))) io.log(`${stack} ${k}: ${v.secret ? "[secret]" : v.value}`);
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
