/**
 * The bootstrap Lambda's bundle cache (infra/database/bootstrap/bundle.ts): the cached bundle is
 * the built one byte for byte, and a changed input or a damaged entry is never served.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildBootstrapBundle } from "../../infra/database/bootstrap/bundle";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bootstrap-bundle-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
type Entry = { key: string; inputs: Record<string, string>; text: string; textSha256: string };
const read = (f: string) => JSON.parse(fs.readFileSync(f, "utf8")) as Entry;
const write = (f: string, e: Entry) => fs.writeFileSync(f, JSON.stringify(e));

describe("bootstrap bundle cache", () => {
  const file = path.join(dir, "bundle.json");
  let built = "";

  it("builds once and records every input esbuild read (the handler and pg)", () => {
    built = buildBootstrapBundle(file);
    expect(built).toContain("pg");
    const e = read(file);
    expect(e.text).toBe(built);
    expect(Object.keys(e.inputs)).toContain("infra/database/bootstrap/handler.ts");
    expect(Object.keys(e.inputs).some((f) => f.startsWith("node_modules/pg/"))).toBe(true);
  });

  it("serves the entry while its key and inputs match", () => {
    // A marked entry with a matching key, inputs and digest: served as it is, not rebuilt.
    const marked = `${built}\n// served from the cache\n`;
    write(file, { ...read(file), text: marked, textSha256: sha256(marked) });
    expect(buildBootstrapBundle(file)).toBe(marked);
  });

  it("builds again when an input changed, and keeps the new digests", () => {
    const e = read(file);
    const [first] = Object.keys(e.inputs);
    write(file, { ...e, inputs: { ...e.inputs, [first]: "0".repeat(64) } });
    expect(buildBootstrapBundle(file)).toBe(built);
    expect(read(file).inputs[first]).not.toBe("0".repeat(64));
  });

  it("builds again when the entry is damaged or from other options", () => {
    const e = read(file);
    write(file, { ...e, text: `${e.text}tampered` }); // text no longer matches its digest
    expect(buildBootstrapBundle(file)).toBe(built);
    write(file, { ...read(file), key: "another esbuild or lock" });
    expect(buildBootstrapBundle(file)).toBe(built);
    fs.writeFileSync(file, "{ not json");
    expect(buildBootstrapBundle(file)).toBe(built);
  });
});
