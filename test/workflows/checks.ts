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
    const updates = /pulumi (up|destroy)|npm run review|npm run (-s )?teardown -- --stack|npm run rotate|npm run deploy/.test(scripts);
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

// ---------------------------------------------------------------------------------------------
// Credentials per environment (issue 14 item 6): pull-request code never holds a credential that
// reaches a long-lived stack; long-lived stacks are changed only from the default branch.

/** GitHub environments whose credentials reach long-lived stacks (their state and secrets). */
export const LONG_LIVED_ENVIRONMENTS = ["dev", "prod"] as const;
/** The one environment pull-request code may enter: its credential sees review stacks only. */
export const REVIEW_ENVIRONMENT = "review";
/** Pulumi Cloud team of each environment's OIDC token (README: "CI credentials"). */
export const PULUMI_TEAMS: Record<string, string> = { review: "mlflow-kit-review", teardown: "mlflow-kit-review", dev: "mlflow-kit-dev", prod: "mlflow-kit-prod" };

const PR_TRIGGERS = ["pull_request", "pull_request_target"];

function environmentName(job: Job): string | undefined {
  if (job.environment === undefined) return undefined;
  if (typeof job.environment === "string") return job.environment;
  const name = (job.environment as { name?: unknown }).name;
  return typeof name === "string" ? name : JSON.stringify(job.environment);
}

/** Names of the secrets a job reads (`secrets.X`), GITHUB_TOKEN aside. */
function secretNames(job: Job): string[] {
  return [...JSON.stringify(job).matchAll(/secrets\.([A-Za-z0-9_]+)/g)].map((m) => m[1]).filter((n) => n !== "GITHUB_TOKEN");
}

/** A job runs code of the checkout: any `run:` step (npm ci runs install scripts) or a local action. */
function runsCheckedOutCode(job: Job): boolean {
  return (job.steps ?? []).some((s) => s.run !== undefined || s.uses?.startsWith("./"));
}

const LONG_LIVED_STACK_ARG = new RegExp(`--stack[ =]"?(${LONG_LIVED_ENVIRONMENTS.join("|")})\\b`);

/**
 * In a workflow a pull request triggers, every job that checks out or runs the pull request's code
 * holds no credential of a long-lived stack: no static Pulumi token, no environment but `review`,
 * no OIDC token outside `review` (outside an environment GitHub's subject is the pull request's,
 * which a role trusting the repository would accept), no secret but the review environment's
 * (REVIEW_*), a Pulumi token of the review team only, and no command naming a long-lived stack.
 */
export function prCodeHoldsNoLongLivedCredential(w: Workflow): string[] {
  if (!PR_TRIGGERS.some((t) => t in w.on)) return [];
  const out: string[] = [];
  for (const [id, job] of Object.entries(w.jobs)) {
    const checksOut = (job.steps ?? []).some((s) => s.uses?.startsWith("actions/checkout@"));
    if (!checksOut && !runsCheckedOutCode(job)) continue;
    const env = environmentName(job);
    const where = `${w.file}: job ${id} runs pull-request code`;
    if (env !== undefined && env !== REVIEW_ENVIRONMENT) out.push(`${where} in environment ${env}; only ${REVIEW_ENVIRONMENT} (review stacks) is allowed`);
    const idToken = (job.permissions as Record<string, string> | undefined)?.["id-token"];
    if (idToken === "write" && env !== REVIEW_ENVIRONMENT) out.push(`${where} with an OIDC token outside the ${REVIEW_ENVIRONMENT} environment`);
    for (const name of secretNames(job)) {
      if (name === "PULUMI_ACCESS_TOKEN") out.push(`${where} with the static PULUMI_ACCESS_TOKEN`);
      else if (!name.startsWith("REVIEW_") || env !== REVIEW_ENVIRONMENT) out.push(`${where} with secret ${name}; only REVIEW_* secrets of the ${REVIEW_ENVIRONMENT} environment are allowed`);
    }
    for (const s of job.steps ?? []) {
      if (s.uses?.startsWith("pulumi/auth-actions@") && String(s.with?.scope ?? "") !== `team:${PULUMI_TEAMS.review}`) {
        out.push(`${where} with a Pulumi token of scope ${JSON.stringify(s.with?.scope ?? "(organization)")}; only team:${PULUMI_TEAMS.review}`);
      }
      if (s.run && LONG_LIVED_STACK_ARG.test(s.run)) out.push(`${where} and names a long-lived stack: ${JSON.stringify(s.run.trim())}`);
    }
  }
  return out;
}

/** Triggers that run only the default branch's code: push to main, the schedule, a manual run guarded below. */
function onlyDefaultBranch(w: Workflow): string | undefined {
  for (const [trigger, spec] of Object.entries(w.on)) {
    if (trigger === "schedule" || trigger === "workflow_dispatch") continue;
    if (trigger === "push") {
      const s = (spec ?? {}) as { branches?: unknown; tags?: unknown };
      if (JSON.stringify(s.branches) === '["main"]' && s.tags === undefined) continue;
      return `push to ${JSON.stringify(s.branches ?? "any branch")}`;
    }
    return trigger;
  }
  return undefined;
}

const MAIN_GUARD = "github.ref == 'refs/heads/main'";

/**
 * A job in a long-lived stack's environment (dev, prod), or holding that environment's Pulumi team
 * token, runs only on the default branch: its workflow has no other trigger, and the job itself
 * checks the ref (a manual run can pick any branch).
 */
export function longLivedOnlyFromDefaultBranch(w: Workflow): string[] {
  const out: string[] = [];
  for (const [id, job] of Object.entries(w.jobs)) {
    const env = environmentName(job);
    const teams = (job.steps ?? []).filter((s) => s.uses?.startsWith("pulumi/auth-actions@")).map((s) => String(s.with?.scope ?? ""));
    const longLived = (env !== undefined && (LONG_LIVED_ENVIRONMENTS as readonly string[]).includes(env)) || teams.some((t) => t !== `team:${PULUMI_TEAMS.review}`);
    if (!longLived) continue;
    const other = onlyDefaultBranch(w);
    if (other) out.push(`${w.file}: job ${id} reaches a long-lived stack (environment ${env ?? "none"}) but the workflow also runs on ${other}`);
    if (!(job.if ?? "").replace(/\s+/g, " ").includes(MAIN_GUARD) || (job.if ?? "").includes("||")) out.push(`${w.file}: job ${id} reaches a long-lived stack without \`if: ${MAIN_GUARD}\``);
    for (const t of teams) {
      if (env === undefined || t !== `team:${PULUMI_TEAMS[env]}`) out.push(`${w.file}: job ${id} in environment ${env ?? "none"} asks for Pulumi token ${t || "(organization)"}; its environment's is team:${env ? PULUMI_TEAMS[env] : "?"}`);
    }
  }
  return out;
}

/**
 * Every job that runs Pulumi gets its credential from its own environment: no static
 * PULUMI_ACCESS_TOKEN anywhere; a Pulumi Cloud token by OIDC (pulumi/auth-actions, a team token
 * of that environment's team) unless the environment names a self-managed backend
 * (vars.PULUMI_BACKEND_URL, reached with that environment's AWS role).
 */
export function credentialsPerEnvironment(w: Workflow): string[] {
  const out: string[] = [];
  for (const [id, job] of Object.entries(w.jobs)) {
    if (/secrets\.PULUMI_ACCESS_TOKEN/.test(JSON.stringify(job))) out.push(`${w.file}: job ${id} uses the static secret PULUMI_ACCESS_TOKEN (one token for every stack)`);
    const scripts = (job.steps ?? []).map((s) => s.run ?? "").join("\n");
    if (!/\bpulumi (up|preview|destroy|refresh|stack)|npm run (-s )?(review|teardown|rotate|deploy)\b|--kind preview/.test(scripts)) continue;
    const env = environmentName(job);
    if (env === undefined || !(env in PULUMI_TEAMS)) {
      out.push(`${w.file}: job ${id} runs Pulumi outside an environment with its own credential (${Object.keys(PULUMI_TEAMS).join(", ")})`);
      continue;
    }
    const auth = (job.steps ?? []).find((s) => s.uses?.startsWith("pulumi/auth-actions@"));
    if (!auth) out.push(`${w.file}: job ${id} runs Pulumi without exchanging its environment's OIDC token (pulumi/auth-actions)`);
    else {
      if (auth.with?.["requested-token-type"] !== "urn:pulumi:token-type:access_token:team") out.push(`${w.file}: job ${id} asks for a ${String(auth.with?.["requested-token-type"])} token, not a team token scoped to its environment's stacks`);
      if (String(auth.with?.scope) !== `team:${PULUMI_TEAMS[env]}`) out.push(`${w.file}: job ${id} in environment ${env} asks for scope ${String(auth.with?.scope)}, not team:${PULUMI_TEAMS[env]}`);
      if (!/vars\.PULUMI_BACKEND_URL == ''/.test(auth.if ?? "")) out.push(`${w.file}: job ${id} exchanges a Pulumi Cloud token even when its environment uses a self-managed backend`);
    }
    const backend = (job.env as Record<string, unknown> | undefined)?.PULUMI_BACKEND_URL;
    if (backend !== "${{ vars.PULUMI_BACKEND_URL }}") out.push(`${w.file}: job ${id} does not take PULUMI_BACKEND_URL from its environment (vars.PULUMI_BACKEND_URL)`);
    if ((job.permissions as Record<string, string> | undefined)?.["id-token"] !== "write") out.push(`${w.file}: job ${id} runs Pulumi without id-token: write (its credentials come by OIDC)`);
  }
  return out;
}
