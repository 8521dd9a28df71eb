/**
 * `npm run affected -- --base <git ref> [--head <git ref>]`: prints, as JSON, the stacks a
 * pull request affects ({"stacks": [...], "reasons": {...}}), for the workflows' matrix.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { parseArgs } from "node:util";
import { affectedStacks, stacksFromFiles } from "./lifecycle/affected";
import { REPO_ROOT } from "./stack-config";

function main(): void {
  const { values } = parseArgs({ options: { base: { type: "string" }, head: { type: "string", default: "HEAD" } }, allowPositionals: false });
  if (!values.base) throw new Error("--base: is missing. Give the commit the pull request is compared with, e.g. --base origin/main");
  for (const ref of [values.base, values.head!]) {
    if (!/^[A-Za-z0-9._/~^-]+$/.test(ref) || ref.startsWith("-")) throw new Error(`--base/--head: "${ref}" is not a git ref or commit`);
  }
  // base...head: what the pull request changed since it left base, not what base gained since.
  const changed = execFileSync("git", ["diff", "--name-only", "--no-renames", `${values.base}...${values.head}`], { cwd: REPO_ROOT, encoding: "utf8" }).split("\n");
  const result = affectedStacks(changed, stacksFromFiles(fs.readdirSync(REPO_ROOT)));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (require.main === module) {
  try {
    main();
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
