/**
 * A vendor API fake on 127.0.0.1 for the provider contract tests. It keeps state in the
 * handlers a vendor test registers, and on every call:
 * - routes and validates the request against the vendor's OpenAPI document (openapi-backend);
 * - validates its own answer against the same document;
 * - checks the token is sent in the Authorization header and nowhere else;
 * - plays the faults a test injects (429 with rate-limit headers, 423, 500, 409, 404, a dropped
 *   connection) before the handler runs.
 * Anything off the document is recorded in `problems`, which a test asserts to be empty.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import addFormats from "ajv-formats";
import OpenAPIBackend, { type Context, type Document } from "openapi-backend";

export interface FakeReply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Fault =
  | { kind: "status"; status: number; headers?: Record<string, string>; message?: string }
  | { kind: "drop" }
  /** The handler runs (state changes) and then the connection drops: an answer lost on the way back. */
  | { kind: "drop-after" };

export interface FakeCall {
  operationId: string;
  method: string;
  path: string;
  query: Record<string, string | string[]>;
  body: unknown;
  status: number | "dropped";
}

export type FakeHandler = (c: Context, body: any) => FakeReply | Promise<FakeReply>;

export interface FakeApiOptions {
  name: string;
  definition: Document | string;
  /** Path prefix of the document's server URL, e.g. "/v1". */
  apiRoot: string;
  token: string;
  handlers: Record<string, FakeHandler>;
  /** The vendor's error body for a status and message. */
  errorBody: (status: number, message: string) => unknown;
  /**
   * Why the document itself is not checked against the OpenAPI 3.0 meta-schema (e.g. Neon's has
   * `description` beside `$ref`, which 3.0 forbids). Requests and answers are still validated.
   * Without it an invalid document fails the start (openapi-backend would otherwise carry on
   * with an unresolved document and match almost nothing).
   */
  skipDocumentCheck?: string;
  /** Also check string formats (date-time, uuid, email, ...) with ajv-formats; off by default. */
  checkFormats?: boolean;
}

export class FakeApi {
  readonly calls: FakeCall[] = [];
  readonly problems: string[] = [];
  private readonly faults: Array<{ operationId: string; fault: Fault; left: number }> = [];
  private server!: http.Server;
  url = "";

  private constructor(private readonly o: FakeApiOptions, private readonly api: OpenAPIBackend) {}

  static async start(o: FakeApiOptions): Promise<FakeApi> {
    // quick: no meta-schema check of the document; the references are still resolved.
    const api = new OpenAPIBackend({ definition: o.definition, apiRoot: o.apiRoot, validate: true, strict: !o.skipDocumentCheck, quick: Boolean(o.skipDocumentCheck), ajvOpts: { strict: false } as any, ...(o.checkFormats ? { customizeAjv: (ajv: any) => addFormats(ajv) } : {}) });
    await api.init();
    if (api.getOperations().length === 0) throw new Error(`${o.name} fake: the document has no operations`);
    const fake = new FakeApi(o, api);
    fake.server = http.createServer((req, res) => {
      // A fault in the fake itself (a schema the validator cannot compile) is a problem, never a hang.
      fake.serve(req, res).catch((err: Error) => {
        fake.problems.push(`${req.method} ${req.url}: the fake failed: ${err.message.slice(0, 300)}`);
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify(o.errorBody(500, "fake error")));
      });
    });
    await new Promise<void>((r) => fake.server.listen(0, "127.0.0.1", () => r()));
    fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    return fake;
  }

  /** The next `times` calls of `operationId` get `fault` instead of the handler's answer. */
  inject(operationId: string, fault: Fault, times = 1): void {
    if (!this.api.getOperation(operationId)) throw new Error(`${this.o.name} fake: no operation ${operationId} in the document`);
    this.faults.push({ operationId, fault, left: times });
  }

  /** operationIds of the calls so far, in order (faulted ones included). */
  sequence(): string[] {
    return this.calls.map((c) => `${c.operationId}${c.status === "dropped" ? "!drop" : c.status >= 400 ? `!${c.status}` : ""}`);
  }

  reset(): void {
    this.calls.length = 0;
    this.problems.length = 0;
    this.faults.length = 0;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const url = new URL(req.url ?? "/", this.url);
    const query: Record<string, string | string[]> = {};
    for (const [k, v] of url.searchParams) query[k] = k in query ? ([] as string[]).concat(query[k], v) : v;
    let body: unknown = undefined;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
    }
    const request = { method: req.method ?? "GET", path: url.pathname, query, headers: req.headers as Record<string, string>, body };
    const operation = this.api.matchOperation(request);
    const operationId = operation?.operationId ?? `${request.method} ${request.path}`;
    const call: FakeCall = { operationId, method: request.method, path: request.path, query, body, status: 0 };
    this.calls.push(call);

    if (`${url.search}${raw}`.includes(this.o.token)) this.problems.push(`${operationId}: the token was sent outside the Authorization header`);
    const reply = (r: FakeReply) => {
      call.status = r.status;
      if (operation) {
        const responses = (operation.responses ?? {}) as Record<string, { content?: unknown }>;
        const declared = responses[String(r.status)] ?? responses.default;
        if (!declared) this.problems.push(`${operationId}: the fake answered ${r.status}, a status the document does not declare`);
        // A body-less answer is checked only where the document promises a body.
        else if (r.body !== undefined || declared.content) {
          const v = this.api.validateResponse(r.body, operation, r.status);
          if (v.errors?.length) this.problems.push(`${operationId}: the fake answered ${r.status} off the document: ${JSON.stringify(v.errors).slice(0, 400)}`);
        }
      }
      res.writeHead(r.status, { ...(r.body === undefined ? {} : { "content-type": "application/json" }), ...r.headers });
      res.end(r.body === undefined ? undefined : JSON.stringify(r.body));
    };

    if (!operation) {
      this.problems.push(`${operationId}: no such operation in the ${this.o.name} document`);
      return reply({ status: 404, body: this.o.errorBody(404, "not found") });
    }
    if (req.headers.authorization !== `Bearer ${this.o.token}`) {
      return reply({ status: 401, body: this.o.errorBody(401, "unauthorized") });
    }
    const fault = this.faults.find((f) => f.operationId === operationId && f.left > 0);
    let dropAfter = false;
    if (fault?.fault.kind === "drop-after") {
      fault.left--;
      dropAfter = true;
    } else if (fault) {
      fault.left--;
      if (fault.fault.kind === "drop") {
        call.status = "dropped";
        req.socket.destroy();
        return;
      }
      return reply({ status: fault.fault.status, headers: fault.fault.headers, body: this.o.errorBody(fault.fault.status, fault.fault.message ?? `injected ${fault.fault.status}`) });
    }
    const validation = this.api.validateRequest(request, operation);
    if (!validation.valid) {
      this.problems.push(`${operationId}: request off the document: ${JSON.stringify(validation.errors).slice(0, 400)}`);
      return reply({ status: 400, body: this.o.errorBody(400, "invalid request") });
    }
    const handler = this.o.handlers[operationId];
    if (!handler) {
      this.problems.push(`${operationId}: the ${this.o.name} fake has no handler for it`);
      return reply({ status: 501, body: this.o.errorBody(501, "not implemented by the fake") });
    }
    try {
      const parsed = this.api.router.parseRequest(request, operation);
      const answer = await handler({ api: this.api, request: parsed, operation, validation, security: {}, response: undefined } as Context, body);
      if (dropAfter) {
        call.status = "dropped";
        req.socket.destroy();
        return;
      }
      reply(answer);
    } catch (err) {
      this.problems.push(`${operationId}: handler threw ${(err as Error).message}`);
      reply({ status: 500, body: this.o.errorBody(500, "fake handler error") });
    }
  }
}
