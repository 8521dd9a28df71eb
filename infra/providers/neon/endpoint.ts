/**
 * The read_write compute endpoint of a Neon branch (`pulumi-nodejs:dynamic/neon:Endpoint`).
 * A branch has at most one: a create adopts the one it finds.
 */
import type { EndpointType } from "@neondatabase/api-client";
import * as pulumi from "@pulumi/pulumi";
import { NEON_TOKEN_KEY, changed, isStatus, neon, neonClient, retried, waitForOperations, type ConfigureRequest, type NeonCommonInputs } from "./client";

export interface EndpointInputs extends NeonCommonInputs {
  projectId: string;
  branchId: string;
  /** Compute units (0.25 and up); Neon's defaults when unset. */
  minCu?: number;
  maxCu?: number;
}

export interface EndpointOutputs extends EndpointInputs {
  endpointId: string;
  /** ep-....region.aws.neon.tech (Neon marks it sensitive: a secret output). */
  host: string;
}

export class NeonEndpointProvider implements pulumi.dynamic.ResourceProvider {
  private apiKey: string | undefined;

  async configure(req: ConfigureRequest): Promise<void> {
    this.apiKey = req.config.get(NEON_TOKEN_KEY);
  }

  async check(_olds: EndpointInputs, news: EndpointInputs): Promise<pulumi.dynamic.CheckResult<EndpointInputs>> {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    for (const k of ["minCu", "maxCu"] as const) {
      if (news[k] !== undefined && !(typeof news[k] === "number" && news[k]! >= 0.25)) failures.push({ property: k, reason: "Neon compute sizes start at 0.25 CU" });
    }
    if (news.minCu !== undefined && news.maxCu !== undefined && news.maxCu < news.minCu) failures.push({ property: "maxCu", reason: `is below minCu (${news.minCu})` });
    return { inputs: news, failures };
  }

  async diff(_id: string, olds: EndpointOutputs, news: EndpointInputs): Promise<pulumi.dynamic.DiffResult> {
    const replaces = changed(olds, news, ["projectId", "branchId"]);
    const updates = changed(olds, news, ["minCu", "maxCu"]);
    return { changes: replaces.length + updates.length > 0, replaces };
  }

  async create(inputs: EndpointInputs): Promise<pulumi.dynamic.CreateResult<EndpointOutputs>> {
    const api = neonClient(this.apiKey, inputs.apiUrl);
    const what = `creating the read_write compute of the Neon branch ${inputs.branchId}`;
    const created = await retried(this.apiKey, what, async () => {
      const found = await findEndpoint(api, inputs.projectId, inputs.branchId);
      if (found) return { endpoint: found, operations: [], adopted: true };
      try {
        const r = await neon(() => api.createProjectEndpoint(inputs.projectId, { endpoint: { branch_id: inputs.branchId, type: "read_write" as EndpointType, ...cu(inputs) } }));
        return { endpoint: r.endpoint, operations: r.operations, adopted: false };
      } catch (err) {
        const again = isStatus(err, 409) ? await findEndpoint(api, inputs.projectId, inputs.branchId) : undefined;
        if (again) return { endpoint: again, operations: [], adopted: true };
        throw err;
      }
    });
    await waitForOperations(api, this.apiKey, inputs.projectId, created.operations, what);
    const e = created.endpoint;
    if (created.adopted && ((inputs.minCu !== undefined && inputs.minCu !== e.autoscaling_limit_min_cu) || (inputs.maxCu !== undefined && inputs.maxCu !== e.autoscaling_limit_max_cu))) {
      await this.resize(api, inputs, e.id);
    }
    return { id: e.id, outs: { ...inputs, endpointId: e.id, host: e.host } };
  }

  async read(id: string, props: EndpointOutputs): Promise<pulumi.dynamic.ReadResult<EndpointOutputs>> {
    const api = neonClient(this.apiKey, props.apiUrl);
    const e = await retried(this.apiKey, `reading the Neon endpoint ${id}`, async () => {
      try {
        return (await neon(() => api.getProjectEndpoint(props.projectId, id))).endpoint;
      } catch (err) {
        if (isStatus(err, 404)) return undefined;
        throw err;
      }
    });
    if (!e) return { id: "", props };
    return { id, props: { ...props, endpointId: id, branchId: e.branch_id, host: e.host, ...(props.minCu !== undefined ? { minCu: e.autoscaling_limit_min_cu } : {}), ...(props.maxCu !== undefined ? { maxCu: e.autoscaling_limit_max_cu } : {}) } };
  }

  async update(id: string, olds: EndpointOutputs, news: EndpointInputs): Promise<pulumi.dynamic.UpdateResult<EndpointOutputs>> {
    const api = neonClient(this.apiKey, news.apiUrl);
    if (changed(olds, news, ["minCu", "maxCu"]).length) await this.resize(api, news, id);
    return { outs: { ...news, endpointId: id, host: olds.host } };
  }

  async delete(id: string, props: EndpointOutputs): Promise<void> {
    const api = neonClient(this.apiKey, props.apiUrl);
    const what = `deleting the Neon endpoint ${id}`;
    const operations = await retried(this.apiKey, what, async () => {
      try {
        return (await neon(() => api.deleteProjectEndpoint(props.projectId, id)))?.operations ?? [];
      } catch (err) {
        if (isStatus(err, 404)) return [];
        throw err;
      }
    });
    await waitForOperations(api, this.apiKey, props.projectId, operations, what);
  }

  private async resize(api: ReturnType<typeof neonClient>, inputs: EndpointInputs, id: string): Promise<void> {
    const what = `resizing the Neon endpoint ${id}`;
    const r = await retried(this.apiKey, what, () => neon(() => api.updateProjectEndpoint(inputs.projectId, id, { endpoint: cu(inputs) })));
    await waitForOperations(api, this.apiKey, inputs.projectId, r.operations, what);
  }
}

function cu(i: EndpointInputs): { autoscaling_limit_min_cu?: number; autoscaling_limit_max_cu?: number } {
  return { ...(i.minCu !== undefined ? { autoscaling_limit_min_cu: i.minCu } : {}), ...(i.maxCu !== undefined ? { autoscaling_limit_max_cu: i.maxCu } : {}) };
}

async function findEndpoint(api: ReturnType<typeof neonClient>, projectId: string, branchId: string) {
  const r = await neon(() => api.listProjectBranchEndpoints(projectId, branchId));
  return r.endpoints.find((e) => e.type === ("read_write" as EndpointType));
}

export const neonEndpointProvider = new NeonEndpointProvider();

export class Endpoint extends pulumi.dynamic.Resource {
  declare readonly endpointId: pulumi.Output<string>;
  declare readonly host: pulumi.Output<string>;

  constructor(name: string, args: { [K in keyof EndpointInputs]: pulumi.Input<EndpointInputs[K]> }, opts?: pulumi.CustomResourceOptions) {
    // Neon marks the host sensitive (x-sensitive): it is kept as a secret.
    super(neonEndpointProvider, name, { endpointId: undefined, host: undefined, ...args }, { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "host"] }, "neon", "Endpoint");
  }
}
