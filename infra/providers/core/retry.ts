import { describeFailure, isApiError, vendorError, type Vendor } from "./errors";

/**
 * Bounded retries for vendor calls: 429 (after the wait the vendor names), 423 (Neon: project
 * locked by a running operation), 5xx and dropped connections, with exponential backoff and
 * full jitter, limited in attempts and in total time. Anything else fails at once with the
 * sentence from describeFailure.
 */
export interface RetryPolicy {
  maxAttempts: number;
  /** No new attempt starts after this much time since the first. */
  maxElapsedMs: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/*
 * maxElapsedMs covers one full rate-limit window of the slowest vendor: the Hugging Face Hub
 * counts requests over 5-minute fixed windows and names the seconds left (`t`) in its RateLimit
 * header (huggingface/hub-docs docs/hub/rate-limits.md), so a 429 early in a window asks for up
 * to 300 s; a shorter limit would give up inside the window the Hub said it would reopen.
 */
export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 8, maxElapsedMs: 330_000, baseDelayMs: 250, maxDelayMs: 20_000 };

/**
 * DEFAULT_RETRY, with the first backoff step from MLFLOW_KIT_RETRY_BASE_DELAY_MS when set (the
 * provider contract tests shorten it; attempts and the time limit stay as they are). Read at
 * call time: it is the environment of the engine's provider host, not of the program.
 */
export function defaultRetry(env: NodeJS.ProcessEnv = process.env): RetryPolicy {
  const base = Number(env.MLFLOW_KIT_RETRY_BASE_DELAY_MS);
  return Number.isFinite(base) && base > 0 ? { ...DEFAULT_RETRY, baseDelayMs: base } : DEFAULT_RETRY;
}

export interface CallContext {
  vendor: Vendor;
  /** The action, for messages: "creating the Render service mlflow-kit-dev". */
  what: string;
  /** Values that must never appear in a message (the token, passwords). */
  secrets: ReadonlyArray<string | undefined>;
}

const RETRYABLE_STATUS = [423, 429, 500, 502, 503, 504];
const DROPPED = ["ECONNRESET", "EPIPE", "ETIMEDOUT", "ECONNABORTED", "ECONNREFUSED", "UND_ERR_SOCKET", "UND_ERR_CLOSED", "UND_ERR_CONNECT_TIMEOUT", "ERR_SOCKET_CONNECTION_TIMEOUT"];

/** True for a connection that dropped or timed out before an HTTP answer (fetch, axios, node). */
export function isDroppedConnection(err: unknown): boolean {
  for (let e: any = err, depth = 0; e && depth < 5; e = e.cause, depth++) {
    if (typeof e.code === "string" && DROPPED.includes(e.code)) return true;
    if (e.name === "TimeoutError") return true; // AbortSignal.timeout: no answer in time
    if (typeof e.message === "string" && /socket hang up|other side closed|fetch failed|network error/i.test(e.message) && !isApiError(e)) return true;
  }
  return false;
}

/**
 * How long the vendor asked us to wait, from Retry-After (seconds or an HTTP date), the IETF
 * RateLimit-Reset / RateLimit header (seconds), or X-RateLimit-Reset (epoch seconds, or seconds
 * when small). Undefined when it did not say.
 *
 * The RateLimit field comes in two drafts: `limit=30, remaining=0, reset=4` (older) and
 * `"api";r=0;t=55` (draft 9), which the Hugging Face Hub sends: `t` is the seconds until the
 * window resets (huggingface/hub-docs docs/hub/rate-limits.md; huggingface_hub
 * utils/_http.py `_RATELIMIT_REGEX` parses it the same way and sleeps `t` before retrying).
 */
export function retryAfterMs(header: (name: string) => string | null | undefined, now = Date.now()): number | undefined {
  const retryAfter = header("retry-after");
  if (retryAfter) {
    const secs = Number(retryAfter);
    if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
    const at = Date.parse(retryAfter);
    if (Number.isFinite(at)) return Math.max(0, at - now);
  }
  const field = header("ratelimit") ?? "";
  const reset = header("ratelimit-reset") ?? header("x-ratelimit-reset") ?? /(?:^|[;,\s])reset=(\d+)/.exec(field)?.[1] ?? /;\s*t\s*=\s*(\d+)/.exec(field)?.[1];
  if (reset) {
    const n = Number(reset);
    if (Number.isFinite(n)) return n > 1e9 ? Math.max(0, n * 1000 - now) : Math.max(0, n * 1000);
  }
  return undefined;
}

/** Runs `call`, retrying what is worth retrying; throws VendorError with one clear sentence otherwise. */
export async function withRetry<T>(ctx: CallContext, call: (attempt: number) => Promise<T>, policy: RetryPolicy = defaultRetry()): Promise<T> {
  const started = Date.now();
  let last: { status: number | undefined; detail: string } = { status: undefined, detail: "" };
  for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
    let waitMs: number | undefined;
    try {
      return await call(attempt);
    } catch (err) {
      const api = isApiError(err);
      const status = api ? err.status : undefined;
      const dropped = !api && isDroppedConnection(err);
      if (!api && !dropped) throw err; // a bug in the caller, or a VendorError already said
      last = { status, detail: api ? err.message : "" };
      if (!dropped && !RETRYABLE_STATUS.includes(status!)) throw vendorError(describeFailure(ctx.vendor, status, ctx.what, last.detail, ctx.secrets), status);
      waitMs = api ? err.retryAfterMs : undefined;
    }
    const backoff = Math.random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
    const delay = Math.max(waitMs ?? 0, backoff);
    if (attempt === policy.maxAttempts || Date.now() - started + delay > policy.maxElapsedMs) break;
    await new Promise((r) => setTimeout(r, delay));
  }
  const why = last.status === undefined ? "the connection kept dropping" : last.status === 429 ? "rate limited (429)" : last.status === 423 ? "the project stayed locked by another operation (423)" : `HTTP ${last.status}`;
  throw vendorError(`${ctx.vendor.name}: ${ctx.what} gave up after ${Math.round((Date.now() - started) / 1000)} s of retries: ${why}. Run \`pulumi up\` again later; it picks up where it stopped.`, last.status);
}
