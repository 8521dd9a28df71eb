/**
 * A Render registry credential, so that Render can pull the kit's image from GHCR (a private
 * package starts private). `registryCredentialId` of a Service points at it.
 */
import * as pulumi from "@pulumi/pulumi";
import { hasStatus } from "../core/errors";
import { callContext, createOnce, isGone, renderCall, renderClient, renderOnce, requireToken, resolveOwnerId, RENDER_API_URL, RENDER_TOKEN_KEY, type Schemas } from "./client";

export interface RegistryCredentialInputs {
  /** Render's API root; the contract tests point it at the fake. Never replaces. */
  apiUrl?: string;
  /** Unique in the workspace; a re-run adopts the credential of this name. */
  name: string;
  registry: Schemas["registryCredentialRegistry"];
  username: string;
  /** A token that can pull (a GHCR token that can push can pull). Secret. */
  authToken: string;
  /** Render workspace id (tea-... / usr-...); the only workspace the key sees when unset. */
  ownerId?: string;
}

export interface RegistryCredentialOutputs extends RegistryCredentialInputs {
  /** The workspace it lives in (resolved when the input was unset). */
  ownerId: string;
  updatedAt?: string;
}

const REGISTRIES = ["GITHUB", "GITLAB", "DOCKER", "GOOGLE_ARTIFACT", "AWS_ECR"];
const OWNER_ID = /^(tea|usr)-[a-z0-9]+$/;

export class RegistryCredentialProvider implements pulumi.dynamic.ResourceProvider<RegistryCredentialInputs, RegistryCredentialOutputs> {
  /** From the stack config in configure(); never an input, never in the state. */
  private token: string | undefined;

  async configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
    this.token = req.config.get(RENDER_TOKEN_KEY);
  }

  async check(_olds: RegistryCredentialInputs, news: RegistryCredentialInputs): Promise<pulumi.dynamic.CheckResult<RegistryCredentialInputs>> {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (!news.name || news.name.length > 100) failures.push({ property: "name", reason: "must be 1-100 characters" });
    if (!REGISTRIES.includes(news.registry)) failures.push({ property: "registry", reason: `must be one of ${REGISTRIES.join(", ")}` });
    if (!news.username) failures.push({ property: "username", reason: "must be the registry user the token belongs to" });
    if (!news.authToken) failures.push({ property: "authToken", reason: "must be a registry token that can pull the image" });
    if (news.ownerId !== undefined && !OWNER_ID.test(news.ownerId)) failures.push({ property: "ownerId", reason: "must be a Render workspace id such as tea-abc123 or usr-abc123 (mlflow-kit:target.ownerId)" });
    return { inputs: news, failures };
  }

  async diff(_id: string, olds: RegistryCredentialOutputs, news: RegistryCredentialInputs): Promise<pulumi.dynamic.DiffResult> {
    // A credential belongs to one workspace; everything else is a PATCH.
    const replaces = news.ownerId !== undefined && news.ownerId !== olds.ownerId ? ["ownerId"] : [];
    const changed = (["name", "registry", "username", "authToken"] as const).some((k) => olds[k] !== news[k]) || replaces.length > 0;
    return { changes: changed, replaces, deleteBeforeReplace: false };
  }

  async create(inputs: RegistryCredentialInputs): Promise<pulumi.dynamic.CreateResult<RegistryCredentialOutputs>> {
    const token = requireToken(this.token);
    const client = renderClient(inputs.apiUrl ?? RENDER_API_URL, token);
    const ownerId = await resolveOwnerId(client, token, inputs.ownerId);
    const body = { name: inputs.name, registry: inputs.registry, username: inputs.username, authToken: inputs.authToken };
    const ctx = (what: string) => callContext(`${what} the Render registry credential ${inputs.name}`, token, [inputs.authToken]);

    // Left by an interrupted run: adopt it (and set the token, which cannot be read back).
    const existing = await findByName(client, token, inputs, ownerId);
    let credential: Schemas["registryCredential"];
    if (existing) {
      credential = (await renderCall(ctx("adopting"), () => client.PATCH("/registrycredentials/{registryCredentialId}", { params: { path: { registryCredentialId: existing.id } }, body }))).data;
    } else {
      try {
        // A retried POST first looks again: a lost answer's create would otherwise be made twice.
        const r = await createOnce(ctx("creating"), () => findOnce(client, inputs, ownerId),
          async () => (await renderOnce(() => client.POST("/registrycredentials", { body: { ...body, ownerId } }))).data);
        credential = "created" in r ? r.created
          : (await renderCall(ctx("adopting"), () => client.PATCH("/registrycredentials/{registryCredentialId}", { params: { path: { registryCredentialId: r.found.id } }, body }))).data;
      } catch (err) {
        // 409: a create whose answer was lost made it; adopt that one.
        const again = hasStatus(err, 409) ? await findByName(client, token, inputs, ownerId) : undefined;
        if (!again) throw err;
        credential = (await renderCall(ctx("adopting"), () => client.PATCH("/registrycredentials/{registryCredentialId}", { params: { path: { registryCredentialId: again.id } }, body }))).data;
      }
    }
    return { id: credential.id, outs: { ...inputs, ownerId, updatedAt: credential.updatedAt } };
  }

  async read(id: string, old?: RegistryCredentialOutputs): Promise<pulumi.dynamic.ReadResult<RegistryCredentialOutputs>> {
    const props = old ?? ({} as RegistryCredentialOutputs); // import: no state yet
    const token = requireToken(this.token);
    const client = renderClient(props.apiUrl ?? RENDER_API_URL, token);
    try {
      const { data } = await renderCall(callContext(`reading the Render registry credential ${id}`, token), () => client.GET("/registrycredentials/{registryCredentialId}", { params: { path: { registryCredentialId: id } } }));
      // The token is never returned: keep the one in the state.
      return { id, props: { ...props, name: data.name, registry: data.registry, username: data.username, updatedAt: data.updatedAt } };
    } catch (err) {
      if (isGone(err)) return {};
      throw err;
    }
  }

  async update(id: string, olds: RegistryCredentialOutputs, news: RegistryCredentialInputs): Promise<pulumi.dynamic.UpdateResult<RegistryCredentialOutputs>> {
    const token = requireToken(this.token);
    const client = renderClient(news.apiUrl ?? RENDER_API_URL, token);
    const { data } = await renderCall(callContext(`updating the Render registry credential ${news.name}`, token, [news.authToken, olds.authToken]), () =>
      client.PATCH("/registrycredentials/{registryCredentialId}", { params: { path: { registryCredentialId: id } }, body: { name: news.name, registry: news.registry, username: news.username, authToken: news.authToken } }));
    return { outs: { ...news, ownerId: olds.ownerId, updatedAt: data.updatedAt } };
  }

  async delete(id: string, props: RegistryCredentialOutputs): Promise<void> {
    const token = requireToken(this.token);
    const client = renderClient(props.apiUrl ?? RENDER_API_URL, token);
    try {
      await renderCall(callContext(`deleting the Render registry credential ${props.name}`, token), () => client.DELETE("/registrycredentials/{registryCredentialId}", { params: { path: { registryCredentialId: id } } }));
    } catch (err) {
      if (!isGone(err)) throw err; // already gone: done
    }
  }
}

async function findByName(client: ReturnType<typeof renderClient>, token: string, inputs: RegistryCredentialInputs, ownerId: string): Promise<Schemas["registryCredential"] | undefined> {
  const { data } = await renderCall(callContext(`looking for the Render registry credential ${inputs.name}`, token), () => listByName(client, inputs, ownerId));
  return (data ?? []).find((c) => c.name === inputs.name && c.registry === inputs.registry);
}

/** findByName without retries, for use inside a retried create. */
async function findOnce(client: ReturnType<typeof renderClient>, inputs: RegistryCredentialInputs, ownerId: string): Promise<Schemas["registryCredential"] | undefined> {
  const { data } = await renderOnce(() => listByName(client, inputs, ownerId));
  return (data ?? []).find((c) => c.name === inputs.name && c.registry === inputs.registry);
}

function listByName(client: ReturnType<typeof renderClient>, inputs: RegistryCredentialInputs, ownerId: string) {
  return client.GET("/registrycredentials", { params: { query: { name: [inputs.name], ownerId: [ownerId], limit: 100 } } });
}

export const registryCredentialProvider = new RegistryCredentialProvider();

export interface RegistryCredentialArgs {
  apiUrl?: pulumi.Input<string>;
  name: pulumi.Input<string>;
  registry: pulumi.Input<Schemas["registryCredentialRegistry"]>;
  username: pulumi.Input<string>;
  authToken: pulumi.Input<string>;
  ownerId?: pulumi.Input<string>;
}

/** `pulumi-nodejs:dynamic/render:RegistryCredential`; its id is Render's (rgc-...). */
export class RegistryCredential extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly ownerId: pulumi.Output<string>;
  declare readonly username: pulumi.Output<string>;
  declare readonly authToken: pulumi.Output<string>;

  constructor(name: string, args: RegistryCredentialArgs, opts?: pulumi.CustomResourceOptions) {
    super(registryCredentialProvider, name, { ownerId: undefined, updatedAt: undefined, ...args, authToken: pulumi.secret(args.authToken) },
      { ...opts, additionalSecretOutputs: ["authToken"] }, "render", "RegistryCredential");
  }
}
