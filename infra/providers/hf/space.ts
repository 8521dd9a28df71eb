import * as pulumi from "@pulumi/pulumi";
import { jsonFetch } from "../core/http";
import { withRetry } from "../core/retry";
import { hasStatus } from "../core/errors";
import { HF_API_URL, hfContext, hfToken, hub, hubFetch } from "./client";

/** The Space repository and its settings; its files, secrets and variables are SpaceRelease's. */
export interface SpaceInputs {
  apiUrl: string;
  /** User or organization. */
  owner: string;
  name: string;
  visibility: "private" | "public";
  /** Hardware flavor, e.g. cpu-basic (free). */
  hardware: string;
  /** Seconds of inactivity before a paid Space sleeps; unset keeps the Hub's default. */
  sleepTimeSeconds?: number;
}

export interface SpaceOutputs extends SpaceInputs {
  /** owner/name */
  repoId: string;
  /** https://huggingface.co/spaces/owner/name */
  pageUrl: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;

class SpaceProvider implements pulumi.dynamic.ResourceProvider {
  private token = "";

  async configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
    this.token = hfToken(req.config);
  }

  async check(_olds: SpaceInputs, news: SpaceInputs): Promise<pulumi.dynamic.CheckResult> {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (!NAME.test(news.owner ?? "")) failures.push({ property: "owner", reason: "must be a Hugging Face user or organization name" });
    if (!NAME.test(news.name ?? "")) failures.push({ property: "name", reason: "must be a Space name (letters, digits, . _ -, at most 96)" });
    if (!["private", "public"].includes(news.visibility)) failures.push({ property: "visibility", reason: "must be private or public" });
    if (news.sleepTimeSeconds !== undefined && !(Number.isInteger(news.sleepTimeSeconds) && news.sleepTimeSeconds > 0)) failures.push({ property: "sleepTimeSeconds", reason: "must be a positive whole number of seconds" });
    return { inputs: news, failures };
  }

  async diff(_id: string, olds: SpaceOutputs, news: SpaceInputs): Promise<pulumi.dynamic.DiffResult> {
    // A Space is addressed by owner/name: another one is another repository.
    const replaces = (["owner", "name"] as const).filter((k) => olds[k] !== news[k]);
    const updates = (["visibility", "hardware", "sleepTimeSeconds"] as const).filter((k) => olds[k] !== news[k]);
    return { changes: replaces.length + updates.length > 0, replaces, deleteBeforeReplace: false };
  }

  async create(inputs: SpaceInputs): Promise<pulumi.dynamic.CreateResult> {
    const repoId = `${inputs.owner}/${inputs.name}`;
    const conn = { hubUrl: inputs.apiUrl, accessToken: this.token, fetch: hubFetch };
    const me = await withRetry(hfContext("checking the token (whoami)", this.token), () => hub().whoAmI(conn));
    const role = (me as { auth?: { accessToken?: { role?: string } } }).auth?.accessToken?.role;
    if (role === "read") {
      throw new Error(`Hugging Face: the token in mlflow-kit:hfToken is read-only, and creating the Space ${repoId} needs write access. Create a token with the write role and set it: \`pulumi config set --secret mlflow-kit:hfToken <token>\``);
    }
    try {
      await withRetry(hfContext(`creating the Space ${repoId}`, this.token), () =>
        hub().createRepo({ ...conn, repo: { type: "space", name: repoId }, sdk: "docker", visibility: inputs.visibility }));
    } catch (err) {
      // 409: it exists, e.g. left by an interrupted run. Adopt it if it is a Docker Space.
      if (!hasStatus(err, 409)) throw err;
      const existing = await withRetry(hfContext(`reading the existing Space ${repoId}`, this.token), () => hub().spaceInfo({ ...conn, name: repoId }));
      if (existing.sdk !== "docker") {
        throw new Error(`Hugging Face: a Space ${repoId} already exists with sdk ${existing.sdk ?? "unknown"}, not docker, so mlflow-kit will not take it over. Delete it, or set target.spaceName to another name`);
      }
    }
    await this.applySettings(inputs, undefined);
    return { id: repoId, outs: this.outputs(inputs) };
  }

  async read(id: string, props: SpaceOutputs): Promise<pulumi.dynamic.ReadResult> {
    const [owner, name] = id.split("/");
    const apiUrl = props?.apiUrl ?? HF_API_URL;
    const info = await withRetry(hfContext(`reading the Space ${id}`, this.token), () =>
      hub().spaceInfo({ hubUrl: apiUrl, accessToken: this.token, fetch: hubFetch, name: id, additionalFields: ["runtime"] }));
    const runtime = (info as { runtime?: { hardware?: { requested?: string | null; current?: string | null }; gcTimeout?: number | null } }).runtime;
    const state: SpaceInputs = {
      apiUrl,
      owner,
      name,
      visibility: info.private ? "private" : "public",
      hardware: runtime?.hardware?.requested ?? runtime?.hardware?.current ?? props?.hardware ?? "cpu-basic",
      ...(runtime?.gcTimeout ? { sleepTimeSeconds: runtime.gcTimeout } : props?.sleepTimeSeconds ? { sleepTimeSeconds: props.sleepTimeSeconds } : {}),
    };
    return { id, props: this.outputs(state), inputs: state };
  }

  async update(id: string, olds: SpaceOutputs, news: SpaceInputs): Promise<pulumi.dynamic.UpdateResult> {
    await this.applySettings(news, olds);
    return { outs: this.outputs(news) };
  }

  async delete(id: string, props: SpaceOutputs): Promise<void> {
    try {
      await withRetry(hfContext(`deleting the Space ${id}`, this.token), () =>
        hub().deleteRepo({ hubUrl: props.apiUrl ?? HF_API_URL, accessToken: this.token, fetch: hubFetch, repo: { type: "space", name: id } }));
    } catch (err) {
      if (!hasStatus(err, 404)) throw err; // already gone: deleted is deleted
    }
  }

  /** Visibility, hardware and sleep time: only what differs from `olds` (everything on create). */
  private async applySettings(news: SpaceInputs, olds: SpaceInputs | undefined): Promise<void> {
    const repoId = `${news.owner}/${news.name}`;
    const call = (what: string, method: string, path: string, body: unknown) =>
      withRetry(hfContext(what, this.token), () => jsonFetch({ method, url: `${news.apiUrl}/api/spaces/${repoId}/${path}`, token: this.token, body }));
    if (olds && olds.visibility !== news.visibility) {
      await call(`making the Space ${repoId} ${news.visibility}`, "PUT", "settings", { private: news.visibility === "private" });
    }
    if ((olds ? olds.hardware : "cpu-basic") !== news.hardware) {
      await call(`requesting hardware ${news.hardware} for the Space ${repoId}`, "POST", "hardware", { flavor: news.hardware });
    }
    if (news.sleepTimeSeconds !== undefined && olds?.sleepTimeSeconds !== news.sleepTimeSeconds) {
      await call(`setting the sleep time of the Space ${repoId}`, "POST", "sleeptime", { seconds: news.sleepTimeSeconds });
    }
  }

  private outputs(i: SpaceInputs): SpaceOutputs {
    return { ...i, repoId: `${i.owner}/${i.name}`, pageUrl: `https://huggingface.co/spaces/${i.owner}/${i.name}` };
  }
}

export const spaceProvider = new SpaceProvider();

export interface SpaceArgs {
  apiUrl?: pulumi.Input<string>;
  owner: pulumi.Input<string>;
  name: pulumi.Input<string>;
  visibility: pulumi.Input<"private" | "public">;
  hardware: pulumi.Input<string>;
  sleepTimeSeconds?: pulumi.Input<number>;
}

/** A Docker Space on the Hugging Face Hub (pulumi-nodejs:dynamic/hf:Space). */
export class Space extends pulumi.dynamic.Resource {
  declare readonly repoId: pulumi.Output<string>;
  declare readonly pageUrl: pulumi.Output<string>;

  constructor(name: string, args: SpaceArgs, opts?: pulumi.CustomResourceOptions) {
    super(spaceProvider, name, { ...args, apiUrl: args.apiUrl ?? HF_API_URL, repoId: undefined, pageUrl: undefined }, opts, "hf", "Space");
  }
}
