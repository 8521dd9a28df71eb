import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";

// @pulumi/docker rather than @pulumi/docker-build: docker-build's npm install script downloads
// its provider plugin from GitHub, which this sandbox and many CI sandboxes cannot reach, and
// @pulumi/docker is the provider the local target already uses to run containers: one provider,
// installed from the npm registry alone, for building, pushing and running.

/** Where the image goes: a registry that remote targets pull from, or only the local engine. */
export type MlflowImageArgs = {
  /** e.g. mlflow-kit-server */
  imageName: string;
  /** Absolute path of images/mlflow. */
  context: string;
} & (
  | {
      registry: "ghcr.io";
      /** GHCR owner (lower-case). */
      owner: string;
      /** GitHub user the token belongs to. */
      username: string;
      /** Secret, write:packages. */
      token: pulumi.Input<string>;
      platform: "linux/amd64" | "linux/arm64";
    }
  | {
      /** Built into the Docker engine of the machine running `pulumi up`, never pushed (target.kind local). */
      registry: "local";
      /** Its engine's own platform unless set otherwise (./build-platform: localBuildPlatform). */
      platform: "linux/amd64" | "linux/arm64";
    }
);

/**
 * The MLflow image, built from images/mlflow under a tag derived from the content of the build
 * context, and pushed to GHCR, or (registry "local") kept in the local engine only. Targets
 * deploy `imageRef`, never a tag: the pushed digest (repository@sha256:...), or the local
 * image id (sha256:...); neither can move under a running service.
 */
export class MlflowImage extends pulumi.ComponentResource {
  /** ghcr.io/<owner>/<name>@sha256:<digest>, or sha256:<image id> for a local build: the only reference targets may deploy. */
  readonly imageRef: pulumi.Output<string>;
  /** ghcr.io/<owner>/<name>, or <name> for a local build */
  readonly repository: string;
  /**
   * Content hash of the build context plus the platform: same files and platform, same tag, no
   * rebuild and no push; an amd64 and an arm64 build never share a tag.
   */
  readonly tag: string;

  constructor(name: string, args: MlflowImageArgs, opts?: pulumi.ComponentResourceOptions) {
    // Checked before super(): bad arguments register nothing.
    if (!path.isAbsolute(args.context)) {
      throw new Error(`MlflowImage: context must be an absolute path (got "${args.context}"); pass path.join(__dirname, ..., "images", "mlflow")`);
    }
    if (!fs.existsSync(path.join(args.context, "Dockerfile"))) {
      throw new Error(`MlflowImage: no Dockerfile in ${args.context}; context must be the images/mlflow directory`);
    }
    super("mlflow-kit:image:MlflowImage", name, {}, opts);
    const local = args.registry === "local";
    this.repository = local ? args.imageName : `${args.registry}/${args.owner}/${args.imageName}`;
    // An amd64 and an arm64 build never share a tag, pushed or local.
    this.tag = `ctx-${contextHash(args.context).slice(0, 16)}-${args.platform.replace("/", "-")}`;

    const image = new docker.Image(name, {
      imageName: `${this.repository}:${this.tag}`,
      build: {
        context: args.context,
        // The provider resolves a given dockerfile against the working directory, not the
        // context: pass it absolute so `pulumi up` works from any directory.
        dockerfile: path.join(args.context, "Dockerfile"),
        // Always said: unset, the provider warns and the build's platform depends on the machine.
        platform: args.platform,
        builderVersion: docker.BuilderVersion.BuilderBuildKit,
        // No cacheFrom: the tag changes with every content change, so there is no stable
        // cache image to name; an unchanged context is not rebuilt at all (same imageName).
      },
      registry: local ? undefined : {
        server: args.registry,
        username: args.username,
        // Wrapped again in case the caller passed a plain string: the token must never be
        // stored or printed in clear in the state or a plan.
        password: pulumi.secret(args.token),
      },
      skipPush: local,
    }, { parent: this });

    const repository = this.repository;
    // Pushed: the provider reports the manifest digest. Local: the image id (provider 4.4+).
    const expected = local ? /^sha256:[0-9a-f]{64}$/ : new RegExp(`^${escapeRegExp(repository)}@sha256:[0-9a-f]{64}$`);
    this.imageRef = image.repoDigest.apply((ref) => {
      // Anything else (a tag, a provider change) is refused rather than handed to a target.
      if (!expected.test(ref)) {
        throw new Error(`MlflowImage: expected ${local ? "a local image id sha256:<64 hex>" : `a pushed digest ${repository}@sha256:<64 hex>`}, got "${ref}"`);
      }
      return ref;
    });

    this.registerOutputs({ imageRef: this.imageRef, repository: this.repository, tag: this.tag });
  }
}

/**
 * Files that never reach the repository (.gitignore lists them) and would otherwise make a
 * developer's tag differ from CI's for the same commit.
 */
const IGNORED = new Set(["__pycache__", ".pytest_cache", ".DS_Store"]);
const IGNORED_SUFFIXES = [".pyc"];

/**
 * sha256 (hex) of every file under `dir`: relative path (with "/"), executable bit, and
 * content, in sorted path order. Deterministic across machines; independent of mtimes.
 */
export function contextHash(dir: string): string {
  const outer = createHash("sha256");
  for (const rel of listFiles(dir)) {
    const full = path.join(dir, ...rel.split("/"));
    const st = fs.lstatSync(full);
    // The executable bit survives COPY into the image (an entrypoint script), so it counts.
    const kind = st.isSymbolicLink() ? "l" : (st.mode & 0o100) ? "x" : "f";
    const body = st.isSymbolicLink() ? Buffer.from(fs.readlinkSync(full)) : fs.readFileSync(full);
    const fileHash = createHash("sha256").update(body).digest("hex");
    outer.update(`${rel}\0${kind}\0${fileHash}\n`);
  }
  return outer.digest("hex");
}

/** Relative paths of every file under dir, "/"-separated, sorted by code unit. */
function listFiles(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    if (IGNORED.has(entry.name) || IGNORED_SUFFIXES.some((s) => entry.name.endsWith(s))) continue;
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listFiles(dir, rel));
    else out.push(rel);
  }
  // Sorted as plain strings (not localeCompare): the order must not depend on the machine's locale.
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
