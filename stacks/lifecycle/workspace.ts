/**
 * The part of Pulumi's Automation API the lifecycle tools use, as one narrow interface: the
 * production implementation delegates each call to LocalWorkspace / Stack (which run the
 * Pulumi CLI), and the tests drive the same operations against a recording double.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { LocalWorkspace, Stack, type ConfigMap, type Deployment, type OutputMap, type StackSummary } from "@pulumi/pulumi/automation";
import { parse } from "yaml";

export interface LifecycleWorkspace {
  listStacks(): Promise<StackSummary[]>;
  /** `pulumi stack select --create`. */
  createOrSelectStack(stack: string): Promise<void>;
  /** `pulumi config --json --show-secrets`: structured values as JSON text, secrets flagged. */
  getAllConfig(stack: string): Promise<ConfigMap>;
  /** `pulumi config set-all [--path]`; with path, integers are stored as numbers. */
  setAllConfig(stack: string, config: ConfigMap, path?: boolean): Promise<void>;
  removeAllConfig(stack: string, keys: string[]): Promise<void>;
  stackOutputs(stack: string): Promise<OutputMap>;
  /** `pulumi stack export`: the state, with each resource's `protect` flag and tags. */
  exportStack(stack: string): Promise<Deployment>;
  up(stack: string, opts: { policyPacks?: string[]; onOutput: (text: string) => void }): Promise<void>;
  destroy(stack: string, opts: { onOutput: (text: string) => void }): Promise<void>;
  /** `pulumi stack rm`: the stack's history and its Pulumi.<stack>.yaml go too. */
  removeStack(stack: string): Promise<void>;
}

/** The real thing: Pulumi's LocalWorkspace on the project directory (needs the Pulumi CLI). */
export async function automationWorkspace(workDir: string): Promise<LifecycleWorkspace> {
  // A self-managed backend's stacks are created with its KMS secrets provider (README: CI credentials).
  const secretsProvider = process.env.MLFLOW_KIT_SECRETS_PROVIDER || undefined;
  const ws = await LocalWorkspace.create({ workDir, ...(secretsProvider ? { secretsProvider } : {}) });
  return {
    listStacks: () => ws.listStacks(),
    createOrSelectStack: async (stack) => {
      await Stack.createOrSelect(stack, ws);
    },
    getAllConfig: (stack) => ws.getAllConfig(stack),
    setAllConfig: (stack, config, path) => ws.setAllConfig(stack, config, path),
    removeAllConfig: (stack, keys) => ws.removeAllConfig(stack, keys),
    stackOutputs: (stack) => ws.stackOutputs(stack),
    exportStack: (stack) => ws.exportStack(stack),
    up: async (stack, opts) => {
      await (await Stack.select(stack, ws)).up({ onOutput: opts.onOutput, policyPacks: opts.policyPacks });
    },
    destroy: async (stack, opts) => {
      await (await Stack.select(stack, ws)).destroy({ onOutput: opts.onOutput });
    },
    removeStack: (stack) => ws.removeStack(stack),
  };
}

/**
 * A workspace that only reads the stacks' config files (Pulumi.<stack>.yaml in `workDir`): for a
 * dry run that decides from config alone (`rotate --dry-run`), which then needs neither the CLI
 * nor a backend. Secure values stay unread (their ciphertext is not the value): they are listed
 * as secrets with an empty value, which is all a decision may know of them. Anything else needs
 * the CLI and says so.
 */
export function configFileWorkspace(workDir: string): LifecycleWorkspace {
  const file = (stack: string) => path.join(workDir, `Pulumi.${stack}.yaml`);
  const needsCli = (what: string) => async (): Promise<never> => {
    throw new Error(`${what} needs the Pulumi CLI and the stack's backend; this dry run reads only Pulumi.<stack>.yaml`);
  };
  return {
    listStacks: async () =>
      fs.readdirSync(workDir)
        .map((f) => /^Pulumi\.([^.]+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .map((name) => ({ name, current: false, updateInProgress: false })),
    getAllConfig: async (stack) => {
      if (!fs.existsSync(file(stack))) throw new Error(`there is no Pulumi.${stack}.yaml in ${workDir}`);
      const doc = (parse(fs.readFileSync(file(stack), "utf8")) ?? {}) as { config?: Record<string, unknown> };
      const config: ConfigMap = {};
      for (const [key, v] of Object.entries(doc.config ?? {})) {
        if (v && typeof v === "object" && "secure" in v) config[key] = { value: "", secret: true };
        // As `pulumi config --json` gives it: a mapping's JSON text, and the mapping itself.
        else if (v && typeof v === "object") config[key] = { value: JSON.stringify(v), secret: false, objectValue: v } as ConfigMap[string];
        else config[key] = { value: String(v), secret: false };
      }
      return config;
    },
    createOrSelectStack: needsCli("selecting a stack"),
    setAllConfig: needsCli("changing config"),
    removeAllConfig: needsCli("changing config"),
    stackOutputs: needsCli("reading stack outputs"),
    exportStack: needsCli("reading the state"),
    up: needsCli("pulumi up"),
    destroy: needsCli("pulumi destroy"),
    removeStack: needsCli("removing a stack"),
  };
}
