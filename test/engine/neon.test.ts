/**
 * The kit's Neon providers under the real Pulumi engine (CLI and Node.js language host built from
 * the Go module proxy, file backend): up, preview --expect-no-changes, refresh, an update (password
 * rotation), a replace (database rename), an import of a project that exists at Neon, destroy;
 * each with a fault injected at the Neon fake (which validates every call against Neon's OpenAPI
 * document). The exported state and the state files hold no credential in plain text.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NEON_FAKE_TOKEN, NeonFake } from "../providers/neon/fake";
import { EngineStack, isEncryptedSecret, plainTextLeaks, resourcesOf, type StateFile } from "./support/engine";

let fake: NeonFake;
let stack: EngineStack;

/** Every value that must never be in plain text: the API key, each password Neon handed out. */
const secrets = () => [NEON_FAKE_TOKEN, ...fake.passwords];

async function expectStateClean(): Promise<StateFile> {
  const state = await stack.exportState();
  expect(plainTextLeaks(state, secrets())).toEqual([]);
  // The files themselves (state, its backups and history, the stack config) as well.
  const disk = stack.filesOnDisk();
  for (const s of secrets()) expect(disk.includes(s), "a credential in plain text on disk").toBe(false);
  for (const r of state.deployment.resources ?? []) {
    const provider = String(r.inputs?.__provider ?? r.outputs?.__provider ?? "");
    if (r.type.startsWith("pulumi-nodejs:dynamic/")) {
      expect(provider.length, `${r.urn} has its serialized provider`).toBeGreaterThan(100);
      expect(provider).not.toContain(NEON_FAKE_TOKEN);
    }
  }
  return state;
}

function ok(r: { code: number; stdout: string; stderr: string }): void {
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
}

beforeAll(async () => {
  fake = await NeonFake.start();
  stack = await EngineStack.create({
    program: "test/engine/programs/neon",
    stack: "neon",
    config: { "engine:apiUrl": fake.url, "mlflow-kit:lifecycle": "ephemeral" },
    secrets: { "mlflow-kit:neonApiKey": NEON_FAKE_TOKEN },
    // 50 ms: eight retries outlast the fake's project lock (an operation runs until polled twice, ~0.5 s),
    // which the engine's parallel deletes meet; 2 ms gave up inside it.
    env: { MLFLOW_KIT_RETRY_BASE_DELAY_MS: "50" },
  });
}, 120_000);

afterAll(async () => {
  await stack?.remove();
  await fake?.stop();
  expect(fake?.problems ?? []).toEqual([]);
});

describe("Neon under the real engine", () => {
  it("up: creates the project, branch, endpoint, role and database through 429, 423 and a dropped connection", async () => {
    fake.api.inject("listProjects", { kind: "status", status: 429, headers: { "retry-after": "1" } });
    fake.api.inject("createProject", { kind: "status", status: 423 });
    fake.api.inject("createProjectBranch", { kind: "drop" });
    ok(await stack.up());
    expect(fake.sequence()).toEqual(expect.arrayContaining(["listProjects!429", "createProject!423", "createProjectBranch!drop", "createProjectBranch"]));
    expect(fake.projects.size).toBe(1);
    const [p] = [...fake.projects.values()];
    const out = await stack.outputs();
    expect(out.projectId).toBe(p.project.id);
    expect([...p.branches.values()].map((b) => b.name).sort()).toEqual(["engine-dev", "main"]);
    const role = p.roles.get(`${out.branchId}/mlflow_app`)!;
    expect(out.password).toBe(role.password);
    expect(out.connectionUri).toContain(`mlflow_app:${role.password}@`);
    expect(String(out.connectionUri)).toMatch(/\/mlflow\?sslmode=require/);

    const state = await expectStateClean();
    const [r] = resourcesOf(state, "neon:Role");
    expect(isEncryptedSecret(r.outputs!.password)).toBe(true);
    expect(isEncryptedSecret(resourcesOf(state, "neon:Database")[0].outputs!.connectionUri)).toBe(true);
    expect(isEncryptedSecret(resourcesOf(state, "neon:Endpoint")[0].outputs!.host)).toBe(true);
    // The stack outputs are secrets too: without --show-secrets the CLI prints none of them.
    const shown = (await stack.must(["stack", "output", "--json"])).stdout;
    for (const s of secrets()) expect(shown).not.toContain(s);
  });

  it("preview --expect-no-changes right after the up: the serialized providers and inputs are stable", async () => {
    ok(await stack.preview(["--expect-no-changes"]));
  });

  it("refresh reads every resource back through a 500, and leaves nothing to change", async () => {
    fake.reset();
    fake.api.inject("getProject", { kind: "status", status: 500 });
    ok(await stack.refresh());
    expect(fake.sequence()).toContain("getProject!500");
    ok(await stack.preview(["--expect-no-changes"]));
    await expectStateClean();
  });

  it("update: a password rotation resets the role's password in place (through a 500) and the URI follows", async () => {
    const before = await stack.outputs();
    await stack.setConfig({ "engine:rotation": "1" });
    const preview = await stack.preview();
    ok(preview);
    expect(preview.stdout).toMatch(/~ .*neon:Role|neon:Role.*update/s);
    expect(preview.stdout).not.toMatch(/\+- .*neon:Role/);
    fake.reset();
    fake.api.inject("resetProjectBranchRolePassword", { kind: "status", status: 500 });
    ok(await stack.up());
    const after = await stack.outputs();
    expect(after.password).not.toBe(before.password);
    expect(after.connectionUri).toContain(`:${after.password}@`);
    expect(after.projectId).toBe(before.projectId);
    expect(fake.sequence()).not.toContain("deleteProjectBranchRole");
    ok(await stack.preview(["--expect-no-changes"]));
    await expectStateClean();
  });

  it("replace: a new database name creates the new database before deleting the old one (through a 423)", async () => {
    await stack.setConfig({ "engine:database": "mlflow_v2" });
    fake.reset();
    fake.api.inject("deleteProjectBranchDatabase", { kind: "status", status: 423 });
    const r = await stack.up();
    ok(r);
    const writes = fake.sequence().filter((c) => /Database/.test(c) && !c.startsWith("get"));
    expect(writes).toEqual(["createProjectBranchDatabase", "deleteProjectBranchDatabase!423", "deleteProjectBranchDatabase"]);
    const out = await stack.outputs();
    expect(String(out.connectionUri)).toMatch(/\/mlflow_v2\?/);
    const [p] = [...fake.projects.values()].filter((x) => x.project.id === out.projectId);
    expect([...p.databases.keys()].filter((k) => k.startsWith(`${out.branchId}/`)).sort()).toEqual([`${out.branchId}/mlflow_v2`, `${out.branchId}/neondb`]);
    ok(await stack.preview(["--expect-no-changes"]));
    await expectStateClean();
  });

  it("import: a project that already exists at Neon is adopted by its create (through a 429), not created again", async () => {
    const existing = fake.seedProject("legacy-tracking");
    await stack.setConfig({ "engine:adoptName": "legacy-tracking" });
    fake.reset();
    fake.api.inject("listProjects", { kind: "status", status: 429 });
    ok(await stack.up());
    expect(fake.sequence()).toContain("listProjects!429");
    expect(fake.sequence()).not.toContain("createProject");
    const out = await stack.outputs();
    expect(out.adoptedProjectId).toBe(existing.project.id);
    const state = await expectStateClean();
    const [adopted] = resourcesOf(state, "neon:Project").filter((r) => r.urn.endsWith("::adopted"));
    expect(adopted.id).toBe(existing.project.id);
    ok(await stack.preview(["--expect-no-changes"]));
  });

  it("the `import` resource option cannot import a dynamic resource: the engine's import Read carries no inputs, the up fails and nothing changes", async () => {
    const existing = fake.seedProject("legacy-2");
    await stack.setConfig({ "engine:importId": existing.project.id });
    const before = (await stack.exportState()).deployment.resources!.map((x) => x.urn).sort();
    fake.reset();
    const r = await stack.up();
    expect(r.code).not.toBe(0);
    // The dynamic-provider host finds no serialized provider in the (empty) Read request.
    expect(`${r.stdout}${r.stderr}`).toContain("code must be a string, not undefined");
    for (const s of secrets()) expect(`${r.stdout}${r.stderr}`).not.toContain(s);
    expect(fake.sequence()).toEqual([]);
    expect((await stack.exportState()).deployment.resources!.map((x) => x.urn).sort()).toEqual(before);
    await stack.must(["config", "rm", "engine:importId"]);
    fake.projects.delete(existing.project.id);
    ok(await stack.preview(["--expect-no-changes"]));
  });

  it("destroy removes everything at Neon through a dropped connection, the imported project included", async () => {
    fake.reset();
    fake.api.inject("deleteProject", { kind: "drop" });
    ok(await stack.destroy());
    expect(fake.sequence()).toContain("deleteProject!drop");
    expect(fake.projects.size).toBe(0);
    const state = await stack.exportState();
    expect((state.deployment.resources ?? []).filter((r) => r.type !== "pulumi:pulumi:Stack")).toEqual([]);
    await expectStateClean();
  });
});
