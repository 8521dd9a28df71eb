/**
 * What the local stack writes for the Docker and random providers that the real engine showed
 * wrong (issue 16): durations in the provider's own form (else every preview shows a diff),
 * generated credentials secret from birth, and no setup container's logs in the state.
 * The stack is evaluated under mocks as the offline plan does (stacks/plan.ts).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { dockerDuration } from "../../infra/docker/duration";
import type { EvaluatedStack } from "../../stacks/offline";
import { plan } from "../../stacks/plan";

let local: EvaluatedStack & { skipped: string[] };
const CONTAINER = "docker:index/container:Container";

beforeAll(async () => {
  local = await plan("local", { strict: true });
});

/**
 * Go's time.Duration.String(), as the Docker provider reads durations back. Cases from Go's own
 * test table (go/src/time/time_test.go, durationTests) that are whole seconds, and the kit's.
 */
const GO_FORM: Array<[seconds: number, go: string]> = [
  [0, "0s"], [1, "1s"], [4, "4s"], [5, "5s"], [10, "10s"], [15, "15s"], [30, "30s"], [59, "59s"],
  [60, "1m0s"], [90, "1m30s"], [120, "2m0s"], [3599, "59m59s"], [3600, "1h0m0s"], [7384, "2h3m4s"], [86400, "24h0m0s"],
];

/** Seconds in a Docker duration string written by the program ("2m0s", "120s", "1h0m0s"). */
function seconds(text: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  if (!m || text === "") throw new Error(`"${text}" is not a whole-second duration`);
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

describe("Docker durations", () => {
  it.each(GO_FORM)("dockerDuration(%i) is Go's %s", (s, go) => {
    expect(dockerDuration(s)).toBe(go);
    expect(seconds(go)).toBe(s);
  });

  it("refuses what is not a whole number of seconds", () => {
    expect(() => dockerDuration(1.5)).toThrow(/whole/);
    expect(() => dockerDuration(-1)).toThrow(/whole/);
  });

  it("every duration the local stack writes is in the provider's form, so a second preview shows no change", () => {
    const written: Array<[string, string]> = [];
    for (const c of local.resources.filter((r) => r.type === CONTAINER)) {
      const hc = c.inputs.healthcheck as Record<string, unknown> | undefined;
      for (const k of ["interval", "timeout", "startPeriod", "startInterval"]) {
        if (hc?.[k] !== undefined) written.push([`${c.inputs.name}.healthcheck.${k}`, String(hc[k])]);
      }
    }
    // The server, PostgreSQL and MinIO each have a healthcheck with three durations.
    expect(written.length).toBeGreaterThanOrEqual(9);
    for (const [where, text] of written) expect(text, where).toBe(dockerDuration(seconds(text)));
    expect(Object.fromEntries(written)["mlflow-kit-local-server.healthcheck.startPeriod"]).toBe("2m0s");
  });
});

describe("credentials and logs in the state", () => {
  it("every generated credential is a RandomPassword (its result a secret from birth, its id 'none'), no RandomString", () => {
    expect(local.resources.filter((r) => r.type === "random:index/randomString:RandomString").map((r) => r.name)).toEqual([]);
    const passwords = local.resources.filter((r) => r.type === "random:index/randomPassword:RandomPassword").map((r) => r.name);
    expect(passwords).toEqual(expect.arrayContaining([expect.stringMatching(/access-key$/), expect.stringMatching(/secret-key$/), expect.stringMatching(/root-password$/)]));
  });

  it("the MinIO access key keeps the shape of an AWS access key id: 20 upper-case letters and digits", () => {
    const key = local.resources.find((r) => r.type === "random:index/randomPassword:RandomPassword" && r.name.endsWith("access-key"))!;
    expect(key.inputs).toMatchObject({ upper: true, lower: false, numeric: true, special: false, length: 20 });
  });

  it("no one-shot container keeps its logs in the state (logs: false), while still waiting for its exit code", () => {
    const oneShots = local.resources.filter((r) => r.type === CONTAINER && r.inputs.mustRun === false);
    expect(oneShots.map((r) => r.inputs.name).sort()).toEqual(["mlflow-kit-local-minio-setup", "mlflow-kit-local-postgres-setup"]);
    for (const c of oneShots) {
      expect(c.inputs.logs, String(c.inputs.name)).toBe(false);
      expect(c.inputs.attach, String(c.inputs.name)).toBe(true);
    }
    // No container at all asks for its logs.
    expect(local.resources.filter((r) => r.type === CONTAINER && r.inputs.logs === true)).toEqual([]);
  });
});
