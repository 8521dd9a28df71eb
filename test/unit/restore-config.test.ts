/**
 * A new stack created from a backup (README "Backup and restore"): database.restoreFrom as
 * the settings take it (clear refusals), and what it does to the plan: RDS from a snapshot or a
 * point in time (aws.rds.Instance snapshotIdentifier / restoreToPointInTime), Neon from a
 * branch at a timestamp (the branch create call's parent_id + parent_timestamp). Both are read
 * on creation only, so dropping the setting later never replaces the data.
 */
import { describe, expect, it } from "vitest";
import { parseSettings, SettingsError } from "../../infra/settings";
import type { PlannedResource } from "../../stacks/offline";
import { plan } from "../../stacks/plan";
import { readStackConfig } from "../../stacks/stack-config";

const PROD_DB = readStackConfig("prod").config["mlflow-kit:database"];
const DEV_DB = readStackConfig("dev").config["mlflow-kit:database"];
const withRestore = (db: string, restoreFrom: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ ...JSON.parse(db), ...extra, restoreFrom });

function problemsOf(stack: "prod" | "dev", database: string): string[] {
  const cfg = readStackConfig(stack);
  try {
    parseSettings({ project: cfg.project, stack, values: { ...cfg.config, "mlflow-kit:database": database }, secretKeys: new Set(cfg.secretKeys) }, { allowUnsupported: true });
    return [];
  } catch (err) {
    if (err instanceof SettingsError) return err.problems;
    throw err;
  }
}

const only = (resources: PlannedResource[], type: string) => {
  const found = resources.filter((r) => r.type === type);
  expect(found, type).toHaveLength(1);
  return found[0];
};

describe("RDS: database.restoreFrom", () => {
  it("creates the instance from a snapshot, read on creation only", async () => {
    const p = await plan("prod", { overrides: { "mlflow-kit:database": withRestore(PROD_DB, { snapshotIdentifier: "mlflow-kit-prod-db-backup-20261204t1200z" }) } });
    const db = only(p.resources, "aws:rds/instance:Instance");
    expect(db.inputs.snapshotIdentifier).toBe("mlflow-kit-prod-db-backup-20261204t1200z");
    expect(db.inputs.restoreToPointInTime).toBeUndefined();
    expect(db.options.ignoreChanges).toEqual(expect.arrayContaining(["snapshotIdentifier", "restoreToPointInTime"]));
    // Everything else of the stack's instance holds (encrypted, private, its own passwords).
    expect(db.inputs).toMatchObject({ identifier: "mlflow-kit-prod-db", storageEncrypted: true, publiclyAccessible: false });
  });

  it("creates the instance from a point in time of another instance", async () => {
    const p = await plan("prod", { overrides: { "mlflow-kit:database": withRestore(PROD_DB, { sourceInstance: "mlflow-kit-old-db", time: "2026-12-04T12:00:00Z" }) } });
    expect(only(p.resources, "aws:rds/instance:Instance").inputs.restoreToPointInTime).toEqual({ sourceDbInstanceIdentifier: "mlflow-kit-old-db", restoreTime: "2026-12-04T12:00:00Z" });
    const latest = await plan("prod", { overrides: { "mlflow-kit:database": withRestore(PROD_DB, { sourceInstance: "mlflow-kit-old-db", latest: true }) } });
    expect(only(latest.resources, "aws:rds/instance:Instance").inputs.restoreToPointInTime).toEqual({ sourceDbInstanceIdentifier: "mlflow-kit-old-db", useLatestRestorableTime: true });
  });

  it("a stack without restoreFrom plans no restore", async () => {
    const db = only((await plan("prod")).resources, "aws:rds/instance:Instance");
    expect(db.inputs.snapshotIdentifier).toBeUndefined();
    expect(db.inputs.restoreToPointInTime).toBeUndefined();
  });

  it.each([
    [{}, "name one source, snapshotIdentifier (a DB snapshot) or sourceInstance"],
    [{ snapshotIdentifier: "snap-1", sourceInstance: "mlflow-kit-old-db", time: "2026-12-04T12:00:00Z" }, "not both"],
    [{ snapshotIdentifier: "snap-1", latest: true }, "time and latest go with sourceInstance"],
    [{ sourceInstance: "mlflow-kit-old-db" }, "give either time (ISO 8601, within its backupRetentionDays) or latest: true"],
    [{ sourceInstance: "mlflow-kit-old-db", time: "2026-12-04T12:00:00Z", latest: true }, "give either time"],
    [{ sourceInstance: "mlflow-kit-prod-db", latest: true }, "is this stack's own instance"],
    [{ snapshotIdentifier: "1-not-a-snapshot" }, "must be an RDS snapshot identifier or ARN"],
    [{ sourceInstance: "mlflow-kit-old-db", time: "yesterday" }, "must be an ISO 8601 date-time"],
    [{ snapshotIdentifier: "snap-1", password: "x" }, "restoreFrom"],
  ])("refuses %j with a message naming the fix", (restoreFrom, message) => {
    const problems = problemsOf("prod", withRestore(PROD_DB, restoreFrom));
    expect(problems.join("\n")).toContain(message);
    expect(problems.join("\n")).toContain("mlflow-kit:database.restoreFrom");
  });
});

describe("Neon: database.restoreFrom", () => {
  it("creates the branch from the source branch at a timestamp, in the source's project", async () => {
    const p = await plan("dev", { overrides: { "mlflow-kit:database": withRestore(DEV_DB, { branchId: "br-wispy-meadow-12345678", timestamp: "2026-12-04T12:00:00Z" }, { projectId: "shiny-wind-028834" }) } });
    const branches = p.resources.filter((r) => r.name.endsWith("-database-branch"));
    expect(branches, "the Neon branch").toHaveLength(1);
    const branch = branches[0];
    expect(branch.inputs).toMatchObject({ projectId: "shiny-wind-028834", parentId: "br-wispy-meadow-12345678", parentTimestamp: "2026-12-04T12:00:00Z" });
    expect(branch.inputs.parentLsn).toBeUndefined();
    expect(branch.options.ignoreChanges).toEqual(expect.arrayContaining(["parentId", "parentTimestamp", "parentLsn"]));
  });

  it("refuses a restore without the source's project, a timestamp with an LSN, and bad ids", () => {
    expect(problemsOf("dev", withRestore(DEV_DB, { branchId: "br-wispy-meadow-12345678" })).join("\n")).toContain("Set database.projectId to the source stack's neonProjectId output");
    expect(problemsOf("dev", withRestore(DEV_DB, { branchId: "br-wispy-meadow-12345678", timestamp: "2026-12-04T12:00:00Z", lsn: "0/1F4A3B8" }, { projectId: "shiny-wind-028834" })).join("\n")).toContain("give timestamp or lsn, not both");
    expect(problemsOf("dev", withRestore(DEV_DB, { branchId: "main" }, { projectId: "shiny-wind-028834" })).join("\n")).toContain("must be a Neon branch id");
    expect(problemsOf("dev", withRestore(DEV_DB, { branchId: "br-wispy-meadow-12345678", lsn: "not-an-lsn" }, { projectId: "shiny-wind-028834" })).join("\n")).toContain("must be a PostgreSQL LSN");
  });
});
