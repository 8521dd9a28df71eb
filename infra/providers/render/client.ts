/**
 * Render's REST API through openapi-fetch, typed by openapi.d.ts (generated from Render's own
 * OpenAPI document, openapi.json beside it: `npm run gen:render`). Every call goes through
 * `renderCall`, which turns a non-2xx answer into core's ApiError (Ratelimit-Reset honoured by
 * withRetry) and retries what is worth retrying. Plain functions only: the providers that use
 * them are serialized with their closures.
 */
import createClient from "openapi-fetch";
import { apiErrorFrom } from "../core/http";
import { hasStatus, type Vendor } from "../core/errors";
import { withRetry, type CallContext } from "../core/retry";
import type { components, paths } from "./openapi";

export type Schemas = components["schemas"];
export type RenderClient = ReturnType<typeof createClient<paths>>;

export const RENDER_API_URL = "https://api.render.com/v1";
export const RENDER_TOKEN_KEY = "mlflow-kit:renderApiKey";

export const RENDER: Vendor = {
  name: "Render",
  tokenKey: RENDER_TOKEN_KEY,
  permission: "access to the Render workspace in mlflow-kit:target.ownerId (creating and changing services and registry credentials there)",
  plan: "the Render workspace has no payment method for the paid instance type in mlflow-kit:target.plan; add one under Billing in the Render dashboard, or choose another plan",
};

/** One client per call site: the token lives in the Authorization header, nowhere else. */
export function renderClient(apiUrl: string, token: string): RenderClient {
  return createClient<paths>({
    baseUrl: apiUrl.replace(/\/+$/, ""),
    headers: { authorization: `Bearer ${token}`, accept: "application/json" },
    // The document declares array filters as style form, explode false: name=a,b.
    querySerializer: { array: { style: "form", explode: false } },
    // No answer within a minute counts as a dropped connection (retried by withRetry).
    fetch: (req: Request) => fetch(req, { signal: AbortSignal.timeout(60_000) }),
  });
}

/** What an openapi-fetch call resolves to. */
interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** One call, no retries: a non-2xx answer becomes ApiError (for use inside a withRetry of its own). */
export async function renderOnce<T>(call: () => Promise<Answer<T>>): Promise<{ data: T; status: number }> {
  const r = await call();
  if (!r.response.ok) throw apiErrorFrom(r.response.status, (n) => r.response.headers.get(n), r.error);
  return { data: r.data as T, status: r.response.status };
}

/** A vendor call with retries; non-2xx answers become ApiError, the last one a VendorError sentence. */
export async function renderCall<T>(ctx: CallContext, call: () => Promise<Answer<T>>): Promise<{ data: T; status: number }> {
  return withRetry(ctx, () => renderOnce(call));
}

/**
 * A create that is safe to retry: before every attempt after the first it looks for what an
 * earlier attempt may have made (a POST whose answer was lost still created it, and Render does
 * not refuse a second object of the same name: it would make, and bill, a second one).
 */
export async function createOnce<T, F>(ctx: CallContext, lookup: () => Promise<F | undefined>, create: () => Promise<T>): Promise<{ created: T } | { found: F }> {
  return withRetry(ctx, async (attempt) => {
    if (attempt > 1) {
      const found = await lookup();
      if (found !== undefined) return { found };
    }
    return { created: await create() };
  });
}

/** True for an answer that says the object is gone (404 or 410). */
export function isGone(err: unknown): boolean {
  return hasStatus(err, 404) || hasStatus(err, 410);
}

export function callContext(what: string, token: string, extraSecrets: ReadonlyArray<string | undefined> = []): CallContext {
  return { vendor: RENDER, what, secrets: [token, ...extraSecrets] };
}

/**
 * The workspace to work in: the one given, or the only one the key sees (GET /owners). Several
 * or none is an error naming the setting.
 */
export async function resolveOwnerId(client: RenderClient, token: string, given: string | undefined): Promise<string> {
  if (given) return given;
  const { data } = await renderCall(callContext("listing the workspaces the API key sees (GET /owners)", token), () => client.GET("/owners", { params: { query: { limit: 100 } } }));
  const owners = (data ?? []).map((o) => o.owner).filter((o): o is Schemas["owner"] => !!o);
  if (owners.length === 1) return owners[0].id;
  const seen = owners.map((o) => `${o.name} (${o.id})`).join(", ");
  throw new Error(owners.length === 0
    ? `mlflow-kit:target.ownerId: is unset and the key in ${RENDER_TOKEN_KEY} sees no Render workspace. Set the workspace id (tea-... or usr-..., from the workspace's Settings page) with \`pulumi config set --path mlflow-kit:target.ownerId <id>\``
    : `mlflow-kit:target.ownerId: is unset and the key in ${RENDER_TOKEN_KEY} sees ${owners.length} Render workspaces: ${seen}. Choose one: \`pulumi config set --path mlflow-kit:target.ownerId <id>\``);
}

/** The token from the stack config, or an error naming the key (set in each provider's configure). */
export function requireToken(token: string | undefined): string {
  if (!token) throw new Error(`${RENDER_TOKEN_KEY}: is missing. Set it: \`pulumi config set --secret ${RENDER_TOKEN_KEY} <Render API key>\``);
  return token;
}
