/**
 * `npm run review -- up --pr N [--ttl-hours H] [--dry-run]`: creates or updates stack pr-N
 * from dev's config (ephemeral, expiring, a Neon branch of dev's database, its own service and
 * bucket) and runs `pulumi up` with the policy pack.
 * `npm run review -- down --pr N [--dry-run]`: destroys pr-N and removes it.
 */
import { parseArgs } from "node:util";
import { io, policyPacks, projectDir, run, workspace } from "./lifecycle/cli";
import { reviewDown, reviewUp } from "./lifecycle/operations";

export function parseReviewArgs(argv: string[]): { action: "up" | "down"; pr: string; ttlHours?: number; dryRun: boolean } {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { pr: { type: "string" }, "ttl-hours": { type: "string" }, "dry-run": { type: "boolean", default: false } },
    allowPositionals: true,
  });
  const action = positionals[0];
  if (positionals.length !== 1 || (action !== "up" && action !== "down")) throw new Error("review: say up or down, e.g. `npm run review -- up --pr 42`");
  if (values.pr === undefined) throw new Error("--pr: is missing. Give the pull-request number, e.g. --pr 42");
  if (action === "down" && values["ttl-hours"] !== undefined) throw new Error("--ttl-hours: only applies to review up");
  const ttlHours = values["ttl-hours"] === undefined ? undefined : Number(values["ttl-hours"]);
  return { action, pr: values.pr, ttlHours, dryRun: values["dry-run"]! };
}

if (require.main === module) {
  run(async () => {
    const args = parseReviewArgs(process.argv.slice(2));
    const ws = await workspace();
    if (args.action === "up") {
      await reviewUp(ws, { pr: args.pr, ttlHours: args.ttlHours, now: new Date(), env: process.env, dryRun: args.dryRun, policyPacks: policyPacks(), root: projectDir() }, io);
      return 0;
    }
    const result = await reviewDown(ws, { pr: args.pr, now: new Date(), dryRun: args.dryRun }, io);
    return result.decisions.some((d) => d.action === "refuse") || result.failed.length ? 1 : 0;
  });
}
