/**
 * `npm run import -- --stack S --from ./mlruns [--workers N]`: the runs of an MLflow file
 * store into the stack's server, through its API; running it again adds nothing
 * (README "Bringing existing runs in").
 */
import { parseArgs } from "node:util";
import { io, run, workspace } from "./lifecycle/cli";
import { importRuns } from "./ops/import-runs";
import { realProcesses } from "./ops/processes";

export function parseImportArgs(argv: string[]): { stack: string; from: string; workers?: number } {
  const { values } = parseArgs({ args: argv, options: { stack: { type: "string" }, from: { type: "string" }, workers: { type: "string" } } });
  if (!values.stack) throw new Error("--stack: is missing. Name the deployed stack to import into, e.g. --stack prod");
  if (!values.from) throw new Error("--from: is missing. Give the mlruns folder of the file store, e.g. --from ./mlruns");
  const workers = values.workers === undefined ? undefined : Number(values.workers);
  if (workers !== undefined && !(Number.isInteger(workers) && workers >= 1 && workers <= 16)) throw new Error(`--workers: ${values.workers} is not a whole number from 1 to 16`);
  return { stack: values.stack, from: values.from, workers };
}

if (require.main === module) {
  run(async () => {
    await importRuns({ ws: await workspace(), processes: realProcesses, env: process.env, io }, parseImportArgs(process.argv.slice(2)));
    return 0;
  });
}
