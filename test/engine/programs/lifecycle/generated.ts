/**
 * A dynamic resource that stands in for the kit's generated credentials and cloud objects in
 * the lifecycle stand-in program: a random value made at create, kept until its `keeper`
 * changes (a replace, as random.RandomPassword's keepers do), with the kit's tags. No vendor
 * behind it: the stand-in exists to run the lifecycle commands under the real engine.
 */
import * as pulumi from "@pulumi/pulumi";

interface GeneratedInputs {
  /** What it stands for (admin-password, s3-key-blue, bucket, ...). */
  kind: string;
  /** Bumped to get a new value. */
  keeper: number;
  tags: Record<string, string>;
}

interface GeneratedOutputs extends GeneratedInputs {
  /** Secret (additionalSecretOutputs). */
  value: string;
}

class GeneratedProvider implements pulumi.dynamic.ResourceProvider {
  async create(inputs: GeneratedInputs): Promise<pulumi.dynamic.CreateResult<GeneratedOutputs>> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { randomBytes } = require("node:crypto") as typeof import("node:crypto");
    const value = randomBytes(18).toString("base64url");
    return { id: `${inputs.kind}-${randomBytes(4).toString("hex")}`, outs: { ...inputs, value } };
  }

  async diff(_id: string, olds: GeneratedOutputs, news: GeneratedInputs): Promise<pulumi.dynamic.DiffResult> {
    const replaces = (["kind", "keeper"] as const).filter((k) => olds[k] !== news[k]);
    const tags = JSON.stringify(olds.tags) !== JSON.stringify(news.tags);
    return { changes: replaces.length > 0 || tags, replaces };
  }

  async update(_id: string, olds: GeneratedOutputs, news: GeneratedInputs): Promise<pulumi.dynamic.UpdateResult<GeneratedOutputs>> {
    return { outs: { ...news, value: olds.value } };
  }
}

const provider = new GeneratedProvider();

export class Generated extends pulumi.dynamic.Resource {
  declare readonly value: pulumi.Output<string>;

  constructor(name: string, args: { kind: string; keeper: number; tags: pulumi.Input<Record<string, pulumi.Input<string>>> }, opts?: pulumi.CustomResourceOptions) {
    super(provider, name, { value: undefined, ...args }, { ...opts, additionalSecretOutputs: ["value"] }, "mlflowkit", "Generated");
  }
}
