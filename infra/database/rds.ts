import * as aws from "@pulumi/aws";
import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { bootstrapHandlerBundle, bootstrapHandlerHash } from "./bootstrap/bundle";
import type { BootstrapEvent } from "./bootstrap/handler";
import { APP_ROLE, AUTH_DATABASE, MetadataDatabase, TRACKING_DATABASE } from "./types";

export interface RdsDatabaseArgs {
  identifier: string;                 // physical: `${project}-${stack}-db`
  lifecycle: "long-lived" | "ephemeral";
  instanceClass: string;              // e.g. db.t4g.micro
  engineVersion: string;              // e.g. "16"
  allocatedStorageGb: number;
  maxAllocatedStorageGb: number;      // storage autoscaling ceiling
  multiAz: boolean;
  backupRetentionDays: number;        // >= 1 (automated backups on)
  vpc: { create: { cidrBlock: string; availabilityZoneCount: number } } | { existing: { vpcId: string; privateSubnetIds: string[] } };
  bootstrap: "lambda" | "direct";
  /** Security groups allowed to connect on 5432 (the MLflow service's SG). May be empty now; the ECS target passes its SG later. */
  clientSecurityGroupIds: pulumi.Input<string>[];
  /** Changing this number generates a new app-role password (random.RandomPassword keepers). */
  passwordRotation: number;
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
 *   bootstrap/handler.ts; an aws.lambda.Invocation calls it, again whenever its input (the
 *   passwords, the endpoint) or its code changes.
 * - bootstrap "direct": for runners inside the network (self-hosted runner, VPN), the
 *   PostgreSQL provider talks to the instance itself. The runner's security group must then be
 *   one of clientSecurityGroupIds (or add its own rule to `securityGroupId`).
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
        }, { parent: this }).id);
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
    args.clientSecurityGroupIds.forEach((sg, i) => allowFrom(`${name}-db-from-client-${i + 1}`, sg, "PostgreSQL from an MLflow client"));

    // ---- Parameter group: refuse connections without TLS (the URIs say sslmode=require too).
    const major = args.engineVersion.split(".")[0];
    const parameterGroup = new aws.rds.ParameterGroup(`${name}-params`, {
      namePrefix: `${id}-pg${major}-`,
      family: `postgres${major}`,
      description: `PostgreSQL ${major} for ${id}: TLS only`,
      parameters: [{ name: "rds.force_ssl", value: "1", applyMethod: "immediate" }],
      tags,
    }, { parent: this });

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

    const instance = new aws.rds.Instance(`${name}-instance`, {
      identifier: id,
      engine: "postgres",
      engineVersion: args.engineVersion,
      instanceClass: args.instanceClass,
      allocatedStorage: args.allocatedStorageGb,
      maxAllocatedStorage: args.maxAllocatedStorageGb,
      storageType: "gp3",
      storageEncrypted: true,
      multiAz: args.multiAz,
      port: PORT,
      username: MASTER_USERNAME,
      password: pulumi.secret(masterPassword.result),
      dbSubnetGroupName: subnetGroup.name,
      vpcSecurityGroupIds: [dbSg.id],
      parameterGroupName: parameterGroup.name,
      publiclyAccessible: false,
      backupRetentionPeriod: args.backupRetentionDays,
      copyTagsToSnapshot: true,
      autoMinorVersionUpgrade: true,
      performanceInsightsEnabled: false,
      // MLflow's SQLAlchemy URI holds a fixed password; IAM tokens expire after 15 minutes.
      iamDatabaseAuthenticationEnabled: false,
      deletionProtection: longLived,
      skipFinalSnapshot: !longLived,
      finalSnapshotIdentifier: longLived ? `${id}-final` : undefined,
      // Keep automated backups of a deleted long-lived instance; review stacks leave nothing.
      deleteAutomatedBackups: !longLived,
      // Review stacks apply changes now; prod waits for its maintenance window.
      applyImmediately: !longLived,
      tags,
    }, longLived ? { parent: this, protect: true, retainOnDelete: true } : { parent: this });

    this.tags = tags;
    this.instance = instance;
    this.masterPassword = masterPassword;

    // ---- Bootstrap: role + databases, by one of the two routes.
    const bootstrap = args.bootstrap === "lambda"
      ? this.bootstrapWithLambda(name, args, { subnetIds, vpcId, dbSg, allowFrom, instance, masterPassword, appPassword })
      : this.bootstrapDirect(name, { instance, masterPassword, appPassword });

    this.ready = pulumi.all([bootstrap, instance.address]).apply(([, address]) => `${APP_ROLE}@${address}/${DATABASES.join(",")}`);
    // Built from `ready`, so anything consuming a URI also waits for the bootstrap.
    const uri = (database: string) => pulumi.secret(
      pulumi.all([appPassword.result, instance.address, instance.port, this.ready]).apply(([password, host, port]) =>
        `postgresql://${APP_ROLE}:${encodeURIComponent(password)}@${host}:${port}/${database}?sslmode=require`));
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

  /** A function in the private subnets runs the SQL; an Invocation runs the function. */
  private bootstrapWithLambda(name: string, args: RdsDatabaseArgs, r: {
    subnetIds: pulumi.Output<string>[];
    vpcId: pulumi.Output<string>;
    dbSg: aws.ec2.SecurityGroup;
    allowFrom: (ruleName: string, source: pulumi.Input<string>, description: string) => aws.vpc.SecurityGroupIngressRule;
    instance: aws.rds.Instance;
    masterPassword: random.RandomPassword;
    appPassword: random.RandomPassword;
  }): pulumi.Output<unknown> {
    const id = args.identifier;
    const tags = args.tags;
    const functionName = `${id}-bootstrap`;

    // Its own group: out to the database on 5432 and nowhere else (DNS to the VPC resolver is
    // not subject to security groups), nothing in.
    const fnSg = new aws.ec2.SecurityGroup(`${name}-bootstrap`, {
      namePrefix: `${id}-bootstrap-`,
      description: "MLflow database bootstrap function: out to PostgreSQL only",
      vpcId: r.vpcId,
      tags: { ...tags, Name: `${id}-bootstrap` },
    }, { parent: this });
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

    // Only what a VPC function needs: its network interfaces and its logs. No AWS API calls.
    const role = new aws.iam.Role(`${name}-bootstrap`, {
      name: functionName,
      description: `Runs the database bootstrap of ${id}`,
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
      }),
      tags,
    }, { parent: this });
    const partition = aws.getPartitionOutput({}, { parent: this });
    const vpcAccess = new aws.iam.RolePolicyAttachment(`${name}-bootstrap-vpc-access`, {
      role: role.name,
      policyArn: pulumi.interpolate`arn:${partition.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole`,
    }, { parent: this });
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
      code: new pulumi.asset.AssetArchive({ "index.js": new pulumi.asset.StringAsset(bootstrapHandlerBundle()) }),
      role: role.arn,
      memorySize: 256,
      // Room for the handler's connection retries while a fresh instance settles.
      timeout: 120,
      vpcConfig: { subnetIds: r.subnetIds, securityGroupIds: [fnSg.id] },
      // Node 20+ runtimes no longer load the Amazon CAs by default; RDS's certificate needs them.
      environment: { variables: { NODE_EXTRA_CA_CERTS: "/var/runtime/ca-cert.pem" } },
      loggingConfig: { logFormat: "Text", logGroup: logGroup.name },
      tags,
    }, { parent: this, dependsOn: [vpcAccess, logGroup] });
    this.bootstrapFunction = fn;

    // The whole input is secret (it carries both passwords). With the default CREATE_ONLY scope
    // a changed input or trigger replaces the Invocation, which invokes the function again.
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
    const invocation = new aws.lambda.Invocation(`${name}-bootstrap`, {
      functionName: fn.name,
      // Invoke on create and replace only; deleting the Invocation runs nothing.
      lifecycleScope: "CREATE_ONLY",
      input,
      triggers: { code: bootstrapHandlerHash() },
    }, { parent: this, dependsOn: [r.instance, ingress, egress] });
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
      sslmode: "require",
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
      done = new aws.lambda.Invocation(`${name}-bootstrap`, {
        functionName: this.bootstrapFunction.name,
        lifecycleScope: "CREATE_ONLY",
        input,
        triggers: { code: bootstrapHandlerHash() },
      }, { parent: this, dependsOn: [this.instance] }).result;
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

/**
 * The first `count` subnets of the VPC range, each 1/16 of it (a /16 gives /20s): the rest of
 * the range stays free for subnets other components add (an ECS target's public subnets).
 */
export function subnetCidrs(vpcCidr: string, count: number): string[] {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(vpcCidr);
  const octets = m ? m.slice(1, 5).map(Number) : [];
  const prefix = m ? Number(m[5]) : NaN;
  if (!m || octets.some((o) => o > 255) || prefix < 16 || prefix > 24) {
    throw new Error(`vpc cidrBlock ${vpcCidr} must be an IPv4 range from /16 to /24`);
  }
  const newPrefix = prefix + 4;
  const size = 2 ** (32 - newPrefix);
  const base = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
  if (base % 2 ** (32 - prefix) !== 0) throw new Error(`vpc cidrBlock ${vpcCidr} has host bits set`);
  return Array.from({ length: count }, (_, i) => {
    const n = (base + i * size) >>> 0;
    return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/${newPrefix}`;
  });
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
  if (!/^\d+(\.\d+)?$/.test(a.engineVersion)) fail(`engineVersion "${a.engineVersion}" must look like "16" or "16.4"`);
  if (!Number.isInteger(a.allocatedStorageGb) || a.allocatedStorageGb < 20) fail("allocatedStorageGb must be an integer >= 20 (gp3 minimum)");
  if (!Number.isInteger(a.maxAllocatedStorageGb) || a.maxAllocatedStorageGb <= a.allocatedStorageGb) {
    fail("maxAllocatedStorageGb must be an integer above allocatedStorageGb");
  }
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
