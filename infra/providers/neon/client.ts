/**
 * What every Neon resource provider shares: the official client (@neondatabase/api-client) with
 * its axios errors turned into core ApiErrors, one-sentence failures naming
 * mlflow-kit:neonApiKey, and the wait for the operations a write starts.
 *
 * Providers are serialized with their closures: these are plain functions; the API key lives on
 * the provider instance (set in `configure`) and is passed in, never captured.
 */
import type { Api, Operation } from "@neondatabase/api-client";
import { apiError, hasStatus, vendorError, type Vendor } from "../core/errors";
import { pollUntil } from "../core/poll";
import { retryAfterMs, withRetry, type CallContext } from "../core/retry";

export const NEON_API_URL = "https://console.neon.tech/api/v2";
export const NEON_TOKEN_KEY = "mlflow-kit:neonApiKey";

export const neonVendor: Vendor = {
  name: "Neon",
  tokenKey: NEON_TOKEN_KEY,
  permission: "access to the project (use a personal or organization API key of an account that is a member of the project's organization, not a project-scoped key for another project)",
  plan: "the Neon plan of the account or organization does not allow it (projects, branches or compute beyond the plan's limits); upgrade the plan or delete unused projects and branches",
};

export type NeonApi = Api<unknown>;

/** How long to wait for one Neon operation (create_branch, start_compute, ...). */
const OPERATION_TIMEOUT_MS = 10 * 60_000;

/**
 * @neondatabase/api-client, loaded when a provider method runs: closure serialization names a
 * package only for a `require` at call time (see infra/providers/README.md).
 */
function neonLibrary(): typeof import("@neondatabase/api-client") {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("@neondatabase/api-client");
}

/** The client for one call site; the key is used in the Authorization header only. */
export function neonClient(apiKey: string | undefined, apiUrl: string | undefined): NeonApi {
  if (!apiKey) throw vendorError(`Neon: no API key: ${NEON_TOKEN_KEY} is not set. Set it with \`pulumi config set --secret ${NEON_TOKEN_KEY} <key>\` (Neon console: Account settings > API keys).`, undefined);
  return neonLibrary().createApiClient({ apiKey, baseURL: apiUrl ?? NEON_API_URL, timeout: 60_000 });
}

/**
 * Runs one client call and rethrows its failure as what withRetry understands: an ApiError with
 * the status, Neon's own message and the wait it asked for; a dropped connection as a plain error
 * carrying only the socket code (an axios error holds the request config, Authorization included,
 * so it must never travel further).
 */
export async function neon<T>(call: () => Promise<{ data: T }>): Promise<T> {
  try {
    return (await call()).data;
  } catch (err) {
    throw toApiError(err);
  }
}

export function toApiError(err: unknown): unknown {
  const e = err as { isAxiosError?: boolean; response?: { status: number; data?: unknown; headers?: Record<string, unknown> }; code?: string; message?: string };
  if (!e || !e.isAxiosError) return err;
  if (e.response) {
    const { status, data, headers } = e.response;
    const header = (n: string) => {
      const h = headers as { get?: (n: string) => unknown } & Record<string, unknown>;
      const v = typeof h?.get === "function" ? h.get(n) : h?.[n];
      return v == null ? undefined : String(v);
    };
    const body = data as { message?: unknown; code?: unknown } | string | undefined;
    const detail = typeof body === "string" ? body : [body?.code, body?.message].filter((x) => x !== undefined && x !== "").map(String).join(": ");
    return apiError(detail, status, status === 429 || status === 423 || status >= 500 ? retryAfterMs(header) : undefined);
  }
  // No answer: keep the socket code so isDroppedConnection sees it, drop everything else.
  const dropped = new Error(`no answer from Neon (${e.code ?? "network error"})`);
  (dropped as { code?: string }).code = e.code === "ERR_NETWORK" || !e.code ? "ECONNRESET" : e.code;
  return dropped;
}

/** A retried call: `what` for messages, the key among the values masked in any message. */
export function retried<T>(apiKey: string | undefined, what: string, call: (attempt: number) => Promise<T>, extraSecrets: ReadonlyArray<string | undefined> = []): Promise<T> {
  const ctx: CallContext = { vendor: neonVendor, what, secrets: [apiKey, ...extraSecrets] };
  return withRetry(ctx, call);
}

/** True when `err` is Neon's answer with this status (inside a retried call). */
export function isStatus(err: unknown, status: number): boolean {
  return hasStatus(err, status);
}

/**
 * Waits for the operations a write returned, until each is finished (or skipped). Neon marks an
 * operation it will retry itself as `error` (with retry_at) and one that gave up as `failed` or
 * `cancelled`; the error names the operation, its action and what it was for.
 */
export async function waitForOperations(api: NeonApi, apiKey: string | undefined, projectId: string, operations: Operation[] | undefined, what: string): Promise<void> {
  for (const op of operations ?? []) {
    if (op.status === "finished" || op.status === "skipped") continue;
    await pollUntil({ what: `the Neon operation ${op.action} ${op.id} (${what})`, timeoutMs: OPERATION_TIMEOUT_MS, initialIntervalMs: 200, maxIntervalMs: 5_000 }, async () => {
      const { operation } = await retried(apiKey, `reading the Neon operation ${op.action} ${op.id}`, () => neon(() => api.getProjectOperation(projectId, op.id)));
      const failed = operation.status === "failed" || operation.status === "cancelled" || operation.status === "cancelling";
      return { done: operation.status === "finished" || operation.status === "skipped", state: operation.status, failed: failed ? operation.error || `the operation ended ${operation.status}` : undefined };
    });
  }
}

/** Fields every Neon resource's inputs share. */
export interface NeonCommonInputs {
  /** The API base URL; the contract tests point it at the fake. Never causes a replace. */
  apiUrl?: string;
}

/** Names of the properties that differ between olds and news (undefined and missing alike). */
export function changed(olds: object, news: object, keys: readonly string[]): string[] {
  const o = olds as Record<string, unknown>;
  const n = news as Record<string, unknown>;
  return keys.filter((k) => JSON.stringify(o[k] ?? null) !== JSON.stringify(n[k] ?? null));
}

/** The provider-facing `configure` request: the whole stack config, secrets unwrapped. */
export interface ConfigureRequest {
  config: { get(key: string): string | undefined };
}
