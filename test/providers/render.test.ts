/**
 * The Render providers as the engine runs them: @pulumi/pulumi's dynamic-provider host in a child
 * process, driven over gRPC with the provider text a dynamic resource serializes, against a
 * stateful Render fake that validates every call against Render's OpenAPI document.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { plainSecretLeaks, ProviderHost, serializeProvider, urnOf, type State } from "./support/provider-host";
import { RenderFake } from "./render/fake";

const TOKEN = "rnd_" + "contractTestKey0123456789abcdef";
const GHCR = "ghp_" + "contractGhcrToken0123456789abcdefgh";
const DB_URI = "postgresql://mlflow_app:" + "Sup3rSecretDbPassw0rd" + "@ep-1.neon.tech/mlflow?sslmode=require";
const ADMIN = "adminPass" + "word-0123456789";
const DIGEST = (n: number) => `ghcr.io/example-org/mlflow-kit-server@sha256:${String(n).repeat(64).slice(0, 64)}`;
const SECRETS = [TOKEN, GHCR, DB_URI, ADMIN];

const CRED_TYPE = "pulumi-nodejs:dynamic/render:RegistryCredential";
const SVC_TYPE = "pulumi-nodejs:dynamic/render:Service";
const credMarks = { secretInputs: ["authToken"], additionalSecretOutputs: ["authToken"] };
const svcMarks = { secretInputs: ["envVars"], additionalSecretOutputs: ["envVars"] };

let fake: RenderFake;
let host: ProviderHost;
let credProvider: string;
let svcProvider: string;

beforeAll(async () => {
  [credProvider, svcProvider] = [
    serializeProvider("infra/providers/render/registry-credential.ts", "registryCredentialProvider"),
    serializeProvider("infra/providers/render/service.ts", "serviceProvider"),
  ];
  fake = await RenderFake.start(TOKEN);
  host = await ProviderHost.start({ config: { "mlflow-kit:renderApiKey": TOKEN }, secretKeys: ["mlflow-kit:renderApiKey"], env: { MLFLOW_KIT_RETRY_BASE_DELAY_MS: "5" } });
}, 120_000);

afterAll(async () => {
  await host?.stop();
  await fake?.stop();
});

afterEach(() => {
  expect(fake.problems).toEqual([]);
  fake.api.reset();
  fake.nextDeployStatus = "live";
});

function credInputs(name: string, extra: Record<string, unknown> = {}) {
  return { __provider: credProvider, apiUrl: fake.url, name, registry: "GITHUB", username: "example-bot", authToken: GHCR, ...extra };
}

function svcInputs(name: string, extra: Record<string, unknown> = {}) {
  return {
    __provider: svcProvider, apiUrl: fake.url, name, region: "ohio", plan: "starter", imagePath: DIGEST(1), healthCheckPath: "/health", numInstances: 1,
    deployTimeoutSeconds: 60, hostnameEnvKey: "MLFLOW_PUBLIC_HOSTNAME",
    envVars: [
      { key: "MLFLOW_BACKEND_STORE_URI", value: DB_URI },
      { key: "MLFLOW_ADMIN_PASSWORD", value: ADMIN },
      { key: "MLFLOW_PUBLIC_HOSTNAME", value: `${name}.onrender.com` },
      { key: "MLFLOW_WORKERS", value: "1" },
    ],
    ...extra,
  };
}

async function checked(type: string, name: string, news: Record<string, unknown>, olds?: State) {
  const r = await host.check(urnOf(type, name), olds, news);
  expect(r.failures).toEqual([]);
  return r.inputs;
}

async function createService(name: string, extra: Record<string, unknown> = {}): Promise<State> {
  return host.create(urnOf(SVC_TYPE, name), await checked(SVC_TYPE, name, svcInputs(name, extra)), svcMarks);
}

const errorOf = (p: Promise<unknown>) => p.then(() => { throw new Error("expected a failure"); }, (e: Error) => e.message);

describe("render:RegistryCredential", () => {
  it("creates, diffs, updates the token, refreshes and deletes; the token stays secret", async () => {
    const urn = urnOf(CRED_TYPE, "ghcr");
    const state = await host.create(urn, await checked(CRED_TYPE, "ghcr", credInputs("mlflow-kit-ghcr")), credMarks);
    expect(state.id).toMatch(/^rgc-/);
    expect(state.props.ownerId).toBe("tea-fake0001"); // the only workspace the key sees
    expect(fake.sequence()).toEqual(["list-owners", "list-registry-credentials", "create-registry-credential"]);
    expect(fake.credentials.get(state.id)?.authToken).toBe(GHCR);
    expect(plainSecretLeaks(state, SECRETS)).toEqual([]);

    expect(await host.diff(urn, state, credInputs("mlflow-kit-ghcr"))).toMatchObject({ changes: "none", replaces: [] });
    const rotated = "ghp_" + "rotatedGhcrToken0123456789abcdefgh";
    expect(await host.diff(urn, state, credInputs("mlflow-kit-ghcr", { authToken: rotated }))).toMatchObject({ changes: "some", replaces: [] });
    expect(await host.diff(urn, state, credInputs("mlflow-kit-ghcr", { ownerId: "tea-other01" }))).toMatchObject({ changes: "some", replaces: ["ownerId"] });

    fake.api.reset();
    const updated = await host.update(urn, state, credInputs("mlflow-kit-ghcr", { authToken: rotated }), credMarks);
    expect(fake.sequence()).toEqual(["update-registry-credential"]);
    expect(fake.credentials.get(state.id)?.authToken).toBe(rotated);
    expect(plainSecretLeaks(updated, [...SECRETS, rotated])).toEqual([]);

    const read = await host.read(urn, state.id, updated.props, credMarks);
    expect(read.props).toMatchObject({ name: "mlflow-kit-ghcr", username: "example-bot", registry: "GITHUB", authToken: rotated });

    fake.api.reset();
    fake.api.inject("delete-registry-credential", { kind: "drop" });
    await host.delete(urn, updated);
    expect(fake.sequence()).toEqual(["delete-registry-credential!drop", "delete-registry-credential"]);
    await host.delete(urn, updated); // gone already: 404 is done
    expect(fake.credentials.has(state.id)).toBe(false);
  });

  it("a create whose answer was lost is looked up again inside the retry, never made twice; fails clearly on 403", async () => {
    const urn = urnOf(CRED_TYPE, "ghcr2");
    fake.api.inject("create-registry-credential", { kind: "drop-after" });
    const state = await host.create(urn, await checked(CRED_TYPE, "ghcr2", credInputs("kit-ghcr-2")), credMarks);
    // Render takes a second credential of the same name: the retry looks first, and adopts.
    expect(fake.sequence()).toEqual(["list-owners", "list-registry-credentials", "create-registry-credential!drop", "list-registry-credentials", "update-registry-credential"]);
    expect([...fake.credentials.values()].filter((c) => c.name === "kit-ghcr-2").map((c) => c.id)).toEqual([state.id]);

    fake.api.reset();
    fake.api.inject("update-registry-credential", { kind: "status", status: 403, message: `no access for ${TOKEN}` });
    const msg = await errorOf(host.update(urn, state, credInputs("kit-ghcr-2", { username: "other-bot" }), credMarks));
    expect(msg).toContain("403 Forbidden");
    expect(msg).toContain("mlflow-kit:renderApiKey lacks access to the Render workspace");
    for (const s of SECRETS) expect(msg).not.toContain(s);
  });

  it("check refuses a bad workspace id and a missing token", async () => {
    const r = await host.check(urnOf(CRED_TYPE, "bad"), undefined, credInputs("x", { ownerId: "srv-123", authToken: "" }));
    expect(r.failures.map((f) => f.property).sort()).toEqual(["authToken", "ownerId"]);
  });
});

describe("render:Service", () => {
  it("create: POST with the env as one set, the deploy waited for until live, no secret in plain state", async () => {
    const state = await createService("svc-create");
    expect(fake.sequence()).toEqual(["list-owners", "list-services", "create-service", "retrieve-deploy", "retrieve-deploy"]);
    const created = fake.api.calls.find((c) => c.operationId === "create-service")!.body as any;
    expect(created).toMatchObject({
      type: "web_service", name: "svc-create", ownerId: "tea-fake0001", autoDeploy: "no",
      image: { ownerId: "tea-fake0001", imagePath: DIGEST(1) },
      serviceDetails: { runtime: "image", plan: "starter", region: "ohio", healthCheckPath: "/health", numInstances: 1 },
    });
    expect(created.envVars).toHaveLength(4);
    expect(state.id).toMatch(/^srv-/);
    expect(state.props).toMatchObject({ url: "https://svc-create.onrender.com", hostname: "svc-create.onrender.com", deployStatus: "live", envKeys: ["MLFLOW_BACKEND_STORE_URI", "MLFLOW_ADMIN_PASSWORD", "MLFLOW_PUBLIC_HOSTNAME", "MLFLOW_WORKERS"] });
    expect(state.secret).toContain("envVars");
    expect(plainSecretLeaks(state, SECRETS)).toEqual([]);
    expect(JSON.stringify(state.props.__provider)).not.toContain(TOKEN);
  });

  it("no-op diff, and a refresh that finds no drift", async () => {
    const urn = urnOf(SVC_TYPE, "svc-noop");
    const state = await createService("svc-noop");
    expect(await host.diff(urn, state, svcInputs("svc-noop"))).toEqual({ changes: "none", replaces: [], deleteBeforeReplace: false });
    const read = await host.read(urn, state.id, state.props, svcMarks);
    expect(await host.diff(urn, read, svcInputs("svc-noop"))).toMatchObject({ changes: "none" });
    expect(plainSecretLeaks(read, SECRETS)).toEqual([]);
  });

  it("update: an env change is one PUT of the whole set and a deploy; a new digest PATCHes the image then deploys; 429 and 500 are retried", async () => {
    const urn = urnOf(SVC_TYPE, "svc-update");
    const state = await createService("svc-update");
    const env2 = svcInputs("svc-update").envVars.map((e) => (e.key === "MLFLOW_ADMIN_PASSWORD" ? { ...e, value: `${ADMIN}-rotated` } : e));
    const news = await checked(SVC_TYPE, "svc-update", svcInputs("svc-update", { envVars: env2 }), state);
    expect(await host.diff(urn, state, news)).toMatchObject({ changes: "some", replaces: [] });

    fake.api.reset();
    fake.api.inject("create-deploy", { kind: "status", status: 429, headers: { "ratelimit-limit": "10", "ratelimit-remaining": "0", "ratelimit-reset": "1" } });
    fake.api.inject("retrieve-deploy", { kind: "status", status: 500 });
    const started = Date.now();
    const updated = await host.update(urn, state, news, svcMarks);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900); // waited what Ratelimit-Reset said
    expect(fake.sequence()).toEqual(["update-env-vars-for-service", "create-deploy!429", "create-deploy", "retrieve-deploy!500", "retrieve-deploy", "retrieve-deploy"]);
    const put = fake.api.calls[0].body as Array<{ key: string; value: string }>;
    expect(put.map((e) => e.key).sort()).toEqual(["MLFLOW_ADMIN_PASSWORD", "MLFLOW_BACKEND_STORE_URI", "MLFLOW_PUBLIC_HOSTNAME", "MLFLOW_WORKERS"]);
    expect(fake.services.get(state.id)!.env.find((e) => e.key === "MLFLOW_ADMIN_PASSWORD")!.value).toBe(`${ADMIN}-rotated`);
    expect(updated.props.deployId).not.toBe(state.props.deployId);
    expect(plainSecretLeaks(updated, [...SECRETS, `${ADMIN}-rotated`])).toEqual([]);

    fake.api.reset();
    const news2 = await checked(SVC_TYPE, "svc-update", svcInputs("svc-update", { envVars: env2, imagePath: DIGEST(2) }), updated);
    const updated2 = await host.update(urn, updated, news2, svcMarks);
    // A new digest is a PATCH of the service's image, then a deploy (as Render's Terraform provider does).
    expect(fake.sequence()).toEqual(["update-service", "create-deploy", "retrieve-deploy", "retrieve-deploy"]);
    expect(fake.api.calls[0].body).toEqual({ image: { ownerId: "tea-fake0001", imagePath: DIGEST(2) } });
    expect((fake.api.calls[1].body as any).imageUrl).toBe(DIGEST(2));
    expect(fake.services.get(state.id)!.imagePath).toBe(DIGEST(2));
    // A deploy the kit does not make (dashboard Manual Deploy) runs the new digest, not the first.
    fake.manualDeploy(state.id);
    expect(fake.liveImage(state.id)).toBe(DIGEST(2));
    // A refresh reads the configured image back: no drift.
    const read = await host.read(urn, state.id, updated2.props, svcMarks);
    expect(read.props.imagePath).toBe(DIGEST(2));
    expect(await host.diff(urn, read, news2)).toMatchObject({ changes: "none" });
  });

  it("replace: a region change replaces, deleting the old service first; delete retries a dropped connection and 404 is done", async () => {
    const urn = urnOf(SVC_TYPE, "svc-replace");
    const state = await createService("svc-replace");
    expect(await host.diff(urn, state, svcInputs("svc-replace", { region: "frankfurt" }))).toEqual({ changes: "some", replaces: ["region"], deleteBeforeReplace: true });
    fake.api.reset();
    fake.api.inject("delete-service", { kind: "drop" });
    await host.delete(urn, state);
    const replacement = await createService("svc-replace", { region: "frankfurt" });
    expect(fake.sequence()).toEqual(["delete-service!drop", "delete-service", "list-owners", "list-services", "create-service", "retrieve-deploy", "retrieve-deploy"]);
    expect(replacement.id).not.toBe(state.id);
    expect(fake.services.get(replacement.id)!.region).toBe("frankfurt");
    fake.api.reset();
    await host.delete(urn, state); // the old one is gone: 404 is done
    expect(fake.sequence()).toEqual(["delete-service!404"]);
    // A refresh of a service deleted outside Pulumi drops it from the state (empty id).
    expect((await host.read(urn, state.id, state.props, svcMarks)).id).toBe("");
  });

  it("a create whose answer was lost is looked up again inside the retry (Render would make a second service), converged and deployed", async () => {
    fake.api.inject("create-service", { kind: "drop-after" });
    const state = await createService("svc-adopt");
    expect(fake.sequence()).toEqual([
      "list-owners", "list-services", "create-service!drop", "list-services",
      // The lost create's own deploy is still running: ours is queued (202) behind it.
      "get-env-vars-for-service", "create-deploy", "list-deploys", "retrieve-deploy", "retrieve-deploy", "retrieve-deploy", "retrieve-deploy",
    ]);
    expect([...fake.services.values()].filter((s) => s.name === "svc-adopt").map((s) => s.id)).toEqual([state.id]);
    expect(state.props.deployStatus).toBe("live");

    // A re-run after a create that died before its answer: the next create finds it by name.
    fake.api.reset();
    const again = await createService("svc-adopt");
    expect(again.id).toBe(state.id);
    expect(fake.sequence()).toEqual(["list-owners", "list-services", "get-env-vars-for-service", "create-deploy", "retrieve-deploy", "retrieve-deploy"]);
  });

  it("free plan: adopts the service made in the dashboard and sets image, credential, health check and env; without one, says how to make it", async () => {
    const msg = await errorOf(createService("svc-free", { plan: "free" }));
    expect(msg).toContain("does not create services on the free plan");
    expect(msg).toContain("name svc-free, region ohio, instance type Free");
    expect(fake.sequence()).toEqual(["list-owners", "list-services"]);

    fake.api.reset();
    const seeded = fake.seedService({ name: "svc-free", plan: "free", region: "ohio" });
    const state = await createService("svc-free", { plan: "free", registryCredentialId: "rgc-given" });
    expect(state.id).toBe(seeded.id);
    expect(fake.sequence()).toEqual(["list-owners", "list-services", "get-env-vars-for-service", "update-service", "update-env-vars-for-service", "create-deploy", "retrieve-deploy", "retrieve-deploy"]);
    const patch = fake.api.calls.find((c) => c.operationId === "update-service")!.body as any;
    expect(patch).toEqual({ image: { ownerId: "tea-fake0001", imagePath: DIGEST(1), registryCredentialId: "rgc-given" }, serviceDetails: { healthCheckPath: "/health" } });
    expect(fake.services.get(seeded.id)).toMatchObject({ plan: "free", numInstances: 1, imagePath: DIGEST(1) });
    const check = await host.check(urnOf(SVC_TYPE, "svc-free"), undefined, svcInputs("svc-free", { plan: "free", numInstances: 2 }));
    expect(check.failures).toEqual([{ property: "numInstances", reason: expect.stringContaining("free plan") }]);
  });

  it("sets the host name variable to the host Render gives when <name>.onrender.com is taken", async () => {
    fake.takenSubdomains.add("svc-taken");
    const state = await createService("svc-taken");
    const host1 = String(state.props.hostname);
    expect(host1).toMatch(/^svc-taken-[a-z0-9]{4}\.onrender\.com$/);
    expect(state.props.url).toBe(`https://${host1}`);
    expect(fake.services.get(state.id)!.env.find((e) => e.key === "MLFLOW_PUBLIC_HOSTNAME")!.value).toBe(host1);
    expect(fake.sequence()).toEqual(["list-owners", "list-services", "create-service", "update-env-vars-for-service", "create-deploy", "list-deploys", "retrieve-deploy", "retrieve-deploy", "retrieve-deploy", "retrieve-deploy"]);
    expect(await host.diff(urnOf(SVC_TYPE, "svc-taken"), state, svcInputs("svc-taken"))).toMatchObject({ changes: "none" });
  });

  it("a custom domain: added once, the public URL, removed when unset", async () => {
    const urn = urnOf(SVC_TYPE, "svc-domain");
    const env = svcInputs("svc-domain").envVars.map((e) => (e.key === "MLFLOW_PUBLIC_HOSTNAME" ? { ...e, value: "mlflow.example.com" } : e));
    const { hostnameEnvKey: _, ...withDomain } = svcInputs("svc-domain", { customDomain: "mlflow.example.com", envVars: env });
    const state = await host.create(urn, await checked(SVC_TYPE, "svc-domain", withDomain), svcMarks);
    expect(fake.sequence()).toEqual(["list-owners", "list-services", "create-service", "retrieve-custom-domain!404", "create-custom-domain", "retrieve-deploy", "retrieve-deploy"]);
    expect(state.props.url).toBe("https://mlflow.example.com");
    expect(fake.services.get(state.id)!.domains).toEqual(["mlflow.example.com"]);

    fake.api.reset();
    const news = await checked(SVC_TYPE, "svc-domain", svcInputs("svc-domain"), state);
    const updated = await host.update(urn, state, news, svcMarks);
    expect(fake.sequence()).toEqual(["update-env-vars-for-service", "delete-custom-domain", "create-deploy", "retrieve-deploy", "retrieve-deploy"]);
    expect(updated.props.url).toBe("https://svc-domain.onrender.com");
    expect(fake.services.get(state.id)!.domains).toEqual([]);
  });

  it("a custom domain: a retried add that gets 409 finds it is ours; one another service holds fails naming the fix", async () => {
    const env = (name: string) => svcInputs(name).envVars.map((e) => (e.key === "MLFLOW_PUBLIC_HOSTNAME" ? { ...e, value: "ml.example.com" } : e));
    const { hostnameEnvKey: _h, ...withDomain } = svcInputs("svc-dom-a", { customDomain: "ml.example.com", envVars: env("svc-dom-a") });
    fake.api.inject("create-custom-domain", { kind: "drop-after" });
    const a = await host.create(urnOf(SVC_TYPE, "svc-dom-a"), await checked(SVC_TYPE, "svc-dom-a", withDomain), svcMarks);
    expect(fake.sequence()).toContain("create-custom-domain!409");
    expect(fake.services.get(a.id)!.domains).toEqual(["ml.example.com"]);

    fake.api.reset();
    const { hostnameEnvKey: _g, ...other } = svcInputs("svc-dom-b", { customDomain: "ml.example.com", envVars: env("svc-dom-b") });
    const msg = await errorOf(host.create(urnOf(SVC_TYPE, "svc-dom-b"), await checked(SVC_TYPE, "svc-dom-b", other), svcMarks));
    expect(msg).toMatch(/the custom domain ml\.example\.com is already added to another Render service or workspace \(409 Conflict\).*mlflow-kit:target\.domain/);
    for (const x of SECRETS) expect(msg).not.toContain(x);
  });

  it("clear errors: 401, 402, 404, a failed deploy, bounded retries, several workspaces; nothing secret in them", async () => {
    const messages: string[] = [];
    fake.api.inject("list-owners", { kind: "status", status: 401 });
    messages.push(await errorOf(createService("svc-err")));
    expect(messages[0]).toContain("rejected the token in mlflow-kit:renderApiKey (401 Unauthorized)");

    fake.api.inject("create-service", { kind: "status", status: 402 });
    messages.push(await errorOf(createService("svc-err")));
    expect(messages[1]).toMatch(/402 Payment Required.*payment method.*mlflow-kit:target\.plan/);

    const state = await createService("svc-err");
    fake.api.inject("update-env-vars-for-service", { kind: "status", status: 404 });
    const env2 = svcInputs("svc-err").envVars.map((e) => (e.key === "MLFLOW_WORKERS" ? { ...e, value: "2" } : e));
    messages.push(await errorOf(host.update(urnOf(SVC_TYPE, "svc-err"), state, svcInputs("svc-err", { envVars: env2 }), svcMarks)));
    expect(messages[2]).toMatch(/setting the env vars of the Render service svc-err failed \(404 Not Found\).*mlflow-kit:renderApiKey cannot see it/);

    fake.nextDeployStatus = "update_failed";
    messages.push(await errorOf(host.update(urnOf(SVC_TYPE, "svc-err"), state, svcInputs("svc-err", { imagePath: DIGEST(3) }), svcMarks)));
    expect(messages[3]).toMatch(/the Render deploy dep-\S+ of the service svc-err to go live: failed \(update_failed\)/);

    fake.api.reset();
    fake.api.inject("retrieve-service", { kind: "status", status: 500 }, 20);
    messages.push(await errorOf(host.read(urnOf(SVC_TYPE, "svc-err"), state.id, state.props, svcMarks)));
    expect(messages[4]).toMatch(/reading the Render service svc-err gave up after \d+ s of retries: HTTP 500/);
    expect(fake.sequence()).toEqual(Array(8).fill("retrieve-service!500")); // DEFAULT_RETRY.maxAttempts

    fake.api.reset();
    fake.owners.push({ id: "tea-fake0002", name: "other-team", email: "o@example.com", type: "team" });
    try {
      messages.push(await errorOf(createService("svc-err-2")));
    } finally {
      fake.owners.pop();
    }
    expect(messages[5]).toContain("mlflow-kit:target.ownerId: is unset and the key in mlflow-kit:renderApiKey sees 2 Render workspaces: kit-team (tea-fake0001), other-team (tea-fake0002)");
    expect(fake.sequence()).toEqual(["list-owners"]);

    for (const m of messages) for (const s of SECRETS) expect(m).not.toContain(s);
  });

  it("check refuses a tag instead of a digest and a bad env key", async () => {
    const r = await host.check(urnOf(SVC_TYPE, "bad"), undefined, svcInputs("bad", { imagePath: "ghcr.io/example-org/mlflow-kit-server:latest", envVars: [{ key: "1BAD", value: "x" }] }));
    expect(r.failures.map((f) => f.property).sort()).toEqual(["envVars", "hostnameEnvKey", "imagePath"]);
  });
});
