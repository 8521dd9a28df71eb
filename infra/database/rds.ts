import * as aws from "@pulumi/aws";
import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { FunctionInvocation } from "../providers/aws/lambda-invocation";
import { bootstrapHandlerBundle, bootstrapHandlerHash } from "./bootstrap/bundle";
import { BUNDLED_CA_FILE, type BootstrapEvent } from "./bootstrap/handler";
import { RDS_CA_BUNDLE_FILE, RDS_CA_BUNDLE_IMAGE_PATH, rdsCaBundle } from "./rds-ca";
import { POSTGRES_MAJORS, storageCeilingProblem, subnetCidrs } from "./rds-rules";
import { APP_ROLE, AUTH_DATABASE, MetadataDatabase, TRACKING_DATABASE } from "./types";

export { subnetCidrs } from "./rds-rules";

export interface RdsDatabaseArgs {
  identifier: string;                 // physical: `${project}-${stack}-db`
  lifecycle: "long-lived" | "ephemeral";
  instanceClass: string;              // e.g. db.t4g.micro
  engineVersion: string;              // a major only, e.g. "16": RDS applies minor versions itself
  allocatedStorageGb: number;
  maxAllocatedStorageGb: number;      // storage autoscaling ceiling: >= allocated + 10%, or equal (autoscaling off)
  multiAz: boolean;
  backupRetentionDays: number;        // >= 1 (automated backups on)
  vpc: { create: { cidrBlock: string; availabilityZoneCount: number } } | { existing: { vpcId: string; privateSubnetIds: string[] } };
  bootstrap: "lambda" | "direct";
  /**
   * Security group ids (from config) admitted on 5432. Each rule is named after its group id,
   * so removing one group from the list never turns another group's rule into it.
   */
  clientSecurityGroupIds: string[];
  /**
   * Groups other components create (ids known only after deploy), admitted on 5432, each under
   * a stable key of the caller's choosing (e.g. "ecs-service"): the key names the rule.
   */
  clientSecurityGroups?: Record<string, pulumi.Input<string>>;
  /** Apply instance changes now, not in the maintenance window. Default: ephemeral stacks only. */
  applyImmediately?: boolean;
  /** Long-lived only: protection off before `pulumi destroy` (README "Decommissioning a long-lived stack"). */
  decommission?: boolean;
  /** Changing this number generates a new app-role password (random.RandomPassword keepers). */
  passwordRotation: number;
  /** A created VPC's flow logs go to this bucket, under vpc-flow-logs/ (FSBP EC2.6); none when unset. */
  flowLogsBucketName?: pulumi.Input<string>;
  /**
   * PostgreSQL and upgrade logs to CloudWatch Logs (FSBP RDS.9, RDS.36), kept retentionDays;
   * Enhanced Monitoring every enhancedMonitoringSeconds, 0 = off (FSBP RDS.6).
   */
  logs?: { exportToCloudWatch: boolean; retentionDays: number; enhancedMonitoringSeconds: number };
  /** Create the instance from a backup (README "Backup and restore"); read on creation only. */
  restoreFrom?: { snapshotIdentifier?: string; sourceInstance?: string; time?: string; latest?: boolean };
  tags: Record<string, string>;
}

/** The RDS master user: only the bootstrap uses it; MLflow connects as APP_ROLE. */
export const MASTER_USERNAME = "mlflow_admin";
const PORT = 5432;
const DATABASES = [TRACKING_DATABASE, AUTH_DATABASE];

/**
 * PostgreSQL on RDS, private: in its own VPC's private subnets (or an existing VPC's), never
 * publicly accessible, TLS forced, reachable on 5432 only from the given security groups.
 *
 * The role and the two databases are created during `pulumi up` although the runner cannot
 * reach the instance:
 * - bootstrap "lambda" (default): a small function inside the VPC runs the idempotent SQL of
 *   bootstrap/handler.ts; a FunctionInvocation (providers/aws/lambda-invocation.ts) calls it, again
 *   whenever its input (the passwords, the endpoint) or its code changes, first waking the
 *   function and waiting until it is Active (a VPC function idle for weeks is Inactive).
 * - bootstrap "direct": for runners inside the network (self-hosted runner, VPN), the
 *   PostgreSQL provider talks to the instance itself. The runner's security group must then be
 *   one of clientSecurityGroupIds (or add its own rule to `securityGroupId`).
 *
 * Decommissioning (README): long-lived instances are protected (protect + RDS deletion
 * protection) and take a final snapshot on delete; nothing here is retainOnDelete, because a
 * retained instance would keep its subnet group, security group, subnets and VPC in use while
 * `pulumi destroy` deletes them, and DeleteDBInstance (with its final snapshot) would never run.
 * `decommission` turns the protection off so that `pulumi destroy` deletes the instance, which
 * leaves the final snapshot and the automated backups behind.
 *
 * Major versions: `engineVersion` is a major; changing it to N+1 upgrades in place
 * (allowMajorVersionUpgrade). Parameter groups exist per family for N and N-1, so the group
 * the instance still uses while an upgrade is pending is never deleted in that `pulumi up`.
 *
 * Security groups take their rules as separate aws.vpc.SecurityGroup{Ingress,Egress}Rule
 * resources, never inline, so that another component (the ECS target) may add its own rule to
 * `securityGroupId` without the two fighting over the rule set.
 */
export class RdsDatabase extends pulumi.ComponentResource implements MetadataDatabase {
  readonly trackingUri: pulumi.Output<string>;
  readonly authUri: pulumi.Output<string>;
  /** Resolves once the role and databases exist; the URIs resolve only after it, too. */
  readonly ready: pulumi.Output<string>;
  readonly vpcId: pulumi.Output<string>;
  readonly privateSubnetIds: pulumi.Output<string[]>;
  /** The database's security group. */
  readonly securityGroupId: pulumi.Output<string>;
  readonly address: pulumi.Output<string>;
  readonly port: pulumi.Output<number>;
  // What addServiceDatabase reuses: the instance, its master password, and the bootstrap route.
  private readonly tags: Record<string, string>;
  private readonly instance: aws.rds.Instance;
  private readonly masterPassword: random.RandomPassword;
  private bootstrapFunction?: aws.lambda.Function;
  private postgresProvider?: postgresql.Provider;

  constructor(name: string, args: RdsDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    // Checked before super(): bad arguments register nothing.
    validateArgs(args);
    super("mlflow-kit:database:RdsDatabase", name, {}, opts);
    const id = args.identifier;
    const tags = args.tags;
    const longLived = args.lifecycle === "long-lived";
    // Protection holds unless the operator is decommissioning (README runbook).
    const guarded = longLived && !args.decommission;

    // The bootstrap function's role exists before the network it runs in, so that every network
    // resource can depend on it: deleting a VPC function's network interfaces needs that role,
    // and the subnets and security groups wait for those interfaces (DependencyViolation
    // otherwise). Dependents are deleted first, so these go only after the network.
    const lambdaAccess = args.bootstrap === "lambda" ? this.bootstrapRole(name, args) : undefined;
    const afterLambdaAccess = lambdaAccess ? [lambdaAccess.vpcAccess] : [];

    // ---- Network: private subnets only. RDS needs no internet gateway or NAT, and neither does
    // the bootstrap function: it talks to the instance inside the VPC and to nothing else (Lambda
    // ships its logs itself, outside the function's network interface).
    let vpcId: pulumi.Output<string>;
    let subnetIds: pulumi.Output<string>[];
    if ("create" in args.vpc) {
      const { cidrBlock, availabilityZoneCount } = args.vpc.create;
      const vpc = new aws.ec2.Vpc(`${name}-vpc`, {
        cidrBlock,
        // RDS endpoints are DNS names; resolving them inside the VPC needs both.
        enableDnsSupport: true,
        enableDnsHostnames: true,
        tags: { ...tags, Name: `${id}-vpc` },
      }, { parent: this });
      this.guardDefaults(name, id, vpc, cidrBlock, args);
      // Only zones that need no opt-in: Local/Wavelength Zones take no RDS subnet group.
      const zones = aws.getAvailabilityZonesOutput({
        state: "available",
        filters: [{ name: "opt-in-status", values: ["opt-in-not-required"] }],
      }, { parent: this });
      subnetIds = subnetCidrs(cidrBlock, availabilityZoneCount).map((cidr, i) =>
        new aws.ec2.Subnet(`${name}-private-${i + 1}`, {
          vpcId: vpc.id,
          cidrBlock: cidr,
          availabilityZone: zones.names.apply((names) => {
            if (names.length < availabilityZoneCount) {
              throw new Error(`RdsDatabase ${name}: ${availabilityZoneCount} availability zones asked for, the region has ${names.length}`);
            }
            return names[i];
          }),
          mapPublicIpOnLaunch: false,
          tags: { ...tags, Name: `${id}-private-${i + 1}` },
        }, { parent: this, dependsOn: afterLambdaAccess }).id);
      vpcId = vpc.id;
    } else {
      vpcId = pulumi.output(args.vpc.existing.vpcId);
      subnetIds = args.vpc.existing.privateSubnetIds.map((s) => pulumi.output(s));
    }

    const subnetGroup = new aws.rds.SubnetGroup(`${name}-subnets`, {
      name: id,
      description: `Private subnets of ${id}`,
      subnetIds,
      tags,
    }, { parent: this });

    // ---- Security groups. No CIDR rule anywhere: only the listed security groups get in.
    // namePrefix, not name: a replacement can then exist next to the group it replaces.
    const dbSg = new aws.ec2.SecurityGroup(`${name}-db`, {
      namePrefix: `${id}-db-`,
      description: "PostgreSQL for MLflow: 5432 from allowed security groups only",
      vpcId,
      tags: { ...tags, Name: `${id}-db` },
    }, { parent: this });
    const allowFrom = (ruleName: string, source: pulumi.Input<string>, description: string) =>
      new aws.vpc.SecurityGroupIngressRule(ruleName, {
        securityGroupId: dbSg.id,
        referencedSecurityGroupId: source,
        ipProtocol: "tcp",
        fromPort: PORT,
        toPort: PORT,
        description,
        tags,
      }, { parent: this });
    // Named after the group (or the caller's key), never the list position: removing a group
    // from the middle deletes its rule only, instead of rewriting the rules after it.
    for (const sg of args.clientSecurityGroupIds) allowFrom(`${name}-db-from-${sg}`, sg, "PostgreSQL from an MLflow client");
    for (const [key, sg] of Object.entries(args.clientSecurityGroups ?? {})) allowFrom(`${name}-db-from-${key}`, sg, `PostgreSQL from ${key}`);

    // ---- Parameter groups, one per family: the current major's, which the instance uses, and
    // the previous major's, so that during an upgrade from N-1 to N (applied now or pending
    // until the maintenance window) the group the instance still uses is not deleted. Both
    // refuse connections without TLS (the URIs say sslmode=verify-full too).
    const major = args.engineVersion;
    const families = [String(Number(major) - 1), major].filter((m) => (POSTGRES_MAJORS as readonly string[]).includes(m));
    const parameterGroups = Object.fromEntries(families.map((m) => [m, new aws.rds.ParameterGroup(`${name}-params-pg${m}`, {
      namePrefix: `${id}-pg${m}-`,
      family: `postgres${m}`,
      description: `PostgreSQL ${m} for ${id}: TLS only`,
      parameters: [{ name: "rds.force_ssl", value: "1", applyMethod: "immediate" }],
      tags,
    }, { parent: this })]));

    // ---- Credentials. Letters and digits only: safe in a URI and in RDS's master password rules.
    const masterPassword = new random.RandomPassword(`${name}-master-password`, {
      length: 32,
      special: false,
    }, { parent: this });
    const appPassword = new random.RandomPassword(`${name}-app-password`, {
      length: 32,
      special: false,
      keepers: { rotation: String(args.passwordRotation) },
    }, { parent: this });

    // ---- Logs (FSBP RDS.9, RDS.36): RDS writes to /aws/rds/instance/<id>/<type>, creating the
    // group without a retention unless it exists; created here, it expires its logs.
    const logs = args.logs ?? { exportToCloudWatch: false, retentionDays: 90, enhancedMonitoringSeconds: 0 };
    const logTypes = logs.exportToCloudWatch ? ["postgresql", "upgrade"] : [];
    const logGroups = logTypes.map((type) => new aws.cloudwatch.LogGroup(`${name}-logs-${type}`, {
      name: `/aws/rds/instance/${id}/${type}`,
      retentionInDays: logs.retentionDays,
      tags,
    }, { parent: this }));
    // Enhanced Monitoring (FSBP RDS.6): RDS's agent publishes OS metrics with this role.
    const monitoringRole = logs.enhancedMonitoringSeconds > 0 ? this.monitoringRole(name, args) : undefined;

    const instance = new aws.rds.Instance(`${name}-instance`, {
      identifier: id,
      engine: "postgres",
      engineVersion: major,
      // Changing engineVersion to the next major upgrades in place (RDS refuses it otherwise).
      allowMajorVersionUpgrade: true,
      // Said explicitly, not left to the default. Long-lived: when the major reaches the end of
      // RDS standard support, the instance stays on it under Extended Support, billed per vCPU
      // per hour, rather than being upgraded by RDS outside a `pulumi up` (which the next plan
      // would try to undo). Ephemeral: no Extended Support charges ever.
      engineLifecycleSupport: longLived ? "open-source-rds-extended-support" : "open-source-rds-extended-support-disabled",
      instanceClass: args.instanceClass,
      allocatedStorage: args.allocatedStorageGb,
      // Equal means autoscaling off, which RDS takes as 0 (it refuses a ceiling under +10%).
      maxAllocatedStorage: args.maxAllocatedStorageGb === args.allocatedStorageGb ? 0 : args.maxAllocatedStorageGb,
      storageType: "gp3",
      storageEncrypted: true,
      multiAz: args.multiAz,
      port: PORT,
      username: MASTER_USERNAME,
      password: pulumi.secret(masterPassword.result),
      dbSubnetGroupName: subnetGroup.name,
      vpcSecurityGroupIds: [dbSg.id],
      parameterGroupName: parameterGroups[major].name,
      publiclyAccessible: false,
      backupRetentionPeriod: args.backupRetentionDays,
      copyTagsToSnapshot: true,
      autoMinorVersionUpgrade: true,
      performanceInsightsEnabled: false,
      enabledCloudwatchLogsExports: logTypes,
      monitoringInterval: logs.enhancedMonitoringSeconds,
      monitoringRoleArn: monitoringRole?.role.arn,
      // MLflow's SQLAlchemy URI holds a fixed password; IAM tokens expire after 15 minutes.
      iamDatabaseAuthenticationEnabled: false,
      deletionProtection: guarded,
      skipFinalSnapshot: !longLived,
      finalSnapshotIdentifier: longLived ? `${id}-final` : undefined,
      // Keep automated backups of a deleted long-lived instance; review stacks leave nothing.
      deleteAutomatedBackups: !longLived,
      // Review stacks apply changes now; prod waits for its maintenance window unless told.
      applyImmediately: args.applyImmediately ?? !longLived,
      // A restore: the snapshot's or the source's databases, role and master user come along;
      // the bootstrap then sets this stack's passwords on them (its SQL is idempotent).
      ...restoreSource(args.restoreFrom),
      tags,
    }, {
      parent: this,
      protect: guarded,
      dependsOn: [...logGroups, ...(monitoringRole ? [monitoringRole.attachment] : [])],
      // Only creation reads them: a stack restored once must not be replaced when the
      // setting is removed or the snapshot is gone.
      ignoreChanges: ["snapshotIdentifier", "restoreToPointInTime"],
    });

    this.tags = tags;
    this.instance = instance;
    this.masterPassword = masterPassword;

    // ---- Bootstrap: role + databases, by one of the two routes.
    const bootstrap = args.bootstrap === "lambda"
      ? this.bootstrapWithLambda(name, args, { subnetIds, vpcId, dbSg, allowFrom, instance, masterPassword, appPassword, access: lambdaAccess! })
      : this.bootstrapDirect(name, { instance, masterPassword, appPassword });

    this.ready = pulumi.all([bootstrap, instance.address]).apply(([, address]) => `${APP_ROLE}@${address}/${DATABASES.join(",")}`);
    // Built from `ready`, so anything consuming a URI also waits for the bootstrap.
    const uri = (database: string) => pulumi.secret(
      pulumi.all([appPassword.result, instance.address, instance.port, this.ready]).apply(([password, host, port]) =>
        `postgresql://${APP_ROLE}:${encodeURIComponent(password)}@${host}:${port}/${database}?sslmode=verify-full&sslrootcert=${RDS_CA_BUNDLE_IMAGE_PATH}`));
    this.trackingUri = uri(TRACKING_DATABASE);
    this.authUri = uri(AUTH_DATABASE);
    this.vpcId = vpcId;
    this.privateSubnetIds = pulumi.all(subnetIds);
    this.securityGroupId = dbSg.id;
    this.address = instance.address;
    this.port = instance.port;

    this.registerOutputs({
      trackingUri: this.trackingUri,
      authUri: this.authUri,
      ready: this.ready,
      vpcId: this.vpcId,
      privateSubnetIds: this.privateSubnetIds,
      securityGroupId: this.securityGroupId,
      address: this.address,
      port: this.port,
    });
  }

  /**
   * What every VPC comes with, made safe (FSBP EC2.2, EC2.21, EC2.6): the default security
   * group loses AWS's allow rules (nothing here uses it: every resource has its own group); the
   * default network ACL, which every subnet of the VPC uses, admits the VPC itself, ICMP, and
   * TCP/UDP from anywhere on every port except 22 and 3389. Network ACLs are stateless, so the
   * return traffic of the NAT gateway and the load balancer needs the high ports; a NAT
   * connection whose source port happens to be 22 or 3389 (2 of ~64,000) gets no answer and is
   * retried. Security groups remain the filter that matters. Flow logs go to the log bucket.
   */
  private guardDefaults(name: string, id: string, vpc: aws.ec2.Vpc, cidrBlock: string, args: RdsDatabaseArgs): void {
    const tags = args.tags;
    new aws.ec2.DefaultSecurityGroup(`${name}-default-sg`, { vpcId: vpc.id, ingress: [], egress: [], tags: { ...tags, Name: `${id}-default-unused` } }, { parent: this });
    const world = "0.0.0.0/0";
    const ranges: Array<[number, number]> = [[0, 21], [23, 3388], [3390, 65535]];
    const ingress = [
      { ruleNo: 100, protocol: "-1", action: "allow", cidrBlock, fromPort: 0, toPort: 0 },
      { ruleNo: 110, protocol: "icmp", action: "allow", cidrBlock: world, fromPort: 0, toPort: 0, icmpType: -1, icmpCode: -1 },
      ...(["tcp", "udp"] as const).flatMap((protocol, p) => ranges.map(([fromPort, toPort], i) => ({ ruleNo: 200 + p * 100 + i * 10, protocol, action: "allow", cidrBlock: world, fromPort, toPort }))),
    ];
    new aws.ec2.DefaultNetworkAcl(`${name}-default-nacl`, {
      defaultNetworkAclId: vpc.defaultNetworkAclId,
      ingress,
      egress: [{ ruleNo: 100, protocol: "-1", action: "allow", cidrBlock: world, fromPort: 0, toPort: 0 }],
      tags: { ...tags, Name: `${id}-default` },
      // Subnets (ours and the ECS target's) join the default ACL by themselves.
    }, { parent: this, ignoreChanges: ["subnetIds"] });
    if (args.flowLogsBucketName) {
      new aws.ec2.FlowLog(`${name}-flow-logs`, {
        vpcId: vpc.id,
        trafficType: "ALL",
        logDestinationType: "s3",
        logDestination: pulumi.interpolate`arn:aws:s3:::${args.flowLogsBucketName}/vpc-flow-logs/`,
        maxAggregationInterval: 600,
        tags: { ...tags, Name: `${id}-flow-logs` },
      }, { parent: this });
    }
  }

  /** Enhanced Monitoring's role: AWS's managed policy for it, which writes to the RDSOSMetrics log group only. */
  private monitoringRole(name: string, args: RdsDatabaseArgs): { role: aws.iam.Role; attachment: aws.iam.RolePolicyAttachment } {
    const role = new aws.iam.Role(`${name}-monitoring`, {
      name: `${args.identifier}-monitoring`,
      description: `RDS Enhanced Monitoring of ${args.identifier}`,
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "monitoring.rds.amazonaws.com" }, Action: "sts:AssumeRole" }],
      }),
      tags: args.tags,
    }, { parent: this });
    const partition = aws.getPartitionOutput({}, { parent: this });
    const attachment = new aws.iam.RolePolicyAttachment(`${name}-monitoring`, {
      role: role.name,
      policyArn: pulumi.interpolate`arn:${partition.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole`,
    }, { parent: this });
    return { role, attachment };
  }

  /** The bootstrap function's role: only what a VPC function needs, its network interfaces and its logs. */
  private bootstrapRole(name: string, args: RdsDatabaseArgs): { role: aws.iam.Role; vpcAccess: aws.iam.RolePolicyAttachment } {
    const id = args.identifier;
    const role = new aws.iam.Role(`${name}-bootstrap`, {
      name: `${id}-bootstrap`,
      description: `Runs the database bootstrap of ${id}`,
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
      }),
      tags: args.tags,
    }, { parent: this });
    const partition = aws.getPartitionOutput({}, { parent: this });
    const vpcAccess = new aws.iam.RolePolicyAttachment(`${name}-bootstrap-vpc-access`, {
      role: role.name,
      policyArn: pulumi.interpolate`arn:${partition.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole`,
    }, { parent: this });
    return { role, vpcAccess };
  }

  /** A function in the private subnets runs the SQL; a FunctionInvocation runs the function. */
  private bootstrapWithLambda(name: string, args: RdsDatabaseArgs, r: {
    subnetIds: pulumi.Output<string>[];
    vpcId: pulumi.Output<string>;
    dbSg: aws.ec2.SecurityGroup;
    allowFrom: (ruleName: string, source: pulumi.Input<string>, description: string) => aws.vpc.SecurityGroupIngressRule;
    instance: aws.rds.Instance;
    masterPassword: random.RandomPassword;
    appPassword: random.RandomPassword;
    access: { role: aws.iam.Role; vpcAccess: aws.iam.RolePolicyAttachment };
  }): pulumi.Output<unknown> {
    const id = args.identifier;
    const tags = args.tags;
    const functionName = `${id}-bootstrap`;

    // Its own group: out to the database on 5432 and nowhere else (DNS to the VPC resolver is
    // not subject to security groups), nothing in. It holds the function's network interfaces:
    // deleted before the role (dependsOn), which Lambda needs to release them.
    const fnSg = new aws.ec2.SecurityGroup(`${name}-bootstrap`, {
      namePrefix: `${id}-bootstrap-`,
      description: "MLflow database bootstrap function: out to PostgreSQL only",
      vpcId: r.vpcId,
      tags: { ...tags, Name: `${id}-bootstrap` },
    }, { parent: this, dependsOn: [r.access.vpcAccess] });
    const egress = new aws.vpc.SecurityGroupEgressRule(`${name}-bootstrap-to-db`, {
      securityGroupId: fnSg.id,
      referencedSecurityGroupId: r.dbSg.id,
      ipProtocol: "tcp",
      fromPort: PORT,
      toPort: PORT,
      description: "PostgreSQL",
      tags,
    }, { parent: this });
    const ingress = r.allowFrom(`${name}-db-from-bootstrap`, fnSg.id, "PostgreSQL from the bootstrap function");

    // Created here so it has a retention and goes away with the stack.
    const logGroup = new aws.cloudwatch.LogGroup(`${name}-bootstrap`, {
      name: `/aws/lambda/${functionName}`,
      retentionInDays: 30,
      tags,
    }, { parent: this });

    const fn = new aws.lambda.Function(`${name}-bootstrap`, {
      name: functionName,
      description: `Creates ${APP_ROLE} and the MLflow databases on ${id} (idempotent)`,
      runtime: "nodejs22.x",
      architectures: ["arm64"],
      handler: "index.handler",
      // The RDS CA bundle travels with the code: the handler trusts it alone, not the runtime's.
      code: new pulumi.asset.AssetArchive({
        "index.js": new pulumi.asset.StringAsset(bootstrapHandlerBundle()),
        [BUNDLED_CA_FILE]: new pulumi.asset.StringAsset(rdsCaBundle()),
      }),
      role: r.access.role.arn,
      memorySize: 256,
      // Room for the handler's connection retries while a fresh instance settles.
      timeout: 120,
      vpcConfig: { subnetIds: r.subnetIds, securityGroupIds: [fnSg.id] },
      loggingConfig: { logFormat: "Text", logGroup: logGroup.name },
      tags,
    }, { parent: this, dependsOn: [r.access.vpcAccess, logGroup] });
    this.bootstrapFunction = fn;

    // The whole input is secret (it carries both passwords). A changed input or trigger runs the
    // function again; a failed run leaves the previous inputs in state, so the next `pulumi up`
    // retries it (the SQL is idempotent, and the URIs wait for a successful run).
    const input = pulumi.secret(pulumi.all([r.instance.address, r.instance.port, r.masterPassword.result, r.appPassword.result])
      .apply(([host, port, masterPassword, password]) => JSON.stringify({
        host,
        port,
        masterUsername: MASTER_USERNAME,
        masterPassword,
        role: APP_ROLE,
        password,
        databases: DATABASES,
      } satisfies BootstrapEvent)));
    const region = aws.getRegionOutput({}, { parent: this });
    const invocation = new FunctionInvocation(`${name}-bootstrap`, {
      region: region.region,
      functionName: fn.name,
      input,
      triggers: { code: bootstrapHandlerHash() },
    }, { parent: this, dependsOn: [r.instance, ingress, egress, fn] });
    return invocation.result;
  }

  /** The runner reaches the instance: the PostgreSQL provider creates the same objects. */
  private bootstrapDirect(name: string, r: {
    instance: aws.rds.Instance;
    masterPassword: random.RandomPassword;
    appPassword: random.RandomPassword;
  }): pulumi.Output<unknown> {
    const provider = new postgresql.Provider(`${name}-postgres`, {
      host: r.instance.address,
      port: r.instance.port,
      database: "postgres",
      username: MASTER_USERNAME,
      password: pulumi.secret(r.masterPassword.result),
      // Verified against the RDS CA bundle (the runner has the repository, hence the file).
      sslmode: "verify-full",
      sslrootcert: RDS_CA_BUNDLE_FILE,
      // The RDS master is not a superuser; the provider then grants itself roles as needed.
      superuser: false,
      connectTimeout: 30,
    }, { parent: this });
    this.postgresProvider = provider;
    // retainOnDelete: deleting these from the program (or switching to the lambda route) must
    // never DROP a database, and destroying a stack must not need a connection to the instance.
    const opts = { parent: this, provider, retainOnDelete: true };
    const role = new postgresql.Role(`${name}-app-role`, {
      name: APP_ROLE,
      login: true,
      superuser: false,
      createDatabase: false,
      createRole: false,
      password: pulumi.secret(r.appPassword.result),
    }, opts);
    const created: pulumi.Output<string>[] = DATABASES.flatMap((db) => {
      const database = new postgresql.Database(`${name}-${db}`, {
        name: db,
        owner: role.name,
        // Same as the lambda route: UTF8 from template0, the template's locale.
        template: "template0",
        encoding: "UTF8",
        lcCollate: "DEFAULT",
        lcCtype: "DEFAULT",
      }, opts);
      // An empty privilege list for "public" revokes everything PUBLIC had (CONNECT, TEMP).
      const revoke = new postgresql.Grant(`${name}-${db}-revoke-public`, {
        database: database.name,
        role: "public",
        objectType: "database",
        privileges: [],
      }, opts);
      return [database.id, revoke.id];
    });
    return pulumi.all([role.id, ...created]);
  }

  /** Admits a client's security group on 5432 (the ECS target adds its services' groups). */
  admit(name: string, securityGroupId: pulumi.Input<string>, description: string): aws.vpc.SecurityGroupIngressRule {
    return new aws.vpc.SecurityGroupIngressRule(name, {
      securityGroupId: this.securityGroupId,
      referencedSecurityGroupId: securityGroupId,
      ipProtocol: "tcp",
      fromPort: PORT,
      toPort: PORT,
      description,
      tags: this.tags,
    }, { parent: this });
  }

  /**
   * One more login role owning one database on this instance (Authelia's storage), created by
   * the same bootstrap route as MLflow's (the same function, its own invocation). Its password
   * is generated here and rotates with `passwordRotation`.
   */
  addServiceDatabase(name: string, args: { role: string; database: string; passwordRotation: number }): { password: pulumi.Output<string>; ready: pulumi.Output<string> } {
    const password = new random.RandomPassword(`${name}-password`, {
      length: 32,
      special: false,
      keepers: { rotation: String(args.passwordRotation) },
    }, { parent: this });
    let done: pulumi.Output<unknown>;
    if (this.bootstrapFunction) {
      const input = pulumi.secret(pulumi.all([this.instance.address, this.instance.port, this.masterPassword.result, password.result])
        .apply(([host, port, masterPassword, pw]) => JSON.stringify({
          host, port, masterUsername: MASTER_USERNAME, masterPassword, role: args.role, password: pw, databases: [args.database],
        } satisfies BootstrapEvent)));
      done = new FunctionInvocation(`${name}-bootstrap`, {
        region: aws.getRegionOutput({}, { parent: this }).region,
        functionName: this.bootstrapFunction.name,
        input,
        triggers: { code: bootstrapHandlerHash() },
      }, { parent: this, dependsOn: [this.instance, this.bootstrapFunction] }).result;
    } else {
      const opts = { parent: this, provider: this.postgresProvider, retainOnDelete: true };
      const role = new postgresql.Role(`${name}-role`, {
        name: args.role, login: true, superuser: false, createDatabase: false, createRole: false, password: pulumi.secret(password.result),
      }, opts);
      const database = new postgresql.Database(`${name}-database`, {
        name: args.database, owner: role.name, template: "template0", encoding: "UTF8", lcCollate: "DEFAULT", lcCtype: "DEFAULT",
      }, opts);
      const revoke = new postgresql.Grant(`${name}-revoke-public`, { database: database.name, role: "public", objectType: "database", privileges: [] }, opts);
      done = pulumi.all([role.id, database.id, revoke.id]);
    }
    return {
      password: pulumi.secret(password.result),
      ready: pulumi.all([done, this.instance.address]).apply(([, address]) => `${args.role}@${address}/${args.database}`),
    };
  }
}

/** Fails the program early, with the field at fault, instead of midway through `pulumi up`. */
function validateArgs(a: RdsDatabaseArgs): void {
  const fail = (msg: string): never => { throw new Error(`RdsDatabase: ${msg}`); };
  // RDS: letters, digits, hyphens; starts with a letter; no "--" or trailing "-"; 63 at most.
  if (!/^[a-z](?:[a-z0-9]|-(?!-))*[a-z0-9]$/.test(a.identifier) || a.identifier.length > 63) {
    fail(`identifier "${a.identifier}" must be lower-case letters, digits and single hyphens, start with a letter, 63 characters at most`);
  }
  if (a.bootstrap === "lambda" && `${a.identifier}-bootstrap`.length > 64) {
    fail(`identifier "${a.identifier}" is too long for the bootstrap function's name (54 characters at most)`);
  }
  if (!(POSTGRES_MAJORS as readonly string[]).includes(a.engineVersion)) {
    fail(`engineVersion "${a.engineVersion}" must be a major version, one of ${POSTGRES_MAJORS.join(", ")} (RDS applies minor versions itself)`);
  }
  if (!Number.isInteger(a.allocatedStorageGb) || a.allocatedStorageGb < 20) fail("allocatedStorageGb must be an integer >= 20 (gp3 minimum)");
  const storage = Number.isInteger(a.maxAllocatedStorageGb) ? storageCeilingProblem(a.allocatedStorageGb, a.maxAllocatedStorageGb) : "must be an integer";
  if (storage) fail(`maxAllocatedStorageGb ${storage}`);
  if (!Number.isInteger(a.backupRetentionDays) || a.backupRetentionDays < 1 || a.backupRetentionDays > 35) {
    fail("backupRetentionDays must be 1..35 (automated backups stay on)");
  }
  if (!Number.isInteger(a.passwordRotation) || a.passwordRotation < 0) fail("passwordRotation must be an integer >= 0");
  if ("create" in a.vpc) {
    const n = a.vpc.create.availabilityZoneCount;
    if (!Number.isInteger(n) || n < 2 || n > 6) fail("vpc.create.availabilityZoneCount must be 2..6 (an RDS subnet group spans at least two zones)");
    subnetCidrs(a.vpc.create.cidrBlock, n);
  } else {
    const { vpcId, privateSubnetIds } = a.vpc.existing;
    if (!vpcId) fail("vpc.existing.vpcId is empty");
    if (privateSubnetIds.length < 2) fail("vpc.existing.privateSubnetIds needs subnets in at least two availability zones");
  }
}

/** The aws.rds.Instance arguments of a restore: a snapshot, or a point in time of an instance. */
export function restoreSource(restore: RdsDatabaseArgs["restoreFrom"]): Pick<aws.rds.InstanceArgs, "snapshotIdentifier" | "restoreToPointInTime"> {
  if (!restore) return {};
  if (restore.snapshotIdentifier) return { snapshotIdentifier: restore.snapshotIdentifier };
  return {
    restoreToPointInTime: {
      sourceDbInstanceIdentifier: restore.sourceInstance,
      ...(restore.latest ? { useLatestRestorableTime: true } : { restoreTime: restore.time }),
    },
  };
}
