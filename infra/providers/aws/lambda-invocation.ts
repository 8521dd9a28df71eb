/**
 * FunctionInvocation: invokes a Lambda function during `pulumi up` the way an operator would,
 * which aws.lambda.Invocation does not: it invokes once, with no wait.
 *
 * A VPC function left idle for weeks becomes Inactive (AWS, "Lambda function states"): the next
 * invocation fails and sets it Pending while Lambda re-creates its network interfaces. A
 * function being updated (LastUpdateStatus InProgress) still runs its previous code. So before
 * invoking, this waits until the function is Active with its last update done, waking an
 * Inactive function by invoking it, all within a bound; a function error fails the step with
 * the function's own (scrubbed) message.
 *
 * State stays consistent with what ran: the resource is updated in place (no replacement), and
 * a failed run leaves the previous inputs in state, so the next `pulumi up` sees the same
 * difference and runs the function again. The invoked function must be idempotent.
 *
 * Type token `pulumi-nodejs:dynamic/aws:FunctionInvocation` (the kit's dynamic-provider
 * convention). AWS calls go through the official SDK v3 client (@aws-sdk/client-lambda) with
 * its default credential chain (and the stack's aws:profile) and the stack's region, in the
 * engine's dynamic-provider host.
 */
import * as pulumi from "@pulumi/pulumi";
import type { LambdaClient } from "@aws-sdk/client-lambda";

export interface FunctionInvocationArgs {
  region: pulumi.Input<string>;
  functionName: pulumi.Input<string>;
  /** The event, JSON text; may be (and for the bootstrap is) a secret. */
  input: pulumi.Input<string>;
  /** Any change runs the function again (e.g. the hash of its code). */
  triggers?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** How long to wait for the function; DEFAULT_WAIT when unset. */
  wait?: pulumi.Input<WaitPolicy>;
}

/** How long and how often to wait; tests shorten these. */
export interface WaitPolicy {
  /** Total time to wait for the function to become Active. VPC functions take minutes. */
  maxWaitMs: number;
  pollMs: number;
  /** Invocations that may fail because the function is not ready (each one wakes it). */
  maxNotReadyInvokes: number;
}

export const DEFAULT_WAIT: WaitPolicy = { maxWaitMs: 15 * 60_000, pollMs: 5_000, maxNotReadyInvokes: 5 };

/**
 * Waits until `functionName` is Active and not mid-update, invoking it to wake it if it is
 * Inactive, then invokes it synchronously and returns its response payload (text). Throws
 * on a function error, a Failed function, or when the bound is reached.
 */
export async function invokeWhenActive(client: LambdaClient, functionName: string, input: string, policy: WaitPolicy = DEFAULT_WAIT): Promise<string> {
  // Loaded here, not at the top: this function runs inside the serialized provider too.
  const lambda = require("@aws-sdk/client-lambda") as typeof import("@aws-sdk/client-lambda");
  const started = Date.now();
  let notReadyInvokes = 0;
  let last = "unknown";
  const invoke = async (): Promise<string | undefined> => {
    try {
      const out = await client.send(new lambda.InvokeCommand({
        FunctionName: functionName,
        InvocationType: "RequestResponse",
        Payload: new TextEncoder().encode(input),
      }));
      const payload = out.Payload ? new TextDecoder().decode(out.Payload) : "";
      if (out.FunctionError) {
        let message = payload;
        try {
          const parsed = JSON.parse(payload) as { errorType?: string; errorMessage?: string };
          message = `${parsed.errorType ?? "Error"}: ${parsed.errorMessage ?? ""}`;
        } catch {
          // Not JSON: keep the text as it came.
        }
        throw new Error(`Lambda function ${functionName} failed (${out.FunctionError}): ${message}`);
      }
      return payload;
    } catch (err) {
      const name = (err as { name?: string }).name;
      // Not ready (Inactive, Pending) or mid-update: this call has woken it; wait and try again.
      if ((name === "ResourceNotReadyException" || name === "ResourceConflictException") && notReadyInvokes < policy.maxNotReadyInvokes) {
        notReadyInvokes++;
        return undefined;
      }
      throw err;
    }
  };
  for (;;) {
    const config = await client.send(new lambda.GetFunctionConfigurationCommand({ FunctionName: functionName }));
    last = `${config.State ?? "?"}/${config.LastUpdateStatus ?? "?"}`;
    if (config.State === "Failed") {
      throw new Error(`Lambda function ${functionName} is Failed (${config.StateReasonCode ?? ""}: ${config.StateReason ?? ""}); it must be fixed or re-created before it can run`);
    }
    const ready = config.State === "Active" && config.LastUpdateStatus !== "InProgress";
    // An Inactive function only wakes when invoked: the invocation fails and it turns Pending.
    if (ready || config.State === "Inactive") {
      const result = await invoke();
      if (result !== undefined) return result;
    }
    if (Date.now() - started >= policy.maxWaitMs) {
      throw new Error(`Lambda function ${functionName} was not ready to run after ${Math.round(policy.maxWaitMs / 1000)} s (state ${last}); run \`pulumi up\` again, the run is retried`);
    }
    await new Promise((resolve) => setTimeout(resolve, policy.pollMs));
  }
}

interface Props {
  region: string;
  functionName: string;
  input: string;
  triggers?: Record<string, string>;
  wait?: WaitPolicy;
}

interface Outs {
  region: string;
  functionName: string;
  /** sha256 of the input: enough to see a change, and it holds no secret. */
  inputHash: string;
  triggers: Record<string, string>;
  result: string;
}

/**
 * The provider the engine runs; self-contained (it is serialized into the state). Credentials:
 * the AWS SDK's default chain, with the stack's `aws:profile` when it sets one (the engine hands
 * a dynamic provider the stack config), so it signs as the AWS provider does.
 */
class FunctionInvocationProvider implements pulumi.dynamic.ResourceProvider<Props, Outs> {
  private profile: string | undefined;

  async configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
    this.profile = req.config.get("aws:profile") || undefined;
  }

  async diff(_id: string, olds: Outs, news: Props): Promise<pulumi.dynamic.DiffResult> {
    const { createHash } = require("node:crypto") as typeof import("node:crypto");
    const changed: string[] = [];
    if (olds.region !== news.region) changed.push("region");
    if (olds.functionName !== news.functionName) changed.push("functionName");
    if (olds.inputHash !== createHash("sha256").update(news.input).digest("hex")) changed.push("input");
    if (JSON.stringify(olds.triggers ?? {}) !== JSON.stringify(news.triggers ?? {})) changed.push("triggers");
    // Updated in place: a failed run keeps the old state, and no replacement ever deletes anything.
    return { changes: changed.length > 0, replaces: [], deleteBeforeReplace: false, stables: [] };
  }

  async create(inputs: Props): Promise<pulumi.dynamic.CreateResult<Outs>> {
    const { randomUUID } = require("node:crypto") as typeof import("node:crypto");
    return { id: randomUUID(), outs: await this.run(inputs) };
  }

  async update(_id: string, _olds: Outs, news: Props): Promise<pulumi.dynamic.UpdateResult<Outs>> {
    return { outs: await this.run(news) };
  }

  // Deleting the record runs nothing: the function's work (a role, databases) is kept.
  async delete(): Promise<void> {}

  private async run(p: Props): Promise<Outs> {
    const { createHash } = require("node:crypto") as typeof import("node:crypto");
    const lambda = require("@aws-sdk/client-lambda") as typeof import("@aws-sdk/client-lambda");
    const client = new lambda.LambdaClient({ region: p.region, ...(this.profile ? { profile: this.profile } : {}) });
    try {
      const result = await invokeWhenActive(client, p.functionName, p.input, p.wait ?? DEFAULT_WAIT);
      return {
        region: p.region,
        functionName: p.functionName,
        inputHash: createHash("sha256").update(p.input).digest("hex"),
        triggers: p.triggers ?? {},
        result,
      };
    } finally {
      client.destroy();
    }
  }
}

export const functionInvocationProvider = new FunctionInvocationProvider();

export class FunctionInvocation extends pulumi.dynamic.Resource {
  /** The function's response payload (JSON text). */
  declare readonly result: pulumi.Output<string>;
  declare readonly functionName: pulumi.Output<string>;

  constructor(name: string, args: FunctionInvocationArgs, opts?: pulumi.CustomResourceOptions) {
    super(functionInvocationProvider, name, { ...args, result: undefined, inputHash: undefined }, {
      ...opts,
      additionalSecretOutputs: ["inputHash"],
    }, "aws", "FunctionInvocation");
  }
}
