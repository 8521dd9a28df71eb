/**
 * A recording double of the Automation API workspace: in-memory stacks (config, outputs,
 * state), every call recorded in order, and failures on demand. It applies
 * `setAllConfig(path=true)` the way `pulumi config set-all --path` does: integers become
 * numbers, other values strings, inside the top-level mapping.
 */
import type { ConfigMap, Deployment, OutputMap, StackSummary } from "@pulumi/pulumi/automation";
import type { LifecycleWorkspace } from "../../stacks/lifecycle/workspace";

export interface FakeStack {
  config: ConfigMap;
  outputs: OutputMap;
  resources: Array<{ urn: string; type: string; protect?: boolean; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> }>;
  updateInProgress?: boolean;
}

export type Call = [method: string, ...args: unknown[]];

export class RecordingWorkspace implements LifecycleWorkspace {
  readonly calls: Call[] = [];
  readonly stacks = new Map<string, FakeStack>();
  /** method name -> stack name -> error to throw. */
  readonly failures = new Map<string, Map<string, Error>>();

  constructor(stacks: Record<string, Partial<FakeStack>> = {}) {
    for (const [name, s] of Object.entries(stacks)) this.stacks.set(name, { config: {}, outputs: {}, resources: [], ...s });
  }

  failOn(method: keyof LifecycleWorkspace, stack: string, error = new Error(`${method} failed for ${stack}`)): this {
    if (!this.failures.has(method)) this.failures.set(method, new Map());
    this.failures.get(method)!.set(stack, error);
    return this;
  }

  /** The recorded method names, for the order of operations. */
  methods(): string[] {
    return this.calls.map(([m, stack]) => (typeof stack === "string" ? `${m} ${stack}` : m));
  }

  private record(method: string, args: unknown[]): void {
    this.calls.push([method, ...args]);
    const stack = args[0];
    const err = typeof stack === "string" ? this.failures.get(method)?.get(stack) : undefined;
    if (err) throw err;
  }

  private get(stack: string): FakeStack {
    const s = this.stacks.get(stack);
    if (!s) throw new Error(`no stack named '${stack}' found`);
    return s;
  }

  async listStacks(): Promise<StackSummary[]> {
    this.record("listStacks", []);
    return [...this.stacks.entries()].map(([name, s]) => ({ name, current: false, updateInProgress: s.updateInProgress ?? false, resourceCount: s.resources.length }));
  }

  async createOrSelectStack(stack: string): Promise<void> {
    this.record("createOrSelectStack", [stack]);
    if (!this.stacks.has(stack)) this.stacks.set(stack, { config: {}, outputs: {}, resources: [] });
  }

  async getAllConfig(stack: string): Promise<ConfigMap> {
    this.record("getAllConfig", [stack]);
    return structuredClone(this.get(stack).config);
  }

  async setAllConfig(stack: string, config: ConfigMap, path?: boolean): Promise<void> {
    this.record("setAllConfig", [stack, structuredClone(config), path ?? false]);
    const s = this.get(stack);
    for (const [key, v] of Object.entries(config)) {
      if (!path) {
        s.config[key] = { ...v };
        continue;
      }
      const [top, ...rest] = key.split(".");
      if (rest.length === 0) {
        s.config[top] = { ...v };
        continue;
      }
      const obj = s.config[top] ? JSON.parse(s.config[top].value) : {};
      let node = obj;
      for (const k of rest.slice(0, -1)) node = node[k] ??= {};
      node[rest.at(-1)!] = /^-?\d+$/.test(v.value) ? Number(v.value) : v.value;
      s.config[top] = { value: JSON.stringify(obj), secret: v.secret ?? false };
    }
  }

  async removeAllConfig(stack: string, keys: string[]): Promise<void> {
    this.record("removeAllConfig", [stack, [...keys]]);
    for (const k of keys) delete this.get(stack).config[k];
  }

  async stackOutputs(stack: string): Promise<OutputMap> {
    this.record("stackOutputs", [stack]);
    return structuredClone(this.get(stack).outputs);
  }

  async exportStack(stack: string): Promise<Deployment> {
    this.record("exportStack", [stack]);
    return { version: 3, deployment: { resources: structuredClone(this.get(stack).resources) } };
  }

  async up(stack: string, opts: { policyPacks?: string[]; onOutput: (text: string) => void }): Promise<void> {
    this.record("up", [stack, { policyPacks: opts.policyPacks }]);
    this.get(stack);
    opts.onOutput(`Updating (${stack})\n`);
  }

  async destroy(stack: string, opts: { onOutput: (text: string) => void }): Promise<void> {
    this.record("destroy", [stack]);
    this.get(stack).resources = [];
    opts.onOutput(`Destroying (${stack})\n`);
  }

  async removeStack(stack: string): Promise<void> {
    this.record("removeStack", [stack]);
    this.get(stack);
    this.stacks.delete(stack);
  }
}
