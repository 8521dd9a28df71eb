import * as fs from "node:fs";
import * as path from "node:path";

/** The templates of the Space repository (Dockerfile, README.md); every file there is rendered. */
export const HF_SPACE_TEMPLATE_DIR = path.join(__dirname, "..", "..", "images", "hf-space");

export interface HfSpaceFilesArgs {
  /** repository@sha256:<64 hex>, i.e. MlflowImage.imageRef. */
  imageRef: string;
  /** Space title, shown on its page. */
  title: string;
  /** The port HF routes to (README app_port) and MLflow listens on (PORT). */
  appPort: number;
}

// A reference without a tag: lower-case path components, optional registry port, one digest.
// Refusing "name:tag@sha256:..." too: the tag would be ignored and only misleads a reader.
const DIGEST_REF = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]{1,5})?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+@sha256:[0-9a-f]{64}$/;

/**
 * The files of the Space repository, path -> content: the templates of images/hf-space with
 * their placeholders filled. Pure apart from reading the templates; refuses anything that would
 * give a Space that can drift (a tag) or that HF would misread (an odd port, a multi-line title).
 */
export function hfSpaceFiles(args: HfSpaceFilesArgs): Record<string, string> {
  if (!DIGEST_REF.test(args.imageRef)) {
    throw new Error(
      `hfSpaceFiles: imageRef must pin a digest, repository@sha256:<64 hex> (got "${args.imageRef}"). ` +
      "A tag can move under a running Space; pass MlflowImage.imageRef (the pushed repoDigest), " +
      "e.g. ghcr.io/<owner>/<name>@sha256:<digest>.",
    );
  }
  if (!Number.isInteger(args.appPort) || args.appPort < 1 || args.appPort > 65535) {
    throw new Error(`hfSpaceFiles: appPort must be an integer from 1 to 65535 (got ${args.appPort}); Spaces use 7860 by default`);
  }
  if (args.title.trim() === "" || /[\u0000-\u001f\u007f\u2028\u2029]/.test(args.title)) {
    throw new Error("hfSpaceFiles: title must be one non-empty line of text");
  }

  const values: Record<string, string> = {
    IMAGE_REF: args.imageRef,
    // A JSON string is a valid YAML double-quoted scalar: any title stays one front matter value.
    TITLE: JSON.stringify(args.title),
    APP_PORT: String(args.appPort),
  };

  const files: Record<string, string> = {};
  const names = fs.readdirSync(HF_SPACE_TEMPLATE_DIR, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name).sort();
  for (const name of names) {
    const template = fs.readFileSync(path.join(HF_SPACE_TEMPLATE_DIR, name), "utf8");
    // A function replacer, so "$" in a value is taken literally.
    const rendered = template.replace(/\{\{([A-Z_]+)\}\}/g, (whole, key: string) => {
      if (!(key in values)) throw new Error(`hfSpaceFiles: unknown placeholder ${whole} in images/hf-space/${name}`);
      return values[key];
    });
    files[name] = rendered;
  }
  return files;
}
