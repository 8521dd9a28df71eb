/**
 * The part of Pulumi's Automation API the lifecycle tools use, as one narrow interface: the
 * production implementation delegates each call to LocalWorkspace / Stack (which run the
 * Pulumi CLI), and the tests drive the same operations against a recording double.
 */
import { LocalWorkspace, Stack, type ConfigMap, type Deployment, type OutputMap, type StackSummary } from "@pulumi/pulumi/automation";

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
