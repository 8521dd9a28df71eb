/**
 * A copy-on-write Neon branch (`pulumi-nodejs:dynamic/neon:Branch`) of the project's default
 * branch (or `parentId`), created without compute (the Endpoint resource adds it). On ephemeral
 * stacks `expiresAt` makes Neon delete the branch itself even when no teardown runs.
 */
import * as pulumi from "@pulumi/pulumi";
import { NEON_TOKEN_KEY, changed, isStatus, neon, neonClient, retried, waitForOperations, type ConfigureRequest, type NeonCommonInputs } from "./client";
import { defaultBranch } from "./project";

export interface BranchInputs extends NeonCommonInputs {
  projectId: string;
  name: string;
  /** The parent; the project's default branch when unset. */
  parentId?: string;
  /** RFC 3339; Neon deletes the branch at this time. Unset: the branch never expires. */
  expiresAt?: string;
  /** The parent as it was at this time (a restore); read on create only. Unset: its head. */
  parentTimestamp?: string;
  /** The parent as it was at this LSN, instead of parentTimestamp; read on create only. */
  parentLsn?: string;
}

/**
 * Neon's limits on a branch expiry (neondatabase/website content/docs/guides/branch-expiration.md):
 * the time must be in the future and at most 30 days from the time of the call, and protected,
 * default and parent branches (a branch with children) never expire; nor can a branch be created
 * from an expiring one.
 */
export const MAX_EXPIRY_DAYS = 30;
const DAY_MS = 86_400_000;

/** Why Neon would refuse this expiry now (undefined: it would not). */
export function expiryTimeProblem(expiresAt: string, now = Date.now()): string | undefined {
  const at = Date.parse(expiresAt);
  if (!Number.isFinite(at)) return `"${expiresAt}" is not an RFC 3339 time such as 2026-12-01T00:00:00Z`;
  if (at <= now) return `${expiresAt} has passed; Neon takes only a future expiry. Run \`pulumi up\` again (an ephemeral stack renews it from ttlHours) or set a later mlflow-kit:expiresAt`;
  if (at > now + MAX_EXPIRY_DAYS * DAY_MS) return `${expiresAt} is more than ${MAX_EXPIRY_DAYS} days ahead, the most Neon allows for a branch expiry. Use mlflow-kit:ttlHours of at most 719, or an mlflow-kit:expiresAt within ${MAX_EXPIRY_DAYS} days`;
  return undefined;
}

export interface BranchOutputs extends BranchInputs {
  branchId: string;
  /** The parent actually used (the default branch when parentId was unset). */
  parentBranchId: string;
}

export class NeonBranchProvider implements pulumi.dynamic.ResourceProvider {
  private apiKey: string | undefined;

  async configure(req: ConfigureRequest): Promise<void> {
    this.apiKey = req.config.get(NEON_TOKEN_KEY);
  }

  async check(_olds: BranchInputs, news: BranchInputs): Promise<pulumi.dynamic.CheckResult<BranchInputs>> {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (!(typeof news.name === "string" && news.name.length >= 1 && news.name.length <= 256)) failures.push({ property: "name", reason: "a Neon branch name has 1-256 characters" });
    if (!/^[a-z0-9-]{1,60}$/.test(news.projectId ?? "")) failures.push({ property: "projectId", reason: "must be a Neon project id" });
    const expiry = news.expiresAt === undefined ? undefined : expiryTimeProblem(news.expiresAt);
    if (expiry) failures.push({ property: "expiresAt", reason: expiry });
    if (news.parentTimestamp !== undefined && !Number.isFinite(Date.parse(news.parentTimestamp))) failures.push({ property: "parentTimestamp", reason: `"${news.parentTimestamp}" is not an RFC 3339 time such as 2026-12-01T00:00:00Z` });
    if (news.parentTimestamp !== undefined && news.parentLsn !== undefined) failures.push({ property: "parentLsn", reason: "give parentTimestamp or parentLsn, not both" });
    return { inputs: news, failures };
  }

  async diff(_id: string, olds: BranchOutputs, news: BranchInputs): Promise<pulumi.dynamic.DiffResult> {
    // A new parent or project is a new copy of other data: replace. Name and expiry change in place.
    const replaces = changed(olds, news, ["projectId", "parentId"]);
    const updates = changed(olds, news, ["name", "expiresAt"]);
    return { changes: replaces.length + updates.length > 0, replaces, deleteBeforeReplace: replaces.length > 0 && olds.name === news.name };
  }

  async create(inputs: BranchInputs): Promise<pulumi.dynamic.CreateResult<BranchOutputs>> {
    const api = neonClient(this.apiKey, inputs.apiUrl);
    const what = `creating the Neon branch ${inputs.name} in project ${inputs.projectId}`;
    const parent = inputs.parentId ?? (await defaultBranch(api, this.apiKey, inputs.projectId));
    if (inputs.parentId) {
      const p = (await retried(this.apiKey, `reading the parent Neon branch ${parent}`, () => neon(() => api.getProjectBranch(inputs.projectId, parent)))).branch;
      if (p.expires_at) throw new Error(`Neon: the branch ${inputs.name} cannot be a child of ${p.name} (${parent}), which expires at ${p.expires_at}: Neon creates no branch from an expiring one. Branch from a branch that does not expire (the project's default branch)`);
    }
    const created = await retried(this.apiKey, what, async () => {
      const found = await findBranch(api, inputs.projectId, inputs.name);
      if (found) {
        if (inputs.expiresAt) await refuseExpiryOn(api, inputs.projectId, found);
        return { id: found.id, operations: [], adoptedExpiry: found.expires_at ?? null };
      }
      const late = inputs.expiresAt ? expiryTimeProblem(inputs.expiresAt) : undefined;
      if (late) throw new Error(`mlflow-kit: the expiry of the Neon branch ${inputs.name}: ${late}`);
      try {
        const r = await neon(() => api.createProjectBranch(inputs.projectId, { branch: { name: inputs.name, parent_id: parent, ...(inputs.expiresAt ? { expires_at: inputs.expiresAt } : {}), ...(inputs.parentTimestamp ? { parent_timestamp: inputs.parentTimestamp } : {}), ...(inputs.parentLsn ? { parent_lsn: inputs.parentLsn } : {}) } }));
        return { id: r.branch.id, operations: r.operations, adoptedExpiry: undefined };
      } catch (err) {
        // Another run created it between our look and our POST.
        const again = isStatus(err, 409) ? await findBranch(api, inputs.projectId, inputs.name) : undefined;
        if (again) return { id: again.id, operations: [], adoptedExpiry: again.expires_at ?? null };
        throw err;
      }
    });
    await waitForOperations(api, this.apiKey, inputs.projectId, created.operations, what);
    // An adopted branch takes this stack's expiry.
    if (created.adoptedExpiry !== undefined && !sameTime(created.adoptedExpiry, inputs.expiresAt)) await this.setBranch(api, inputs.projectId, created.id, { expires_at: inputs.expiresAt ?? null }, `setting the expiry of the Neon branch ${inputs.name}`);
    return { id: created.id, outs: { ...inputs, branchId: created.id, parentBranchId: parent } };
  }

  async read(id: string, props: BranchOutputs): Promise<pulumi.dynamic.ReadResult<BranchOutputs>> {
    const api = neonClient(this.apiKey, props.apiUrl);
    const branch = await retried(this.apiKey, `reading the Neon branch ${id}`, async () => {
      try {
        return (await neon(() => api.getProjectBranch(props.projectId, id))).branch;
      } catch (err) {
        if (isStatus(err, 404)) return undefined;
        throw err;
      }
    });
    if (!branch) return { id: "", props };
    const read: BranchOutputs = { ...props, branchId: id, name: branch.name, parentBranchId: branch.parent_id ?? props.parentBranchId };
    // No expiry at Neon: the key goes (an undefined value fails the engine's protobuf Struct
    // with "Unexpected struct type", failing every refresh: seen under the real engine).
    if (branch.expires_at) read.expiresAt = sameTime(branch.expires_at, props.expiresAt) ? props.expiresAt : branch.expires_at;
    else delete read.expiresAt;
    return { id, props: read };
  }

  async update(id: string, olds: BranchOutputs, news: BranchInputs): Promise<pulumi.dynamic.UpdateResult<BranchOutputs>> {
    const api = neonClient(this.apiKey, news.apiUrl);
    const patch: { name?: string; expires_at?: string | null } = {};
    if (news.name !== olds.name) patch.name = news.name;
    if (!sameTime(olds.expiresAt, news.expiresAt)) patch.expires_at = news.expiresAt ?? null;
    if (patch.expires_at) {
      const late = expiryTimeProblem(patch.expires_at);
      if (late) throw new Error(`mlflow-kit: the expiry of the Neon branch ${news.name}: ${late}`);
      const current = (await retried(this.apiKey, `reading the Neon branch ${id}`, () => neon(() => api.getProjectBranch(news.projectId, id)))).branch;
      await refuseExpiryOn(api, news.projectId, current);
    }
    if (Object.keys(patch).length) await this.setBranch(api, news.projectId, id, patch, `updating the Neon branch ${news.name}`);
    return { outs: { ...news, branchId: id, parentBranchId: olds.parentBranchId } };
  }

  async delete(id: string, props: BranchOutputs): Promise<void> {
    const api = neonClient(this.apiKey, props.apiUrl);
    const what = `deleting the Neon branch ${props.name} (${id})`;
    const operations = await retried(this.apiKey, what, async () => {
      try {
        return (await neon(() => api.deleteProjectBranch({ projectId: props.projectId, branchId: id })))?.operations ?? [];
      } catch (err) {
        if (isStatus(err, 404)) return []; // gone (expired, or deleted by hand): done
        throw err;
      }
    });
    await waitForOperations(api, this.apiKey, props.projectId, operations, what);
  }

  private async setBranch(api: ReturnType<typeof neonClient>, projectId: string, branchId: string, patch: { name?: string; expires_at?: string | null }, what: string): Promise<void> {
    const r = await retried(this.apiKey, what, () => neon(() => api.updateProjectBranch(projectId, branchId, { branch: patch })));
    await waitForOperations(api, this.apiKey, projectId, r.operations, what);
  }
}

/**
 * Refuses, before Neon does, to put an expiry on a branch Neon never lets expire: the default
 * branch, a protected one, or one with children (branch-expiration.md, Restrictions). Adopting
 * the default branch by name (database.branch: main) would otherwise give it the stack's expiry.
 */
async function refuseExpiryOn(api: ReturnType<typeof neonClient>, projectId: string, b: { id: string; name: string; default?: boolean; protected?: boolean }): Promise<void> {
  const kind = b.default ? "the project's default branch" : b.protected ? "a protected branch" : undefined;
  if (kind) throw new Error(`Neon: the branch ${b.name} (${b.id}) is ${kind}, which Neon never lets expire, and this ephemeral stack would give it an expiry. Set mlflow-kit:database.branch to a name of its own (default: <project>-<stack>), or make the stack long-lived`);
  const all = await neon(() => api.listProjectBranches({ projectId, limit: 10000 }));
  const children = all.branches.filter((x) => x.parent_id === b.id);
  if (children.length) throw new Error(`Neon: the branch ${b.name} (${b.id}) has ${children.length} child branch(es) (${children.map((c) => c.name).join(", ")}), and Neon does not let a parent branch expire. Delete them, or make this stack long-lived (no expiry)`);
}

/** The branch named exactly `name` (search also matches parts of names and ids). */
async function findBranch(api: ReturnType<typeof neonClient>, projectId: string, name: string) {
  const r = await neon(() => api.listProjectBranches({ projectId, search: name, limit: 10000 }));
  return r.branches.find((b) => b.name === name);
}

function sameTime(a: string | null | undefined, b: string | null | undefined): boolean {
  if (!a || !b) return !a && !b;
  return Date.parse(a) === Date.parse(b);
}

export const neonBranchProvider = new NeonBranchProvider();

export class Branch extends pulumi.dynamic.Resource {
  declare readonly branchId: pulumi.Output<string>;
  declare readonly parentBranchId: pulumi.Output<string>;

  constructor(name: string, args: { [K in keyof BranchInputs]: pulumi.Input<BranchInputs[K]> }, opts?: pulumi.CustomResourceOptions) {
    super(neonBranchProvider, name, { branchId: undefined, parentBranchId: undefined, ...args }, opts, "neon", "Branch");
  }
}
