import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..");

/** The TypeScript hook every plan process starts with (tools/ts-run/register.cjs says why not tsx). */
export const TS_RUN_REGISTER = path.join(ROOT, "tools", "ts-run", "register.cjs");

/**
 * Node's arguments for the offline plan of one stack: what `npm run plan` runs, what the pull
 * request's report spawns (stacks/pr-report.ts) and what bench/plan.ts times. One definition,
 * so the bench measures the command a pull request pays for.
 */
export function offlinePlanArgs(stack: string, extra: string[] = []): string[] {
  return ["--require", TS_RUN_REGISTER, path.join(ROOT, "stacks", "plan.ts"), "--stack", stack, ...extra];
}
