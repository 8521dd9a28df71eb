/**
 * The kit's Hugging Face providers (Space, SpaceRelease) under the real Pulumi engine against
 * the Hub fake: up, preview --expect-no-changes, refresh, an update (a rotated secret), a
 * replace (a new Space name), taking over a Space that exists at the Hub (its create adopts it:
 * the engine cannot `import` a dynamic resource, see neon.test.ts), destroy; each with a
 * fault injected. The state holds the token and the Space's secrets only encrypted.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHfFake, type HfFake } from "../providers/hf/fake";
import { EngineStack, isEncryptedSecret, plainTextLeaks, resourcesOf, type StateFile } from "./support/engine";

// Built at run time: no tracked line looks like a token.
const TOKEN = ["hf", randomBytes(12).toString("hex")].join("_");
const PASSWORDS = [`Admin-${randomBytes(9).toString("hex")}`, `Admin-${randomBytes(9).toString("hex")}`];

let fake: HfFake;
let stack: EngineStack;

const ok = (r: { code: number; stdout: string; stderr: string }) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);

async function expectStateClean(): Promise<StateFile> {
  const state = await stack.exportState();
  expect(plainTextLeaks(state, [TOKEN, ...PASSWORDS])).toEqual([]);
  const disk = stack.filesOnDisk();
  for (const s of [TOKEN, ...PASSWORDS]) expect(disk.includes(s), "a credential in plain text on disk").toBe(false);
  for (const r of state.deployment.resources ?? []) {
    if (!r.type.startsWith("pulumi-nodejs:dynamic/")) continue;
    const provider = String(r.outputs?.__provider ?? "");
    expect(provider.length).toBeGreaterThan(100);
    expect(provider).not.toContain(TOKEN);
  }
  return state;
}

beforeAll(async () => {
  fake = await startHfFake(TOKEN);
  stack = await EngineStack.create({
    program: "test/engine/programs/hf",
    stack: "hf",
    config: { "engine:apiUrl": fake.api.url },
    secrets: { "mlflow-kit:hfToken": TOKEN, "engine:adminPassword": PASSWORDS[0] },
    env: { MLFLOW_KIT_RETRY_BASE_DELAY_MS: "2" },
  });
}, 120_000);

afterAll(async () => {
  await stack?.remove();
  await fake?.api.stop();
  expect(fake?.api.problems ?? []).toEqual([]);
});

describe("Hugging Face under the real engine", () => {
  it("up: creates the Space and releases into it through a dropped connection, a 429 and a 500, then waits until it runs", async () => {
    fake.api.inject("whoami", { kind: "drop" });
    fake.api.inject("createRepo", { kind: "status", status: 429, headers: { "retry-after": "0" } });
    fake.api.inject("upsertSecret", { kind: "status", status: 500 });
    ok(await stack.up());
    expect(fake.api.sequence()).toEqual(expect.arrayContaining(["whoami!drop", "createRepo!429", "upsertSecret!500", "commit"]));
    const s = fake.spaces.get("alice/mlflow-engine")!;
    expect(s.secrets).toEqual({ MLFLOW_ADMIN_PASSWORD: PASSWORDS[0] });
    expect(s.files.Dockerfile).toContain("sha256:");
    expect(await stack.outputs()).toMatchObject({ repoId: "alice/mlflow-engine", stage: "RUNNING" });
    const state = await expectStateClean();
    const [release] = resourcesOf(state, "hf:SpaceRelease");
    expect(isEncryptedSecret(release.outputs!.secrets)).toBe(true);
    expect(isEncryptedSecret(release.inputs!.secrets)).toBe(true);
  });

  it("preview --expect-no-changes after the up", async () => {
    ok(await stack.preview(["--expect-no-changes"]));
  });

  it("refresh reads the release back (through a 500) and leaves nothing to change", async () => {
    fake.api.reset();
    fake.api.inject("listVariables", { kind: "status", status: 500 });
    ok(await stack.refresh());
    expect(fake.api.sequence()).toContain("listVariables!500");
    ok(await stack.preview(["--expect-no-changes"]));
    await expectStateClean();
  });

  it("update: a rotated admin password changes that secret and restarts the Space (through a 429), no commit", async () => {
    await stack.setConfig({}, { "engine:adminPassword": PASSWORDS[1] });
    fake.api.reset();
    fake.api.inject("restartSpace", { kind: "status", status: 429, headers: { "retry-after": "0" } });
    const commitsBefore = fake.spaces.get("alice/mlflow-engine")!.commits;
    ok(await stack.up());
    const s = fake.spaces.get("alice/mlflow-engine")!;
    expect(s.secrets.MLFLOW_ADMIN_PASSWORD).toBe(PASSWORDS[1]);
    expect(s.commits).toBe(commitsBefore);
    expect(fake.api.sequence()).toEqual(expect.arrayContaining(["restartSpace!429", "restartSpace"]));
    expect(fake.api.sequence()).not.toContain("createRepo");
    ok(await stack.preview(["--expect-no-changes"]));
    await expectStateClean();
  });

  it("replace: a new Space name creates the new Space and release, then deletes the old Space (through a 500)", async () => {
    await stack.setConfig({ "engine:spaceName": "mlflow-engine-2" });
    fake.api.reset();
    fake.api.inject("deleteRepo", { kind: "status", status: 500 });
    ok(await stack.up());
    expect(fake.spaces.has("alice/mlflow-engine")).toBe(false);
    expect(fake.spaces.get("alice/mlflow-engine-2")!.secrets).toEqual({ MLFLOW_ADMIN_PASSWORD: PASSWORDS[1] });
    const seq = fake.api.sequence();
    expect(seq.indexOf("createRepo")).toBeLessThan(seq.indexOf("deleteRepo!500"));
    expect((await stack.outputs()).repoId).toBe("alice/mlflow-engine-2");
    ok(await stack.preview(["--expect-no-changes"]));
    await expectStateClean();
  });

  it("import: a Space that exists at the Hub is adopted by its create (a 409, then a 500 on reading it), not recreated", async () => {
    fake.spaces.set("alice/legacy", { sdk: "docker", private: true, hardware: "cpu-basic", sleepTime: null, files: {}, secrets: {}, variables: {}, stage: "RUNNING", buildPolls: 0, commits: 3, restarts: 0 });
    await stack.setConfig({ "engine:adoptName": "legacy" });
    fake.api.reset();
    fake.api.inject("spaceInfo", { kind: "status", status: 500 });
    ok(await stack.up());
    expect(fake.api.sequence()).toEqual(expect.arrayContaining(["createRepo!409", "spaceInfo!500", "spaceInfo"]));
    expect(fake.spaces.get("alice/legacy")!.commits).toBe(3);
    expect((await stack.outputs()).adoptedRepoId).toBe("alice/legacy");
    const [adopted] = resourcesOf(await expectStateClean(), "hf:Space").filter((r) => r.urn.endsWith("::adopted"));
    expect(adopted.id).toBe("alice/legacy");
    ok(await stack.preview(["--expect-no-changes"]));
  });

  it("destroy removes the Spaces (through a dropped connection) and leaves an empty state", async () => {
    fake.api.reset();
    fake.api.inject("deleteRepo", { kind: "drop" });
    ok(await stack.destroy());
    expect([...fake.spaces.keys()]).toEqual([]);
    const state = await expectStateClean();
    expect((state.deployment.resources ?? []).filter((r) => r.type !== "pulumi:pulumi:Stack")).toEqual([]);
  });
});
