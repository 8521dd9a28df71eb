import { describe, expect, it } from "vitest";
import { apiError, describeFailure, hasStatus, redact, type Vendor } from "../../infra/providers/core/errors";
import { pollUntil } from "../../infra/providers/core/poll";
import { DEFAULT_RETRY, isDroppedConnection, retryAfterMs, withRetry, type RetryPolicy } from "../../infra/providers/core/retry";

const vendor: Vendor = { name: "Render", tokenKey: "mlflow-kit:renderApiKey", permission: "write access to the workspace", plan: "the workspace needs a paid plan for this instance type" };
const fast: RetryPolicy = { maxAttempts: 4, maxElapsedMs: 5_000, baseDelayMs: 1, maxDelayMs: 5 };
const ctx = { vendor, what: "creating the Render service dev", secrets: ["rnd_SECRETTOKEN123"] };

describe("redact", () => {
  it("masks given secrets, their URL-encoded form, bearer tokens and URI passwords", () => {
    const out = redact("key rnd_SECRETTOKEN123 enc p%40ss Authorization: Bearer abc.def postgresql://app:hunter2@host/db", ["rnd_SECRETTOKEN123", "p@ss"]);
    expect(out).toBe("key [secret] enc [secret] Authorization: Bearer [secret] postgresql://app:[secret]@host/db");
  });
});

describe("describeFailure", () => {
  it("names the token key for 401 without echoing anything the vendor said", () => {
    const m = describeFailure(vendor, 401, ctx.what, "bad token rnd_SECRETTOKEN123", ctx.secrets);
    expect(m).toContain("mlflow-kit:renderApiKey");
    expect(m).toContain("pulumi config set --secret mlflow-kit:renderApiKey");
    expect(m).not.toContain("rnd_SECRETTOKEN123");
  });
  it("names the plan for 402 and the permission for 403, with the vendor's message redacted", () => {
    expect(describeFailure(vendor, 402, ctx.what, "", [])).toContain("paid plan");
    const m = describeFailure(vendor, 403, ctx.what, "no access for rnd_SECRETTOKEN123", ctx.secrets);
    expect(m).toContain("lacks write access to the workspace");
    expect(m).toContain("no access for [secret]");
  });
});

describe("retryAfterMs", () => {
  const h = (m: Record<string, string>) => (n: string) => m[n];
  it("reads Retry-After seconds and dates, RateLimit-Reset, X-RateLimit-Reset epochs, and the RateLimit field", () => {
    const now = Date.parse("2026-11-24T00:00:00Z");
    expect(retryAfterMs(h({ "retry-after": "3" }), now)).toBe(3000);
    expect(retryAfterMs(h({ "retry-after": "Tue, 24 Nov 2026 00:00:05 GMT" }), now)).toBe(5000);
    expect(retryAfterMs(h({ "ratelimit-reset": "7" }), now)).toBe(7000);
    expect(retryAfterMs(h({ "x-ratelimit-reset": String(now / 1000 + 2) }), now)).toBe(2000);
    expect(retryAfterMs(h({ ratelimit: "limit=30, remaining=0, reset=4" }), now)).toBe(4000);
    expect(retryAfterMs(h({}), now)).toBeUndefined();
  });
  it("reads t of the Hugging Face Hub's RateLimit field (draft 9: \"api\";r=<remaining>;t=<seconds>)", () => {
    // huggingface/hub-docs docs/hub/rate-limits.md; huggingface_hub utils/_http.py _RATELIMIT_REGEX.
    expect(retryAfterMs(h({ ratelimit: '"api";r=0;t=55', "ratelimit-policy": '"fixed window";"api";q=1000;w=300' }))).toBe(55_000);
    expect(retryAfterMs(h({ ratelimit: '"resolvers";r=0;t=299' }))).toBe(299_000);
  });
  it("the default policy outlasts one 5-minute Hub window: a 429 that names 290 s is waited for, not given up on", () => {
    expect(DEFAULT_RETRY.maxElapsedMs).toBeGreaterThan(300_000);
  });
});

describe("withRetry", () => {
  it("retries 429, 423, 5xx and dropped connections, then succeeds", async () => {
    const faults: unknown[] = [apiError("slow down", 429, 1), apiError("locked", 423), apiError("oops", 503), Object.assign(new Error("socket hang up"), { code: "ECONNRESET" })];
    let calls = 0;
    const result = await withRetry(ctx, async () => {
      const f = faults[calls++];
      if (f) throw f;
      return "ok";
    }, { ...fast, maxAttempts: 5 });
    expect(result).toBe("ok");
    expect(calls).toBe(5);
  });
  it("honours the wait the vendor names", async () => {
    let calls = 0;
    const started = Date.now();
    await withRetry(ctx, async () => {
      if (calls++ === 0) throw apiError("slow down", 429, 300);
      return 1;
    }, fast);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });
  it("gives up after maxAttempts with a sentence that says why", async () => {
    let calls = 0;
    const err = await withRetry(ctx, async () => {
      calls++;
      throw apiError("busy", 500);
    }, fast).catch((e) => e);
    expect(calls).toBe(4);
    expect(err.kind).toBe("vendor");
    expect(err.message).toMatch(/creating the Render service dev gave up after \d+ s of retries: HTTP 500/);
  });
  it("gives up when the vendor's wait would pass the time limit", async () => {
    let calls = 0;
    const err = await withRetry(ctx, async () => {
      calls++;
      throw apiError("slow down", 429, 60_000);
    }, fast).catch((e) => e);
    expect(calls).toBe(1);
    expect(err.message).toContain("rate limited (429)");
  });
  it("does not retry 401/402/403/404/409 and says what is missing", async () => {
    for (const status of [401, 402, 403, 404, 409]) {
      let calls = 0;
      const err = await withRetry(ctx, async () => {
        calls++;
        throw apiError("nope", status);
      }, fast).catch((e) => e);
      expect(calls).toBe(1);
      expect(err.status).toBe(status);
      expect(hasStatus(err, status)).toBe(true);
    }
  });
  it("passes a caller's own bug through untouched", async () => {
    const bug = new TypeError("x is undefined");
    await expect(withRetry(ctx, async () => { throw bug; }, fast)).rejects.toBe(bug);
  });
  it("recognises dropped connections through error causes", () => {
    expect(isDroppedConnection(new TypeError("fetch failed", { cause: Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" }) }))).toBe(true);
    expect(isDroppedConnection(new Error("boom"))).toBe(false);
  });
});

describe("pollUntil", () => {
  it("returns when done and names what it waited for on timeout", async () => {
    let n = 0;
    await expect(pollUntil({ what: "the deploy dep-1 to go live", timeoutMs: 2_000, initialIntervalMs: 1 }, async () => ({ done: ++n >= 3, state: `s${n}` }))).resolves.toMatchObject({ state: "s3" });
    const err = await pollUntil({ what: "the deploy dep-1 to go live", timeoutMs: 50, initialIntervalMs: 10 }, async () => ({ done: false, state: "build_in_progress" })).catch((e) => e);
    expect(err.message).toMatch(/Timed out after \d+ s \(\d+ checks\) waiting for the deploy dep-1 to go live; last state: build_in_progress/);
  });
  it("fails at once when the work failed", async () => {
    await expect(pollUntil({ what: "operation op-1", timeoutMs: 1_000 }, async () => ({ done: false, failed: "disk full", state: "failed" }))).rejects.toThrow("operation op-1: failed (failed): disk full");
  });
});
