import * as fs from "node:fs";
import * as path from "node:path";
import { parse, YAMLError } from "yaml";
import { PROJECT, SECRET_KEYS } from "../infra/settings";
import { secretHasNoEffect } from "../infra/settings-effect";

export const REPO_ROOT = path.resolve(__dirname, "..");

export interface StackConfig {
  project: string;
  stack: string;
  /** Full keys to string values, structured values as JSON text: what the engine hands a program. */
  config: Record<string, string>;
  secretKeys: string[];
  /** Secret keys filled with a placeholder because the environment did not give them. */
  placeholders: string[];
  /**
   * Of those, the ones the file does not hold either (no `secure:` value): `pulumi up` would
   * find them missing. `npm run plan -- --strict` leaves them out, so settings name each one.
   */
  missing: string[];
}

/** MLFLOW_KIT_GHCR_TOKEN for ghcrToken. */
export function secretEnvName(key: string): string {
  return `MLFLOW_KIT_${key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()}`;
}

/** A digest of the right shape (argon2id of nothing anyone knows), for offline plans only. */
export const OFFLINE_DIGEST = "$argon2id$v=19$m=65536,t=3,p=4$b2ZmbGluZXBsYWNlaG9sZGVy$b2ZmbGluZS1wbGFjZWhvbGRlci1ub3QtYS1yZWFsLWhhc2g";

/** What stands in for a secret the environment does not give: shaped as the key expects. */
function placeholder(key: string, config: Record<string, unknown>): string {
  if (key === "autheliaPasswordHashes") {
    // One digest per configured portal user, so the offline plan renders the real users database.
    const target = config[`${PROJECT}:target`] as { users?: { username?: string }[] } | undefined;
    return JSON.stringify(Object.fromEntries((target?.users ?? []).map((u) => [u.username, OFFLINE_DIGEST])));
  }
  return `offline-placeholder-${key}`;
}

/**
 * Reads Pulumi.<stack>.yaml the way the engine would present it to the program, for offline
 * use. Secrets never come from files: a `secure:` value in the file (ciphertext only the CLI can
 * open) and every secret key the kit declares are taken from the environment
 * (MLFLOW_KIT_<KEY>) or replaced by a placeholder.
 */
export function readStackConfig(stack: string, env: NodeJS.ProcessEnv = process.env, dir = REPO_ROOT, overrides: Record<string, string> = {}): StackConfig {
  if (!/^[A-Za-z0-9_.-]+$/.test(stack)) throw new Error(`--stack: "${stack}" is not a stack name (letters, digits, _ . -)`);
  const file = path.join(dir, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(file)) {
    const known = fs.readdirSync(dir).filter((f) => /^Pulumi\.[^.]+\.yaml$/.test(f)).map((f) => f.split(".")[1]);
    throw new Error(`--stack: there is no Pulumi.${stack}.yaml. Stacks in this project: ${known.join(", ")}`);
  }
  let doc: { config?: Record<string, unknown> };
  try {
    doc = (parse(fs.readFileSync(file, "utf8")) ?? {}) as typeof doc;
  } catch (err) {
    // Where the file is broken, in the words a person editing it needs; the parser's own text after.
    if (!(err instanceof YAMLError)) throw err;
    const at = err.linePos?.[0];
    const where = at ? ` at line ${at.line}, column ${at.col}` : "";
    throw new Error(`Pulumi.${stack}.yaml: invalid YAML${where}: ${err.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "")}. Fix the file (indentation and quoting are the usual causes)`);
  }
  const config: Record<string, string> = {};
  const secretKeys: string[] = [];
  const placeholders: string[] = [];
  const missing: string[] = [];
  const fill = (fullKey: string, key: string, inFile: boolean) => {
    const fromEnv = env[secretEnvName(key)];
    config[fullKey] = fromEnv ?? placeholder(key, doc.config ?? {});
    secretKeys.push(fullKey);
    if (fromEnv === undefined) placeholders.push(fullKey);
    if (fromEnv === undefined && !inFile) missing.push(fullKey);
  };
  for (const [fullKey, value] of Object.entries(doc.config ?? {})) {
    if (value && typeof value === "object" && "secure" in value) {
      fill(fullKey, fullKey.split(":").pop()!, true);
      continue;
    }
    config[fullKey] = typeof value === "string" ? value : JSON.stringify(value);
  }
  // The kinds the plan evaluates: an override (JSON text) wins over the file.
  const kind = (key: string) => {
    const full = `${PROJECT}:${key}`;
    let value: unknown = doc.config?.[full];
    if (overrides[full] !== undefined) {
      try {
        value = JSON.parse(overrides[full]);
      } catch {
        value = undefined;
      }
    }
    return String((value as { kind?: unknown } | undefined)?.kind ?? "");
  };
  for (const key of Object.keys(SECRET_KEYS)) {
    const fullKey = `${PROJECT}:${key}`;
    if (key === "adminPassword" || fullKey in config) continue; // optional: generated when unset
    // A key this stack's target or database never uses stands in for nothing (settings would warn).
    if (env[secretEnvName(key)] === undefined && secretHasNoEffect(key, { target: kind("target"), database: kind("database") })) continue;
    fill(fullKey, key, false);
  }
  return { project: PROJECT, stack, config, secretKeys, placeholders, missing };
}
