/**
 * `npm run rotate`, `review` and `teardown` end to end: the commands themselves, through the
 * Automation API and the real Pulumi CLI, against a file backend, on stacks of a dynamic-only
 * stand-in program (programs/lifecycle) that carries the kit's config keys, tags and outputs.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engineEnv, PROJECT_NAME, ROOT, run, type EngineEnv, type RunResult, type StateFile } from "./support/engine";

let engine: EngineEnv;
let dir: string;

/** One of the lifecycle commands as `npm run <command> -- <args>` runs it, on the stand-in project. */
function command(name: "rotate" | "review" | "teardown", args: string[], env: NodeJS.ProcessEnv = engine.env): Promise<RunResult> {
  return run(path.join(ROOT, "node_modules", ".bin", "tsx"), [path.join(ROOT, "stacks", `${name}.ts`), ...args], { cwd: ROOT, env: { ...env, MLFLOW_KIT_PROJECT_DIR: dir }, timeoutMs: 300_000 });
}

function pulumi(args: string[]): Promise<RunResult> {
  return run("pulumi", [...args, "--non-interactive"], { cwd: dir, env: engine.env });
}

async function must(p: Promise<RunResult>): Promise<RunResult> {
  const r = await p;
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  return r;
}

const configFile = (stack: string) => path.join(dir, `Pulumi.${stack}.yaml`);
const readConfig = (stack: string) => (parse(fs.readFileSync(configFile(stack), "utf8")) as { config: Record<string, unknown> }).config;

/**
 * `pulumi stack init`, then the kit's config written into Pulumi.<stack>.yaml as a person would;
 * plain strings with `pulumi config set`, which quotes them (an unquoted RFC 3339 time in the
 * file reaches the program as Go's "2026-12-04 16:01:24 +0000 UTC": seen under the engine).
 */
async function initStack(stack: string, config: Record<string, unknown>): Promise<void> {
  await must(pulumi(["stack", "init", stack]));
  const doc = (parse(fs.readFileSync(configFile(stack), "utf8")) ?? {}) as Record<string, unknown>;
  doc.config = Object.fromEntries(Object.entries(config).filter(([, v]) => typeof v !== "string").map(([k, v]) => [`${PROJECT_NAME}:${k}`, v]));
  fs.writeFileSync(configFile(stack), stringify(doc));
  for (const [k, v] of Object.entries(config).filter(([, v]) => typeof v === "string")) {
    await must(pulumi(["config", "set", "--stack", stack, `${PROJECT_NAME}:${k}`, String(v)]));
  }
}

async function outputs(stack: string): Promise<Record<string, any>> {
  return JSON.parse((await must(pulumi(["stack", "output", "--json", "--show-secrets", "--stack", stack]))).stdout);
}

async function stacks(): Promise<string[]> {
  return (JSON.parse((await must(pulumi(["stack", "ls", "--json"]))).stdout) as Array<{ name: string }>).map((s) => s.name).sort();
}

async function state(stack: string): Promise<StateFile> {
  return JSON.parse((await must(pulumi(["stack", "export", "--stack", stack]))).stdout);
}

const HOUR = 3_600_000;
const past = new Date(Date.now() - 2 * HOUR).toISOString().replace(/\.\d{3}Z$/, "Z");

beforeAll(async () => {
  engine = engineEnv();
  const parent = path.join(ROOT, ".cache", "engine-projects");
  fs.mkdirSync(parent, { recursive: true });
  dir = fs.mkdtempSync(path.join(parent, "lifecycle-"));
  fs.writeFileSync(path.join(dir, "Pulumi.yaml"), [
    `name: ${PROJECT_NAME}`,
    "runtime:",
    "  name: nodejs",
    "  options:",
    "    typescript: true",
    `main: ${path.relative(dir, path.join(ROOT, "test", "engine", "programs", "lifecycle", "index.ts"))}`,
    "",
  ].join("\n"));
  // prod: long-lived, on ecs (so every credential kind exists), its data protected.
  await initStack("prod", { lifecycle: "long-lived", target: { kind: "ecs" }, database: { kind: "rds" } });
  await must(pulumi(["up", "--yes", "--skip-preview", "--stack", "prod"]));
  // staging: long-lived on render, whose server signs with the S3 key slots (ecs has a task role
  // and no keys: rotate refuses s3-key there, as settings refuse the slots).
  await initStack("staging", { lifecycle: "long-lived", target: { kind: "render" }, database: { kind: "neon", projectId: "staging-project-1" }, artifacts: { activeKey: "blue", keyRotations: { blue: 0, green: 0 } } });
  await must(pulumi(["up", "--yes", "--skip-preview", "--stack", "staging"]));
}, 300_000);

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  engine?.cleanup();
});

describe("npm run rotate", () => {
  it("--dry-run decides from Pulumi.<stack>.yaml alone: no Pulumi CLI on PATH, no backend", async () => {
    const before = fs.readFileSync(configFile("staging"), "utf8");
    const bare: NodeJS.ProcessEnv = { ...engine.env, PATH: [path.join(ROOT, "node_modules", ".bin"), "/usr/bin", "/bin"].join(path.delimiter) };
    delete bare.PULUMI_BACKEND_URL;
    delete bare.PULUMI_CONFIG_PASSPHRASE;
    const r = await must(command("rotate", ["--stack", "staging", "s3-key", "--dry-run"], bare));
    expect(r.stdout).toContain("mlflow-kit:artifacts.activeKey: blue -> green");
    expect(r.stdout).toContain("mlflow-kit:artifacts.keyRotations.green: 0 -> 1");
    expect(r.stdout).toContain("dry run: config unchanged, nothing deployed");
    expect(fs.readFileSync(configFile("staging"), "utf8")).toBe(before);
  });

  // Each credential kind: its dry run changes nothing; the real one changes exactly that credential.
  const kinds: Array<[credential: string, output: string, counter: string]> = [
    ["db-password", "databasePassword", "databasePassword"],
    ["admin-password", "adminPasswordValue", "adminPassword"],
    ["flask-secret", "flaskSecret", "flaskSecretKey"],
    ["authelia", "autheliaSecret", "autheliaSecrets"],
    ["api-password", "apiPassword", "apiUserPassword"],
  ];
  for (const [credential, output, counter] of kinds) {
    it(`${credential}: a dry run changes nothing; the rotation bumps rotation.${counter}, deploys, and only that credential changes`, async () => {
      const before = await outputs("prod");
      const dry = await must(command("rotate", ["--stack", "prod", credential, "--dry-run"]));
      expect(dry.stdout).toMatch(new RegExp(`mlflow-kit:rotation\\.${counter}: \\(unset: the default\\) -> 1`));
      expect(await outputs("prod")).toEqual(before);
      const r = await must(command("rotate", ["--stack", "prod", credential]));
      expect(r.stdout).toContain("Pulumi.prod.yaml updated");
      expect((readConfig("prod")["mlflow-kit:rotation"] as Record<string, unknown>)[counter]).toBe(1);
      const after = await outputs("prod");
      expect(after[output]).not.toBe(before[output]);
      for (const k of Object.keys(before).filter((k) => k !== output)) expect(after[k], k).toEqual(before[k]);
      // The CLI's output the command relays masks secrets.
      for (const v of [before[output], after[output]]) expect(r.stdout + r.stderr).not.toContain(v);
    });
  }

  it("s3-key: the standby slot gets a new key and becomes active; the old key stays valid; --revoke-inactive then replaces the old one", async () => {
    const before = await outputs("staging");
    const r = await must(command("rotate", ["--stack", "staging", "s3-key"]));
    expect(r.stdout).toContain("mlflow-kit:artifacts.activeKey: blue -> green");
    const after = await outputs("staging");
    expect(after.activeKey).toBe("green");
    expect(after.s3Keys.blue).toBe(before.s3Keys.blue);
    expect(after.s3Keys.green).not.toBe(before.s3Keys.green);
    expect(after.s3AccessKey).toBe(after.s3Keys.green);
    expect(readConfig("staging")["mlflow-kit:artifacts"]).toEqual({ activeKey: "green", keyRotations: { blue: 0, green: 1 } });

    await must(command("rotate", ["--stack", "staging", "s3-key", "--revoke-inactive"]));
    const revoked = await outputs("staging");
    expect(revoked.activeKey).toBe("green");
    expect(revoked.s3Keys.green).toBe(after.s3Keys.green);
    expect(revoked.s3Keys.blue).not.toBe(after.s3Keys.blue);
  });

  it("a credential the stack does not have is refused before anything changes", async () => {
    await initStack("solo", { lifecycle: "ephemeral", target: { kind: "local" } });
    const before = fs.readFileSync(configFile("solo"), "utf8");
    const r = await command("rotate", ["--stack", "solo", "authelia"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("only the ecs target runs Authelia");
    expect(fs.readFileSync(configFile("solo"), "utf8")).toBe(before);
    await must(pulumi(["stack", "rm", "--yes", "--stack", "solo"]));
  });
});

describe("npm run teardown", () => {
  beforeAll(async () => {
    await initStack("pr-3", { lifecycle: "ephemeral", expiresAt: past, target: { kind: "render" } });
    await must(pulumi(["up", "--yes", "--skip-preview", "--stack", "pr-3"]));
  }, 300_000);

  it("--expired --dry-run --json lists the expired stack and keeps the long-lived one, destroying nothing", async () => {
    const r = await must(command("teardown", ["--expired", "--dry-run", "--json"]));
    const result = JSON.parse(r.stdout) as { decisions: Array<{ stack: string; action: string }> };
    const byStack = Object.fromEntries(result.decisions.map((d) => [d.stack, d.action]));
    expect(byStack["pr-3"]).toBe("destroy");
    expect(byStack.prod).not.toBe("destroy");
    expect(await stacks()).toEqual(["pr-3", "prod", "staging"]);
  });

  it("--expired destroys the expired stack's resources and removes it", async () => {
    const r = await must(command("teardown", ["--expired"]));
    expect(r.stdout).toContain("removed pr-3");
    expect(await stacks()).toEqual(["prod", "staging"]);
    expect(fs.existsSync(configFile("pr-3"))).toBe(false);
  });

  it("--stack prod is refused (long-lived, protected data), exit 1, and prod is untouched", async () => {
    const before = await state("prod");
    const r = await command("teardown", ["--stack", "prod"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/refuse\s+prod: .*long-lived/);
    const after = await state("prod");
    expect(after.deployment.resources!.map((x) => x.urn)).toEqual(before.deployment.resources!.map((x) => x.urn));
    expect(after.deployment.resources!.some((x) => x.protect)).toBe(true);
  });
});

describe("npm run review", () => {
  // The review stacks' template is the project's Pulumi.dev.yaml (here the kit's own, copied):
  // no dev stack is read; the secrets are the review environment's (MLFLOW_KIT_<KEY>).
  const renderKey = `render-${Date.now()}-not-a-key`;
  const reviewEnv = () => ({ ...engine.env, MLFLOW_KIT_RENDER_API_KEY: renderKey });
  beforeAll(() => {
    fs.copyFileSync(path.join(ROOT, "Pulumi.dev.yaml"), configFile("dev"));
  });

  it("up --dry-run prints pr-7's config from Pulumi.dev.yaml (secrets masked) and creates nothing", async () => {
    const r = await must(command("review", ["up", "--pr", "7", "--dry-run"], reviewEnv()));
    expect(r.stdout).toContain("pr-7 mlflow-kit:lifecycle: ephemeral");
    expect(r.stdout).toContain("pr-7 mlflow-kit:renderApiKey: [secret]");
    expect(r.stdout).not.toContain(renderKey);
    expect(await stacks()).not.toContain("pr-7");
  });

  it("up creates pr-7 from Pulumi.dev.yaml: a Neon branch pr-7, its own service, the environment's secret, a lease, deployed", async () => {
    const r = await must(command("review", ["up", "--pr", "7", "--ttl-hours", "6"], reviewEnv()));
    expect(r.stdout).toMatch(/pr-7 is up; it expires \d{4}-/);
    expect(r.stdout + r.stderr).not.toContain(renderKey);
    const cfg = readConfig("pr-7");
    expect(JSON.parse(String(cfg["mlflow-kit:database"]))).toMatchObject({ kind: "neon", branch: "pr-7" });
    expect(JSON.parse(String(cfg["mlflow-kit:target"]))).toMatchObject({ kind: "render", serviceName: "mlflow-kit-pr-7" });
    expect(cfg["mlflow-kit:renderApiKey"]).toEqual({ secure: expect.any(String) });
    expect(fs.readFileSync(configFile("pr-7"), "utf8")).not.toContain(renderKey);
    const out = await outputs("pr-7");
    expect(out.lifecycle).toBe("ephemeral");
    const lease = Date.parse(out.expiresAt) - Date.now();
    expect(lease).toBeGreaterThan(4 * HOUR);
    // The expiry rounds up to the next full hour (never past at creation), so up to 6 h + 1 h.
    expect(lease).toBeLessThanOrEqual(7 * HOUR);
    // Every resource carries the lifecycle tags the teardown reads.
    const s = await state("pr-7");
    for (const res of s.deployment.resources!.filter((x) => x.type.startsWith("pulumi-nodejs:dynamic/"))) {
      expect(res.outputs!.tags).toMatchObject({ "mlflow-kit:lifecycle": "ephemeral", "mlflow-kit:expires-at": out.expiresAt });
    }
  });

  it("down destroys pr-7 and removes it; a second down finds nothing to do", async () => {
    const r = await must(command("review", ["down", "--pr", "7"]));
    expect(r.stdout).toContain("removed pr-7");
    expect(await stacks()).not.toContain("pr-7");
    const again = await must(command("review", ["down", "--pr", "7"]));
    expect(again.stdout).toContain("pr-7 does not exist: nothing to tear down");
  });
});
