/**
 * The server's Prometheus metrics on ECS (monitoring.enabled), where AWS users look.
 *
 * The edge refuses /metrics (infra/edge/traefik.ts), and MLflow's basic auth answers it to the
 * admin only (fail-closed: no permission covers the route). So the scraper runs inside the
 * MLflow task: an AWS Distro for OpenTelemetry (ADOT) collector sidecar scrapes
 * 127.0.0.1:5000/metrics with the admin's credentials (the same Secrets Manager secret the
 * server reads) and sends the figures
 * - to CloudWatch as embedded metric format (EMF) log events (the awsemf exporter), which
 *   CloudWatch turns into metrics of the MLflowKit namespace that the dashboard reads
 *   (https://aws-otel.github.io/docs/getting-started/container-insights/ecs-prometheus,
 *   https://pkg.go.dev/github.com/open-telemetry/opentelemetry-collector-contrib/exporter/awsemfexporter);
 * - with monitoring.managedPrometheus, also to an Amazon Managed Service for Prometheus
 *   workspace the stack creates, by remote write signed with SigV4 (the prometheusremotewrite
 *   exporter and the sigv4auth extension: "Exporting application metrics to Amazon Managed
 *   Service for Prometheus", https://docs.aws.amazon.com/AmazonECS/latest/developerguide/application-metrics-prometheus.html,
 *   https://aws-otel.github.io/docs/getting-started/prometheus-remote-write-exporter/ecs).
 * AMP's own managed collector (aws.amp.Scraper with a VPC source) is not used: its scrape
 * configuration has no basic_auth or authorization field (supported fields: job_name,
 * metrics_path, scheme, intervals, static/dns_sd configs, relabeling, tls_config;
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/managed-prometheus-collectors-scraper-configuration.html),
 * so it could not pass MLflow's auth without opening /metrics to the VPC.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import type { ContainerSpec } from "./ecs-service";

/**
 * ADOT collector v0.48.0 from ECR Public (never Docker Hub: the tasks share one NAT address).
 * The digest is the one a public project pins for this release
 * (scripts validating public.ecr.aws/aws-observability/aws-otel-collector:v0.48.0); it was not
 * pulled here (no registry access from this machine): check it with `crane digest` on upgrade.
 */
export const ADOT_IMAGE = "public.ecr.aws/aws-observability/aws-otel-collector:v0.48.0@sha256:9b28046359054b414f4ba76056ba4e8cffda2d53fbcee06171d7eeecd71326c3";
/** ADOT reads its whole configuration from this variable (YAML). */
export const COLLECTOR_CONFIG_ENV = "AOT_CONFIG_CONTENT";
export const EMF_NAMESPACE = "MLflowKit";
export const SCRAPE_INTERVAL_SECONDS = 60;
/** The collector's health endpoint, on the task's loopback only (/healthcheck asks it). */
const HEALTH_ENDPOINT = "127.0.0.1:13133";

/**
 * The dashboard's figures (infra/monitoring/mlflow-dashboard.json) as CloudWatch metrics, with
 * the labels kept as dimensions. Every series carries `stack` (a scrape target label), so stacks
 * sharing an account and region stay apart. The OpenTelemetry translation may drop a counter's
 * `_total` suffix, so each selector (and the dashboard's SEARCH) takes both spellings.
 */
export const EMF_METRICS = [
  { name: "mlflow_kit_http_requests_total", dimensions: [["stack", "endpoint", "status"], ["stack", "status"]] },
  { name: "mlflow_kit_artifact_bytes_total", dimensions: [["stack", "direction"]] },
  { name: "mlflow_kit_worker_resident_memory_bytes", dimensions: [["stack"]] },
  { name: "mlflow_kit_db_pool_checked_out_connections", dimensions: [["stack"]] },
  { name: "mlflow_kit_db_pool_checkouts_total", dimensions: [["stack"]] },
  { name: "mlflow_kit_db_pool_connections_opened_total", dimensions: [["stack"]] },
] as const;

/** A metric name and its spelling without _total: a selector regexp for both. */
export const bothSpellings = (name: string) => `^${name.replace(/_total$/, "")}(_total)?$`;

export interface CollectorConfigInputs {
  stack: string;
  mlflowPort: number;
  adminUsername: string;
  /** The env variable holding the admin's password (a secret of the task; never in the YAML). */
  passwordEnv: string;
  region: string;
  emfLogGroupName: string;
  /** The AMP workspace's remote write URL, with monitoring.managedPrometheus. */
  remoteWriteUrl?: string;
}

/** The collector's configuration: plain text; the password is read from the env at start. */
export function collectorConfig(i: CollectorConfigInputs): string {
  const amp = i.remoteWriteUrl !== undefined;
  const config = {
    extensions: {
      health_check: { endpoint: HEALTH_ENDPOINT },
      ...(amp ? { sigv4auth: { region: i.region, service: "aps" } } : {}),
    },
    receivers: {
      prometheus: {
        config: {
          global: { scrape_interval: `${SCRAPE_INTERVAL_SECONDS}s`, scrape_timeout: "10s" },
          scrape_configs: [{
            job_name: "mlflow",
            metrics_path: "/metrics",
            static_configs: [{ targets: [`127.0.0.1:${i.mlflowPort}`], labels: { stack: i.stack } }],
            // The collector expands ${env:...} before the receiver reads its configuration.
            basic_auth: { username: i.adminUsername, password: `\${env:${i.passwordEnv}}` },
          }],
        },
      },
    },
    processors: { batch: { timeout: "10s" } },
    exporters: {
      awsemf: {
        namespace: EMF_NAMESPACE,
        log_group_name: i.emfLogGroupName,
        log_stream_name: "{TaskId}",
        region: i.region,
        dimension_rollup_option: "NoDimensionRollup",
        metric_declarations: EMF_METRICS.map((m) => ({ dimensions: m.dimensions.map((d) => [...d]), metric_name_selectors: [bothSpellings(m.name)] })),
      },
      ...(amp ? { prometheusremotewrite: { endpoint: i.remoteWriteUrl, auth: { authenticator: "sigv4auth" } } } : {}),
    },
    service: {
      extensions: ["health_check", ...(amp ? ["sigv4auth"] : [])],
      pipelines: {
        "metrics/cloudwatch": { receivers: ["prometheus"], processors: ["batch"], exporters: ["awsemf"] },
        ...(amp ? { "metrics/amp": { receivers: ["prometheus"], processors: ["batch"], exporters: ["prometheusremotewrite"] } } : {}),
      },
    },
  };
  return stringify(config);
}

/**
 * What the collector needs in AWS, for the MLflow task role (the sidecar shares it): write its
 * EMF log group's streams (the group exists already: no logs:CreateLogGroup), and remote write
 * to the one workspace. Nothing else; no resource wildcards beyond the group's own streams.
 */
export function collectorPolicyStatements(emfLogGroupArn: string, workspaceArn?: string): Record<string, unknown>[] {
  return [
    { Sid: "MetricsEmfLogs", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"], Resource: `${emfLogGroupArn}:*` },
    ...(workspaceArn ? [{ Sid: "MetricsRemoteWrite", Effect: "Allow", Action: ["aps:RemoteWrite"], Resource: workspaceArn }] : []),
  ];
}

/**
 * The remote write URL from a workspace's prometheusEndpoint. AWS's API gives it with the API
 * prefix (https://aps-workspaces.<region>.amazonaws.com/workspaces/ws-.../api/v1/,
 * https://docs.aws.amazon.com/prometheus/latest/APIReference/API_WorkspaceDescription.html);
 * Terraform-based examples append api/v1/remote_write to a URL ending in the workspace id.
 * Either way: .../workspaces/<id>/api/v1/remote_write.
 */
export function remoteWriteUrl(prometheusEndpoint: string): string {
  const base = prometheusEndpoint.replace(/\/?(api\/v1\/?)?$/, "/");
  if (!/^https:\/\/aps-workspaces\.[a-z0-9-]+\.amazonaws\.com\/workspaces\/[^/]+\/$/.test(base)) throw new Error(`EcsMonitoring: unexpected workspace endpoint ${prometheusEndpoint}`);
  return `${base}api/v1/remote_write`;
}

export interface EcsMonitoringArgs {
  namePrefix: string;
  lifecycle: "long-lived" | "ephemeral";
  managedPrometheus: boolean;
  mlflowPort: number;
  adminUsername: string;
  passwordEnv: string;
  tags: Record<string, string>;
}

/** The EMF log group, the optional AMP workspace, and the collector's container and policy. */
export class EcsMonitoring extends pulumi.ComponentResource {
  readonly emfLogGroupName: pulumi.Output<string>;
  readonly emfLogGroupArn: pulumi.Output<string>;
  readonly workspace: aws.amp.Workspace | undefined;
  /** The remote write URL of the workspace (managedPrometheus only). */
  readonly remoteWriteUrl: pulumi.Output<string> | undefined;
  readonly container: ContainerSpec;

  constructor(name: string, args: EcsMonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mlflow-kit:targets:EcsMonitoring", name, {}, opts);
    const id = args.namePrefix;
    const logGroup = new aws.cloudwatch.LogGroup(`${name}-emf`, {
      name: `/ecs/${id}/mlflow-metrics`,
      retentionInDays: args.lifecycle === "long-lived" ? 90 : 14,
      tags: args.tags,
    }, { parent: this });
    this.emfLogGroupName = logGroup.name;
    this.emfLogGroupArn = logGroup.arn;
    if (args.managedPrometheus) {
      this.workspace = new aws.amp.Workspace(`${name}-amp`, { alias: `${id}-mlflow`, tags: args.tags }, { parent: this });
      this.remoteWriteUrl = this.workspace.prometheusEndpoint.apply(remoteWriteUrl);
    }
    const region = aws.getRegionOutput({}, { parent: this }).region;
    const config = pulumi.all([region, logGroup.name, this.remoteWriteUrl ?? pulumi.output(undefined)]).apply(([r, group, url]) => collectorConfig({
      stack: id, mlflowPort: args.mlflowPort, adminUsername: args.adminUsername, passwordEnv: args.passwordEnv,
      region: r, emfLogGroupName: group, remoteWriteUrl: url,
    }));
    this.container = {
      name: "metrics-collector",
      image: ADOT_IMAGE,
      // Metrics are not worth a restart of the server: the task keeps serving without them.
      essential: false,
      environment: { [COLLECTOR_CONFIG_ENV]: config },
      secrets: [args.passwordEnv],
      dependsOn: [{ containerName: "mlflow", condition: "START" }],
      healthCheck: ["CMD", "/healthcheck"],
    };
    this.registerOutputs({ emfLogGroupName: this.emfLogGroupName, remoteWriteUrl: this.remoteWriteUrl });
  }

  /** The collector's statements for the task role. */
  policyStatements(): pulumi.Output<Record<string, unknown>[]> {
    return pulumi.all([this.emfLogGroupArn, this.workspace?.arn ?? pulumi.output(undefined)]).apply(([group, ws]) => collectorPolicyStatements(group, ws));
  }
}
