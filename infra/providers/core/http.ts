import { apiError, type ApiError } from "./errors";
import { retryAfterMs } from "./retry";

/**
 * A JSON call over fetch for vendor endpoints that no official client covers. Non-2xx answers
 * become ApiError carrying the status, the vendor's own message and its requested wait; the
 * caller wraps the call in withRetry. The token travels in the Authorization header only.
 */
export async function jsonFetch<T = unknown>(req: { method: string; url: string; token: string; body?: unknown; timeoutMs?: number }): Promise<{ status: number; body: T }> {
  const res = await fetch(req.url, {
    method: req.method,
    headers: { authorization: `Bearer ${req.token}`, accept: "application/json", ...(req.body === undefined ? {} : { "content-type": "application/json" }) },
    body: req.body === undefined ? undefined : JSON.stringify(req.body),
    signal: AbortSignal.timeout(req.timeoutMs ?? 60_000),
  });
  const text = await res.text();
  let body: unknown = undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = text;
  }
  if (!res.ok) throw apiErrorFrom(res.status, (n) => res.headers.get(n), body);
  return { status: res.status, body: body as T };
}

/** An ApiError from an HTTP answer: the vendor's message field (message, error, detail) if any. */
export function apiErrorFrom(status: number, header: (name: string) => string | null | undefined, body: unknown): ApiError {
  const b = body as { message?: unknown; error?: unknown; detail?: unknown } | string | undefined;
  const detail = typeof b === "string" ? b : String(b?.message ?? b?.error ?? b?.detail ?? "");
  return apiError(detail, status, status === 429 || status === 423 || status >= 500 ? retryAfterMs(header) : undefined);
}
