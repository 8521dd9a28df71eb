import type { Vendor } from "../core/errors";
import { apiErrorFrom } from "../core/http";
import type { CallContext } from "../core/retry";

/**
 * @huggingface/hub, loaded when a provider method runs. A static import would be captured as a
 * module binding, which closure serialization cannot always name as a package (under vitest it
 * walks into the library and fails); a `require` at call time serializes as itself.
 */
export function hub(): typeof import("@huggingface/hub") {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("@huggingface/hub");
}

/** The config key of the token and the vendor facts for error sentences. */
export const HF_TOKEN_KEY = "mlflow-kit:hfToken";
export const HF_API_URL = "https://huggingface.co";

export const HF: Vendor = {
  name: "Hugging Face",
  tokenKey: HF_TOKEN_KEY,
  permission: "write access to the Space's owner (a token with the write role, or a fine-grained token that may write the user's or organization's repos)",
  plan: "this account cannot create or upgrade a compute Space without a paid plan or a payment method on file (Settings -> Billing), or the hardware asked for (target.hardware) is paid; use hardware cpu-basic or add billing",
};

/** The token from the stack config, refused early when absent or not shaped like one. */
export function hfToken(config: { get(key: string): string | undefined }): string {
  const token = config.get(HF_TOKEN_KEY);
  if (!token) throw new Error(`${HF_TOKEN_KEY} is not set: the Space provider needs a Hugging Face token with write access. Set it: \`pulumi config set --secret ${HF_TOKEN_KEY} <token>\``);
  if (!token.startsWith("hf_")) throw new Error(`${HF_TOKEN_KEY} does not look like a Hugging Face token (they start with "hf_"). Set the right one: \`pulumi config set --secret ${HF_TOKEN_KEY} <token>\``);
  return token;
}

/**
 * fetch for @huggingface/hub: a non-2xx answer becomes a core ApiError carrying the status and
 * the wait the Hub asked for, before the library turns it into an error without headers.
 */
export async function hubFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const res = await fetch(input, { ...init, signal: init?.signal ?? AbortSignal.timeout(60_000) });
  if (res.ok) return res;
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON: keep the text */
  }
  throw apiErrorFrom(res.status, (n) => res.headers.get(n), body);
}

/** The call context of one action on a Space: the token and every secret value are masked. */
export function hfContext(what: string, token: string, secretValues: string[] = []): CallContext {
  return { vendor: HF, what, secrets: [token, ...secretValues] };
}
