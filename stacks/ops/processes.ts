/**
 * The processes the ops commands start (docker, the tools/ops Python scripts), behind one
 * narrow interface so that the tests record them. Secrets go to a child through its
 * environment or a 0600 env file, never on its command line (other users see /proc/N/cmdline).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { REPO_ROOT } from "../stack-config";

export interface RunOptions {
  /** Added to the child's environment (secrets go here). */
  env?: Record<string, string>;
  /** The child's stdout goes to this file (a dump), not to the terminal. */
  stdoutFile?: string;
  /** The child's stdin comes from this file (a dump to restore). */
  stdinFile?: string;
  /** Bounded: the child is killed after this long. */
  timeoutMs: number;
}

export interface Processes {
  run(command: string, args: string[], opts: RunOptions): Promise<void>;
}

/** Real child processes; a failure names the command and its exit, never its env. */
export const realProcesses: Processes = {
  run(command, args, opts) {
    return new Promise((resolve, reject) => {
      const stdout = opts.stdoutFile ? fs.openSync(opts.stdoutFile, "w", 0o600) : "inherit";
      const stdin = opts.stdinFile ? fs.openSync(opts.stdinFile, "r") : "ignore";
      const child = spawn(command, args, { env: { ...process.env, ...opts.env }, stdio: [stdin, stdout, "inherit"] });
      const timer = setTimeout(() => child.kill("SIGTERM"), opts.timeoutMs);
      const close = () => {
        clearTimeout(timer);
        if (typeof stdout === "number") fs.closeSync(stdout);
        if (typeof stdin === "number") fs.closeSync(stdin);
      };
      child.on("error", (err) => {
        close();
        reject(new Error(`${command}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "not found on PATH" : err.message}`));
      });
      child.on("close", (code, signal) => {
        close();
        if (code === 0) resolve();
        else reject(new Error(`${command} ${args[0] ?? ""} failed (${signal ? `killed by ${signal}${signal === "SIGTERM" ? ` after ${opts.timeoutMs / 1000} s` : ""}` : `exit ${code}`})`));
      });
    });
  },
};

/** The Python that runs tools/ops: $MLFLOW_KIT_OPS_PYTHON, or .venv-ops (tools/ops/setup.sh). */
export function opsPython(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MLFLOW_KIT_OPS_PYTHON) return env.MLFLOW_KIT_OPS_PYTHON;
  return path.join(REPO_ROOT, ".venv-ops", "bin", "python");
}

/** Makes .venv-ops when it is missing (the image's own lock: the same MLflow as the server). */
export async function ensureOpsPython(p: Processes, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const python = opsPython(env);
  if (!env.MLFLOW_KIT_OPS_PYTHON) await p.run("bash", [path.join(REPO_ROOT, "tools", "ops", "setup.sh")], { timeoutMs: 30 * 60_000 });
  else if (!fs.existsSync(python)) throw new Error(`MLFLOW_KIT_OPS_PYTHON: ${python} does not exist. Unset it to use .venv-ops (made by tools/ops/setup.sh)`);
  return python;
}

export const TOOLS = path.join(REPO_ROOT, "tools", "ops");

/** A file only this user can read, holding KEY=VALUE lines (docker run --env-file); removed by the caller. */
export function privateEnvFile(env: Record<string, string>): string {
  for (const [k, v] of Object.entries(env)) {
    if (/[\n\r]/.test(v) || !/^[A-Z_][A-Z0-9_]*$/.test(k)) throw new Error(`${k}: cannot be passed in an env file (a line break in its value)`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mlflow-kit-ops-"));
  const file = path.join(dir, "env");
  fs.writeFileSync(file, Object.entries(env).map(([k, v]) => `${k}=${v}\n`).join(""), { mode: 0o600 });
  return file;
}

export function removeEnvFile(file: string): void {
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
}
