/**
 * A stateful Hugging Face Hub fake for the provider contract tests, on FakeApi with the
 * document beside it (hub-api.openapi.yaml). A Space builds for a couple of runtime polls after
 * each commit or restart, then runs (or fails, when a test says so).
 */
import * as path from "node:path";
import { FakeApi, type Fault } from "../support/fake-api";

/**
 * A 429 as the Hub sends it: the IETF draft-9 RateLimit fields, over 5-minute fixed windows,
 * `t` the seconds until the window resets (huggingface/hub-docs docs/hub/rate-limits.md, "HTTP
 * Headers"; huggingface_hub utils/_http.py parse_ratelimit_headers reads the same shape). No
 * Retry-After: the Hub's documented headers are these two.
 */
export function hubRateLimited(secondsLeft: number, quota = 1000): Fault {
  return { kind: "status", status: 429, message: "You have exceeded our rate limit", headers: { ratelimit: `"api";r=0;t=${secondsLeft}`, "ratelimit-policy": `"fixed window";"api";q=${quota};w=300` } };
}

export interface FakeSpace {
  sdk: string;
  private: boolean;
  hardware: string;
  sleepTime: number | null;
  files: Record<string, string>;
  secrets: Record<string, string>;
  variables: Record<string, string>;
  stage: string;
  /** Runtime polls left in the current build before it runs. */
  buildPolls: number;
  /** Runtime reads after a commit or restart that still report the stage of before it. */
  staleReads?: number;
  commits: number;
  restarts: number;
  /**
   * The Space's subdomain (<subdomain>.hf.space), as spaceInfo reports it (@huggingface/hub
   * api-space.d.ts `subdomain`). The Hub derives it; the fake's rule for a new Space (lower
   * case, "." and "_" as "-") is an assumption, and a seeded Space may carry any.
   */
  subdomain?: string;
}

export interface HfFake {
  api: FakeApi;
  spaces: Map<string, FakeSpace>;
  /** The next build ends in BUILD_ERROR. */
  failNextBuild: () => void;
  /** The token's role as whoami reports it. */
  role: { value: string };
  /**
   * How many runtime reads after a commit or restart still report the stage of before it
   * (NO_APP_FILE on a new Docker Space, BUILD_ERROR after a failed build, RUNNING of the old
   * container). Reported in issue 15 item 5 from the real Hub; the Hub's documents do not say
   * how long the lag lasts (not checked against vendor material).
   */
  staleRuntimeReads: { value: number };
}

export async function startHfFake(token: string, user = "alice"): Promise<HfFake> {
  const spaces = new Map<string, FakeSpace>();
  const role = { value: "write" };
  const staleRuntimeReads = { value: 1 };
  let failBuild = false;
  const err = (status: number, message: string) => ({ status, body: { error: message } });
  const repoOf = (c: { request: { params: Record<string, unknown> } }) => `${c.request.params.namespace}/${c.request.params.repo}`;
  const withSpace = (c: { request: { params: Record<string, unknown> } }, f: (s: FakeSpace, id: string) => { status: number; body?: unknown }) => {
    const id = repoOf(c);
    const s = spaces.get(id);
    return s ? f(s, id) : err(404, `Repository not found: ${id}`);
  };
  const rebuild = (s: FakeSpace) => {
    s.buildPolls = 2;
    s.staleReads = staleRuntimeReads.value;
    if (!s.staleReads) s.stage = "BUILDING";
  };
  // gcTimeout: a free cpu-basic Space reports the Hub's fixed 48 hours (172800 s) when no sleep
  // time was set (huggingface_hub _space_api.py SpaceRuntime.sleep_time: "will go to sleep after
  // 48 hours on a free 'cpu-basic' hardware"; the runtime JSON carries it as gcTimeout, as
  // captured spaceInfo answers show: "gcTimeout":172800); upgraded hardware: null, never sleeps.
  const runtime = (s: FakeSpace) => ({ stage: s.stage, hardware: { current: s.stage === "RUNNING" ? s.hardware : null, requested: s.hardware }, gcTimeout: s.sleepTime ?? (s.hardware === "cpu-basic" ? 172800 : null), ...(s.stage.endsWith("ERROR") ? { errorMessage: "Build failed: see logs" } : {}) });
  const subdomainOf = (s: FakeSpace, id: string) => s.subdomain ?? id.toLowerCase().replace(/[/._]/g, "-");

  const api = await FakeApi.start({
    name: "Hugging Face",
    definition: path.join(__dirname, "hub-api.openapi.yaml"),
    apiRoot: "/",
    token,
    errorBody: (_status, message) => ({ error: message }),
    handlers: {
      whoami: () => ({ status: 200, body: { type: "user", name: user, orgs: [{ name: "acme" }], auth: { type: "access_token", accessToken: { displayName: "kit", role: role.value } } } }),
      createRepo: (_c, b) => {
        const id = `${b.organization ?? user}/${b.name}`;
        if (b.organization && b.organization !== user && b.organization !== "acme") return err(403, `You don't have the rights to create a space under the namespace "${b.organization}"`);
        if (spaces.has(id)) return err(409, "You already created this space repo");
        spaces.set(id, { sdk: b.sdk, private: b.visibility !== "public", hardware: "cpu-basic", sleepTime: null, files: {}, secrets: {}, variables: {}, stage: "NO_APP_FILE", buildPolls: 0, commits: 0, restarts: 0 });
        return { status: 200, body: { url: `https://huggingface.co/spaces/${id}`, id: `66${spaces.size}` } };
      },
      deleteRepo: (_c, b) => {
        const id = `${b.organization ?? user}/${b.name}`;
        if (!spaces.delete(id)) return err(404, `Repository not found: ${id}`);
        return { status: 200 };
      },
      spaceInfo: (c) => withSpace(c, (s, id) => ({ status: 200, body: { _id: `id-${id}`, id, sdk: s.sdk, likes: 0, private: s.private, lastModified: "2026-11-24T00:00:00.000Z", sha: `sha${s.commits}`, subdomain: subdomainOf(s, id), runtime: runtime(s) } })),
      preupload: (_c, b) => ({ status: 200, body: { files: b.files.map((f: { path: string }) => ({ path: f.path, uploadMode: "regular", shouldIgnore: false })) } }),
      commit: (c, b) => withSpace(c, (s, id) => {
        for (const line of String(b).split("\n").filter(Boolean)) {
          const op = JSON.parse(line) as { key: string; value: { path: string; content: string; encoding: string } };
          if (op.key === "file") s.files[op.value.path] = Buffer.from(op.value.content, op.value.encoding === "base64" ? "base64" : "utf8").toString("utf8");
          else if (op.key !== "header") return err(400, `unexpected commit operation ${op.key}`);
        }
        s.commits++;
        rebuild(s);
        return { status: 200, body: { commitOid: `sha${s.commits}`, commitUrl: `https://huggingface.co/spaces/${id}/commit/sha${s.commits}`, success: true } };
      }),
      updateSettings: (c, b) => withSpace(c, (s) => {
        s.private = b.private;
        return { status: 200, body: {} };
      }),
      requestHardware: (c, b) => withSpace(c, (s) => {
        s.hardware = b.flavor;
        return { status: 200, body: runtime(s) };
      }),
      setSleepTime: (c, b) => withSpace(c, (s) => {
        s.sleepTime = b.seconds;
        return { status: 200, body: runtime(s) };
      }),
      restartSpace: (c) => withSpace(c, (s) => {
        s.restarts++;
        rebuild(s);
        return { status: 200, body: {} };
      }),
      getRuntime: (c) => withSpace(c, (s) => {
        if (s.staleReads) {
          // The stage of before the change, once more; the build shows from the next read.
          const body = runtime(s);
          if (--s.staleReads === 0) {
            s.stage = "BUILDING";
            s.buildPolls = 3; // reported as BUILDING once, then APP_STARTING (or the failure), then RUNNING
          }
          return { status: 200, body };
        }
        if (s.stage === "BUILDING" || s.stage === "APP_STARTING") {
          s.buildPolls--;
          if (s.buildPolls === 1) s.stage = failBuild ? "BUILD_ERROR" : "APP_STARTING";
          else if (s.buildPolls <= 0) s.stage = "RUNNING";
          if (s.stage === "BUILD_ERROR") failBuild = false;
        }
        return { status: 200, body: runtime(s) };
      }),
      upsertSecret: (c, b) => withSpace(c, (s) => {
        s.secrets[b.key] = b.value;
        return { status: 200 };
      }),
      deleteSecret: (c, b) => withSpace(c, (s) => {
        if (!(b.key in s.secrets)) return err(404, `secret ${b.key} not found`);
        delete s.secrets[b.key];
        return { status: 200 };
      }),
      listVariables: (c) => withSpace(c, (s) => ({ status: 200, body: Object.fromEntries(Object.entries(s.variables).map(([k, v]) => [k, { value: v, description: "", updatedAt: "2026-11-24T00:00:00.000Z" }])) })),
      upsertVariable: (c, b) => withSpace(c, (s) => {
        s.variables[b.key] = b.value;
        return { status: 200 };
      }),
      deleteVariable: (c, b) => withSpace(c, (s) => {
        if (!(b.key in s.variables)) return err(404, `variable ${b.key} not found`);
        delete s.variables[b.key];
        return { status: 200 };
      }),
    },
  });
  return { api, spaces, role, staleRuntimeReads, failNextBuild: () => { failBuild = true; } };
}
