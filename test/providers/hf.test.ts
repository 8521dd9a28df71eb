/**
 * The Hugging Face providers as the engine runs them: serialized by a real dynamic resource,
 * rebuilt in @pulumi/pulumi's dynamic-provider host, driven over gRPC against the Hub fake.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { hfSpaceFiles } from "../../infra/image/hf-space-files";
import { hubRateLimited, startHfFake, type HfFake } from "./hf/fake";
import { plainSecretLeaks, ProviderHost, serializeProvider, urnOf, type State } from "./support/provider-host";

const TOKEN = ["hf", "kitContractToken"].join("_");
const TOKEN_KEY = "mlflow-kit:hfToken";
const SPACE_URN = urnOf("pulumi-nodejs:dynamic/hf:Space", "space");
const RELEASE_URN = urnOf("pulumi-nodejs:dynamic/hf:SpaceRelease", "release");
const SPACE_MARKS = { secretInputs: [], additionalSecretOutputs: [] };
const RELEASE_MARKS = { secretInputs: ["secrets"], additionalSecretOutputs: ["secrets"] };
const ADMIN_PASSWORD = "AdminPw-0123456789abcdef";
const DB_URI = "postgresql://app:DbPw-987654321@ep-x.neon.tech/mlflow_tracking?sslmode=require";
const DIGEST = (n: number) => `ghcr.io/acme/mlflow-kit-server@sha256:${String(n).repeat(64).slice(0, 64)}`;

let fake: HfFake;
let host: ProviderHost;
let spaceText: string;
let releaseText: string;
const hosts: ProviderHost[] = [];

const startHost = async (token = TOKEN) => {
  const h = await ProviderHost.start({ config: { [TOKEN_KEY]: token }, secretKeys: [TOKEN_KEY], env: { MLFLOW_KIT_RETRY_BASE_DELAY_MS: "5" } });
  hosts.push(h);
  return h;
};
const spaceInputs = (over: Record<string, unknown> = {}) => ({ __provider: spaceText, apiUrl: fake.api.url, owner: "alice", name: "mlflow-demo", visibility: "private", hardware: "cpu-basic", ...over });
const releaseInputs = (over: Record<string, unknown> = {}) => ({
  __provider: releaseText,
  apiUrl: fake.api.url,
  repoId: "alice/mlflow-demo",
  files: hfSpaceFiles({ imageRef: DIGEST(1), title: "mlflow-kit demo", appPort: 7860 }),
  secrets: { MLFLOW_ADMIN_PASSWORD: ADMIN_PASSWORD, MLFLOW_BACKEND_STORE_URI: DB_URI },
  variables: { PORT: "7860", MLFLOW_WORKERS: "1" },
  waitTimeoutSeconds: 60,
  ...over,
});
const everySecret = [TOKEN, ADMIN_PASSWORD, DB_URI, "DbPw-987654321"];
const noLeaks = (s: State) => expect(plainSecretLeaks(s, everySecret)).toEqual([]);
const errorOf = (p: Promise<unknown>) => p.then(() => { throw new Error("expected a failure"); }, (e: Error) => e.message);

beforeAll(async () => {
  spaceText = serializeProvider("infra/providers/hf/space.ts", "spaceProvider");
  releaseText = serializeProvider("infra/providers/hf/space-release.ts", "spaceReleaseProvider");
  fake = await startHfFake(TOKEN);
  host = await startHost();
}, 120_000);

afterAll(async () => {
  for (const h of hosts) await h.stop();
  await fake?.api.stop();
});

afterEach(() => {
  expect(fake.api.problems).toEqual([]);
  for (const h of hosts) expect(h.stderr.join("")).not.toContain(TOKEN);
  fake.api.reset();
});

describe("hf:Space", () => {
  let space: State;

  it("check refuses a bad name and visibility with the property named", async () => {
    const r = await host.check(SPACE_URN, undefined, spaceInputs({ name: "bad name", visibility: "secret" }));
    expect(r.failures.map((f) => f.property).sort()).toEqual(["name", "visibility"]);
  });

  it("create: whoami, then the repo, riding out a dropped connection, a 429 and a 500", async () => {
    fake.api.inject("whoami", { kind: "drop" });
    fake.api.inject("createRepo", { kind: "status", status: 429, headers: { "retry-after": "0" } });
    fake.api.inject("createRepo", { kind: "status", status: 500 });
    space = await host.create(SPACE_URN, spaceInputs(), SPACE_MARKS);
    expect(fake.api.sequence()).toEqual(["whoami!drop", "whoami", "createRepo!429", "createRepo!500", "createRepo", "spaceInfo"]);
    expect(space.id).toBe("alice/mlflow-demo");
    expect(space.props).toMatchObject({ repoId: "alice/mlflow-demo", pageUrl: "https://huggingface.co/spaces/alice/mlflow-demo", host: "alice-mlflow-demo.hf.space" });
    expect(fake.spaces.get("alice/mlflow-demo")).toMatchObject({ sdk: "docker", private: true, hardware: "cpu-basic" });
    noLeaks(space);
  });

  it("a no-op diff, then an in-place update of visibility, hardware and sleep time", async () => {
    expect((await host.diff(SPACE_URN, space, spaceInputs())).changes).toBe("none");
    // apiUrl is where the API is, not what the Space is: it never changes anything.
    expect((await host.diff(SPACE_URN, space, spaceInputs({ apiUrl: "http://127.0.0.1:9" }))).changes).toBe("none");
    const news = spaceInputs({ visibility: "public", hardware: "cpu-upgrade", sleepTimeSeconds: 3600 });
    expect(await host.diff(SPACE_URN, space, news)).toMatchObject({ changes: "some", replaces: [] });
    space = await host.update(SPACE_URN, space, news, SPACE_MARKS);
    expect(fake.api.sequence()).toEqual(["updateSettings", "requestHardware", "setSleepTime"]);
    expect(fake.spaces.get("alice/mlflow-demo")).toMatchObject({ private: false, hardware: "cpu-upgrade", sleepTime: 3600 });
  });

  it("a new owner or name replaces", async () => {
    expect(await host.diff(SPACE_URN, space, spaceInputs({ name: "other", visibility: "public", hardware: "cpu-upgrade", sleepTimeSeconds: 3600 }))).toMatchObject({ changes: "some", replaces: ["name"] });
    expect((await host.diff(SPACE_URN, space, spaceInputs({ owner: "acme", visibility: "public", hardware: "cpu-upgrade", sleepTimeSeconds: 3600 }))).replaces).toEqual(["owner"]);
  });

  it("read refreshes from the Hub (refresh and import)", async () => {
    fake.spaces.get("alice/mlflow-demo")!.private = true; // changed in the Hub's UI
    const r = await host.read(SPACE_URN, "alice/mlflow-demo", { __provider: spaceText, apiUrl: fake.api.url }, SPACE_MARKS);
    expect(r.props).toMatchObject({ owner: "alice", name: "mlflow-demo", visibility: "private", hardware: "cpu-upgrade", sleepTimeSeconds: 3600 });
  });

  it("a re-run after an interrupted create adopts the Docker Space it left", async () => {
    fake.spaces.set("alice/left-behind", { sdk: "docker", private: true, hardware: "cpu-basic", sleepTime: null, files: {}, secrets: {}, variables: {}, stage: "NO_APP_FILE", buildPolls: 0, commits: 0, restarts: 0 });
    const adopted = await host.create(SPACE_URN, spaceInputs({ name: "left-behind" }), SPACE_MARKS);
    expect(adopted.id).toBe("alice/left-behind");
    expect(fake.api.sequence()).toEqual(["whoami", "createRepo!409", "spaceInfo"]);
  });

  it("adopting on 409 reconciles the visibility and hardware the Space already had, and reads its host from the Hub", async () => {
    // Made public on a paid flavor by hand (or by another stack), and renamed: its subdomain is not <owner>-<name>.
    fake.spaces.set("alice/hand-made", { sdk: "docker", private: false, hardware: "t4-small", sleepTime: null, files: {}, secrets: {}, variables: {}, stage: "RUNNING", buildPolls: 0, commits: 1, restarts: 0, subdomain: "alice-from-before" });
    const adopted = await host.create(SPACE_URN, spaceInputs({ name: "hand-made" }), SPACE_MARKS);
    expect(fake.api.sequence()).toEqual(["whoami", "createRepo!409", "spaceInfo", "updateSettings", "requestHardware"]);
    expect(fake.spaces.get("alice/hand-made")).toMatchObject({ private: true, hardware: "cpu-basic" });
    expect(adopted.props).toMatchObject({ visibility: "private", hardware: "cpu-basic", host: "alice-from-before.hf.space" });
    // The state says what the Space is: a refresh finds nothing to change.
    fake.api.reset();
    const r = await host.read(SPACE_URN, adopted.id, adopted.props, SPACE_MARKS);
    expect(await host.diff(SPACE_URN, r, spaceInputs({ name: "hand-made" }))).toMatchObject({ changes: "none" });
  });

  it("a create whose answer was lost: the retried POST gets 409 and adopts the one Space it made (the Hub refuses a second)", async () => {
    fake.api.inject("createRepo", { kind: "drop-after" });
    const s = await host.create(SPACE_URN, spaceInputs({ name: "lost-answer" }), SPACE_MARKS);
    expect(fake.api.sequence()).toEqual(["whoami", "createRepo!drop", "createRepo!409", "spaceInfo"]);
    expect([...fake.spaces.keys()].filter((k) => k === "alice/lost-answer")).toHaveLength(1);
    await host.delete(SPACE_URN, s);
  });

  it("a refresh of a cpu-basic Space shows no sleepTimeSeconds (the Hub's fixed 48 h) and so no diff", async () => {
    const s = await host.create(SPACE_URN, spaceInputs({ name: "basic" }), SPACE_MARKS);
    fake.api.reset();
    const r = await host.read(SPACE_URN, s.id, s.props, SPACE_MARKS);
    expect(r.props.sleepTimeSeconds).toBeUndefined();
    expect(r.props.host).toBe("alice-basic.hf.space");
    expect(await host.diff(SPACE_URN, r, spaceInputs({ name: "basic" }))).toMatchObject({ changes: "none" });
    await host.delete(SPACE_URN, s);
  });

  it("never takes over a Space of another SDK", async () => {
    fake.spaces.set("alice/gradio-app", { sdk: "gradio", private: false, hardware: "cpu-basic", sleepTime: null, files: {}, secrets: {}, variables: {}, stage: "RUNNING", buildPolls: 0, commits: 1, restarts: 0 });
    expect(await errorOf(host.create(SPACE_URN, spaceInputs({ name: "gradio-app" }), SPACE_MARKS))).toMatch(/a Space alice\/gradio-app already exists with sdk gradio, not docker.*target\.spaceName/);
  });

  it("clear errors: 401 names the token key, 402 the plan, 403 the permission, a read-only token says so", async () => {
    const wrong = await startHost(["hf", "wrongTokenValue123"].join("_"));
    const e401 = await errorOf(wrong.create(SPACE_URN, spaceInputs({ name: "x1" }), SPACE_MARKS));
    expect(e401).toMatch(/Hugging Face rejected the token in mlflow-kit:hfToken \(401 Unauthorized\).*pulumi config set --secret mlflow-kit:hfToken/);
    expect(e401).not.toContain("wrongTokenValue123");

    fake.api.inject("requestHardware", { kind: "status", status: 402, message: "Payment required" });
    expect(await errorOf(host.create(SPACE_URN, spaceInputs({ name: "x2", hardware: "t4-small" }), SPACE_MARKS))).toMatch(/402 Payment Required.*paid plan or a payment method/);

    expect(await errorOf(host.create(SPACE_URN, spaceInputs({ owner: "bigcorp", name: "x3" }), SPACE_MARKS))).toMatch(/403 Forbidden.*mlflow-kit:hfToken lacks write access/);

    fake.role.value = "read";
    expect(await errorOf(host.create(SPACE_URN, spaceInputs({ name: "x4" }), SPACE_MARKS))).toMatch(/the token in mlflow-kit:hfToken is read-only/);
    fake.role.value = "write";
  });

  it("a token that is not a Hugging Face token fails at configure, naming the key", async () => {
    const odd = await startHost("not-a-token");
    expect(await errorOf(odd.create(SPACE_URN, spaceInputs({ name: "x5" }), SPACE_MARKS))).toMatch(/mlflow-kit:hfToken does not look like a Hugging Face token/);
  });

  it("retries are bounded: a 429 asking for longer than the limit fails at once, saying so", async () => {
    fake.api.inject("createRepo", { kind: "status", status: 429, headers: { "ratelimit-reset": "3600" } });
    expect(await errorOf(host.create(SPACE_URN, spaceInputs({ name: "x6" }), SPACE_MARKS))).toMatch(/creating the Space alice\/x6 gave up after \d+ s of retries: rate limited \(429\)/);
    fake.api.inject("createRepo", { kind: "status", status: 503 }, 20);
    expect(await errorOf(host.create(SPACE_URN, spaceInputs({ name: "x7" }), SPACE_MARKS))).toMatch(/gave up after \d+ s of retries: HTTP 503/);
    expect(fake.api.calls.filter((c) => c.operationId === "createRepo" && c.status === 503)).toHaveLength(8);
  });

  it("a 429 waits the seconds the Hub's RateLimit header names (t), instead of retrying inside the window", async () => {
    fake.api.inject("createRepo", hubRateLimited(1));
    const started = Date.now();
    const s = await host.create(SPACE_URN, spaceInputs({ name: "x8" }), SPACE_MARKS);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(fake.api.sequence()).toEqual(["whoami", "createRepo!429", "createRepo", "spaceInfo"]);
    await host.delete(SPACE_URN, s);
  });

  it("delete, and a delete of what is gone (404) is done", async () => {
    await host.delete(SPACE_URN, space);
    expect(fake.spaces.has("alice/mlflow-demo")).toBe(false);
    await host.delete(SPACE_URN, space);
    expect(fake.api.sequence()).toEqual(["deleteRepo", "deleteRepo!404"]);
  });
});

describe("hf:SpaceRelease", () => {
  let release: State;

  beforeAll(async () => {
    await host.create(SPACE_URN, spaceInputs(), SPACE_MARKS);
    fake.api.reset();
  });

  it("create: secrets and variables first, then the files, then waits until it runs", async () => {
    // A new Docker Space without a Dockerfile: the Hub reports NO_APP_FILE, and still does on the first read after the commit.
    expect(fake.spaces.get("alice/mlflow-demo")!.stage).toBe("NO_APP_FILE");
    fake.api.inject("upsertSecret", { kind: "status", status: 500 });
    release = await host.create(RELEASE_URN, releaseInputs(), RELEASE_MARKS);
    expect(fake.api.sequence()).toEqual([
      "upsertSecret!500", "upsertSecret", "upsertSecret", "upsertVariable", "upsertVariable",
      // The first read after the commit is the new Space's NO_APP_FILE of before it: not a failure.
      "preupload", "commit", "getRuntime", "getRuntime", "getRuntime", "getRuntime",
    ]);
    const s = fake.spaces.get("alice/mlflow-demo")!;
    expect(s.secrets).toEqual({ MLFLOW_ADMIN_PASSWORD: ADMIN_PASSWORD, MLFLOW_BACKEND_STORE_URI: DB_URI });
    expect(s.variables).toEqual({ PORT: "7860", MLFLOW_WORKERS: "1" });
    expect(s.files.Dockerfile).toContain(`FROM ${DIGEST(1)}`);
    expect(s.files["README.md"]).toMatch(/sdk: docker[\s\S]*app_port: 7860/);
    expect(release.props.stage).toBe("RUNNING");
    expect(release.secret).toContain("secrets");
    noLeaks(release);
  });

  it("a no-op diff; a rotated password changes only that secret and restarts, without a commit", async () => {
    expect((await host.diff(RELEASE_URN, release, releaseInputs())).changes).toBe("none");
    const rotated = releaseInputs({ secrets: { MLFLOW_ADMIN_PASSWORD: "Rotated-Pw-42", MLFLOW_BACKEND_STORE_URI: DB_URI } });
    expect(await host.diff(RELEASE_URN, release, rotated)).toMatchObject({ changes: "some", replaces: [] });
    release = await host.update(RELEASE_URN, release, rotated, RELEASE_MARKS);
    expect(fake.api.sequence()).toEqual(["upsertSecret", "restartSpace", "getRuntime", "getRuntime", "getRuntime", "getRuntime"]);
    expect(fake.api.calls[0].body).toMatchObject({ key: "MLFLOW_ADMIN_PASSWORD" });
    expect(fake.spaces.get("alice/mlflow-demo")!.commits).toBe(1);
    noLeaks(release);
    expect(plainSecretLeaks(release, ["Rotated-Pw-42"])).toEqual([]);
  });

  it("a new image digest commits the files (the commit rebuilds: no restart); a dropped variable is removed", async () => {
    const news = releaseInputs({
      files: hfSpaceFiles({ imageRef: DIGEST(2), title: "mlflow-kit demo", appPort: 7860 }),
      secrets: { MLFLOW_ADMIN_PASSWORD: "Rotated-Pw-42", MLFLOW_BACKEND_STORE_URI: DB_URI },
      variables: { PORT: "7860" },
    });
    release = await host.update(RELEASE_URN, release, news, RELEASE_MARKS);
    expect(fake.api.sequence()).toEqual(["deleteVariable", "preupload", "commit", "getRuntime", "getRuntime", "getRuntime", "getRuntime"]);
    expect(fake.spaces.get("alice/mlflow-demo")!.files.Dockerfile).toContain(`FROM ${DIGEST(2)}`);
  });

  it("a failed build fails the update, naming the Space and the stage", async () => {
    fake.failNextBuild();
    const news = releaseInputs({ files: hfSpaceFiles({ imageRef: DIGEST(3), title: "t", appPort: 7860 }), secrets: release.props.secrets, variables: { PORT: "7860" } });
    expect(await errorOf(host.update(RELEASE_URN, release, news, RELEASE_MARKS))).toMatch(/the Space alice\/mlflow-demo to build and run: failed \(BUILD_ERROR\)/);
  });

  it("after a failed build, the next deploy is not failed by the BUILD_ERROR the Hub still reports right after the commit", async () => {
    expect(fake.spaces.get("alice/mlflow-demo")!.stage).toBe("BUILD_ERROR");
    const news = releaseInputs({ files: hfSpaceFiles({ imageRef: DIGEST(5), title: "t", appPort: 7860 }), secrets: release.props.secrets, variables: { PORT: "7860" } });
    release = await host.update(RELEASE_URN, release, news, RELEASE_MARKS);
    expect(release.props.stage).toBe("RUNNING");
    expect(fake.api.sequence()).toEqual(["preupload", "commit", "getRuntime", "getRuntime", "getRuntime", "getRuntime"]);
  });

  it("a wait past its limit fails naming what it waited for and the last stage", async () => {
    const news = releaseInputs({ files: hfSpaceFiles({ imageRef: DIGEST(4), title: "t", appPort: 7860 }), secrets: release.props.secrets, variables: { PORT: "7860" }, waitTimeoutSeconds: 0.1 });
    expect(await errorOf(host.update(RELEASE_URN, release, news, RELEASE_MARKS))).toMatch(/Timed out after \d+ s \(\d+ checks\) waiting for the Space alice\/mlflow-demo to build and run; last state: (RUNNING|BUILDING|APP_STARTING)/);
  });

  it("check refuses a release without a Dockerfile or with a key that is both secret and variable", async () => {
    const r = await host.check(RELEASE_URN, undefined, releaseInputs({ files: { "README.md": "x" }, variables: { MLFLOW_ADMIN_PASSWORD: "x" } }));
    expect(r.failures.map((f) => f.property).sort()).toEqual(["files", "variables"]);
  });

  it("delete removes its secrets and variables; keys already gone are fine", async () => {
    delete fake.spaces.get("alice/mlflow-demo")!.secrets.MLFLOW_BACKEND_STORE_URI;
    await host.delete(RELEASE_URN, release);
    const s = fake.spaces.get("alice/mlflow-demo")!;
    expect(s.secrets).toEqual({});
    expect(s.variables).toEqual({});
    expect(fake.api.sequence()).toEqual(["deleteSecret", "deleteSecret!404", "deleteVariable"]);
  });
});
