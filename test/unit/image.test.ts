import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hfSpaceFiles } from "../../infra/image/hf-space-files";
import { asPlatform, localBuildPlatform } from "../../infra/image/build-platform";
import { contextHash, MlflowImage } from "../../infra/image/mlflow-image";
import { evaluateStack, SECRET, type EvaluatedStack } from "../../stacks/offline";
import { plan } from "../../stacks/plan";

const TOKEN = "ghp_" + "unitTestTokenThatMustNeverAppear0001";
const DIGEST = "0123456789abcdef".repeat(4);

let tmp: string;
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mlflow-image-")); });
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A small build context: a Dockerfile, an executable entrypoint, a nested file. */
function makeContext(name: string): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(path.join(dir, "conf"), { recursive: true });
  fs.writeFileSync(path.join(dir, "Dockerfile"), "FROM python:3.12-slim\nCOPY . /app\n");
  fs.writeFileSync(path.join(dir, "entrypoint.py"), "print('hi')\n", { mode: 0o644 });
  fs.writeFileSync(path.join(dir, "conf", "a.ini"), "[a]\nx=1\n");
  return dir;
}

function evaluateImage(context: string, token: pulumi.Input<string>, platform: "linux/amd64" | "linux/arm64" = "linux/arm64"): Promise<EvaluatedStack> {
  return evaluateStack({
    project: "mlflow-kit", stack: "unit", config: {}, secretKeys: [],
    program: () => {
      const image = new MlflowImage("mlflow-image", {
        registry: "ghcr.io", owner: "acme", imageName: "mlflow-kit-server", username: "octocat",
        token, platform, context,
      });
      return { imageRef: image.imageRef, repository: image.repository, tag: image.tag };
    },
  });
}

describe("MlflowImage", () => {
  let context: string;
  let ev: EvaluatedStack;
  beforeAll(async () => {
    context = makeContext("ctx");
    // A plain string on purpose: the component must make it a secret itself.
    ev = await evaluateImage(context, TOKEN);
  });

  const dockerImage = () => {
    const found = ev.resources.filter((r) => r.type === "docker:index/image:Image");
    expect(found).toHaveLength(1);
    return found[0];
  };

  it("is a component with the image as its child", () => {
    const component = ev.resources.find((r) => r.type === "mlflow-kit:image:MlflowImage");
    expect(component).toBeDefined();
    expect(dockerImage().parent).toBe(component!.urn);
  });

  it("tags the image with the content hash of the build context and the platform", () => {
    const tag = `ctx-${contextHash(context).slice(0, 16)}-linux-arm64`;
    expect(dockerImage().inputs.imageName).toBe(`ghcr.io/acme/mlflow-kit-server:${tag}`);
    expect(ev.outputs.tag).toBe(tag);
    expect(ev.outputs.repository).toBe("ghcr.io/acme/mlflow-kit-server");
  });

  it("gives each platform its own tag, so an arm64 push never overwrites the amd64 image", async () => {
    const amd64 = await evaluateImage(context, TOKEN, "linux/amd64");
    expect(amd64.outputs.tag).toBe(`ctx-${contextHash(context).slice(0, 16)}-linux-amd64`);
    expect(amd64.outputs.tag).not.toBe(ev.outputs.tag);
  });

  it("builds the given context and platform and pushes", () => {
    const inputs = dockerImage().inputs as any;
    expect(inputs.build).toMatchObject({
      context,
      dockerfile: path.join(context, "Dockerfile"),
      platform: "linux/arm64",
      builderVersion: "BuilderBuildKit",
    });
    expect(inputs.skipPush).toBe(false);
  });

  it("logs in to GHCR with the token as a secret", () => {
    const registry = (dockerImage().inputs as any).registry;
    expect(registry).toEqual({ server: "ghcr.io", username: "octocat", password: SECRET });
    expect(JSON.stringify({ r: ev.resources.map((r) => r.inputs), o: ev.outputs })).not.toContain(TOKEN);
  });

  it("exposes the pushed digest, never a tag, as imageRef", () => {
    expect(ev.outputs.imageRef).toMatch(/^ghcr\.io\/acme\/mlflow-kit-server@sha256:[0-9a-f]{64}$/);
  });

  it("refuses a relative context", async () => {
    await expect(evaluateImage("images/mlflow", TOKEN)).rejects.toThrow(/absolute path/);
  });
});

describe("MlflowImage, built for the local engine only", () => {
  let ev: EvaluatedStack;
  let context: string;
  beforeAll(async () => {
    context = makeContext("local");
    ev = await evaluateStack({
      project: "mlflow-kit", stack: "unit", config: {}, secretKeys: [],
      program: () => {
        const image = new MlflowImage("mlflow-image", { registry: "local", imageName: "mlflow-kit-local-server", platform: "linux/arm64", context });
        return { imageRef: image.imageRef, repository: image.repository, tag: image.tag };
      },
    });
  });

  it("builds for the platform it is given (always said: the provider warns without one) and never pushes or logs in", () => {
    const [image] = ev.resources.filter((r) => r.type === "docker:index/image:Image");
    expect(image.inputs).toMatchObject({ imageName: `mlflow-kit-local-server:ctx-${contextHash(context).slice(0, 16)}-linux-arm64`, skipPush: true });
    expect(image.inputs.registry).toBeUndefined();
    expect((image.inputs.build as any).platform).toBe("linux/arm64");
    expect((image.inputs.build as any).dockerfile).toBe(path.join(context, "Dockerfile"));
  });

  it("exposes the local image id as imageRef", () => {
    expect(ev.outputs.imageRef).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(ev.outputs.repository).toBe("mlflow-kit-local-server");
  });
});

describe("the local build's platform (issue 16: the build warned that none was set)", () => {
  it("image.platform when set, else DOCKER_DEFAULT_PLATFORM, else the Docker engine's, else linux/amd64", () => {
    const never = () => { throw new Error("the engine is not asked when the platform is known"); };
    expect(localBuildPlatform("linux/arm64", { DOCKER_DEFAULT_PLATFORM: "linux/amd64" }, never)).toBe("linux/arm64");
    expect(localBuildPlatform(undefined, { DOCKER_DEFAULT_PLATFORM: "linux/arm64" }, never)).toBe("linux/arm64");
    expect(localBuildPlatform(undefined, {}, () => "linux/arm64")).toBe("linux/arm64");
    expect(localBuildPlatform(undefined, { DOCKER_DEFAULT_PLATFORM: "windows/amd64" }, () => undefined)).toBe("linux/amd64");
    expect(localBuildPlatform(undefined, {}, () => undefined)).toBe("linux/amd64");
  });

  it("reads Docker's and the kernel's architecture names", () => {
    expect(["linux/amd64", "linux/x86_64", "amd64", "x86_64\n"].map(asPlatform)).toEqual(Array(4).fill("linux/amd64"));
    expect(["linux/arm64", "linux/aarch64", "arm64", "linux/arm64/v8"].map(asPlatform)).toEqual(Array(4).fill("linux/arm64"));
    expect(["windows/amd64", "linux/s390x", "", undefined].map(asPlatform)).toEqual(Array(4).fill(undefined));
  });

  it.each([
    ["DOCKER_DEFAULT_PLATFORM", {}, "linux/arm64"],
    ["image.platform", { "mlflow-kit:image": JSON.stringify({ platform: "linux/amd64" }) }, "linux/amd64"],
  ])("the local stack's build carries the platform (%s)", async (_how, overrides, expected) => {
    const before = process.env.DOCKER_DEFAULT_PLATFORM;
    process.env.DOCKER_DEFAULT_PLATFORM = "linux/arm64";
    try {
      const p = await plan("local", { strict: true, overrides });
      const [image] = p.resources.filter((r) => r.type === "docker:index/image:Image");
      expect((image.inputs.build as any).platform).toBe(expected);
      expect(String(image.inputs.imageName)).toMatch(new RegExp(`^mlflow-kit-local-server:ctx-[0-9a-f]{16}-${expected.replace("/", "-")}$`));
    } finally {
      if (before === undefined) delete process.env.DOCKER_DEFAULT_PLATFORM;
      else process.env.DOCKER_DEFAULT_PLATFORM = before;
    }
  }, 120_000);
});

describe("contextHash", () => {
  it("changes when a file changes and not otherwise", () => {
    const dir = makeContext("hash");
    const base = contextHash(dir);
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(contextHash(dir)).toBe(base);

    // Same content, new mtime: same hash.
    const future = new Date(Date.now() + 60_000);
    fs.utimesSync(path.join(dir, "entrypoint.py"), future, future);
    expect(contextHash(dir)).toBe(base);

    // Content change, and back.
    fs.writeFileSync(path.join(dir, "conf", "a.ini"), "[a]\nx=2\n");
    expect(contextHash(dir)).not.toBe(base);
    fs.writeFileSync(path.join(dir, "conf", "a.ini"), "[a]\nx=1\n");
    expect(contextHash(dir)).toBe(base);

    // A new file, a rename, and the executable bit all change the image.
    fs.writeFileSync(path.join(dir, "extra.txt"), "");
    expect(contextHash(dir)).not.toBe(base);
    fs.renameSync(path.join(dir, "extra.txt"), path.join(dir, "conf", "extra.txt"));
    const moved = contextHash(dir);
    expect(moved).not.toBe(base);
    fs.rmSync(path.join(dir, "conf", "extra.txt"));
    expect(contextHash(dir)).toBe(base);
    fs.chmodSync(path.join(dir, "entrypoint.py"), 0o755);
    expect(contextHash(dir)).not.toBe(base);
    fs.chmodSync(path.join(dir, "entrypoint.py"), 0o644);

    // Python bytecode caches (git-ignored) do not change the tag.
    fs.mkdirSync(path.join(dir, "__pycache__"));
    fs.writeFileSync(path.join(dir, "__pycache__", "entrypoint.cpython-312.pyc"), "\0bytecode");
    expect(contextHash(dir)).toBe(base);
  });

  it("is the same for the same files in another directory", () => {
    expect(contextHash(makeContext("copy-a"))).toBe(contextHash(makeContext("copy-b")));
  });
});

describe("hfSpaceFiles", () => {
  const imageRef = `ghcr.io/acme/mlflow-kit-server@sha256:${DIGEST}`;
  const title = 'MLflow: "review" #42';

  function frontMatter(readme: string): Record<string, unknown> {
    const m = /^---\n([\s\S]*?)\n---\n/.exec(readme);
    expect(m, "README.md starts with YAML front matter").not.toBeNull();
    return parseYaml(m![1]) as Record<string, unknown>;
  }

  it("renders a Dockerfile FROM the digest, on the app port", () => {
    const files = hfSpaceFiles({ imageRef, title, appPort: 7860 });
    expect(Object.keys(files).sort()).toEqual(["Dockerfile", "README.md"]);
    const instructions = files.Dockerfile.split("\n").filter((l) => l.trim() && !l.startsWith("#"));
    expect(instructions).toEqual([`FROM ${imageRef}`, "ENV PORT=7860"]);
  });

  it("renders the README front matter of a Docker Space", () => {
    const readme = hfSpaceFiles({ imageRef, title, appPort: 8080 })["README.md"];
    const fm = frontMatter(readme);
    expect(fm).toMatchObject({ title, sdk: "docker", app_port: 8080, pinned: false });
    expect(typeof fm.emoji).toBe("string");
    expect(String(fm.short_description).length).toBeLessThanOrEqual(60);
    expect(readme).not.toContain("{{");
  });

  it("takes $ in values literally", () => {
    const fm = frontMatter(hfSpaceFiles({ imageRef, title: "cost $& $1", appPort: 7860 })["README.md"]);
    expect(fm.title).toBe("cost $& $1");
  });

  it.each([
    ["a tag", "ghcr.io/acme/mlflow-kit-server:latest"],
    ["a tag and a digest", `ghcr.io/acme/mlflow-kit-server:v1@sha256:${DIGEST}`],
    ["a short digest", "ghcr.io/acme/mlflow-kit-server@sha256:abc123"],
    ["a bare image id", `sha256:${DIGEST}`],
  ])("refuses %s", (_why, ref) => {
    expect(() => hfSpaceFiles({ imageRef: ref, title, appPort: 7860 })).toThrow(/must pin a digest.*MlflowImage\.imageRef/s);
  });

  it("refuses a bad port or a multi-line title", () => {
    expect(() => hfSpaceFiles({ imageRef, title, appPort: 0 })).toThrow(/appPort/);
    expect(() => hfSpaceFiles({ imageRef, title: "a\nsdk: gradio", appPort: 7860 })).toThrow(/title/);
  });
});
