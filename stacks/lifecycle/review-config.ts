/**
 * The config of review stack pr-<N>, made from dev's: a plain function. Everything of dev's
 * is kept (database kind and region, target kind, plan and region, server, image, artifact
 * prefix, secrets) except what must be the review stack's own:
 *
 * - lifecycle ephemeral with a short lease (mlflow-kit:ttlHours: settings compute the expiry
 *   at each `pulumi up` and tag every resource mlflow-kit:expires-at), which the teardown and
 *   the Neon branch (expires_at) read; a pinned expiresAt of dev's is dropped;
 * - a Neon branch `pr-<N>` of dev's Neon project (database.projectId + database.branch);
 * - its own Render service name (target.serviceName) and no custom domain (dev's);
 * - its own bucket and IAM user, whose names follow from the stack name; the key slots and rotation
 *   counters start over.
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

function objectValue(entry: ConfigEntry | undefined, key: string): Record<string, unknown> {
  if (!entry) throw new ReviewError(`${ns}${key}: dev has none, so a review stack cannot be made from it. Set it in Pulumi.dev.yaml`);
  try {
    const v = JSON.parse(entry.value);
    if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    /* reported below */
  }
  throw new ReviewError(`${ns}${key}: dev's value is not a mapping. Fix it in Pulumi.dev.yaml`);
}

/**
 * dev's config (full keys, structured values as JSON text, secrets flagged) to pr-<N>'s.
 * `neonProjectId`: dev's Neon project (its config's database.projectId, or dev's stack output
 * `neonProjectId` when dev created the project).
 */
export function reviewStackConfig(input: {
  pr: number | string;
  dev: Record<string, ConfigEntry>;
  neonProjectId?: string;
  now: Date;
  ttlHours?: number;
}): { stack: string; config: Record<string, ConfigEntry>; expiresAt: string } {
  const stack = reviewStackName(input.pr);
  const ttl = input.ttlHours ?? DEFAULT_REVIEW_TTL_HOURS;
  // The review branch takes the stack's expiry, and Neon allows at most 30 days (settings.ts).
  if (!Number.isFinite(ttl) || ttl <= 0 || ttl > NEON_MAX_TTL_HOURS) {
    throw new ReviewError(`--ttl-hours: ${ttl} is out of range. Give 1 to ${NEON_MAX_TTL_HOURS} hours (default ${DEFAULT_REVIEW_TTL_HOURS}; Neon lets a branch expire at most 30 days ahead)`);
  }
  const config: Record<string, ConfigEntry> = { ...input.dev };
  const database = objectValue(input.dev[`${ns}database`], "database");
  const target = objectValue(input.dev[`${ns}target`], "target");

  if (database.kind === "neon") {
    const projectId = (database.projectId as string | undefined) ?? input.neonProjectId;
    if (!projectId) {
      throw new ReviewError(`${ns}database.projectId: dev's Neon project is unknown (not in Pulumi.dev.yaml, and dev has no neonProjectId output). Deploy dev first, or set database.projectId in Pulumi.dev.yaml`);
    }
    // A copy-on-write branch of dev's data; Neon deletes it at expires_at even if no teardown runs.
    config[`${ns}database`] = { value: JSON.stringify({ ...database, projectId, branch: stack }), secret: false };
  } else if (database.kind !== "local") {
    throw new ReviewError(`${ns}database.kind: dev uses ${String(database.kind)}; review stacks branch a Neon database (or use a local one). Make dev's database neon`);
  }

  const ownTarget: Record<string, unknown> = { ...target };
  delete ownTarget.domain; // dev's custom domain stays dev's
  if (target.kind === "render") ownTarget.serviceName = `${PROJECT}-${stack}`;
  if (target.kind === "hf-space") ownTarget.spaceName = `${PROJECT}-${stack}`;
  if (target.kind === "ecs") throw new ReviewError(`${ns}target.kind: dev runs on ecs, which owns a domain and certificates; review stacks run on render, hf-space or local`);
  config[`${ns}target`] = { value: JSON.stringify(ownTarget), secret: false };

  const artifacts = input.dev[`${ns}artifacts`] ? objectValue(input.dev[`${ns}artifacts`], "artifacts") : {};
  // A new IAM user: both slots start fresh. The bucket is <project>-pr-<N>-artifacts.
  config[`${ns}artifacts`] = { value: JSON.stringify({ ...artifacts, activeKey: "blue", keyRotations: { blue: 0, green: 0 } }), secret: false };
  delete config[`${ns}rotation`];

  if (!Number.isInteger(ttl)) throw new ReviewError(`--ttl-hours: ${ttl} is not a whole number of hours. Give 1 to ${NEON_MAX_TTL_HOURS}`);
  config[`${ns}lifecycle`] = { value: "ephemeral", secret: false };
  config[`${ns}ttlHours`] = { value: String(ttl), secret: false };
  delete config[`${ns}expiresAt`];
  // What settings will compute at the `pulumi up` that follows now.
  return { stack, config, expiresAt: expiryFrom(input.now, ttl) };
}
