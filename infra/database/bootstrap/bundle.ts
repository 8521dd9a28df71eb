import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { buildSync } from "esbuild";

/**
 * The bootstrap Lambda's code as one CommonJS file (handler.ts + pg), built while the Pulumi
 * program runs: no build step before `pulumi up`, no node_modules in the upload.
 *
 * The output must be byte-for-byte stable, because its hash re-triggers the invocation: no
 * minification, no source maps, and paths in esbuild's comments relative to a fixed directory
 * (the repository root) instead of wherever the program was started from.
 */
let cached: string | undefined;

export function bootstrapHandlerBundle(): string {
  if (cached !== undefined) return cached;
  // ts-node runs the .ts sources; a compiled program finds handler.js beside this file.
  const entry = ["handler.ts", "handler.js"].map((f) => path.join(__dirname, f)).find((f) => fs.existsSync(f));
  if (!entry) throw new Error(`bootstrap handler source not found next to ${__dirname}`);
  const result = buildSync({
    entryPoints: [entry],
    absWorkingDir: path.resolve(__dirname, "..", "..", ".."),
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
  });
  cached = result.outputFiles[0].text;
  return cached;
}

/** sha256 of the bundle, hex: the trigger that re-runs the bootstrap when its code changes. */
export function bootstrapHandlerHash(): string {
  return createHash("sha256").update(bootstrapHandlerBundle()).digest("hex");
}
