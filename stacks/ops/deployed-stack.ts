/**
 * What the backup, restore and import commands need of a deployed stack, read through the
 * Automation API (the stack's config, outputs and state): its metadata store, the server's
 * env (a secret output), and the ids a store-native backup names (RDS instance, Neon branch).
 */
import type { LifecycleWorkspace } from "../lifecycle/workspace";
import { PROJECT } from "../../infra/settings";

export type StoreKind = "rds" | "neon" | "local";

export interface DeployedStack {
  name: string;
  /** `<project>-<stack>`: the prefix of every physical name (containers, instance, network). */
  namePrefix: string;
  kind: StoreKind;
  region: string;
  /** The server's env (stack output envFile, a secret): database URIs, artifact store, keys. */
  env: Record<string, string>;
  trackingUri?: string;
  adminUsername?: string;
  adminPassword?: string;
  imageRef?: string;
  neonProjectId?: string;
  /** The Neon branch of this stack (from its state). */
  neonBranchId?: string;
  /** Whether the state holds an RDS instance or a Neon branch (a restore creates a new one). */
  hasDatabase: boolean;
}

const DYNAMIC_NEON_BRANCH = "pulumi-nodejs:dynamic/neon:Branch";
const RDS_INSTANCE = "aws:rds/instance:Instance";

export function configValue(config: Record<string, { value: string; secret?: boolean }>, key: string): string | undefined {
  return config[`${PROJECT}:${key}`]?.value;
}

/** The envFile output's KEY=VALUE lines as an object. */
export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const at = line.indexOf("=");
    if (at > 0) env[line.slice(0, at)] = line.slice(at + 1);
  }
  return env;
}

/** The database kind a stack's config names, with a clear refusal when it names none. */
export function storeKind(stack: string, config: Record<string, { value: string; secret?: boolean }>): StoreKind {
  const raw = configValue(config, "database");
  let kind: unknown;
  try {
    kind = raw ? (JSON.parse(raw) as { kind?: unknown }).kind : undefined;
  } catch {
    kind = undefined;
  }
  if (kind !== "rds" && kind !== "neon" && kind !== "local") {
    throw new Error(`--stack ${stack}: its config has no mlflow-kit:database.kind of rds, neon or local (got ${JSON.stringify(kind)}). Check Pulumi.${stack}.yaml`);
  }
  return kind;
}

export async function readDeployedStack(ws: LifecycleWorkspace, stack: string, opts: { deployed: boolean } = { deployed: true }): Promise<DeployedStack> {
  if (!/^[A-Za-z0-9_.-]+$/.test(stack)) throw new Error(`--stack: "${stack}" is not a stack name (letters, digits, _ . -)`);
  const names = (await ws.listStacks()).map((s) => s.name);
  if (!names.includes(stack)) {
    throw new Error(`--stack ${stack}: there is no such stack in this backend (stacks: ${names.join(", ") || "none"}). ${opts.deployed ? "Deploy it first" : "Create it: pulumi stack init " + stack}`);
  }
  const [config, outputs, state] = await Promise.all([ws.getAllConfig(stack), ws.stackOutputs(stack), ws.exportStack(stack)]);
  const kind = storeKind(stack, config);
  const resources = (state.deployment?.resources ?? []) as Array<{ type?: string; outputs?: Record<string, unknown> }>;
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  const out = (k: string) => str(outputs[k]?.value);
  if (opts.deployed && !out("envFile")) {
    throw new Error(`--stack ${stack}: has no envFile output, so it is not deployed (or its last pulumi up failed). Run pulumi up --stack ${stack} first`);
  }
  const branch = resources.find((r) => r.type === DYNAMIC_NEON_BRANCH);
  return {
    name: stack,
    namePrefix: `${PROJECT}-${stack}`.toLowerCase(),
    kind,
    region: config["aws:region"]?.value ?? "us-east-1",
    env: parseEnvFile(out("envFile") ?? ""),
    trackingUri: out("trackingUri"),
    adminUsername: out("adminUsername"),
    adminPassword: out("adminPassword"),
    imageRef: out("imageRef"),
    neonProjectId: out("neonProjectId"),
    neonBranchId: str(branch?.outputs?.branchId),
    hasDatabase: resources.some((r) => r.type === RDS_INSTANCE || r.type === DYNAMIC_NEON_BRANCH),
  };
}
