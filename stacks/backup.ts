/**
 * `npm run backup -- --stack S [--out DIR]`: both databases and the artifacts of a deployed
 * stack, the way its metadata store keeps them (README "Backup and restore").
 */
import * as os from "node:os";
import { parseArgs } from "node:util";
import { io, policyPacks, run, workspace } from "./lifecycle/cli";
import { backup, BACKUPS_DIR } from "./ops/backup-restore";
import { realProcesses } from "./ops/processes";
import { awsRdsSnapshots } from "./ops/rds-snapshots";

export function parseBackupArgs(argv: string[]): { stack: string; out?: string } {
  const { values } = parseArgs({ args: argv, options: { stack: { type: "string" }, out: { type: "string" } } });
  if (!values.stack) throw new Error("--stack: is missing. Name the deployed stack to back up, e.g. --stack prod");
  return { stack: values.stack, out: values.out };
}

if (require.main === module) {
  run(async () => {
    const args = parseBackupArgs(process.argv.slice(2));
    const { uid, gid } = os.userInfo();
    await backup({ ws: await workspace(), processes: realProcesses, rds: awsRdsSnapshots, now: () => new Date(), io, env: process.env, backupsDir: BACKUPS_DIR, policyPacks: policyPacks(), user: `${uid}:${gid}` }, args);
    return 0;
  });
}
