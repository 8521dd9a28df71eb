/**
 * Issue 15 items 13 and 16 on evaluated stacks (the offline plan): the free Render service the
 * kit adopted is never deleted by it, and `npm run plan --strict` fails like `pulumi up` when a
 * required secret is missing, while a plain plan says which placeholders it used.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { TS_RUN_REGISTER } from "../../stacks/plan-command";
import { plan } from "../../stacks/plan";

const root = path.resolve(__dirname, "..", "..");
const cli = (args: string[], env: Record<string, string | undefined> = {}) => {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("MLFLOW_KIT_")));
  return spawnSync(process.execPath, ["--require", TS_RUN_REGISTER, path.join(root, "stacks", "plan.ts"), ...args], { cwd: root, encoding: "utf8", env: { ...clean, ...env }, timeout: 90_000 });
};
const service = (p: Awaited<ReturnType<typeof plan>>) => p.resources.find((r) => r.type === "pulumi-nodejs:dynamic/render:Service")!;

describe("13: a service the kit adopted and did not create is never deleted by it", () => {
  it("dev's free Render service (made in the dashboard, adopted) is retained on delete; a paid one the kit creates is not", async () => {
    const free = await plan("dev");
    expect(service(free).options.retainOnDelete).toBe(true);
    const paid = await plan("dev", { overrides: { "mlflow-kit:target": JSON.stringify({ kind: "render", region: "ohio", plan: "starter" }) } });
    expect(service(paid).options.retainOnDelete).toBe(false);
  });
});

describe("16: npm run plan --strict and the placeholders", () => {
  it("--strict fails when a required secret is missing, naming each and its pulumi config set --secret command", () => {
    const r = cli(["--stack", "dev", "--strict"]);
    expect(r.status).toBe(1);
    for (const key of ["ghcrToken", "neonApiKey", "renderApiKey"]) {
      expect(r.stderr).toContain(`mlflow-kit:${key}: is missing:`);
      expect(r.stderr).toContain(`\`pulumi config set --secret mlflow-kit:${key} <value>\``);
    }
    expect(r.stderr).not.toContain("hfToken"); // not needed by dev: never asked for
  });

  it("--strict passes once the environment gives them, or the file holds them encrypted", () => {
    const env = { MLFLOW_KIT_GHCR_TOKEN: "t1-from-env", MLFLOW_KIT_NEON_API_KEY: "t2-from-env", MLFLOW_KIT_RENDER_API_KEY: "t3-from-env" };
    const r = cli(["--stack", "dev", "--strict"], env);
    expect(r.status, r.stderr).toBe(0);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "strict-"));
    const file = fs.readFileSync(path.join(root, "Pulumi.dev.yaml"), "utf8").replace("config:\n", "config:\n  mlflow-kit:renderApiKey:\n    secure: v1:AAAAciphertextOnlyTheCliOpens\n");
    fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), file);
    const held = cli(["--stack", "dev", "--strict", "--dir", dir], { MLFLOW_KIT_GHCR_TOKEN: "t1", MLFLOW_KIT_NEON_API_KEY: "t2" });
    expect(held.status, held.stderr).toBe(0);
  });

  it("without --strict it plans with placeholders and says which it used (text and --json)", () => {
    const r = cli(["--stack", "dev"], { MLFLOW_KIT_GHCR_TOKEN: "t1-from-env" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/note: placeholders used for \d+ secrets not in the environment \(offline only; MLFLOW_KIT_<KEY> gives a real one; --strict fails instead\): .*mlflow-kit:neonApiKey/);
    expect(r.stderr).not.toMatch(/placeholders used .*mlflow-kit:ghcrToken/);
    const j = cli(["--stack", "dev", "--json"]);
    expect(JSON.parse(j.stdout).placeholders).toEqual(expect.arrayContaining(["mlflow-kit:ghcrToken", "mlflow-kit:neonApiKey", "mlflow-kit:renderApiKey"]));
  });
});
