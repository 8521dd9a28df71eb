import * as fs from "node:fs";
import * as path from "node:path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { dockerLabels } from "../docker/private-network";
import { DIGEST_PINNED } from "../docker/pinned-images";

export { GRAFANA_IMAGE, PROMETHEUS_IMAGE } from "../monitoring/images";
/** The kit's dashboard, provisioned as is. */
export const DASHBOARD_FILE = path.join(__dirname, "..", "monitoring", "mlflow-dashboard.json");
const PUBLISH_ADDRESS = "127.0.0.1";

export interface LocalMonitoringArgs {
  /** `<project>-<stack>`: prefixes the container, volume and network names. */
  namePrefix: string;
  /** A Docker network the server is on, by which Prometheus reaches it (never a published port). */
  serverNetworkName: pulumi.Input<string>;
  /** The server's container name (its DNS name on that network) and port. */
  serverHost: pulumi.Input<string>;
  serverPort: number;
  /** MLflow's basic auth: /metrics needs the admin's credentials. Absent in proxy mode. */
  scrapeAuth?: { username: string; password: pulumi.Input<string> };
  prometheusImage: string;
  grafanaImage: string;
  /** Published on 127.0.0.1 only. */
  prometheusPort: number;
  grafanaPort: number;
  tags: Record<string, string>;
}

/** Prometheus' configuration: one job scraping the server every 15 s over the Docker network. */
export function prometheusConfig(a: { serverHost: string; serverPort: number; auth: boolean }): string {
  return JSON.stringify({ // JSON is YAML
    global: { scrape_interval: "15s", evaluation_interval: "15s" },
    scrape_configs: [{
      job_name: "mlflow",
      metrics_path: "/metrics",
      static_configs: [{ targets: [`${a.serverHost}:${a.serverPort}`] }],
      ...(a.auth ? { basic_auth: { username_file: "/etc/prometheus/scrape-username", password_file: "/etc/prometheus/scrape-password" } } : {}),
    }],
  }, null, 2);
}

/** Grafana's provisioning: the Prometheus datasource (the default) and the kit's dashboard. */
export function grafanaProvisioning(): Record<string, string> {
  return {
    "/etc/grafana/provisioning/datasources/prometheus.yaml": JSON.stringify({
      apiVersion: 1,
      datasources: [{ name: "Prometheus", uid: "prometheus", type: "prometheus", access: "proxy", url: "http://prometheus:9090", isDefault: true, editable: false }],
    }, null, 2),
    "/etc/grafana/provisioning/dashboards/mlflow-kit.yaml": JSON.stringify({
      apiVersion: 1,
      providers: [{ name: "mlflow-kit", type: "file", disableDeletion: true, allowUiUpdates: false, options: { path: "/var/lib/grafana/dashboards" } }],
    }, null, 2),
    "/var/lib/grafana/dashboards/mlflow-dashboard.json": fs.readFileSync(DASHBOARD_FILE, "utf8"),
  };
}

/**
 * Prometheus and Grafana beside the local server (monitoring.enabled). Prometheus joins the
 * server's network and scrapes it by container name; both publish on 127.0.0.1 only, from a
 * bridge of their own. Secrets (the scrape password, Grafana's admin password) go in as Pulumi
 * secrets: file uploads and the env of the containers, never the command line.
 */
export class LocalMonitoring extends pulumi.ComponentResource {
  readonly prometheusUrl: pulumi.Output<string>;
  readonly grafanaUrl: pulumi.Output<string>;
  /** Grafana's admin password (user admin), generated here; a Pulumi secret. */
  readonly grafanaAdminPassword: pulumi.Output<string>;

  constructor(name: string, args: LocalMonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    const problems: string[] = [];
    for (const [key, port] of [["monitoring.prometheusPort", args.prometheusPort], ["monitoring.grafanaPort", args.grafanaPort]] as const) {
      if (!Number.isInteger(port) || port < 1024 || port > 65535) problems.push(`${key}: must be 1024-65535 (got ${port})`);
    }
    if (args.prometheusPort === args.grafanaPort) problems.push(`monitoring.grafanaPort: ${args.grafanaPort} is also monitoring.prometheusPort; give each its own port`);
    for (const [key, image] of [["monitoring.prometheusImage", args.prometheusImage], ["monitoring.grafanaImage", args.grafanaImage]] as const) {
      if (!DIGEST_PINNED.test(image)) problems.push(`${key}: ${image} is not pinned by digest (repository:tag@sha256:<64 hex>)`);
    }
    // Checked before super(): bad input registers nothing.
    if (problems.length) throw new Error(`LocalMonitoring: ${problems.join("; ")}`);
    super("mlflow-kit:targets:LocalMonitoring", name, {}, opts);
    const labels = dockerLabels(args.tags);
    const parent = { parent: this };

    const adminPassword = new random.RandomPassword(`${name}-grafana-admin`, { length: 32, special: false }, parent);
    this.grafanaAdminPassword = pulumi.secret(adminPassword.result);
    const network = new docker.Network(`${name}-network`, { name: `${args.namePrefix}-monitoring`, driver: "bridge", labels }, parent);
    const prometheusImage = new docker.RemoteImage(`${name}-prometheus-image`, { name: args.prometheusImage, keepLocally: true }, parent);
    const grafanaImage = new docker.RemoteImage(`${name}-grafana-image`, { name: args.grafanaImage, keepLocally: true }, parent);
    // No named volumes: the metrics are a local convenience, not data the stack keeps (the
    // images' own VOLUMEs hold them while the containers exist).

    const config = pulumi.output(args.serverHost).apply((host) => prometheusConfig({ serverHost: host, serverPort: args.serverPort, auth: !!args.scrapeAuth }));
    const uploads: docker.types.input.ContainerUpload[] = [{ file: "/etc/prometheus/prometheus.yml", content: config }];
    if (args.scrapeAuth) {
      uploads.push(
        { file: "/etc/prometheus/scrape-username", content: args.scrapeAuth.username },
        { file: "/etc/prometheus/scrape-password", content: pulumi.secret(args.scrapeAuth.password) },
      );
    }
    const prometheus = new docker.Container(`${name}-prometheus`, {
      name: `${args.namePrefix}-prometheus`,
      image: prometheusImage.imageId,
      command: ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", "--storage.tsdb.retention.time=15d", "--web.listen-address=0.0.0.0:9090"],
      uploads,
      networksAdvanced: [{ name: network.name, aliases: ["prometheus"] }, { name: args.serverNetworkName }],
      ports: [{ internal: 9090, external: args.prometheusPort, ip: PUBLISH_ADDRESS, protocol: "tcp" }],
      restart: "unless-stopped",
      capabilities: { drops: ["ALL"] },
      securityOpts: ["no-new-privileges:true"],
      labels,
    }, parent);

    const dashboards = Object.entries(grafanaProvisioning()).map(([file, content]) => ({ file, content }));
    const grafana = new docker.Container(`${name}-grafana`, {
      name: `${args.namePrefix}-grafana`,
      image: grafanaImage.imageId,
      envs: pulumi.secret(adminPassword.result.apply((password) => [
        "GF_SECURITY_ADMIN_USER=admin",
        `GF_SECURITY_ADMIN_PASSWORD=${password}`,
        "GF_AUTH_ANONYMOUS_ENABLED=false",
        "GF_ANALYTICS_REPORTING_ENABLED=false",
        "GF_ANALYTICS_CHECK_FOR_UPDATES=false",
        "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH=/var/lib/grafana/dashboards/mlflow-dashboard.json",
      ])),
      uploads: dashboards,
      networksAdvanced: [{ name: network.name }],
      ports: [{ internal: 3000, external: args.grafanaPort, ip: PUBLISH_ADDRESS, protocol: "tcp" }],
      restart: "unless-stopped",
      capabilities: { drops: ["ALL"] },
      securityOpts: ["no-new-privileges:true"],
      labels,
    }, { parent: this, dependsOn: [prometheus] });

    this.prometheusUrl = pulumi.output(`http://${PUBLISH_ADDRESS}:${args.prometheusPort}`);
    this.grafanaUrl = grafana.name.apply(() => `http://${PUBLISH_ADDRESS}:${args.grafanaPort}`);
    this.registerOutputs({ prometheusUrl: this.prometheusUrl, grafanaUrl: this.grafanaUrl, grafanaAdminPassword: this.grafanaAdminPassword });
  }
}
