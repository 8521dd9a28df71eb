/**
 * `npm run restore -- --from S --to T [--backup DIR]`: a backup of stack S (the newest under
 * backups/S/ unless --backup) into stack T, a new stack of the same database.kind
 * (README "Backup and restore").
 */
import * as os from "node:os";
import { parseArgs } from "node:util";
import { io, policyPacks, run, workspace } from "./lifecycle/cli";
import { BACKUPS_DIR, restore } from "./ops/backup-restore";
import { realProcesses } from "./ops/processes";
import { awsRdsSnapshots } from "./ops/rds-snapshots";

export function parseRestoreArgs(argv: string[]): { from: string; to: string; backup?: string } {
  const { values } = parseArgs({ args: argv, options: { from: { type: "string" }, to: { type: "string" }, backup: { type: "string" } } });
  if (!values.from) throw new Error("--from: is missing. Name the stack whose backup to restore, e.g. --from prod");
  if (!values.to) throw new Error("--to: is missing. Name the new stack to restore into, e.g. --to prod-restored");
  return { from: values.from, to: values.to, backup: values.backup };
}

if (require.main === module) {
  run(async () => {
    const args = parseRestoreArgs(process.argv.slice(2));
    const { uid, gid } = os.userInfo();
    await restore({ ws: await workspace(), processes: realProcesses, rds: awsRdsSnapshots, now: () => new Date(), io, env: process.env, backupsDir: BACKUPS_DIR, policyPacks: policyPacks(), user: `${uid}:${gid}` }, args);
    return 0;
  });
}
