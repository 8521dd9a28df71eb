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
  /**
   * Neon organization (org-...) of a created project. Unset: the one organization the key sees
   * (GET /users/me/organizations). Personal accounts are organizations now, and with a personal
   * key Neon refuses to list or create projects without org_id.
   */
  orgId?: string;
  /** Reference this project instead of creating one. */
  existingProjectId?: string;
}

export interface ProjectOutputs extends ProjectInputs {
  projectId: string;
  defaultBranchId: string;
  /** False for a referenced project: delete leaves it alone. */
  managed: boolean;
  /** The organization the project was created in (orgId, or the one the key sees). */
  resolvedOrgId?: string;
}

const REPLACES = ["regionId", "pgVersion", "existingProjectId"] as const;

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
    // Another organization is another project; writing down the one found by lookup (or dropping
    // orgId again) changes nothing, nor does naming one for a project of a state that never said.
    const before = olds.orgId ?? olds.resolvedOrgId;
    if (news.orgId && before && news.orgId !== before) replaces.push("orgId");
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
    const orgId = inputs.orgId ?? (await this.onlyOrganization(api));
    const created = await retried(this.apiKey, what, async () => {
      // A project of this name left by an interrupted run (or a retried POST that did reach Neon) is adopted.
      const found = await findProject(api, inputs.name, orgId);
      if (found) return { id: found, operations: [] };
      const r = await neon(() => api.createProject({ project: { name: inputs.name, region_id: inputs.regionId, ...(inputs.pgVersion ? { pg_version: inputs.pgVersion as 17 } : {}), org_id: orgId } }));
      return { id: r.project.id, operations: r.operations };
    });
    await waitForOperations(api, this.apiKey, created.id, created.operations, what);
    const branch = await defaultBranch(api, this.apiKey, created.id);
    return { id: created.id, outs: { ...inputs, projectId: created.id, defaultBranchId: branch, managed: true, resolvedOrgId: orgId } };
  }

  /**
   * The one organization the key sees. With a personal key Neon needs org_id to list or create
   * projects (its document: "If using a personal API key, include the org_id"); an organization
   * key sees exactly its own. None or several: the setting to choose with, and the choices.
   */
  private async onlyOrganization(api: ReturnType<typeof neonClient>): Promise<string> {
    const r = await retried(this.apiKey, "listing the Neon organizations of the API key (GET /users/me/organizations)", () => neon(() => api.getCurrentUserOrganizations()));
    const orgs = r.organizations ?? [];
    if (orgs.length === 1) return orgs[0].id;
    const how = "`pulumi config set --path mlflow-kit:database.orgId <org-...>` (Neon console: Organization settings > General), or use an organization API key";
    throw new Error(orgs.length === 0
      ? `mlflow-kit:database.orgId: is unset and the key in ${NEON_TOKEN_KEY} belongs to no Neon organization, and Neon creates every project in one. Set it: ${how}`
      : `mlflow-kit:database.orgId: is unset and the key in ${NEON_TOKEN_KEY} belongs to ${orgs.length} Neon organizations: ${orgs.map((o) => `${o.name} (${o.id})`).join(", ")}. Choose one: ${how}`);
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
    return { outs: { ...news, projectId: id, defaultBranchId: olds.defaultBranchId, managed: olds.managed, ...(olds.resolvedOrgId ? { resolvedOrgId: olds.resolvedOrgId } : {}) } };
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
    super(neonProjectProvider, name, { projectId: undefined, defaultBranchId: undefined, managed: undefined, resolvedOrgId: undefined, ...args }, opts, "neon", "Project");
  }
}
