/**
 * How a vendor API failure reaches the person running `pulumi up`: one sentence that names the
 * token, permission or plan that is missing, with every secret value masked. Dynamic providers
 * are serialized into the state file with their closures, so this module holds plain functions
 * and one small class only, and never captures a token.
 */

/** What the error sentences of one vendor need to know. */
export interface Vendor {
  /** "Render", "Neon", "Hugging Face". */
  name: string;
  /** The stack config key of the token, e.g. "mlflow-kit:renderApiKey". */
  tokenKey: string;
  /** What the token must be allowed to do, for 403 sentences. */
  permission: string;
  /** What a 402 means for this vendor (the plan that is missing). */
  plan: string;
}

/*
 * Errors are plain Error objects with a `kind` marker, made by functions, not subclasses of
 * Error: closure serialization rebuilds a class that extends Error without its message, and
 * `instanceof` would compare against a copy of the class anyway.
 */

/** A failed vendor call: the HTTP status (none for a dropped connection) and the vendor's message. */
export interface ApiError extends Error {
  kind: "api";
  status: number | undefined;
  /** Milliseconds the vendor asked us to wait (Retry-After, rate-limit reset), if it said. */
  retryAfterMs?: number;
}

export function apiError(message: string, status: number | undefined, retryAfterMs?: number): ApiError {
  return Object.assign(new Error(message), { name: "ApiError", kind: "api" as const, status, retryAfterMs });
}

export function isApiError(err: unknown): err is ApiError {
  return err instanceof Error && (err as Partial<ApiError>).kind === "api";
}

/**
 * The final word on a failed call, already one sentence for the user; retry wrappers pass it
 * through untouched (so nesting never rewrites a message twice).
 */
export interface VendorError extends Error {
  kind: "vendor";
  status: number | undefined;
}

export function vendorError(message: string, status: number | undefined): VendorError {
  return Object.assign(new Error(message), { name: "VendorError", kind: "vendor" as const, status });
}

/** True when err is a vendor's answer with this status, before or after withRetry. */
export function hasStatus(err: unknown, status: number): boolean {
  return err instanceof Error && ((err as Partial<ApiError>).kind === "api" || (err as Partial<VendorError>).kind === "vendor") && (err as ApiError).status === status;
}

/** Replaces every occurrence of each secret (and its URL-encoded form) with "[secret]". */
export function redact(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const s of secrets) {
    if (!s || s.length < 4) continue;
    for (const form of new Set([s, encodeURIComponent(s)])) out = out.split(form).join("[secret]");
  }
  // Bearer tokens and passwords in URIs even when the caller did not name them.
  return out.replace(/(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi, "$1[secret]").replace(/(\/\/[^:/@\s]+:)[^@\s]+@/g, "$1[secret]@");
}

/**
 * The sentence for a failed call. `what` is the action in progress ("creating the Render
 * service mlflow-kit-dev"); `detail` is the vendor's own message, shown after redaction.
 */
export function describeFailure(vendor: Vendor, status: number | undefined, what: string, detail: string, secrets: ReadonlyArray<string | undefined>): string {
  const said = detail ? ` ${vendor.name} said: ${truncate(redact(detail, secrets), 300)}` : "";
  switch (status) {
    case undefined:
      return `${vendor.name}: ${what} failed: the connection dropped or timed out.${said}`;
    case 401:
      return `${vendor.name} rejected the token in ${vendor.tokenKey} (401 Unauthorized) while ${what}: it is wrong, expired or revoked. Set a valid one with \`pulumi config set --secret ${vendor.tokenKey} <token>\`.`;
    case 402:
      return `${vendor.name} refused ${what} (402 Payment Required): ${vendor.plan}.${said}`;
    case 403:
      return `${vendor.name} refused ${what} (403 Forbidden): the token in ${vendor.tokenKey} lacks ${vendor.permission}. Use a token that has it.${said}`;
    case 404:
      return `${vendor.name}: ${what} failed (404 Not Found): the object does not exist or the token in ${vendor.tokenKey} cannot see it.${said}`;
    default:
      return `${vendor.name}: ${what} failed (HTTP ${status}).${said}`;
  }
}

function truncate(s: string, n: number): string {
  const one = s.replace(/\s+/g, " ").trim();
  return one.length > n ? `${one.slice(0, n - 3)}...` : one;
}
