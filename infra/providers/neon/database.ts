/**
 * A database on a Neon branch owned by one role (`pulumi-nodejs:dynamic/neon:Database`), with
 * its pooled connection URI (sslmode=require) as a secret output. `roleRotation` follows the
 * owner's password rotation, so a rotated password gives a new URI (an update).
 */
import * as pulumi from "@pulumi/pulumi";
import { NEON_TOKEN_KEY, changed, isStatus, neon, neonClient, retried, waitForOperations, type ConfigureRequest, type NeonCommonInputs } from "./client";

export interface DatabaseInputs extends NeonCommonInputs {
  projectId: string;
  branchId: string;
  /** The compute the URI points at (the branch's read_write endpoint). */
  endpointId: string;
  name: string;
  ownerName: string;
  /** The owner's passwordRotation as the Role resource reports it: a change refetches the URI. */
  roleRotation: number;
}

export interface DatabaseOutputs extends DatabaseInputs {
  /** postgresql://owner:password@ep-...-pooler.../name?sslmode=require; secret (additionalSecretOutputs). */
  connectionUri: string;
}

export class NeonDatabaseProvider implements pulumi.dynamic.ResourceProvider {
  private apiKey: string | undefined;

  async configure(req: ConfigureRequest): Promise<void> {
    this.apiKey = req.config.get(NEON_TOKEN_KEY);
  }

  async check(_olds: DatabaseInputs, news: DatabaseInputs): Promise<pulumi.dynamic.CheckResult<DatabaseInputs>> {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(news.name ?? "")) failures.push({ property: "name", reason: "must be a lower-case Postgres identifier (letters, digits, _; at most 63)" });
    if (!(typeof news.ownerName === "string" && news.ownerName.length > 0)) failures.push({ property: "ownerName", reason: "names the role that owns the database" });
    return { inputs: news, failures };
  }

  async diff(_id: string, olds: DatabaseOutputs, news: DatabaseInputs): Promise<pulumi.dynamic.DiffResult> {
    const replaces = changed(olds, news, ["projectId", "branchId", "name"]);
    const updates = changed(olds, news, ["ownerName", "endpointId", "roleRotation"]);
    return { changes: replaces.length + updates.length > 0, replaces };
  }

  async create(inputs: DatabaseInputs): Promise<pulumi.dynamic.CreateResult<DatabaseOutputs>> {
    const api = neonClient(this.apiKey, inputs.apiUrl);
    const what = `creating the Neon database ${inputs.name} on branch ${inputs.branchId}`;
    const created = await retried(this.apiKey, what, async () => {
      const found = await findDatabase(api, inputs);
      if (found) return { owner: found.owner_name, operations: [] };
      try {
        const r = await neon(() => api.createProjectBranchDatabase(inputs.projectId, inputs.branchId, { database: { name: inputs.name, owner_name: inputs.ownerName } }));
        return { owner: r.database.owner_name, operations: r.operations };
      } catch (err) {
        const again = isStatus(err, 409) ? await findDatabase(api, inputs) : undefined;
        if (again) return { owner: again.owner_name, operations: [] };
        throw err;
      }
    });
    await waitForOperations(api, this.apiKey, inputs.projectId, created.operations, what);
    // Adopted with another owner: give it to this stack's role.
    if (created.owner !== inputs.ownerName) await this.setOwner(api, inputs);
    return { id: `${inputs.branchId}/${inputs.name}`, outs: { ...inputs, connectionUri: await this.pooledUri(api, inputs) } };
  }

  async read(id: string, props: DatabaseOutputs): Promise<pulumi.dynamic.ReadResult<DatabaseOutputs>> {
    const api = neonClient(this.apiKey, props.apiUrl);
    const found = await retried(this.apiKey, `reading the Neon database ${props.name}`, () => findDatabase(api, props));
    if (!found) return { id: "", props };
    return { id, props: { ...props, ownerName: found.owner_name } };
  }

  async update(_id: string, olds: DatabaseOutputs, news: DatabaseInputs): Promise<pulumi.dynamic.UpdateResult<DatabaseOutputs>> {
    const api = neonClient(this.apiKey, news.apiUrl);
    if (news.ownerName !== olds.ownerName) await this.setOwner(api, news);
    return { outs: { ...news, connectionUri: await this.pooledUri(api, news, olds.connectionUri) } };
  }

  async delete(_id: string, props: DatabaseOutputs): Promise<void> {
    const api = neonClient(this.apiKey, props.apiUrl);
    const what = `deleting the Neon database ${props.name}`;
    const operations = await retried(this.apiKey, what, async () => {
      try {
        return (await neon(() => api.deleteProjectBranchDatabase(props.projectId, props.branchId, props.name)))?.operations ?? [];
      } catch (err) {
        if (isStatus(err, 404)) return [];
        throw err;
      }
    }, [props.connectionUri]);
    await waitForOperations(api, this.apiKey, props.projectId, operations, what);
  }

  private async setOwner(api: ReturnType<typeof neonClient>, d: DatabaseInputs): Promise<void> {
    const what = `making ${d.ownerName} the owner of the Neon database ${d.name}`;
    const r = await retried(this.apiKey, what, () => neon(() => api.updateProjectBranchDatabase(d.projectId, d.branchId, d.name, { database: { owner_name: d.ownerName } })));
    await waitForOperations(api, this.apiKey, d.projectId, r.operations, what);
  }

  /** The pooled URI Neon builds (with the owner's current password), forced to sslmode=require. */
  private async pooledUri(api: ReturnType<typeof neonClient>, d: DatabaseInputs, oldUri?: string): Promise<string> {
    const r = await retried(this.apiKey, `reading the connection URI of the Neon database ${d.name}`, () => neon(() => api.getConnectionUri({ projectId: d.projectId, branch_id: d.branchId, endpoint_id: d.endpointId, database_name: d.name, role_name: d.ownerName, pooled: true })), [oldUri]);
    return requireSsl(r.uri);
  }
}

/** The URI with sslmode=require, whatever Neon put there (it adds channel_binding too, which stays). */
export function requireSsl(uri: string): string {
  const u = new URL(uri);
  u.searchParams.set("sslmode", "require");
  return u.toString();
}

async function findDatabase(api: ReturnType<typeof neonClient>, d: DatabaseInputs) {
  try {
    return (await neon(() => api.getProjectBranchDatabase(d.projectId, d.branchId, d.name))).database;
  } catch (err) {
    if (isStatus(err, 404)) return undefined;
    throw err;
  }
}

export const neonDatabaseProvider = new NeonDatabaseProvider();

export class Database extends pulumi.dynamic.Resource {
  declare readonly connectionUri: pulumi.Output<string>;

  constructor(name: string, args: { [K in keyof DatabaseInputs]: pulumi.Input<DatabaseInputs[K]> }, opts?: pulumi.CustomResourceOptions) {
    super(neonDatabaseProvider, name, { connectionUri: undefined, ...args }, { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "connectionUri"] }, "neon", "Database");
  }
}
