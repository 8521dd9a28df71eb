/**
 * A stateful fake of Render's REST API on 127.0.0.1 (core's FakeApi: every request and answer
 * validated against Render's own OpenAPI document, the copy in infra/providers/render/).
 *
 * One change to the document, for validation only: the `serviceDetails` unions of service,
 * servicePOST and servicePATCH are `oneOf` without a discriminator, and a web service's details
 * also satisfy the private-service and background-worker branches (none forbids extra
 * properties), so under `oneOf` no web service could ever be valid. They are checked as `anyOf`.
 *
 * Behaviour the document does not state and the fake assumes (see the report):
 * - a new service gets https://<name>.onrender.com, or <name>-<suffix> when that subdomain is
 *   taken (the test says which are taken);
 * - a deploy is build_in_progress on its first `livePolls` reads, then live (or the status a test
 *   asks for); a deploy triggered while another is in progress is queued (202, no body);
 * - names of services and registry credentials are NOT unique: a second create with the same
 *   name makes a second object (and, for a service, a second bill), so a POST retried after its
 *   answer was lost duplicates it. Issue 15 item 10 reports this of the real API; Render's
 *   document lists 409 for these POSTs without saying when, and its list endpoints filter by name
 *   and return lists. Not confirmed in Render's own material.
 * - a deploy runs the service's configured image (`imagePath`), unless the POST names another
 *   digest of the same repository in `imageUrl` ("The host, repository, and image name all must
 *   match the currently configured image for the service": Render's document, create-deploy).
 *   A deploy the kit does not make (dashboard "Manual Deploy", "save, rebuild and deploy" of an
 *   env change) names none: `manualDeploy` plays it.
 * - a custom domain is 409 when any service already has it (the document lists 409 for
 *   create-custom-domain: "The current state of the resource conflicts with this request").
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { FakeApi, type FakeHandler } from "../support/fake-api";

export const RENDER_DOCUMENT = path.resolve(__dirname, "..", "..", "..", "infra", "providers", "render", "openapi.json");

interface Owner { id: string; name: string; email: string; type: "user" | "team" }
interface Credential { id: string; name: string; registry: string; username: string; authToken: string; ownerId: string; updatedAt: string }
interface Deploy { id: string; status: string; reads: number; imageUrl?: string; finalStatus: string; /** The image it runs. */ runs: string }
export interface FakeService {
  id: string;
  name: string;
  ownerId: string;
  imagePath: string;
  registryCredentialId?: string;
  plan: string;
  region: string;
  healthCheckPath: string;
  numInstances: number;
  url: string;
  env: Array<{ key: string; value: string }>;
  deploys: Deploy[];
  domains: string[];
  createdAt: string;
}

export class RenderFake {
  owners: Owner[] = [{ id: "tea-fake0001", name: "kit-team", email: "ops@example.com", type: "team" }];
  readonly credentials = new Map<string, Credential>();
  readonly services = new Map<string, FakeService>();
  /** onrender.com subdomains already taken by someone else. */
  readonly takenSubdomains = new Set<string>();
  /** Reads of a deploy before it leaves build_in_progress. */
  livePolls = 1;
  /** The status the next deploys end in (live unless a test says otherwise). */
  nextDeployStatus = "live";
  private seq = 0;

  private constructor(readonly api: FakeApi) {}

  static async start(token: string): Promise<RenderFake> {
    const doc = JSON.parse(fs.readFileSync(RENDER_DOCUMENT, "utf8"));
    for (const name of ["service", "servicePOST", "servicePATCH"]) {
      const p = doc.components.schemas[name].properties.serviceDetails;
      p.anyOf = p.oneOf;
      delete p.oneOf;
    }
    // Filled once the fake exists: FakeApi keeps this object and looks handlers up per call.
    const handlers: Record<string, FakeHandler> = {};
    const api = await FakeApi.start({
      name: "Render",
      definition: doc,
      apiRoot: "/v1",
      token,
      handlers,
      errorBody: (status, message) => ({ id: String(status), message }),
    });
    const fake = new RenderFake(api);
    Object.assign(handlers, fake.handlers());
    return fake;
  }

  get url(): string {
    return `${this.api.url}/v1`;
  }

  sequence(): string[] {
    return this.api.sequence();
  }

  get problems(): string[] {
    return this.api.problems;
  }

  /** A service made outside the provider (the dashboard, a lost answer). */
  seedService(s: Partial<FakeService> & { name: string; plan: string }): FakeService {
    const id = `srv-${this.nextId()}`;
    const svc: FakeService = {
      id, ownerId: this.owners[0].id, imagePath: "docker.io/library/nginx:stable", region: "oregon", healthCheckPath: "", numInstances: 1,
      url: `https://${s.name}.onrender.com`, env: [], deploys: [], domains: [], createdAt: new Date().toISOString(), ...s,
    };
    this.services.set(id, svc);
    return svc;
  }

  private nextId(): string {
    return `${(++this.seq).toString(36).padStart(4, "0")}fake`;
  }

  private serviceBody(s: FakeService) {
    return {
      id: s.id, name: s.name, ownerId: s.ownerId, type: "web_service" as const, createdAt: s.createdAt, updatedAt: s.createdAt,
      dashboardUrl: `https://dashboard.render.com/web/${s.id}`, suspended: "not_suspended", suspenders: [], autoDeploy: "no", notifyOnFail: "default",
      slug: new URL(s.url).host.split(".")[0], rootDir: "", imagePath: s.imagePath,
      ...(s.registryCredentialId ? { registryCredential: { id: s.registryCredentialId, name: this.credentials.get(s.registryCredentialId)?.name ?? "?" } } : {}),
      serviceDetails: {
        env: "image", runtime: "image", envSpecificDetails: { dockerCommand: "", dockerContext: "", dockerfilePath: "" },
        plan: s.plan, region: s.region, numInstances: s.numInstances, buildPlan: "starter", healthCheckPath: s.healthCheckPath,
        openPorts: [{ port: 10000, protocol: "TCP" }], url: s.url,
      },
    };
  }

  private deployBody(d: Deploy) {
    const now = new Date().toISOString();
    return { id: d.id, status: d.status as any, trigger: "api" as const, createdAt: now, updatedAt: now, ...(d.imageUrl ? { image: { ref: d.imageUrl } } : {}) };
  }

  /** A deploy the kit did not make (dashboard Manual Deploy): the configured image. */
  manualDeploy(serviceId: string): string {
    return this.startDeploy(this.services.get(serviceId)!).deploy.id;
  }

  /** The image the live deploy of a service runs (after letting its deploys finish). */
  liveImage(serviceId: string): string | undefined {
    const s = this.services.get(serviceId)!;
    for (let i = 0; i < 20 && s.deploys.some((d) => ["queued", "build_in_progress"].includes(d.status)); i++) this.tick(s);
    return [...s.deploys].reverse().find((d) => d.status === "live")?.runs;
  }

  private startDeploy(s: FakeService, imageUrl?: string): { deploy: Deploy; queued: boolean } {
    const queued = s.deploys.some((d) => !["live", "deactivated", "build_failed", "update_failed", "canceled", "pre_deploy_failed"].includes(d.status));
    const deploy: Deploy = { id: `dep-${this.nextId()}`, status: queued ? "queued" : "build_in_progress", reads: 0, imageUrl, finalStatus: this.nextDeployStatus, runs: imageUrl ?? s.imagePath };
    s.deploys.push(deploy);
    return { deploy, queued };
  }

  /**
   * Time passes for a service's deploys on each read of one: a running deploy finishes after
   * `livePolls` reads, then the next queued one starts; a live deploy deactivates the one before.
   */
  private tick(s: FakeService): void {
    for (const d of s.deploys) {
      if (d.status === "queued") {
        d.status = "build_in_progress";
        d.reads = 0;
        break; // one at a time
      }
      if (d.status !== "build_in_progress") continue;
      if (++d.reads <= this.livePolls) break;
      d.status = d.finalStatus;
      if (d.status === "live") for (const other of s.deploys) if (other !== d && other.status === "live") other.status = "deactivated";
    }
  }

  private service(c: any): FakeService | undefined {
    return this.services.get(c.request.params.serviceId);
  }

  private notFound(what: string) {
    return { status: 404, body: { id: "not_found", message: `${what} not found` } };
  }

  private handlers(): Record<string, FakeHandler> {
    const list = (v: unknown) => (v === undefined ? undefined : String(v).split(","));
    return {
      "list-owners": () => ({ status: 200, body: this.owners.map((o) => ({ owner: o, cursor: o.id })) }),

      "list-registry-credentials": (c) => {
        const names = list(c.request.query.name);
        const owners = list(c.request.query.ownerId);
        const found = [...this.credentials.values()].filter((x) => (!names || names.includes(x.name)) && (!owners || owners.includes(x.ownerId)));
        return { status: 200, body: found.map(({ id, name, registry, username, updatedAt }) => ({ id, name, registry, username, updatedAt })) };
      },
      "create-registry-credential": (_c, b) => {
        const cred: Credential = { id: `rgc-${this.nextId()}`, name: b.name, registry: b.registry, username: b.username, authToken: b.authToken, ownerId: b.ownerId, updatedAt: new Date().toISOString() };
        this.credentials.set(cred.id, cred);
        return { status: 200, body: { id: cred.id, name: cred.name, registry: cred.registry as any, username: cred.username, updatedAt: cred.updatedAt } };
      },
      "retrieve-registry-credential": (c) => {
        const cred = this.credentials.get(c.request.params.registryCredentialId as string);
        if (!cred) return this.notFound("registry credential");
        return { status: 200, body: { id: cred.id, name: cred.name, registry: cred.registry as any, username: cred.username, updatedAt: cred.updatedAt } };
      },
      "update-registry-credential": (c, b) => {
        const cred = this.credentials.get(c.request.params.registryCredentialId as string);
        if (!cred) return this.notFound("registry credential");
        Object.assign(cred, { name: b.name, registry: b.registry, username: b.username, authToken: b.authToken, updatedAt: new Date().toISOString() });
        return { status: 200, body: { id: cred.id, name: cred.name, registry: cred.registry as any, username: cred.username, updatedAt: cred.updatedAt } };
      },
      "delete-registry-credential": (c) => (this.credentials.delete(c.request.params.registryCredentialId as string) ? { status: 204 } : this.notFound("registry credential")),

      "list-services": (c) => {
        const names = list(c.request.query.name);
        const owners = list(c.request.query.ownerId);
        const found = [...this.services.values()].filter((s) => (!names || names.includes(s.name)) && (!owners || owners.includes(s.ownerId)));
        return { status: 200, body: found.map((s) => ({ service: this.serviceBody(s), cursor: s.id })) };
      },
      "create-service": (_c, b) => {
        let sub = b.name as string;
        if (this.takenSubdomains.has(sub)) sub = `${sub}-${this.nextId().slice(0, 4)}`;
        this.takenSubdomains.add(sub);
        const d = b.serviceDetails ?? {};
        const svc = this.seedService({
          name: b.name, ownerId: b.ownerId, imagePath: b.image?.imagePath, registryCredentialId: b.image?.registryCredentialId, plan: d.plan ?? "starter",
          region: d.region ?? "oregon", healthCheckPath: d.healthCheckPath ?? "", numInstances: d.numInstances ?? 1, url: `https://${sub}.onrender.com`,
          env: (b.envVars ?? []).map((e: any) => ({ key: e.key, value: e.value })),
        });
        const { deploy } = this.startDeploy(svc);
        return { status: 201, body: { service: this.serviceBody(svc), deployId: deploy.id } };
      },
      "retrieve-service": (c) => {
        const s = this.service(c);
        return s ? { status: 200, body: this.serviceBody(s) } : this.notFound("service");
      },
      "update-service": (c, b) => {
        const s = this.service(c);
        if (!s) return this.notFound("service");
        if (b.image) Object.assign(s, { imagePath: b.image.imagePath, registryCredentialId: b.image.registryCredentialId });
        if (b.serviceDetails?.healthCheckPath !== undefined) s.healthCheckPath = b.serviceDetails.healthCheckPath;
        if (b.serviceDetails?.plan !== undefined) s.plan = b.serviceDetails.plan;
        return { status: 200, body: this.serviceBody(s) };
      },
      "delete-service": (c) => {
        const s = this.service(c);
        if (!s) return this.notFound("service");
        this.services.delete(s.id);
        this.takenSubdomains.delete(new URL(s.url).host.split(".")[0]); // free again
        return { status: 204 };
      },
      "scale-service": (c, b) => {
        const s = this.service(c);
        if (!s) return this.notFound("service");
        s.numInstances = b.numInstances;
        return { status: 202 };
      },

      "get-env-vars-for-service": (c) => {
        const s = this.service(c);
        if (!s) return this.notFound("service");
        const limit = Number(c.request.query.limit ?? 20);
        const start = c.request.query.cursor ? s.env.findIndex((e) => e.key === c.request.query.cursor) + 1 : 0;
        return { status: 200, body: s.env.slice(start, start + limit).map((e) => ({ envVar: e, cursor: e.key })) };
      },
      "update-env-vars-for-service": (c, b) => {
        const s = this.service(c);
        if (!s) return this.notFound("service");
        s.env = (b as any[]).map((e) => ({ key: e.key, value: e.value }));
        return { status: 200, body: s.env.map((e) => ({ envVar: e, cursor: e.key })) };
      },

      "create-deploy": (c, b) => {
        const s = this.service(c);
        if (!s) return this.notFound("service");
        if (b?.imageUrl && b.imageUrl.replace(/@sha256:.*$/, "") !== s.imagePath.replace(/@sha256:.*$/, "").replace(/:[^/:]+$/, "")) {
          return { status: 400, body: { id: "bad_request", message: "imageUrl must match the service's configured image" } };
        }
        const { deploy, queued } = this.startDeploy(s, b?.imageUrl);
        return queued ? { status: 202 } : { status: 201, body: this.deployBody(deploy) };
      },
      "list-deploys": (c) => {
        const s = this.service(c);
        if (!s) return this.notFound("service");
        return { status: 200, body: [...s.deploys].reverse().slice(0, Number(c.request.query.limit ?? 20)).map((d) => ({ deploy: this.deployBody(d), cursor: d.id })) };
      },
      "retrieve-deploy": (c) => {
        const s = this.service(c);
        const d = s?.deploys.find((x) => x.id === c.request.params.deployId);
        if (!s || !d) return this.notFound("deploy");
        this.tick(s);
        return { status: 200, body: this.deployBody(d) };
      },

      "retrieve-custom-domain": (c) => {
        const s = this.service(c);
        const name = c.request.params.customDomainIdOrName as string;
        if (!s || !s.domains.includes(name)) return this.notFound("custom domain");
        return { status: 200, body: this.domainBody(s, name) };
      },
      "create-custom-domain": (c, b) => {
        const s = this.service(c);
        if (!s) return this.notFound("service");
        if ([...this.services.values()].some((x) => x.domains.includes(b.name))) return { status: 409, body: { id: "conflict", message: "custom domain already exists" } };
        s.domains.push(b.name);
        return { status: 201, body: [this.domainBody(s, b.name)] };
      },
      "delete-custom-domain": (c) => {
        const s = this.service(c);
        const name = c.request.params.customDomainIdOrName as string;
        if (!s || !s.domains.includes(name)) return this.notFound("custom domain");
        s.domains = s.domains.filter((d) => d !== name);
        return { status: 204 };
      },
    };
  }

  private domainBody(s: FakeService, name: string) {
    return { id: `cdm-${name}`, name, domainType: "subdomain" as const, publicSuffix: name.split(".").slice(-2).join("."), redirectForName: "", verificationStatus: "unverified" as const, createdAt: s.createdAt, server: { id: s.id, name: s.name } };
  }

  async stop(): Promise<void> {
    await this.api.stop();
  }
}
