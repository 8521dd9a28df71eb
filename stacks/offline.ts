import * as pulumi from "@pulumi/pulumi";
import { OfflineMocks } from "./offline-mocks";

/** One resource of an evaluated program, as the plan prints it and the tests assert it. */
export interface PlannedResource {
  urn: string;
  type: string;
  name: string;
  parent: string | undefined;
  /** Inputs with every secret replaced by "[secret]" (unless evaluated with revealSecrets). */
  inputs: Record<string, unknown>;
  options: { protect?: boolean; retainOnDelete?: boolean; deleteBeforeReplace?: boolean; ignoreChanges?: string[]; replacementTrigger?: unknown; additionalSecretOutputs?: string[] };
  /**
   * URNs of the resources this one depends on, as the engine receives them (dependsOn and
   * every resource behind an input): the engine deletes this one before any of them.
   */
  dependencies: string[];
  /** The pulumi.Resource itself, for tests that read its outputs. */
  resource: pulumi.Resource;
  /**
   * The inputs as the engine hands them to a policy pack: serialized by the SDK, secrets as the
   * engine's secret objects WITH their values (never print this), plus the URNs each input
   * depends on. Only stacks/policy-check.ts and the policy tests read it.
   */
  analyzer: { properties: Record<string, unknown>; propertyDependencies: Record<string, string[]>; dependencies: string[] };
}

export interface EvaluatedStack {
  stack: string;
  resources: PlannedResource[];
  outputs: Record<string, unknown>;
  /** The stack outputs as the program exported them (Outputs, for secrecy checks). */
  rawOutputs: Record<string, unknown>;
}

export interface EvaluateOptions {
  project: string;
  stack: string;
  /** Full config keys ("mlflow-kit:lifecycle", "aws:region") to strings, as the engine passes them. */
  config: Record<string, string>;
  secretKeys: string[];
  /** The program: reads settings from config and returns the stack outputs. */
  program: () => Record<string, unknown>;
  /** Keep secret values in `inputs` and `outputs` (tests only). */
  revealSecrets?: boolean;
}

export const SECRET = "[secret]";

/**
 * Runs the Pulumi program for one stack under OfflineMocks: no CLI, no credentials, no network.
 * Every resource the program registers is recorded with its inputs, parent and options.
 */
export async function evaluateStack(o: EvaluateOptions): Promise<EvaluatedStack> {
  const restore = skipProviderSerialization();
  try {
    return await evaluate(o);
  } finally {
    restore();
  }
}

/**
 * What a dynamic resource's __provider input holds offline. Pulumi serializes each dynamic
 * provider (closure serialization: the V8 inspector over every loaded script, then the TypeScript
 * parser over the provider's code; ~0.4 s of a prod plan) only for the engine to run it: neither
 * the plan (which never prints it) nor the policy pack reads it. test/providers serializes every
 * provider as its dynamic resource does and runs it in Pulumi's provider host, so a provider that
 * cannot be serialized still fails a test, and `pulumi preview` serializes it for real.
 */
export const OFFLINE_PROVIDER = "[dynamic provider code: serialized by pulumi preview and up, not by the offline plan]";

type SerializeFunction = (...args: unknown[]) => Promise<{ text: string; exportName: string; containsSecrets: boolean }>;

/** Replaces Pulumi's serializeFunction (which pulumi.dynamic.Resource requires at each construction) until restored. */
function skipProviderSerialization(): () => void {
  const closure = require("@pulumi/pulumi/runtime/closure/serializeClosure") as { serializeFunction: SerializeFunction };
  const real = closure.serializeFunction;
  closure.serializeFunction = async () => ({ text: OFFLINE_PROVIDER, exportName: "handler", containsSecrets: false });
  return () => {
    closure.serializeFunction = real;
  };
}

async function evaluate(o: EvaluateOptions): Promise<EvaluatedStack> {
  const region = o.config["aws:region"] ?? "us-east-1";
  await pulumi.runtime.setMocks(new OfflineMocks(region), o.project, o.stack, false);
  pulumi.runtime.setAllConfig(o.config, o.secretKeys);
  const dependencies = recordDependencies();

  const recorded: Array<{ resource: pulumi.Resource; type: string; name: string; props: pulumi.Inputs; opts: pulumi.ResourceOptions }> = [];
  let rawOutputs: Record<string, unknown> = {};
  let programError: unknown;
  await pulumi.runtime.runInPulumiStack(async () => {
    pulumi.runtime.registerStackTransformation((args) => {
      recorded.push({ resource: args.resource, type: args.type, name: args.name, props: args.props, opts: args.opts });
      return undefined;
    });
    try {
      rawOutputs = o.program();
    } catch (err) {
      programError = err;
    }
    return rawOutputs;
  });
  if (programError) throw programError;

  const reveal = o.revealSecrets ?? false;
  const outputs = (await settleDeep(rawOutputs, reveal)) as Record<string, unknown>;
  // Children registered inside apply callbacks exist only once the outputs above settled.
  // A resource without an explicit parent is the stack's child, as in `pulumi preview`.
  const stackResource = (pulumi.runtime as unknown as { getStackResource(): pulumi.Resource | undefined }).getStackResource();
  const stackUrn = stackResource ? ((await settle(stackResource.urn, true)) as string) : undefined;
  const resources: PlannedResource[] = [];
  for (const r of recorded) {
    resources.push({
      urn: (await settle(r.resource.urn, true)) as string,
      type: r.type,
      name: r.name,
      parent: r.opts.parent ? ((await settle(r.opts.parent.urn, true)) as string) : stackUrn,
      inputs: (await settleDeep(r.props, reveal)) as Record<string, unknown>,
      options: {
        protect: r.opts.protect,
        retainOnDelete: r.opts.retainOnDelete,
        deleteBeforeReplace: (r.opts as pulumi.CustomResourceOptions).deleteBeforeReplace,
        ignoreChanges: r.opts.ignoreChanges,
        replacementTrigger: r.opts.replacementTrigger === undefined ? undefined : await settleDeep(r.opts.replacementTrigger, reveal),
        additionalSecretOutputs: (r.opts as pulumi.CustomResourceOptions).additionalSecretOutputs,
      },
      resource: r.resource,
      dependencies: [],
      analyzer: await analyzerInputs(r.props),
    });
  }
  for (const r of resources) r.dependencies = dependencies.get(r.urn) ?? [];
  return { stack: o.stack, resources, outputs, rawOutputs };
}

/** Pulumi's resource-reference signature: the engine hands analyzers the referenced id instead. */
const RESOURCE_REF_SIG = "5cf8f73096256a8f31e491e813e4eb8e";

/** The inputs serialized the way the SDK sends them to the engine, with each input's dependencies. */
async function analyzerInputs(props: pulumi.Inputs): Promise<PlannedResource["analyzer"]> {
  const rpc = require("@pulumi/pulumi/runtime/rpc") as {
    serializeResourceProperties(label: string, props: pulumi.Inputs, opts: object): Promise<[Record<string, unknown>, Map<string, Set<pulumi.Resource>>]>;
  };
  const [properties, deps] = await rpc.serializeResourceProperties("policy", props, {});
  const propertyDependencies: Record<string, string[]> = {};
  const all = new Set<string>();
  for (const [key, resources] of deps) {
    const urns = await Promise.all([...resources].map((d) => settle(d.urn, true) as Promise<string>));
    if (urns.length) propertyDependencies[key] = urns;
    urns.forEach((u) => all.add(u));
  }
  const dropRefs = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(dropRefs);
    if (v && typeof v === "object") {
      const o = v as Record<string, unknown>;
      if (o[SPECIAL_SIG] === RESOURCE_REF_SIG) return o.id ?? o.urn;
      return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, dropRefs(x)]));
    }
    return v;
  };
  return { properties: dropRefs(properties) as Record<string, unknown>, propertyDependencies, dependencies: [...all] };
}
const SPECIAL_SIG = "4dabf18193072939515e22adb298388d";

/**
 * The dependency lists the SDK sends with each registration, by URN, read off the mock
 * monitor that setMocks installed (the engine builds its delete order from these lists).
 */
function recordDependencies(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  type Callback = (err: unknown, resp?: { getUrn(): string }) => void;
  const monitor = (require("@pulumi/pulumi/runtime/settings") as { getMonitor(): any }).getMonitor();
  const register = monitor.registerResource.bind(monitor) as (req: { getDependenciesList(): string[] }, cb: Callback) => Promise<void>;
  monitor.registerResource = (req: { getDependenciesList(): string[] }, cb: Callback) =>
    register(req, (err, resp) => {
      if (!err && resp) found.set(resp.getUrn(), [...req.getDependenciesList()]);
      cb(err, resp);
    });
  return found;
}

/** The value of an Output or Promise, "[secret]" if it is a secret and not revealed. */
async function settle(value: unknown, reveal: boolean): Promise<unknown> {
  if (pulumi.Output.isInstance(value)) {
    const secret = await pulumi.isSecret(value);
    const plain = await new Promise<unknown>((resolve) => pulumi.unsecret(value).apply((v) => { resolve(v); return v; }));
    return secret && !reveal ? SECRET : plain;
  }
  return value instanceof Promise ? await value : value;
}

/** settle() through arrays and objects, so a secret nested in an input hides only itself. */
export async function settleDeep(value: unknown, reveal: boolean): Promise<unknown> {
  const v = await settle(value, reveal);
  if (v === SECRET && !reveal) return v;
  if (Array.isArray(v)) return Promise.all(v.map((x) => settleDeep(x, reveal)));
  if (v && typeof v === "object" && !(v instanceof pulumi.Resource) && !pulumi.asset.Asset.isInstance(v) && !pulumi.asset.Archive.isInstance(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const settled = await settleDeep(x, reveal);
      if (settled !== undefined) out[k] = settled;
    }
    return out;
  }
  if (v instanceof pulumi.Resource) return `[resource ${(await settle(v.urn, true)) as string}]`;
  if (v && pulumi.asset.Asset.isInstance(v)) return "[asset]";
  if (v && pulumi.asset.Archive.isInstance(v)) return "[archive]";
  return v;
}
