/**
 * What a credential rotation changes in a stack's config: a plain function from the stack's
 * current config to a list of path changes. The Automation API layer writes them with
 * `pulumi config set --path` (integers stay numbers) and runs the update; --dry-run prints them.
 *
 * Every rotation is a counter bump (random.RandomPassword keepers, the key slots'
 * replacement triggers), so each one is a small, reviewable diff of Pulumi.<stack>.yaml.
 */
import { PROJECT } from "../../infra/settings";

export const CREDENTIALS = ["s3-key", "db-password", "admin-password", "flask-secret", "authelia", "api-password"] as const;
export type Credential = (typeof CREDENTIALS)[number];

/**
 * The counters each credential bumps, as config paths under "mlflow-kit:". `authelia` is the
 * ecs target's (issue 7): it reads rotation.autheliaSecrets; `api-password` is its Authelia API
 * user's password (rotation.apiUserPassword).
 */
export const ROTATION_COUNTERS = {
  "db-password": "rotation.databasePassword",
  "admin-password": "rotation.adminPassword",
  "flask-secret": "rotation.flaskSecretKey",
  authelia: "rotation.autheliaSecrets",
  "api-password": "rotation.apiUserPassword",
} as const;

export interface ConfigChange {
  /** Full config path, e.g. "mlflow-kit:artifacts.activeKey". */
  path: string;
  /** The value before; undefined when the key was not set (the schema's default applied). */
  from: string | number | undefined;
  to: string | number;
}

export interface RotationPlan {
  credential: Credential;
  changes: ConfigChange[];
  /** What happens on `pulumi up`, and what to do next. */
  notes: string[];
}

export class RotationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RotationError";
  }
}

type Slot = "blue" | "green";
const ns = `${PROJECT}:`;

/** A structured top-level key: JSON text as the workspace gives it; missing: {}. */
function objectAt(config: Record<string, string>, key: string): Record<string, unknown> {
  const text = config[`${ns}${key}`];
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new RotationError(`${ns}${key}: is not a YAML mapping (got ${JSON.stringify(text.slice(0, 40))}). Write it as a mapping in Pulumi.<stack>.yaml, as in Pulumi.prod.yaml`);
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw new RotationError(`${ns}${key}: is not a YAML mapping. Write it as a mapping in Pulumi.<stack>.yaml, as in Pulumi.prod.yaml`);
  }
  return value as Record<string, unknown>;
}

/** A counter: missing means the schema's default 0; anything but a non-negative integer is refused. */
function counter(value: unknown, path: string): number {
  if (value === undefined) return 0;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new RotationError(`${ns}${path}: must be a non-negative integer counter (got ${JSON.stringify(value)}). Set it to a whole number such as 0 in Pulumi.<stack>.yaml`);
  }
  return value;
}

/**
 * The config change that rotates `credential` on a stack whose config is `config` (full keys
 * to values, structured ones as JSON text, as `pulumi config --json` and readStackConfig give).
 * `revokeInactive` (s3-key only): recreate the slot NOT in use, revoking the key it held.
 */
export function planRotation(credential: Credential, config: Record<string, string>, options: { revokeInactive?: boolean } = {}): RotationPlan {
  if (!(CREDENTIALS as readonly string[]).includes(credential)) {
    throw new RotationError(`credential: "${credential}" is not one the kit rotates. Use one of ${CREDENTIALS.join(", ")}`);
  }
  if (options.revokeInactive && credential !== "s3-key") {
    throw new RotationError(`--revoke-inactive: only the S3 access key has two slots; ${credential} has one value. Drop --revoke-inactive`);
  }
  if (credential === "s3-key") return planKeyRotation(config, options.revokeInactive ?? false);

  if (credential === "admin-password" && config[`${ns}adminPassword`] !== undefined) {
    throw new RotationError(`${ns}adminPassword: is set explicitly, so ${ns}rotation.adminPassword has no effect. Set a new value (\`pulumi config set --secret ${ns}adminPassword <new>\`) and \`pulumi up\`, or remove it (\`pulumi config rm ${ns}adminPassword\`) to let the kit generate and rotate one`);
  }
  if (credential === "authelia" || credential === "api-password") {
    const target = objectAt(config, "target");
    if (target.kind !== "ecs") {
      throw new RotationError(`${ns}target.kind: is ${JSON.stringify(target.kind ?? "unset")}; only the ecs target runs Authelia, so there is nothing to rotate. Rotate admin-password for this stack's own login instead`);
    }
  }
  const path = ROTATION_COUNTERS[credential];
  const [top, leaf] = path.split(".");
  const current = counter(objectAt(config, top)[leaf], path);
  return {
    credential,
    changes: [{ path: `${ns}${path}`, from: objectAt(config, top)[leaf] === undefined ? undefined : current, to: current + 1 }],
    notes: [NOTES[credential]],
  };
}

const NOTES: Record<Exclude<Credential, "s3-key">, string> = {
  "db-password": "pulumi up sets the role's new password and redeploys the server with it. Open connections stay authenticated; new connections of the old deployment fail until the new one is live, so run it outside peak hours.",
  "admin-password": "pulumi up generates a new admin password; the entrypoint syncs the stored admin with it on start. Read it with `pulumi stack output adminPassword --show-secrets`.",
  "flask-secret": "pulumi up generates a new Flask secret key: existing UI sessions are signed with the old key and must sign in again.",
  authelia: "pulumi up generates new Authelia session and JWT secrets: Authelia sessions end and users sign in again.",
  "api-password": "pulumi up generates a new password for the Authelia API user and rolls Authelia out with its digest. Once it has finished, give clients the new one: `pulumi stack output apiPassword --show-secrets`.",
};

/**
 * The artifact store's key, per store: S3 has two slots (an IAM user holds two keys); MinIO (the
 * local stack) has one user whose single key a counter regenerates (artifacts.keyRotation).
 */
function planKeyRotation(config: Record<string, string>, revokeInactive: boolean): RotationPlan {
  const artifacts = objectAt(config, "artifacts");
  // Settings refuse the key slots on ecs (infra/settings-effect.ts): say so before writing them.
  if (objectAt(config, "target").kind === "ecs") {
    throw new RotationError(`${ns}target.kind: is ecs, whose tasks sign their S3 requests with the task role: there is no artifact access key to rotate (the role's credentials rotate by themselves)`);
  }
  if (artifacts.kind === "minio") {
    if (revokeInactive) {
      throw new RotationError(`--revoke-inactive: ${ns}artifacts.kind is minio, whose user has one key and no inactive slot. Rotate it without --revoke-inactive`);
    }
    const current = counter(artifacts.keyRotation, "artifacts.keyRotation");
    return {
      credential: "s3-key",
      changes: [{ path: `${ns}artifacts.keyRotation`, from: artifacts.keyRotation === undefined ? undefined : current, to: current + 1 }],
      notes: ["pulumi up gives the server's MinIO user a new access and secret key and restarts the server with them. MinIO has no second key slot: requests in flight during the restart fail and are retried by the client."],
    };
  }
  if (artifacts.kind !== undefined && artifacts.kind !== "s3") {
    throw new RotationError(`${ns}artifacts.kind: ${JSON.stringify(artifacts.kind)} is not a store the kit rotates keys of (s3, minio). Fix it in Pulumi.<stack>.yaml`);
  }
  const activeRaw = artifacts.activeKey;
  if (activeRaw !== undefined && activeRaw !== "blue" && activeRaw !== "green") {
    throw new RotationError(`${ns}artifacts.activeKey: ${JSON.stringify(activeRaw)} is not a key slot. Set it to the slot the server uses now, blue or green`);
  }
  const rotations = artifacts.keyRotations;
  if (rotations !== undefined && (!rotations || typeof rotations !== "object" || Array.isArray(rotations))) {
    throw new RotationError(`${ns}artifacts.keyRotations: must be a mapping {blue: <n>, green: <n>}. Fix it in Pulumi.<stack>.yaml`);
  }
  const counters = (rotations ?? {}) as Record<string, unknown>;
  const active: Slot = (activeRaw as Slot | undefined) ?? "blue";
  const other: Slot = active === "blue" ? "green" : "blue";
  const current = counter(counters[other], `artifacts.keyRotations.${other}`);
  counter(counters[active], `artifacts.keyRotations.${active}`); // refuse a broken config, even if untouched
  const bump: ConfigChange = { path: `${ns}artifacts.keyRotations.${other}`, from: counters[other] === undefined ? undefined : current, to: current + 1 };
  if (revokeInactive) {
    return {
      credential: "s3-key",
      changes: [bump],
      notes: [`pulumi up deletes the ${other} key (not in use: the server signs with ${active}) and creates a fresh one in its slot, so a leaked ${other} key stops working at once. The server is not redeployed.`],
    };
  }
  return {
    credential: "s3-key",
    changes: [{ path: `${ns}artifacts.activeKey`, from: activeRaw as string | undefined, to: other }, bump],
    notes: [
      `pulumi up recreates the ${other} key (not in use until now) and redeploys the server with it; the ${active} key stays valid until the next rotation, so requests in flight keep working.`,
      `If the ${active} key leaked: once the server runs on ${other}, revoke ${active} now with \`npm run rotate -- --stack <stack> s3-key --revoke-inactive\`.`,
    ],
  };
}

/** One line per change: "mlflow-kit:artifacts.activeKey: blue -> green". */
export function describeChanges(changes: ConfigChange[]): string[] {
  return changes.map((c) => `${c.path}: ${c.from === undefined ? "(unset: the default)" : String(c.from)} -> ${String(c.to)}`);
}
