/**
 * Which stacks a pull request affects: a plain function from the changed paths to the stacks
 * whose preview (or offline plan) can differ. Review stacks (pr-N) have no config file in the
 * repository and are never previewed here.
 */

export interface AffectedStacks {
  /** Stack names, sorted. */
  stacks: string[];
  /** Why each stack is affected: the changed paths that touch it (at most 5 each). */
  reasons: Record<string, string[]>;
}

/** Paths that change what every stack deploys or how it is checked. */
const PROGRAM_PATHS: RegExp[] = [
  /^index\.ts$/,
  /^infra\//,
  /^images\//,
  /^policies\//,
  /^Pulumi\.yaml$/,
  /^package(-lock)?\.json$/,
  /^tsconfig\.json$/,
  // The plan and policy verdict a pull request shows are computed by these, so a change to them
  // can change every stack's offline plan even with infra/ untouched.
  /^stacks\/(plan|plan-command|offline|offline-mocks|policy-check|stack-config)\.ts$/,
  /^tools\/ts-run\//,
];

const STACK_FILE = /^Pulumi\.([A-Za-z0-9_.-]+)\.yaml$/;

/**
 * `changed`: paths relative to the repository root (git diff --name-only base...head).
 * `stacks`: the stacks with a Pulumi.<stack>.yaml at the head of the pull request.
 */
export function affectedStacks(changed: string[], stacks: string[]): AffectedStacks {
  const known = new Set(stacks);
  const reasons: Record<string, string[]> = {};
  const add = (stack: string, path: string) => {
    const list = (reasons[stack] ??= []);
    if (list.length < 5 && !list.includes(path)) list.push(path);
  };
  for (const raw of changed) {
    const path = raw.trim().replace(/^\.\//, "");
    if (!path) continue;
    const stackFile = STACK_FILE.exec(path);
    if (stackFile && path !== "Pulumi.yaml") {
      // A deleted stack file names a stack that no longer has config: nothing to preview.
      if (known.has(stackFile[1])) add(stackFile[1], path);
      continue;
    }
    if (PROGRAM_PATHS.some((p) => p.test(path))) for (const s of stacks) add(s, path);
  }
  const names = Object.keys(reasons).sort();
  return { stacks: names, reasons: Object.fromEntries(names.map((n) => [n, reasons[n]])) };
}

/** The stacks with a config file, from a directory listing of the repository root. */
export function stacksFromFiles(files: string[]): string[] {
  return files.map((f) => STACK_FILE.exec(f)?.[1]).filter((s): s is string => s !== undefined).sort();
}
