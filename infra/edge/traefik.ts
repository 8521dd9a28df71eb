/**
 * Traefik v3's static and dynamic (file provider) configuration, rendered from plain inputs.
 * Behind the load balancer Traefik speaks plain HTTP on one entry point, routes by Host only
 * (never by path prefix, which breaks MLflow's UI and API routes), and puts Authelia's
 * forward-auth in front of every MLflow path.
 */

/** The headers Authelia answers with; MLflow sees only Authelia's values, never a client's. */
export const AUTH_RESPONSE_HEADERS = ["Remote-User", "Remote-Groups", "Remote-Email", "Remote-Name"] as const;

export interface TraefikStaticInputs {
  /** The entry point the load balancer sends traffic to. */
  webPort: number;
  /** Health checks of the load balancer (GET /ping). */
  pingPort: number;
  /** Only these may set X-Forwarded-*: the load balancer's subnets. */
  trustedIPs: string[];
  /** The dynamic configuration file (file provider). */
  dynamicFile: string;
  /** Listen address; empty for all interfaces (a task), 127.0.0.1 in tests. */
  host?: string;
}

export function renderTraefikStatic(i: TraefikStaticInputs): Record<string, unknown> {
  const host = i.host ?? "";
  return {
    global: { checkNewVersion: false, sendAnonymousUsage: false },
    entryPoints: {
      web: {
        address: `${host}:${i.webPort}`,
        forwardedHeaders: { trustedIPs: i.trustedIPs },
        // MLflow artifacts can be large: no read timeout on the body.
        transport: { respondingTimeouts: { readTimeout: "0s", idleTimeout: "180s" } },
      },
      ping: { address: `${host}:${i.pingPort}` },
    },
    ping: { entryPoint: "ping" },
    providers: { file: { filename: i.dynamicFile, watch: false } },
    log: { level: "INFO", format: "json" },
    accessLog: { format: "json", fields: { headers: { defaultMode: "drop" } } },
  };
}

export interface TraefikDynamicInputs {
  domain: string;
  authDomain: string;
  /** MLflow's tasks (http://mlflow.<namespace>:5000). */
  mlflowUrl: string;
  /** Authelia's task (http://authelia.<namespace>:9091). */
  autheliaUrl: string;
}

export function renderTraefikDynamic(i: TraefikDynamicInputs): Record<string, unknown> {
  const removeAuthHeaders = Object.fromEntries(AUTH_RESPONSE_HEADERS.map((h) => [h, ""]));
  return {
    http: {
      routers: {
        mlflow: {
          rule: `Host(\`${i.domain}\`)`,
          entryPoints: ["web"],
          service: "mlflow",
          // Order matters: drop forged identity headers, then ask Authelia.
          middlewares: ["strip-identity", "authelia"],
        },
        authelia: {
          rule: `Host(\`${i.authDomain}\`)`,
          entryPoints: ["web"],
          service: "authelia",
          middlewares: ["strip-identity"],
        },
      },
      middlewares: {
        // An empty value removes the header from the request (Traefik headers middleware).
        "strip-identity": { headers: { customRequestHeaders: removeAuthHeaders } },
        authelia: {
          forwardAuth: {
            address: `${i.autheliaUrl}/api/authz/forward-auth`,
            trustForwardHeader: true,
            authResponseHeaders: [...AUTH_RESPONSE_HEADERS],
          },
        },
      },
      services: {
        mlflow: { loadBalancer: { servers: [{ url: i.mlflowUrl }], passHostHeader: true } },
        authelia: { loadBalancer: { servers: [{ url: i.autheliaUrl }], passHostHeader: true } },
      },
    },
  };
}

export const TRAEFIK_CONTAINER_ENV = { static: "MLFLOW_KIT_TRAEFIK_STATIC", dynamic: "MLFLOW_KIT_TRAEFIK_DYNAMIC" } as const;

/**
 * The Traefik container's command (/bin/sh -c): writes both files from the environment (not
 * TRAEFIK_*, which Traefik would read as static settings) and execs Traefik.
 */
export function traefikStartScript(dir = "/etc/traefik"): string {
  return [
    "set -eu",
    `mkdir -p '${dir}'`,
    `printf '%s' "$${TRAEFIK_CONTAINER_ENV.static}" > '${dir}/traefik.yml'`,
    `printf '%s' "$${TRAEFIK_CONTAINER_ENV.dynamic}" > '${dir}/dynamic.yml'`,
    `exec traefik --configFile='${dir}/traefik.yml'`,
  ].join("\n");
}
