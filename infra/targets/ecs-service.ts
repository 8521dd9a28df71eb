import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface ContainerSpec {
  name: string;
  image: pulumi.Input<string>;
  essential: boolean;
  entryPoint?: string[];
  command?: string[];
  /** Plain values only: anything secret goes in `secrets`. */
  environment: Record<string, pulumi.Input<string>>;
  /** Names of FargateServiceArgs.secrets this container receives (as env, from Secrets Manager). */
  secrets: string[];
  ports?: number[];
  healthCheck?: string[];
  dependsOn?: { containerName: string; condition: "START" | "COMPLETE" | "SUCCESS" | "HEALTHY" }[];
  /** Pull with the service's registry credential (a private GHCR image). */
  privateRegistry?: boolean;
  /**
   * Directories the container writes. The root filesystem is read-only (FSBP ECS.5); each path
   * is an ephemeral task volume (Fargate task storage), shared by the task's containers that
   * name the same path. Fargate creates it owned by root: a non-root process needs a root
   * container to open it up first (see the MLflow service's scratch-permissions).
   */
  writablePaths?: string[];
  /** The user to run as (the image's USER when unset). */
  user?: string;
}

/** A task volume's name for a container path: /etc/traefik -> etc-traefik. */
export const volumeName = (containerPath: string) => containerPath.replace(/^\/+|\/+$/g, "").replace(/[^A-Za-z0-9_-]+/g, "-") || "root";

export interface FargateServiceArgs {
  namePrefix: string;
  /** mlflow, traefik, authelia: names its task family, log group, roles and secrets. */
  service: string;
  lifecycle: "long-lived" | "ephemeral";
  clusterArn: pulumi.Input<string>;
  vpcId: pulumi.Input<string>;
  subnetIds: pulumi.Input<string[]>;
  cpu: number;
  memoryMb: number;
  desiredCount: number;
  architecture: "X86_64" | "ARM64";
  containers: ContainerSpec[];
  /** Env name -> value; each becomes a Secrets Manager secret only this service's execution role reads. */
  secrets: Record<string, pulumi.Input<string>>;
  /** Secrets Manager ARN of {"username","password"} for a private registry. */
  registryCredentialArn?: pulumi.Input<string>;
  /** The tasks' security group (its rules belong to the caller, who sees every service). */
  securityGroupId: pulumi.Input<string>;
  /** The task role's only policy (the MLflow service: its artifact prefix); none for others. */
  taskPolicy?: pulumi.Input<string>;
  /** Cloud Map namespace: <service>.<namespace> resolves to the tasks. */
  namespaceId?: pulumi.Input<string>;
  loadBalancer?: { targetGroupArn: pulumi.Input<string>; containerName: string; containerPort: number };
  tags: Record<string, string>;
}

/**
 * One Fargate service: its log group (with retention), execution role that
 * reads only its own secrets and writes only its own logs, optional task role, task definition
 * and service. Secrets reach containers only through `secrets` (valueFrom Secrets Manager,
 * pinned to the version this update wrote), never through `environment`: a new secret value is
 * a new task definition, which ECS rolls out with the old tasks serving until the new are healthy.
 */
export class FargateService extends pulumi.ComponentResource {
  readonly serviceName: pulumi.Output<string>;
  readonly logGroupName: pulumi.Output<string>;
  readonly taskDefinitionArn: pulumi.Output<string>;
  readonly taskRoleArn: pulumi.Output<string> | undefined;

  constructor(name: string, args: FargateServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mlflow-kit:targets:FargateService", name, {}, opts);
    const tags = args.tags;
    const id = `${args.namePrefix}-${args.service}`;
    const longLived = args.lifecycle === "long-lived";
    for (const c of args.containers) {
      for (const s of c.secrets) if (!(s in args.secrets)) throw new Error(`FargateService ${name}: container ${c.name} asks for secret ${s}, which is not given`);
      for (const e of Object.keys(c.environment)) if (e in args.secrets) throw new Error(`FargateService ${name}: ${e} is a secret and must not be in ${c.name}'s environment`);
    }

    const logGroup = new aws.cloudwatch.LogGroup(`${name}-logs`, {
      name: `/ecs/${args.namePrefix}/${args.service}`,
      retentionInDays: longLived ? 90 : 14,
      tags,
    }, { parent: this });

    // One secret per value; the version resource is replaced when the value changes.
    const secretRefs: Record<string, { arn: pulumi.Output<string>; valueFrom: pulumi.Output<string> }> = {};
    for (const [envName, value] of Object.entries(args.secrets)) {
      const slug = envName.toLowerCase().replace(/_/g, "-");
      const secret = new aws.secretsmanager.Secret(`${name}-${slug}`, {
        name: `${args.namePrefix}/${args.service}/${envName}`,
        description: `${envName} of the ${args.service} tasks`,
        // A review stack's secrets go at once, so the same stack can be created again.
        recoveryWindowInDays: longLived ? 7 : 0,
        tags,
      }, { parent: this });
      const version = new aws.secretsmanager.SecretVersion(`${name}-${slug}`, { secretId: secret.id, secretString: pulumi.secret(value) }, { parent: this });
      // arn:...:secret:name-AbCdEf:<json-key>:<version-stage>:<version-id>
      secretRefs[envName] = { arn: secret.arn, valueFrom: pulumi.interpolate`${secret.arn}:::${version.versionId}` };
    }

    const assume = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "ecs-tasks.amazonaws.com" }, Action: "sts:AssumeRole" }] });
    const executionRole = new aws.iam.Role(`${name}-execution`, {
      name: `${id}-execution`,
      description: `Starts the ${args.service} tasks: its own secrets and logs only`,
      assumeRolePolicy: assume,
      tags,
    }, { parent: this });
    const readable = [...Object.values(secretRefs).map((r) => r.arn), ...(args.registryCredentialArn ? [pulumi.output(args.registryCredentialArn)] : [])];
    new aws.iam.RolePolicy(`${name}-execution`, {
      role: executionRole.id,
      policy: pulumi.all([pulumi.all(readable), logGroup.arn]).apply(([arns, logArn]) => JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          ...(arns.length ? [{ Sid: "OwnSecrets", Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: arns }] : []),
          { Sid: "OwnLogs", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: `${logArn}:*` },
        ],
      })),
    }, { parent: this });

    let taskRole: aws.iam.Role | undefined;
    if (args.taskPolicy) {
      taskRole = new aws.iam.Role(`${name}-task`, {
        name: `${id}-task`,
        description: `What the ${args.service} containers may do in AWS`,
        assumeRolePolicy: assume,
        tags,
      }, { parent: this });
      new aws.iam.RolePolicy(`${name}-task`, { role: taskRole.id, policy: args.taskPolicy }, { parent: this });
    }

    const region = aws.getRegionOutput({}, { parent: this });
    const containerDefinitions = pulumi.all([
      pulumi.all(args.containers.map((c) => pulumi.all([pulumi.output(c.image), pulumi.all(c.environment)]))),
      pulumi.all(Object.fromEntries(Object.entries(secretRefs).map(([k, r]) => [k, r.valueFrom]))),
      logGroup.name, region.region, pulumi.output(args.registryCredentialArn),
    ]).apply(([resolved, valueFrom, logGroupName, regionName, registryArn]) => JSON.stringify(args.containers.map((c, i) => {
      const [image, environment] = resolved[i];
      return {
        name: c.name,
        image,
        essential: c.essential,
        ...(c.entryPoint ? { entryPoint: c.entryPoint } : {}),
        ...(c.command ? { command: c.command } : {}),
        environment: Object.entries(environment).sort(([a], [b]) => a.localeCompare(b)).map(([name, value]) => ({ name, value })),
        secrets: [...c.secrets].sort().map((s) => ({ name: s, valueFrom: valueFrom[s] })),
        portMappings: (c.ports ?? []).map((p) => ({ containerPort: p, protocol: "tcp" })),
        ...(c.healthCheck ? { healthCheck: { command: c.healthCheck, interval: 15, timeout: 5, retries: 3, startPeriod: 60 } } : {}),
        ...(c.dependsOn ? { dependsOn: c.dependsOn } : {}),
        ...(c.privateRegistry && registryArn ? { repositoryCredentials: { credentialsParameter: registryArn } } : {}),
        ...(c.user ? { user: c.user } : {}),
        readonlyRootFilesystem: true,
        mountPoints: (c.writablePaths ?? []).map((containerPath) => ({ sourceVolume: volumeName(containerPath), containerPath, readOnly: false })),
        logConfiguration: { logDriver: "awslogs", options: { "awslogs-group": logGroupName, "awslogs-region": regionName, "awslogs-stream-prefix": c.name } },
      };
    })));

    const taskDefinition = new aws.ecs.TaskDefinition(`${name}-task`, {
      family: id,
      requiresCompatibilities: ["FARGATE"],
      networkMode: "awsvpc",
      cpu: String(args.cpu),
      memory: String(args.memoryMb),
      executionRoleArn: executionRole.arn,
      taskRoleArn: taskRole?.arn,
      runtimePlatform: { operatingSystemFamily: "LINUX", cpuArchitecture: args.architecture },
      containerDefinitions,
      // Fargate task storage (no host path): what writablePaths mount.
      volumes: [...new Set(args.containers.flatMap((c) => c.writablePaths ?? []).map(volumeName))].map((name) => ({ name })),
      tags,
    }, { parent: this });

    let registry: aws.servicediscovery.Service | undefined;
    if (args.namespaceId) {
      registry = new aws.servicediscovery.Service(`${name}-discovery`, {
        name: args.service,
        namespaceId: args.namespaceId,
        dnsConfig: { namespaceId: args.namespaceId, routingPolicy: "MULTIVALUE", dnsRecords: [{ type: "A", ttl: 10 }] },
        healthCheckCustomConfig: { failureThreshold: 1 },
        tags,
      }, { parent: this });
    }

    const service = new aws.ecs.Service(`${name}-service`, {
      name: args.service,
      cluster: args.clusterArn,
      taskDefinition: taskDefinition.arn,
      desiredCount: args.desiredCount,
      launchType: "FARGATE",
      platformVersion: "LATEST",
      networkConfiguration: { subnets: args.subnetIds, securityGroups: [args.securityGroupId], assignPublicIp: false },
      // Rolling: new tasks start and turn healthy before old ones stop; a failing rollout rolls back.
      deploymentMinimumHealthyPercent: 100,
      deploymentMaximumPercent: 200,
      deploymentCircuitBreaker: { enable: true, rollback: true },
      ...(registry ? { serviceRegistries: { registryArn: registry.arn } } : {}),
      ...(args.loadBalancer ? { loadBalancers: [args.loadBalancer], healthCheckGracePeriodSeconds: 60 } : {}),
      propagateTags: "SERVICE",
      enableExecuteCommand: false,
      waitForSteadyState: true,
      tags,
    }, { parent: this });

    this.serviceName = service.name;
    this.logGroupName = logGroup.name;
    this.taskDefinitionArn = taskDefinition.arn;
    this.taskRoleArn = taskRole?.arn;
    this.registerOutputs({ serviceName: this.serviceName, logGroupName: this.logGroupName });
  }
}
