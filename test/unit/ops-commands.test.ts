/**
 * npm run backup / restore / import as orchestration: per metadata store, what they ask of the
 * Automation API (a recording workspace) and which processes they start (recorded), in which
 * order, with no secret on any command line, and the refusals that come before anything
 * starts. The tools they start (tools/ops) are run for real by test/ops (npm run test:ops).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { OutputMap } from "@pulumi/pulumi/automation";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseImportArgs } from "../../stacks/import";
import { backup, restore, type OpsDeps } from "../../stacks/ops/backup-restore";
import { importRuns } from "../../stacks/ops/import-runs";
import type { Processes, RunOptions } from "../../stacks/ops/processes";
import type { RdsSnapshots } from "../../stacks/ops/rds-snapshots";
import { parseRestoreArgs } from "../../stacks/restore";
import { RecordingWorkspace, type FakeStack } from "../lifecycle/recording-workspace";

// Built at run time: no tracked line looks like a credential.
const SECRET = ["s3cr3t", Math.random().toString(36).slice(2)].join("-");
const DB_PASSWORD = ["pgpw", Math.random().toString(36).slice(2)].join("-");

const envFile = (prefix: string, extra: Record<string, string> = {}) => Object.entries({
  MLFLOW_BACKEND_STORE_URI: `postgresql://mlflow_app:${DB_PASSWORD}@postgres:5432/mlflow_tracking?sslmode=disable`,
  MLFLOW_AUTH_DATABASE_URI: `postgresql://mlflow_app:${DB_PASSWORD}@postgres:5432/mlflow_auth?sslmode=disable`,
  MLFLOW_ARTIFACTS_DESTINATION: `s3://${prefix}-artifacts/mlflow`,
  AWS_ACCESS_KEY_ID: "mlflow-server",
  AWS_SECRET_ACCESS_KEY: SECRET,
  AWS_DEFAULT_REGION: "us-east-1",
  ...extra,
}).map(([k, v]) => `${k}=${v}\n`).join("");

const outputs = (prefix: string, extra: Record<string, string> = {}): OutputMap => ({
  envFile: { value: envFile(prefix, extra), secret: true },
  trackingUri: { value: "http://127.0.0.1:5000", secret: false },
  adminUsername: { value: "admin", secret: false },
  adminPassword: { value: SECRET, secret: true },
  imageRef: { value: "sha256:" + "ab".repeat(32), secret: false },
});
const db = (kind: string, extra: Record<string, unknown> = {}) => ({ "mlflow-kit:database": { value: JSON.stringify({ kind, ...extra }), secret: false }, "aws:region": { value: "eu-west-1", secret: false } });

/** A workspace whose `up` deploys: the stack gets its outputs (as a real pulumi up would). */
class DeployingWorkspace extends RecordingWorkspace {
  onUp: Record<string, Partial<FakeStack>> = {};
  override async up(stack: string, opts: { policyPacks?: string[]; onOutput: (text: string) => void }): Promise<void> {
    await super.up(stack, opts);
    Object.assign(this.stacks.get(stack)!, this.onUp[stack] ?? {});
  }
}

interface Ran { command: string; args: string[]; opts: RunOptions; envFileText?: string; envFileMode?: number }

class RecordingProcesses implements Processes {
  readonly ran: Ran[] = [];
  failOn?: (r: Ran) => boolean;
  async run(command: string, args: string[], opts: RunOptions): Promise<void> {
    const r: Ran = { command, args, opts };
    const at = args.indexOf("--env-file");
    if (at >= 0) {
      r.envFileText = fs.readFileSync(args[at + 1], "utf8");
      r.envFileMode = fs.statSync(args[at + 1]).mode & 0o777;
    }
    this.ran.push(r);
    if (opts.stdoutFile) fs.writeFileSync(opts.stdoutFile, "PGDMP dump bytes");
    if (this.failOn?.(r)) throw new Error(`${command} failed`);
  }
  lines(): string[] {
    return this.ran.map((r) => [path.basename(r.command), ...r.args.filter((a) => !a.startsWith("/") && !a.startsWith("{"))].slice(0, 4).join(" "));
  }
}

let dir: string;
let processes: RecordingProcesses;
let logs: string[];
let snapshots: Array<[string, string]>;
const deps = (ws: RecordingWorkspace, extra: Partial<OpsDeps> = {}): OpsDeps => ({
  ws, processes, now: () => new Date("2026-12-04T12:00:00.123Z"), io: { log: (l) => logs.push(l) },
  env: { MLFLOW_KIT_OPS_PYTHON: process.execPath }, backupsDir: path.join(dir, "backups"), policyPacks: ["/policies"], user: "1000:1000", pollMs: 1,
  rds: (): RdsSnapshots => {
    let polls = 0;
    return { create: async (i, s) => void snapshots.push([i, s]), status: async () => (++polls > 1 ? "available" : "creating") };
  },
  ...extra,
});

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ops-cmd-"));
  processes = new RecordingProcesses();
  logs = [];
  snapshots = [];
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function noSecretOnACommandLine() {
  for (const r of processes.ran) {
    const argv = r.args.join(" ");
    expect(argv).not.toContain(SECRET);
    expect(argv).not.toContain(DB_PASSWORD);
  }
  expect(logs.join("\n")).not.toContain(SECRET);
}

describe("npm run backup", () => {
  it("local: pg_dump of both databases in the stack's PostgreSQL container, then the tool in its image on its private network", async () => {
    const ws = new RecordingWorkspace({ local: { config: db("local"), outputs: outputs("mlflow-kit-local", { MLFLOW_S3_ENDPOINT_URL: "http://minio:9000" }) } });
    const { dir: out, record } = await backup(deps(ws), { stack: "local" });
    expect(out).toBe(path.join(dir, "backups", "local", "20261204t120000z"));
    expect(processes.lines()).toEqual([
      "docker exec mlflow-kit-local-postgres pg_dump",
      "docker exec mlflow-kit-local-postgres pg_dump",
      "docker run --rm --network",
    ]);
    expect(processes.ran[0].args.at(-1)).toBe("mlflow_tracking");
    expect(processes.ran[1].args.at(-1)).toBe("mlflow_auth");
    expect(processes.ran[0].opts.stdoutFile).toBe(path.join(out, "tracking.dump"));
    const tool = processes.ran[2];
    expect(tool.args).toEqual(expect.arrayContaining(["mlflow-kit-local-private", "--user", "1000:1000", `${out}:/backup`, "backup", "--databases", "dumped", "--artifacts", "copy"]));
    // The secrets went through a 0600 env file, removed afterwards.
    expect(tool.envFileMode).toBe(0o600);
    expect(tool.envFileText).toContain(`AWS_SECRET_ACCESS_KEY=${SECRET}`);
    expect(tool.envFileText).toContain("MLFLOW_S3_ENDPOINT_URL=http://minio:9000");
    expect(tool.envFileText).toContain(`MLFLOW_KIT_TRACKING_DB_URI=postgresql://mlflow_app:${DB_PASSWORD}@postgres:5432/mlflow_tracking`);
    expect(fs.existsSync(tool.args[tool.args.indexOf("--env-file") + 1])).toBe(false);
    expect(JSON.parse(fs.readFileSync(path.join(out, "backup.json"), "utf8"))).toEqual(record);
    noSecretOnACommandLine();
  });

  it("rds: a manual snapshot named after the instance and the time, the artifacts' versions, and the wait until it is available", async () => {
    const ws = new RecordingWorkspace({ prod: { config: db("rds"), outputs: outputs("mlflow-kit-prod") } });
    const { record } = await backup(deps(ws), { stack: "prod" });
    expect(snapshots).toEqual([["mlflow-kit-prod-db", "mlflow-kit-prod-db-backup-20261204t120000z"]]);
    expect(record.rds).toEqual({ instance: "mlflow-kit-prod-db", snapshotIdentifier: "mlflow-kit-prod-db-backup-20261204t120000z" });
    const [tool] = processes.ran;
    expect(tool.command).toBe(process.execPath);
    expect(tool.args).toEqual(expect.arrayContaining(["backup", "--databases", "none", "--artifacts", "versions"]));
    // On AWS the operator's credentials: the server's key is not handed to the tool.
    expect(tool.opts.env).toMatchObject({ MLFLOW_KIT_ARTIFACTS_DESTINATION: "s3://mlflow-kit-prod-artifacts/mlflow", AWS_DEFAULT_REGION: "us-east-1" });
    expect(JSON.stringify(tool.opts.env)).not.toContain(SECRET);
    noSecretOnACommandLine();
  });

  it("neon: the branch and the time from the stack's state", async () => {
    const ws = new RecordingWorkspace({ dev: {
      config: db("neon"), outputs: { ...outputs("mlflow-kit-dev"), neonProjectId: { value: "shiny-wind-028834", secret: false } },
      resources: [{ urn: "urn:b", type: "pulumi-nodejs:dynamic/neon:Branch", outputs: { branchId: "br-wispy-meadow-12345678" } }],
    } });
    const { record } = await backup(deps(ws), { stack: "dev" });
    expect(record.neon).toEqual({ projectId: "shiny-wind-028834", branchId: "br-wispy-meadow-12345678", timestamp: "2026-12-04T12:00:00Z" });
  });

  it("refuses a stack that is not deployed, or a used directory, before anything starts", async () => {
    const ws = new RecordingWorkspace({ prod: { config: db("rds") }, local: { config: db("local"), outputs: outputs("mlflow-kit-local") } });
    await expect(backup(deps(ws), { stack: "prod" })).rejects.toThrow(/has no envFile output, so it is not deployed/);
    await expect(backup(deps(ws), { stack: "nope" })).rejects.toThrow(/there is no such stack/);
    fs.mkdirSync(path.join(dir, "used"));
    fs.writeFileSync(path.join(dir, "used", "x"), "");
    await expect(backup(deps(ws), { stack: "local", out: path.join(dir, "used") })).rejects.toThrow(/is not empty/);
    expect(processes.ran).toEqual([]);
  });
});

async function takeBackup(stack: string, kind: string, extra: Partial<FakeStack> = {}): Promise<string> {
  const ws = new RecordingWorkspace({ [stack]: { config: db(kind), outputs: outputs(`mlflow-kit-${stack}`), ...extra } });
  const { dir: out } = await backup(deps(ws), { stack });
  processes.ran.length = 0;
  return out;
}

describe("npm run restore", () => {
  it("rds: the new stack's instance from the snapshot (config, pulumi up), then the artifact versions into its bucket", async () => {
    const out = await takeBackup("prod", "rds");
    const ws = new DeployingWorkspace({ prod: { config: db("rds"), outputs: outputs("mlflow-kit-prod") }, restored: { config: db("rds", { instanceClass: "db.t4g.small" }) } });
    ws.onUp.restored = { outputs: outputs("mlflow-kit-restored") };
    await restore(deps(ws), { from: "prod", to: "restored" });
    expect(ws.methods().filter((m) => /setAllConfig|up/.test(m))).toEqual(["setAllConfig restored", "up restored"]);
    expect(JSON.parse(ws.stacks.get("restored")!.config["mlflow-kit:database"].value)).toEqual({ kind: "rds", instanceClass: "db.t4g.small", restoreFrom: { snapshotIdentifier: "mlflow-kit-prod-db-backup-20261204t120000z" } });
    const [tool] = processes.ran;
    expect(tool.args).toEqual(expect.arrayContaining(["restore", "--from", out, "--only", "check", "artifacts"]));
    expect(tool.opts.env?.MLFLOW_KIT_ARTIFACTS_DESTINATION).toBe("s3://mlflow-kit-restored-artifacts/mlflow");
  });

  it("neon: the new stack's branch from the source's at the backup's time, in its project", async () => {
    await takeBackup("dev", "neon", { outputs: { ...outputs("mlflow-kit-dev"), neonProjectId: { value: "shiny-wind-028834", secret: false } }, resources: [{ urn: "urn:b", type: "pulumi-nodejs:dynamic/neon:Branch", outputs: { branchId: "br-wispy-meadow-12345678" } }] });
    const ws = new DeployingWorkspace({ dev: { config: db("neon") }, "dev-restored": { config: db("neon", { region: "aws-us-east-2" }) } });
    ws.onUp["dev-restored"] = { outputs: outputs("mlflow-kit-dev-restored") };
    await restore(deps(ws), { from: "dev", to: "dev-restored" });
    expect(JSON.parse(ws.stacks.get("dev-restored")!.config["mlflow-kit:database"].value)).toEqual({
      kind: "neon", region: "aws-us-east-2", projectId: "shiny-wind-028834",
      restoreFrom: { branchId: "br-wispy-meadow-12345678", timestamp: "2026-12-04T12:00:00Z" },
    });
  });

  it("local: check, stop the server, pg_restore both databases as the app role, the artifacts, start the server", async () => {
    const out = await takeBackup("local", "local");
    const ws = new RecordingWorkspace({ local: { config: db("local") }, "local-2": { config: db("local"), outputs: outputs("mlflow-kit-local-2") } });
    await restore(deps(ws), { from: "local", to: "local-2" });
    expect(processes.lines()).toEqual([
      "docker run --rm --network",
      "docker stop --time 30",
      "docker exec -i mlflow-kit-local-2-postgres",
      "docker exec -i mlflow-kit-local-2-postgres",
      "docker run --rm --network",
      "docker start mlflow-kit-local-2-server",
    ]);
    expect(processes.ran[0].args.slice(-4)).toEqual(["--from", "/backup", "--only", "check"]);
    expect(processes.ran[2].args).toEqual(expect.arrayContaining(["pg_restore", "--dbname", "mlflow_tracking", "--role", "mlflow_app", "--clean", "--single-transaction"]));
    expect(processes.ran[2].opts.stdinFile).toBe(path.join(out, "tracking.dump"));
    expect(processes.ran[4].args.slice(-2)).toEqual(["--only", "artifacts"]);
    noSecretOnACommandLine();
  });

  it("local: the server is started again when a pg_restore fails", async () => {
    await takeBackup("local", "local");
    const ws = new RecordingWorkspace({ local: { config: db("local") }, "local-2": { config: db("local"), outputs: outputs("mlflow-kit-local-2") } });
    processes.failOn = (r) => r.args.includes("pg_restore");
    await expect(restore(deps(ws), { from: "local", to: "local-2" })).rejects.toThrow(/docker failed/);
    expect(processes.lines().at(-1)).toBe("docker start mlflow-kit-local-2-server");
  });

  it("refuses, before anything changes: the source itself, another kind, a target that has its database, a backup of another stack", async () => {
    const out = await takeBackup("prod", "rds");
    const ws = new RecordingWorkspace({
      prod: { config: db("rds") }, neon: { config: db("neon") },
      used: { config: db("rds"), outputs: outputs("mlflow-kit-used"), resources: [{ urn: "urn:i", type: "aws:rds/instance:Instance" }] },
    });
    await expect(restore(deps(ws), { from: "prod", to: "prod" })).rejects.toThrow(/restore into a new stack, not prod itself/);
    await expect(restore(deps(ws), { from: "prod", to: "neon" })).rejects.toThrow(/a backup of a rds stack restores into a rds stack/);
    await expect(restore(deps(ws), { from: "prod", to: "used" })).rejects.toThrow(/already has its RDS instance/);
    await expect(restore(deps(ws), { from: "neon", to: "used", backup: out })).rejects.toThrow(/is a backup of prod, not of neon/);
    await expect(restore(deps(ws), { from: "dev", to: "used" })).rejects.toThrow(/no backup under/);
    expect(ws.methods().filter((m) => /setAllConfig|up/.test(m))).toEqual([]);
    expect(processes.ran).toEqual([]);
  });

  it("names its arguments", () => {
    expect(() => parseRestoreArgs(["--to", "x"])).toThrow(/--from: is missing/);
    expect(() => parseRestoreArgs(["--from", "x"])).toThrow(/--to: is missing/);
  });
});

describe("npm run import", () => {
  it("runs the import tool against the stack's server as its admin, the password in the environment only", async () => {
    const ws = new RecordingWorkspace({ prod: { config: db("rds"), outputs: outputs("mlflow-kit-prod") } });
    fs.mkdirSync(path.join(dir, "mlruns"));
    await importRuns({ ws, processes, env: { MLFLOW_KIT_OPS_PYTHON: process.execPath }, io: { log: (l) => logs.push(l) } }, { stack: "prod", from: path.join(dir, "mlruns"), workers: 2 });
    const [tool] = processes.ran;
    expect(tool.args.slice(1)).toEqual(["--from", path.join(dir, "mlruns"), "--workers", "2"]);
    expect(tool.opts.env).toEqual({ MLFLOW_TRACKING_URI: "http://127.0.0.1:5000", MLFLOW_TRACKING_USERNAME: "admin", MLFLOW_TRACKING_PASSWORD: SECRET, MLFLOW_DISABLE_TELEMETRY: "true" });
    noSecretOnACommandLine();
  });

  it("refuses a missing folder and bad arguments before starting anything", async () => {
    const ws = new RecordingWorkspace({ prod: { config: db("rds"), outputs: outputs("mlflow-kit-prod") } });
    await expect(importRuns({ ws, processes, env: {}, io: { log: () => undefined } }, { stack: "prod", from: path.join(dir, "missing") })).rejects.toThrow(/is not a directory/);
    expect(() => parseImportArgs(["--stack", "prod"])).toThrow(/--from: is missing/);
    expect(() => parseImportArgs(["--stack", "prod", "--from", ".", "--workers", "99"])).toThrow(/--workers: 99/);
    expect(processes.ran).toEqual([]);
  });
});
