/**
 * `npm start` / `npm stop` (quickstart/) under the real Pulumi engine, on a stand-in for the
 * local stack (programs/quickstart) in a project folder of its own: the file backend made in
 * the project folder, the local stack created then selected, the URL, admin user and password
 * command printed (and that command works), stop keeping the protected data, a start after it
 * finding that data; and the one-sentence refusals when Docker, the CLI or a passphrase is missing.
 * Docker is a stand-in script here (the stand-in program runs no container).
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engineEnv, PROJECT_NAME, ROOT, run, type EngineEnv, type RunResult } from "./support/engine";

let engine: EngineEnv;
let dir: string;
let tools: string;
let baseEnv: NodeJS.ProcessEnv;

const npmBin = path.join(ROOT, "node_modules", ".bin");

/** `npm start` / `npm stop` as their scripts run them (tsx quickstart/main.ts ...), on the stand-in project. */
function quickstart(cmd: "start" | "stop", env: NodeJS.ProcessEnv): Promise<RunResult> {
  return run(path.join(npmBin, "tsx"), [path.join(ROOT, "quickstart", "main.ts"), cmd], { cwd: ROOT, env: { ...env, MLFLOW_KIT_PROJECT_DIR: dir }, timeoutMs: 300_000 });
}

const ok = (r: RunResult) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);

/** The engine's environment without the backend and passphrase (npm start chooses them). */
function userEnv(over: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...baseEnv, ...over };
  if (!("PULUMI_BACKEND_URL" in over)) delete env.PULUMI_BACKEND_URL;
  if (!("PULUMI_CONFIG_PASSPHRASE" in over)) delete env.PULUMI_CONFIG_PASSPHRASE;
  return env;
}

function state(): Array<{ urn: string; id?: string; protect?: boolean }> {
  const stacks = path.join(dir, ".pulumi-state", ".pulumi", "stacks", PROJECT_NAME);
  const file = path.join(stacks, "local.json");
  return (JSON.parse(fs.readFileSync(file, "utf8")).checkpoint.latest?.resources ?? []).filter((r: { type: string }) => r.type.startsWith("pulumi-nodejs:dynamic/"));
}

beforeAll(() => {
  engine = engineEnv();
  const parent = path.join(ROOT, ".cache", "engine-projects");
  fs.mkdirSync(parent, { recursive: true });
  dir = fs.mkdtempSync(path.join(parent, "quickstart-"));
  fs.writeFileSync(path.join(dir, "Pulumi.yaml"), stringify({ name: PROJECT_NAME, runtime: { name: "nodejs", options: { typescript: true } }, main: path.relative(dir, path.join(ROOT, "test", "engine", "programs", "quickstart", "index.ts")) }));
  fs.writeFileSync(path.join(dir, "Pulumi.local.yaml"), stringify({ config: { "mlflow-kit:lifecycle": "long-lived", "mlflow-kit:target": { kind: "local", port: 5000 }, "mlflow-kit:server": { adminUsername: "admin" } } }));
  // A stand-in `docker` whose `docker info` answers (or not, with DOCKER_DOWN=1).
  tools = fs.mkdtempSync(path.join(os.tmpdir(), "mlflow-kit-tools-"));
  fs.writeFileSync(path.join(tools, "docker"), "#!/bin/sh\n[ \"$DOCKER_DOWN\" = 1 ] && { echo 'Cannot connect to the Docker daemon' >&2; exit 1; }\necho 28.2.2\n", { mode: 0o755 });
  baseEnv = { ...engine.env, PATH: [tools, engine.env.PATH].join(path.delimiter) };
});

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  if (tools) fs.rmSync(tools, { recursive: true, force: true });
  engine?.cleanup();
});

describe("npm start / npm stop refusals", () => {
  it("without Docker and the Pulumi CLI: one sentence naming both, and nothing made", async () => {
    // Only the project's own tools (tsx, Node.js): no docker, no pulumi.
    const r = await quickstart("start", userEnv({ PATH: npmBin, PULUMI_CONFIG_PASSPHRASE: "x".repeat(12) }));
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^npm start needs Docker \(https:\/\/docs\.docker\.com\/get-docker\/\) and the Pulumi CLI \(.*\): install them, then run npm start again\.$/m);
    expect(fs.existsSync(path.join(dir, ".pulumi-state"))).toBe(false);
  });

  it("with Docker installed but not running: says to start it", async () => {
    const r = await quickstart("start", userEnv({ DOCKER_DOWN: "1", PULUMI_CONFIG_PASSPHRASE: "x".repeat(12) }));
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^Docker is installed but not running .*start Docker/);
  });

  it("without a passphrase and no terminal to ask in: says how to give one", async () => {
    const r = await quickstart("start", userEnv());
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/set PULUMI_CONFIG_PASSPHRASE .* or run npm start in a terminal to be asked once\.$/);
  });
});

describe("npm start / npm stop under the real engine", () => {
  const passphrase = `pp-${Date.now()}-local`;
  let first: Record<string, string>;

  it("start: the file backend in the project folder, the local stack created and up, then the URL, user and password command", async () => {
    const r = await quickstart("start", userEnv({ PULUMI_CONFIG_PASSPHRASE: passphrase }));
    ok(r);
    expect(r.stdout).toContain(`created the local stack (state: file://${path.join(dir, ".pulumi-state")})`);
    expect(r.stdout).toContain("MLflow is running at http://127.0.0.1:5000");
    expect(r.stdout).toContain("  admin user: admin");
    const command = /password: {3}(.*)$/m.exec(r.stdout)![1];
    expect(command).toContain(`PULUMI_BACKEND_URL="file://${path.join(dir, ".pulumi-state")}"`);
    expect(command).toMatch(/pulumi stack output adminPassword --show-secrets --stack local$/);
    // The command works for a person in the project folder (with the passphrase they gave).
    const shown = await promisify(execFile)("sh", ["-c", command], { cwd: dir, env: { ...userEnv({ PULUMI_CONFIG_PASSPHRASE: passphrase }) } });
    const password = shown.stdout.trim();
    expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(r.stdout).not.toContain(password);
    first = Object.fromEntries(state().map((x) => [x.urn.split("::").pop()!, x.id!]));
    expect(Object.keys(first).sort()).toEqual(["admin-password", "minio-data", "pgdata", "server"]);
  });

  it("start again: the stack is selected, and nothing changes", async () => {
    const r = await quickstart("start", userEnv({ PULUMI_CONFIG_PASSPHRASE: passphrase }));
    ok(r);
    expect(r.stdout).toContain("selected the local stack");
    expect(Object.fromEntries(state().map((x) => [x.urn.split("::").pop()!, x.id!]))).toEqual(first);
  });

  it("stop: everything but the protected data volumes is destroyed", async () => {
    const r = await quickstart("stop", userEnv({ PULUMI_CONFIG_PASSPHRASE: passphrase }));
    ok(r);
    expect(r.stdout).toContain("stopped: everything but the protected data volumes is gone");
    const left = state();
    expect(left.map((x) => x.urn.split("::").pop()).sort()).toEqual(["minio-data", "pgdata"]);
    expect(left.every((x) => x.protect)).toBe(true);
  });

  it("start after stop with the passphrase kept in .pulumi-state/passphrase (0600): the same data volumes, the rest new", async () => {
    fs.writeFileSync(path.join(dir, ".pulumi-state", "passphrase"), passphrase, { mode: 0o600 });
    const r = await quickstart("start", userEnv());
    ok(r);
    expect(r.stdout).toMatch(/password: {3}.*PULUMI_CONFIG_PASSPHRASE_FILE=/);
    const now = Object.fromEntries(state().map((x) => [x.urn.split("::").pop()!, x.id!]));
    expect(now.pgdata).toBe(first.pgdata);
    expect(now["minio-data"]).toBe(first["minio-data"]);
    expect(now.server).not.toBe(first.server);
  });

  it("stop when there is no local stack says so and succeeds", async () => {
    const other = fs.mkdtempSync(path.join(os.tmpdir(), "mlflow-kit-empty-"));
    try {
      const r = await quickstart("stop", userEnv({ PULUMI_BACKEND_URL: `file://${other}`, PULUMI_CONFIG_PASSPHRASE: passphrase }));
      ok(r);
      expect(r.stdout).toContain("there is no local stack here: nothing to stop");
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  });
});

