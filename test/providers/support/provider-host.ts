/**
 * Drives a kit dynamic provider the way the Pulumi engine does: @pulumi/pulumi's own
 * dynamic-provider host (cmd/dynamic-provider) runs as a child process, and this client calls
 * its gRPC ResourceProvider interface (Configure, Check, Diff, Create, Read, Update, Delete)
 * with the provider text a real dynamic resource serializes (serialize-provider.ts).
 *
 * Secrets follow the engine's rules: Configure gets the stack config with secrets marked; the
 * host answers acceptSecrets=false, so resource properties go to it as plain values, and the
 * engine marks an output secret when the input of that name was secret or when the resource
 * lists it in additionalSecretOutputs. `State` keeps those marks, so a test can check that no
 * secret value sits in a plain property of the state.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { plainTextLeaks } from "../../support/leaks";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const PULUMI = path.join(ROOT, "node_modules", "@pulumi", "pulumi");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const provproto = require(path.join(PULUMI, "proto", "provider_pb.js"));
// eslint-disable-next-line @typescript-eslint/no-require-imports
const provrpc = require(path.join(PULUMI, "proto", "provider_grpc_pb.js"));

export const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

type Props = Record<string, unknown>;

/** Resource properties as the engine holds them: values plus the names that are secret. */
export interface State {
  id: string;
  props: Props;
  secret: string[];
}

export interface DiffResult {
  changes: "none" | "some" | "unknown";
  replaces: string[];
  deleteBeforeReplace: boolean;
}

/** The provider text of `exportName` in `modulePath` (absolute or repo-relative), as a dynamic resource serializes it. */
export function serializeProvider(modulePath: string, exportName: string): string {
  const tsx = path.join(ROOT, "node_modules", ".bin", "tsx");
  const out = execFileSync(tsx, [path.join(__dirname, "serialize-provider.ts"), path.resolve(ROOT, modulePath), exportName], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  return (JSON.parse(out) as { text: string }).text;
}

/** Several providers' texts from one process (serializeProvider costs a process start each). */
export function serializeProviders(pairs: ReadonlyArray<readonly [modulePath: string, exportName: string]>): string[] {
  const tsx = path.join(ROOT, "node_modules", ".bin", "tsx");
  const args = pairs.flatMap(([m, e]) => [path.resolve(ROOT, m), e]);
  const out = execFileSync(tsx, [path.join(__dirname, "serialize-provider.ts"), ...args], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  const parsed = JSON.parse(out) as { text?: string; texts?: string[] };
  return parsed.texts ?? [parsed.text!];
}

export class ProviderHost {
  private constructor(
    private readonly child: ChildProcess,
    private readonly client: any,
    /** Everything the host wrote to stderr (the engine shows it as diagnostics). */
    readonly stderr: string[],
  ) {}

  /** Starts the host on a free loopback port and configures it with the stack config. */
  static async start(opts: { config: Record<string, string>; secretKeys: string[]; env?: NodeJS.ProcessEnv }): Promise<ProviderHost> {
    const child = spawn(process.execPath, [path.join(PULUMI, "cmd", "dynamic-provider", "index.js"), "127.0.0.1:1"], {
      cwd: ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const stderr: string[] = [];
    child.stderr!.on("data", (d: Buffer) => stderr.push(d.toString()));
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`dynamic-provider host printed no port in 20 s: ${stderr.join("")}`)), 20_000);
      let buf = "";
      child.stdout!.on("data", (d: Buffer) => {
        buf += d.toString();
        const m = /^(\d+)\s*$/m.exec(buf);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      child.on("exit", (code) => reject(new Error(`dynamic-provider host exited with ${code}: ${stderr.join("")}`)));
    });
    const client = new provrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const host = new ProviderHost(child, client, stderr);
    const req = new provproto.ConfigureRequest();
    const args: Props = {};
    for (const [k, v] of Object.entries(opts.config)) args[k] = opts.secretKeys.includes(k) ? { [SECRET_SIG_KEY]: SECRET_SIG, value: v } : v;
    req.setArgs(Struct.fromJavaScript(args as any));
    for (const [k, v] of Object.entries(opts.config)) req.getVariablesMap().set(k, v);
    req.setAcceptsecrets(true);
    req.setAcceptresources(false);
    const resp = await host.unary("configure", req);
    // The engine keeps secrets in properties only for a provider that accepts them.
    if (resp.getAcceptsecrets()) throw new Error("the dynamic-provider host now accepts secrets: update this harness to send them marked");
    return host;
  }

  async check(urn: string, olds: State | undefined, news: Props): Promise<{ inputs: Props; failures: Array<{ property: string; reason: string }> }> {
    const req = new provproto.CheckRequest();
    req.setUrn(urn);
    req.setOlds(Struct.fromJavaScript((olds?.props ?? {}) as any));
    req.setNews(Struct.fromJavaScript(news as any));
    const resp = await this.unary("check", req);
    return {
      inputs: resp.getInputs().toJavaScript(),
      failures: resp.getFailuresList().map((f: any) => ({ property: f.getProperty(), reason: f.getReason() })),
    };
  }

  async diff(urn: string, olds: State, news: Props): Promise<DiffResult> {
    const req = new provproto.DiffRequest();
    req.setId(olds.id);
    req.setUrn(urn);
    req.setOlds(Struct.fromJavaScript(olds.props as any));
    req.setNews(Struct.fromJavaScript(news as any));
    const resp = await this.unary("diff", req);
    const kinds: Record<number, DiffResult["changes"]> = { 0: "unknown", 1: "none", 2: "some" };
    return { changes: kinds[resp.getChanges()], replaces: resp.getReplacesList(), deleteBeforeReplace: resp.getDeletebeforereplace() };
  }

  /**
   * Create, then mark outputs secret as the engine would: names whose input was secret, and the
   * resource's additionalSecretOutputs.
   */
  async create(urn: string, inputs: Props, marks: { secretInputs: string[]; additionalSecretOutputs: string[] }): Promise<State> {
    const req = new provproto.CreateRequest();
    req.setUrn(urn);
    req.setProperties(Struct.fromJavaScript(inputs as any));
    req.setTimeout(0);
    const resp = await this.unary("create", req);
    const props = resp.getProperties().toJavaScript();
    return { id: resp.getId(), props, secret: secretNames(props, marks) };
  }

  async read(urn: string, id: string, props: Props, marks: { secretInputs: string[]; additionalSecretOutputs: string[] }): Promise<State> {
    const req = new provproto.ReadRequest();
    req.setId(id);
    req.setUrn(urn);
    req.setProperties(Struct.fromJavaScript(props as any));
    const resp = await this.unary("read", req);
    const out = resp.getProperties().toJavaScript();
    return { id: resp.getId(), props: out, secret: secretNames(out, marks) };
  }

  async update(urn: string, olds: State, news: Props, marks: { secretInputs: string[]; additionalSecretOutputs: string[] }): Promise<State> {
    const req = new provproto.UpdateRequest();
    req.setId(olds.id);
    req.setUrn(urn);
    req.setOlds(Struct.fromJavaScript(olds.props as any));
    req.setNews(Struct.fromJavaScript(news as any));
    req.setTimeout(0);
    const resp = await this.unary("update", req);
    const props = resp.getProperties().toJavaScript();
    return { id: olds.id, props, secret: secretNames(props, marks) };
  }

  async delete(urn: string, state: State): Promise<void> {
    const req = new provproto.DeleteRequest();
    req.setId(state.id);
    req.setUrn(urn);
    req.setProperties(Struct.fromJavaScript(state.props as any));
    await this.unary("delete", req);
  }

  async stop(): Promise<void> {
    this.client.close();
    if (this.child.exitCode === null) {
      const exited = new Promise((r) => this.child.once("exit", r));
      this.child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      if (this.child.exitCode === null) this.child.kill("SIGKILL");
    }
  }

  private unary(method: string, req: unknown): Promise<any> {
    return new Promise((resolve, reject) => {
      this.client[method](req, { deadline: Date.now() + 120_000 }, (err: grpc.ServiceError | null, resp: unknown) => {
        if (err) reject(new Error(err.details || err.message));
        else resolve(resp);
      });
    });
  }
}

/** A dynamic resource's URN, as the engine builds it. */
export function urnOf(type: string, name: string, stack = "provider-contract"): string {
  return `urn:pulumi:${stack}::mlflow-kit::${type}::${name}`;
}

function secretNames(props: Props, marks: { secretInputs: string[]; additionalSecretOutputs: string[] }): string[] {
  return Object.keys(props).filter((k) => marks.secretInputs.includes(k) || marks.additionalSecretOutputs.includes(k));
}

/**
 * Paths of plain (not secret) properties whose value contains one of `secrets`: what must be
 * empty for every state a provider returns.
 */
export function plainSecretLeaks(state: State, secrets: string[]): string[] {
  // __provider too: a token captured by the closure would be stored there in clear.
  return Object.entries(state.props)
    .filter(([k]) => !state.secret.includes(k))
    .flatMap(([k, v]) => plainTextLeaks(v, secrets).map((p) => k + p));
}
