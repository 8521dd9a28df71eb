/**
 * The kit's Lambda invocation (FunctionInvocation) under the real Pulumi engine, the AWS SDK
 * pointed at the Lambda fake (SigV4 checked): up waking an Inactive function, preview
 * --expect-no-changes, refresh, an update (a rotated password runs it again, waiting out an
 * update in progress), a change of function that is an update and never a replace, a failed run
 * that keeps the previous inputs so that the next up runs it again, destroy (runs nothing).
 * Import has no meaning here (an invocation is no object at AWS). The passwords in its event are
 * never in plain text in the state.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeLambda, type FakeFunction } from "../providers/aws/fake-lambda";
import { EngineStack, isEncryptedSecret, plainTextLeaks, resourcesOf, type StateFile } from "./support/engine";

const REGION = "eu-west-1";
const FN = "mlflow-kit-engine-db-bootstrap";
const MASTER = `Master-${randomBytes(9).toString("hex")}`;
const APP = [`App-${randomBytes(9).toString("hex")}`, `App-${randomBytes(9).toString("hex")}`, `App-${randomBytes(9).toString("hex")}`];
const SECRETS = [MASTER, ...APP];
const RESULT = { role: "mlflow_app", roleCreated: false, databases: ["mlflow_tracking", "mlflow_auth"], databasesCreated: [] };

let fake: FakeLambda;
let stack: EngineStack;
const events: Array<Record<string, unknown>> = [];

const ok = (r: { code: number; stdout: string; stderr: string }) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
const fn = (over: Partial<FakeFunction> = {}): FakeFunction => ({ state: "Active", lastUpdateStatus: "Successful", readsUntilSettled: 0, handler: (e) => { events.push(e as Record<string, unknown>); return RESULT; }, ...over });
const invokes = () => fake.calls.filter((c) => c.operation === "Invoke");

async function expectStateClean(): Promise<StateFile> {
  const state = await stack.exportState();
  expect(plainTextLeaks(state, SECRETS)).toEqual([]);
  const disk = stack.filesOnDisk();
  for (const s of SECRETS) expect(disk.includes(s), "a password in plain text on disk").toBe(false);
  return state;
}

beforeAll(async () => {
  fake = new FakeLambda(REGION);
  await fake.start();
  stack = await EngineStack.create({
    program: "test/engine/programs/lambda",
    stack: "lambda",
    secrets: { "engine:masterPassword": MASTER, "engine:appPassword": APP[0] },
    env: {
      AWS_ENDPOINT_URL_LAMBDA: fake.url,
      // Fake credentials for SigV4 against the fake; built here, never real.
      AWS_ACCESS_KEY_ID: `AKID${randomBytes(8).toString("hex").toUpperCase()}`,
      AWS_SECRET_ACCESS_KEY: randomBytes(20).toString("hex"),
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_PROFILE: "",
      AWS_CONFIG_FILE: "/dev/null",
      AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
    },
  });
}, 120_000);

afterAll(async () => {
  await stack?.remove();
  await fake?.stop();
  expect(fake?.problems ?? []).toEqual([]);
});

describe("the Lambda invocation under the real engine", () => {
  it("up wakes an Inactive function (its first invocation fails and turns it Pending), then runs it once", async () => {
    fake.functions.set(FN, fn({ state: "Inactive", readsUntilSettled: 2 }));
    ok(await stack.up());
    const seq = invokes().map((c) => `${c.state} ${c.status}`);
    // The first invocation fails (502) and wakes it; the SDK's own retry may meet it Pending
    // (409); the provider polls until Active; the one invocation that runs comes last.
    expect(seq[0]).toBe("Inactive/Successful 502");
    expect(seq.filter((c) => c.endsWith(" 200"))).toEqual(["Active/Successful 200"]);
    expect(seq.at(-1)).toBe("Active/Successful 200");
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ masterPassword: MASTER, password: APP[0] });
    expect(JSON.parse(String((await stack.outputs()).result))).toEqual(RESULT);
    const state = await expectStateClean();
    const [r] = resourcesOf(state, "aws:FunctionInvocation");
    expect(isEncryptedSecret(r.inputs!.input)).toBe(true);
    expect(isEncryptedSecret(r.outputs!.inputHash)).toBe(true);
  });

  it("preview --expect-no-changes, and a refresh that calls nothing and changes nothing", async () => {
    ok(await stack.preview(["--expect-no-changes"]));
    fake.calls.length = 0;
    ok(await stack.refresh());
    expect(fake.calls).toEqual([]);
    ok(await stack.preview(["--expect-no-changes"]));
  });

  it("update: a rotated app password runs the function again, after waiting out an update in progress", async () => {
    fake.functions.get(FN)!.lastUpdateStatus = "InProgress";
    fake.functions.get(FN)!.readsUntilSettled = 2;
    await stack.setConfig({}, { "engine:appPassword": APP[1] });
    fake.calls.length = 0;
    const r = await stack.up();
    ok(r);
    expect(r.stdout).not.toMatch(/replace/);
    expect(invokes()).toHaveLength(1);
    expect(fake.calls.filter((c) => c.operation === "GetFunctionConfiguration").map((c) => c.state).slice(0, 2)).toEqual(["Active/InProgress", "Active/InProgress"]);
    expect(events.at(-1)).toMatchObject({ password: APP[1] });
    ok(await stack.preview(["--expect-no-changes"]));
    await expectStateClean();
  });

  it("a function error fails the up with the function's message; the state keeps the previous run, so the next up runs it again", async () => {
    const before = resourcesOf(await stack.exportState(true), "aws:FunctionInvocation")[0];
    fake.functions.get(FN)!.handler = () => { throw Object.assign(new Error("password authentication failed for user \"mlflow_admin\""), { name: "BootstrapError" }); };
    await stack.setConfig({}, { "engine:appPassword": APP[2] });
    const failed = await stack.up();
    expect(failed.code).not.toBe(0);
    expect(failed.stdout + failed.stderr).toContain("BootstrapError: password authentication failed");
    for (const s of SECRETS) expect(failed.stdout + failed.stderr).not.toContain(s);
    await expectStateClean();
    // The same run in the state (decrypted: a secret's ciphertext changes at every write).
    const after = resourcesOf(await stack.exportState(true), "aws:FunctionInvocation")[0];
    expect(after.outputs!.inputHash).toEqual(before.outputs!.inputHash);
    // Still a change to make: the next up runs the function again.
    expect((await stack.preview(["--expect-no-changes"])).code).not.toBe(0);
    fake.functions.get(FN)!.handler = fn().handler;
    ok(await stack.up());
    expect(events.at(-1)).toMatchObject({ password: APP[2] });
    ok(await stack.preview(["--expect-no-changes"]));
  });

  it("another function or code is an update in place, never a replace (a replace would delete nothing and run twice)", async () => {
    fake.functions.set("mlflow-kit-engine-db-bootstrap-2", fn());
    await stack.setConfig({ "engine:functionName": "mlflow-kit-engine-db-bootstrap-2", "engine:code": "sha-2" });
    const preview = await stack.preview();
    ok(preview);
    expect(preview.stdout).toMatch(/~ .*FunctionInvocation|update/);
    expect(preview.stdout).not.toMatch(/\+-|replace/);
    fake.calls.length = 0;
    ok(await stack.up());
    expect(invokes().map((c) => c.functionName)).toEqual(["mlflow-kit-engine-db-bootstrap-2"]);
  });

  it("destroy calls nothing at AWS and empties the state", async () => {
    fake.calls.length = 0;
    ok(await stack.destroy());
    expect(fake.calls).toEqual([]);
    const state = await expectStateClean();
    expect((state.deployment.resources ?? []).filter((r) => r.type !== "pulumi:pulumi:Stack")).toEqual([]);
  });
});
