/**
 * `npm start` / `npm stop`: the local stack (Pulumi.local.yaml) on this machine in one command,
 * through Pulumi's Automation API.
 *
 * - The state lives in the project folder (.pulumi-state/, a file backend), unless
 *   PULUMI_BACKEND_URL names another backend.
 * - The passphrase that encrypts the stack's secrets comes from PULUMI_CONFIG_PASSPHRASE(_FILE),
 *   or is asked once in a terminal and kept in .pulumi-state/passphrase (mode 0600, ignored by git).
 * - start: the `local` stack selected or created, `pulumi up`, then the URL, the admin user and
 *   the command that shows the admin password. stop: `pulumi destroy --exclude-protected`, which
 *   keeps the protected data volumes (PostgreSQL, MinIO): the next start finds the data.
 * - Docker or the Pulumi CLI missing: one sentence naming what to install, before anything runs.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";

const exec = promisify(execFile);

export const STACK = "local";
export const STATE_DIR = ".pulumi-state";

export interface Io {
  log(line: string): void;
  /** Asks for a passphrase in a terminal (not echoed); undefined when there is no terminal. */
  askSecret?(prompt: string): Promise<string | undefined>;
}

export interface Context {
  /** The Pulumi project folder (the checkout). */
  projectDir: string;
  env: NodeJS.ProcessEnv;
  io: Io;
}

export class QuickstartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "QuickstartError";
  }
}

/** Why a tool cannot be used, or undefined when it answers. */
async function probe(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<"missing" | "failing" | undefined> {
  try {
    await exec(cmd, args, { env, timeout: 30_000 });
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOENT" ? "missing" : "failing";
  }
}

/** One sentence naming what to install (or start), or undefined when Docker and the CLI are there. */
export async function missingTools(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const [docker, pulumi] = await Promise.all([probe("docker", ["info", "--format", "{{.ServerVersion}}"], env), probe("pulumi", ["version"], env)]);
  const install: string[] = [];
  if (docker === "missing") install.push("Docker (https://docs.docker.com/get-docker/)");
  if (pulumi) install.push("the Pulumi CLI (https://www.pulumi.com/docs/iac/download-install/)");
  if (install.length) return `npm start needs ${install.join(" and ")}: install ${install.length > 1 ? "them" : "it"}, then run npm start again.`;
  if (docker === "failing") return "Docker is installed but not running (`docker info` fails): start Docker (Docker Desktop, or `sudo systemctl start docker`), then run npm start again.";
  return undefined;
}

/** The backend and passphrase settings the CLI gets: the project's file backend unless the environment names one. */
export async function engineSettings(ctx: Context, ask: boolean): Promise<Record<string, string>> {
  const stateDir = path.join(ctx.projectDir, STATE_DIR);
  const settings: Record<string, string> = {};
  if (!ctx.env.PULUMI_BACKEND_URL) {
    fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    settings.PULUMI_BACKEND_URL = `file://${stateDir}`;
  }
  if (ctx.env.PULUMI_CONFIG_PASSPHRASE !== undefined || ctx.env.PULUMI_CONFIG_PASSPHRASE_FILE) return settings;
  const kept = path.join(stateDir, "passphrase");
  if (fs.existsSync(kept)) return { ...settings, PULUMI_CONFIG_PASSPHRASE_FILE: kept };
  const noPassphrase = `The local stack's secrets are encrypted with a passphrase: set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE), or run npm start in a terminal to be asked once.`;
  if (!ask || !ctx.io.askSecret) throw new QuickstartError(noPassphrase);
  const answer = await ctx.io.askSecret("Passphrase for the local stack's secrets (asked once, kept in .pulumi-state/passphrase): ");
  if (answer === undefined) throw new QuickstartError(noPassphrase);
  if (answer.length < 8) throw new QuickstartError("The passphrase is shorter than 8 characters: run npm start again and give a longer one.");
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(kept, answer, { mode: 0o600 });
  return { ...settings, PULUMI_CONFIG_PASSPHRASE_FILE: kept };
}

/** The prefix a person types before `pulumi ...` to reach this state with this passphrase. */
function shellPrefix(settings: Record<string, string>): string {
  return Object.entries(settings).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(" ");
}

async function workspace(ctx: Context, settings: Record<string, string>): Promise<LocalWorkspace> {
  // The CLI the workspace runs inherits process.env; these are added to it.
  return LocalWorkspace.create({ workDir: ctx.projectDir, envVars: settings });
}

export interface StartResult {
  url: string;
  adminUsername: string;
  passwordCommand: string;
}

export async function start(ctx: Context): Promise<StartResult> {
  const missing = await missingTools(ctx.env);
  if (missing) throw new QuickstartError(missing);
  const settings = await engineSettings(ctx, true);
  const ws = await workspace(ctx, settings);
  const existed = (await ws.listStacks()).some((s) => s.name === STACK);
  const stack = await Stack.createOrSelect(STACK, ws);
  ctx.io.log(`${existed ? "selected" : "created"} the ${STACK} stack (state: ${settings.PULUMI_BACKEND_URL ?? ctx.env.PULUMI_BACKEND_URL})`);
  await stack.up({ onOutput: (t) => ctx.io.log(t.trimEnd()) });
  const outputs = await stack.outputs();
  const url = String(outputs.trackingUri?.value ?? "");
  const adminUsername = String(outputs.adminUsername?.value ?? "");
  const prefix = shellPrefix(settings);
  const passwordCommand = `${prefix ? `${prefix} ` : ""}pulumi stack output adminPassword --show-secrets --stack ${STACK}`;
  ctx.io.log("");
  ctx.io.log(`MLflow is running at ${url}`);
  ctx.io.log(`  admin user: ${adminUsername}`);
  ctx.io.log(`  password:   ${passwordCommand}`);
  ctx.io.log("  stop it (the data stays): npm stop");
  return { url, adminUsername, passwordCommand };
}

export async function stop(ctx: Context): Promise<void> {
  const missing = await missingTools(ctx.env);
  if (missing) throw new QuickstartError(missing.replace(/npm start/g, "npm stop"));
  const settings = await engineSettings(ctx, false);
  const ws = await workspace(ctx, settings);
  if (!(await ws.listStacks()).some((s) => s.name === STACK)) {
    ctx.io.log(`there is no ${STACK} stack here: nothing to stop (npm start makes it)`);
    return;
  }
  const stack = await Stack.select(STACK, ws);
  await stack.destroy({ excludeProtected: true, onOutput: (t) => ctx.io.log(t.trimEnd()) });
  ctx.io.log(`stopped: everything but the protected data volumes is gone; npm start brings it back with the data`);
}
