/**
 * Metrics on ECS (infra/targets/ecs-monitoring.ts, ecs-dashboard.ts), the prod stack evaluated
 * under the offline mocks as `npm run plan` does: off by default; with monitoring.enabled a
 * collector in each MLflow task scrapes the server as the admin (the password from the task's
 * secret, never in the config) and sends the dashboard's figures to CloudWatch; the CloudWatch
 * dashboard is valid JSON whose widgets name this stack's load balancer, target group, cluster,
 * service and database; with managedPrometheus, one AMP workspace fed by remote write. No new
 * IAM role; the task role gains only the collector's own log group and workspace.
 */
import * as pulumi from "@pulumi/pulumi";
import * as fs from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ADOT_IMAGE, bothSpellings, COLLECTOR_CONFIG_ENV, EMF_METRICS, EMF_NAMESPACE, remoteWriteUrl } from "../../infra/targets/ecs-monitoring";
import { DASHBOARD_FILE } from "../../infra/targets/local-monitoring";
import { hasMandatory, plan, type Plan } from "../../stacks/plan";
import type { PlannedResource } from "../../stacks/offline";

const T = {
  taskDef: "aws:ecs/taskDefinition:TaskDefinition",
  dashboard: "aws:cloudwatch/dashboard:Dashboard",
  workspace: "aws:amp/workspace:Workspace",
  logGroup: "aws:cloudwatch/logGroup:LogGroup",
  role: "aws:iam/role:Role",
  rolePolicy: "aws:iam/rolePolicy:RolePolicy",
  lb: "aws:lb/loadBalancer:LoadBalancer",
  tg: "aws:lb/targetGroup:TargetGroup",
  cluster: "aws:ecs/cluster:Cluster",
  service: "aws:ecs/service:Service",
  rds: "aws:rds/instance:Instance",
};
const ON = { "mlflow-kit:monitoring": JSON.stringify({ enabled: true }) };
const AMP = { "mlflow-kit:monitoring": JSON.stringify({ enabled: true, managedPrometheus: true }) };

let off: Plan;
let on: Plan;
let onRevealed: Plan;
let amp: Plan;
const of = (p: Plan, type: string) => p.resources.filter((r) => r.type === type);
const output = <T>(r: PlannedResource, key: string) => new Promise<T>((resolve) => ((r.resource as any)[key] as pulumi.Output<T>).apply((v) => { resolve(v); return v; }));
const mlflowTask = (p: Plan) => of(p, T.taskDef).find((r) => r.name === "mlflow-target-mlflow-task")!;
const containers = (p: Plan) => JSON.parse(String(mlflowTask(p).inputs.containerDefinitions)) as any[];
const collector = (p: Plan) => containers(p).find((c) => c.name === "metrics-collector");
const env = (c: any, name: string) => c.environment.find((e: any) => e.name === name)?.value as string | undefined;
const taskPolicy = (p: Plan) => JSON.parse(String(of(p, T.rolePolicy).find((r) => r.name === "mlflow-target-mlflow-task")!.inputs.policy));

beforeAll(async () => {
  // One at a time: Pulumi's runtime state (mocks, config) is process-global.
  off = await plan("prod", { strict: true });
  on = await plan("prod", { strict: true, overrides: ON });
  onRevealed = await plan("prod", { strict: true, overrides: ON, revealSecrets: true });
  amp = await plan("prod", { strict: true, overrides: AMP });
});

describe("ecs monitoring: off by default", () => {
  it("no collector, no dashboard, no workspace, MLFLOW_METRICS off", () => {
    expect(collector(off)).toBeUndefined();
    expect(of(off, T.dashboard)).toHaveLength(0);
    expect(of(off, T.workspace)).toHaveLength(0);
    expect(env(containers(off).find((c) => c.name === "mlflow"), "MLFLOW_METRICS")).not.toBe("on");
  });
});

describe("ecs monitoring: on", () => {
  it("plans with no mandatory policy violation; the server serves /metrics", () => {
    expect(hasMandatory(on), JSON.stringify(on.violations)).toBe(false);
    expect(env(containers(on).find((c) => c.name === "mlflow"), "MLFLOW_METRICS")).toBe("on");
  });

  it("a collector sidecar scrapes the server on loopback as the admin, the password from the task's secret", () => {
    const c = collector(onRevealed);
    expect(c.image).toBe(ADOT_IMAGE);
    expect(ADOT_IMAGE).toMatch(/^public\.ecr\.aws\/.+@sha256:[0-9a-f]{64}$/);
    expect(c.essential).toBe(false);
    expect(c.readonlyRootFilesystem).toBe(true);
    expect(c.secrets.map((s: any) => s.name)).toEqual(["MLFLOW_ADMIN_PASSWORD"]);
    // The same secret (and version) the server reads.
    const server = containers(onRevealed).find((x) => x.name === "mlflow");
    expect(c.secrets[0].valueFrom).toBe(server.secrets.find((s: any) => s.name === "MLFLOW_ADMIN_PASSWORD").valueFrom);
    const text = env(c, COLLECTOR_CONFIG_ENV)!;
    const config = parse(text);
    const job = config.receivers.prometheus.config.scrape_configs[0];
    expect(job.static_configs[0].targets).toEqual(["127.0.0.1:5000"]);
    expect(job.metrics_path).toBe("/metrics");
    expect(job.basic_auth).toEqual({ username: env(server, "MLFLOW_ADMIN_USERNAME"), password: "${env:MLFLOW_ADMIN_PASSWORD}" });
    expect(job.static_configs[0].labels).toEqual({ stack: "mlflow-kit-prod" });
    // The admin's password itself is nowhere in the task definition's plain text.
    const password = onRevealed.outputs.adminPassword as string;
    expect(password.length).toBeGreaterThan(15);
    expect(String(mlflowTask(onRevealed).inputs.containerDefinitions)).not.toContain(password);
    // Only CloudWatch without managedPrometheus.
    expect(Object.keys(config.service.pipelines)).toEqual(["metrics/cloudwatch"]);
    expect(config.exporters.prometheusremotewrite).toBeUndefined();
  });

  it("EMF goes to the stack's own log group, and declares every MLflowKit metric the dashboard reads", async () => {
    const config = parse(env(collector(on), COLLECTOR_CONFIG_ENV)!);
    const emf = config.exporters.awsemf;
    const group = of(on, T.logGroup).find((r) => r.inputs.name === emf.log_group_name);
    expect(group, emf.log_group_name).toBeDefined();
    expect(emf.namespace).toBe(EMF_NAMESPACE);
    expect(emf.region).toBe("eu-west-1");
    const selectors: string[] = emf.metric_declarations.flatMap((d: any) => d.metric_name_selectors);
    const body = JSON.parse(String(of(on, T.dashboard)[0].inputs.dashboardBody));
    const searched = [...JSON.stringify(body).matchAll(/MetricName=\\"(mlflow_kit_[a-z_]+?)(?:_total)?\\"/g)].map((m) => m[1]);
    expect(searched.length).toBeGreaterThan(0);
    for (const name of new Set(searched)) expect(selectors.some((s) => new RegExp(s).test(name) && new RegExp(s).test(`${name}_total`)), name).toBe(true);
    // Every declared metric is one the server exposes (the Grafana dashboard's names, which the
    // metrics test checks against a real scrape).
    const grafana = fs.readFileSync(DASHBOARD_FILE, "utf8");
    for (const m of EMF_METRICS) expect(grafana, m.name).toContain(m.name);
  });

  it("the dashboard: valid JSON, the six panels of the Grafana dashboard, naming this stack's resources", async () => {
    const dashboards = of(on, T.dashboard);
    expect(dashboards).toHaveLength(1);
    expect(dashboards[0].inputs.dashboardName).toBe("mlflow-kit-prod-mlflow");
    const body = JSON.parse(String(dashboards[0].inputs.dashboardBody));
    const grafanaTitles = JSON.parse(fs.readFileSync(DASHBOARD_FILE, "utf8")).panels.map((p: any) => p.title);
    expect(body.widgets.map((w: any) => w.properties.title).sort()).toEqual([...grafanaTitles].sort());

    const lbSuffix = await output<string>(of(on, T.lb)[0], "arnSuffix");
    const tgSuffix = await output<string>(of(on, T.tg)[0], "arnSuffix");
    const cluster = of(on, T.cluster)[0].inputs.name as string;
    const service = of(on, T.service).find((r) => r.inputs.name === "mlflow")!.inputs.name as string;
    const db = of(on, T.rds)[0].inputs.identifier as string;
    expect([lbSuffix, tgSuffix, cluster, service, db].every((v) => typeof v === "string" && v.length > 0)).toBe(true);
    const dims: Record<string, Set<string>> = {};
    for (const w of body.widgets) {
      expect(w.type).toBe("metric");
      expect(w.properties.region).toBe("eu-west-1");
      for (const m of w.properties.metrics) {
        if (!Array.isArray(m) || typeof m[0] !== "string") {
          // A SEARCH over this stack's EMF metrics.
          expect(m[0].expression).toMatch(new RegExp(`^SEARCH\\('\\{${EMF_NAMESPACE},stack[,a-z]*\\} .*stack="mlflow-kit-prod"`));
          // A SEARCH schema matches metrics with exactly these dimensions: the collector must send that set.
          const schema = /\{[^,]+,([^}]*)\}/.exec(m[0].expression)![1].split(",");
          const name = /MetricName="(mlflow_kit_[a-z_]+?)(?:_total)?"/.exec(m[0].expression)![1];
          const declared = EMF_METRICS.find((e) => e.name.replace(/_total$/, "") === name)!;
          expect(declared, name).toBeDefined();
          expect(declared.dimensions.map((d) => [...d].sort().join(",")), name).toContain([...schema].sort().join(","));
          continue;
        }
        const [namespace, , ...rest] = m;
        expect(["AWS/ApplicationELB", "ECS/ContainerInsights", "AWS/RDS"]).toContain(namespace);
        for (let k = 0; k + 1 < rest.length && typeof rest[k] === "string"; k += 2) (dims[rest[k]] ??= new Set()).add(rest[k + 1]);
      }
    }
    expect([...dims.LoadBalancer]).toEqual([lbSuffix]);
    expect([...dims.TargetGroup]).toEqual([tgSuffix]);
    expect([...dims.ClusterName]).toEqual([cluster]);
    expect([...dims.ServiceName]).toEqual([service]);
    expect([...dims.DBInstanceIdentifier]).toEqual([db]);
    expect(on.outputs.dashboardUrl).toBe("https://console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards:name=mlflow-kit-prod-mlflow");
  });

  it("least privilege: no new role; the task role gains only its EMF log group's streams", async () => {
    expect(of(on, T.role).length).toBe(of(off, T.role).length);
    const before = taskPolicy(off).Statement;
    const after = taskPolicy(on).Statement;
    expect(after.slice(0, before.length)).toEqual(before);
    const added = after.slice(before.length);
    const group = of(on, T.logGroup).find((r) => r.inputs.name === "/ecs/mlflow-kit-prod/mlflow-metrics")!;
    expect(added).toHaveLength(1);
    expect(added[0].Action).toEqual(["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]);
    expect(added[0].Resource).toBe(`${await output<string>(group, "arn")}:*`);
    for (const s of after) expect(JSON.stringify(s.Resource), s.Sid).not.toMatch(/"\*"|:\*:\*/);
  });
});

describe("ecs monitoring: managed Prometheus", () => {
  it("one workspace, remote write signed for aps, and aps:RemoteWrite on that workspace only", async () => {
    const workspaces = of(amp, T.workspace);
    expect(workspaces).toHaveLength(1);
    const arn = await output<string>(workspaces[0], "arn");
    const endpoint = await output<string>(workspaces[0], "prometheusEndpoint");
    const config = parse(env(collector(amp), COLLECTOR_CONFIG_ENV)!);
    expect(config.exporters.prometheusremotewrite).toEqual({ endpoint: remoteWriteUrl(endpoint), auth: { authenticator: "sigv4auth" } });
    expect(config.exporters.prometheusremotewrite.endpoint).toMatch(/^https:\/\/aps-workspaces\.eu-west-1\.amazonaws\.com\/workspaces\/ws-[^/]+\/api\/v1\/remote_write$/);
    expect(config.extensions.sigv4auth).toEqual({ region: "eu-west-1", service: "aps" });
    expect(Object.keys(config.service.pipelines).sort()).toEqual(["metrics/amp", "metrics/cloudwatch"]);
    expect(config.service.extensions).toContain("sigv4auth");
    const write = taskPolicy(amp).Statement.filter((s: any) => JSON.stringify(s.Action).includes("aps:"));
    expect(write).toEqual([{ Sid: "MetricsRemoteWrite", Effect: "Allow", Action: ["aps:RemoteWrite"], Resource: arn }]);
    expect(amp.outputs.prometheusRemoteWriteUrl).toBe(remoteWriteUrl(endpoint));
    expect(of(amp, T.role).length).toBe(of(off, T.role).length);
    expect(hasMandatory(amp), JSON.stringify(amp.violations)).toBe(false);
  });

  it("the remote write URL from either endpoint form; anything else is refused", () => {
    const ws = "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-0a1b2c3d-1111-2222-3333-444455556666";
    for (const e of [`${ws}/api/v1/`, `${ws}/`, `${ws}/api/v1`, ws]) expect(remoteWriteUrl(e)).toBe(`${ws}/api/v1/remote_write`);
    expect(() => remoteWriteUrl("https://evil.example.com/workspaces/ws-1/")).toThrow(/unexpected workspace endpoint/);
    expect(bothSpellings("mlflow_kit_db_pool_checkouts_total")).toBe("^mlflow_kit_db_pool_checkouts(_total)?$");
  });
});
