import { describe, expect, it } from "vitest";
import { decideTeardown, effectiveExpiry, effectiveLifecycle, stackFacts, TeardownError, type StackFacts } from "../../stacks/lifecycle/teardown-decision";

const NOW = new Date("2026-11-24T12:00:00Z");

function ephemeral(name: string, expiresAt?: string, extra: Partial<StackFacts> = {}): StackFacts {
  return {
    name,
    lifecycle: [{ source: "stack output lifecycle", value: "ephemeral" }],
    expiresAt: expiresAt === undefined ? [] : [{ source: "stack output expiresAt", value: expiresAt }],
    protectedResources: [],
    updateInProgress: false,
    ...extra,
  };
}

const PROD: StackFacts = {
  name: "prod",
  lifecycle: [{ source: "config mlflow-kit:lifecycle", value: "long-lived" }],
  expiresAt: [],
  protectedResources: ["urn:pulumi:prod::mlflow-kit::aws:s3/bucketV2:BucketV2::mlflow-artifacts-bucket", "urn:pulumi:prod::mlflow-kit::aws:rds/instance:Instance::mlflow-db"],
  updateInProgress: false,
};

const decideOne = (f: StackFacts, now = NOW) => decideTeardown([f], { expired: true }, now)[0];

describe("expiry edge cases (--expired)", () => {
  it("destroys a stack whose expiry has passed, and keeps one whose expiry has not", () => {
    const d = decideTeardown([ephemeral("pr-1", "2026-11-24T11:00:00Z"), ephemeral("pr-2", "2026-11-24T13:00:00Z")], { expired: true }, NOW);
    expect(d).toEqual([
      { stack: "pr-1", action: "destroy", reason: "expired 2026-11-24T11:00:00Z (60 min ago)" },
      { stack: "pr-2", action: "keep", reason: "expires 2026-11-24T13:00:00Z (in 60 min)" },
    ]);
  });

  it("an expiry exactly now has passed; one millisecond later has not", () => {
    expect(decideOne(ephemeral("pr-1", "2026-11-24T12:00:00Z")).action).toBe("destroy");
    expect(decideOne(ephemeral("pr-1", "2026-11-24T12:00:00.001Z")).action).toBe("keep");
    expect(decideOne(ephemeral("pr-1", "2026-11-24T11:59:59.999Z")).action).toBe("destroy");
  });

  it("time zones: the same local clock time is past in one zone and future in another", () => {
    // 12:30 at +01:00 is 11:30Z (past); 12:30 at -01:00 is 13:30Z (future).
    expect(decideOne(ephemeral("pr-1", "2026-11-24T12:30:00+01:00")).action).toBe("destroy");
    expect(decideOne(ephemeral("pr-1", "2026-11-24T12:30:00-01:00")).action).toBe("keep");
    // The next calendar day in Kiribati (+14:00) is already the past in UTC.
    expect(decideOne(ephemeral("pr-1", "2026-11-25T01:00:00+14:00")).action).toBe("destroy");
    // An earlier calendar day at -11:00 is still the future.
    expect(decideOne(ephemeral("pr-1", "2026-11-24T02:00:00-11:00")).action).toBe("keep");
  });

  it("the teardown's own clock zone does not matter: it compares instants", () => {
    const a = decideOne(ephemeral("pr-1", "2026-11-24T12:30:00+01:00"), new Date("2026-11-24T12:00:00Z"));
    const b = decideOne(ephemeral("pr-1", "2026-11-24T12:30:00+01:00"), new Date("2026-11-24T13:00:00+01:00"));
    expect(a).toEqual(b);
  });

  it("the latest of several stated expiries wins: never destroy early", () => {
    const f = ephemeral("pr-1", "2026-11-24T10:00:00Z", {
      expiresAt: [
        { source: "stack output expiresAt", value: "2026-11-24T10:00:00Z" },
        { source: "config mlflow-kit:expiresAt", value: "2026-11-25T10:00:00Z" },
      ],
    });
    expect(effectiveExpiry(f).source).toBe("config mlflow-kit:expiresAt");
    expect(decideOne(f)).toMatchObject({ action: "keep", reason: "expires 2026-11-25T10:00:00Z (in 22 h)" });
  });

  it("keeps stacks without an expiry, long-lived or not", () => {
    expect(decideOne(ephemeral("dev"))).toEqual({ stack: "dev", action: "keep", reason: "no expiry set" });
    expect(decideOne(PROD)).toEqual({ stack: "prod", action: "keep", reason: "long-lived: never expires" });
  });

  it("refuses an unreadable expiry (no offset), naming the stack, the source and the fix", () => {
    const d = decideOne(ephemeral("pr-7", "2026-11-24T10:00:00"));
    expect(d.action).toBe("refuse");
    expect(d.reason).toContain("stack pr-7: cannot tell when it expires: stack output expiresAt:");
    expect(d.reason).toContain("--stack pr-7");
  });

  it("refuses an expired stack that is long-lived by any source, naming it", () => {
    const f = ephemeral("demo", "2026-11-01T00:00:00Z", {
      lifecycle: [
        { source: "stack output lifecycle", value: "ephemeral" },
        { source: "tag mlflow-kit:lifecycle of urn:x", value: "long-lived" },
      ],
    });
    expect(decideOne(f)).toEqual({
      stack: "demo",
      action: "refuse",
      reason: "stack demo is long-lived (tag mlflow-kit:lifecycle of urn:x): the teardown only destroys ephemeral stacks. A long-lived stack is retired by hand, never by this tool",
    });
  });

  it("refuses an expired stack with protected resources, naming the stack and the resources", () => {
    const urns = Array.from({ length: 7 }, (_, i) => `urn:pulumi:pr-3::mlflow-kit::aws:s3/bucketV2:BucketV2::b${i}`);
    const d = decideOne(ephemeral("pr-3", "2026-11-01T00:00:00Z", { protectedResources: urns }));
    expect(d.action).toBe("refuse");
    expect(d.reason).toContain("stack pr-3 has 7 protected resources (");
    expect(d.reason).toContain(urns[0]);
    expect(d.reason).toContain(urns[4]);
    expect(d.reason).not.toContain(urns[5]);
    expect(d.reason).toContain("and 2 more");
  });

  it("refuses an expired stack whose lifecycle no source states, or states oddly", () => {
    expect(decideOne(ephemeral("pr-4", "2026-11-01T00:00:00Z", { lifecycle: [] })).reason).toContain("cannot confirm it is ephemeral (no config, stack output or resource tag states its lifecycle)");
    expect(decideOne(ephemeral("pr-4", "2026-11-01T00:00:00Z", { lifecycle: [{ source: "stack output lifecycle", value: "forever" }] })).reason).toContain('stack output lifecycle is "forever"');
  });

  it("refuses an expired stack while an update runs on it", () => {
    expect(decideOne(ephemeral("pr-5", "2026-11-01T00:00:00Z", { updateInProgress: true })).reason).toContain("update in progress");
  });
});

describe("--stack", () => {
  it("destroys a named ephemeral stack whether or not it has expired", () => {
    expect(decideTeardown([ephemeral("dev"), PROD], { stack: "dev" }, NOW)).toEqual([{ stack: "dev", action: "destroy", reason: "requested by --stack" }]);
    expect(decideTeardown([ephemeral("pr-9", "2027-01-01T00:00:00Z")], { stack: "pr-9" }, NOW)[0].action).toBe("destroy");
  });

  it("--if-expired: the named stack only once it has expired, as --expired decides", () => {
    expect(decideTeardown([ephemeral("pr-9", "2026-11-24T13:00:00Z")], { stack: "pr-9", ifExpired: true }, NOW)[0]).toMatchObject({ action: "keep" });
    expect(decideTeardown([ephemeral("pr-9", "2026-11-24T11:00:00Z")], { stack: "pr-9", ifExpired: true }, NOW)[0]).toMatchObject({ action: "destroy" });
    expect(decideTeardown([ephemeral("dev")], { stack: "dev", ifExpired: true }, NOW)[0]).toMatchObject({ action: "keep", reason: "no expiry set" });
  });

  it("refuses the long-lived prod stack, naming it", () => {
    const [d] = decideTeardown([ephemeral("dev"), PROD], { stack: "prod" }, NOW);
    expect(d.action).toBe("refuse");
    expect(d.reason).toContain("stack prod is long-lived (config mlflow-kit:lifecycle)");
  });

  it("refuses an ephemeral stack with a protected resource, naming the resource", () => {
    const [d] = decideTeardown([ephemeral("demo", undefined, { protectedResources: ["urn:pulumi:demo::mlflow-kit::aws:rds/instance:Instance::db"] })], { stack: "demo" }, NOW);
    expect(d.reason).toBe(
      "stack demo has 1 protected resource (urn:pulumi:demo::mlflow-kit::aws:rds/instance:Instance::db). The teardown never removes protection; unprotect them by hand (`pulumi state unprotect`) if they really are to go",
    );
  });

  it("an empty stack that states no lifecycle (its first update failed) may be removed by --stack, not by --expired", () => {
    const empty = stackFacts({ name: "pr-6", deployment: { resources: [{ urn: "urn:s", type: "pulumi:pulumi:Stack" }, { urn: "urn:p", type: "pulumi:providers:aws" }] } });
    expect(empty.managedResources).toBe(0);
    expect(decideTeardown([empty], { stack: "pr-6" }, NOW)[0]).toMatchObject({ action: "destroy", reason: expect.stringContaining("holds no resources") });
    expect(decideTeardown([empty], { expired: true }, NOW)[0]).toMatchObject({ action: "keep", reason: "no expiry set" });
    // One real resource, or state not read at all: still refused.
    const one = stackFacts({ name: "pr-6", deployment: { resources: [{ urn: "urn:b", type: "aws:s3/bucket:Bucket" }] } });
    expect(decideTeardown([one], { stack: "pr-6" }, NOW)[0].action).toBe("refuse");
    expect(decideTeardown([stackFacts({ name: "pr-6" })], { stack: "pr-6" }, NOW)[0].action).toBe("refuse");
  });

  it("an unknown stack is an error listing the stacks there are", () => {
    expect(() => decideTeardown([ephemeral("dev"), PROD], { stack: "staging" }, NOW)).toThrow(TeardownError);
    expect(() => decideTeardown([ephemeral("dev"), PROD], { stack: "staging" }, NOW)).toThrow('--stack: there is no stack "staging" in this project. Stacks: dev, prod');
  });

  it("an invalid clock is an error", () => {
    expect(() => decideTeardown([], { expired: true }, new Date("nope"))).toThrow("now: is not a valid time");
  });
});

describe("stackFacts: what config, outputs and state say", () => {
  it("collects lifecycle and expiry from config, outputs and resource tags, and protected URNs", () => {
    const f = stackFacts({
      name: "pr-8",
      config: { "mlflow-kit:lifecycle": "ephemeral", "mlflow-kit:expiresAt": "2026-11-30T00:00:00Z" },
      outputs: { lifecycle: "ephemeral", expiresAt: "2026-11-30T00:00:00Z" },
      deployment: {
        resources: [
          { urn: "urn:stack", type: "pulumi:pulumi:Stack", outputs: { lifecycle: "ephemeral" } },
          { urn: "urn:bucket", protect: true, inputs: { tags: { "mlflow-kit:lifecycle": "ephemeral", "mlflow-kit:expires-at": "2026-11-30T00:00:00Z" } } },
          { urn: "urn:user", outputs: { tags: { "mlflow-kit:lifecycle": "ephemeral", "mlflow-kit:expires-at": "2026-11-30T00:00:00Z" } } },
        ],
      },
    });
    expect(f.protectedResources).toEqual(["urn:bucket"]);
    expect(f.lifecycle.map((s) => s.source)).toEqual(["config mlflow-kit:lifecycle", "stack output lifecycle", "tag mlflow-kit:lifecycle of urn:bucket"]);
    expect(f.expiresAt.map((s) => s.source)).toEqual(["config mlflow-kit:expiresAt", "stack output expiresAt", "tag mlflow-kit:expires-at of urn:bucket"]);
    expect(effectiveLifecycle(f).value).toBe("ephemeral");
  });

  it("a half-finished update (no stack outputs) is still found expired by its resource tags", () => {
    const f = stackFacts({
      name: "pr-2",
      deployment: { resources: [{ urn: "urn:bucket", inputs: { tags: { "mlflow-kit:lifecycle": "ephemeral", "mlflow-kit:expires-at": "2026-11-20T00:00:00Z" } } }] },
    });
    expect(decideOne(f).action).toBe("destroy");
  });

  it("an empty stack states nothing and is kept by --expired", () => {
    expect(decideOne(stackFacts({ name: "pr-0" }))).toEqual({ stack: "pr-0", action: "keep", reason: "no expiry set" });
  });
});
