/**
 * `npm run teardown -- (--stack S [--if-expired] | --expired) [--dry-run] [--json] [--now <RFC 3339>]`
 *
 * Destroys and removes ephemeral stacks: the one named, or every stack whose expiry has passed.
 * Refuses long-lived stacks and stacks with protected resources, naming them (exit 1).
 * --json prints the decisions as JSON on stdout (the log goes to stderr): the scheduled
 * workflow lists with `--expired --dry-run --json`, then destroys each stack in its own job
 * with `--stack S --if-expired`, which decides again under that stack's concurrency group.
 */
import { parseArgs } from "node:util";
import { parseExpiry } from "./lifecycle/expiry";
import { io, run, workspace } from "./lifecycle/cli";
import { teardown } from "./lifecycle/operations";
import type { TeardownRequest } from "./lifecycle/teardown-decision";

export function parseTeardownArgs(argv: string[]): { request: TeardownRequest; dryRun: boolean; json: boolean; now: Date } {
  const { values } = parseArgs({
    args: argv,
    options: {
      stack: { type: "string" },
      expired: { type: "boolean", default: false },
      "if-expired": { type: "boolean", default: false },
      "dry-run": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      now: { type: "string" },
    },
    allowPositionals: false,
  });
  if ((values.stack === undefined) === !values.expired) {
    throw new Error("teardown: give exactly one of --stack <name> (that stack) or --expired (every stack whose expiry has passed)");
  }
  if (values["if-expired"] && values.stack === undefined) throw new Error("--if-expired: goes with --stack <name>; --expired already means every expired stack");
  let now = new Date();
  if (values.now !== undefined) {
    const parsed = parseExpiry(values.now);
    if (!parsed.ok) throw new Error(`--now: ${parsed.reason}`);
    now = parsed.at;
  }
  const request: TeardownRequest = values.stack !== undefined ? { stack: values.stack, ...(values["if-expired"] ? { ifExpired: true } : {}) } : { expired: true };
  return { request, dryRun: values["dry-run"]!, json: values.json!, now };
}

if (require.main === module) {
  run(async () => {
    const args = parseTeardownArgs(process.argv.slice(2));
    const log = args.json ? { log: (line: string) => process.stderr.write(`${line}\n`) } : io;
    const result = await teardown(await workspace(), args, log);
    if (args.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    const refused = result.decisions.filter((d) => d.action === "refuse").length;
    return refused > 0 || result.failed.length > 0 ? 1 : 0;
  });
}
