/**
 * The kit's dashboard on ECS, in CloudWatch: the six panels of
 * infra/monitoring/mlflow-dashboard.json (Grafana), from what AWS measures itself and from the
 * server's own figures the collector sends as EMF (infra/targets/ecs-monitoring.ts):
 *
 *   Grafana panel                   CloudWatch widget
 *   Requests by endpoint and status MLflowKit mlflow_kit_http_requests{endpoint,status} + ALB target 2xx/4xx/5xx
 *   Latency percentiles             ALB TargetResponseTime p50/p95/p99 (EMF has no histogram quantiles)
 *   Worker memory                   MLflowKit mlflow_kit_worker_resident_memory_bytes + Container Insights MemoryUtilized
 *   Database pool                   MLflowKit checked out / checkouts / opened + RDS DatabaseConnections
 *   Artifact bytes                  MLflowKit mlflow_kit_artifact_bytes{direction}
 *   5xx by endpoint                 MLflowKit requests with a 5xx status + ALB's own and the targets' 5xx
 *
 * Widget and metric syntax: "Dashboard Body Structure and Syntax"
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html);
 * SEARCH expressions: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/search-expression-syntax.html.
 * Namespaces and dimensions: AWS/ApplicationELB (LoadBalancer, TargetGroup), ECS/ContainerInsights
 * (ClusterName, ServiceName; the cluster has Container Insights on), AWS/RDS (DBInstanceIdentifier).
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { bothSpellings, EMF_NAMESPACE } from "./ecs-monitoring";

export interface DashboardInputs {
  region: string;
  /** The stack's prefix: the `stack` dimension of its EMF metrics. */
  stack: string;
  loadBalancerArnSuffix: string;
  targetGroupArnSuffix: string;
  clusterName: string;
  mlflowServiceName: string;
  dbInstanceIdentifier: string;
}

/** SEARCH over the MLflowKit namespace for one metric (both spellings of a counter) of this stack. */
function emfSearch(metric: string, dimensions: string[], stat: string, stack: string, extra = ""): string {
  const names = bothSpellings(metric).match(/^\^(.*)\(_total\)\?\$$/);
  const nameTerm = names ? `(MetricName="${names[1]}" OR MetricName="${names[1]}_total")` : `MetricName="${metric}"`;
  return `SEARCH('{${EMF_NAMESPACE},${dimensions.join(",")}} ${nameTerm} stack="${stack}"${extra}', '${stat}', 60)`;
}

type Widget = Record<string, unknown>;

function graph(title: string, x: number, y: number, metrics: unknown[], region: string, extra: Record<string, unknown> = {}): Widget {
  return { type: "metric", x, y, width: 12, height: 6, properties: { title, region, view: "timeSeries", stacked: false, period: 60, metrics, ...extra } };
}

/** The dashboard body (JSON text): six widgets, each naming this stack's resources. */
export function dashboardBody(i: DashboardInputs): string {
  const lb = ["LoadBalancer", i.loadBalancerArnSuffix];
  const tg = ["TargetGroup", i.targetGroupArnSuffix];
  const expr = (id: string, expression: string, label: string) => [{ id, expression, label }];
  const widgets: Widget[] = [
    graph("Requests by endpoint and status", 0, 0, [
      expr("requests", emfSearch("mlflow_kit_http_requests_total", ["stack", "endpoint", "status"], "Sum", i.stack), "MLflow"),
      ["AWS/ApplicationELB", "HTTPCode_Target_2XX_Count", ...tg, ...lb, { stat: "Sum", label: "load balancer: 2xx" }],
      ["AWS/ApplicationELB", "HTTPCode_Target_4XX_Count", ...tg, ...lb, { stat: "Sum", label: "load balancer: 4xx" }],
      ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", ...tg, ...lb, { stat: "Sum", label: "load balancer: 5xx" }],
    ], i.region),
    graph("Latency percentiles", 12, 0, [
      ["AWS/ApplicationELB", "TargetResponseTime", ...tg, ...lb, { stat: "p50", label: "p50" }],
      ["AWS/ApplicationELB", "TargetResponseTime", ...tg, ...lb, { stat: "p95", label: "p95" }],
      ["AWS/ApplicationELB", "TargetResponseTime", ...tg, ...lb, { stat: "p99", label: "p99" }],
    ], i.region, { yAxis: { left: { label: "seconds", showUnits: false } } }),
    graph("Worker memory (RSS)", 0, 6, [
      expr("rss", emfSearch("mlflow_kit_worker_resident_memory_bytes", ["stack"], "Maximum", i.stack), "worker RSS (max, bytes)"),
      ["ECS/ContainerInsights", "MemoryUtilized", "ClusterName", i.clusterName, "ServiceName", i.mlflowServiceName, { stat: "Maximum", label: "task memory (MiB)", yAxis: "right" }],
    ], i.region),
    graph("Database pool", 12, 6, [
      expr("inuse", emfSearch("mlflow_kit_db_pool_checked_out_connections", ["stack"], "Maximum", i.stack), "connections in use"),
      expr("checkouts", emfSearch("mlflow_kit_db_pool_checkouts_total", ["stack"], "Sum", i.stack), "checkouts /min"),
      expr("opened", emfSearch("mlflow_kit_db_pool_connections_opened_total", ["stack"], "Sum", i.stack), "connections opened /min"),
      ["AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", i.dbInstanceIdentifier, { stat: "Maximum", label: "RDS connections (all clients)" }],
    ], i.region),
    graph("Artifact bytes", 0, 12, [
      expr("artifacts", emfSearch("mlflow_kit_artifact_bytes_total", ["stack", "direction"], "Sum", i.stack), "bytes /min"),
    ], i.region),
    graph("Errors (5xx) by endpoint", 12, 12, [
      expr("errors", emfSearch("mlflow_kit_http_requests_total", ["stack", "endpoint", "status"], "Sum", i.stack, ' (status="500" OR status="502" OR status="503" OR status="504")'), "MLflow 5xx"),
      ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", ...lb, { stat: "Sum", label: "load balancer's own 5xx" }],
      ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", ...tg, ...lb, { stat: "Sum", label: "targets' 5xx" }],
    ], i.region),
  ];
  return JSON.stringify({ start: "-PT3H", periodOverride: "inherit", widgets });
}

export interface EcsDashboardArgs {
  namePrefix: string;
  loadBalancerArnSuffix: pulumi.Input<string>;
  targetGroupArnSuffix: pulumi.Input<string>;
  clusterName: pulumi.Input<string>;
  mlflowServiceName: pulumi.Input<string>;
  dbInstanceIdentifier: pulumi.Input<string>;
}

export class EcsDashboard extends pulumi.ComponentResource {
  readonly dashboardName: pulumi.Output<string>;
  readonly url: pulumi.Output<string>;

  constructor(name: string, args: EcsDashboardArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mlflow-kit:targets:EcsDashboard", name, {}, opts);
    const region = aws.getRegionOutput({}, { parent: this }).region;
    const dashboard = new aws.cloudwatch.Dashboard(`${name}`, {
      dashboardName: `${args.namePrefix}-mlflow`,
      dashboardBody: pulumi.all([region, args.loadBalancerArnSuffix, args.targetGroupArnSuffix, args.clusterName, args.mlflowServiceName, args.dbInstanceIdentifier])
        .apply(([r, lb, tg, cluster, service, db]) => dashboardBody({
          region: r, stack: args.namePrefix, loadBalancerArnSuffix: lb, targetGroupArnSuffix: tg, clusterName: cluster, mlflowServiceName: service, dbInstanceIdentifier: db,
        })),
    }, { parent: this });
    this.dashboardName = dashboard.dashboardName;
    this.url = pulumi.interpolate`https://console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards:name=${dashboard.dashboardName}`;
    this.registerOutputs({ dashboardName: this.dashboardName, url: this.url });
  }
}
