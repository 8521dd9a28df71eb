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
  /**
   * Where the Space's app answers: <subdomain>.hf.space, the subdomain as the Hub reports it
   * (spaceInfo `subdomain`: @huggingface/hub src/types/api/api-space.d.ts), never computed from
   * owner and name (the Hub derives it, and keeps it when the Space is renamed).
   */
  host: string;
}

/** The runtime fields read back from spaceInfo (@huggingface/hub public.d.ts SpaceRuntime). */
interface HubSpace {
  sdk?: string;
  private?: boolean;
  subdomain?: string;
  runtime?: { hardware?: { requested?: string | null; current?: string | null }; gcTimeout?: number | null };
}

/**
 * Seconds a free cpu-basic Space sleeps after, which the Hub reports as its gcTimeout and does
 * not let change: "By default ... the Space will go to sleep after 48 hours on a free
 * 'cpu-basic' hardware" (huggingface_hub _space_api.py SpaceRuntime.sleep_time).
 */
const CPU_BASIC = "cpu-basic";

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
    let adopted: HubSpace | undefined;
    try {
      await withRetry(hfContext(`creating the Space ${repoId}`, this.token), () =>
        hub().createRepo({ ...conn, repo: { type: "space", name: repoId }, sdk: "docker", visibility: inputs.visibility }));
    } catch (err) {
      // 409: it exists (left by an interrupted run, or a retried create whose answer was lost). Adopt it if it is a Docker Space.
      if (!hasStatus(err, 409)) throw err;
      adopted = await this.info(inputs.apiUrl, repoId);
      if (adopted.sdk !== "docker") {
        throw new Error(`Hugging Face: a Space ${repoId} already exists with sdk ${adopted.sdk ?? "unknown"}, not docker, so mlflow-kit will not take it over. Delete it, or set target.spaceName to another name`);
      }
    }
    // An adopted Space keeps the visibility and hardware it had: what it has is the starting
    // point, so both (and the sleep time) are set to the inputs, not assumed.
    await this.applySettings(inputs, adopted ? observedSettings(inputs, adopted) : undefined);
    const info = adopted?.subdomain ? adopted : await this.info(inputs.apiUrl, repoId);
    return { id: repoId, outs: this.outputs(inputs, hostOf(repoId, info)) };
  }

  async read(id: string, props: SpaceOutputs): Promise<pulumi.dynamic.ReadResult> {
    const [owner, name] = id.split("/");
    const apiUrl = props?.apiUrl ?? HF_API_URL;
    const info = await this.info(apiUrl, id);
    const observed = observedSettings({ apiUrl, owner, name, visibility: props?.visibility ?? "private", hardware: props?.hardware ?? CPU_BASIC, sleepTimeSeconds: props?.sleepTimeSeconds }, info);
    const state: SpaceInputs = { apiUrl, owner, name, ...observed };
    return { id, props: this.outputs(state, hostOf(id, info)), inputs: state };
  }

  async update(id: string, olds: SpaceOutputs, news: SpaceInputs): Promise<pulumi.dynamic.UpdateResult> {
    await this.applySettings(news, olds);
    return { outs: this.outputs(news, olds.host ?? hostOf(id, await this.info(news.apiUrl, id))) };
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
  private async applySettings(news: SpaceInputs, olds: Pick<SpaceInputs, "visibility" | "hardware" | "sleepTimeSeconds"> | undefined): Promise<void> {
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

  private outputs(i: SpaceInputs, host: string): SpaceOutputs {
    return { ...i, repoId: `${i.owner}/${i.name}`, pageUrl: `https://huggingface.co/spaces/${i.owner}/${i.name}`, host };
  }

  private async info(apiUrl: string, repoId: string): Promise<HubSpace> {
    return withRetry(hfContext(`reading the Space ${repoId}`, this.token), () =>
      hub().spaceInfo({ hubUrl: apiUrl, accessToken: this.token, fetch: hubFetch, name: repoId, additionalFields: ["runtime", "subdomain"] })) as Promise<HubSpace>;
  }
}

/**
 * Visibility, hardware and sleep time as the Hub reports them. A cpu-basic Space's gcTimeout is
 * the Hub's fixed 48 hours, not a setting: it is left out (unless the inputs set one), so a
 * refresh never shows a sleepTimeSeconds that no input can match.
 */
function observedSettings(i: SpaceInputs, info: HubSpace): Pick<SpaceInputs, "visibility" | "hardware" | "sleepTimeSeconds"> {
  const hardware = info.runtime?.hardware?.requested ?? info.runtime?.hardware?.current ?? i.hardware;
  const gc = info.runtime?.gcTimeout ?? undefined;
  const sleep = hardware === CPU_BASIC ? i.sleepTimeSeconds : gc ?? undefined;
  return { visibility: info.private ? "private" : "public", hardware, ...(sleep !== undefined ? { sleepTimeSeconds: sleep } : {}) };
}

function hostOf(repoId: string, info: HubSpace): string {
  if (!info.subdomain) throw new Error(`Hugging Face did not report the subdomain of the Space ${repoId}, so its address is unknown; run \`pulumi up\` again, and if it persists look at the Space in the Hub`);
  return `${info.subdomain}.hf.space`;
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
  /** <subdomain>.hf.space, as the Hub reports it. */
  declare readonly host: pulumi.Output<string>;

  constructor(name: string, args: SpaceArgs, opts?: pulumi.CustomResourceOptions) {
    super(spaceProvider, name, { ...args, apiUrl: args.apiUrl ?? HF_API_URL, repoId: undefined, pageUrl: undefined, host: undefined }, opts, "hf", "Space");
  }
}
