/**
 * RdsDatabase under the offline mocks: the inputs it gives AWS, random and PostgreSQL for the
 * two shapes a stack uses (prod: long-lived, own VPC, lambda bootstrap; review: ephemeral,
 * existing VPC, direct bootstrap).
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { builtinModules } from "node:module";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { bootstrapHandlerBundle } from "../../infra/database/bootstrap/bundle";
import { RdsDatabase, subnetCidrs, type RdsDatabaseArgs } from "../../infra/database/rds";
import { RDS_CA_BUNDLE_FILE } from "../../infra/database/rds-ca";
import { APP_ROLE, AUTH_DATABASE, TRACKING_DATABASE } from "../../infra/database/types";
import { evaluateStack, SECRET, type EvaluatedStack, type PlannedResource } from "../../stacks/offline";

const T = {
  component: "mlflow-kit:database:RdsDatabase",
  vpc: "aws:ec2/vpc:Vpc",
  subnet: "aws:ec2/subnet:Subnet",
  subnetGroup: "aws:rds/subnetGroup:SubnetGroup",
  sg: "aws:ec2/securityGroup:SecurityGroup",
  ingress: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
  egress: "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
  params: "aws:rds/parameterGroup:ParameterGroup",
  instance: "aws:rds/instance:Instance",
  password: "random:index/randomPassword:RandomPassword",
  role: "aws:iam/role:Role",
  attachment: "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
  fn: "aws:lambda/function:Function",
  invocation: "pulumi-nodejs:dynamic/aws:FunctionInvocation",
  pgProvider: "pulumi:providers:postgresql",
  pgRole: "postgresql:index/role:Role",
  pgDatabase: "postgresql:index/database:Database",
  pgGrant: "postgresql:index/grant:Grant",
};

const prodArgs: RdsDatabaseArgs = {
  identifier: "mlflow-kit-prod-db",
  lifecycle: "long-lived",
  instanceClass: "db.t4g.micro",
  engineVersion: "16",
  allocatedStorageGb: 20,
  maxAllocatedStorageGb: 100,
  multiAz: true,
  backupRetentionDays: 7,
  vpc: { create: { cidrBlock: "10.20.0.0/16", availabilityZoneCount: 2 } },
  bootstrap: "lambda",
  clientSecurityGroupIds: ["sg-0ecs0000000000001"],
  passwordRotation: 0,
  tags: { project: "mlflow-kit", stack: "prod" },
};

const reviewArgs: RdsDatabaseArgs = {
  ...prodArgs,
  identifier: "mlflow-kit-pr-42-db",
  lifecycle: "ephemeral",
  multiAz: false,
  backupRetentionDays: 1,
  vpc: { existing: { vpcId: "vpc-0existing0000001", privateSubnetIds: ["subnet-0aaa00000000001", "subnet-0bbb00000000002"] } },
  bootstrap: "direct",
  // Direct mode: the runner reaches the instance, so its security group is a client.
  clientSecurityGroupIds: ["sg-0runner000000001"],
  tags: { project: "mlflow-kit", stack: "pr-42" },
};

function evaluate(args: RdsDatabaseArgs, revealSecrets = false): Promise<EvaluatedStack> {
  return evaluateStack({
    project: "mlflow-kit",
    stack: args.tags.stack,
    config: { "aws:region": "us-east-1" },
    secretKeys: [],
    revealSecrets,
    program: () => {
      const db = new RdsDatabase("metadata", args);
      return {
        trackingUri: db.trackingUri, authUri: db.authUri, ready: db.ready, vpcId: db.vpcId,
        privateSubnetIds: db.privateSubnetIds, securityGroupId: db.securityGroupId, address: db.address, port: db.port,
      };
    },
  });
}

const ofType = (s: EvaluatedStack, type: string) => s.resources.filter((r) => r.type === type);
function only(s: EvaluatedStack, type: string, name?: string): PlannedResource {
  const found = ofType(s, type).filter((r) => name === undefined || r.name === name);
  expect(found, `${type} ${name ?? ""}`).toHaveLength(1);
  return found[0];
}
/** A resource's provider id, as other resources' inputs reference it. */
const idOf = (r: PlannedResource) => new Promise<string>((resolve) => (r.resource as pulumi.CustomResource).id.apply(resolve));

describe("RdsDatabase: long-lived, own VPC, lambda bootstrap", async () => {
  const s = await evaluate(prodArgs);
  const instance = only(s, T.instance).inputs;
  const dbSg = only(s, T.sg, "metadata-db");
  const fnSg = only(s, T.sg, "metadata-bootstrap");
  const subnets = ofType(s, T.subnet);
  const subnetIds = await Promise.all(subnets.map(idOf));

  it("creates a VPC with DNS and one private subnet per zone, and nothing that reaches the internet", async () => {
    expect(only(s, T.vpc).inputs).toMatchObject({ cidrBlock: "10.20.0.0/16", enableDnsSupport: true, enableDnsHostnames: true });
    const vpcId = await idOf(only(s, T.vpc));
    expect(subnets.map((r) => r.inputs)).toEqual([
      expect.objectContaining({ vpcId, cidrBlock: "10.20.0.0/20", availabilityZone: "us-east-1a", mapPublicIpOnLaunch: false }),
      expect.objectContaining({ vpcId, cidrBlock: "10.20.16.0/20", availabilityZone: "us-east-1b", mapPublicIpOnLaunch: false }),
    ]);
    const types = s.resources.map((r) => r.type);
    for (const t of ["aws:ec2/internetGateway:InternetGateway", "aws:ec2/natGateway:NatGateway", "aws:ec2/eip:Eip", "aws:ec2/route:Route", "aws:ec2/vpcEndpoint:VpcEndpoint"]) {
      expect(types).not.toContain(t);
    }
  });

  it("puts the subnet group over exactly those subnets", () => {
    expect(only(s, T.subnetGroup).inputs).toMatchObject({ name: "mlflow-kit-prod-db", subnetIds });
  });

  it("gives the instance encryption, no public access, backups, TLS-only parameters and protection", async () => {
    expect(instance).toMatchObject({
      identifier: "mlflow-kit-prod-db",
      engine: "postgres",
      engineVersion: "16",
      instanceClass: "db.t4g.micro",
      allocatedStorage: 20,
      maxAllocatedStorage: 100,
      storageEncrypted: true,
      publiclyAccessible: false,
      multiAz: true,
      backupRetentionPeriod: 7,
      copyTagsToSnapshot: true,
      deletionProtection: true,
      skipFinalSnapshot: false,
      finalSnapshotIdentifier: "mlflow-kit-prod-db-final",
      deleteAutomatedBackups: false,
      autoMinorVersionUpgrade: true,
      allowMajorVersionUpgrade: true,
      engineLifecycleSupport: "open-source-rds-extended-support",
      applyImmediately: false,
      performanceInsightsEnabled: false,
      username: "mlflow_admin",
      port: 5432,
      dbSubnetGroupName: "mlflow-kit-prod-db",
      vpcSecurityGroupIds: [await idOf(dbSg)],
      tags: prodArgs.tags,
    });
    expect(instance.password).toBe(SECRET);
    expect(instance.parameterGroupName).toMatch(/^mlflow-kit-prod-db-pg16-/);
    // Protected, never retained: see "decommissioning" below.
    expect(only(s, T.instance).options).toMatchObject({ protect: true });
    expect(only(s, T.instance).options.retainOnDelete).toBeFalsy();

    // The current family's group, used by the instance, and the previous family's (upgrades).
    const params = only(s, T.params, "metadata-params-pg16").inputs;
    expect(params).toMatchObject({ family: "postgres16", namePrefix: "mlflow-kit-prod-db-pg16-" });
    expect(params.name).toBeUndefined();
    expect(params.parameters).toEqual([{ name: "rds.force_ssl", value: "1", applyMethod: "immediate" }]);
    expect(only(s, T.params, "metadata-params-pg15").inputs).toMatchObject({ family: "postgres15", parameters: params.parameters });
  });

  it("admits 5432 only from the client security group and the bootstrap function, never from a CIDR", async () => {
    const dbSgId = await idOf(dbSg);
    expect(dbSg.inputs.ingress).toBeUndefined();
    expect(dbSg.inputs.egress).toBeUndefined();
    const rules = ofType(s, T.ingress).map((r) => r.inputs);
    expect(rules.map((r) => r.referencedSecurityGroupId).sort()).toEqual(["sg-0ecs0000000000001", await idOf(fnSg)].sort());
    for (const rule of rules) {
      expect(rule).toMatchObject({ securityGroupId: dbSgId, ipProtocol: "tcp", fromPort: 5432, toPort: 5432 });
      expect(rule.cidrIpv4 ?? rule.cidrIpv6 ?? rule.prefixListId).toBeUndefined();
    }
    // No CIDR anywhere, and no legacy or inline rules that could add one.
    expect(ofType(s, "aws:ec2/securityGroupRule:SecurityGroupRule")).toHaveLength(0);
    // The default network ACL is the one place the world appears: it filters the whole VPC
    // (load balancer, NAT), not the database, and keeps 22 and 3389 closed (FSBP EC2.21).
    expect(JSON.stringify(s.resources.filter((r) => r.type !== "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl").map((r) => r.inputs))).not.toContain("0.0.0.0/0");
    // The function's group: out to the database's group on 5432, nothing else.
    expect(ofType(s, T.egress).map((r) => r.inputs)).toEqual([
      expect.objectContaining({ securityGroupId: await idOf(fnSg), referencedSecurityGroupId: dbSgId, ipProtocol: "tcp", fromPort: 5432, toPort: 5432 }),
    ]);
  });

  it("runs the bootstrap function in the private subnets with its own group and only the VPC access policy", async () => {
    const fn = only(s, T.fn).inputs;
    expect(fn).toMatchObject({
      name: "mlflow-kit-prod-db-bootstrap",
      runtime: "nodejs22.x",
      handler: "index.handler",
      code: "[archive]",
      vpcConfig: { subnetIds, securityGroupIds: [await idOf(fnSg)] },
    });
    // It trusts the RDS CA bundle in its archive, not the runtime's CA store.
    expect(fn.environment).toBeUndefined();
    const role = only(s, T.role);
    expect(fn.role).toBe(`arn:aws:iam::123456789012:role/${role.inputs.name}`);
    expect(JSON.parse(role.inputs.assumeRolePolicy as string).Statement).toEqual([
      { Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" },
    ]);
    expect(ofType(s, T.attachment).map((r) => r.inputs)).toEqual([
      { role: role.inputs.name, policyArn: "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole" },
    ]);
    expect(ofType(s, "aws:iam/rolePolicy:RolePolicy")).toHaveLength(0);
  });

  it("invokes it with a secret input, re-invoked when the code changes", () => {
    const invocation = only(s, T.invocation).inputs;
    expect(invocation.input).toBe(SECRET);
    expect(invocation.functionName).toBe("mlflow-kit-prod-db-bootstrap");
    expect(invocation.region).toBe("us-east-1");
    // A changed input (rotated password, new endpoint) or trigger runs it again.
    expect(invocation.triggers).toEqual({ code: createHash("sha256").update(bootstrapHandlerBundle()).digest("hex") });
    expect(ofType(s, T.pgRole)).toHaveLength(0);
  });

  it("hides the URIs as secrets and resolves ready", async () => {
    expect(await pulumi.isSecret(s.rawOutputs.trackingUri as pulumi.Output<string>)).toBe(true);
    expect(await pulumi.isSecret(s.rawOutputs.authUri as pulumi.Output<string>)).toBe(true);
    expect(s.outputs.trackingUri).toBe(SECRET);
    expect(s.outputs.ready).toMatch(/^mlflow_app@mlflow-kit-prod-db\..*rds\.amazonaws\.com\/mlflow_tracking,mlflow_auth$/);
    expect(s.outputs).toMatchObject({ securityGroupId: await idOf(dbSg), privateSubnetIds: subnetIds, port: 5432 });
  });

  it("parents every resource to the component", () => {
    const component = only(s, T.component);
    for (const r of s.resources.filter((x) => x !== component)) expect(r.parent, `${r.type} ${r.name}`).toBe(component.urn);
  });
});

describe("RdsDatabase: secrets revealed", async () => {
  const s = await evaluate(prodArgs, true);
  const passwords = Object.fromEntries(await Promise.all(ofType(s, T.password).map(async (r) =>
    [r.name, await new Promise<string>((resolve) => (r.resource as unknown as { result: pulumi.Output<string> }).result.apply(resolve))])));
  const address = s.outputs.address as string;

  it("builds both URIs for the app role, verifying the server against the image's RDS CA bundle", () => {
    const app = passwords["metadata-app-password"];
    expect(app).toMatch(/^[A-Za-z0-9]{32}$/);
    const tls = "sslmode=verify-full&sslrootcert=/app/rds-ca-bundle.pem";
    expect(s.outputs.trackingUri).toBe(`postgresql://${APP_ROLE}:${encodeURIComponent(app)}@${address}:5432/${TRACKING_DATABASE}?${tls}`);
    expect(s.outputs.authUri).toBe(`postgresql://${APP_ROLE}:${encodeURIComponent(app)}@${address}:5432/${AUTH_DATABASE}?${tls}`);
  });

  it("sends the function the endpoint, both passwords and the names it must create", () => {
    const input = JSON.parse(only(s, T.invocation).inputs.input as string);
    expect(input).toEqual({
      host: address,
      port: 5432,
      masterUsername: "mlflow_admin",
      masterPassword: passwords["metadata-master-password"],
      role: APP_ROLE,
      password: passwords["metadata-app-password"],
      databases: [TRACKING_DATABASE, AUTH_DATABASE],
    });
    expect(only(s, T.instance).inputs.password).toBe(passwords["metadata-master-password"]);
  });
});

describe("RdsDatabase: password rotation", async () => {
  const [before, after] = [await evaluate(prodArgs), await evaluate({ ...prodArgs, passwordRotation: 1 })];
  const inputs = (s: EvaluatedStack, name: string) => only(s, T.password, name).inputs;

  it("bumping passwordRotation changes the app password's keepers, and only those", () => {
    expect(inputs(before, "metadata-app-password")).toMatchObject({ length: 32, special: false, keepers: { rotation: "0" } });
    expect(inputs(after, "metadata-app-password").keepers).toEqual({ rotation: "1" });
    expect(inputs(after, "metadata-master-password")).toEqual(inputs(before, "metadata-master-password"));
    expect(inputs(before, "metadata-master-password").keepers).toBeUndefined();
  });
});

describe("RdsDatabase: ephemeral, existing VPC, direct bootstrap", async () => {
  const s = await evaluate(reviewArgs);
  const { vpcId, privateSubnetIds } = (reviewArgs.vpc as { existing: { vpcId: string; privateSubnetIds: string[] } }).existing;

  it("uses the given VPC and subnets and creates no network", () => {
    expect(ofType(s, T.vpc)).toHaveLength(0);
    expect(ofType(s, T.subnet)).toHaveLength(0);
    expect(only(s, T.subnetGroup).inputs.subnetIds).toEqual(privateSubnetIds);
    expect(only(s, T.sg).inputs.vpcId).toBe(vpcId);
    expect(ofType(s, T.ingress).map((r) => r.inputs.referencedSecurityGroupId)).toEqual(["sg-0runner000000001"]);
    expect(s.outputs).toMatchObject({ vpcId, privateSubnetIds });
  });

  it("lets the instance go with the stack: no protection, no final snapshot", () => {
    const instance = only(s, T.instance);
    expect(instance.inputs).toMatchObject({
      deletionProtection: false, skipFinalSnapshot: true, storageEncrypted: true, publiclyAccessible: false,
      backupRetentionPeriod: 1, multiAz: false, deleteAutomatedBackups: true,
    });
    expect(instance.inputs.finalSnapshotIdentifier).toBeUndefined();
    expect(instance.options.protect).toBeFalsy();
    expect(instance.options.retainOnDelete).toBeFalsy();
  });

  it("creates no function, and talks to the instance through the PostgreSQL provider over TLS", () => {
    expect(ofType(s, T.fn)).toHaveLength(0);
    expect(ofType(s, T.invocation)).toHaveLength(0);
    expect(ofType(s, T.egress)).toHaveLength(0);
    // Provider configuration reaches the engine as strings.
    expect(only(s, T.pgProvider).inputs).toMatchObject({
      host: expect.stringMatching(/^mlflow-kit-pr-42-db\./), port: "5432", username: "mlflow_admin", password: SECRET,
      sslmode: "verify-full", sslrootcert: RDS_CA_BUNDLE_FILE, superuser: "false", database: "postgres",
    });
    expect(fs.existsSync(RDS_CA_BUNDLE_FILE)).toBe(true);
  });

  it("creates the login role without powers, both databases owned by it, and revokes PUBLIC", () => {
    const role = only(s, T.pgRole);
    expect(role.inputs).toEqual({
      name: APP_ROLE, login: true, superuser: false, createDatabase: false, createRole: false, password: SECRET,
    });
    expect(ofType(s, T.pgDatabase).map((r) => r.inputs)).toEqual([TRACKING_DATABASE, AUTH_DATABASE].map((name) =>
      ({ name, owner: APP_ROLE, template: "template0", encoding: "UTF8", lcCollate: "DEFAULT", lcCtype: "DEFAULT" })));
    expect(ofType(s, T.pgGrant).map((r) => r.inputs)).toEqual([TRACKING_DATABASE, AUTH_DATABASE].map((database) =>
      ({ database, role: "public", objectType: "database", privileges: [] })));
    // Never DROP a database because the program changed; never need the instance to destroy.
    for (const r of [role, ...ofType(s, T.pgDatabase), ...ofType(s, T.pgGrant)]) expect(r.options.retainOnDelete).toBe(true);
  });

  it("still keeps the URIs secret, resolving after the PostgreSQL resources", async () => {
    expect(await pulumi.isSecret(s.rawOutputs.trackingUri as pulumi.Output<string>)).toBe(true);
    expect(s.outputs.ready).toMatch(/^mlflow_app@mlflow-kit-pr-42-db\./);
  });
});

describe("RdsDatabase: argument checks", () => {
  const bad: Array<[string, Partial<RdsDatabaseArgs>, RegExp]> = [
    ["one zone", { vpc: { create: { cidrBlock: "10.0.0.0/16", availabilityZoneCount: 1 } } }, /availabilityZoneCount/],
    ["one existing subnet", { vpc: { existing: { vpcId: "vpc-1", privateSubnetIds: ["subnet-1"] } } }, /two availability zones/],
    ["no backups", { backupRetentionDays: 0 }, /backupRetentionDays/],
    ["bad identifier", { identifier: "MLflow_DB" }, /identifier/],
    ["an autoscaling ceiling under +10%", { allocatedStorageGb: 100, maxAllocatedStorageGb: 109 }, /maxAllocatedStorageGb \(109\) is less than 10% above allocatedStorageGb \(100\).*110 or more/],
    ["a ceiling below the allocated storage", { maxAllocatedStorageGb: 19 }, /maxAllocatedStorageGb \(19\) is below/],
    ["a pinned minor version", { engineVersion: "16.4" }, /engineVersion "16.4" must be a major version/],
    ["a VPC block too small for the subnet split", { vpc: { create: { cidrBlock: "10.0.0.0/26", availabilityZoneCount: 2 } } }, /from \/16 to \/24/],
    ["host bits in the CIDR", { vpc: { create: { cidrBlock: "10.0.0.1/16", availabilityZoneCount: 2 } } }, /host bits/],
  ];
  it.each(bad)("rejects %s", async (_label, over, message) => {
    await expect(evaluate({ ...prodArgs, ...over })).rejects.toThrow(message);
  });
});

describe("subnetCidrs", () => {
  it("takes the first blocks of a sixteenth of the range", () => {
    expect(subnetCidrs("10.20.0.0/16", 3)).toEqual(["10.20.0.0/20", "10.20.16.0/20", "10.20.32.0/20"]);
    expect(subnetCidrs("192.168.1.0/24", 2)).toEqual(["192.168.1.0/28", "192.168.1.16/28"]);
    expect(() => subnetCidrs("10.0.0.0/8", 2)).toThrow(/\/16 to \/24/);
  });
});

describe("the bootstrap bundle", () => {
  it("is one self-contained CommonJS file: only Node built-ins (and pg's optional native binding) are required", () => {
    const code = bootstrapHandlerBundle();
    const required = new Set([...code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]));
    const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
    expect([...required].filter((m) => !builtins.has(m))).toEqual(["pg-native"]);
    expect(code).toMatch(/module\.exports = __toCommonJS/);
    expect(code).toContain("handler");
    // Paths in esbuild's comments are relative to the repository, not to the working directory.
    expect(code).not.toContain(process.cwd());
  });
});

/** URN of the one resource of `type` named `name`. */
const urnOf = (s: EvaluatedStack, type: string, name?: string) => only(s, type, name).urn;
/** Every URN `urn` depends on, directly or through others (the engine deletes `urn` before all of these). */
function dependsOnTransitively(s: EvaluatedStack, urn: string): Set<string> {
  const byUrn = new Map(s.resources.map((r) => [r.urn, r]));
  const seen = new Set<string>();
  const walk = (u: string) => {
    for (const d of byUrn.get(u)?.dependencies ?? []) if (!seen.has(d)) { seen.add(d); walk(d); }
  };
  walk(urn);
  return seen;
}

describe("RdsDatabase: delete order of the bootstrap function's network", async () => {
  const s = await evaluate(prodArgs);
  const vpcAccess = urnOf(s, T.attachment);
  const role = urnOf(s, T.role);

  it("deletes the function's security group and the subnets before its role and VPC-access policy", () => {
    // Lambda needs the role to release the function's network interfaces; the group and the
    // subnets wait for those interfaces, so they must go first (dependents are deleted first).
    for (const r of [only(s, T.sg, "metadata-bootstrap"), ...ofType(s, T.subnet)]) {
      const deps = dependsOnTransitively(s, r.urn);
      expect(deps.has(vpcAccess), `${r.name} depends on the VPC-access attachment`).toBe(true);
      expect(deps.has(role), `${r.name} depends on the role`).toBe(true);
    }
  });

  it("deletes the function itself before its group and subnets", () => {
    const fnDeps = dependsOnTransitively(s, urnOf(s, T.fn));
    expect(fnDeps.has(urnOf(s, T.sg, "metadata-bootstrap"))).toBe(true);
    for (const subnet of ofType(s, T.subnet)) expect(fnDeps.has(subnet.urn)).toBe(true);
  });
});

describe("RdsDatabase: decommissioning", async () => {
  const [live, decommissioning, review] = [await evaluate(prodArgs), await evaluate({ ...prodArgs, decommission: true }), await evaluate(reviewArgs)];

  it("retains nothing on delete, so that no retained resource keeps a deleted one in use", () => {
    for (const s of [live, decommissioning]) {
      for (const r of s.resources.filter((x) => !x.type.startsWith("postgresql:"))) expect(r.options.retainOnDelete, `${r.type} ${r.name}`).toBeFalsy();
    }
  });

  it("protects a long-lived instance twice (protect, RDS deletion protection) and keeps a final snapshot and backups", () => {
    const i = only(live, T.instance);
    expect(i.options.protect).toBe(true);
    expect(i.inputs).toMatchObject({ deletionProtection: true, skipFinalSnapshot: false, finalSnapshotIdentifier: "mlflow-kit-prod-db-final", deleteAutomatedBackups: false });
  });

  it("decommission turns both protections off and still leaves the final snapshot and the backups", () => {
    const i = only(decommissioning, T.instance);
    expect(i.options.protect).toBeFalsy();
    expect(i.inputs).toMatchObject({ deletionProtection: false, skipFinalSnapshot: false, finalSnapshotIdentifier: "mlflow-kit-prod-db-final", deleteAutomatedBackups: false });
    // Everything else is unchanged: the decommissioning `pulumi up` touches only the instance.
    const others = (s: EvaluatedStack) => s.resources.filter((r) => r.type !== T.instance && r.type !== T.invocation).map((r) => [r.name, r.inputs]);
    expect(JSON.stringify(others(decommissioning))).toBe(JSON.stringify(others(live)));
  });

  it("an ephemeral instance is neither protected nor snapshotted", () => {
    const i = only(review, T.instance);
    expect(i.options.protect).toBeFalsy();
    expect(i.inputs).toMatchObject({ deletionProtection: false, skipFinalSnapshot: true });
  });
});

describe("RdsDatabase: major version upgrade", async () => {
  const [v16, v17] = [await evaluate(prodArgs), await evaluate({ ...prodArgs, engineVersion: "17" })];

  it("upgrades in place: allowMajorVersionUpgrade, the new family's group on the instance", () => {
    expect(only(v17, T.instance).inputs).toMatchObject({ engineVersion: "17", allowMajorVersionUpgrade: true });
    expect(only(v17, T.instance).inputs.parameterGroupName).toMatch(/^mlflow-kit-prod-db-pg17-/);
    expect(only(v17, T.params, "metadata-params-pg17").inputs).toMatchObject({ family: "postgres17" });
  });

  it("keeps the old family's group, unchanged, through the upgrade (the instance uses it until the upgrade runs)", async () => {
    const before = only(v16, T.params, "metadata-params-pg16");
    const after = only(v17, T.params, "metadata-params-pg16");
    // Same logical name and inputs: the engine neither replaces nor deletes it in this `pulumi up`.
    expect(after.inputs).toEqual(before.inputs);
    expect(only(v16, T.instance).inputs.parameterGroupName).toBe(await idOf(before));
    // N-2 leaves on the next major's `pulumi up`, once nothing uses it.
    expect(ofType(v17, T.params).map((r) => r.name).sort()).toEqual(["metadata-params-pg16", "metadata-params-pg17"]);
  });

  it("the lowest supported major has no previous family to keep", async () => {
    const v14 = await evaluate({ ...prodArgs, engineVersion: "14" });
    expect(ofType(v14, T.params).map((r) => r.inputs.family)).toEqual(["postgres14"]);
  });

  it("applies now when asked (applyImmediately), in the maintenance window otherwise", async () => {
    const now = await evaluate({ ...prodArgs, engineVersion: "17", applyImmediately: true });
    expect(only(now, T.instance).inputs.applyImmediately).toBe(true);
    expect(only(v17, T.instance).inputs.applyImmediately).toBe(false);
  });
});

describe("RdsDatabase: smaller rules", () => {
  it("names each ingress rule after its security group, so removing one leaves the others alone", async () => {
    const three = await evaluate({ ...prodArgs, clientSecurityGroupIds: ["sg-0aaaa000000000001", "sg-0bbbb000000000002", "sg-0cccc000000000003"] });
    const two = await evaluate({ ...prodArgs, clientSecurityGroupIds: ["sg-0aaaa000000000001", "sg-0cccc000000000003"] });
    const rules = (s: EvaluatedStack) => Object.fromEntries(ofType(s, T.ingress).map((r) => [r.name, r.inputs.referencedSecurityGroupId]));
    const before = rules(three);
    const after = rules(two);
    // Every rule that stays keeps its name and its group: only the removed group's rule goes.
    for (const [name, sg] of Object.entries(after)) expect(before[name]).toBe(sg);
    expect(Object.keys(before).filter((n) => !(n in after))).toEqual(["metadata-db-from-sg-0bbbb000000000002"]);
  });

  it("names rules for groups made elsewhere after the caller's key", async () => {
    const s = await evaluate({ ...prodArgs, clientSecurityGroupIds: [], clientSecurityGroups: { "ecs-service": "sg-0service00000001" } });
    expect(ofType(s, T.ingress).map((r) => r.name).sort()).toEqual(["metadata-db-from-bootstrap", "metadata-db-from-ecs-service"]);
  });

  it("turns storage autoscaling off with a ceiling equal to the allocated storage (RDS: 0)", async () => {
    const off = await evaluate({ ...prodArgs, maxAllocatedStorageGb: 20 });
    expect(only(off, T.instance).inputs.maxAllocatedStorage).toBe(0);
    const least = await evaluate({ ...prodArgs, maxAllocatedStorageGb: 22 });
    expect(only(least, T.instance).inputs.maxAllocatedStorage).toBe(22);
  });

  it("sets engineLifecycleSupport explicitly: Extended Support for long-lived, never for ephemeral", async () => {
    const review = await evaluate(reviewArgs);
    expect(only(review, T.instance).inputs.engineLifecycleSupport).toBe("open-source-rds-extended-support-disabled");
  });
});
