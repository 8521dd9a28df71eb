/**
 * The Neon providers as the engine runs them: serialized exactly as a dynamic resource
 * serializes them, rebuilt in @pulumi/pulumi's own dynamic-provider host, driven over gRPC
 * against a stateful Neon fake that validates every request and answer against the OpenAPI
 * document shipped in @neondatabase/api-client, with faults injected.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_RETRY } from "../../infra/providers/core/retry";
import { plainSecretLeaks, ProviderHost, serializeProviders, urnOf, type State } from "./support/provider-host";
import { NEON_FAKE_TOKEN, NeonFake } from "./neon/fake";

const KINDS = {
  Project: { module: "infra/providers/neon/project.ts", export: "neonProjectProvider", secretOutputs: [] as string[] },
  Branch: { module: "infra/providers/neon/branch.ts", export: "neonBranchProvider", secretOutputs: [] as string[] },
  Endpoint: { module: "infra/providers/neon/endpoint.ts", export: "neonEndpointProvider", secretOutputs: ["host"] },
  Role: { module: "infra/providers/neon/role.ts", export: "neonRoleProvider", secretOutputs: ["password"] },
  Database: { module: "infra/providers/neon/database.ts", export: "neonDatabaseProvider", secretOutputs: ["connectionUri"] },
} as const;
type Kind = keyof typeof KINDS;

// The production policy (eight attempts), with a first backoff step of 2 ms (a Retry-After still counts).
const RETRY = DEFAULT_RETRY;

let fake: NeonFake;
let host: ProviderHost;
const texts = {} as Record<Kind, string>;

/** One resource kind driven the way the engine drives it: check, then create/diff/update/read/delete. */
function driver(kind: Kind) {
  const marks = { secretInputs: [] as string[], additionalSecretOutputs: [...KINDS[kind].secretOutputs] };
  const type = `pulumi-nodejs:dynamic/neon:${kind}`;
  const props = (inputs: Record<string, unknown>) => ({ ...inputs, apiUrl: fake.url, __provider: texts[kind] });
  return {
    async check(name: string, inputs: Record<string, unknown>, olds?: State) {
      return host.check(urnOf(type, name), olds, props(inputs));
    },
    async create(name: string, inputs: Record<string, unknown>): Promise<State> {
      const checked = await host.check(urnOf(type, name), undefined, props(inputs));
      expect(checked.failures).toEqual([]);
      return host.create(urnOf(type, name), checked.inputs, marks);
    },
    diff(name: string, state: State, inputs: Record<string, unknown>) {
      return host.diff(urnOf(type, name), state, props(inputs));
    },
    async update(name: string, state: State, inputs: Record<string, unknown>): Promise<State> {
      return host.update(urnOf(type, name), state, props(inputs), marks);
    },
    read(name: string, state: State) {
      return host.read(urnOf(type, name), state.id, state.props, marks);
    },
    delete(name: string, state: State) {
      return host.delete(urnOf(type, name), state);
    },
  };
}

const neon = { project: driver("Project"), branch: driver("Branch"), endpoint: driver("Endpoint"), role: driver("Role"), database: driver("Database") };

/** Every value that must never show outside a secret: the token and every password Neon gave. */
const secrets = () => [NEON_FAKE_TOKEN, ...fake.passwords];

function expectNoLeaks(...states: State[]) {
  for (const s of states) expect(plainSecretLeaks(s, secrets())).toEqual([]);
}

async function failure(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => undefined, (e: Error) => e);
  expect(err, "the call should have failed").toBeInstanceOf(Error);
  const msg = (err as Error).message;
  for (const s of secrets()) expect(msg).not.toContain(s);
  return msg;
}

/** An RFC 3339 time (seconds precision, as Neon stores it) this many days from now. */
const inDays = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString().replace(/\.\d{3}Z$/, "Z");

/** The operationIds called since the last reset, without the operation polls. */
const writes = () => fake.sequence().filter((c) => c !== "getProjectOperation");

beforeAll(async () => {
  fake = await NeonFake.start();
  const kinds = Object.keys(KINDS) as Kind[];
  const serialized = serializeProviders(kinds.map((k) => [KINDS[k].module, KINDS[k].export] as const));
  kinds.forEach((k, i) => (texts[k] = serialized[i]));
  for (const t of Object.values(texts)) expect(t).not.toContain(NEON_FAKE_TOKEN);
  host = await ProviderHost.start({
    config: { "mlflow-kit:neonApiKey": NEON_FAKE_TOKEN, "mlflow-kit:lifecycle": "ephemeral" },
    secretKeys: ["mlflow-kit:neonApiKey"],
    env: { MLFLOW_KIT_RETRY_BASE_DELAY_MS: "2" },
  });
}, 180_000);

afterAll(async () => {
  await host?.stop();
  await fake?.stop();
  for (const s of host?.stderr ?? []) for (const x of secrets()) expect(s).not.toContain(x);
});

beforeEach(() => {
  fake.reset();
  fake.pollsToFinish = 2;
});

describe("Neon providers through the engine's dynamic-provider host", () => {
  let project: State;
  let branch: State;
  let endpoint: State;
  let role: State;
  let tracking: State;
  let auth: State;
  const expiresAt = inDays(7);

  it("creates a project through 429 (Retry-After), 423 and a dropped connection, waiting for its operations", async () => {
    fake.api.inject("listProjects", { kind: "status", status: 429, headers: { "retry-after": "1" }, message: "rate limit exceeded" });
    fake.api.inject("createProject", { kind: "status", status: 423, message: "project is locked" });
    fake.api.inject("listProjectBranches", { kind: "drop" });
    const started = Date.now();
    project = await neon.project.create("project", { name: "mlflow-kit-dev", regionId: "aws-us-east-2" });
    // Retry-After: 1 was honoured.
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(fake.sequence()).toEqual([
      // A personal key: Neon needs org_id, found as the one organization the key sees.
      "getCurrentUserOrganizations",
      "listProjects!429", "listProjects", "createProject!423", "listProjects", "createProject",
      "getProjectOperation", "getProjectOperation", // create_timeline: finished on the 2nd read
      "getProjectOperation", "getProjectOperation", // start_compute
      "listProjectBranches!drop", "listProjectBranches",
    ]);
    expect(project.props).toMatchObject({ name: "mlflow-kit-dev", managed: true, resolvedOrgId: fake.key.orgs[0].id });
    expect(fake.api.calls.find((c) => c.operationId === "createProject" && c.status === 201)?.body).toMatchObject({ project: { org_id: fake.key.orgs[0].id } });
    expect(fake.api.calls.filter((c) => c.operationId === "listProjects").every((c) => c.query.org_id === fake.key.orgs[0].id)).toBe(true);
    expect(fake.projects.get(project.id)?.branches.get(project.props.defaultBranchId as string)?.default).toBe(true);
    expectNoLeaks(project);
  });

  it("creates a copy-on-write branch with the expiry, its compute, a role and two databases", async () => {
    const p = { projectId: project.id };
    fake.api.inject("createProjectBranch", { kind: "status", status: 500, message: "internal error" });
    branch = await neon.branch.create("branch", { ...p, name: "mlflow-kit-dev", expiresAt });
    expect(writes()).toEqual(["listProjectBranches", "listProjectBranches", "createProjectBranch!500", "listProjectBranches", "createProjectBranch"]);
    const stored = fake.projects.get(project.id)!.branches.get(branch.id)!;
    expect(stored).toMatchObject({ name: "mlflow-kit-dev", parent_id: project.props.defaultBranchId, expires_at: expiresAt });
    // No compute in the branch request: the Endpoint resource adds exactly one.
    expect(fake.api.calls.find((c) => c.operationId === "createProjectBranch" && c.status === 201)?.body).toEqual({ branch: { name: "mlflow-kit-dev", parent_id: project.props.defaultBranchId, expires_at: expiresAt } });

    fake.reset();
    fake.api.inject("createProjectEndpoint", { kind: "status", status: 429, headers: { "x-ratelimit-reset": "0" } }, 2);
    endpoint = await neon.endpoint.create("endpoint", { ...p, branchId: branch.id });
    expect(writes()).toEqual(["listProjectBranchEndpoints", "createProjectEndpoint!429", "listProjectBranchEndpoints", "createProjectEndpoint!429", "listProjectBranchEndpoints", "createProjectEndpoint"]);
    expect(endpoint.secret).toContain("host");

    fake.reset();
    fake.api.inject("createProjectBranchRole", { kind: "drop" });
    role = await neon.role.create("role", { ...p, branchId: branch.id, name: "mlflow_app", passwordRotation: 0 });
    expect(writes()).toEqual(["getProjectBranchRole!404", "createProjectBranchRole!drop", "getProjectBranchRole!404", "createProjectBranchRole"]);
    expect(role.props.password).toBe(fake.projects.get(project.id)!.roles.get(`${branch.id}/mlflow_app`)!.password);
    expect(role.secret).toContain("password");

    fake.reset();
    const db = { ...p, branchId: branch.id, endpointId: endpoint.id, ownerName: "mlflow_app", roleRotation: 0 };
    fake.api.inject("getConnectionURI", { kind: "status", status: 503 });
    tracking = await neon.database.create("tracking", { ...db, name: "mlflow_tracking" });
    auth = await neon.database.create("auth", { ...db, name: "mlflow_auth" });
    expect(writes()).toEqual([
      "getProjectBranchDatabase!404", "createProjectBranchDatabase", "getConnectionURI!503", "getConnectionURI",
      "getProjectBranchDatabase!404", "createProjectBranchDatabase", "getConnectionURI",
    ]);
    for (const [state, name] of [[tracking, "mlflow_tracking"], [auth, "mlflow_auth"]] as const) {
      const uri = new URL(state.props.connectionUri as string);
      expect(uri.username).toBe("mlflow_app");
      expect(uri.password).toBe(role.props.password);
      expect(uri.hostname).toMatch(/^ep-[a-z0-9-]+-pooler\./);
      expect(uri.pathname).toBe(`/${name}`);
      expect(uri.searchParams.get("sslmode")).toBe("require");
      expect(state.secret).toContain("connectionUri");
    }
    expect(fake.projects.get(project.id)!.databases.get(`${branch.id}/mlflow_auth`)?.owner_name).toBe("mlflow_app");
    expectNoLeaks(project, branch, endpoint, role, tracking, auth);
  });

  it("diffs unchanged inputs as no change, without calling Neon", async () => {
    const same: Array<[keyof typeof neon, State]> = [["project", project], ["branch", branch], ["endpoint", endpoint], ["role", role], ["database", tracking]];
    for (const [k, s] of same) {
      const inputs = { ...s.props };
      delete inputs.__provider;
      expect(await neon[k].diff(k, s, inputs), k).toMatchObject({ changes: "none", replaces: [] });
      // A new API URL never replaces (the tests point it at the fake).
      expect((await neon[k].diff(k, s, { ...inputs, apiUrl: "https://console.neon.tech/api/v2" })).replaces).toEqual([]);
    }
    expect(fake.sequence()).toEqual([]);
  });

  it("refreshes with read", async () => {
    const r = await neon.branch.read("branch", branch);
    expect(r.id).toBe(branch.id);
    expect(r.props.expiresAt).toBe(expiresAt);
    expect(fake.sequence()).toEqual(["getProjectBranch"]);
    const e = await neon.endpoint.read("endpoint", endpoint);
    expect(e.props.host).toBe(endpoint.props.host);
  });

  it("updates the expiry and renames the project in place", async () => {
    const later = inDays(14);
    const inputs = { projectId: project.id, name: "mlflow-kit-dev", expiresAt: later };
    expect(await neon.branch.diff("branch", branch, inputs)).toMatchObject({ changes: "some", replaces: [] });
    fake.api.inject("updateProjectBranch", { kind: "status", status: 423 });
    branch = await neon.branch.update("branch", branch, inputs);
    expect(fake.projects.get(project.id)!.branches.get(branch.id)!.expires_at).toBe(later);
    // Read first: Neon lets no default, protected or parent branch expire.
    expect(writes()).toEqual(["getProjectBranch", "listProjectBranches", "updateProjectBranch!423", "updateProjectBranch"]);
    expect(fake.api.calls.at(-1)?.body).toEqual({ branch: { expires_at: later } });

    fake.reset();
    const renamed = { name: "mlflow-kit-dev-2", regionId: "aws-us-east-2" };
    expect(await neon.project.diff("project", project, renamed)).toMatchObject({ changes: "some", replaces: [] });
    project = await neon.project.update("project", project, renamed);
    expect(fake.projects.get(project.id)!.project.name).toBe("mlflow-kit-dev-2");
    expect(writes()).toEqual(["updateProject"]);
  });

  it("rotates the role password in place: only the password changes, then the URIs follow", async () => {
    const before = { role: { ...role.props }, tracking: tracking.props.connectionUri as string };
    const inputs = { projectId: project.id, branchId: branch.id, name: "mlflow_app", passwordRotation: 1 };
    expect(await neon.role.diff("role", role, inputs)).toMatchObject({ changes: "some", replaces: [] });
    fake.api.inject("resetProjectBranchRolePassword", { kind: "status", status: 429, headers: { "retry-after": "0" } });
    role = await neon.role.update("role", role, inputs);
    expect(writes()).toEqual(["resetProjectBranchRolePassword!429", "resetProjectBranchRolePassword"]);
    expect(role.id).toBe(`${branch.id}/mlflow_app`);
    expect(role.props.password).not.toBe(before.role.password);
    const { password: _a, passwordRotation: _b, ...restAfter } = role.props;
    const { password: _c, passwordRotation: _d, ...restBefore } = before.role;
    expect(restAfter).toEqual(restBefore);
    // The role and its databases were never deleted or recreated.
    expect(fake.api.calls.some((c) => /^(delete|create)/.test(c.operationId))).toBe(false);

    fake.reset();
    const db = { projectId: project.id, branchId: branch.id, endpointId: endpoint.id, ownerName: "mlflow_app", name: "mlflow_tracking", roleRotation: 1 };
    expect(await neon.database.diff("tracking", tracking, db)).toMatchObject({ changes: "some", replaces: [] });
    tracking = await neon.database.update("tracking", tracking, db);
    expect(writes()).toEqual(["getConnectionURI"]);
    const after = new URL(tracking.props.connectionUri as string);
    expect(after.password).toBe(role.props.password);
    const mask = (u: string) => { const x = new URL(u); x.password = "x"; return x.toString(); };
    expect(mask(tracking.props.connectionUri as string)).toBe(mask(before.tracking));
    expectNoLeaks(role, tracking);
  });

  it("says which changes replace, and replaces a role under a new name", async () => {
    expect((await neon.branch.diff("branch", branch, { projectId: project.id, name: "mlflow-kit-dev", parentId: "br-other-000000" })).replaces).toEqual(["parentId"]);
    expect((await neon.project.diff("project", project, { name: "mlflow-kit-dev-2", regionId: "aws-eu-central-1" })).replaces).toEqual(["regionId"]);
    expect((await neon.endpoint.diff("endpoint", endpoint, { projectId: project.id, branchId: "br-other-000000" })).replaces).toEqual(["branchId"]);
    expect((await neon.database.diff("tracking", tracking, { ...tracking.props, name: "mlflow_other" })).replaces).toEqual(["name"]);
    const tmp = await neon.role.create("tmp", { projectId: project.id, branchId: branch.id, name: "mlflow_tmp", passwordRotation: 0 });
    fake.reset();
    const inputs = { projectId: project.id, branchId: branch.id, name: "mlflow_tmp2", passwordRotation: 0 };
    const d = await neon.role.diff("tmp", tmp, inputs);
    expect(d).toMatchObject({ changes: "some", replaces: ["name"] });
    // The engine creates the replacement first, then deletes the old one.
    const replacement = await neon.role.create("tmp", inputs);
    await neon.role.delete("tmp", tmp);
    expect(writes()).toEqual(["getProjectBranchRole!404", "createProjectBranchRole", "deleteProjectBranchRole"]);
    const roles = fake.projects.get(project.id)!.roles;
    expect(roles.has(`${branch.id}/mlflow_tmp2`)).toBe(true);
    expect(roles.has(`${branch.id}/mlflow_tmp`)).toBe(false);
    await neon.role.delete("tmp", replacement);
  });

  it("adopts what an interrupted create left instead of duplicating it", async () => {
    // The branch POST reached Neon, then the run died while waiting (401 here: not retried).
    fake.api.inject("getProjectOperation", { kind: "status", status: 401 });
    const inputs = { projectId: project.id, name: "review-7", expiresAt };
    const msg = await failure(neon.branch.create("review", inputs));
    expect(msg).toContain("mlflow-kit:neonApiKey");
    fake.finishAll();
    fake.reset();
    const adopted = await neon.branch.create("review", inputs);
    // Default branch, the lookup by name, and (an expiry on what it adopts) no children under it.
    expect(writes()).toEqual(["listProjectBranches", "listProjectBranches", "listProjectBranches"]);
    expect([...fake.projects.get(project.id)!.branches.values()].filter((b) => b.name === "review-7")).toHaveLength(1);

    // Same for a role: adopted, and given a new password (the old one never reached the state).
    fake.reset();
    fake.api.inject("getProjectOperation", { kind: "status", status: 403 });
    const roleInputs = { projectId: project.id, branchId: adopted.id, name: "reviewer", passwordRotation: 0 };
    await failure(neon.role.create("reviewer", roleInputs));
    // The interrupted create's operation still runs: Neon refuses writes (423) until it ends.
    fake.reset();
    const locked = await failure(neon.role.create("reviewer", roleInputs));
    expect(locked).toMatch(/resetting the password of the Neon role reviewer gave up after \d+ s of retries: the project stayed locked by another operation \(423\)/);
    expect(writes()).toEqual(["getProjectBranchRole", ...Array(RETRY.maxAttempts).fill("resetProjectBranchRolePassword!423")]);
    fake.finishAll();
    fake.reset();
    const r = await neon.role.create("reviewer", roleInputs);
    expect(writes()).toEqual(["getProjectBranchRole", "resetProjectBranchRolePassword"]);
    expect(r.props.password).toBe(fake.projects.get(project.id)!.roles.get(`${adopted.id}/reviewer`)!.password);
    expectNoLeaks(adopted, r);
    await neon.branch.delete("review", adopted);
  });

  it("gives up after a bounded number of retries, naming what it was doing", async () => {
    fake.api.inject("createProjectBranchRole", { kind: "status", status: 500 }, 100);
    const msg = await failure(neon.role.create("role-x", { projectId: project.id, branchId: branch.id, name: "mlflow_x", passwordRotation: 0 }));
    expect(msg).toMatch(/Neon: creating the Neon role mlflow_x on branch br-[a-z0-9-]+ gave up after \d+ s of retries: HTTP 500/);
    expect(fake.sequence().filter((c) => c === "createProjectBranchRole!500")).toHaveLength(RETRY.maxAttempts);

    fake.reset();
    fake.api.inject("listProjectBranchEndpoints", { kind: "drop" }, 100);
    const dropped = await failure(neon.endpoint.create("endpoint-x", { projectId: project.id, branchId: branch.id }));
    expect(dropped).toContain("the connection kept dropping");
    expect(fake.sequence()).toHaveLength(RETRY.maxAttempts);
  });

  it("turns 401, 402, 403 and 404 into one sentence naming the key, the plan or the permission", async () => {
    const b = { projectId: project.id, name: "plan-test" };
    fake.api.inject("listProjectBranches", { kind: "status", status: 401 });
    expect(await failure(neon.branch.create("b401", b))).toMatch(/Neon rejected the token in mlflow-kit:neonApiKey \(401 Unauthorized\).*pulumi config set --secret mlflow-kit:neonApiKey/);
    fake.api.inject("createProjectBranch", { kind: "status", status: 402, message: "branches limit exceeded" });
    expect(await failure(neon.branch.create("b402", b))).toMatch(/402 Payment Required\): the Neon plan .* does not allow it.*branches limit exceeded/);
    fake.api.inject("createProjectBranch", { kind: "status", status: 403, message: "permission denied" });
    expect(await failure(neon.branch.create("b403", b))).toMatch(/403 Forbidden\): the token in mlflow-kit:neonApiKey lacks access to the project/);
    const m404 = await failure(neon.role.create("r404", { projectId: project.id, branchId: "br-missing-000000", name: "mlflow_app", passwordRotation: 0 }));
    expect(m404).toMatch(/404 Not Found\): the object does not exist or the token in mlflow-kit:neonApiKey cannot see it/);
    // 409 that is not ours to adopt (the fake's 409 here is injected: no branch of that name exists).
    fake.api.inject("createProjectBranch", { kind: "status", status: 409, message: "conflict" });
    expect(await failure(neon.branch.create("b409", b))).toMatch(/Neon: creating the Neon branch plan-test .* failed \(HTTP 409\)/);
    expect([...fake.projects.get(project.id)!.branches.values()].some((x) => x.name === "plan-test")).toBe(false);
  });

  it("fails naming a Neon operation that failed", async () => {
    const b = await neon.branch.create("opfail", { projectId: project.id, name: "opfail" });
    fake.failNextOperation = "start_compute";
    const msg = await failure(neon.endpoint.create("opfail-ep", { projectId: project.id, branchId: b.id }));
    expect(msg).toMatch(/the Neon operation start_compute [0-9a-f-]{36} \(creating the read_write compute of the Neon branch br-[a-z0-9-]+\): failed \(failed\): compute failed to start/);
    fake.finishAll();
    await neon.branch.delete("opfail", b);
  });

  it("a personal key in several organizations (or none): asks for database.orgId, naming them, before any project call", async () => {
    const saved = fake.key;
    try {
      fake.key = { kind: "personal", orgs: [{ id: "org-first-00000001", name: "first" }, { id: "org-second-0000002", name: "second" }] };
      const msg = await failure(neon.project.create("p-orgs", { name: "mlflow-kit-orgs", regionId: "aws-us-east-2" }));
      expect(msg).toMatch(/mlflow-kit:database\.orgId: is unset and the key in mlflow-kit:neonApiKey belongs to 2 Neon organizations: first \(org-first-00000001\), second \(org-second-0000002\)\. Choose one: `pulumi config set --path mlflow-kit:database\.orgId <org-\.\.\.>`/);
      fake.key = { kind: "personal", orgs: [] };
      expect(await failure(neon.project.create("p-none", { name: "mlflow-kit-none", regionId: "aws-us-east-2" }))).toMatch(/mlflow-kit:database\.orgId: is unset and the key .* belongs to no Neon organization/);
      expect(writes()).toEqual(["getCurrentUserOrganizations", "getCurrentUserOrganizations"]);

      // Named: used as is, no lookup; the project lands in that organization.
      fake.reset();
      fake.key = { kind: "personal", orgs: [{ id: "org-first-00000001", name: "first" }, { id: "org-second-0000002", name: "second" }] };
      const p = await neon.project.create("p-named", { name: "mlflow-kit-named", regionId: "aws-us-east-2", orgId: "org-second-0000002" });
      expect(writes()).toEqual(["listProjects", "createProject", "listProjectBranches"]);
      expect(fake.projects.get(p.id)!.project.org_id).toBe("org-second-0000002");
      // Writing down the organization the lookup found (or dropping orgId) replaces nothing; another one does.
      expect((await neon.project.diff("project", project, { name: "mlflow-kit-dev-2", regionId: "aws-us-east-2", orgId: project.props.resolvedOrgId })).replaces).toEqual([]);
      expect((await neon.project.diff("p-named", p, { name: "mlflow-kit-named", regionId: "aws-us-east-2" })).replaces).toEqual([]);
      expect((await neon.project.diff("p-named", p, { name: "mlflow-kit-named", regionId: "aws-us-east-2", orgId: "org-first-00000001" })).replaces).toEqual(["orgId"]);
      await neon.project.delete("p-named", p);

      // An organization key implies its organization: the lookup gives exactly that one.
      fake.reset();
      fake.key = { kind: "org", orgs: [{ id: "org-team-000000003", name: "team" }] };
      const t = await neon.project.create("p-team", { name: "mlflow-kit-team", regionId: "aws-us-east-2" });
      expect(fake.projects.get(t.id)!.project.org_id).toBe("org-team-000000003");
      await neon.project.delete("p-team", t);
    } finally {
      fake.key = saved;
    }
  });

  it("a branch expiry Neon would refuse is refused first, with the limit: past, over 30 days, default or parent branch", async () => {
    const past = await neon.branch.check("x", { projectId: project.id, name: "x", expiresAt: inDays(-1) });
    expect(past.failures).toEqual([{ property: "expiresAt", reason: expect.stringMatching(/has passed; Neon takes only a future expiry/) }]);
    const far = await neon.branch.check("x", { projectId: project.id, name: "x", expiresAt: inDays(31) });
    expect(far.failures).toEqual([{ property: "expiresAt", reason: expect.stringMatching(/more than 30 days ahead, the most Neon allows.*ttlHours of at most 719/) }]);
    expect(fake.sequence()).toEqual([]);

    // database.branch naming the default branch ("main") on an ephemeral stack: never expire it.
    const msg = await failure(neon.branch.create("main", { projectId: project.id, name: "main", expiresAt }));
    expect(msg).toMatch(/the branch main \(br-[a-z0-9-]+\) is the project's default branch, which Neon never lets expire/);
    expect(fake.projects.get(project.id)!.branches.get(project.props.defaultBranchId as string)!.expires_at).toBeUndefined();

    // A parent branch cannot expire: an expiry added to a branch that has a child is refused first.
    const parent = await neon.branch.create("parent", { projectId: project.id, name: "expiry-parent" });
    const child = await neon.branch.create("child", { projectId: project.id, name: "expiry-child", parentId: parent.id });
    fake.reset();
    const m2 = await failure(neon.branch.update("parent", parent, { projectId: project.id, name: "expiry-parent", expiresAt }));
    expect(m2).toMatch(/has 1 child branch\(es\) \(expiry-child\), and Neon does not let a parent branch expire/);
    expect(writes()).not.toContain("updateProjectBranch");
    // ... nor a child made of an expiring branch.
    const expiring = await neon.branch.create("expiring", { projectId: project.id, name: "expiry-short", expiresAt });
    const m3 = await failure(neon.branch.create("grandchild", { projectId: project.id, name: "expiry-gc", parentId: expiring.id }));
    expect(m3).toMatch(/cannot be a child of expiry-short .* which expires at .*Neon creates no branch from an expiring one/);
    for (const b of [child, parent, expiring]) await neon.branch.delete(b.props.name as string, b);
  });

  it("the fake refuses what Neon refuses: an expiry in the past or beyond 30 days (branch-expiration.md)", async () => {
    // Straight to the handler's rules, bypassing the provider's own check.
    const b = await neon.branch.create("fake-rules", { projectId: project.id, name: "fake-rules" });
    const url = `${fake.url}/projects/${project.id}/branches/${b.id}`;
    for (const [at, said] of [[inDays(-1), /in the future/], [inDays(31), /at most 30 days/]] as const) {
      const r = await fetch(url, { method: "PATCH", headers: { authorization: `Bearer ${NEON_FAKE_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ branch: { expires_at: at } }) });
      expect(r.status).toBe(400);
      expect(((await r.json()) as { message: string }).message).toMatch(said);
    }
    await neon.branch.delete("fake-rules", b);
  });

  // A restore (README "Backup and restore"): a branch of the source branch as it was then,
  // the create call's parent_id + parent_timestamp, checked against Neon's OpenAPI document.
  // The source carries no expiry: Neon creates no child of an expiring branch (branch-expiration.md).
  it("creates a branch from another branch at a point in time", async () => {
    const at = "2026-11-30T12:00:00Z";
    const source = await neon.branch.create("source", { projectId: project.id, name: "mlflow-kit-source" });
    fake.reset();
    const restored = await neon.branch.create("restored", { projectId: project.id, name: "mlflow-kit-restored", parentId: source.id, parentTimestamp: at });
    expect(fake.api.calls.find((c) => c.operationId === "createProjectBranch" && c.status === 201)?.body).toEqual({ branch: { name: "mlflow-kit-restored", parent_id: source.id, parent_timestamp: at } });
    expect(restored.props).toMatchObject({ parentBranchId: source.id, parentTimestamp: at });
    // An ephemeral source (it expires) cannot be restored from by branching: said before any create.
    expect(await failure(neon.branch.create("from-expiring", { projectId: project.id, name: "mlflow-kit-x", parentId: branch.id, parentTimestamp: at }))).toMatch(/Neon creates no branch from an expiring one/);
    const both = await neon.branch.check("both", { projectId: project.id, name: "x", parentId: branch.id, parentTimestamp: at, parentLsn: "0/1F4A3B8" });
    expect(both.failures).toEqual([{ property: "parentLsn", reason: "give parentTimestamp or parentLsn, not both" }]);
    const bad = await neon.branch.check("bad-time", { projectId: project.id, name: "x", parentId: branch.id, parentTimestamp: "yesterday" });
    expect(bad.failures).toEqual([{ property: "parentTimestamp", reason: expect.stringContaining("RFC 3339") }]);
    await neon.branch.delete("restored", restored);
    await neon.branch.delete("source", source);
  });

  it("refuses bad inputs in check, before any call", async () => {
    const r = await neon.role.check("bad", { projectId: project.id, branchId: branch.id, name: "pg_admin", passwordRotation: -1 });
    expect(r.failures.map((f) => f.property).sort()).toEqual(["name", "passwordRotation"]);
    const b = await neon.branch.check("bad", { projectId: project.id, name: "x", expiresAt: "tomorrow" });
    expect(b.failures).toEqual([{ property: "expiresAt", reason: expect.stringContaining("RFC 3339") }]);
    expect(fake.sequence()).toEqual([]);
  });

  it("references an existing project by id and never deletes it", async () => {
    const existing = fake.seedProject("shared-reviews");
    const ref = await neon.project.create("ref", { name: "ignored", regionId: "aws-us-east-2", existingProjectId: existing.project.id });
    expect(ref.props).toMatchObject({ managed: false, projectId: existing.project.id });
    expect(writes()).toEqual(["listProjectBranches"]);
    fake.reset();
    await neon.project.delete("ref", ref);
    expect(fake.sequence()).toEqual([]);
    expect(fake.projects.has(existing.project.id)).toBe(true);
  });

  it("deletes everything, treating 404 as done", async () => {
    fake.api.inject("deleteProjectBranchDatabase", { kind: "status", status: 429, headers: { "retry-after": "0" } });
    await neon.database.delete("auth", auth);
    await neon.database.delete("tracking", tracking);
    await neon.role.delete("role", role);
    await neon.endpoint.delete("endpoint", endpoint);
    await neon.branch.delete("branch", branch);
    // Already gone (expired branch, deleted by hand): done, no error.
    await neon.branch.delete("branch", branch);
    await neon.role.delete("role", role);
    expect(writes()).toEqual([
      "deleteProjectBranchDatabase!429", "deleteProjectBranchDatabase", "deleteProjectBranchDatabase",
      "deleteProjectBranchRole", "deleteProjectEndpoint", "deleteProjectBranch",
      "deleteProjectBranch!404", "deleteProjectBranchRole!404",
    ]);
    // A read of what is gone tells the engine so (empty id).
    expect((await neon.branch.read("branch", branch)).id).toBe("");
    await neon.project.delete("project", project);
    await neon.project.delete("project", project);
    expect(fake.projects.has(project.id)).toBe(false);
  });

  it("saw nothing off the Neon document and no token outside the Authorization header", () => {
    expect(fake.problems).toEqual([]);
  });
});
