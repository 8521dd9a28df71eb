/**
 * Structural rules for .github/workflows that actionlint and zizmor do not state directly:
 * plain functions over parsed workflow YAML, each returning the problems it found.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";

export interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
  if?: string;
}
export interface Job {
  if?: string;
  permissions?: unknown;
  environment?: unknown;
  concurrency?: { group?: string; "cancel-in-progress"?: boolean } | string;
  steps?: Step[];
  needs?: string | string[];
  [k: string]: unknown;
}
export interface Workflow {
  file: string;
  on: Record<string, unknown>;
  permissions?: unknown;
  jobs: Record<string, Job>;
}

export function loadWorkflows(dir: string): Workflow[] {
  return fs
    .readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => fromYaml(f, fs.readFileSync(path.join(dir, f), "utf8")));
}

export function fromYaml(file: string, text: string): Workflow {
  const doc = parse(text) as Record<string, unknown>;
  const on = doc.on ?? doc[true as unknown as string]; // YAML 1.1 reads a bare `on` as true
  const triggers = typeof on === "string" ? { [on]: null } : Array.isArray(on) ? Object.fromEntries(on.map((t) => [t, null])) : (on as Record<string, unknown>);
  return { file, on: triggers ?? {}, permissions: doc.permissions, jobs: (doc.jobs ?? {}) as Record<string, Job> };
}

/** Every job states its permissions; the workflow's default is none. */
export function explicitPermissions(w: Workflow): string[] {
  const out: string[] = [];
  if (!w.permissions || typeof w.permissions !== "object" || Object.keys(w.permissions).length) out.push(`${w.file}: the workflow's permissions must be {} (each job grants its own)`);
  for (const [id, job] of Object.entries(w.jobs)) {
    if (job.permissions === undefined || typeof job.permissions !== "object" || job.permissions === null) out.push(`${w.file}: job ${id} has no permissions block`);
    else for (const [scope, level] of Object.entries(job.permissions)) if (level === "write-all" || scope === "write-all") out.push(`${w.file}: job ${id} grants write-all`);
  }
  return out;
}

/** Every action is pinned by a full commit SHA (local actions excepted). */
export function pinnedActions(w: Workflow): string[] {
  const out: string[] = [];
  for (const [id, job] of Object.entries(w.jobs)) {
    const uses = [...(job.steps ?? []).map((s) => s.uses), typeof job.uses === "string" ? job.uses : undefined].filter((u): u is string => !!u);
    for (const u of uses) if (!u.startsWith("./") && !/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/.test(u)) out.push(`${w.file}: job ${id} uses ${u}, not pinned by commit SHA`);
  }
  return out;
}

const SAME_REPO = "github.event.pull_request.head.repo.full_name == github.repository";

/** A job of a pull_request workflow that a fork's pull request can run. */
export function forkReachable(job: Job): boolean {
  const cond = (job.if ?? "").replace(/\s+/g, " ");
  // Guarded only if the same-repository test is a conjunct, never inside an `||`.
  return !(cond.includes(SAME_REPO) && !cond.includes("||"));
}

/**
 * Fork pull requests never get a secret: no pull_request_target; every job of a pull_request
 * workflow that a fork can reach has no secrets, no environment (environment secrets), no
 * OIDC token and no write scope.
 */
export function forksGetNoSecrets(w: Workflow): string[] {
  const out: string[] = [];
  if ("pull_request_target" in w.on) out.push(`${w.file}: uses pull_request_target (runs with secrets in the base repository's context)`);
  if (!("pull_request" in w.on)) return out;
  for (const [id, job] of Object.entries(w.jobs)) {
    if (!forkReachable(job)) continue;
    const text = JSON.stringify(job);
    if (/secrets\./.test(text)) out.push(`${w.file}: job ${id} is reachable from a fork and reads a secret`);
    if (job.environment !== undefined) out.push(`${w.file}: job ${id} is reachable from a fork and enters environment ${JSON.stringify(job.environment)}`);
    for (const [scope, level] of Object.entries((job.permissions ?? {}) as Record<string, string>)) {
      if (level !== "read" && level !== "none") out.push(`${w.file}: job ${id} is reachable from a fork and has ${scope}: ${level}`);
    }
  }
  return out;
}

/** Secrets reach a step only through `env:` (the CLI reads them); no script names or prints them. */
export function secretsOnlyInEnv(w: Workflow): string[] {
  const out: string[] = [];
  for (const [id, job] of Object.entries(w.jobs)) {
    for (const [i, step] of (job.steps ?? []).entries()) {
      const secretVars = Object.entries(step.env ?? {}).filter(([, v]) => typeof v === "string" && /secrets\./.test(v)).map(([k]) => k);
      for (const where of [step.run, JSON.stringify(step.with ?? {}), step.if]) if (where && /secrets\./.test(where)) out.push(`${w.file}: job ${id} step ${i} puts a secret outside env`);
      for (const v of secretVars) if (step.run && new RegExp(`\\$\\{?${v}\\b`).test(step.run)) out.push(`${w.file}: job ${id} step ${i}'s script reads secret ${v}`);
    }
  }
  return out;
}

/** A job that changes a stack holds `pulumi-stack-<name>` and never cancels a run half-way. */
export function stackConcurrency(w: Workflow): string[] {
  const out: string[] = [];
  for (const [id, job] of Object.entries(w.jobs)) {
    const scripts = (job.steps ?? []).map((s) => s.run ?? "").join("\n");
    const updates = /pulumi (up|destroy)|npm run review|npm run (-s )?teardown -- --stack|npm run rotate/.test(scripts);
    if (!updates) continue;
    const c = job.concurrency;
    if (!c || typeof c !== "object" || !String(c.group ?? "").startsWith("pulumi-stack-")) out.push(`${w.file}: job ${id} changes a stack without a pulumi-stack-<name> concurrency group`);
    else if (c["cancel-in-progress"] !== false) out.push(`${w.file}: job ${id} may cancel a stack update half-way (cancel-in-progress must be false)`);
  }
  return out;
}

/** A workflow_run workflow is privileged: it must never run the triggering pull request's code. */
export function privilegedRunIsInert(w: Workflow): string[] {
  if (!("workflow_run" in w.on)) return [];
  const out: string[] = [];
  for (const [id, job] of Object.entries(w.jobs)) {
    if (/secrets\./.test(JSON.stringify(job))) out.push(`${w.file}: job ${id} reads a repository secret`);
    for (const step of job.steps ?? []) {
      if (step.uses?.startsWith("actions/checkout@")) {
        for (const k of ["ref", "repository"]) if (step.with && k in step.with) out.push(`${w.file}: job ${id} checks out ${k}=${String(step.with[k])}, not the default branch`);
      }
      if (step.uses?.startsWith("actions/download-artifact@") && !String(step.with?.path ?? "").startsWith("${{ runner.temp }}")) {
        out.push(`${w.file}: job ${id} downloads an artifact into the workspace, where it could shadow the checked-out code`);
      }
      if (step.uses?.startsWith("actions/cache") || step.uses?.startsWith("actions/setup-node") && step.with && "cache" in step.with) out.push(`${w.file}: job ${id} uses a cache a pull request could have poisoned`);
      if (step.run && !/^(npm ci --no-audit --no-fund|npm run -s pr-report -- post --report "\$REPORT")$/.test(step.run.trim())) out.push(`${w.file}: job ${id} runs ${JSON.stringify(step.run.trim())}`);
    }
  }
  return out;
}
