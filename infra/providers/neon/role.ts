/**
 * A Postgres role on a Neon branch (`pulumi-nodejs:dynamic/neon:Role`). Neon generates its
 * password; bumping `passwordRotation` resets it in place (reset_password): an update, never a
 * replace, so the role, its databases and their owners stay.
 */
import * as pulumi from "@pulumi/pulumi";
import { NEON_TOKEN_KEY, changed, isStatus, neon, neonClient, retried, waitForOperations, type ConfigureRequest, type NeonCommonInputs } from "./client";

export interface RoleInputs extends NeonCommonInputs {
  projectId: string;
  branchId: string;
  name: string;
  /** Bump to get a new password (rotation.databasePassword). */
  passwordRotation: number;
}

export interface RoleOutputs extends RoleInputs {
  /** Secret (additionalSecretOutputs). */
  password: string;
}

export class NeonRoleProvider implements pulumi.dynamic.ResourceProvider {
  private apiKey: string | undefined;

  async configure(req: ConfigureRequest): Promise<void> {
    this.apiKey = req.config.get(NEON_TOKEN_KEY);
  }

  async check(_olds: RoleInputs, news: RoleInputs): Promise<pulumi.dynamic.CheckResult<RoleInputs>> {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    // Postgres identifiers: 63 bytes; Neon reserves names starting with neon_ and pg_.
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(news.name ?? "") || /^(neon|pg)_/.test(news.name)) failures.push({ property: "name", reason: "must be a lower-case Postgres identifier (letters, digits, _; at most 63) not starting with neon_ or pg_" });
    if (!(Number.isInteger(news.passwordRotation) && news.passwordRotation >= 0)) failures.push({ property: "passwordRotation", reason: "must be a whole number >= 0 (bump it to rotate the password)" });
    return { inputs: news, failures };
  }

  async diff(_id: string, olds: RoleOutputs, news: RoleInputs): Promise<pulumi.dynamic.DiffResult> {
    const replaces = changed(olds, news, ["projectId", "branchId", "name"]);
    const updates = changed(olds, news, ["passwordRotation"]);
    return { changes: replaces.length + updates.length > 0, replaces };
  }

  async create(inputs: RoleInputs): Promise<pulumi.dynamic.CreateResult<RoleOutputs>> {
    const api = neonClient(this.apiKey, inputs.apiUrl);
    const what = `creating the Neon role ${inputs.name} on branch ${inputs.branchId}`;
    const created = await retried(this.apiKey, what, async () => {
      if (await roleExists(api, inputs)) return { adopted: true as const };
      try {
        const r = await neon(() => api.createProjectBranchRole(inputs.projectId, inputs.branchId, { role: { name: inputs.name } }));
        return { adopted: false as const, password: r.role.password, operations: r.operations };
      } catch (err) {
        if (isStatus(err, 409)) return { adopted: true as const };
        throw err;
      }
    });
    let password: string | undefined;
    if (created.adopted) {
      // Left by an interrupted run: its password never reached the state, so give it a new one.
      password = await this.resetPassword(api, inputs);
    } else {
      await waitForOperations(api, this.apiKey, inputs.projectId, created.operations, what);
      password = created.password;
    }
    if (!password) throw new Error(`Neon returned no password for the role ${inputs.name}; the project may have store_passwords off. Turn it on in the Neon console, then run \`pulumi up\` again.`);
    return { id: `${inputs.branchId}/${inputs.name}`, outs: { ...inputs, password } };
  }

  async read(id: string, props: RoleOutputs): Promise<pulumi.dynamic.ReadResult<RoleOutputs>> {
    const api = neonClient(this.apiKey, props.apiUrl);
    const exists = await retried(this.apiKey, `reading the Neon role ${props.name}`, () => roleExists(api, props), [props.password]);
    if (!exists) return { id: "", props };
    return { id, props };
  }

  async update(id: string, olds: RoleOutputs, news: RoleInputs): Promise<pulumi.dynamic.UpdateResult<RoleOutputs>> {
    let password = olds.password;
    if (news.passwordRotation !== olds.passwordRotation) {
      password = await this.resetPassword(neonClient(this.apiKey, news.apiUrl), news, olds.password);
    }
    return { outs: { ...news, password } };
  }

  async delete(_id: string, props: RoleOutputs): Promise<void> {
    const api = neonClient(this.apiKey, props.apiUrl);
    const what = `deleting the Neon role ${props.name}`;
    const operations = await retried(this.apiKey, what, async () => {
      try {
        return (await neon(() => api.deleteProjectBranchRole(props.projectId, props.branchId, props.name)))?.operations ?? [];
      } catch (err) {
        if (isStatus(err, 404)) return [];
        throw err;
      }
    }, [props.password]);
    await waitForOperations(api, this.apiKey, props.projectId, operations, what);
  }

  private async resetPassword(api: ReturnType<typeof neonClient>, r: RoleInputs, oldPassword?: string): Promise<string> {
    const what = `resetting the password of the Neon role ${r.name}`;
    const res = await retried(this.apiKey, what, () => neon(() => api.resetProjectBranchRolePassword(r.projectId, r.branchId, r.name)), [oldPassword]);
    await waitForOperations(api, this.apiKey, r.projectId, res.operations, what);
    if (!res.role.password) throw new Error(`Neon returned no password after ${what}.`);
    return res.role.password;
  }
}

async function roleExists(api: ReturnType<typeof neonClient>, r: RoleInputs): Promise<boolean> {
  try {
    await neon(() => api.getProjectBranchRole(r.projectId, r.branchId, r.name));
    return true;
  } catch (err) {
    if (isStatus(err, 404)) return false;
    throw err;
  }
}

export const neonRoleProvider = new NeonRoleProvider();

export class Role extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly password: pulumi.Output<string>;
  declare readonly passwordRotation: pulumi.Output<number>;

  constructor(name: string, args: { [K in keyof RoleInputs]: pulumi.Input<RoleInputs[K]> }, opts?: pulumi.CustomResourceOptions) {
    super(neonRoleProvider, name, { password: undefined, ...args }, { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "password"] }, "neon", "Role");
  }
}
