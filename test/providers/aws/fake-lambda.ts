/**
 * A fake of the two Lambda API operations the bootstrap invocation uses, on 127.0.0.1, shaped
 * as the Lambda REST API (2015-03-31) answers them, with the function's state machine from
 * AWS's "Lambda function states":
 * - GET  /2015-03-31/functions/{name}/configuration: State, StateReason(Code), LastUpdateStatus.
 * - POST /2015-03-31/functions/{name}/invocations: 200 with the handler's payload when Active;
 *   an Inactive function answers 502 ResourceNotReadyException and turns Pending (that call
 *   wakes it); a Pending one answers 409 ResourceConflictException; a handler error answers
 *   200 with X-Amz-Function-Error: Unhandled and {errorType, errorMessage, trace}.
 * Every request must carry a SigV4 Authorization for service "lambda" in the expected region;
 * anything else is recorded in `problems`, which a test asserts to be empty.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export type FunctionState = "Pending" | "Active" | "Inactive" | "Failed";

export interface FakeFunction {
  state: FunctionState;
  lastUpdateStatus: "Successful" | "InProgress" | "Failed";
  stateReasonCode?: string;
  stateReason?: string;
  /**
   * Configuration reads left until a Pending function turns Active, or an update in progress
   * completes (Lambda re-creates network interfaces and applies updates in the background).
   */
  readsUntilSettled: number;
  /** What an invocation of an Active function does: its payload, or a thrown error. */
  handler: (event: unknown) => unknown;
}

export interface LambdaCall {
  operation: "GetFunctionConfiguration" | "Invoke";
  functionName: string;
  /** The state the function was in when the call arrived. */
  state: string;
  status: number;
  body?: string;
}

export class FakeLambda {
  readonly calls: LambdaCall[] = [];
  readonly problems: string[] = [];
  readonly functions = new Map<string, FakeFunction>();
  /** The access key id of every signed request, in order. */
  readonly accessKeyIds: string[] = [];
  private server: http.Server | undefined;

  constructor(private readonly region: string) {}

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => this.handle(req, Buffer.concat(chunks).toString("utf8"), res));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private handle(req: http.IncomingMessage, body: string, res: http.ServerResponse): void {
    const auth = String(req.headers.authorization ?? "");
    if (!new RegExp(`^AWS4-HMAC-SHA256 Credential=[A-Z0-9]+/\\d{8}/${this.region}/lambda/aws4_request, SignedHeaders=[^,]+, Signature=[0-9a-f]{64}$`).test(auth)) {
      this.problems.push(`${req.method} ${req.url}: no SigV4 authorization for lambda in ${this.region}: ${auth.slice(0, 60)}`);
    }
    const key = /Credential=([A-Z0-9]+)\//.exec(auth);
    if (key) this.accessKeyIds.push(key[1]);
    const config = /^\/2015-03-31\/functions\/([^/]+)\/configuration$/.exec(req.url ?? "");
    const invoke = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(req.url ?? "");
    if (req.method === "GET" && config) return this.getConfiguration(decodeURIComponent(config[1]), res);
    if (req.method === "POST" && invoke) return this.invoke(decodeURIComponent(invoke[1]), req, body, res);
    this.problems.push(`unexpected ${req.method} ${req.url}`);
    this.error(res, 404, "UnknownOperationException", "unknown operation");
  }

  private getConfiguration(name: string, res: http.ServerResponse): void {
    const fn = this.functions.get(name);
    if (!fn) {
      this.calls.push({ operation: "GetFunctionConfiguration", functionName: name, state: "missing", status: 404 });
      return this.error(res, 404, "ResourceNotFoundException", `Function not found: arn:aws:lambda:${this.region}:123456789012:function:${name}`);
    }
    const seen = `${fn.state}/${fn.lastUpdateStatus}`;
    // Background work progresses between reads.
    if ((fn.state === "Pending" || fn.lastUpdateStatus === "InProgress") && fn.readsUntilSettled-- <= 0) {
      if (fn.state === "Pending") fn.state = "Active";
      fn.lastUpdateStatus = "Successful";
    }
    this.calls.push({ operation: "GetFunctionConfiguration", functionName: name, state: seen, status: 200 });
    this.json(res, 200, {
      FunctionName: name,
      FunctionArn: `arn:aws:lambda:${this.region}:123456789012:function:${name}`,
      Runtime: "nodejs22.x",
      State: fn.state,
      StateReason: fn.stateReason,
      StateReasonCode: fn.stateReasonCode,
      LastUpdateStatus: fn.lastUpdateStatus,
    });
  }

  private invoke(name: string, req: http.IncomingMessage, body: string, res: http.ServerResponse): void {
    const fn = this.functions.get(name);
    const record = (state: string, status: number) => this.calls.push({ operation: "Invoke", functionName: name, state, status, body });
    if (req.headers["x-amz-invocation-type"] !== undefined && req.headers["x-amz-invocation-type"] !== "RequestResponse") {
      this.problems.push(`Invoke ${name}: invocation type ${String(req.headers["x-amz-invocation-type"])}, expected RequestResponse`);
    }
    if (!fn) {
      record("missing", 404);
      return this.error(res, 404, "ResourceNotFoundException", `Function not found: ${name}`);
    }
    const seen = `${fn.state}/${fn.lastUpdateStatus}`;
    if (fn.state === "Inactive") {
      // The invocation fails and wakes the function (AWS, "Lambda function states").
      fn.state = "Pending";
      record(seen, 502);
      return this.error(res, 502, "ResourceNotReadyException", "The function is currently in the following state: Inactive");
    }
    if (fn.state === "Pending" || fn.state === "Failed") {
      record(seen, 409);
      return this.error(res, 409, "ResourceConflictException", `The operation cannot be performed at this time. The function is currently in the following state: ${fn.state}`);
    }
    let payload: string;
    try {
      payload = JSON.stringify(fn.handler(JSON.parse(body)));
    } catch (err) {
      record(seen, 200);
      res.writeHead(200, { "content-type": "application/json", "x-amz-function-error": "Unhandled", "x-amz-executed-version": "$LATEST" });
      res.end(JSON.stringify({ errorType: (err as Error).name, errorMessage: (err as Error).message, trace: [`${(err as Error).name}: ${(err as Error).message}`, "    at handler (/var/task/index.js:1:1)"] }));
      return;
    }
    record(seen, 200);
    res.writeHead(200, { "content-type": "application/json", "x-amz-executed-version": "$LATEST" });
    res.end(payload);
  }

  private json(res: http.ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { "content-type": "application/json", "x-amzn-requestid": `req-${this.calls.length}` });
    res.end(JSON.stringify(body));
  }

  private error(res: http.ServerResponse, status: number, type: string, message: string): void {
    res.writeHead(status, { "content-type": "application/json", "x-amzn-errortype": type, "x-amzn-requestid": `req-${this.calls.length}` });
    res.end(JSON.stringify({ Type: status >= 500 ? "Service" : "User", message }));
  }
}
