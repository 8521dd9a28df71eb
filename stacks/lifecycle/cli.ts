/** What the three lifecycle commands share: the workspace, the policy pack, error output. */
import * as fs from "node:fs";
import * as path from "node:path";
import { REPO_ROOT } from "../stack-config";
import { automationWorkspace, configFileWorkspace, type LifecycleWorkspace } from "./workspace";

/**
 * The Pulumi project the commands act on: the checkout, or MLFLOW_KIT_PROJECT_DIR (another
 * project folder, such as the stand-in programs test/engine runs the commands on).
 */
export function projectDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.MLFLOW_KIT_PROJECT_DIR ? path.resolve(env.MLFLOW_KIT_PROJECT_DIR) : REPO_ROOT;
}

/** The project's policy pack (issue 9) runs with every update once the project has it. */
export function policyPacks(root = projectDir()): string[] {
  return fs.existsSync(path.join(root, "policies")) ? [path.join(root, "policies")] : [];
}

export async function workspace(): Promise<LifecycleWorkspace> {
  try {
    return await automationWorkspace(projectDir());
  } catch (err) {
    if (/ENOENT/.test(String((err as Error)?.message ?? err))) {
      throw new Error("pulumi: the Pulumi CLI is not on PATH; these commands drive it through the Automation API. Install it and log in to the stacks' backend (`pulumi login`); for an offline view of a stack use `npm run plan -- --stack <name>`");
    }
    throw err;
  }
}

/** For a dry run that decides from the stack's config alone: no CLI, no backend. */
export function configOnlyWorkspace(): LifecycleWorkspace {
  return configFileWorkspace(projectDir());
}

export const io = { log: (line: string) => process.stdout.write(`${line}\n`) };

/** Runs a command's main: a known refusal prints its message alone and exits 1. */
export function run(main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
