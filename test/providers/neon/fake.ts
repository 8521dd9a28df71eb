/**
 * A stateful Neon API on 127.0.0.1 for the provider contract tests, on FakeApi with the OpenAPI
 * document shipped inside @neondatabase/api-client (the same version as the client), so every
 * request and answer is checked against it. Writes return operations that finish after
 * `pollsToFinish` reads; while one runs the project is locked (423), as on Neon.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { FakeApi, type FakeReply } from "../support/fake-api";

export const NEON_DOCUMENT = path.join(__dirname, "..", "..", "..", "node_modules", "@neondatabase", "api-client", "public-v2-for-users.gen.yaml");
// A fake, split so that credential scanners never take it for a key.
export const NEON_FAKE_TOKEN = ["napi", "fake0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH"].join("_");

interface Op { id: string; project_id: string; branch_id?: string; endpoint_id?: string; action: string; status: string; failures_count: number; created_at: string; updated_at: string; total_duration_ms: number; error?: string }
interface ProjectState {
  project: Record<string, any>;
  branches: Map<string, Record<string, any>>;
  endpoints: Map<string, Record<string, any>>;
  /** branchId/name -> role (with its password). */
  roles: Map<string, Record<string, any>>;
  databases: Map<string, Record<string, any>>;
}

const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
const DAY_MS = 86_400_000;
const word = () => randomBytes(4).toString("hex");
const err = (status: number, message: string): FakeReply => ({ status, body: { code: "", message } });

export class NeonFake {
  readonly projects = new Map<string, ProjectState>();
  readonly operations = new Map<string, Op & { pollsLeft: number }>();
  /** Passwords Neon handed out, for leak checks. */
  readonly passwords: string[] = [];
  /** Reads of an operation before it reports finished; a test may set it to fail one. */
  pollsToFinish = 2;
  failNextOperation: string | undefined;
  /**
   * What the API key is. Personal accounts are organizations now: with a personal key, listing or
   * creating projects without `org_id` is refused (400 "org_id is required"); an organization key
   * implies its organization. Sources: @neondatabase/api-client public-v2-for-users.gen.yaml,
   * GET/POST /projects ("If using a personal API key, include the `org_id` parameter ... If using an
   * org API key, `org_id` is automatically inferred from the key"); the 400 and its message are
   * as issue 15 item 1 reports from the real API (the document names no status for it).
   */
  key: { kind: "personal" | "org"; orgs: Array<{ id: string; name: string }> } = { kind: "personal", orgs: [{ id: "org-fake-personal-00000001", name: "alice" }] };
  private readonly pastProblems: string[] = [];

  private constructor(readonly api: FakeApi) {}

  static async start(): Promise<NeonFake> {
    let fake!: NeonFake;
    const h = (fn: (p: Record<string, string>, q: Record<string, any>, body: any) => FakeReply) => (c: any, body: any) => fn(c.request.params ?? {}, c.request.query ?? {}, body);
    const api = await FakeApi.start({
      name: "Neon",
      // Parsed here: openapi-backend's file loader leaves a schema its validator cannot compile (listProjects).
      definition: parse(readFileSync(NEON_DOCUMENT, "utf8")),
      apiRoot: "/api/v2",
      checkFormats: true,
      skipDocumentCheck: "Neon's document puts description and other keys beside $ref (176 places), which OpenAPI 3.0.3 forbids",
      token: NEON_FAKE_TOKEN,
      errorBody: (status, message) => ({ code: "", message, request_id: randomUUID() }),
      handlers: {
        listProjects: h((_p, q) => fake.orgOf(q.org_id, (org) => fake.listProjects(q, org))),
        createProject: h((_p, _q, b) => fake.orgOf(b?.project?.org_id, (org) => fake.createProject(b, org))),
        // GET /users/me/organizations: the key's user's organizations; with an organization key,
        // "the single organization that owns the key" (the same document, getCurrentUserOrganizations).
        getCurrentUserOrganizations: h(() => ({ status: 200, body: { organizations: fake.key.orgs.map(orgBody) } })),
        getProject: h((p) => fake.withProject(p, (s) => ({ status: 200, body: { project: s.project } }))),
        updateProject: h((p, _q, b) => fake.write(p, (s) => {
          if (b.project?.name) s.project.name = b.project.name;
          s.project.updated_at = now();
          return { status: 200, body: { project: s.project, operations: [] } };
        })),
        deleteProject: h((p) => fake.withProject(p, (s) => {
          fake.projects.delete(s.project.id);
          return { status: 200, body: { project: s.project } };
        })),
        getProjectOperation: h((p) => fake.getOperation(p)),
        listProjectBranches: h((p, q) => fake.withProject(p, (s) => {
          const term = q.search as string | undefined;
          const branches = [...s.branches.values()].filter((b) => !term || b.name.includes(term) || b.id.includes(term));
          return { status: 200, body: { branches, annotations: {} } };
        })),
        createProjectBranch: h((p, _q, b) => fake.write(p, (s) => fake.createBranch(s, b))),
        getProjectBranch: h((p) => fake.withBranch(p, (_s, br) => ({ status: 200, body: { branch: br, annotation: { object: { type: "console/branch", id: br.id }, value: {} } } }))),
        updateProjectBranch: h((p, _q, b) => fake.write(p, (s) => fake.withBranch(p, (_s, br) => {
          if (b.branch.expires_at) {
            const refused = expiryRefusal(s, br, b.branch.expires_at);
            if (refused) return refused;
          }
          if (b.branch.name !== undefined) br.name = b.branch.name;
          if (b.branch.expires_at === null) delete br.expires_at;
          else if (b.branch.expires_at !== undefined) br.expires_at = b.branch.expires_at;
          br.updated_at = now();
          return { status: 200, body: { branch: br, operations: [] } };
        }))),
        deleteProjectBranch: h((p) => fake.write(p, (s) => fake.withBranch(p, (_s, br) => {
          if (br.default) return err(400, "cannot delete the default branch");
          s.branches.delete(br.id);
          for (const [k, e] of s.endpoints) if (e.branch_id === br.id) s.endpoints.delete(k);
          for (const m of [s.roles, s.databases]) for (const k of [...m.keys()]) if (k.startsWith(`${br.id}/`)) m.delete(k);
          return { status: 200, body: { branch: br, operations: [fake.op(s, "delete_timeline", br.id)] } };
        }))),
        listProjectBranchEndpoints: h((p) => fake.withBranch(p, (s, br) => ({ status: 200, body: { endpoints: [...s.endpoints.values()].filter((e) => e.branch_id === br.id) } }))),
        createProjectEndpoint: h((p, _q, b) => fake.write(p, (s) => fake.createEndpoint(s, b))),
        getProjectEndpoint: h((p) => fake.withEndpoint(p, (_s, e) => ({ status: 200, body: { endpoint: e } }))),
        updateProjectEndpoint: h((p, _q, b) => fake.write(p, (s) => fake.withEndpoint(p, (_s, e) => {
          Object.assign(e, b.endpoint, { updated_at: now() });
          return { status: 200, body: { endpoint: e, operations: [fake.op(s, "apply_config", e.branch_id, e.id)] } };
        }))),
        deleteProjectEndpoint: h((p) => fake.write(p, (s) => fake.withEndpoint(p, (_s, e) => {
          s.endpoints.delete(e.id);
          return { status: 200, body: { endpoint: e, operations: [fake.op(s, "suspend_compute", e.branch_id, e.id)] } };
        }))),
        getProjectBranchRole: h((p) => fake.withRole(p, (_s, r) => ({ status: 200, body: { role: publicRole(r) } }))),
        createProjectBranchRole: h((p, _q, b) => fake.write(p, (s) => fake.withBranch(p, (_s, br) => {
          const key = `${br.id}/${b.role.name}`;
          if (s.roles.has(key)) return err(409, `role "${b.role.name}" already exists`);
          const role = { branch_id: br.id, name: b.role.name, password: fake.newPassword(), protected: false, created_at: now(), updated_at: now() };
          s.roles.set(key, role);
          return { status: 201, body: { role, operations: [fake.op(s, "apply_config", br.id)] } };
        }))),
        resetProjectBranchRolePassword: h((p) => fake.write(p, (s) => fake.withRole(p, (_s, r) => {
          r.password = fake.newPassword();
          r.updated_at = now();
          return { status: 200, body: { role: r, operations: [fake.op(s, "apply_config", r.branch_id)] } };
        }))),
        deleteProjectBranchRole: h((p) => fake.write(p, (s) => fake.withRole(p, (_s, r) => {
          s.roles.delete(`${r.branch_id}/${r.name}`);
          return { status: 200, body: { role: publicRole(r), operations: [fake.op(s, "apply_config", r.branch_id)] } };
        }))),
        getProjectBranchDatabase: h((p) => fake.withDatabase(p, (_s, d) => ({ status: 200, body: { database: d } }))),
        createProjectBranchDatabase: h((p, _q, b) => fake.write(p, (s) => fake.withBranch(p, (_s, br) => {
          const key = `${br.id}/${b.database.name}`;
          if (s.databases.has(key)) return err(409, `database "${b.database.name}" already exists`);
          if (!s.roles.has(`${br.id}/${b.database.owner_name}`)) return err(404, `role "${b.database.owner_name}" not found`);
          const database = { id: s.databases.size + 1, branch_id: br.id, name: b.database.name, owner_name: b.database.owner_name, created_at: now(), updated_at: now() };
          s.databases.set(key, database);
          return { status: 201, body: { database, operations: [fake.op(s, "apply_config", br.id)] } };
        }))),
        updateProjectBranchDatabase: h((p, _q, b) => fake.write(p, (s) => fake.withDatabase(p, (_s, d) => {
          if (b.database.owner_name) d.owner_name = b.database.owner_name;
          if (b.database.name) d.name = b.database.name;
          d.updated_at = now();
          return { status: 200, body: { database: d, operations: [fake.op(s, "apply_config", d.branch_id)] } };
        }))),
        deleteProjectBranchDatabase: h((p) => fake.write(p, (s) => fake.withDatabase(p, (_s, d) => {
          s.databases.delete(`${d.branch_id}/${d.name}`);
          return { status: 200, body: { database: d, operations: [fake.op(s, "apply_config", d.branch_id)] } };
        }))),
        getConnectionURI: h((p, q) => fake.withProject(p, (s) => {
          const branchId = (q.branch_id as string) ?? [...s.branches.values()].find((b) => b.default)!.id;
          const ep = q.endpoint_id ? s.endpoints.get(q.endpoint_id as string) : [...s.endpoints.values()].find((e) => e.branch_id === branchId && e.type === "read_write");
          const role = s.roles.get(`${branchId}/${q.role_name}`);
          if (!ep || !role || !s.databases.has(`${branchId}/${q.database_name}`)) return err(404, "endpoint, role or database not found");
          const host = String(q.pooled) === "true" ? ep.host.replace(/^(ep-[^.]+)/, "$1-pooler") : ep.host;
          return { status: 200, body: { uri: `postgresql://${role.name}:${role.password}@${host}/${q.database_name}?sslmode=require&channel_binding=require` } };
        })),
      },
    });
    fake = new NeonFake(api);
    return fake;
  }

  /** The client's base URL. */
  get url(): string {
    return `${this.api.url}/api/v2`;
  }

  /** Everything off the document since the start (reset keeps it). */
  get problems(): string[] {
    return [...this.pastProblems, ...this.api.problems];
  }

  /** Forgets calls and pending faults; keeps the state and the problems. */
  reset(): void {
    this.pastProblems.push(...this.api.problems);
    this.api.reset();
  }

  sequence(): string[] {
    return this.api.sequence();
  }

  stop(): Promise<void> {
    return this.api.stop();
  }

  /** An existing project (a referenced one, or one left by an interrupted run). */
  seedProject(name: string): ProjectState {
    const r = this.createProject({ project: { name, region_id: "aws-us-east-2" } }, this.key.orgs[0].id);
    for (const op of (r.body as { operations: Op[] }).operations) this.operations.get(op.id)!.pollsLeft = 0;
    return this.projects.get((r.body as { project: { id: string } }).project.id)!;
  }

  /** Time passes: every running operation finishes (or fails, if it was set to). */
  finishAll(): void {
    for (const o of this.operations.values()) if (o.status === "running") {
      o.pollsLeft = 0;
      o.status = o.error ? "failed" : "finished";
    }
  }

  private newPassword(): string {
    const pw = `npg_${randomBytes(9).toString("base64url")}`;
    this.passwords.push(pw);
    return pw;
  }

  /** The organization a project call works in, or Neon's refusal when a personal key names none. */
  private orgOf(orgId: string | undefined, fn: (org: string) => FakeReply): FakeReply {
    if (orgId) return fn(orgId);
    if (this.key.kind === "org") return fn(this.key.orgs[0].id);
    return err(400, "org_id is required");
  }

  private listProjects(q: Record<string, any>, org: string): FakeReply {
    const term = q.search as string | undefined;
    const projects = [...this.projects.values()].map((s) => s.project).filter((p) => p.org_id === org && (!term || p.name.includes(term) || p.id.includes(term)));
    return { status: 200, body: { projects: projects.map(listItem), applications: {}, integrations: {} } };
  }

  private createProject(b: any, org: string): FakeReply {
    const id = `fake-${word()}-${String(Math.floor(Math.random() * 1e6)).padStart(6, "0")}`;
    const region = b.project.region_id ?? "aws-us-east-2";
    const t = now();
    const project = {
      id, platform_id: "aws", region_id: region, name: b.project.name ?? id, provisioner: "k8s-neonvm", pg_version: b.project.pg_version ?? 17,
      proxy_host: `${region.replace(/^aws-/, "")}.aws.neon.tech`, branch_logical_size_limit: 512, branch_logical_size_limit_bytes: 536870912, store_passwords: true,
      cpu_used_sec: 0, active_time_seconds: 0, compute_time_seconds: 0, written_data_bytes: 0, data_transfer_bytes: 0, data_storage_bytes_hour: 0,
      creation_source: "console", history_retention_seconds: 86400, created_at: t, updated_at: t, owner_id: "fake-owner",
      consumption_period_start: t, consumption_period_end: t, org_id: org,
    };
    const s: ProjectState = { project, branches: new Map(), endpoints: new Map(), roles: new Map(), databases: new Map() };
    this.projects.set(id, s);
    const main = this.branch(s, "main", undefined, true);
    const ep = this.endpoint(s, main.id, {});
    const owner = { branch_id: main.id, name: "neondb_owner", password: this.newPassword(), protected: false, created_at: t, updated_at: t };
    s.roles.set(`${main.id}/neondb_owner`, owner);
    const db = { id: 1, branch_id: main.id, name: "neondb", owner_name: "neondb_owner", created_at: t, updated_at: t };
    s.databases.set(`${main.id}/neondb`, db);
    const operations = [this.op(s, "create_timeline", main.id), this.op(s, "start_compute", main.id, ep.id)];
    const uri = `postgresql://neondb_owner:${owner.password}@${ep.host}/neondb?sslmode=require`;
    return {
      status: 201,
      body: {
        project, branch: main, endpoints: [ep], roles: [owner], databases: [db], operations,
        connection_uris: [{ connection_uri: uri, connection_parameters: { database: "neondb", password: owner.password, role: "neondb_owner", host: ep.host, pooler_host: ep.host.replace(/^(ep-[^.]+)/, "$1-pooler") } }],
      },
    };
  }

  private createBranch(s: ProjectState, b: any): FakeReply {
    const name = b?.branch?.name ?? `br-${word()}`;
    if ([...s.branches.values()].some((x) => x.name === name)) return err(409, `branch with name "${name}" already exists`);
    const parent = b?.branch?.parent_id ?? [...s.branches.values()].find((x) => x.default)!.id;
    if (!s.branches.has(parent)) return err(404, `parent branch ${parent} not found`);
    // "Cannot ... create children from expiring branches" (branch-expiration.md, Restrictions).
    if (s.branches.get(parent)!.expires_at) return err(400, "cannot create a child of a branch that has an expiration");
    if (b?.branch?.expires_at) {
      const refused = expiryRefusal(s, undefined, b.branch.expires_at);
      if (refused) return refused;
    }
    const br = this.branch(s, name, parent, false, b?.branch?.expires_at);
    // Copy-on-write: the child sees the parent's roles and databases.
    for (const m of [s.roles, s.databases]) for (const [k, v] of [...m]) if (k.startsWith(`${parent}/`)) m.set(`${br.id}/${v.name}`, { ...v, branch_id: br.id });
    const endpoints = (b?.endpoints ?? []).map((e: any) => this.endpoint(s, br.id, e));
    const operations = [this.op(s, "create_branch", br.id), ...endpoints.map((e: any) => this.op(s, "start_compute", br.id, e.id))];
    return { status: 201, body: { branch: br, endpoints, operations, roles: [], databases: [] } };
  }

  private createEndpoint(s: ProjectState, b: any): FakeReply {
    const e = b.endpoint;
    if (!s.branches.has(e.branch_id)) return err(404, `branch ${e.branch_id} not found`);
    if (e.type === "read_write" && [...s.endpoints.values()].some((x) => x.branch_id === e.branch_id && x.type === "read_write")) return err(409, "read_write endpoint already exists for this branch");
    const ep = this.endpoint(s, e.branch_id, e);
    return { status: 201, body: { endpoint: ep, operations: [this.op(s, "start_compute", ep.branch_id, ep.id)] } };
  }

  private branch(s: ProjectState, name: string, parent: string | undefined, isDefault: boolean, expiresAt?: string): Record<string, any> {
    const t = now();
    const br = {
      id: `br-${word()}-${word()}`, project_id: s.project.id, ...(parent ? { parent_id: parent } : {}), name, current_state: "ready", state_changed_at: t,
      creation_source: "console", created_at: t, updated_at: t, default: isDefault, protected: false, cpu_used_sec: 0, active_time_seconds: 0,
      compute_time_seconds: 0, written_data_bytes: 0, data_transfer_bytes: 0, ...(expiresAt ? { expires_at: expiresAt } : {}),
    };
    s.branches.set(br.id, br);
    return br;
  }

  private endpoint(s: ProjectState, branchId: string, e: any): Record<string, any> {
    const t = now();
    const id = `ep-${word()}-${word()}`;
    const ep = {
      host: `${id}.${s.project.proxy_host}`, id, project_id: s.project.id, branch_id: branchId, region_id: s.project.region_id,
      autoscaling_limit_min_cu: e.autoscaling_limit_min_cu ?? 0.25, autoscaling_limit_max_cu: e.autoscaling_limit_max_cu ?? 2, type: e.type ?? "read_write",
      current_state: "idle", pooler_enabled: false, pooler_mode: "transaction", disabled: false, passwordless_access: false, creation_source: "console",
      created_at: t, updated_at: t, settings: {}, proxy_host: s.project.proxy_host, suspend_timeout_seconds: 0, provisioner: "k8s-neonvm",
    };
    s.endpoints.set(id, ep);
    return ep;
  }

  /** A new running operation; it locks the project until it finishes. */
  private op(s: ProjectState, action: string, branchId?: string, endpointId?: string): Op {
    const t = now();
    const op = { id: randomUUID(), project_id: s.project.id, ...(branchId ? { branch_id: branchId } : {}), ...(endpointId ? { endpoint_id: endpointId } : {}), action, status: "running", failures_count: 0, created_at: t, updated_at: t, total_duration_ms: 0 };
    const fail = this.failNextOperation === action;
    if (fail) this.failNextOperation = undefined;
    this.operations.set(op.id, { ...op, pollsLeft: this.pollsToFinish, ...(fail ? { error: "compute failed to start: out of capacity" } : {}) });
    return op;
  }

  private getOperation(p: Record<string, string>): FakeReply {
    const o = this.operations.get(p.operation_id);
    if (!o || o.project_id !== p.project_id) return err(404, "operation not found");
    if (o.pollsLeft > 0) o.pollsLeft--;
    if (o.pollsLeft === 0 && o.status === "running") o.status = o.error ? "failed" : "finished";
    const { pollsLeft: _, ...operation } = o;
    if (operation.status === "finished") delete operation.error;
    return { status: 200, body: { operation } };
  }

  private withProject(p: Record<string, string>, fn: (s: ProjectState) => FakeReply): FakeReply {
    const s = this.projects.get(p.project_id);
    return s ? fn(s) : err(404, `project ${p.project_id} not found`);
  }

  /** A write: refused with 423 while an operation of the project runs. */
  private write(p: Record<string, string>, fn: (s: ProjectState) => FakeReply): FakeReply {
    return this.withProject(p, (s) => {
      const running = [...this.operations.values()].some((o) => o.project_id === s.project.id && o.status === "running");
      return running ? err(423, "project already has running conflicting operations, scheduling of new ones is prohibited") : fn(s);
    });
  }

  private withBranch(p: Record<string, string>, fn: (s: ProjectState, br: Record<string, any>) => FakeReply): FakeReply {
    return this.withProject(p, (s) => {
      const br = s.branches.get(p.branch_id);
      return br ? fn(s, br) : err(404, `branch ${p.branch_id} not found`);
    });
  }

  private withEndpoint(p: Record<string, string>, fn: (s: ProjectState, e: Record<string, any>) => FakeReply): FakeReply {
    return this.withProject(p, (s) => {
      const e = s.endpoints.get(p.endpoint_id);
      return e ? fn(s, e) : err(404, `endpoint ${p.endpoint_id} not found`);
    });
  }

  private withRole(p: Record<string, string>, fn: (s: ProjectState, r: Record<string, any>) => FakeReply): FakeReply {
    return this.withBranch(p, (s, br) => {
      const r = s.roles.get(`${br.id}/${p.role_name}`);
      return r ? fn(s, r) : err(404, `role ${p.role_name} not found`);
    });
  }

  private withDatabase(p: Record<string, string>, fn: (s: ProjectState, d: Record<string, any>) => FakeReply): FakeReply {
    return this.withBranch(p, (s, br) => {
      const d = s.databases.get(`${br.id}/${p.database_name}`);
      return d ? fn(s, d) : err(404, `database ${p.database_name} not found`);
    });
  }
}

/**
 * Neon's rules for `expires_at`, from neondatabase/website content/docs/guides/branch-expiration.md:
 * "Timestamp must be in the future", "Maximum expiration is 30 days from the current time", and
 * under Restrictions: no expiry on protected branches, default branches, or branches that have
 * children. The status (400) and the wording of these refusals are not documented: assumed.
 */
function expiryRefusal(s: ProjectState, br: Record<string, any> | undefined, expiresAt: string): FakeReply | undefined {
  const at = Date.parse(expiresAt);
  if (!(at > Date.now())) return err(400, "expires_at must be in the future");
  if (at > Date.now() + 30 * DAY_MS) return err(400, "expires_at must be at most 30 days from now");
  if (br?.protected) return err(400, "cannot set an expiration on a protected branch");
  if (br?.default) return err(400, "cannot set an expiration on the default branch");
  if (br && [...s.branches.values()].some((x) => x.parent_id === br.id)) return err(400, "cannot set an expiration on a branch that has children");
  return undefined;
}

function orgBody(o: { id: string; name: string }): Record<string, any> {
  const t = "2026-01-01T00:00:00Z";
  return { id: o.id, name: o.name, handle: o.name, plan: "free_v3", created_at: t, updated_at: t, managed_by: "console" };
}

function publicRole(r: Record<string, any>): Record<string, any> {
  const { password: _, ...rest } = r;
  return rest;
}

function listItem(p: Record<string, any>): Record<string, any> {
  const { active_time_seconds, compute_time_seconds: _c, written_data_bytes: _w, data_transfer_bytes: _d, data_storage_bytes_hour: _s, consumption_period_start: _a, consumption_period_end: _b, history_retention_seconds: _h, ...rest } = p;
  return { ...rest, active_time: active_time_seconds };
}
