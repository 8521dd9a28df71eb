/**
 * `npm run backup` and `npm run restore`, per metadata store (README "Backup and restore"):
 *
 * - local: pg_dump of both databases inside the stack's PostgreSQL container, and the
 *   artifact objects copied out of MinIO by tools/ops/kit_backup.py in a container of the
 *   stack's own image on its private network; restored into another deployed local stack
 *   (its server stopped meanwhile) with pg_restore in that stack's container.
 * - rds: a manual DB snapshot (CreateDBSnapshot); restored by creating the new stack's
 *   instance from it (database.restoreFrom.snapshotIdentifier, then pulumi up).
 * - neon: the branch and the time; restored by creating the new stack's branch from it at
 *   that time (database.restoreFrom, parent_timestamp), in the source's project.
 * - artifacts on S3 (rds and neon stacks): the version id of every object (the bucket is
 *   versioned), copied server side into the new stack's bucket after its pulumi up.
 *
 * Every backup is a directory backups/<stack>/<UTC time>/ with backup.json (what the store
 * keeps and how to restore it) and the tool's manifest.json (dumps' SHA-256, objects).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Io } from "../lifecycle/operations";
import type { LifecycleWorkspace } from "../lifecycle/workspace";
import { REPO_ROOT } from "../stack-config";
import { configValue, readDeployedStack, storeKind, type DeployedStack, type StoreKind } from "./deployed-stack";
import { ensureOpsPython, privateEnvFile, removeEnvFile, TOOLS, type Processes } from "./processes";
import { waitAvailable, type RdsSnapshots } from "./rds-snapshots";

export const BACKUPS_DIR = path.join(REPO_ROOT, "backups");
const DATABASES = { tracking: "mlflow_tracking", auth: "mlflow_auth" } as const;
const HOUR = 3_600_000;

export interface OpsDeps {
  ws: LifecycleWorkspace;
  processes: Processes;
  rds: (region: string) => RdsSnapshots;
  now: () => Date;
  io: Io;
  env: NodeJS.ProcessEnv;
  backupsDir: string;
  policyPacks: string[];
  /** uid:gid the tool's container writes the backup as. */
  user: string;
  /** How often a snapshot's status is asked for (30 s; tests less). */
  pollMs?: number;
}

export interface BackupRecord {
  stack: string;
  kind: StoreKind;
  createdAt: string;
  rds?: { instance: string; snapshotIdentifier: string };
  neon?: { projectId: string; branchId: string; timestamp: string };
}

const stampOf = (d: Date) => d.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}Z$/, "z").toLowerCase();

/** The env tools/ops/kit_backup.py reads, from a stack's server env (envFile output). */
function toolEnv(s: DeployedStack, withDatabases: boolean, withKeys: boolean): Record<string, string> {
  const e = s.env;
  const env: Record<string, string> = { MLFLOW_KIT_ARTIFACTS_DESTINATION: e.MLFLOW_ARTIFACTS_DESTINATION ?? "" };
  if (!env.MLFLOW_KIT_ARTIFACTS_DESTINATION) throw new Error(`--stack ${s.name}: its envFile output has no MLFLOW_ARTIFACTS_DESTINATION; run pulumi up --stack ${s.name} with this version first`);
  if (withDatabases) Object.assign(env, { MLFLOW_KIT_TRACKING_DB_URI: e.MLFLOW_BACKEND_STORE_URI, MLFLOW_KIT_AUTH_DB_URI: e.MLFLOW_AUTH_DATABASE_URI });
  if (e.MLFLOW_S3_ENDPOINT_URL) env.MLFLOW_S3_ENDPOINT_URL = e.MLFLOW_S3_ENDPOINT_URL;
  env.AWS_DEFAULT_REGION = e.AWS_DEFAULT_REGION ?? s.region;
  // The server's own keys (MinIO's user, inside the local stack); on AWS the operator's
  // credentials from the environment, which may read object versions and copy across buckets.
  if (withKeys) Object.assign(env, { AWS_ACCESS_KEY_ID: e.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: e.AWS_SECRET_ACCESS_KEY });
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as Record<string, string>;
}

/** kit_backup.py in a container of the local stack's image, on its private network. */
async function toolInStack(d: OpsDeps, s: DeployedStack, dir: string, args: string[]): Promise<void> {
  if (!s.imageRef) throw new Error(`--stack ${s.name}: has no imageRef output; run pulumi up --stack ${s.name} first`);
  const envFile = privateEnvFile({ ...toolEnv(s, true, true), HOME: "/tmp", MLFLOW_DISABLE_TELEMETRY: "true" });
  try {
    await d.processes.run("docker", ["run", "--rm", "--network", `${s.namePrefix}-private`, "--env-file", envFile,
      "--user", d.user, "-v", `${dir}:/backup`, "-v", `${TOOLS}:/ops:ro`, "--entrypoint", "python", s.imageRef,
      "/ops/kit_backup.py", ...args], { timeoutMs: 6 * HOUR });
  } finally {
    removeEnvFile(envFile);
  }
}

/** kit_backup.py on this machine, for S3 artifacts (the operator's AWS credentials). */
async function toolHere(d: OpsDeps, s: DeployedStack, args: string[]): Promise<void> {
  const python = await ensureOpsPython(d.processes, d.env);
  await d.processes.run(python, [path.join(TOOLS, "kit_backup.py"), ...args], { env: { ...toolEnv(s, false, false), MLFLOW_DISABLE_TELEMETRY: "true" }, timeoutMs: 6 * HOUR });
}

export async function backup(d: OpsDeps, opts: { stack: string; out?: string }): Promise<{ dir: string; record: BackupRecord }> {
  const s = await readDeployedStack(d.ws, opts.stack);
  const now = d.now();
  const dir = path.resolve(opts.out ?? path.join(d.backupsDir, s.name, stampOf(now)));
  if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0) throw new Error(`--out: ${dir} is not empty; a backup goes into a new directory`);
  const record: BackupRecord = { stack: s.name, kind: s.kind, createdAt: now.toISOString().replace(/\.\d{3}Z$/, "Z") };
  if (s.kind === "neon" && !(s.neonProjectId && s.neonBranchId)) {
    throw new Error(`--stack ${s.name}: its state names no Neon project and branch (neonProjectId output, the branch resource); run pulumi up --stack ${s.name} first`);
  }
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const started = Date.now();
  switch (s.kind) {
    case "local":
      for (const [name, database] of Object.entries(DATABASES)) {
        d.io.log(`[backup] ${s.name}: pg_dump of ${database} in ${s.namePrefix}-postgres`);
        await d.processes.run("docker", ["exec", `${s.namePrefix}-postgres`, "pg_dump", "--username", "postgres",
          "--format=custom", "--no-owner", "--no-privileges", database], { stdoutFile: path.join(dir, `${name}.dump`), timeoutMs: 2 * HOUR });
      }
      await toolInStack(d, s, dir, ["backup", "--out", "/backup", "--databases", "dumped", "--artifacts", "copy", "--source-json", JSON.stringify(record)]);
      break;
    case "rds": {
      const instance = `${s.namePrefix}-db`;
      const snapshotIdentifier = `${instance}-backup-${stampOf(now)}`;
      record.rds = { instance, snapshotIdentifier };
      const rds = d.rds(s.region);
      d.io.log(`[backup] ${s.name}: RDS snapshot ${snapshotIdentifier} of ${instance}`);
      await rds.create(instance, snapshotIdentifier, { "mlflow-kit:stack": s.name, "mlflow-kit:backup": record.createdAt });
      // The artifacts' versions as the snapshot starts, then the wait for the snapshot.
      await toolHere(d, s, ["backup", "--out", dir, "--databases", "none", "--artifacts", "versions", "--source-json", JSON.stringify(record)]);
      await waitAvailable(rds, snapshotIdentifier, { timeoutMs: 2 * HOUR, intervalMs: d.pollMs ?? 30_000 });
      break;
    }
    case "neon":
      record.neon = { projectId: s.neonProjectId!, branchId: s.neonBranchId!, timestamp: record.createdAt };
      d.io.log(`[backup] ${s.name}: Neon branch ${s.neonBranchId} at ${record.createdAt} (kept for the project's history window)`);
      await toolHere(d, s, ["backup", "--out", dir, "--databases", "none", "--artifacts", "versions", "--source-json", JSON.stringify(record)]);
      break;
  }
  fs.writeFileSync(path.join(dir, "backup.json"), JSON.stringify(record, null, 1) + "\n", { mode: 0o600 });
  d.io.log(`[backup] ${s.name}: done in ${((Date.now() - started) / 1000).toFixed(1)} s -> ${dir}`);
  d.io.log(`[backup] restore it into a new stack: npm run restore -- --from ${s.name} --to <new stack> --backup ${dir}`);
  return { dir, record };
}

/** The newest backup of a stack under backups/<stack>/. */
export function latestBackup(backupsDir: string, stack: string): string {
  const root = path.join(backupsDir, stack);
  const found = fs.existsSync(root) ? fs.readdirSync(root).filter((n) => fs.existsSync(path.join(root, n, "backup.json"))).sort() : [];
  if (found.length === 0) throw new Error(`--from ${stack}: no backup under ${root}. Take one (npm run backup -- --stack ${stack}) or name it with --backup DIR`);
  return path.join(root, found[found.length - 1]);
}

export async function restore(d: OpsDeps, opts: { from: string; to: string; backup?: string }): Promise<void> {
  if (opts.from === opts.to) throw new Error(`--to: restore into a new stack, not ${opts.from} itself (its data would be overwritten)`);
  const dir = path.resolve(opts.backup ?? latestBackup(d.backupsDir, opts.from));
  const file = path.join(dir, "backup.json");
  if (!fs.existsSync(file)) throw new Error(`--backup: ${dir} has no backup.json; name a directory npm run backup wrote`);
  const record = JSON.parse(fs.readFileSync(file, "utf8")) as BackupRecord;
  if (record.stack !== opts.from) throw new Error(`--backup: ${dir} is a backup of ${record.stack}, not of ${opts.from}`);
  const names = (await d.ws.listStacks()).map((s) => s.name);
  if (!names.includes(opts.to)) throw new Error(`--to ${opts.to}: no such stack. Create it first (pulumi stack init ${opts.to}, with a Pulumi.${opts.to}.yaml of database.kind ${record.kind})`);
  const config = await d.ws.getAllConfig(opts.to);
  const kind = storeKind(opts.to, config);
  if (kind !== record.kind) throw new Error(`--to ${opts.to}: its database.kind is ${kind}; a backup of a ${record.kind} stack restores into a ${record.kind} stack`);
  const started = Date.now();

  if (kind === "local") {
    await restoreLocal(d, dir, opts.to);
  } else {
    const target = await readDeployedStack(d.ws, opts.to, { deployed: false });
    if (target.hasDatabase) {
      throw new Error(`--to ${opts.to}: already has its ${kind === "rds" ? "RDS instance" : "Neon branch"}; a restore creates a new one (database.restoreFrom is read on creation only). Restore into a stack that was never deployed, or destroy this one first`);
    }
    const set: Record<string, { value: string; secret: boolean }> = {};
    if (kind === "rds") {
      set["mlflow-kit:database.restoreFrom.snapshotIdentifier"] = { value: record.rds!.snapshotIdentifier, secret: false };
    } else {
      const project = JSON.parse(configValue(config, "database") ?? "{}").projectId as string | undefined;
      if (project && project !== record.neon!.projectId) {
        throw new Error(`--to ${opts.to}: database.projectId is ${project}, the backup's branch is in ${record.neon!.projectId}; a Neon branch is restored in its own project. Remove projectId or set it to ${record.neon!.projectId}`);
      }
      set["mlflow-kit:database.projectId"] = { value: record.neon!.projectId, secret: false };
      set["mlflow-kit:database.restoreFrom.branchId"] = { value: record.neon!.branchId, secret: false };
      set["mlflow-kit:database.restoreFrom.timestamp"] = { value: record.neon!.timestamp, secret: false };
    }
    d.io.log(`[restore] ${opts.to}: ${Object.entries(set).map(([k, v]) => `${k}=${v.value}`).join(", ")}; pulumi up`);
    await d.ws.setAllConfig(opts.to, set, true);
    await d.ws.up(opts.to, { policyPacks: d.policyPacks, onOutput: (t) => process.stdout.write(t) });
    const deployed = await readDeployedStack(d.ws, opts.to);
    d.io.log(`[restore] ${opts.to}: copying the artifact versions of the backup into ${deployed.env.MLFLOW_ARTIFACTS_DESTINATION}`);
    await toolHere(d, deployed, ["restore", "--from", dir, "--only", "check", "--only", "artifacts"]);
  }
  d.io.log(`[restore] ${opts.to}: restored from ${dir} in ${((Date.now() - started) / 1000).toFixed(1)} s. Compare with the client before switching users over`);
}

async function restoreLocal(d: OpsDeps, dir: string, to: string): Promise<void> {
  const t = await readDeployedStack(d.ws, to);
  // Refuses a target holding data before anything changes.
  await toolInStack(d, t, dir, ["restore", "--from", "/backup", "--only", "check"]);
  const server = `${t.namePrefix}-server`;
  d.io.log(`[restore] ${to}: stopping ${server} while its databases are replaced`);
  await d.processes.run("docker", ["stop", "--time", "30", server], { timeoutMs: 120_000 });
  try {
    for (const [name, database] of Object.entries(DATABASES)) {
      d.io.log(`[restore] ${to}: pg_restore of ${database} in ${t.namePrefix}-postgres`);
      // As the superuser over the socket, every object created as the app role that owns the
      // databases; one transaction, so a failure leaves the target as it was.
      await d.processes.run("docker", ["exec", "-i", `${t.namePrefix}-postgres`, "pg_restore", "--username", "postgres",
        "--dbname", database, "--role", "mlflow_app", "--no-owner", "--no-privileges", "--clean", "--if-exists",
        "--single-transaction", "--exit-on-error"], { stdinFile: path.join(dir, `${name}.dump`), timeoutMs: 2 * HOUR });
    }
    await toolInStack(d, t, dir, ["restore", "--from", "/backup", "--only", "artifacts"]);
  } finally {
    d.io.log(`[restore] ${to}: starting ${server}`);
    await d.processes.run("docker", ["start", server], { timeoutMs: 120_000 });
  }
}
