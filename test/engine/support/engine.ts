/**
 * The real Pulumi engine for tests: the CLI and Node.js language host that test/engine/install.sh
 * builds from the Go module proxy (.cache/pulumi/bin), a file backend in a temporary folder, and a
 * Pulumi project whose program is one of test/engine/programs/* (or any folder in the checkout).
 *
 * The project folder is made under .cache/engine-projects/ so that Node finds the checkout's
 * node_modules (@pulumi/pulumi, the vendor clients) from the program, as it does for the kit's
 * own Pulumi.yaml. Every CLI run is bounded in time and gets an environment of its own: no update
 * check, no plugin download, PULUMI_HOME in the temporary folder.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const ROOT = path.resolve(__dirname, "..", "..", "..");
export const ENGINE_BIN = path.join(ROOT, ".cache", "pulumi", "bin");
export const PROJECT_NAME = "mlflow-kit";

/** The engine's binaries, or an error saying how to get them. */
export function requireEngine(): void {
  for (const b of ["pulumi", "pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs"]) {
    if (!fs.existsSync(path.join(ENGINE_BIN, b))) {
      throw new Error(`${path.join(ENGINE_BIN, b)} is missing: run bash test/engine/install.sh (npm test's test/prepare.sh does)`);
    }
  }
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface EngineEnv {
  /** The state folder (file backend). */
  backendDir: string;
  /** What every CLI run and the Automation API get. */
  env: NodeJS.ProcessEnv;
  passphrase: string;
  cleanup(): void;
}

/**
 * A file backend in a fresh temporary folder and the environment that points the CLI at it.
 * `extra` is added to the environment (e.g. MLFLOW_KIT_RETRY_BASE_DELAY_MS for the providers).
 */
export function engineEnv(extra: NodeJS.ProcessEnv = {}): EngineEnv {
  requireEngine();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mlflow-kit-engine-"));
  const backendDir = path.join(tmp, "state");
  const home = path.join(tmp, "pulumi-home");
  fs.mkdirSync(backendDir);
  fs.mkdirSync(home);
  const passphrase = randomBytes(16).toString("hex");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // The engine first, then the project's Node.js 22 (the language host runs `node` from PATH).
    PATH: [ENGINE_BIN, path.join(ROOT, "node_modules", ".bin"), process.env.PATH ?? ""].join(path.delimiter),
    PULUMI_HOME: home,
    PULUMI_BACKEND_URL: `file://${backendDir}`,
    PULUMI_CONFIG_PASSPHRASE: passphrase,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_SKIP_CONFIRMATIONS: "true",
    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
    // The type check is npm run typecheck's; the engine only runs the programs.
    PULUMI_NODEJS_TRANSPILE_ONLY: "true",
    // No colour codes in what tests read.
    NO_COLOR: "1",
    ...extra,
  };
  delete env.PULUMI_ACCESS_TOKEN;
  delete env.PULUMI_CONFIG_PASSPHRASE_FILE;
  return { backendDir, env, passphrase, cleanup: () => fs.rmSync(tmp, { recursive: true, force: true }) };
}

/** Runs the CLI (or another command) with `env`, bounded in time; never throws on a non-zero exit. */
export function run(cmd: string, args: string[], o: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number; input?: string }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { cwd: o.cwd, env: o.env, timeout: o.timeoutMs ?? 240_000, killSignal: "SIGKILL", maxBuffer: 64 * 1024 * 1024, encoding: "utf8" }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean }) | null;
      if (e && typeof e.code === "string") return reject(new Error(`${cmd}: ${e.message}`));
      if (e?.killed) return reject(new Error(`${cmd} ${args.join(" ")}: killed after ${(o.timeoutMs ?? 240_000) / 1000} s\n${stdout}\n${stderr}`));
      resolve({ code: e ? Number(e.code ?? 1) : 0, stdout, stderr });
    });
    if (o.input !== undefined) child.stdin!.end(o.input);
    else child.stdin?.end();
  });
}

export interface StackOptions {
  /** The program folder, relative to the checkout (e.g. test/engine/programs/neon). */
  program: string;
  stack: string;
  /** Plain config, full keys ("mlflow-kit:lifecycle", "engine:apiUrl"). */
  config?: Record<string, string>;
  /** Secret config, full keys. */
  secrets?: Record<string, string>;
  /** Extra environment for the engine (and so for the providers it starts). */
  env?: NodeJS.ProcessEnv;
}

/** One Pulumi project and stack on its own file backend. */
export class EngineStack {
  private constructor(readonly dir: string, readonly stack: string, readonly engine: EngineEnv) {}

  static async create(o: StackOptions): Promise<EngineStack> {
    const engine = engineEnv(o.env);
    const parent = path.join(ROOT, ".cache", "engine-projects");
    fs.mkdirSync(parent, { recursive: true });
    const dir = fs.mkdtempSync(path.join(parent, `${path.basename(o.program)}-`));
    // The program's entry file itself: a folder would make the language host take the nearest
    // package.json's main (the kit's own index.ts).
    const main = path.relative(dir, path.join(ROOT, o.program, "index.ts"));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), [
      `name: ${PROJECT_NAME}`,
      "runtime:",
      "  name: nodejs",
      "  options:",
      "    typescript: true",
      `main: ${main}`,
      "",
    ].join("\n"));
    const s = new EngineStack(dir, o.stack, engine);
    await s.must(["stack", "init"]);
    await s.setConfig(o.config ?? {}, o.secrets ?? {});
    return s;
  }

  async setConfig(plain: Record<string, string>, secret: Record<string, string> = {}): Promise<void> {
    for (const [k, v] of Object.entries(plain)) await this.must(["config", "set", "--", k, v]);
    // From stdin: a secret never on a command line.
    for (const [k, v] of Object.entries(secret)) await this.must(["config", "set", "--secret", k], v);
  }

  /** `pulumi <args> --stack <stack> --non-interactive`. */
  pulumi(args: string[], input?: string): Promise<RunResult> {
    // Before a `--` (what follows it is positional).
    const at = args.indexOf("--") < 0 ? args.length : args.indexOf("--");
    const full = [...args.slice(0, at), "--stack", this.stack, "--non-interactive", ...args.slice(at)];
    return run("pulumi", full, { cwd: this.dir, env: this.engine.env, input });
  }

  /** Like pulumi(), failing with the CLI's output when it exits non-zero. */
  async must(args: string[], input?: string): Promise<RunResult> {
    const r = await this.pulumi(args, input);
    if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r;
  }

  up(): Promise<RunResult> {
    return this.pulumi(["up", "--yes", "--skip-preview", "--color=never"]);
  }

  preview(extra: string[] = []): Promise<RunResult> {
    return this.pulumi(["preview", "--color=never", "--diff", ...extra]);
  }

  refresh(): Promise<RunResult> {
    return this.pulumi(["refresh", "--yes", "--skip-preview", "--color=never"]);
  }

  destroy(): Promise<RunResult> {
    return this.pulumi(["destroy", "--yes", "--skip-preview", "--color=never"]);
  }

  /** `pulumi stack export`: the state as stored (secrets encrypted), or with them shown. */
  async exportState(showSecrets = false): Promise<StateFile> {
    return JSON.parse((await this.must(["stack", "export", ...(showSecrets ? ["--show-secrets"] : [])])).stdout) as StateFile;
  }

  /** Stack outputs, secrets shown (for asserting values). */
  async outputs(): Promise<Record<string, unknown>> {
    return JSON.parse((await this.must(["stack", "output", "--json", "--show-secrets"])).stdout) as Record<string, unknown>;
  }

  /** Everything on disk for this stack: the state files (and backups), the stack config. */
  filesOnDisk(): string {
    const texts: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile()) texts.push(`--- ${p}\n${fs.readFileSync(p).toString("utf8")}`);
      }
    };
    walk(this.engine.backendDir);
    walk(this.dir);
    return texts.join("\n");
  }

  async remove(): Promise<void> {
    await this.pulumi(["stack", "rm", "--yes", "--force"]).catch(() => undefined);
    fs.rmSync(this.dir, { recursive: true, force: true });
    this.engine.cleanup();
  }
}

export interface StateResource {
  urn: string;
  type: string;
  id?: string;
  custom?: boolean;
  protect?: boolean;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
  additionalSecretOutputs?: string[];
}

export interface StateFile {
  version: number;
  deployment: { resources?: StateResource[]; secrets_providers?: unknown; pending_operations?: unknown[] };
}

/** Resources of one dynamic type (e.g. "neon:Project" for pulumi-nodejs:dynamic/neon:Project). */
export function resourcesOf(state: StateFile, kind: string): StateResource[] {
  return (state.deployment.resources ?? []).filter((r) => r.type === `pulumi-nodejs:dynamic/${kind}`);
}

export const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";

/** True when the state holds this property as an encrypted secret ({4dabf...: "1b47...", ciphertext}). */
export function isEncryptedSecret(v: unknown): boolean {
  return Boolean(v && typeof v === "object" && (v as Record<string, unknown>)[SECRET_SIG_KEY] !== undefined && typeof (v as Record<string, unknown>).ciphertext === "string");
}

/** Paths in `text`-bearing JSON where any of `secrets` shows in plain text. */
export { plainTextLeaks } from "../../support/leaks";
