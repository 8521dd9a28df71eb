import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { buildSync, version as esbuildVersion, type BuildOptions } from "esbuild";

/**
 * The bootstrap Lambda's code as one CommonJS file (handler.ts + pg), built while the Pulumi
 * program runs: no build step before `pulumi up`, no node_modules in the upload.
 *
 * The output must be byte-for-byte stable, because its hash re-triggers the invocation: no
 * minification, no source maps, and paths in esbuild's comments relative to a fixed directory
 * (the repository root) instead of wherever the program was started from.
 */
let cached: string | undefined;

/** The repository root: esbuild's working directory, against which its input paths are relative. */
const ROOT = path.resolve(__dirname, "..", "..", "..");

/**
 * The last bundle on disk (<repo>/.cache/, ignored by git) with a digest of every file esbuild
 * read: a run whose inputs all still match takes it instead of building again (~0.1 s of each
 * plan and preview). The key holds esbuild's version, the options and package-lock.json (an
 * install can change which file an import resolves to), so the same key and the same input
 * bytes give the bytes esbuild would build. It holds code only, never a setting or a secret.
 */
const CACHE_FILE = path.join(ROOT, ".cache", "bootstrap-bundle.json");

interface CachedBundle { key: string; inputs: Record<string, string>; text: string; textSha256: string }

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

export function bootstrapHandlerBundle(): string {
  return (cached ??= buildBootstrapBundle(CACHE_FILE));
}

/** The bundle, from `cacheFile` when its key and every input still match, else built (and cached there). */
export function buildBootstrapBundle(cacheFile: string): string {
  // ts-node runs the .ts sources; a compiled program finds handler.js beside this file.
  const entry = ["handler.ts", "handler.js"].map((f) => path.join(__dirname, f)).find((f) => fs.existsSync(f));
  if (!entry) throw new Error(`bootstrap handler source not found next to ${__dirname}`);
  const options = {
    entryPoints: [entry],
    absWorkingDir: ROOT,
    bundle: true,
    platform: "node",
    target: "node22",
    format: "cjs",
    minify: false,
    sourcemap: false,
    write: false,
    charset: "utf8",
    legalComments: "none",
    // pg requires the optional native binding lazily and only when asked for it.
    external: ["pg-native"],
    logLevel: "silent",
  } satisfies BuildOptions;
  const lock = path.join(ROOT, "package-lock.json");
  const key = sha256(JSON.stringify([esbuildVersion, options, fs.existsSync(lock) ? sha256(fs.readFileSync(lock)) : null]));
  const hit = readCache(cacheFile, key);
  if (hit !== undefined) return hit;
  const result = buildSync({ ...options, metafile: true });
  const text = result.outputFiles[0].text;
  const inputs = Object.fromEntries(Object.keys(result.metafile.inputs).map((f) => [f, sha256(fs.readFileSync(path.join(ROOT, f)))]));
  writeCache(cacheFile, { key, inputs, text, textSha256: sha256(text) });
  return text;
}

function readCache(cacheFile: string, key: string): string | undefined {
  try {
    const c = JSON.parse(fs.readFileSync(cacheFile, "utf8")) as CachedBundle;
    if (c.key !== key || typeof c.text !== "string" || sha256(c.text) !== c.textSha256 || !Object.keys(c.inputs).length) return undefined;
    for (const [f, digest] of Object.entries(c.inputs)) if (sha256(fs.readFileSync(path.join(ROOT, f))) !== digest) return undefined;
    return c.text;
  } catch {
    return undefined; // none yet, or an input is gone: build
  }
}

function writeCache(cacheFile: string, c: CachedBundle): void {
  try {
    fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(c));
    fs.renameSync(tmp, cacheFile);
  } catch {
    // a read-only checkout: build each time
  }
}

/** sha256 of the bundle, hex: the trigger that re-runs the bootstrap when its code changes. */
export function bootstrapHandlerHash(): string {
  return createHash("sha256").update(bootstrapHandlerBundle()).digest("hex");
}
