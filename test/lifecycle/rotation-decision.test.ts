import { describe, expect, it } from "vitest";
import { describeChanges, planRotation, RotationError, type ConfigChange } from "../../stacks/lifecycle/rotation-decision";

/** Applies path changes to config as `pulumi config set --path` does (integers stay numbers). */
function apply(config: Record<string, string>, changes: ConfigChange[]): Record<string, string> {
  const out = { ...config };
  for (const c of changes) {
    const [top, ...rest] = c.path.split(".");
    const obj = out[top] ? JSON.parse(out[top]) : {};
    let node = obj;
    for (const k of rest.slice(0, -1)) node = node[k] ??= {};
    node[rest.at(-1)!] = c.to;
    out[top] = JSON.stringify(obj);
  }
  return out;
}

const PROD = {
  "mlflow-kit:lifecycle": "long-lived",
  "mlflow-kit:target": JSON.stringify({ kind: "ecs", domain: "mlflow.example.com", acmeEmail: "a@example.com" }),
  "mlflow-kit:artifacts": JSON.stringify({ prefix: "mlflow", activeKey: "blue", keyRotations: { blue: 0, green: 0 } }),
  "mlflow-kit:rotation": JSON.stringify({ adminPassword: 0, databasePassword: 3, flaskSecretKey: 0 }),
};

/** A target whose server signs with the artifact user's keys (every one but ecs). */
const DEV = { ...PROD, "mlflow-kit:target": JSON.stringify({ kind: "render" }) };

describe("s3-key: two slots", () => {
  it("refused on ecs: its tasks sign with the task role, so there is no key (settings refuse the slots there too)", () => {
    expect(() => planRotation("s3-key", PROD)).toThrow(RotationError);
    expect(() => planRotation("s3-key", PROD)).toThrow("mlflow-kit:target.kind: is ecs, whose tasks sign their S3 requests with the task role");
  });

  it("switches to the other slot and bumps that slot's counter, in one change", () => {
    const plan = planRotation("s3-key", DEV);
    expect(plan.changes).toEqual([
      { path: "mlflow-kit:artifacts.activeKey", from: "blue", to: "green" },
      { path: "mlflow-kit:artifacts.keyRotations.green", from: 0, to: 1 },
    ]);
    expect(describeChanges(plan.changes)).toEqual(["mlflow-kit:artifacts.activeKey: blue -> green", "mlflow-kit:artifacts.keyRotations.green: 0 -> 1"]);
    expect(plan.notes.join(" ")).toContain("the blue key stays valid until the next rotation");
  });

  it("two consecutive rotations flip the slots back, each bumping the slot it switches to", () => {
    const first = planRotation("s3-key", DEV);
    const afterFirst = apply(DEV, first.changes);
    const second = planRotation("s3-key", afterFirst);
    expect(second.changes).toEqual([
      { path: "mlflow-kit:artifacts.activeKey", from: "green", to: "blue" },
      { path: "mlflow-kit:artifacts.keyRotations.blue", from: 0, to: 1 },
    ]);
    const afterSecond = JSON.parse(apply(afterFirst, second.changes)["mlflow-kit:artifacts"]);
    expect(afterSecond).toEqual({ prefix: "mlflow", activeKey: "blue", keyRotations: { blue: 1, green: 1 } });
    // The active slot's counter is never the one bumped.
    for (const plan of [first, second]) {
      const to = plan.changes.find((c) => c.path.endsWith("activeKey"))!.to;
      expect(plan.changes.find((c) => c.path.includes("keyRotations"))!.path).toBe(`mlflow-kit:artifacts.keyRotations.${to}`);
    }
  });

  it("a missing counter, a missing slot and missing artifacts are the schema's defaults (blue active, 0)", () => {
    expect(planRotation("s3-key", { "mlflow-kit:artifacts": JSON.stringify({ activeKey: "green", keyRotations: { green: 4 } }) }).changes).toEqual([
      { path: "mlflow-kit:artifacts.activeKey", from: "green", to: "blue" },
      { path: "mlflow-kit:artifacts.keyRotations.blue", from: undefined, to: 1 },
    ]);
    const none = planRotation("s3-key", {});
    expect(none.changes).toEqual([
      { path: "mlflow-kit:artifacts.activeKey", from: undefined, to: "green" },
      { path: "mlflow-kit:artifacts.keyRotations.green", from: undefined, to: 1 },
    ]);
    expect(describeChanges(none.changes)[0]).toBe("mlflow-kit:artifacts.activeKey: (unset: the default) -> green");
  });

  it("--revoke-inactive bumps only the slot not in use", () => {
    const config = apply(DEV, planRotation("s3-key", DEV).changes); // green active, blue held the old key
    const plan = planRotation("s3-key", config, { revokeInactive: true });
    expect(plan.changes).toEqual([{ path: "mlflow-kit:artifacts.keyRotations.blue", from: 0, to: 1 }]);
    expect(plan.notes[0]).toContain("deletes the blue key (not in use: the server signs with green)");
  });

  it.each([
    [{ activeKey: "red" }, 'mlflow-kit:artifacts.activeKey: "red" is not a key slot'],
    [{ keyRotations: { green: -1 } }, "mlflow-kit:artifacts.keyRotations.green: must be a non-negative integer counter (got -1)"],
    [{ keyRotations: { blue: "1" } }, 'mlflow-kit:artifacts.keyRotations.blue: must be a non-negative integer counter (got "1")'],
    [{ keyRotations: { green: 1.5 } }, "mlflow-kit:artifacts.keyRotations.green: must be a non-negative integer counter (got 1.5)"],
    [{ keyRotations: [1, 2] }, "mlflow-kit:artifacts.keyRotations: must be a mapping"],
  ])("refuses a broken artifacts config %j, naming the key", (artifacts, message) => {
    expect(() => planRotation("s3-key", { "mlflow-kit:artifacts": JSON.stringify(artifacts) })).toThrow(RotationError);
    expect(() => planRotation("s3-key", { "mlflow-kit:artifacts": JSON.stringify(artifacts) })).toThrow(message);
  });

  it("refuses artifacts that are not a mapping", () => {
    expect(() => planRotation("s3-key", { "mlflow-kit:artifacts": "mlflow" })).toThrow("mlflow-kit:artifacts: is not a YAML mapping");
    expect(() => planRotation("s3-key", { "mlflow-kit:artifacts": "[1]" })).toThrow("mlflow-kit:artifacts: is not a YAML mapping");
  });
});

describe("single-value credentials: one counter each", () => {
  it.each([
    ["db-password", "mlflow-kit:rotation.databasePassword", 3, 4],
    ["admin-password", "mlflow-kit:rotation.adminPassword", 0, 1],
    ["flask-secret", "mlflow-kit:rotation.flaskSecretKey", 0, 1],
    ["authelia", "mlflow-kit:rotation.autheliaSecrets", undefined, 1],
    ["api-password", "mlflow-kit:rotation.apiUserPassword", undefined, 1],
  ] as const)("%s bumps %s", (credential, path, from, to) => {
    const plan = planRotation(credential, PROD);
    expect(plan.changes).toEqual([{ path, from, to }]);
    expect(plan.notes).toHaveLength(1);
  });

  it("a missing rotation block means every counter is 0", () => {
    expect(planRotation("db-password", {}).changes).toEqual([{ path: "mlflow-kit:rotation.databasePassword", from: undefined, to: 1 }]);
    expect(describeChanges(planRotation("flask-secret", {}).changes)).toEqual(["mlflow-kit:rotation.flaskSecretKey: (unset: the default) -> 1"]);
  });

  it("two consecutive rotations count up", () => {
    const once = apply(PROD, planRotation("db-password", PROD).changes);
    expect(planRotation("db-password", once).changes[0]).toMatchObject({ from: 4, to: 5 });
  });

  it("refuses a broken counter, naming it", () => {
    expect(() => planRotation("db-password", { "mlflow-kit:rotation": JSON.stringify({ databasePassword: "x" }) })).toThrow(
      'mlflow-kit:rotation.databasePassword: must be a non-negative integer counter (got "x")',
    );
  });

  it("refuses admin-password when the password is set explicitly (the counter would do nothing)", () => {
    expect(() => planRotation("admin-password", { ...PROD, "mlflow-kit:adminPassword": "s3cret-value" })).toThrow(/mlflow-kit:adminPassword: is set explicitly/);
    try {
      planRotation("admin-password", { ...PROD, "mlflow-kit:adminPassword": "s3cret-value" });
    } catch (err) {
      expect(String(err)).not.toContain("s3cret-value");
    }
  });

  it("refuses authelia on a stack that does not run Authelia", () => {
    expect(() => planRotation("authelia", { "mlflow-kit:target": JSON.stringify({ kind: "render" }) })).toThrow('mlflow-kit:target.kind: is "render"; only the ecs target runs Authelia');
    expect(() => planRotation("authelia", {})).toThrow('mlflow-kit:target.kind: is "unset"');
    expect(() => planRotation("api-password", { "mlflow-kit:target": JSON.stringify({ kind: "render" }) })).toThrow('mlflow-kit:target.kind: is "render"; only the ecs target runs Authelia');
  });

  it("refuses an unknown credential and --revoke-inactive on a one-value credential", () => {
    expect(() => planRotation("ssh-key" as never, PROD)).toThrow('credential: "ssh-key" is not one the kit rotates. Use one of s3-key, db-password, admin-password, flask-secret, authelia');
    expect(() => planRotation("db-password", PROD, { revokeInactive: true })).toThrow("--revoke-inactive: only the S3 access key has two slots");
  });
});
