/**
 * Manual RDS snapshots for `npm run backup` of an RDS stack: CreateDBSnapshot, then
 * DescribeDBSnapshots until the snapshot is available. A manual snapshot stays until deleted
 * (automated backups go after backupRetentionDays); restore one with database.restoreFrom.
 */
import { CreateDBSnapshotCommand, DescribeDBSnapshotsCommand, RDSClient } from "@aws-sdk/client-rds";

export interface RdsSnapshots {
  create(instanceId: string, snapshotId: string, tags: Record<string, string>): Promise<void>;
  /** The snapshot's status (creating, available, failed, ...). */
  status(snapshotId: string): Promise<string | undefined>;
}

export function awsRdsSnapshots(region: string): RdsSnapshots {
  const rds = new RDSClient({ region });
  return {
    async create(instanceId, snapshotId, tags) {
      await rds.send(new CreateDBSnapshotCommand({
        DBInstanceIdentifier: instanceId,
        DBSnapshotIdentifier: snapshotId,
        Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
      }));
    },
    async status(snapshotId) {
      const r = await rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: snapshotId }));
      return r.DBSnapshots?.[0]?.Status;
    },
  };
}

/** Polls until available; bounded by `timeoutMs`; a failed snapshot fails at once. */
export async function waitAvailable(s: RdsSnapshots, snapshotId: string, opts: { timeoutMs: number; intervalMs: number; sleep?: (ms: number) => Promise<void> }): Promise<void> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const deadline = Date.now() + opts.timeoutMs;
  for (let i = 0; Date.now() < deadline && i < 100_000; i++) {
    const status = await s.status(snapshotId);
    if (status === "available") return;
    if (status === "failed" || status === "incompatible-restore") throw new Error(`RDS snapshot ${snapshotId}: ${status}. See the RDS console's events for the instance`);
    await sleep(opts.intervalMs);
  }
  throw new Error(`RDS snapshot ${snapshotId}: not available within ${opts.timeoutMs / 60_000} minutes; it may still finish (aws rds describe-db-snapshots --db-snapshot-identifier ${snapshotId})`);
}
