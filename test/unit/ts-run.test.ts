/**
 * tools/ts-run/register.cjs, the TypeScript hook the offline plan starts with: it runs a file
 * where it is (its __dirname, require.main), compiles what Node's type stripping cannot (enums,
 * parameter properties), and its cache never serves an edited file's old code.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TS_RUN_REGISTER } from "../../stacks/plan-command";

const work = fs.mkdtempSync(path.join(os.tmpdir(), "ts-run-test-"));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const run = (file: string, cache: string, env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ["--require", TS_RUN_REGISTER, file, "arg1"], {
    cwd: work, encoding: "utf8", env: { ...process.env, NODE_COMPILE_CACHE: "", MLFLOW_KIT_TS_RUN_CACHE: cache, ...env }, timeout: 60_000,
  });

const source = (word: string) => `
import * as path from "node:path";
import { helper } from "./helper";
enum Colour { Red = "${word}" }
class Box { constructor(private readonly v: number) {} get value(): number { return this.v; } }
if (require.main === module) {
  process.stdout.write(JSON.stringify({ colour: Colour.Red, box: new Box(2).value, dir: path.basename(__dirname), helper: helper(), argv: process.argv.slice(2) }));
}
`;

describe("tools/ts-run/register.cjs", () => {
  const dir = path.join(work, "prog");
  fs.mkdirSync(dir);
  const main = path.join(dir, "main.ts");
  fs.writeFileSync(path.join(dir, "helper.ts"), `export const helper = (): string => (require.main === module ? "main" : "imported");\n`);

  it("runs a .ts entry in place: its __dirname, require.main, its imports, its arguments", () => {
    fs.writeFileSync(main, source("first"));
    const r = run(main, path.join(work, "cache-a"));
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ colour: "first", box: 2, dir: "prog", helper: "imported", argv: ["arg1"] });
  });

  it("caches the transformed code, and an edited file is transformed again (never the old code)", () => {
    const cache = path.join(work, "cache-b");
    fs.writeFileSync(main, source("before"));
    expect(JSON.parse(run(main, cache).stdout).colour).toBe("before");
    const entries = fs.readdirSync(cache).filter((f) => f.endsWith(".js"));
    expect(entries).toHaveLength(2); // main.ts and helper.ts
    expect(JSON.parse(run(main, cache).stdout).colour).toBe("before");
    expect(fs.readdirSync(cache).filter((f) => f.endsWith(".js"))).toEqual(entries); // served from the cache
    fs.writeFileSync(main, source("after"));
    expect(JSON.parse(run(main, cache).stdout).colour).toBe("after");
    expect(fs.readdirSync(cache).filter((f) => f.endsWith(".js"))).toHaveLength(3);
  });

  it("keeps V8's code cache on a developer's machine, not on a CI runner (nothing would read it)", () => {
    fs.writeFileSync(main, source("v8"));
    const dev = path.join(work, "cache-dev");
    expect(run(main, dev, { CI: "" }).status).toBe(0);
    expect(fs.readdirSync(path.join(dev, "v8")).length).toBeGreaterThan(0);
    const ci = path.join(work, "cache-ci");
    expect(run(main, ci, { CI: "true" }).status).toBe(0);
    expect(fs.existsSync(path.join(ci, "v8"))).toBe(false);
    expect(fs.readdirSync(ci).filter((f) => f.endsWith(".js"))).toHaveLength(2); // the transforms are still cached
  });

  it("runs without a cache where the cache cannot be written", () => {
    const blocked = path.join(work, "not-a-dir");
    fs.writeFileSync(blocked, "a file where the cache directory would be");
    fs.writeFileSync(main, source("uncached"));
    const r = run(main, blocked);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).colour).toBe("uncached");
  });

  it("reports a type-syntax error with the file's name and a non-zero exit", () => {
    const broken = path.join(dir, "broken.ts");
    fs.writeFileSync(broken, "const x: number = ;\n");
    const r = run(broken, path.join(work, "cache-c"));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("broken.ts");
  });
});
