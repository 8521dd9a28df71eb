/**
 * `npm run teardown -- (--stack S | --expired) [--dry-run] [--now <RFC 3339>]`
 *
 * Destroys and removes ephemeral stacks: the one named, or every stack whose expiry has passed.
 * Refuses long-lived stacks and stacks with protected resources, naming them (exit 1).
 */
import { parseArgs } from "node:util";
import { parseExpiry } from "./lifecycle/expiry";
import { io, run, workspace } from "./lifecycle/cli";
import { teardown } from "./lifecycle/operations";

export function parseTeardownArgs(argv: string[]): { request: { stack: string } | { expired: true }; dryRun: boolean; now: Date } {
  const { values } = parseArgs({
    args: argv,
    options: { stack: { type: "string" }, expired: { type: "boolean", default: false }, "dry-run": { type: "boolean", default: false }, now: { type: "string" } },
    allowPositionals: false,
  });
  if ((values.stack === undefined) === !values.expired) {
    throw new Error("teardown: give exactly one of --stack <name> (that stack) or --expired (every stack whose expiry has passed)");
  }
  let now = new Date();
  if (values.now !== undefined) {
    const parsed = parseExpiry(values.now);
    if (!parsed.ok) throw new Error(`--now: ${parsed.reason}`);
    now = parsed.at;
  }
  return { request: values.stack !== undefined ? { stack: values.stack } : { expired: true }, dryRun: values["dry-run"]!, now };
}

if (require.main === module) {
  run(async () => {
    const args = parseTeardownArgs(process.argv.slice(2));
    const result = await teardown(await workspace(), args, io);
    const refused = result.decisions.filter((d) => d.action === "refuse").length;
    return refused > 0 || result.failed.length > 0 ? 1 : 0;
  });
}
