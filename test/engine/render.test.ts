/**
 * The kit's Render providers (RegistryCredential, Service) under the real Pulumi engine against
 * the Render fake (Render's OpenAPI document checks every call): up, preview
 * --expect-no-changes, refresh, an update (a new digest: a deploy), a replace (a new region),
 * taking over a service that exists at Render (its create adopts it: the engine cannot `import`
 * a dynamic resource, see neon.test.ts), destroy; each with a fault injected. The API
 * key, the GHCR token and the service's secret env are never in plain text in the state.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RenderFake } from "../providers/render/fake";
import { EngineStack, isEncryptedSecret, plainTextLeaks, resourcesOf, type StateFile } from "./support/engine";

// Built at run time: no tracked line looks like a credential.
const TOKEN = ["rnd", randomBytes(12).toString("hex")].join("_");
const GHCR = ["ghp", randomBytes(16).toString("hex")].join("_");
const DB_PASSWORD = randomBytes(12).toString("hex");
const DB_URI = `postgresql://mlflow_app:${DB_PASSWORD}@ep-1.neon.tech/mlflow?sslmode=require`;
const ADMIN = `Admin-${randomBytes(9).toString("hex")}`;
const SECRETS = [TOKEN, GHCR, DB_PASSWORD, ADMIN];

let fake: RenderFake;
let stack: EngineStack;

const ok = (r: { code: number; stdout: string; stderr: string }) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);

async function expectStateClean(): Promise<StateFile> {
  const state = await stack.exportState();
  expect(plainTextLeaks(state, SECRETS)).toEqual([]);
  const disk = stack.filesOnDisk();
  for (const s of SECRETS) expect(disk.includes(s), "a credential in plain text on disk").toBe(false);
  for (const r of state.deployment.resources ?? []) {
    if (!r.type.startsWith("pulumi-nodejs:dynamic/")) continue;
    const provider = String(r.outputs?.__provider ?? "");
    expect(provider.length).toBeGreaterThan(100);
    expect(provider).not.toContain(TOKEN);
  }
  return state;
}

const live = () => [...fake.services.values()].filter((s) => s.name === "mlflow-kit-engine");

beforeAll(async () => {
  fake = await RenderFake.start(TOKEN);
  stack = await EngineStack.create({
    program: "test/engine/programs/render",
    stack: "render",
    config: { "engine:apiUrl": fake.url },
    secrets: { "mlflow-kit:renderApiKey": TOKEN, "engine:ghcrToken": GHCR, "engine:databaseUri": DB_URI, "engine:adminPassword": ADMIN },
    env: { MLFLOW_KIT_RETRY_BASE_DELAY_MS: "2" },
  });
}, 120_000);

afterAll(async () => {
  await stack?.remove();
  await fake?.stop();
  expect(fake?.problems ?? []).toEqual([]);
});

describe("Render under the real engine", () => {
  it("up: the credential and the service, deployed live, through a dropped connection, a 429 and a 500", async () => {
    fake.api.inject("create-registry-credential", { kind: "drop-after" });
    fake.api.inject("create-deploy", { kind: "status", status: 429, headers: { "ratelimit-limit": "10", "ratelimit-remaining": "0", "ratelimit-reset": "1" } });
    fake.api.inject("retrieve-deploy", { kind: "status", status: 500 });
    ok(await stack.up());
    expect(fake.credentials.size).toBe(1);
    const [svc] = live();
    expect(svc.imagePath).toBe(`ghcr.io/example-org/mlflow-kit-server@sha256:${"1".repeat(64)}`);
    expect(Object.fromEntries(svc.env.map((e) => [e.key, e.value]))).toMatchObject({ MLFLOW_BACKEND_STORE_URI: DB_URI, MLFLOW_ADMIN_PASSWORD: ADMIN });
    const out = await stack.outputs();
    expect(out).toMatchObject({ serviceId: svc.id, url: "https://mlflow-kit-engine.onrender.com" });
    const state = await expectStateClean();
    expect(isEncryptedSecret(resourcesOf(state, "render:RegistryCredential")[0].outputs!.authToken)).toBe(true);
    expect(isEncryptedSecret(resourcesOf(state, "render:Service")[0].outputs!.envVars)).toBe(true);
  });

  it("preview --expect-no-changes after the up", async () => {
    ok(await stack.preview(["--expect-no-changes"]));
  });

  it("refresh reads the service and credential back (through a 500) and leaves nothing to change", async () => {
    fake.api.reset();
    fake.api.inject("retrieve-service", { kind: "status", status: 500 });
    ok(await stack.refresh());
    expect(fake.sequence()).toContain("retrieve-service!500");
    ok(await stack.preview(["--expect-no-changes"]));
    await expectStateClean();
  });

  it("update: a new digest deploys it in place (through a 429 on the deploy), same service", async () => {
    const before = await stack.outputs();
    await stack.setConfig({ "engine:digest": "2" });
    fake.api.reset();
    fake.api.inject("create-deploy", { kind: "status", status: 429, headers: { "retry-after": "0" } });
    ok(await stack.up());
    const after = await stack.outputs();
    expect(after.serviceId).toBe(before.serviceId);
    expect(after.deployId).not.toBe(before.deployId);
    // Render keeps the path a service was created with; a deploy names the digest it runs.
    expect(live()[0].deploys.at(-1)).toMatchObject({ status: "live", imageUrl: `ghcr.io/example-org/mlflow-kit-server@sha256:${"2".repeat(64)}` });
    expect(fake.sequence()).not.toContain("create-service");
    ok(await stack.preview(["--expect-no-changes"]));
    await expectStateClean();
  });

  it("replace: a new region deletes the service first (its name is taken) and creates it there (through a 500 on the delete)", async () => {
    const before = await stack.outputs();
    await stack.setConfig({ "engine:region": "frankfurt" });
    fake.api.reset();
    fake.api.inject("delete-service", { kind: "status", status: 500 });
    ok(await stack.up());
    const seq = fake.sequence();
    expect(seq.indexOf("delete-service")).toBeLessThan(seq.indexOf("create-service"));
    const [svc] = live();
    expect(svc.region).toBe("frankfurt");
    expect((await stack.outputs()).serviceId).not.toBe(before.serviceId);
    expect(live()).toHaveLength(1);
    ok(await stack.preview(["--expect-no-changes"]));
    await expectStateClean();
  });

  it("import: a service that exists at Render is adopted by its create (through a dropped connection), not created again", async () => {
    const existing = fake.seedService({ name: "legacy-web", plan: "starter", imagePath: `docker.io/library/nginx@sha256:${"b".repeat(64)}`, healthCheckPath: "/" });
    await stack.setConfig({ "engine:adoptName": "legacy-web" });
    fake.api.reset();
    fake.api.inject("list-services", { kind: "drop" });
    ok(await stack.up());
    expect(fake.sequence()).toContain("list-services!drop");
    expect(fake.sequence()).not.toContain("create-service");
    expect((await stack.outputs()).adoptedId).toBe(existing.id);
    // Adopted means brought to what the program says: its image and env.
    const svc = fake.services.get(existing.id)!;
    expect(svc.deploys.at(-1)).toMatchObject({ status: "live", imageUrl: `docker.io/library/nginx@sha256:${"a".repeat(64)}` });
    expect(svc.env).toEqual([{ key: "GREETING", value: "hello" }]);
    const [adopted] = resourcesOf(await expectStateClean(), "render:Service").filter((r) => r.urn.endsWith("::adopted"));
    expect(adopted.id).toBe(existing.id);
    ok(await stack.preview(["--expect-no-changes"]));
  });

  it("destroy deletes both services and the credential (through a dropped connection)", async () => {
    fake.api.reset();
    fake.api.inject("delete-registry-credential", { kind: "drop" });
    ok(await stack.destroy());
    expect(fake.services.size).toBe(0);
    expect(fake.credentials.size).toBe(0);
    const state = await expectStateClean();
    expect((state.deployment.resources ?? []).filter((r) => r.type !== "pulumi:pulumi:Stack")).toEqual([]);
  });
});
