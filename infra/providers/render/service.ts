/**
 * A Render web service that runs the kit's image by digest, with its env vars as one set
 * (PUT /services/{id}/env-vars replaces them all), and a deploy whenever the digest or the env
 * changes (an image-backed service does not redeploy on a registry push), waited for until live.
 *
 * Render's API does not create free-plan services (its plan field takes paid plans only, an
 * anti-abuse rule): with plan free the service is created once in the dashboard and adopted here
 * by name; everything else (image, credential, health check, env, deploys) is managed the same.
 */
import * as pulumi from "@pulumi/pulumi";
import { hasStatus } from "../core/errors";
import { pollUntil } from "../core/poll";
import { callContext, createOnce, isGone, renderCall, renderClient, renderOnce, requireToken, resolveOwnerId, RENDER_API_URL, RENDER_TOKEN_KEY, type RenderClient, type Schemas } from "./client";

export interface EnvVar {
  key: string;
  value: string;
}

export type RenderPlan = "free" | Schemas["paidPlan"];

export interface ServiceInputs {
  /** Render's API root; the contract tests point it at the fake. Never replaces. */
  apiUrl?: string;
  /** Unique in the workspace: a re-run after an interrupted create adopts the service of this name. */
  name: string;
  /** Render workspace id (tea-... / usr-...); the only workspace the key sees when unset. */
  ownerId?: string;
  region: Schemas["region"];
  plan: RenderPlan;
  /** repository@sha256:<digest>: what runs. A new digest is a deploy, not a replace. */
  imagePath: string;
  registryCredentialId?: string;
  healthCheckPath: string;
  numInstances: number;
  /** The whole env, secrets included (the resource marks the output secret). */
  envVars: EnvVar[];
  /** This env var is set to the host name Render gives the service (<name>[-suffix].onrender.com). */
  hostnameEnvKey?: string;
  /** A custom domain added to the service; the public URL when set. */
  customDomain?: string;
  /** How long a deploy may take to go live before `pulumi up` fails naming it. */
  deployTimeoutSeconds: number;
}

export interface ServiceOutputs extends ServiceInputs {
  ownerId: string;
  /** https:// of the custom domain when set, else the onrender.com URL Render gave. */
  url: string;
  /** The onrender.com host Render gave (what hostnameEnvKey is set to). */
  hostname: string;
  dashboardUrl: string;
  /** Names of the env vars, in the clear (values are in the secret envVars). */
  envKeys: string[];
  /** The last deploy this provider waited for, and its status. */
  deployId: string;
  deployStatus: string;
}

const PLANS: RenderPlan[] = ["free", "starter", "standard", "pro", "pro_plus", "pro_max", "pro_ultra"];
const REGIONS = ["frankfurt", "oregon", "ohio", "singapore", "virginia"];
const DIGEST_REF = /^[a-z0-9.-]+(:\d+)?\/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$/;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const FAILED_DEPLOY = ["build_failed", "update_failed", "canceled", "pre_deploy_failed", "deactivated"];

/** The fields of Render's service and web service details this provider reads. */
interface RenderService {
  id: string;
  name: string;
  ownerId: string;
  type: string;
  dashboardUrl: string;
  imagePath?: string;
  registryCredential?: { id: string; name: string };
  serviceDetails: unknown;
}
interface WebDetails {
  runtime?: string;
  plan: string;
  region: Schemas["region"];
  healthCheckPath: string;
  numInstances: number;
  url: string;
}

/** What the service is now: from Render (adoption) or from the state (update). */
interface Observed {
  imagePath: string | undefined;
  registryCredentialId: string | undefined;
  healthCheckPath: string | undefined;
  plan: string | undefined;
  numInstances: number | undefined;
  env: EnvVar[];
  customDomain: string | undefined;
}

export class ServiceProvider implements pulumi.dynamic.ResourceProvider<ServiceInputs, ServiceOutputs> {
  /** From the stack config in configure(); never an input, never in the state. */
  private token: string | undefined;

  async configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
    this.token = req.config.get(RENDER_TOKEN_KEY);
  }

  async check(_olds: ServiceInputs, news: ServiceInputs): Promise<pulumi.dynamic.CheckResult<ServiceInputs>> {
    const f: pulumi.dynamic.CheckFailure[] = [];
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(news.name ?? "")) f.push({ property: "name", reason: "must be a lower-case DNS label (mlflow-kit:target.serviceName): it becomes <name>.onrender.com" });
    if (news.ownerId !== undefined && !/^(tea|usr)-[a-z0-9]+$/.test(news.ownerId)) f.push({ property: "ownerId", reason: "must be a Render workspace id such as tea-abc123 or usr-abc123 (mlflow-kit:target.ownerId)" });
    if (!REGIONS.includes(news.region)) f.push({ property: "region", reason: `must be one of ${REGIONS.join(", ")}` });
    if (!PLANS.includes(news.plan)) f.push({ property: "plan", reason: `must be one of ${PLANS.join(", ")}` });
    if (!DIGEST_REF.test(news.imagePath ?? "")) f.push({ property: "imagePath", reason: "must be an image by digest, repository@sha256:<64 hex>: a tag can move under a running service" });
    if (!news.healthCheckPath?.startsWith("/")) f.push({ property: "healthCheckPath", reason: "must be a path starting with /" });
    if (!Number.isInteger(news.numInstances) || news.numInstances < 1) f.push({ property: "numInstances", reason: "must be a whole number of at least 1" });
    if (news.plan === "free" && news.numInstances !== 1) f.push({ property: "numInstances", reason: "must be 1 on Render's free plan (a free service never scales beyond one instance)" });
    if (!Number.isInteger(news.deployTimeoutSeconds) || news.deployTimeoutSeconds < 30 || news.deployTimeoutSeconds > 7200) f.push({ property: "deployTimeoutSeconds", reason: "must be 30-7200 seconds" });
    const keys = (news.envVars ?? []).map((e) => e.key);
    const bad = keys.filter((k) => !ENV_KEY.test(k));
    if (bad.length) f.push({ property: "envVars", reason: `keys must be letters, digits and _ and not start with a digit: ${bad.join(", ")}` });
    const dupes = keys.filter((k, i) => keys.indexOf(k) !== i);
    if (dupes.length) f.push({ property: "envVars", reason: `each key once: ${[...new Set(dupes)].join(", ")} repeated` });
    if (news.hostnameEnvKey !== undefined && !keys.includes(news.hostnameEnvKey)) f.push({ property: "hostnameEnvKey", reason: `must be one of the envVars keys (got ${news.hostnameEnvKey})` });
    return { inputs: news, failures: f };
  }

  async diff(_id: string, olds: ServiceOutputs, news: ServiceInputs): Promise<pulumi.dynamic.DiffResult> {
    const replaces: string[] = [];
    if (olds.name !== news.name) replaces.push("name");
    if (olds.region !== news.region) replaces.push("region"); // Render cannot move a service
    if (news.ownerId !== undefined && news.ownerId !== olds.ownerId) replaces.push("ownerId");
    // The API sets paid plans only: back to free is a new (adopted) service.
    if (news.plan === "free" && olds.plan !== "free") replaces.push("plan");
    const inPlace = (["imagePath", "registryCredentialId", "healthCheckPath", "numInstances", "plan", "hostnameEnvKey", "customDomain", "deployTimeoutSeconds", "apiUrl"] as const)
      .some((k) => olds[k] !== news[k]) || !sameEnv(olds.envVars, news.envVars);
    // The replacement has the same name, and a create adopts by name: the old one must go first.
    return { changes: replaces.length > 0 || inPlace, replaces, deleteBeforeReplace: replaces.length > 0 };
  }

  async create(inputs: ServiceInputs): Promise<pulumi.dynamic.CreateResult<ServiceOutputs>> {
    const token = requireToken(this.token);
    const api = new Api(renderClient(inputs.apiUrl ?? RENDER_API_URL, token), token, inputs);
    const ownerId = await resolveOwnerId(api.client, token, inputs.ownerId);

    // Left by an interrupted run (or, on the free plan, made in the dashboard): adopt it.
    let service = await api.findByName(ownerId);
    if (service) return this.adopt(api, service, inputs, ownerId);
    if (inputs.plan === "free") throw new Error(freePlanMessage(inputs));

    let deployId: string | undefined;
    try {
      // A retried POST first looks again by name: Render would make (and bill) a second service.
      const r = await createOnce(api.ctx("creating"), () => api.findByNameOnce(ownerId), async () => (await renderOnce(() => api.client.POST("/services", {
        body: {
          type: "web_service",
          name: inputs.name,
          ownerId,
          autoDeploy: "no", // deploys come from here, with a digest
          image: { ownerId, imagePath: inputs.imagePath, registryCredentialId: inputs.registryCredentialId },
          envVars: inputs.envVars.map(({ key, value }) => ({ key, value })),
          serviceDetails: { runtime: "image", plan: inputs.plan as Schemas["paidPlan"], region: inputs.region, healthCheckPath: inputs.healthCheckPath, numInstances: inputs.numInstances },
        },
      }))).data);
      if ("found" in r) return this.adopt(api, r.found, inputs, ownerId);
      service = r.created.service;
      deployId = r.created.deployId;
    } catch (err) {
      // 409: a create whose answer was lost made it; adopt that one.
      const again = hasStatus(err, 409) ? await api.findByName(ownerId) : undefined;
      if (!again) throw err;
      return this.adopt(api, again, inputs, ownerId);
    }
    if (!service) throw new Error(`Render answered the creation of the service ${inputs.name} without the service`);
    const hostname = hostOf(service);
    const env = appliedEnv(inputs, hostname);
    // Render gave another host than <name>.onrender.com (the name was taken): correct the env.
    if (!sameEnv(env, inputs.envVars)) {
      await api.putEnv(service.id, env);
      deployId = undefined;
    }
    if (inputs.customDomain) await api.ensureCustomDomain(service.id, inputs.customDomain, undefined);
    const deploy = await api.waitLive(service.id, deployId ?? (await api.triggerDeploy(service.id)));
    return { id: service.id, outs: outputs(inputs, ownerId, service, hostname, deploy) };
  }

  /** Converges a service found by name to the inputs, then deploys the digest and waits. */
  private async adopt(api: Api, service: RenderService, inputs: ServiceInputs, ownerId: string): Promise<pulumi.dynamic.CreateResult<ServiceOutputs>> {
    const details = webDetails(service, inputs.name);
    if (inputs.plan === "free" && details.plan !== "free") {
      throw new Error(`Render: the service ${inputs.name} (${service.id}) is on the ${details.plan} plan but mlflow-kit:target.plan is free, and the API cannot move a service to free. Set target.plan ${details.plan}, or delete the service in the dashboard and create a free one of that name`);
    }
    const hostname = hostOf(service);
    const observed: Observed = {
      imagePath: service.imagePath,
      registryCredentialId: service.registryCredential?.id,
      healthCheckPath: details.healthCheckPath,
      plan: details.plan,
      numInstances: details.numInstances,
      env: await api.listEnv(service.id),
      customDomain: undefined,
    };
    const deploy = await api.converge(service.id, observed, inputs, ownerId, hostname, true);
    return { id: service.id, outs: outputs(inputs, ownerId, service, hostname, deploy!) };
  }

  async read(id: string, old?: ServiceOutputs): Promise<pulumi.dynamic.ReadResult<ServiceOutputs>> {
    const props = old ?? ({ deployTimeoutSeconds: 900 } as ServiceOutputs); // import: no state yet
    const token = requireToken(this.token);
    const api = new Api(renderClient(props.apiUrl ?? RENDER_API_URL, token), token, props);
    let service: RenderService;
    try {
      service = (await renderCall(api.ctx("reading"), () => api.client.GET("/services/{serviceId}", { params: { path: { serviceId: id } } }))).data;
    } catch (err) {
      if (isGone(err)) return {};
      throw err;
    }
    const details = webDetails(service, service.name);
    const env = await api.listEnv(id);
    // The provider owns the host name variable: keep the input's value so refresh shows no drift.
    const hostKey = props.hostnameEnvKey;
    const envVars = env.map((e) => (e.key === hostKey ? props.envVars?.find((p) => p.key === hostKey) ?? e : e));
    // The configured image is what every deploy runs, the kit's or not (see converge).
    const imagePath = service.imagePath ?? "";
    const hostname = hostOf(service);
    return {
      id,
      props: defined({
        ...props,
        name: service.name,
        ownerId: service.ownerId,
        region: details.region,
        plan: details.plan as RenderPlan,
        imagePath,
        registryCredentialId: service.registryCredential?.id,
        healthCheckPath: details.healthCheckPath,
        numInstances: details.numInstances,
        envVars,
        envKeys: envVars.map((e) => e.key),
        hostname,
        url: props.customDomain ? `https://${props.customDomain}` : `https://${hostname}`,
        dashboardUrl: service.dashboardUrl,
      }),
    };
  }

  async update(id: string, olds: ServiceOutputs, news: ServiceInputs): Promise<pulumi.dynamic.UpdateResult<ServiceOutputs>> {
    const token = requireToken(this.token);
    const api = new Api(renderClient(news.apiUrl ?? RENDER_API_URL, token), token, news, olds.envVars);
    const observed: Observed = {
      imagePath: olds.imagePath,
      registryCredentialId: olds.registryCredentialId,
      healthCheckPath: olds.healthCheckPath,
      plan: olds.plan,
      numInstances: olds.numInstances,
      env: appliedEnv(olds, olds.hostname),
      customDomain: olds.customDomain,
    };
    const deploy = await api.converge(id, observed, news, olds.ownerId, olds.hostname, false);
    return {
      outs: defined({
        ...news,
        ownerId: olds.ownerId,
        url: news.customDomain ? `https://${news.customDomain}` : `https://${olds.hostname}`,
        hostname: olds.hostname,
        dashboardUrl: olds.dashboardUrl,
        envKeys: news.envVars.map((e) => e.key),
        deployId: deploy?.id ?? olds.deployId,
        deployStatus: deploy?.status ?? olds.deployStatus,
      }),
    };
  }

  async delete(id: string, props: ServiceOutputs): Promise<void> {
    const token = requireToken(this.token);
    const api = new Api(renderClient(props.apiUrl ?? RENDER_API_URL, token), token, props);
    try {
      await renderCall(api.ctx("deleting"), () => api.client.DELETE("/services/{serviceId}", { params: { path: { serviceId: id } } }));
    } catch (err) {
      if (!isGone(err)) throw err; // already gone: done
    }
  }
}

/** The calls on one service, with its name in every message and its env values redacted. */
class Api {
  private readonly secrets: string[];

  constructor(readonly client: RenderClient, readonly token: string, private readonly inputs: Pick<ServiceInputs, "name" | "envVars" | "deployTimeoutSeconds">, olderEnv: EnvVar[] = []) {
    // Any env value may be a secret: keep every one that could be out of messages.
    this.secrets = [...(inputs.envVars ?? []), ...olderEnv].map((e) => e.value).filter((v) => typeof v === "string" && v.length >= 8);
  }

  ctx(what: string) {
    return callContext(`${what} the Render service ${this.inputs.name}`, this.token, this.secrets);
  }

  async findByName(ownerId: string): Promise<RenderService | undefined> {
    const { data } = await renderCall(this.ctx("looking for"), () => this.listByName(ownerId));
    return (data ?? []).map((s) => s.service).find((s) => s.name === this.inputs.name);
  }

  /** findByName without retries, for use inside a retried create. */
  async findByNameOnce(ownerId: string): Promise<RenderService | undefined> {
    const { data } = await renderOnce(() => this.listByName(ownerId));
    return (data ?? []).map((s) => s.service).find((s) => s.name === this.inputs.name);
  }

  private listByName(ownerId: string) {
    return this.client.GET("/services", { params: { query: { name: [this.inputs.name], ownerId: [ownerId], includePreviews: false, limit: 100 } } });
  }

  /** Every env var of the service (paginated by cursor, bounded). */
  async listEnv(serviceId: string): Promise<EnvVar[]> {
    const out: EnvVar[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 20; page++) {
      const { data } = await renderCall(this.ctx("reading the env vars of"), () =>
        this.client.GET("/services/{serviceId}/env-vars", { params: { path: { serviceId }, query: { limit: 100, ...(cursor ? { cursor } : {}) } } }));
      out.push(...(data ?? []).map((e) => ({ key: e.envVar.key, value: e.envVar.value })));
      if (!data || data.length < 100) break;
      cursor = data[data.length - 1].cursor;
    }
    return out;
  }

  async putEnv(serviceId: string, env: EnvVar[]): Promise<void> {
    await renderCall(this.ctx("setting the env vars of"), () =>
      this.client.PUT("/services/{serviceId}/env-vars", { params: { path: { serviceId } }, body: env.map(({ key, value }) => ({ key, value })) }));
  }

  /** POST a deploy of the digest; 202 (queued behind another) gives no body: take the newest. */
  async triggerDeploy(serviceId: string): Promise<string> {
    const imageUrl = (this.inputs as ServiceInputs).imagePath;
    const { data, status } = await renderCall(this.ctx("deploying the image to"), () =>
      this.client.POST("/services/{serviceId}/deploys", { params: { path: { serviceId } }, body: { imageUrl } }));
    if (status === 201 && data?.id) return data.id;
    const list = await renderCall(this.ctx("finding the queued deploy of"), () =>
      this.client.GET("/services/{serviceId}/deploys", { params: { path: { serviceId }, query: { limit: 1 } } }));
    const newest = (list.data ?? [])[0]?.deploy?.id;
    if (!newest) throw new Error(`Render queued a deploy of the service ${this.inputs.name} but lists none`);
    return newest;
  }

  async waitLive(serviceId: string, deployId: string): Promise<Schemas["deploy"]> {
    let last: Schemas["deploy"] | undefined;
    await pollUntil({ what: `the Render deploy ${deployId} of the service ${this.inputs.name} to go live`, timeoutMs: this.inputs.deployTimeoutSeconds * 1000, initialIntervalMs: 500, maxIntervalMs: 10_000 }, async () => {
      last = (await renderCall(this.ctx(`checking the deploy ${deployId} of`), () =>
        this.client.GET("/services/{serviceId}/deploys/{deployId}", { params: { path: { serviceId, deployId } } }))).data;
      const state = last.status ?? "unknown";
      return { done: state === "live", state, failed: FAILED_DEPLOY.includes(state) ? `see the deploy's logs in the Render dashboard (service ${serviceId})` : undefined };
    });
    return last!;
  }

  async ensureCustomDomain(serviceId: string, wanted: string | undefined, previous: string | undefined): Promise<void> {
    if (previous && previous !== wanted) {
      try {
        await renderCall(this.ctx(`removing the custom domain ${previous} from`), () =>
          this.client.DELETE("/services/{serviceId}/custom-domains/{customDomainIdOrName}", { params: { path: { serviceId, customDomainIdOrName: previous } } }));
      } catch (err) {
        if (!isGone(err)) throw err;
      }
    }
    if (!wanted) return;
    try {
      await renderCall(this.ctx(`looking for the custom domain ${wanted} of`), () =>
        this.client.GET("/services/{serviceId}/custom-domains/{customDomainIdOrName}", { params: { path: { serviceId, customDomainIdOrName: wanted } } }));
      return; // already there
    } catch (err) {
      if (!isGone(err)) throw err;
    }
    try {
      await renderCall(this.ctx(`adding the custom domain ${wanted} to`), () =>
        this.client.POST("/services/{serviceId}/custom-domains", { params: { path: { serviceId } }, body: { name: wanted } }));
    } catch (err) {
      if (!hasStatus(err, 409)) throw err;
      // 409: a retried POST whose first answer was lost added it already, or another service has it.
      try {
        await renderCall(this.ctx(`looking for the custom domain ${wanted} of`), () =>
          this.client.GET("/services/{serviceId}/custom-domains/{customDomainIdOrName}", { params: { path: { serviceId, customDomainIdOrName: wanted } } }));
        return; // ours
      } catch (again) {
        if (!isGone(again)) throw again;
      }
      throw new Error(`Render: the custom domain ${wanted} is already added to another Render service or workspace (409 Conflict), so the service ${this.inputs.name} cannot have it. Remove it there (Render dashboard: that service > Settings > Custom Domains), then run \`pulumi up\` again; or set mlflow-kit:target.domain to another name`);
    }
  }

  /**
   * The calls that take the service from `now` to `want`: PATCH image and details, scale, PUT the
   * env as one set, custom domain, then a deploy of the digest when the digest, the image or the
   * env changed (or always, for an adopted service whose running image is unknown).
   *
   * A new digest alone is a PATCH of the service's image too, not only a deploy with imageUrl:
   * every deploy the kit does not make (dashboard "Manual Deploy", an env change saved with
   * "save, rebuild and deploy") runs the configured image, which would otherwise stay the first
   * digest. Render's own Terraform provider does the same: it PATCHes `image` with the full
   * reference, digest included (render-oss/terraform-provider-render, internal/provider/common
   * applyImageRuntimeSourceFieldsForUpdate, webservice/resource/internal/update.go), then deploys.
   */
  async converge(serviceId: string, now: Observed, want: ServiceInputs, ownerId: string, hostname: string, forceDeploy: boolean): Promise<Schemas["deploy"] | undefined> {
    const imageChanged = (now.imagePath ?? "") !== want.imagePath || (now.registryCredentialId ?? undefined) !== (want.registryCredentialId ?? undefined);
    const details: Schemas["webServiceDetailsPATCH"] = {};
    if (now.healthCheckPath !== want.healthCheckPath) details.healthCheckPath = want.healthCheckPath;
    if (want.plan !== "free" && now.plan !== want.plan) details.plan = want.plan;
    if (imageChanged || Object.keys(details).length) {
      await renderCall(this.ctx("updating"), () => this.client.PATCH("/services/{serviceId}", {
        params: { path: { serviceId } },
        body: {
          ...(imageChanged ? { image: { ownerId, imagePath: want.imagePath, registryCredentialId: want.registryCredentialId } } : {}),
          ...(Object.keys(details).length ? { serviceDetails: details } : {}),
        },
      }));
    }
    if (now.numInstances !== want.numInstances) {
      await renderCall(this.ctx(`scaling to ${want.numInstances} instances`), () =>
        this.client.POST("/services/{serviceId}/scale", { params: { path: { serviceId } }, body: { numInstances: want.numInstances } }));
    }
    const env = appliedEnv(want, hostname);
    const envChanged = !sameEnv(now.env, env);
    if (envChanged) await this.putEnv(serviceId, env);
    if (now.customDomain !== want.customDomain || forceDeploy) await this.ensureCustomDomain(serviceId, want.customDomain, now.customDomain);
    if (!(forceDeploy || envChanged || imageChanged)) return undefined;
    return this.waitLive(serviceId, await this.triggerDeploy(serviceId));
  }
}

function webDetails(service: RenderService, name: string): WebDetails {
  const d = service.serviceDetails as Partial<WebDetails>;
  if (service.type !== "web_service" || d.runtime !== "image") {
    throw new Error(`Render: a service named ${name} (${service.id}) already exists in the workspace and is not a web service running an image (type ${service.type}, runtime ${d.runtime ?? "none"}). Rename it or delete it in the Render dashboard, or set mlflow-kit:target.serviceName to another name`);
  }
  return d as WebDetails;
}

/** The host of the service's onrender.com URL. */
function hostOf(service: RenderService): string {
  const url = (service.serviceDetails as Partial<WebDetails>).url;
  if (!url) throw new Error(`Render gave the service ${service.name} (${service.id}) no URL`);
  return new URL(url.includes("://") ? url : `https://${url}`).host;
}

/** The env as set on Render: hostnameEnvKey carries the host Render gave. */
function appliedEnv(i: Pick<ServiceInputs, "envVars" | "hostnameEnvKey">, hostname: string): EnvVar[] {
  return (i.envVars ?? []).map((e) => (e.key === i.hostnameEnvKey ? { key: e.key, value: hostname } : { key: e.key, value: e.value }));
}

function sameEnv(a: EnvVar[] | undefined, b: EnvVar[] | undefined): boolean {
  const norm = (x: EnvVar[] | undefined) => JSON.stringify([...(x ?? [])].map((e) => [e.key, e.value]).sort((p, q) => (p[0] < q[0] ? -1 : p[0] > q[0] ? 1 : 0)));
  return norm(a) === norm(b);
}

/** Without undefined properties: the engine's property structs cannot carry them. */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function outputs(i: ServiceInputs, ownerId: string, service: RenderService, hostname: string, deploy: Schemas["deploy"]): ServiceOutputs {
  return defined({
    ...i,
    ownerId,
    url: i.customDomain ? `https://${i.customDomain}` : `https://${hostname}`,
    hostname,
    dashboardUrl: service.dashboardUrl,
    envKeys: i.envVars.map((e) => e.key),
    deployId: deploy.id,
    deployStatus: deploy.status ?? "unknown",
  });
}

function freePlanMessage(i: ServiceInputs): string {
  return `Render: there is no service named ${i.name} to adopt, and Render's API does not create services on the free plan (its plan field takes paid plans only). `
    + `Create it once in the Render dashboard: New > Web Service > Existing Image (any public image, e.g. docker.io/library/nginx:stable), name ${i.name}, region ${i.region}, instance type Free; `
    + `then run \`pulumi up\` again: mlflow-kit adopts it and sets its image, registry credential, health check and env, and deploys the digest. Or set mlflow-kit:target.plan to a paid plan (starter) to have it created`;
}

export const serviceProvider = new ServiceProvider();

export interface ServiceArgs {
  apiUrl?: pulumi.Input<string>;
  name: pulumi.Input<string>;
  ownerId?: pulumi.Input<string>;
  region: pulumi.Input<Schemas["region"]>;
  plan: pulumi.Input<RenderPlan>;
  imagePath: pulumi.Input<string>;
  registryCredentialId?: pulumi.Input<string>;
  healthCheckPath: pulumi.Input<string>;
  numInstances: pulumi.Input<number>;
  /** Secret values stay secret: pass them as secret Outputs. */
  envVars: pulumi.Input<Array<{ key: pulumi.Input<string>; value: pulumi.Input<string> }>>;
  hostnameEnvKey?: pulumi.Input<string>;
  customDomain?: pulumi.Input<string>;
  deployTimeoutSeconds: pulumi.Input<number>;
}

/** `pulumi-nodejs:dynamic/render:Service`; its id is Render's (srv-...). */
export class Service extends pulumi.dynamic.Resource {
  declare readonly url: pulumi.Output<string>;
  declare readonly hostname: pulumi.Output<string>;
  declare readonly ownerId: pulumi.Output<string>;
  declare readonly dashboardUrl: pulumi.Output<string>;
  declare readonly envKeys: pulumi.Output<string[]>;
  declare readonly envVars: pulumi.Output<EnvVar[]>;
  declare readonly deployId: pulumi.Output<string>;

  constructor(name: string, args: ServiceArgs, opts?: pulumi.CustomResourceOptions) {
    const outs = { ownerId: undefined, url: undefined, hostname: undefined, dashboardUrl: undefined, envKeys: undefined, deployId: undefined, deployStatus: undefined };
    super(serviceProvider, name, { ...outs, ...args }, { ...opts, additionalSecretOutputs: ["envVars"] }, "render", "Service");
  }
}
