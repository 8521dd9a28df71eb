/**
 * Runs the project's TypeScript under plain Node: `node --require ./tools/ts-run/register.cjs
 * stacks/plan.ts ...`. What `npm run plan` and the pull request's offline plan start with.
 *
 * Why not tsx: tsx hooks every module Node loads (its ESM loader thread, a syntax lexer over
 * each of the ~1,400 node_modules files @pulumi/aws and @pulumi/pulumi bring) and turns source
 * maps on, which makes every `new Error().stack` (Pulumi takes one per promise) map its frames:
 * about 1.2 s of CPU of a prod plan (bench/plan.ts). Here only `.ts` files are hooked, each
 * transformed by esbuild (tsx's own transformer, the same options: target this Node, CommonJS,
 * keepNames, the project's tsconfig) and run in place, so `__dirname`, `require.main === module`
 * and relative paths are what they are under tsx; nothing is bundled.
 *
 * Caches, both under <repo>/.cache/ts-run (ignored by git, safe to delete):
 * - the transformed code, one file per (source, options, esbuild, Node) digest: an edited file
 *   misses and is transformed again; entries beyond MAX_ENTRIES are pruned oldest first;
 * - V8's compile cache (module.enableCompileCache), for node_modules and the transformed code,
 *   except on CI runners (below).
 * A directory that cannot be written only costs the speed: the code is transformed in memory.
 * Source maps are inline: `NODE_OPTIONS=--enable-source-maps` gives .ts lines in stack traces.
 */
"use strict";
const Module = require("node:module");
const fs = require("node:fs");
const path = require("node:path");
const crypto = require("node:crypto");

const ROOT = path.resolve(__dirname, "..", "..");
const CACHE_DIR = process.env.MLFLOW_KIT_TS_RUN_CACHE || path.join(ROOT, ".cache", "ts-run");
const MAX_ENTRIES = 2000;

const tsconfigRaw = fs.readFileSync(path.join(ROOT, "tsconfig.json"), "utf8");
const OPTIONS = {
  loader: "ts",
  format: "cjs",
  target: `node${process.versions.node}`,
  keepNames: true,
  sourcemap: "inline",
  tsconfigRaw,
};

let esbuild;
let salt;
let pruned = false;

function transform(source, filename) {
  salt ??= JSON.stringify([OPTIONS, require("esbuild/package.json").version, process.version]);
  const key = crypto.createHash("sha256").update(salt).update("\0").update(filename).update("\0").update(source).digest("hex");
  const file = path.join(CACHE_DIR, `${key}.js`);
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    // not cached yet
  }
  esbuild ??= require("esbuild");
  const code = esbuild.transformSync(source, { ...OPTIONS, sourcefile: filename }).code;
  try {
    fs.mkdirSync(CACHE_DIR, { recursive: true, mode: 0o700 });
    // Written whole, then renamed: a concurrent run reads either nothing or the whole file.
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, code, { mode: 0o600 });
    fs.renameSync(tmp, file);
    if (!pruned) prune();
  } catch {
    // A read-only checkout: run without the cache.
  }
  return code;
}

/** Keeps the cache bounded: past MAX_ENTRIES, the oldest entries go until half remain. */
function prune() {
  pruned = true;
  const names = fs.readdirSync(CACHE_DIR).filter((n) => n.endsWith(".js"));
  if (names.length <= MAX_ENTRIES) return;
  const aged = names.map((n) => ({ n, t: fs.statSync(path.join(CACHE_DIR, n)).mtimeMs })).sort((a, b) => a.t - b.t);
  for (const { n } of aged.slice(0, names.length - MAX_ENTRIES / 2)) fs.rmSync(path.join(CACHE_DIR, n), { force: true });
}

Module._extensions[".ts"] = function compileTypeScript(module, filename) {
  module._compile(transform(fs.readFileSync(filename, "utf8"), filename), filename);
};

// Node 22.1+: V8's code cache on disk (the entry point's own modules, and node_modules). Not on a
// CI runner (CI=true, as GitHub Actions and this project's CI set it): each job starts with an empty cache
// and ends with the machine, so writing ~1,400 modules' code at exit (~0.25 s) would serve nobody.
if (typeof Module.enableCompileCache === "function" && !process.env.NODE_COMPILE_CACHE && process.env.CI !== "true") {
  try {
    Module.enableCompileCache(path.join(CACHE_DIR, "v8"));
  } catch {
    // no cache: compile as usual
  }
}
