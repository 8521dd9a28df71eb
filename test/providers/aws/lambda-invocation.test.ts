/**
 * FunctionInvocation (infra/providers/aws/lambda-invocation.ts) run the way the engine runs it:
 * serialized as a dynamic resource serializes it, inside @pulumi/pulumi's dynamic-provider host,
 * calling a fake of the Lambda API (fake-lambda.ts) through the AWS SDK v3 client, pointed at
 * it with AWS's own AWS_ENDPOINT_URL_LAMBDA setting.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { FakeLambda, type FakeFunction } from "./fake-lambda";
import { plainSecretLeaks, ProviderHost, serializeProvider, urnOf, type State } from "../support/provider-host";

const REGION = "eu-west-1";
const TYPE = "pulumi-nodejs:dynamic/aws:FunctionInvocation";
const URN = urnOf(TYPE, "metadata-bootstrap");
const MARKS = { secretInputs: ["input"], additionalSecretOutputs: ["inputHash"] };
const MASTER = "Master-pw-not-in-state-1";
const APP = "App-pw-not-in-state-2";
const NEW_APP = "App-pw-rotated-3";
const event = (password: string) => JSON.stringify({ host: "db.internal", port: 5432, masterUsername: "mlflow_admin", masterPassword: MASTER, role: "mlflow_app", password, databases: ["mlflow_tracking", "mlflow_auth"] });
const RESULT = { role: "mlflow_app", roleCreated: false, databases: ["mlflow_tracking", "mlflow_auth"], databasesCreated: [] };

let fake: FakeLambda;
let host: ProviderHost;
let provider: string;

const props = (over: Record<string, unknown> = {}) => ({
  __provider: provider,
  region: REGION,
  functionName: "mlflow-kit-prod-db-bootstrap",
  input: event(APP),
  triggers: { code: "sha-1" },
  // Short waits for the test; production waits up to 15 minutes.
  wait: { maxWaitMs: 3_000, pollMs: 20, maxNotReadyInvokes: 5 },
  ...over,
});

function fn(over: Partial<FakeFunction> = {}): FakeFunction {
  return { state: "Active", lastUpdateStatus: "Successful", readsUntilSettled: 0, handler: () => RESULT, ...over };
}

const sequence = () => fake.calls.map((c) => `${c.operation} ${c.state} ${c.status}`);

beforeAll(async () => {
  provider = serializeProvider("infra/providers/aws/lambda-invocation.ts", "functionInvocationProvider");
  fake = new FakeLambda(REGION);
  await fake.start();
  host = await ProviderHost.start({
    config: {},
    secretKeys: [],
    env: {
      AWS_ENDPOINT_URL_LAMBDA: fake.url,
      AWS_ACCESS_KEY_ID: "AKIDFAKELAMBDATEST01",
      AWS_SECRET_ACCESS_KEY: "fake-secret-for-the-fake-lambda",
      AWS_EC2_METADATA_DISABLED: "true",
    },
  });
}, 120_000);

afterAll(async () => {
  await host?.stop();
  await fake?.stop();
});

afterEach(() => {
  expect(fake.problems).toEqual([]);
  fake.calls.length = 0;
  fake.accessKeyIds.length = 0;
  fake.functions.clear();
});

describe("FunctionInvocation", () => {
  it("invokes an Active function once, synchronously, and keeps no password in its state", async () => {
    fake.functions.set("mlflow-kit-prod-db-bootstrap", fn());
    const state = await host.create(URN, props(), MARKS);
    expect(sequence()).toEqual(["GetFunctionConfiguration Active/Successful 200", "Invoke Active/Successful 200"]);
    expect(JSON.parse(fake.calls[1].body!)).toMatchObject({ password: APP, masterPassword: MASTER });
    expect(JSON.parse(state.props.result as string)).toEqual(RESULT);
    expect(state.props.input).toBeUndefined();
    expect(plainSecretLeaks(state, [MASTER, APP])).toEqual([]);
  });

  it("wakes a function that went Inactive after weeks idle, waits until Active, then runs it", async () => {
    fake.functions.set("mlflow-kit-prod-db-bootstrap", fn({ state: "Inactive", readsUntilSettled: 3 }));
    const state = await host.create(URN, props(), MARKS);
    const seq = sequence();
    // The first invocation fails (502 ResourceNotReadyException) and wakes it ...
    expect(seq.slice(0, 2)).toEqual(["GetFunctionConfiguration Inactive/Successful 200", "Invoke Inactive/Successful 502"]);
    // ... the SDK's own retry then meets it Pending (409), the provider polls until Active ...
    expect(seq).toContain("GetFunctionConfiguration Pending/Successful 200");
    // ... and the one invocation that runs comes last.
    expect(seq.filter((c) => c.endsWith(" 200") && c.startsWith("Invoke"))).toEqual(["Invoke Active/Successful 200"]);
    expect(seq[seq.length - 1]).toBe("Invoke Active/Successful 200");
    expect(JSON.parse(state.props.result as string)).toEqual(RESULT);
  });

  it("waits for an update in progress, so the new code is what runs", async () => {
    fake.functions.set("mlflow-kit-prod-db-bootstrap", fn({ lastUpdateStatus: "InProgress", readsUntilSettled: 2 }));
    await host.create(URN, props(), MARKS);
    expect(sequence()).toEqual([
      "GetFunctionConfiguration Active/InProgress 200",
      "GetFunctionConfiguration Active/InProgress 200",
      "GetFunctionConfiguration Active/InProgress 200",
      "Invoke Active/Successful 200",
    ]);
  });

  it("a password rotation runs it again in place, and a failed run keeps the old state so the next `pulumi up` retries", async () => {
    fake.functions.set("mlflow-kit-prod-db-bootstrap", fn());
    const first: State = await host.create(URN, props(), MARKS);
    const rotated = props({ input: event(NEW_APP) });
    expect(await host.diff(URN, first, rotated)).toEqual({ changes: "some", replaces: [], deleteBeforeReplace: false });
    expect(await host.diff(URN, first, props())).toMatchObject({ changes: "none" });

    // The function stays unreachable past the bound: the update fails, naming the state.
    fake.functions.set("mlflow-kit-prod-db-bootstrap", fn({ state: "Pending", readsUntilSettled: 1_000_000 }));
    const err = await host.update(URN, first, rotated, MARKS).then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(/mlflow-kit-prod-db-bootstrap was not ready to run after 3 s \(state Pending\/Successful\); run `pulumi up` again/);
    expect(err?.message).not.toContain(NEW_APP);
    // The engine keeps `first` as the state: the same difference shows on the next run ...
    expect(await host.diff(URN, first, rotated)).toMatchObject({ changes: "some" });
    // ... which, once the function is back, runs the rotation.
    fake.functions.set("mlflow-kit-prod-db-bootstrap", fn());
    fake.calls.length = 0;
    const second = await host.update(URN, first, rotated, MARKS);
    expect(JSON.parse(fake.calls.at(-1)!.body!).password).toBe(NEW_APP);
    expect(await host.diff(URN, second, rotated)).toMatchObject({ changes: "none" });
    expect(plainSecretLeaks(second, [MASTER, NEW_APP])).toEqual([]);
  });

  it("reports the function's own error, without the trace or the event", async () => {
    fake.functions.set("mlflow-kit-prod-db-bootstrap", fn({
      handler: () => {
        const e = new Error("bootstrap failed at connect: connect ECONNREFUSED 10.40.0.12:5432");
        e.name = "BootstrapError";
        throw e;
      },
    }));
    const err = await host.create(URN, props(), MARKS).then(() => undefined, (e: Error) => e);
    expect(err?.message).toContain("Lambda function mlflow-kit-prod-db-bootstrap failed (Unhandled): BootstrapError: bootstrap failed at connect: connect ECONNREFUSED 10.40.0.12:5432");
    expect(err?.message).not.toContain("/var/task");
    for (const secret of [MASTER, APP]) expect(err?.message).not.toContain(secret);
    // A function error is not retried: the SQL's own retries already ran inside the function.
    expect(sequence().filter((c) => c.startsWith("Invoke"))).toHaveLength(1);
  });

  it("refuses a Failed function with Lambda's reason", async () => {
    fake.functions.set("mlflow-kit-prod-db-bootstrap", fn({ state: "Failed", stateReasonCode: "SubnetOutOfIPAddresses", stateReason: "All subnets are out of IP addresses" }));
    const err = await host.create(URN, props(), MARKS).then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(/mlflow-kit-prod-db-bootstrap is Failed \(SubnetOutOfIPAddresses: All subnets are out of IP addresses\)/);
    expect(sequence()).toEqual(["GetFunctionConfiguration Failed/Successful 200"]);
  });

  it("deleting it runs nothing", async () => {
    fake.functions.set("mlflow-kit-prod-db-bootstrap", fn());
    const state = await host.create(URN, props(), MARKS);
    fake.calls.length = 0;
    await host.delete(URN, state);
    expect(fake.calls).toEqual([]);
  });

  it("signs with the stack's aws:profile when it sets one, as the AWS provider would", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mlflow-kit-aws-profile-"));
    fs.writeFileSync(path.join(dir, "credentials"), "[mlflow-deployer]\naws_access_key_id = AKIDPROFILEDEPLOYER1\naws_secret_access_key = profile-secret\n");
    fs.writeFileSync(path.join(dir, "config"), "[profile mlflow-deployer]\nregion = eu-west-1\n");
    const profiled = await ProviderHost.start({
      config: { "aws:profile": "mlflow-deployer", "aws:region": REGION },
      secretKeys: [],
      env: {
        AWS_ENDPOINT_URL_LAMBDA: fake.url,
        AWS_SHARED_CREDENTIALS_FILE: path.join(dir, "credentials"),
        AWS_CONFIG_FILE: path.join(dir, "config"),
        AWS_EC2_METADATA_DISABLED: "true",
        // No key in the environment: only the profile can sign.
        AWS_ACCESS_KEY_ID: "",
        AWS_SECRET_ACCESS_KEY: "",
      },
    });
    try {
      fake.functions.set("mlflow-kit-prod-db-bootstrap", fn());
      await profiled.create(URN, props(), MARKS);
      expect(new Set(fake.accessKeyIds)).toEqual(new Set(["AKIDPROFILEDEPLOYER1"]));
    } finally {
      await profiled.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
