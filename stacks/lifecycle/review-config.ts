/**
 * The config of review stack pr-<N>, made from the repository's Pulumi.dev.yaml (its plain
 * values; never dev's stack, its secrets or its outputs, which the review credential cannot and
 * must not read) and its review settings (mlflow-kit:review): a plain function.
 *
 * Kept from dev: database kind and region, target kind and region, server, image, artifact prefix.
 * The review stack's own:
 * - lifecycle ephemeral with a short lease (review.ttlHours or --ttl-hours, at most 719 h: Neon
 *   refuses a branch expiry more than 30 days ahead); a pinned expiresAt of dev's is dropped;
 * - its target (review.target): Render's API cannot create a free service, so a review stack runs
 *   on a paid plan, on a Space, or with no server (kind none: database, bucket and image only);
 * - its data: a Neon branch `pr-<N>` of the review project's default branch
 *   (review.database.projectId), or a project of its own when that is unset. Never dev's project:
 *   the pull request's code runs in the review stack, and dev's data is not its to read. A team
 *   that wants fixtures loads them into the review project's default branch once; every review
 *   branch starts from them (copy-on-write);
 * - its own Render service name / Space name, no custom domain, its own bucket and IAM user
 *   (named after the stack); key slots and rotation counters start over;
 * - its secrets: the review environment's (MLFLOW_KIT_<KEY>), never dev's.
 */
import { expiryFrom, NEON_MAX_TTL_HOURS, PROJECT } from "../../infra/settings";

/** A review stack's lease: renewed by every `review up` (each push), like any ephemeral stack's. */
export const DEFAULT_REVIEW_TTL_HOURS = 72;

export class ReviewError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReviewError";
  }
}

export interface ConfigEntry {
  value: string;
  secret: boolean;
}

/** "pr-42" for 42; refuses anything but a positive integer. */
export function reviewStackName(pr: number | string): string {
  const n = typeof pr === "number" ? pr : /^\d+$/.test(pr.trim()) ? Number(pr.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new ReviewError(`--pr: "${pr}" is not a pull-request number. Give the number, such as --pr 42`);
  }
  return `pr-${n}`;
}

const ns = `${PROJECT}:`;

function parsed(entry: ConfigEntry | undefined): unknown {
  if (!entry) return undefined;
  try {
    return JSON.parse(entry.value);
  } catch {
    return entry.value;
  }
}

function objectValue(entry: ConfigEntry | undefined, key: string): Record<string, unknown> {
  if (!entry) throw new ReviewError(`${ns}${key}: Pulumi.dev.yaml has none, so a review stack cannot be made from it. Set it in Pulumi.dev.yaml`);
  const v = parsed(entry);
  if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  throw new ReviewError(`${ns}${key}: dev's value is not a mapping. Fix it in Pulumi.dev.yaml`);
}

const TARGET_CHOICES = "{kind: render, plan: starter} (a paid plan, which the API creates), {kind: hf-space, owner: <user or org>} (a Space; cpu-basic is free), or {kind: none} (no server: database, bucket and image only)";

/**
 * pr-<N>'s config from Pulumi.dev.yaml's plain values (full keys, structured values as JSON
 * text) and the review environment's secrets (full keys to values).
 */
export function reviewStackConfig(input: {
  pr: number | string;
  dev: Record<string, ConfigEntry>;
  secrets?: Record<string, string>;
  now: Date;
  ttlHours?: number;
}): { stack: string; config: Record<string, ConfigEntry>; expiresAt: string; notes: string[] } {
  const stack = reviewStackName(input.pr);
  const notes: string[] = [];
  const review = input.dev[`${ns}review`] ? objectValue(input.dev[`${ns}review`], "review") : {};
  const ttl = input.ttlHours ?? (typeof review.ttlHours === "number" ? review.ttlHours : DEFAULT_REVIEW_TTL_HOURS);
  // The review branch takes the stack's expiry: Neon allows at most 30 days ahead, and settings
  // round the expiry up to the next full hour (NEON_MAX_TTL_HOURS, settings.ts).
  if (!Number.isFinite(ttl) || ttl <= 0 || ttl > NEON_MAX_TTL_HOURS) {
    throw new ReviewError(`--ttl-hours: ${ttl} is out of range. Give 1 to ${NEON_MAX_TTL_HOURS} hours (default ${DEFAULT_REVIEW_TTL_HOURS}; Neon refuses a branch expiry more than 30 days ahead)`);
  }
  if (!Number.isInteger(ttl)) throw new ReviewError(`--ttl-hours: ${ttl} is not a whole number of hours. Give 1 to ${NEON_MAX_TTL_HOURS}`);
  // dev's own secrets never reach a review stack: only the review environment's below.
  const config: Record<string, ConfigEntry> = Object.fromEntries(Object.entries(input.dev).filter(([, v]) => !v.secret));
  delete config[`${ns}review`];
  const database = objectValue(input.dev[`${ns}database`], "database");
  const target = objectValue(input.dev[`${ns}target`], "target");

  if (database.kind === "neon") {
    const wanted = (review.database as { projectId?: unknown } | undefined)?.projectId;
    if (wanted !== undefined && (typeof wanted !== "string" || !/^[a-z0-9-]{1,60}$/.test(wanted))) {
      throw new ReviewError(`${ns}review.database.projectId: must be a Neon project id such as shiny-wind-028834 (the review stacks' own project). Fix it in Pulumi.dev.yaml`);
    }
    if (wanted !== undefined && wanted === database.projectId) {
      throw new ReviewError(`${ns}review.database.projectId: is dev's own project (database.projectId). Review stacks run the pull request's code, which must not reach dev's data: give them a Neon project of their own, or remove review.database to let each review stack create one`);
    }
    const { projectId: _devProject, branch: _devBranch, ...rest } = database;
    config[`${ns}database`] = { value: JSON.stringify({ ...rest, ...(wanted ? { projectId: wanted } : {}), branch: stack }), secret: false };
    notes.push(wanted
      ? `data: Neon branch ${stack} of the review project ${wanted}'s default branch (empty, or the fixtures loaded there); never dev's data`
      : `data: a Neon project of its own (${PROJECT}-${stack}), empty; never dev's data. Set ${ns}review.database.projectId in Pulumi.dev.yaml to branch one review project instead`);
  } else if (database.kind !== "local") {
    throw new ReviewError(`${ns}database.kind: dev uses ${String(database.kind)}; review stacks branch a Neon database (or use a local one). Make dev's database neon`);
  }

  const chosen = review.target as Record<string, unknown> | undefined;
  if (chosen !== undefined && (!chosen || typeof chosen !== "object" || !["render", "hf-space", "none"].includes(String(chosen.kind)))) {
    throw new ReviewError(`${ns}review.target.kind: must be render, hf-space or none. Set review.target in Pulumi.dev.yaml to ${TARGET_CHOICES}`);
  }
  let ownTarget: Record<string, unknown>;
  if (chosen?.kind === "none") {
    ownTarget = { ...target };
    config[`${ns}skipTarget`] = { value: "true", secret: false };
    notes.push(`no server: ${ns}review.target is {kind: none}, so ${stack} deploys its database, bucket and image only. For a server set review.target in Pulumi.dev.yaml to {kind: render, plan: starter} or {kind: hf-space, owner: <user or org>}`);
  } else if (chosen !== undefined) {
    ownTarget = chosen.kind === target.kind ? { ...target, ...chosen } : { ...chosen };
    delete config[`${ns}skipTarget`];
  } else {
    ownTarget = { ...target };
  }
  delete ownTarget.domain; // dev's custom domain stays dev's
  delete ownTarget.serviceName;
  delete ownTarget.spaceName;
  if (ownTarget.kind === "render") {
    ownTarget.serviceName = `${PROJECT}-${stack}`;
    if ((ownTarget.plan ?? "starter") === "free" && chosen?.kind !== "none") {
      throw new ReviewError(`${ns}review.target: review stacks would run on Render's free plan (dev's target.plan), and Render's API cannot create a free service, so every review stack would fail. Choose in Pulumi.dev.yaml: review.target ${TARGET_CHOICES}`);
    }
  }
  if (ownTarget.kind === "hf-space") ownTarget.spaceName = `${PROJECT}-${stack}`;
  if (ownTarget.kind === "ecs") throw new ReviewError(`${ns}target.kind: dev runs on ecs, which owns a domain and certificates; review stacks run on render, hf-space or none (review.target)`);
  config[`${ns}target`] = { value: JSON.stringify(ownTarget), secret: false };

  const artifacts = input.dev[`${ns}artifacts`] ? objectValue(input.dev[`${ns}artifacts`], "artifacts") : {};
  if (artifacts.kind === "minio") {
    config[`${ns}artifacts`] = { value: JSON.stringify({ ...artifacts, keyRotation: 0 }), secret: false };
  } else {
    // A new IAM user: both slots start fresh. The bucket is <project>-pr-<N>-artifacts.
    config[`${ns}artifacts`] = { value: JSON.stringify({ ...artifacts, activeKey: "blue", keyRotations: { blue: 0, green: 0 } }), secret: false };
  }
  delete config[`${ns}rotation`];

  for (const [key, value] of Object.entries(input.secrets ?? {})) config[key] = { value, secret: true };
  config[`${ns}lifecycle`] = { value: "ephemeral", secret: false };
  config[`${ns}ttlHours`] = { value: String(ttl), secret: false };
  delete config[`${ns}expiresAt`];
  // What settings will compute at the `pulumi up` that follows now.
  return { stack, config, expiresAt: expiryFrom(input.now, ttl), notes };
}
