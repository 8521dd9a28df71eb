/**
 * Traefik v3's static and dynamic (file provider) configuration, rendered from plain inputs.
 * Behind the load balancer Traefik speaks plain HTTP on one entry point, routes by Host only
 * (never by path prefix, which breaks MLflow's UI and API routes), and puts Authelia's
 * forward-auth in front of every MLflow path.
 *
 * Forwarded headers (issue 14): the load balancer sets X-Forwarded-Proto and -Port and appends
 * the client's address to X-Forwarded-For; every other X-Forwarded-* (Host, Uri, Method, ...)
 * a client sends, it passes through untouched
 * (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/x-forwarded-headers.html).
 * Traefik's entry point keeps all of them from a trusted peer (traefik/traefik
 * pkg/middlewares/forwardedheaders/forwarded_header.go: the X-Forwarded-* set is deleted only
 * for an untrusted peer), and forwardAuth with trustForwardHeader passes them to Authelia
 * (pkg/middlewares/auth/forward.go writeHeader). trustForwardHeader: false is no way out here:
 * writeHeader then sets X-Forwarded-Proto from req.TLS, which is nil behind a TLS-terminating
 * load balancer, so Authelia would see "http" and refuse every request (insecure scheme), and
 * X-Forwarded-For would be the load balancer's address. So: every router first deletes each
 * forwarded header the load balancer does not set (and every underscore spelling, which WSGI
 * servers read as the same header), then keeps only the right-most X-Forwarded-For hop (the
 * clientip plugin); forwardAuth, which trusts what is left, then builds X-Forwarded-Host, -Uri
 * and -Method from the request itself (writeHeader: an absent header falls back to req.Host,
 * req.URL.RequestURI() and req.Method).
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** The header that tells MLflow a request passed Authelia (its value: the edge secret). */
export const EDGE_SECRET_HEADER = "X-Mlflow-Kit-Edge";

/** The headers Authelia answers with; MLflow sees only Authelia's values, never a client's. */
export const AUTH_RESPONSE_HEADERS = ["Remote-User", "Remote-Groups", "Remote-Email", "Remote-Name"] as const;

/** Set (overwritten) or appended by the load balancer itself: the only X-Forwarded-* kept. */
export const LOAD_BALANCER_HEADERS = ["X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Port"] as const;

/**
 * Headers a client may send that some hop reads as the request's origin, scheme, host, path
 * or method. None is set by the load balancer, so any value is a client's.
 */
export const CLIENT_FORWARDING_HEADERS = [
  "X-Forwarded-Host", "X-Forwarded-Uri", "X-Forwarded-Method", "X-Forwarded-Server", "X-Forwarded-Prefix",
  "X-Forwarded-Ssl", "X-Forwarded-Scheme", "X-Forwarded-Tls-Client-Cert", "X-Forwarded-Tls-Client-Cert-Info",
  "X-Real-Ip", "Forwarded", "X-Original-Url", "X-Original-Uri", "X-Original-Method", "X-Original-Host",
  "X-Rewrite-Url", "X-Host", "X-Authelia-Url",
] as const;

/** Every spelling of a header with "-" or "_" between its words (Go canonicalizes case only). */
export function headerSpellings(name: string): string[] {
  const words = name.split("-");
  let out = [words[0]];
  for (const w of words.slice(1)) out = out.flatMap((prefix) => [`${prefix}-${w}`, `${prefix}_${w}`]);
  return out;
}

/** What the strip middleware deletes from every request before anything reads it. */
export function strippedRequestHeaders(extra: readonly string[] = []): string[] {
  const lbUnderscored = LOAD_BALANCER_HEADERS.flatMap((h) => headerSpellings(h).filter((s) => s !== h));
  const identity = [...AUTH_RESPONSE_HEADERS, EDGE_SECRET_HEADER, ...extra].flatMap(headerSpellings);
  return [...new Set([...CLIENT_FORWARDING_HEADERS.flatMap(headerSpellings), ...lbUnderscored, ...identity])];
}

/** The clientip plugin (Go, interpreted by Traefik): its module and files. */
export const CLIENT_IP_PLUGIN = {
  moduleName: "github.com/mlflow-kit/clientip",
  name: "clientip",
  files: [".traefik.yml", "go.mod", "clientip.go"] as const,
} as const;

/** The plugin's files, read from infra/edge/clientip-plugin. */
export function clientIpPluginFiles(): Record<string, string> {
  const dir = path.join(__dirname, "clientip-plugin");
  return Object.fromEntries(CLIENT_IP_PLUGIN.files.map((f) => [f, fs.readFileSync(path.join(dir, f), "utf8")]));
}

/** Where Traefik looks for a local plugin: ./plugins-local/src/<module> under its working directory. */
export function clientIpPluginDir(workDir: string): string {
  return path.posix.join(workDir, "plugins-local", "src", CLIENT_IP_PLUGIN.moduleName);
}

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

/**
 * Traefik's keep-alive (idle) timeout: longer than the load balancer's idle timeout, as AWS
 * requires of targets ("configure the idle timeout of your application to be larger than the
 * idle timeout configured for the load balancer",
 * https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#connection-idle-timeout).
 */
export const TRAEFIK_IDLE_TIMEOUT_SECONDS = 180;
export const LOAD_BALANCER_IDLE_TIMEOUT_SECONDS = 120;

export function renderTraefikStatic(i: TraefikStaticInputs): Record<string, unknown> {
  const host = i.host ?? "";
  return {
    global: { checkNewVersion: false, sendAnonymousUsage: false },
    entryPoints: {
      web: {
        address: `${host}:${i.webPort}`,
        // From any other peer Traefik deletes every X-Forwarded-* and sets its own
        // (X-Forwarded-Proto: http, which no router admits).
        forwardedHeaders: { trustedIPs: i.trustedIPs },
        // MLflow artifacts can be large: no read timeout on the body.
        transport: { respondingTimeouts: { readTimeout: "0s", idleTimeout: `${TRAEFIK_IDLE_TIMEOUT_SECONDS}s` } },
      },
      ping: { address: `${host}:${i.pingPort}` },
    },
    ping: { entryPoint: "ping" },
    providers: { file: { filename: i.dynamicFile, watch: false } },
    // Local plugin: ./plugins-local/src/<moduleName> under Traefik's working directory.
    experimental: { localPlugins: { [CLIENT_IP_PLUGIN.name]: { moduleName: CLIENT_IP_PLUGIN.moduleName } } },
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
  /** Sent to MLflow with Authelia's Remote-User (images/mlflow/edge_auth.py); a secret. */
  edgeSecret: string;
  /** Basic-auth requests to MLflow per client address: average per second and burst. */
  apiRateLimit?: { average: number; burst: number };
}

/**
 * The server's Prometheus metrics (MLFLOW_METRICS=on: MLflow's --expose-prometheus, which
 * prometheus_flask_exporter serves at /metrics, the only path it adds) are for the monitoring
 * side in the task, never the public: no MLflow router matches a path that starts with /metrics
 * in any case, so Traefik answers 404 and MLflow never sees it. Traefik matches the path after
 * its own normalization (unreserved %XX decoded, dot segments and doubled slashes removed,
 * https://doc.traefik.io/traefik/security/request-path): the server itself also answers
 * /%6detrics and //metrics (test/edge/test_attacks.py), and those match here too.
 */
export const METRICS_PATH_REGEXP = "(?i)^/metrics";

/** API clients log in bursts (batched metrics, artifacts); a guesser gets no more than this. */
export const API_RATE_LIMIT = { average: 20, burst: 200 } as const;

/** The headers forwardAuth hands Authelia besides the X-Forwarded-* it builds itself (its session cookie, and what decides 302 or 401). */
export const AUTH_REQUEST_HEADERS = ["Accept", "Cookie", "User-Agent", "X-Requested-With"] as const;

export function renderTraefikDynamic(i: TraefikDynamicInputs): Record<string, unknown> {
  const strip = Object.fromEntries(strippedRequestHeaders().map((h) => [h, ""]));
  // Only requests the load balancer received over HTTPS; anything else matches no router (404).
  const https = "Header(`X-Forwarded-Proto`, `https`)";
  const notMetrics = `!PathRegexp(\`${METRICS_PATH_REGEXP}\`)`;
  const first = ["strip-forwarded", "client-ip"];
  if (i.edgeSecret.length < 32) throw new Error("renderTraefikDynamic: the edge secret must have 32+ characters");
  const rate = i.apiRateLimit ?? API_RATE_LIMIT;
  return {
    http: {
      routers: {
        // API clients (Basic): MLflow's own auth app checks the password; it never locks a
        // user out, so no stranger can. Rate-limited per client address.
        "mlflow-api": {
          rule: `Host(\`${i.domain}\`) && ${https} && ${notMetrics} && HeaderRegexp(\`Authorization\`, \`(?i)^\\s*basic\\s\`)`,
          priority: 300,
          entryPoints: ["web"],
          service: "mlflow",
          middlewares: [...first, "api-rate-limit"],
        },
        // People (browsers): Authelia's session, then MLflow believes Remote-User with the secret.
        mlflow: {
          rule: `Host(\`${i.domain}\`) && ${https} && ${notMetrics}`,
          priority: 200,
          entryPoints: ["web"],
          service: "mlflow",
          // Order matters: drop forged headers, ask Authelia, then mark the request as the edge's.
          middlewares: [...first, "authelia", "edge-identity"],
        },
        // The portal: its own host only; no rule sends the MLflow host here.
        authelia: {
          rule: `Host(\`${i.authDomain}\`) && ${https}`,
          priority: 100,
          entryPoints: ["web"],
          service: "authelia",
          // The portal builds its own URLs from X-Forwarded-Host: the router's host, never a client's.
          middlewares: [...first, "portal-host"],
        },
      },
      middlewares: {
        // An empty value removes the header from the request (Traefik headers middleware).
        "strip-forwarded": { headers: { customRequestHeaders: strip } },
        "client-ip": { plugin: { [CLIENT_IP_PLUGIN.name]: { depth: 1 } } },
        // Per client: the one X-Forwarded-For hop client-ip kept (depth 1, the right-most).
        "api-rate-limit": { rateLimit: { average: rate.average, period: "1s", burst: rate.burst, sourceCriterion: { ipStrategy: { depth: 1 } } } },
        "edge-identity": { headers: { customRequestHeaders: { [EDGE_SECRET_HEADER]: i.edgeSecret } } },
        "portal-host": { headers: { customRequestHeaders: { "X-Forwarded-Host": i.authDomain } } },
        authelia: {
          forwardAuth: {
            address: `${i.autheliaUrl}/api/authz/forward-auth`,
            // Trusted: only X-Forwarded-Proto/-Port (the load balancer's) and the one
            // X-Forwarded-For hop client-ip kept are left to trust; see the header comment.
            trustForwardHeader: true,
            // Nothing else of the client's request reaches Authelia (no X-Original-*, no Forwarded).
            authRequestHeaders: [...AUTH_REQUEST_HEADERS],
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

export const TRAEFIK_CONTAINER_ENV = {
  static: "MLFLOW_KIT_TRAEFIK_STATIC",
  dynamic: "MLFLOW_KIT_TRAEFIK_DYNAMIC",
  pluginManifest: "MLFLOW_KIT_TRAEFIK_PLUGIN_MANIFEST",
  pluginModule: "MLFLOW_KIT_TRAEFIK_PLUGIN_GOMOD",
  pluginSource: "MLFLOW_KIT_TRAEFIK_PLUGIN_SOURCE",
} as const;

/** The plugin's files as the container's environment (plain: it is public source). */
export function traefikPluginEnvironment(): Record<string, string> {
  const f = clientIpPluginFiles();
  return {
    [TRAEFIK_CONTAINER_ENV.pluginManifest]: f[".traefik.yml"],
    [TRAEFIK_CONTAINER_ENV.pluginModule]: f["go.mod"],
    [TRAEFIK_CONTAINER_ENV.pluginSource]: f["clientip.go"],
  };
}

/**
 * The Traefik container's command (/bin/sh -c): writes both files and the plugin from the
 * environment (not TRAEFIK_*, which Traefik would read as static settings) and execs Traefik
 * in the directory that holds plugins-local.
 */
export function traefikStartScript(dir = "/etc/traefik"): string {
  const plugin = clientIpPluginDir(dir);
  const e = TRAEFIK_CONTAINER_ENV;
  return [
    "set -eu",
    `mkdir -p '${dir}' '${plugin}'`,
    `printf '%s' "$${e.static}" > '${dir}/traefik.yml'`,
    `printf '%s' "$${e.dynamic}" > '${dir}/dynamic.yml'`,
    `printf '%s\\n' "$${e.pluginManifest}" > '${plugin}/.traefik.yml'`,
    `printf '%s\\n' "$${e.pluginModule}" > '${plugin}/go.mod'`,
    `printf '%s\\n' "$${e.pluginSource}" > '${plugin}/clientip.go'`,
    `cd '${dir}'`,
    `exec traefik --configFile='${dir}/traefik.yml'`,
  ].join("\n");
}
