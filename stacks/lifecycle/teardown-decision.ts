/**
 * Which stacks the teardown destroys, and which it refuses: plain functions over facts the
 * Automation API layer gathers (stack config, stack outputs, exported state). No I/O here.
 *
 * Conservative by construction: a stack is destroyed only when every source that states a
 * lifecycle says "ephemeral", no resource is protected, no update is running, and (with
 * --expired) the latest expiry any source states has passed.
 */
import { parseExpiry } from "./expiry";

/** Where a fact came from, so that a refusal can say why. */
export interface Stated {
  source: string;
  value: string;
}

export interface StackFacts {
  name: string;
  /** What each source says the lifecycle is: config, outputs, resource tags. */
  lifecycle: Stated[];
  /** What each source says the expiry is (RFC 3339 with offset). */
  expiresAt: Stated[];
  /** URNs of resources with `protect: true` in the stack's state. */
  protectedResources: string[];
  /** An update is running on the stack now (pulumi stack ls). */
  updateInProgress: boolean;
  /** Resources in the state other than the stack itself and providers; undefined: not known. */
  managedResources?: number;
  /** Shared things this stack made that others can build on: the Neon project it created. */
  provides?: string[];
  /** Shared things of other stacks this stack builds on: the Neon project it branches in. */
  uses?: string[];
  /** Stacks that use what this one provides (withDependents): it must outlive them. */
  dependents?: string[];
}

/** One stack (ifExpired: only once its expiry has passed, as --expired would), or every expired stack. */
export type TeardownRequest = { stack: string; ifExpired?: boolean } | { expired: true };

export type TeardownDecision =
  | { stack: string; action: "destroy"; reason: string }
  | { stack: string; action: "refuse"; reason: string }
  | { stack: string; action: "keep"; reason: string };

export class TeardownError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TeardownError";
  }
}

const TAG_LIFECYCLE = "mlflow-kit:lifecycle";
const TAG_EXPIRES_AT = "mlflow-kit:expires-at";

/** The facts one stack's config, outputs and exported state state (any may be missing). */
export function stackFacts(input: {
  name: string;
  /** Full keys to values as the workspace gives them. */
  config?: Record<string, string>;
  outputs?: Record<string, unknown>;
  /** `deployment` of `pulumi stack export`. */
  deployment?: { resources?: Array<{ urn?: string; type?: string; protect?: boolean; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> }> };
  updateInProgress?: boolean;
}): StackFacts {
  const lifecycle: Stated[] = [];
  const expiresAt: Stated[] = [];
  const protectedResources: string[] = [];
  let managedResources: number | undefined = input.deployment ? 0 : undefined;
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  const cfgLifecycle = input.config?.["mlflow-kit:lifecycle"];
  if (cfgLifecycle !== undefined) lifecycle.push({ source: "config mlflow-kit:lifecycle", value: cfgLifecycle });
  const cfgExpiry = input.config?.["mlflow-kit:expiresAt"];
  if (cfgExpiry !== undefined) expiresAt.push({ source: "config mlflow-kit:expiresAt", value: cfgExpiry });
  const outLifecycle = str(input.outputs?.lifecycle);
  if (outLifecycle !== undefined) lifecycle.push({ source: "stack output lifecycle", value: outLifecycle });
  const outExpiry = str(input.outputs?.expiresAt);
  if (outExpiry !== undefined) expiresAt.push({ source: "stack output expiresAt", value: outExpiry });
  for (const r of input.deployment?.resources ?? []) {
    const urn = r.urn ?? "(resource without urn)";
    if (r.protect) protectedResources.push(urn);
    if (managedResources !== undefined && r.type !== "pulumi:pulumi:Stack" && !String(r.type ?? "").startsWith("pulumi:providers:")) managedResources++;
    // Tags survive a half-finished update whose stack outputs were never written.
    const tags = (r.outputs?.tags ?? r.inputs?.tags) as Record<string, unknown> | undefined;
    if (tags && typeof tags === "object") {
      const l = str(tags[TAG_LIFECYCLE]);
      const e = str(tags[TAG_EXPIRES_AT]);
      if (l !== undefined && !lifecycle.some((s) => s.value === l && s.source.startsWith("tag"))) lifecycle.push({ source: `tag ${TAG_LIFECYCLE} of ${urn}`, value: l });
      if (e !== undefined && !expiresAt.some((s) => s.value === e && s.source.startsWith("tag"))) expiresAt.push({ source: `tag ${TAG_EXPIRES_AT} of ${urn}`, value: e });
    }
  }
  // A stack that created its Neon project (no database.projectId) provides it; one that names a
  // project branches in it: tearing the first down deletes the project with the other's branch.
  let configuredProject: string | undefined;
  try {
    const db = JSON.parse(input.config?.["mlflow-kit:database"] ?? "null") as { kind?: unknown; projectId?: unknown } | null;
    if (db && db.kind === "neon" && typeof db.projectId === "string") configuredProject = db.projectId;
  } catch {
    configuredProject = undefined;
  }
  const created = str(input.outputs?.neonProjectId);
  const provides = created && !configuredProject ? [`neon project ${created}`] : [];
  const uses = configuredProject ? [`neon project ${configuredProject}`] : [];
  return { name: input.name, lifecycle, expiresAt, protectedResources, updateInProgress: input.updateInProgress ?? false, managedResources, provides, uses, dependents: [] };
}

/** Each stack's dependents: the other stacks that use what it provides. */
export function withDependents(facts: StackFacts[], users: Array<{ name: string; uses: string[] }>): StackFacts[] {
  return facts.map((f) => ({
    ...f,
    dependents: users.filter((u) => u.name !== f.name && u.uses.some((x) => (f.provides ?? []).includes(x))).map((u) => u.name).sort(),
  }));
}

/** long-lived if any source says so; ephemeral if every source says so; otherwise unknown. */
export function effectiveLifecycle(facts: StackFacts): { value: "long-lived" | "ephemeral" | "unknown"; because: string } {
  const longLived = facts.lifecycle.find((s) => s.value === "long-lived");
  if (longLived) return { value: "long-lived", because: longLived.source };
  const other = facts.lifecycle.find((s) => s.value !== "ephemeral");
  if (other) return { value: "unknown", because: `${other.source} is "${other.value}"` };
  if (facts.lifecycle.length === 0) return { value: "unknown", because: "no config, stack output or resource tag states its lifecycle" };
  return { value: "ephemeral", because: facts.lifecycle.map((s) => s.source).join(", ") };
}

/** The latest expiry any source states (a later one wins: never destroy early), or why there is none. */
export function effectiveExpiry(facts: StackFacts): { at?: Date; text?: string; source?: string; problem?: string } {
  let best: { at: Date; text: string; source: string } | undefined;
  for (const s of facts.expiresAt) {
    const parsed = parseExpiry(s.value);
    if (!parsed.ok) return { problem: `${s.source}: ${parsed.reason}` };
    if (!best || parsed.at.getTime() > best.at.getTime()) best = { at: parsed.at, text: s.value, source: s.source };
  }
  return best ?? {};
}

function protectedReason(facts: StackFacts): string {
  const shown = facts.protectedResources.slice(0, 5).join(", ");
  const more = facts.protectedResources.length > 5 ? ` and ${facts.protectedResources.length - 5} more` : "";
  return `stack ${facts.name} has ${facts.protectedResources.length} protected resource${facts.protectedResources.length === 1 ? "" : "s"} (${shown}${more}). The teardown never removes protection; unprotect them by hand (\`pulumi state unprotect\`) if they really are to go`;
}

function describeDuration(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 120) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} h` : `${Math.round(hours / 24)} days`;
}

/** Decides, for each stack the request names, whether to destroy it, refuse it, or keep it. */
export function decideTeardown(all: StackFacts[], request: TeardownRequest, now: Date): TeardownDecision[] {
  if (Number.isNaN(now.getTime())) throw new TeardownError("now: is not a valid time");
  if ("stack" in request) {
    const facts = all.find((f) => f.name === request.stack);
    if (!facts) {
      throw new TeardownError(`--stack: there is no stack "${request.stack}" in this project. Stacks: ${all.map((f) => f.name).join(", ") || "(none)"}`);
    }
    return [decideOne(facts, now, request.ifExpired ?? false)];
  }
  return all.map((f) => decideOne(f, now, true));
}

function decideOne(facts: StackFacts, now: Date, onlyExpired: boolean): TeardownDecision {
  const stack = facts.name;
  const lifecycle = effectiveLifecycle(facts);
  const expiry = effectiveExpiry(facts);
  if (onlyExpired) {
    // Stacks that never expire are not candidates: no refusal, just kept.
    if (expiry.at === undefined && expiry.problem === undefined) {
      return { stack, action: "keep", reason: lifecycle.value === "long-lived" ? "long-lived: never expires" : "no expiry set" };
    }
    if (expiry.problem !== undefined) {
      return { stack, action: "refuse", reason: `stack ${stack}: cannot tell when it expires: ${expiry.problem}. Fix the value (\`pulumi config set mlflow-kit:expiresAt 2026-12-01T00:00:00Z --stack ${stack}\` and \`pulumi up\`), or tear it down explicitly with --stack ${stack}` };
    }
    if (now.getTime() < expiry.at!.getTime()) {
      return { stack, action: "keep", reason: `expires ${expiry.text} (in ${describeDuration(expiry.at!.getTime() - now.getTime())})` };
    }
  }
  const dependents = facts.dependents ?? [];
  if (dependents.length > 0) {
    // A shared environment: tearing it down would take the others' data with it (a Neon project
    // deletes every branch in it). Kept by the schedule; refused when asked by name.
    const what = (facts.provides ?? []).join(", ");
    const reason = `stack ${stack} is shared: ${dependents.join(", ")} build${dependents.length === 1 ? "s" : ""} on its ${what}. Tear ${dependents.length === 1 ? "that stack" : "those stacks"} down first`;
    return onlyExpired ? { stack, action: "keep", reason } : { stack, action: "refuse", reason };
  }
  if (lifecycle.value === "long-lived") {
    return { stack, action: "refuse", reason: `stack ${stack} is long-lived (${lifecycle.because}): the teardown only destroys ephemeral stacks. A long-lived stack is retired by hand, never by this tool` };
  }
  // A stack whose first update failed before creating anything states no lifecycle, but there is
  // nothing to lose: an explicit --stack (review down) may remove it.
  if (lifecycle.value === "unknown" && !onlyExpired && facts.managedResources === 0 && !facts.updateInProgress) {
    return { stack, action: "destroy", reason: "holds no resources (its first update stopped before creating any); removing the empty stack" };
  }
  if (lifecycle.value === "unknown") {
    return { stack, action: "refuse", reason: `stack ${stack}: cannot confirm it is ephemeral (${lifecycle.because}). Set mlflow-kit:lifecycle ephemeral and run \`pulumi up\`, or destroy it by hand` };
  }
  if (facts.protectedResources.length > 0) return { stack, action: "refuse", reason: protectedReason(facts) };
  if (facts.updateInProgress) {
    return { stack, action: "refuse", reason: `stack ${stack} has an update in progress; the teardown does not race it. Run it again once that update has finished` };
  }
  const why = onlyExpired ? `expired ${expiry.text} (${describeDuration(now.getTime() - expiry.at!.getTime())} ago)` : "requested by --stack";
  return { stack, action: "destroy", reason: why };
}
