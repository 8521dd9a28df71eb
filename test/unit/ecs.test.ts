/**
 * The ECS target of the prod stack under the offline mocks (the same program, settings and mocks
 * as `npm run plan`): who may reach what, where tasks run, how secrets reach them, logs,
 * migrations and alarms. Plus the variations: an existing VPC, a Route 53 zone.
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CONTRACT_VARIABLES } from "../../infra/runtime-contract";
import { plan, type Plan } from "../../stacks/plan";
import type { PlannedResource } from "../../stacks/offline";

const T = {
  sg: "aws:ec2/securityGroup:SecurityGroup",
  ingress: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
  egress: "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
  subnet: "aws:ec2/subnet:Subnet",
  service: "aws:ecs/service:Service",
  taskDef: "aws:ecs/taskDefinition:TaskDefinition",
  secret: "aws:secretsmanager/secret:Secret",
  secretVersion: "aws:secretsmanager/secretVersion:SecretVersion",
  logGroup: "aws:cloudwatch/logGroup:LogGroup",
  alarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
  topic: "aws:sns/topic:Topic",
  subscription: "aws:sns/topicSubscription:TopicSubscription",
  rolePolicy: "aws:iam/rolePolicy:RolePolicy",
  role: "aws:iam/role:Role",
  route: "aws:ec2/route:Route",
  nat: "aws:ec2/natGateway:NatGateway",
  record: "aws:route53/record:Record",
  listener: "aws:lb/listener:Listener",
};

let prod: Plan;
let revealed: Plan;
const of = (p: Plan, type: string) => p.resources.filter((r) => r.type === type);
const one = (p: Plan, type: string, name: string) => {
  const found = p.resources.find((r) => r.type === type && r.name === name);
  if (!found) throw new Error(`no ${type} ${name}`);
  return found;
};
const idOf = (r: PlannedResource) => new Promise<string>((resolve) => (r.resource as pulumi.CustomResource).id.apply((v) => { resolve(v); return v; }));
const containers = (r: PlannedResource) => JSON.parse(r.inputs.containerDefinitions as string) as any[];

beforeAll(async () => {
  [prod, revealed] = [await plan("prod", { strict: true }), await plan("prod", { strict: true, revealSecrets: true })];
});

describe("ecs: network exposure", () => {
  it("no security group is open to the world except the load balancer's 443 and 80", async () => {
    const open = of(prod, T.ingress).filter((r) => r.inputs.cidrIpv4 || r.inputs.cidrIpv6 || r.inputs.prefixListId);
    expect(open.map((r) => [r.inputs.cidrIpv4, r.inputs.fromPort, r.inputs.toPort]).sort()).toEqual([["0.0.0.0/0", 443, 443], ["0.0.0.0/0", 80, 80]]);
    const albSg = await idOf(one(prod, T.sg, "mlflow-target-lb-alb"));
    for (const r of open) expect(r.inputs.securityGroupId).toBe(albSg);
    // No group carries inline rules that would escape the check above.
    for (const sg of of(prod, T.sg)) expect(sg.inputs.ingress ?? []).toEqual([]);
  });

  it("the database admits only the MLflow and Authelia services (and the bootstrap function)", async () => {
    const dbSg = await idOf(one(prod, T.sg, "mlflow-database-db"));
    const sources = of(prod, T.ingress).filter((r) => r.inputs.securityGroupId === dbSg).map((r) => r.inputs.referencedSecurityGroupId).sort();
    const expected = await Promise.all(["mlflow-target-mlflow", "mlflow-target-authelia", "mlflow-database-bootstrap"].map((n) => idOf(one(prod, T.sg, n))));
    expect(sources).toEqual(expected.sort());
    for (const r of of(prod, T.ingress).filter((x) => x.inputs.securityGroupId === dbSg)) expect([r.inputs.fromPort, r.inputs.toPort]).toEqual([5432, 5432]);
  });

  it("each service admits only the hop before it: ALB -> Traefik -> Authelia, MLflow", async () => {
    const id = async (n: string) => idOf(one(prod, T.sg, n));
    const [alb, traefik, authelia, mlflow] = await Promise.all(["mlflow-target-lb-alb", "mlflow-target-traefik", "mlflow-target-authelia", "mlflow-target-mlflow"].map(id));
    const into = (sg: string) => of(prod, T.ingress).filter((r) => r.inputs.securityGroupId === sg).map((r) => [r.inputs.referencedSecurityGroupId, r.inputs.fromPort]);
    expect(into(traefik).sort()).toEqual([[alb, 8000], [alb, 8082]]);
    expect(into(authelia)).toEqual([[traefik, 9091]]);
    expect(into(mlflow)).toEqual([[traefik, 5000]]);
  });

  it("tasks run in private subnets, routed through the NAT gateway, without public IPs", async () => {
    const services = of(prod, T.service);
    expect(services).toHaveLength(3);
    const taskSubnets = await Promise.all(of(prod, T.subnet).filter((s) => /-tasks-\d$/.test(s.name)).map(idOf));
    const publicSubnets = await Promise.all(of(prod, T.subnet).filter((s) => /-public-\d$/.test(s.name)).map(idOf));
    expect(taskSubnets).toHaveLength(2);
    for (const s of services) {
      const net = s.inputs.networkConfiguration as { subnets: string[]; assignPublicIp: boolean };
      expect(net.assignPublicIp, String(s.inputs.name)).toBe(false);
      expect([...net.subnets].sort()).toEqual([...taskSubnets].sort());
      for (const sub of net.subnets) expect(publicSubnets).not.toContain(sub);
    }
    for (const s of of(prod, T.subnet)) expect(s.inputs.mapPublicIpOnLaunch).toBe(false);
    const natId = await idOf(of(prod, T.nat)[0]);
    expect(one(prod, T.route, "mlflow-target-network-private-default").inputs).toMatchObject({ destinationCidrBlock: "0.0.0.0/0", natGatewayId: natId });
  });

  it("HTTPS with TLS 1.2+ from ACM; HTTP only redirects", () => {
    const https = one(prod, T.listener, "mlflow-target-lb-https").inputs;
    expect(https).toMatchObject({ port: 443, protocol: "HTTPS", sslPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06" });
    expect(String(https.certificateArn)).toMatch(/^arn:aws:acm:/);
    const http = one(prod, T.listener, "mlflow-target-lb-http").inputs as any;
    expect(http.defaultActions).toEqual([{ type: "redirect", redirect: { protocol: "HTTPS", port: "443", statusCode: "HTTP_301" } }]);
  });
});

describe("ecs: secrets, logs, migrations", () => {
  const secretNames = new Set(CONTRACT_VARIABLES.filter((v) => v.secret).map((v) => v.name));

  it("every secret reaches a task through Secrets Manager, pinned to its version, never through environment", async () => {
    const versions = new Map<string, string>();
    for (const v of of(prod, T.secretVersion)) {
      expect(v.inputs.secretString, v.name).toBe("[secret]");
      versions.set(String(v.inputs.secretId), "");
    }
    const secretValues = of(revealed, T.secretVersion).map((v) => String(v.inputs.secretString)).filter((s) => s.length >= 12);
    expect(secretValues.length).toBeGreaterThanOrEqual(7);
    for (const td of of(prod, T.taskDef)) {
      expect(td.inputs.containerDefinitions, td.name).not.toBe("[secret]");
      const text = String(td.inputs.containerDefinitions);
      for (const value of secretValues) expect(text.includes(value), td.name).toBe(false);
      for (const c of containers(td)) {
        for (const e of c.environment) expect(secretNames.has(e.name), `${c.name} ${e.name}`).toBe(false);
        for (const s of c.secrets) expect(s.valueFrom).toMatch(/^arn:aws:secretsmanager:eu-west-1:\d{12}:secret:mlflow-kit-prod\/[^:]+:::[0-9a-f-]{36}$/);
      }
    }
    const mlflow = containers(one(prod, T.taskDef, "mlflow-target-mlflow-task"));
    // Basic mode behind the edge: the auth app's database and admin, the Flask key, the edge's secret, the API user.
    // The one-shot scratch-permissions container runs a shell only: no secret, no environment.
    for (const c of mlflow) expect(c.secrets.map((s: any) => s.name)).toEqual(c.name === "scratch-permissions" ? [] : [
      "MLFLOW_ADMIN_PASSWORD", "MLFLOW_API_USER_PASSWORDS", "MLFLOW_AUTH_DATABASE_URI", "MLFLOW_BACKEND_STORE_URI", "MLFLOW_EDGE_SECRET", "MLFLOW_FLASK_SERVER_SECRET_KEY"]);
    // The task role replaces static keys: no AWS key reaches MLflow at all.
    for (const c of mlflow) expect(c.environment.map((e: any) => e.name)).not.toContain("AWS_ACCESS_KEY_ID");
    const authelia = containers(one(prod, T.taskDef, "mlflow-target-authelia-task"))[0];
    expect(authelia.secrets.map((s: any) => s.name).sort()).toEqual([
      "MLFLOW_KIT_AUTHELIA_RDS_CA", "MLFLOW_KIT_AUTHELIA_RESET_PASSWORD_JWT_SECRET", "MLFLOW_KIT_AUTHELIA_SESSION_SECRET", "MLFLOW_KIT_AUTHELIA_STORAGE_ENCRYPTION_KEY",
      "MLFLOW_KIT_AUTHELIA_STORAGE_PASSWORD", "MLFLOW_KIT_AUTHELIA_USERS"]);
    // Traefik's dynamic configuration holds the edge secret: a secret, not plain environment.
    const traefik = containers(one(prod, T.taskDef, "mlflow-target-traefik-task"))[0];
    expect(traefik.secrets.map((s: any) => s.name)).toEqual(["MLFLOW_KIT_TRAEFIK_DYNAMIC"]);
    expect(traefik.environment.map((e: any) => e.name)).not.toContain("MLFLOW_KIT_TRAEFIK_DYNAMIC");
  });

  it("each execution role reads only its own service's secrets; the MLflow task role only the artifact prefix", async () => {
    const secretArns = (service: string) => Promise.all(of(prod, T.secret).filter((s) => String(s.inputs.name).startsWith(`mlflow-kit-prod/${service}/`)).map(idOf));
    for (const service of ["mlflow", "authelia", "traefik"]) {
      const policy = JSON.parse(String(one(prod, T.rolePolicy, `mlflow-target-${service}-execution`).inputs.policy));
      const read = policy.Statement.filter((s: any) => s.Action.includes("secretsmanager:GetSecretValue")).flatMap((s: any) => s.Resource);
      // Authelia's image is pulled with the GHCR credential too (the MLflow service's secret).
      const registry = service === "authelia" ? [await idOf(of(prod, T.secret).find((s) => String(s.inputs.name) === "mlflow-kit-prod/mlflow/registry-credential")!)] : [];
      expect([...read].sort(), service).toEqual([...(await secretArns(service)), ...registry].sort());
      expect(JSON.stringify(policy)).not.toMatch(/"Resource":"\*"/);
    }
    const task = JSON.parse(String(one(prod, T.rolePolicy, "mlflow-target-mlflow-task").inputs.policy));
    const bucket = String(of(prod, "aws:s3/bucket:Bucket").find((b) => /-art-/.test(String(b.inputs.bucket)))!.inputs.bucket);
    const resources = task.Statement.flatMap((s: any) => [s.Resource].flat());
    expect(resources.sort()).toEqual([`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/mlflow/*`]);
    expect(of(prod, T.rolePolicy).filter((r) => /-task$/.test(r.name)).map((r) => r.name)).toEqual(["mlflow-target-mlflow-task"]);
  });

  it("every log group has a retention and every container logs to one", () => {
    const groups = new Set<string>();
    for (const g of of(prod, T.logGroup)) {
      expect(g.inputs.retentionInDays, g.name).toBeGreaterThanOrEqual(14);
      groups.add(String(g.inputs.name));
    }
    for (const td of of(prod, T.taskDef)) for (const c of containers(td)) {
      expect(c.logConfiguration.logDriver).toBe("awslogs");
      expect(groups.has(c.logConfiguration.options["awslogs-group"]), c.name).toBe(true);
    }
  });

  it("a migrate-only container runs first; the server starts only after it exited 0, and never migrates", () => {
    const [migrate, server] = containers(one(prod, T.taskDef, "mlflow-target-mlflow-task"));
    const env = (c: any) => Object.fromEntries(c.environment.map((e: any) => [e.name, e.value]));
    expect(migrate).toMatchObject({ name: "migrate", essential: false });
    expect(env(migrate).MLFLOW_MIGRATE).toBe("only");
    expect(server).toMatchObject({ name: "mlflow", essential: true, dependsOn: [{ containerName: "migrate", condition: "SUCCESS" }] });
    expect(env(server)).toMatchObject({ MLFLOW_MIGRATE: "off", MLFLOW_AUTH_MODE: "basic", MLFLOW_PUBLIC_HOSTNAME: "mlflow.example.com", MLFLOW_EDGE_USERS: "alice" });
    expect(migrate.image).toBe(server.image);
    expect(server.image).toMatch(/^ghcr\.io\/example-org\/mlflow-kit-server@sha256:/);
    expect(server.repositoryCredentials.credentialsParameter).toMatch(/^arn:aws:secretsmanager:/);
    expect(server.healthCheck.command.join(" ")).toContain("/health");
  });

  it("rollouts keep the old tasks until the new ones are healthy, and roll back on failure", () => {
    for (const s of of(prod, T.service)) {
      expect(s.inputs).toMatchObject({ deploymentMinimumHealthyPercent: 100, deploymentMaximumPercent: 200, deploymentCircuitBreaker: { enable: true, rollback: true }, launchType: "FARGATE" });
    }
    const count = Object.fromEntries(of(prod, T.service).map((s) => [s.inputs.name, s.inputs.desiredCount]));
    expect(count).toEqual({ mlflow: 2, traefik: 2, authelia: 1 });
  });
});

describe("ecs: a rollout without a gap (issue 16)", () => {
  // Each service keeps its old tasks until new ones are healthy (min 100 %, max 200 %), and
  // whatever sends requests to a task sends them only to healthy ones: the load balancer's
  // target group (Traefik, health-checked on /ping, drained 30 s) and Cloud Map (MLflow and
  // Authelia: ECS marks an instance healthy from the container health check,
  // healthCheckCustomConfig). A single task (desiredCount 1) rolls the same way.
  it("every service rolls new-before-old and waits for steady state", () => {
    for (const s of of(prod, T.service)) {
      expect(s.inputs, String(s.inputs.name)).toMatchObject({ deploymentMinimumHealthyPercent: 100, deploymentMaximumPercent: 200, waitForSteadyState: true });
    }
  });

  it("the load balancer sends traffic only to Traefik tasks that answer its health check, and drains the old ones", () => {
    const [tg] = of(prod, "aws:lb/targetGroup:TargetGroup");
    expect(tg.inputs).toMatchObject({ targetType: "ip", deregistrationDelay: 30, healthCheck: { path: "/ping", matcher: "200", healthyThreshold: 2, unhealthyThreshold: 3 } });
    const traefik = of(prod, T.service).find((s) => s.inputs.name === "traefik")!;
    expect(traefik.inputs.loadBalancers).toEqual([expect.objectContaining({ containerName: "traefik" })]);
    expect(traefik.inputs.healthCheckGracePeriodSeconds).toBe(60);
  });

  it("MLflow and Authelia are reached through Cloud Map, which lists a task only while its container health check passes", () => {
    const discovery = of(prod, "aws:servicediscovery/service:Service");
    expect(discovery.map((d) => d.inputs.name).sort()).toEqual(["authelia", "mlflow", "traefik"]);
    for (const d of discovery) {
      expect(d.inputs.healthCheckCustomConfig, String(d.inputs.name)).toEqual({ failureThreshold: 1 });
      expect(d.inputs.dnsConfig).toMatchObject({ routingPolicy: "MULTIVALUE", dnsRecords: [{ type: "A", ttl: 10 }] });
    }
    for (const s of of(prod, T.service)) expect(s.inputs.serviceRegistries, String(s.inputs.name)).toBeDefined();
    // Every container that serves has a health check for ECS to go by.
    for (const td of of(prod, T.taskDef)) {
      for (const c of containers(td).filter((c: any) => c.essential)) expect(c.healthCheck?.command?.length, `${td.name} ${c.name}`).toBeGreaterThan(1);
    }
  });
});

describe("ecs: the API user and the people of the portal", () => {
  const secretValue = (p: Plan, env: string) => String(of(p, T.secretVersion).find((v) => v.name === `mlflow-target-mlflow-${env.toLowerCase().replace(/_/g, "-")}`)!.inputs.secretString);

  it("the API user is MLflow's (its password in MLFLOW_API_USER_PASSWORDS), never Authelia's; Authelia holds people only", async () => {
    const users = of(revealed, T.secretVersion).find((v) => v.name.endsWith("mlflow-kit-authelia-users"))!;
    const db = parse(String(users.inputs.secretString)) as { users: Record<string, any> };
    expect(Object.keys(db.users)).toEqual(["alice"]);
    expect(db.users.alice.groups).toEqual(["mlflow-users"]);
    expect(JSON.parse(secretValue(revealed, "MLFLOW_API_USER_PASSWORDS"))).toEqual({ "mlflow-api": String(revealed.outputs.apiPassword) });
    expect(String(revealed.outputs.apiPassword)).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(prod.outputs.apiPassword).toBe("[secret]");
  });

  it("rotation.apiUserPassword gives a new password to MLflow's API user, and a new MLflow task definition", async () => {
    const bumped = await plan("prod", { strict: true, revealSecrets: true, overrides: { "mlflow-kit:rotation": JSON.stringify({ apiUserPassword: 1 }) } });
    expect(bumped.outputs.apiPassword).not.toBe(revealed.outputs.apiPassword);
    expect(JSON.parse(secretValue(bumped, "MLFLOW_API_USER_PASSWORDS"))).toEqual({ "mlflow-api": String(bumped.outputs.apiPassword) });
    const mlflow = (p: Plan) => one(p, T.taskDef, "mlflow-target-mlflow-task").inputs.containerDefinitions;
    expect(mlflow(bumped)).not.toBe(mlflow(revealed));
  });

  it("server.defaultPermission, server.adminUsername and the admin-password and flask-secret rotations reach MLflow on ecs", async () => {
    const changed = await plan("prod", { strict: true, revealSecrets: true, overrides: {
      "mlflow-kit:server": JSON.stringify({ workers: 2, adminUsername: "root", defaultPermission: "NO_PERMISSIONS" }),
      "mlflow-kit:rotation": JSON.stringify({ adminPassword: 1, flaskSecretKey: 1 }),
    } });
    const env = (p: Plan) => Object.fromEntries(containers(one(p, T.taskDef, "mlflow-target-mlflow-task"))[1].environment.map((e: any) => [e.name, e.value]));
    expect(env(revealed)).toMatchObject({ MLFLOW_DEFAULT_PERMISSION: "READ", MLFLOW_ADMIN_USERNAME: "admin" });
    expect(env(changed)).toMatchObject({ MLFLOW_DEFAULT_PERMISSION: "NO_PERMISSIONS", MLFLOW_ADMIN_USERNAME: "root" });
    for (const secret of ["MLFLOW_ADMIN_PASSWORD", "MLFLOW_FLASK_SERVER_SECRET_KEY"]) {
      expect(secretValue(changed, secret), secret).not.toBe(secretValue(revealed, secret));
    }
    // The Remote-User path is vouched for by a secret only Traefik and MLflow hold.
    const edge = secretValue(revealed, "MLFLOW_EDGE_SECRET");
    expect(edge).toMatch(/^[A-Za-z0-9]{48}$/);
    const dynamic = parse(String(of(revealed, T.secretVersion).find((v) => v.name === "mlflow-target-traefik-mlflow-kit-traefik-dynamic")!.inputs.secretString));
    expect(dynamic.http.middlewares["edge-identity"].headers.customRequestHeaders["X-Mlflow-Kit-Edge"]).toBe(edge);
  });

  it("images are pinned by digest and pulled from ECR Public (Traefik) and GHCR with the kit's credential (Authelia)", () => {
    const [traefik] = containers(one(prod, T.taskDef, "mlflow-target-traefik-task"));
    const [authelia] = containers(one(prod, T.taskDef, "mlflow-target-authelia-task"));
    expect(traefik.image).toMatch(/^public\.ecr\.aws\/docker\/library\/traefik:v[0-9.]+@sha256:[0-9a-f]{64}$/);
    expect(authelia.image).toMatch(/^ghcr\.io\/authelia\/authelia:4\.39\.\d+@sha256:[0-9a-f]{64}$/);
    expect(authelia.repositoryCredentials.credentialsParameter).toMatch(/^arn:aws:secretsmanager:/);
    // RDS's CAs come with the task (a secret), never from the internet at start.
    expect(authelia.command.join("\n")).not.toMatch(/wget|curl|https?:\/\//);
  });
});

describe("ecs: alarms", () => {
  it("5xx, unhealthy targets, task memory, RDS storage and CPU, all to the SNS topic; subscribers from config", async () => {
    const alarms = of(prod, T.alarm);
    const metrics = alarms.map((a) => `${a.inputs.namespace}/${a.inputs.metricName}`).sort();
    expect(metrics).toEqual([
      "AWS/ApplicationELB/HTTPCode_ELB_5XX_Count", "AWS/ApplicationELB/HTTPCode_Target_5XX_Count", "AWS/ApplicationELB/UnHealthyHostCount",
      "AWS/ECS/MemoryUtilization", "AWS/ECS/MemoryUtilization", "AWS/ECS/MemoryUtilization", "AWS/RDS/CPUUtilization", "AWS/RDS/FreeStorageSpace",
    ]);
    const topic = await new Promise<string>((r) => (of(prod, T.topic)[0].resource as any).arn.apply((v: string) => { r(v); return v; }));
    for (const a of alarms) {
      expect(a.inputs.alarmActions, a.name).toEqual([topic]);
      expect(a.inputs.okActions, a.name).toEqual([topic]);
    }
    expect(of(prod, T.subscription).map((s) => [s.inputs.protocol, s.inputs.endpoint])).toEqual([["email", "platform@example.com"]]);
    const memory = alarms.filter((a) => a.inputs.metricName === "MemoryUtilization").map((a) => (a.inputs.dimensions as any).ServiceName).sort();
    expect(memory).toEqual(["authelia", "mlflow", "traefik"]);
    const storage = alarms.find((a) => a.inputs.metricName === "FreeStorageSpace")!;
    expect(storage.inputs).toMatchObject({ comparisonOperator: "LessThanThreshold", threshold: 2 * 1024 ** 3, dimensions: { DBInstanceIdentifier: "mlflow-kit-prod-db" } });
  });
});

describe("ecs: variations", () => {
  it("a Route 53 zone gets the validation and alias records; nothing is left to add by hand", async () => {
    const target = { ...(parse(JSON.stringify(JSON.parse(prodTarget()))) as object), hostedZoneId: "Z0123456789ABCDEFGHIJ" };
    const p = await plan("prod", { strict: true, overrides: { "mlflow-kit:target": JSON.stringify(target) } });
    const records = of(p, T.record);
    expect(records.filter((r) => r.inputs.type === "A").map((r) => r.inputs.name).sort()).toEqual(["auth.example.com", "mlflow.example.com"]);
    expect(records.filter((r) => r.inputs.type === "CNAME")).toHaveLength(2);
    for (const r of records) expect(r.inputs.zoneId).toBe("Z0123456789ABCDEFGHIJ");
    expect(p.outputs.dnsRecords).toEqual([]);
    expect((prod.outputs.dnsRecords as any[]).map((r) => r.name)).toEqual(expect.arrayContaining(["mlflow.example.com.", "auth.example.com."]));
  });

  it("an existing VPC: the load balancer in the given public subnets, tasks in the database's private ones, no NAT created", async () => {
    const overrides = {
      "mlflow-kit:database": JSON.stringify({ kind: "rds", vpcId: "vpc-0abc12345def67890", privateSubnetIds: ["subnet-0aaa00000000001", "subnet-0bbb00000000002"], backupRetentionDays: 14 }),
      "mlflow-kit:target": JSON.stringify({ ...JSON.parse(prodTarget()), publicSubnetIds: ["subnet-0ccc00000000003", "subnet-0ddd00000000004"] }),
    };
    const p = await plan("prod", { strict: true, overrides });
    expect(of(p, T.nat)).toHaveLength(0);
    expect(of(p, T.subnet)).toHaveLength(0);
    expect(one(p, "aws:lb/loadBalancer:LoadBalancer", "mlflow-target-lb-alb").inputs.subnets).toEqual(["subnet-0ccc00000000003", "subnet-0ddd00000000004"]);
    for (const s of of(p, T.service)) expect((s.inputs.networkConfiguration as any).subnets).toEqual(["subnet-0aaa00000000001", "subnet-0bbb00000000002"]);
  });
});

function prodTarget(): string {
  const doc = parse(require("node:fs").readFileSync(require("node:path").join(__dirname, "..", "..", "Pulumi.prod.yaml"), "utf8"));
  return JSON.stringify(doc.config["mlflow-kit:target"]);
}
