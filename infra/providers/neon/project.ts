/**
 * A Neon project (`pulumi-nodejs:dynamic/neon:Project`), or a reference to an existing one
 * (`existingProjectId`): a referenced project is read, never changed or deleted.
 */
import * as pulumi from "@pulumi/pulumi";
import { NEON_TOKEN_KEY, changed, isStatus, neon, neonClient, retried, waitForOperations, type ConfigureRequest, type NeonCommonInputs } from "./client";

export interface ProjectInputs extends NeonCommonInputs {
  /** Name of a created project (Neon does not require it unique: a create adopts the one project of this name). */
  name: string;
  regionId: string;
  pgVersion?: number;
  /** Neon organization (org-...); needed with a personal API key that belongs to several. */
  orgId?: string;
  /** Reference this project instead of creating one. */
  existingProjectId?: string;
}

export interface ProjectOutputs extends ProjectInputs {
  projectId: string;
  defaultBranchId: string;
  /** False for a referenced project: delete leaves it alone. */
  managed: boolean;
}

const REPLACES = ["regionId", "pgVersion", "orgId", "existingProjectId"] as const;

export class NeonProjectProvider implements pulumi.dynamic.ResourceProvider {
  private apiKey: string | undefined;

  async configure(req: ConfigureRequest): Promise<void> {
    this.apiKey = req.config.get(NEON_TOKEN_KEY);
  }

  async check(_olds: ProjectInputs, news: ProjectInputs): Promise<pulumi.dynamic.CheckResult<ProjectInputs>> {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (!news.existingProjectId && !(typeof news.name === "string" && news.name.length >= 1 && news.name.length <= 256)) failures.push({ property: "name", reason: "a created Neon project needs a name of 1-256 characters" });
    if (news.existingProjectId !== undefined && !/^[a-z0-9-]{1,60}$/.test(news.existingProjectId)) failures.push({ property: "existingProjectId", reason: `"${news.existingProjectId}" is not a Neon project id (lower-case letters, digits and hyphens, e.g. shiny-wind-028834)` });
    if (!/^(aws|azure)-[a-z0-9-]+$/.test(news.regionId ?? "")) failures.push({ property: "regionId", reason: "must be a Neon region id such as aws-us-east-2" });
    if (news.pgVersion !== undefined && !(Number.isInteger(news.pgVersion) && news.pgVersion >= 14 && news.pgVersion <= 18)) failures.push({ property: "pgVersion", reason: "Neon runs PostgreSQL 14 to 18" });
    return { inputs: news, failures };
  }

  async diff(_id: string, olds: ProjectOutputs, news: ProjectInputs): Promise<pulumi.dynamic.DiffResult> {
    const replaces = changed(olds, news, REPLACES);
    const updates = changed(olds, news, ["name"]);
    return { changes: replaces.length + updates.length > 0, replaces, deleteBeforeReplace: false };
  }

  async create(inputs: ProjectInputs): Promise<pulumi.dynamic.CreateResult<ProjectOutputs>> {
    const api = neonClient(this.apiKey, inputs.apiUrl);
    if (inputs.existingProjectId) {
      const id = inputs.existingProjectId;
      const branch = await defaultBranch(api, this.apiKey, id);
      return { id, outs: { ...inputs, projectId: id, defaultBranchId: branch, managed: false } };
    }
    const what = `creating the Neon project ${inputs.name}`;
    const created = await retried(this.apiKey, what, async () => {
      // A project of this name left by an interrupted run (or a retried POST that did reach Neon) is adopted.
      const found = await findProject(api, inputs.name, inputs.orgId);
      if (found) return { id: found, operations: [] };
      const r = await neon(() => api.createProject({ project: { name: inputs.name, region_id: inputs.regionId, ...(inputs.pgVersion ? { pg_version: inputs.pgVersion as 17 } : {}), ...(inputs.orgId ? { org_id: inputs.orgId } : {}) } }));
      return { id: r.project.id, operations: r.operations };
    });
    await waitForOperations(api, this.apiKey, created.id, created.operations, what);
    const branch = await defaultBranch(api, this.apiKey, created.id);
    return { id: created.id, outs: { ...inputs, projectId: created.id, defaultBranchId: branch, managed: true } };
  }

  async read(id: string, props: ProjectOutputs): Promise<pulumi.dynamic.ReadResult<ProjectOutputs>> {
    const api = neonClient(this.apiKey, props.apiUrl);
    const project = await retried(this.apiKey, `reading the Neon project ${id}`, async () => {
      try {
        return (await neon(() => api.getProject(id))).project;
      } catch (err) {
        if (isStatus(err, 404)) return undefined;
        throw err;
      }
    });
    // An empty id tells the engine the project is gone.
    if (!project) return { id: "", props };
    const managed = props.managed ?? true;
    return { id, props: { ...props, projectId: id, regionId: project.region_id, ...(managed ? { name: project.name } : {}), defaultBranchId: props.defaultBranchId ?? (await defaultBranch(api, this.apiKey, id)), managed } };
  }

  async update(id: string, olds: ProjectOutputs, news: ProjectInputs): Promise<pulumi.dynamic.UpdateResult<ProjectOutputs>> {
    if (olds.managed && news.name !== olds.name) {
      const api = neonClient(this.apiKey, news.apiUrl);
      const what = `renaming the Neon project ${id} to ${news.name}`;
      const r = await retried(this.apiKey, what, () => neon(() => api.updateProject(id, { project: { name: news.name } })));
      await waitForOperations(api, this.apiKey, id, r.operations, what);
    }
    return { outs: { ...news, projectId: id, defaultBranchId: olds.defaultBranchId, managed: olds.managed } };
  }

  async delete(id: string, props: ProjectOutputs): Promise<void> {
    if (props.managed === false) return; // referenced, not ours
    const api = neonClient(this.apiKey, props.apiUrl);
    await retried(this.apiKey, `deleting the Neon project ${id}`, async () => {
      try {
        await neon(() => api.deleteProject(id));
      } catch (err) {
        if (!isStatus(err, 404)) throw err; // already gone: done
      }
    });
  }
}

/** The one project named exactly `name` (search matches parts of names and ids); fails if several. */
async function findProject(api: ReturnType<typeof neonClient>, name: string, orgId: string | undefined): Promise<string | undefined> {
  const r = await neon(() => api.listProjects({ search: name, limit: 400, ...(orgId ? { org_id: orgId } : {}) }));
  const same = r.projects.filter((p) => p.name === name);
  if (same.length > 1) throw new Error(`Neon has ${same.length} projects named ${name} (${same.map((p) => p.id).join(", ")}): mlflow-kit cannot tell which is this stack's. Set database.projectId to the right one, or delete the others.`);
  return same[0]?.id;
}

/** The project's default branch, the parent of copy-on-write branches. */
export async function defaultBranch(api: ReturnType<typeof neonClient>, apiKey: string | undefined, projectId: string): Promise<string> {
  const r = await retried(apiKey, `listing the branches of the Neon project ${projectId}`, () => neon(() => api.listProjectBranches({ projectId, limit: 10000 })));
  const d = r.branches.find((b) => b.default);
  if (!d) throw new Error(`The Neon project ${projectId} has no default branch; set one in the Neon console (Branches > Set as default).`);
  return d.id;
}

export const neonProjectProvider = new NeonProjectProvider();

export class Project extends pulumi.dynamic.Resource {
  declare readonly projectId: pulumi.Output<string>;
  declare readonly defaultBranchId: pulumi.Output<string>;
  declare readonly managed: pulumi.Output<boolean>;

  constructor(name: string, args: { [K in keyof ProjectInputs]: pulumi.Input<ProjectInputs[K]> }, opts?: pulumi.CustomResourceOptions) {
    super(neonProjectProvider, name, { projectId: undefined, defaultBranchId: undefined, managed: undefined, ...args }, opts, "neon", "Project");
  }
}
