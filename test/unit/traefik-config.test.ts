/**
 * The Traefik configuration the prod stack deploys (offline plan): forwarded headers a client
 * can forge never reach forward-auth or MLflow, only HTTPS requests are routed, and the load
 * balancer's idle timeout is shorter than Traefik's. The edge test (test/edge) runs the same
 * configuration in the real Traefik; this pins its shape on every plan.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  AUTH_RESPONSE_HEADERS, CLIENT_FORWARDING_HEADERS, headerSpellings, LOAD_BALANCER_HEADERS, strippedRequestHeaders,
  TRAEFIK_CONTAINER_ENV, TRAEFIK_IDLE_TIMEOUT_SECONDS,
} from "../../infra/edge/traefik";
import { plan, type Plan } from "../../stacks/plan";

let prod: Plan;
let dynamic: any;
let statics: any;
beforeAll(async () => {
  prod = await plan("prod", { strict: true });
  const td = prod.resources.find((r) => r.type === "aws:ecs/taskDefinition:TaskDefinition" && r.name.endsWith("traefik-task"))!;
  const env = JSON.parse(String(td.inputs.containerDefinitions))[0].environment as { name: string; value: string }[];
  dynamic = parse(env.find((e) => e.name === TRAEFIK_CONTAINER_ENV.dynamic)!.value);
  statics = parse(env.find((e) => e.name === TRAEFIK_CONTAINER_ENV.static)!.value);
});

describe("traefik: forwarded headers", () => {
  it("headerSpellings gives every -/_ spelling", () => {
    expect(headerSpellings("Remote-User").sort()).toEqual(["Remote-User", "Remote_User"]);
    expect(headerSpellings("X-Forwarded-Host")).toHaveLength(4);
  });

  it("every router deletes forgeable forwarded and identity headers first, then keeps one X-Forwarded-For hop", () => {
    const strip = Object.keys(dynamic.http.middlewares["strip-forwarded"].headers.customRequestHeaders);
    expect(Object.values(dynamic.http.middlewares["strip-forwarded"].headers.customRequestHeaders).every((v) => v === "")).toBe(true);
    for (const h of [...CLIENT_FORWARDING_HEADERS, ...AUTH_RESPONSE_HEADERS, "X_Forwarded_Host", "Remote_User", "X_Forwarded_Proto"]) expect(strip).toContain(h);
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
    for (const r of routers.filter((x) => x.service === "mlflow")) expect(r.middlewares).toContain("authelia");
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
