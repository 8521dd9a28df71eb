import * as pulumi from "@pulumi/pulumi";
import { jsonFetch } from "../core/http";
import { pollUntil } from "../core/poll";
import { withRetry } from "../core/retry";
import { hasStatus } from "../core/errors";
import { HF_API_URL, hfContext, hfToken, hub, hubFetch } from "./client";

/**
 * What a Space runs: its repository files (the Dockerfile FROM the image digest, the README
 * front matter), its secrets and variables (the runtime contract), and the wait until it runs.
 * Secrets are written before the files, so the build a commit starts already sees them; a change
 * of secrets or variables alone restarts the Space.
 */
export interface SpaceReleaseInputs {
  apiUrl: string;
  /** owner/name of the Space. */
  repoId: string;
  /** path -> content of the repository files. */
  files: Record<string, string>;
  /** Space secrets (write-only on the Hub). */
  secrets: Record<string, string>;
  /** Space variables (readable by anyone who can see the Space). */
  variables: Record<string, string>;
  /** How long to wait for the Space to run after a change. */
  waitTimeoutSeconds: number;
}

export interface SpaceReleaseOutputs extends SpaceReleaseInputs {
  /** The runtime stage seen last (RUNNING after a successful create or update). */
  stage: string;
}

const FAILED_STAGES = ["BUILD_ERROR", "RUNTIME_ERROR", "CONFIG_ERROR", "NO_APP_FILE"];
/** A stage that proves the Space picked up a change (before it, RUNNING may be the old build). */
const CHANGING_STAGES = ["BUILDING", "RUNNING_BUILDING", "APP_STARTING", "RUNNING_APP_STARTING"];
const KEY = /^[A-Z_][A-Z0-9_]*$/;
/** How long a stage from before a change may linger before it counts as the new build's. */
const STALE_STAGE_GRACE_MS = 30_000;

class SpaceReleaseProvider implements pulumi.dynamic.ResourceProvider {
  private token = "";

  async configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
    this.token = hfToken(req.config);
  }

  async check(_olds: SpaceReleaseInputs, news: SpaceReleaseInputs): Promise<pulumi.dynamic.CheckResult> {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (!/^[^/\s]+\/[^/\s]+$/.test(news.repoId ?? "")) failures.push({ property: "repoId", reason: "must be owner/name" });
    if (!news.files?.Dockerfile) failures.push({ property: "files", reason: "must include the Dockerfile the Space builds" });
    for (const k of [...Object.keys(news.secrets ?? {}), ...Object.keys(news.variables ?? {})]) {
      if (!KEY.test(k)) failures.push({ property: "secrets", reason: `${k} is not an environment variable name` });
    }
    const both = Object.keys(news.secrets ?? {}).filter((k) => k in (news.variables ?? {}));
    if (both.length) failures.push({ property: "variables", reason: `${both.join(", ")} cannot be both a secret and a variable` });
    return { inputs: news, failures };
  }

  async diff(_id: string, olds: SpaceReleaseOutputs, news: SpaceReleaseInputs): Promise<pulumi.dynamic.DiffResult> {
    const replaces = olds.repoId !== news.repoId ? ["repoId"] : [];
    const changed = (["files", "secrets", "variables"] as const).filter((k) => !sameMap(olds[k], news[k]));
    return { changes: replaces.length + changed.length > 0, replaces };
  }

  async create(inputs: SpaceReleaseInputs): Promise<pulumi.dynamic.CreateResult> {
    await this.apply(inputs, undefined);
    const stage = await this.waitRunning(inputs, true);
    return { id: `${inputs.repoId}/release`, outs: { ...inputs, stage } };
  }

  async read(id: string, props: SpaceReleaseOutputs): Promise<pulumi.dynamic.ReadResult> {
    // Variables and the stage can be read back; secrets are write-only, so the state keeps them.
    const repoId = props.repoId ?? id.replace(/\/release$/, "");
    const apiUrl = props.apiUrl ?? HF_API_URL;
    const vars = await withRetry(hfContext(`reading the variables of the Space ${repoId}`, this.token), () =>
      jsonFetch<Record<string, { value: string }>>({ method: "GET", url: `${apiUrl}/api/spaces/${repoId}/variables`, token: this.token }));
    const variables = Object.fromEntries(Object.entries(vars.body ?? {}).map(([k, v]) => [k, v.value]));
    const stage = await this.stage(apiUrl, repoId);
    const state = { ...props, repoId, apiUrl, variables };
    return { id, props: { ...state, stage }, inputs: { apiUrl, repoId, files: props.files, secrets: props.secrets, variables, waitTimeoutSeconds: props.waitTimeoutSeconds } };
  }

  async update(_id: string, olds: SpaceReleaseOutputs, news: SpaceReleaseInputs): Promise<pulumi.dynamic.UpdateResult> {
    const filesChanged = await this.apply(news, olds);
    const settingsChanged = !sameMap(olds.secrets, news.secrets) || !sameMap(olds.variables, news.variables);
    if (!filesChanged && settingsChanged) {
      // No commit means no rebuild: restart so the container starts with the new env.
      await withRetry(hfContext(`restarting the Space ${news.repoId}`, this.token, Object.values(news.secrets)), () =>
        jsonFetch({ method: "POST", url: `${news.apiUrl}/api/spaces/${news.repoId}/restart`, token: this.token }));
    }
    const stage = filesChanged || settingsChanged ? await this.waitRunning(news, true) : olds.stage;
    return { outs: { ...news, stage } };
  }

  async delete(_id: string, props: SpaceReleaseOutputs): Promise<void> {
    // The Space keeps its files; its credentials go. 404: the Space (or the key) is gone already.
    for (const [kind, map] of [["secrets", props.secrets], ["variables", props.variables]] as const) {
      for (const key of Object.keys(map ?? {})) {
        try {
          await withRetry(hfContext(`removing ${kind} ${key} of the Space ${props.repoId}`, this.token), () =>
            jsonFetch({ method: "DELETE", url: `${props.apiUrl}/api/spaces/${props.repoId}/${kind}`, token: this.token, body: { key } }));
        } catch (err) {
          if (!hasStatus(err, 404)) throw err;
        }
      }
    }
  }

  /** Writes what differs from `olds` (everything on create): secrets and variables, then files. True when files were committed. */
  private async apply(news: SpaceReleaseInputs, olds: SpaceReleaseInputs | undefined): Promise<boolean> {
    const secretValues = Object.values(news.secrets);
    const url = (kind: string) => `${news.apiUrl}/api/spaces/${news.repoId}/${kind}`;
    for (const [kind, now, before] of [["secrets", news.secrets, olds?.secrets ?? {}], ["variables", news.variables, olds?.variables ?? {}]] as const) {
      for (const [key, value] of Object.entries(now)) {
        if (before[key] === value && olds) continue;
        await withRetry(hfContext(`setting ${kind} ${key} of the Space ${news.repoId}`, this.token, secretValues), () =>
          jsonFetch({ method: "POST", url: url(kind), token: this.token, body: { key, value, description: "set by mlflow-kit" } }));
      }
      for (const key of Object.keys(before).filter((k) => !(k in now))) {
        try {
          await withRetry(hfContext(`removing ${kind} ${key} of the Space ${news.repoId}`, this.token), () =>
            jsonFetch({ method: "DELETE", url: url(kind), token: this.token, body: { key } }));
        } catch (err) {
          if (!hasStatus(err, 404)) throw err;
        }
      }
    }
    if (olds && sameMap(olds.files, news.files)) return false;
    await withRetry(hfContext(`committing the files of the Space ${news.repoId}`, this.token, secretValues), () =>
      hub().uploadFiles({
        hubUrl: news.apiUrl, accessToken: this.token, fetch: hubFetch,
        repo: { type: "space", name: news.repoId },
        files: Object.entries(news.files).map(([path, content]) => ({ path, content: new Blob([content]) })),
        commitTitle: "mlflow-kit: deploy",
      }));
    return true;
  }

  private async stage(apiUrl: string, repoId: string): Promise<{ stage: string; errorMessage?: string }> {
    const r = await withRetry(hfContext(`reading the runtime of the Space ${repoId}`, this.token), () =>
      jsonFetch<{ stage: string; errorMessage?: string }>({ method: "GET", url: `${apiUrl}/api/spaces/${repoId}/runtime`, token: this.token }));
    return r.body;
  }

  /**
   * Polls the runtime until RUNNING. Right after a commit or a restart the Hub can still report
   * the stage of before it: RUNNING (the old container), NO_APP_FILE (a new Docker Space before
   * its Dockerfile was seen), BUILD_ERROR or RUNTIME_ERROR (the last build). So both RUNNING and
   * a failed stage count only once a changing stage (BUILDING, APP_STARTING, ...) was seen, or
   * once the stage stayed the same past a grace period (a build the Hub started and finished,
   * or failed, between two polls).
   */
  private async waitRunning(i: SpaceReleaseInputs, changed: boolean): Promise<string> {
    const started = Date.now();
    let sawChange = !changed;
    const s = await pollUntil({ what: `the Space ${i.repoId} to build and run`, timeoutMs: i.waitTimeoutSeconds * 1000, maxIntervalMs: 10_000 }, async () => {
      const rt = await this.stage(i.apiUrl, i.repoId);
      if (CHANGING_STAGES.includes(rt.stage)) sawChange = true;
      const settled = sawChange || Date.now() - started > STALE_STAGE_GRACE_MS;
      if (FAILED_STAGES.includes(rt.stage) && settled) return { done: false, failed: rt.errorMessage ?? "see the Space's logs", state: rt.stage };
      return { done: rt.stage === "RUNNING" && settled, state: rt.stage };
    });
    return s.state;
  }
}

function sameMap(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const ka = Object.keys(a ?? {}).sort();
  const kb = Object.keys(b ?? {}).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a![k] === b![k]);
}

export const spaceReleaseProvider = new SpaceReleaseProvider();

export interface SpaceReleaseArgs {
  apiUrl?: pulumi.Input<string>;
  repoId: pulumi.Input<string>;
  files: pulumi.Input<Record<string, pulumi.Input<string>>>;
  secrets: pulumi.Input<Record<string, pulumi.Input<string>>>;
  variables: pulumi.Input<Record<string, pulumi.Input<string>>>;
  waitTimeoutSeconds?: pulumi.Input<number>;
}

/** Files, secrets and variables of a Space, and the wait until it runs (pulumi-nodejs:dynamic/hf:SpaceRelease). */
export class SpaceRelease extends pulumi.dynamic.Resource {
  declare readonly stage: pulumi.Output<string>;

  constructor(name: string, args: SpaceReleaseArgs, opts?: pulumi.CustomResourceOptions) {
    super(spaceReleaseProvider, name, {
      ...args,
      apiUrl: args.apiUrl ?? HF_API_URL,
      secrets: pulumi.secret(args.secrets),
      waitTimeoutSeconds: args.waitTimeoutSeconds ?? 1200,
      stage: undefined,
    }, { ...opts, additionalSecretOutputs: ["secrets", ...(opts?.additionalSecretOutputs ?? [])] }, "hf", "SpaceRelease");
  }
}
