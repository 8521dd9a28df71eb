/**
 * AWS Security Hub FSBP controls the prod stack satisfies, each with one edit of prod's real
 * plan (`npm run plan -- --stack prod`) that breaks exactly that control, and the rule that must
 * catch it. fsbp.test.ts runs them; rules.test.ts counts them as the cases of their rules.
 */
import { T } from "../../policies/resources";
import type { AnalyzedResource } from "../../stacks/policy-check";

export type Resources = AnalyzedResource[];

export interface FsbpCase {
  /** The control ids the rule's message names. */
  control: string;
  policy: string;
  /** What the edit does. */
  name: string;
  mutate: (rs: Resources) => Resources;
}

const pick = (rs: Resources, type: string, name?: RegExp): AnalyzedResource => {
  const found = rs.filter((r) => r.type === type && (!name || name.test(r.name)));
  if (found.length !== 1) throw new Error(`the prod plan has ${found.length} ${type}${name ? ` named ${name}` : ""}, the case expects one`);
  return found[0];
};
const set = (rs: Resources, type: string, name: RegExp | undefined, edit: (p: Record<string, any>) => void): Resources => {
  edit(pick(rs, type, name).properties as Record<string, any>);
  return rs;
};
const json = (rs: Resources, type: string, name: RegExp | undefined, key: string, edit: (doc: any) => void): Resources =>
  set(rs, type, name, (p) => {
    const doc = JSON.parse(p[key]);
    edit(doc);
    p[key] = JSON.stringify(doc);
  });
const drop = (rs: Resources, type: string, name?: RegExp): Resources => {
  const r = pick(rs, type, name);
  return rs.filter((x) => x !== r);
};
const add = (rs: Resources, type: string, name: string, properties: Record<string, unknown>): Resources =>
  [...rs, { urn: `urn:pulumi:prod::mlflow-kit::${type}::${name}`, type, name, properties, options: {}, propertyDependencies: {}, dependencies: [] }];
const containers = (rs: Resources, task: RegExp, edit: (defs: any[]) => void) => json(rs, T.taskDefinition, task, "containerDefinitions", edit);
const tags = { "mlflow-kit:project": "mlflow-kit", "mlflow-kit:stack": "prod", "mlflow-kit:lifecycle": "long-lived" };

const ARTIFACT_PART = (suffix: string) => new RegExp(`^mlflow-artifacts-${suffix}$`);

export const FSBP_CASES: FsbpCase[] = [
  // S3
  { control: "S3.5", policy: "s3-tls-only", name: "the TLS-only deny statements removed", mutate: (rs) => json(rs, T.bucketPolicy, ARTIFACT_PART("tls-only"), "policy", (d) => { d.Statement = d.Statement.filter((s: any) => s.Effect !== "Deny"); }) },
  { control: "S3.6", policy: "s3-no-cross-account-admin", name: "another account may rewrite the bucket policy", mutate: (rs) => json(rs, T.bucketPolicy, ARTIFACT_PART("tls-only"), "policy", (d) => d.Statement.push({ Sid: "PartnerAdmin", Effect: "Allow", Principal: { AWS: "arn:aws:iam::111122223333:root" }, Action: ["s3:GetObject", "s3:PutBucketPolicy"], Resource: d.Statement[0].Resource })) },
  { control: "S3.8", policy: "s3-public-access-blocked", name: "restrictPublicBuckets off", mutate: (rs) => set(rs, T.publicAccessBlock, ARTIFACT_PART("public-access"), (p) => { p.restrictPublicBuckets = false; }) },
  { control: "S3.9", policy: "s3-access-logged-when-long-lived", name: "the artifact bucket's access logging removed", mutate: (rs) => drop(rs, T.bucketLogging, ARTIFACT_PART("access-logs")) },
  { control: "S3.10, S3.13", policy: "s3-lifecycle-configured", name: "the artifact bucket's lifecycle removed", mutate: (rs) => drop(rs, T.lifecycle, ARTIFACT_PART("lifecycle")) },
  { control: "S3.12", policy: "s3-acls-disabled", name: "ACLs re-enabled (ObjectWriter ownership)", mutate: (rs) => set(rs, T.ownershipControls, ARTIFACT_PART("ownership"), (p) => { p.rule = { objectOwnership: "ObjectWriter" }; }) },
  // IAM
  { control: "IAM.1, IAM.21", policy: "iam-no-wildcards", name: "the MLflow task role gets s3:*", mutate: (rs) => json(rs, T.iamRolePolicy, /^mlflow-target-mlflow-task$/, "policy", (d) => { d.Statement[1].Action = "s3:*"; }) },
  { control: "IAM.5", policy: "iam-no-console-users", name: "a console password for an account user", mutate: (rs) => add(rs, T.loginProfile, "operator-console", { user: "operator", passwordResetRequired: true }) },
  { control: "IAM.2, IAM.3, IAM.8", policy: "iam-static-keys-only-where-used", name: "an artifact user with a key nothing uses (ECS tasks have their role)", mutate: (rs) => add(add(rs, T.iamUser, "artifacts-user", { name: "mlflow-kit-prod-artifacts", tags }), T.accessKey, "artifacts-key", { user: "mlflow-kit-prod-artifacts" }) },
  // RDS
  { control: "RDS.1", policy: "rds-snapshots-private", name: "a snapshot shared with every account", mutate: (rs) => add(rs, T.rdsSnapshot, "before-upgrade", { dbInstanceIdentifier: "mlflow-kit-prod-db", dbSnapshotIdentifier: "before-upgrade", sharedAccounts: ["all"], tags }) },
  { control: "RDS.2", policy: "rds-not-public", name: "publicly accessible", mutate: (rs) => set(rs, T.rdsInstance, undefined, (p) => { p.publiclyAccessible = true; }) },
  { control: "RDS.5", policy: "rds-multi-az-when-long-lived", name: "single-AZ", mutate: (rs) => set(rs, T.rdsInstance, undefined, (p) => { p.multiAz = false; }) },
  { control: "RDS.6", policy: "rds-logs-when-long-lived", name: "Enhanced Monitoring off", mutate: (rs) => set(rs, T.rdsInstance, undefined, (p) => { p.monitoringInterval = 0; }) },
  { control: "RDS.8", policy: "rds-deletion-guarded-when-long-lived", name: "deletion protection off", mutate: (rs) => set(rs, T.rdsInstance, undefined, (p) => { p.deletionProtection = false; }) },
  { control: "RDS.9, RDS.36", policy: "rds-logs-when-long-lived", name: "no log export to CloudWatch", mutate: (rs) => set(rs, T.rdsInstance, undefined, (p) => { p.enabledCloudwatchLogsExports = ["upgrade"]; }) },
  { control: "RDS.11", policy: "rds-backups-kept", name: "automated backups off", mutate: (rs) => set(rs, T.rdsInstance, undefined, (p) => { p.backupRetentionPeriod = 0; }) },
  { control: "RDS.13", policy: "rds-instance-settings", name: "no automatic minor upgrades", mutate: (rs) => set(rs, T.rdsInstance, undefined, (p) => { p.autoMinorVersionUpgrade = false; }) },
  { control: "RDS.17", policy: "rds-instance-settings", name: "tags not copied to snapshots", mutate: (rs) => set(rs, T.rdsInstance, undefined, (p) => { p.copyTagsToSnapshot = false; }) },
  { control: "RDS.18", policy: "rds-instance-settings", name: "no subnet group (default VPC)", mutate: (rs) => set(rs, T.rdsInstance, undefined, (p) => { delete p.dbSubnetGroupName; }) },
  { control: "RDS.25", policy: "rds-instance-settings", name: "the master user named postgres", mutate: (rs) => set(rs, T.rdsInstance, undefined, (p) => { p.username = "postgres"; }) },
  { control: "RDS.3, RDS.4", policy: "rds-storage-encrypted", name: "unencrypted storage", mutate: (rs) => set(rs, T.rdsInstance, undefined, (p) => { p.storageEncrypted = false; }) },
  // EC2 / VPC
  { control: "EC2.2", policy: "vpc-defaults-closed", name: "the default security group left with AWS's rules", mutate: (rs) => drop(rs, T.defaultSecurityGroup) },
  { control: "EC2.2", policy: "vpc-defaults-closed", name: "a rule on the default security group", mutate: (rs) => set(rs, T.defaultSecurityGroup, undefined, (p) => { p.ingress = [{ protocol: "-1", self: true, fromPort: 0, toPort: 0 }]; }) },
  { control: "EC2.6", policy: "vpc-flow-logs-when-long-lived", name: "the flow log removed", mutate: (rs) => drop(rs, T.flowLog) },
  { control: "EC2.12", policy: "ec2-nothing-unused", name: "an Elastic IP attached to nothing", mutate: (rs) => add(rs, T.eip, "spare-ip", { domain: "vpc", tags }) },
  { control: "EC2.13, EC2.14, EC2.18, EC2.19, EC2.53, EC2.54", policy: "no-ingress-from-internet", name: "SSH open to the world on the MLflow tasks", mutate: (rs) => add(rs, T.ingressRule, "mlflow-ssh", { securityGroupId: "sg-mlflow", cidrIpv4: "0.0.0.0/0", ipProtocol: "tcp", fromPort: 22, toPort: 22, tags }) },
  { control: "EC2.15", policy: "ec2-subnets-private-by-default", name: "a public subnet that maps public IPs", mutate: (rs) => set(rs, T.subnet, /^mlflow-target-network-public-1$/, (p) => { p.mapPublicIpOnLaunch = true; }) },
  { control: "EC2.21", policy: "vpc-defaults-closed", name: "the default network ACL opens TCP from port 0 up (22 included)", mutate: (rs) => set(rs, T.defaultNetworkAcl, undefined, (p) => { p.ingress.find((e: any) => e.protocol === "tcp" && e.fromPort === 23).fromPort = 0; }) },
  { control: "EC2.21", policy: "vpc-defaults-closed", name: "the default network ACL left unmanaged", mutate: (rs) => drop(rs, T.defaultNetworkAcl) },
  { control: "EC2.22", policy: "ec2-nothing-unused", name: "a security group attached to nothing", mutate: (rs) => add(rs, T.securityGroup, "leftover", { namePrefix: "leftover-", description: "left over", vpcId: "vpc-1", tags }) },
  // ECS
  { control: "ECS.1, ECS.17", policy: "ecs-containers-confined", name: "host network mode", mutate: (rs) => set(rs, T.taskDefinition, /traefik/, (p) => { p.networkMode = "host"; }) },
  { control: "ECS.2", policy: "ecs-no-public-ip", name: "tasks with public IPs", mutate: (rs) => set(rs, T.ecsService, /mlflow-service/, (p) => { p.networkConfiguration.assignPublicIp = true; }) },
  { control: "ECS.3", policy: "ecs-containers-confined", name: "the host's process namespace", mutate: (rs) => set(rs, T.taskDefinition, /authelia/, (p) => { p.pidMode = "host"; }) },
  { control: "ECS.4", policy: "ecs-containers-confined", name: "a privileged container", mutate: (rs) => containers(rs, /mlflow-task/, (d) => { d[1].privileged = true; }) },
  { control: "ECS.5", policy: "ecs-containers-confined", name: "Traefik with a writable root filesystem", mutate: (rs) => containers(rs, /traefik/, (d) => { d[0].readonlyRootFilesystem = false; }) },
  { control: "ECS.8", policy: "ecs-secrets-not-in-environment", name: "ECS_ENGINE_AUTH_DATA in plain environment", mutate: (rs) => containers(rs, /mlflow-task/, (d) => { d[1].environment.push({ name: "ECS_ENGINE_AUTH_DATA", value: "{\"ghcr.io\":{}}" }); }) },
  { control: "ECS.9", policy: "ecs-logs-configured", name: "a container without logs", mutate: (rs) => containers(rs, /authelia/, (d) => { delete d[0].logConfiguration; }) },
  { control: "ECS.10", policy: "ecs-platform-and-insights", name: "an old Fargate platform", mutate: (rs) => set(rs, T.ecsService, /mlflow-service/, (p) => { p.platformVersion = "1.3.0"; }) },
  { control: "ECS.12", policy: "ecs-platform-and-insights", name: "Container Insights off", mutate: (rs) => set(rs, T.ecsCluster, undefined, (p) => { p.settings = [{ name: "containerInsights", value: "disabled" }]; }) },
  // Elastic Load Balancing, ACM
  { control: "ELB.1", policy: "elb-listeners-encrypted", name: "HTTP forwarded instead of redirected", mutate: (rs) => set(rs, T.listener, /-http$/, (p) => { p.defaultActions = [{ type: "forward", targetGroupArn: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/trfk/1" }]; }) },
  { control: "ELB.4", policy: "elb-hardened", name: "invalid headers passed on", mutate: (rs) => set(rs, T.loadBalancer, undefined, (p) => { p.dropInvalidHeaderFields = false; }) },
  { control: "ELB.5", policy: "elb-access-logged-when-long-lived", name: "access logs removed", mutate: (rs) => set(rs, T.loadBalancer, undefined, (p) => { delete p.accessLogs; }) },
  { control: "ELB.6", policy: "elb-deletion-protected-when-long-lived", name: "deletion protection off", mutate: (rs) => set(rs, T.loadBalancer, undefined, (p) => { p.enableDeletionProtection = false; }) },
  { control: "ELB.12", policy: "elb-hardened", name: "desync mitigation in monitor mode", mutate: (rs) => set(rs, T.loadBalancer, undefined, (p) => { p.desyncMitigationMode = "monitor"; }) },
  { control: "ELB.13", policy: "elb-hardened", name: "one subnet", mutate: (rs) => set(rs, T.loadBalancer, undefined, (p) => { p.subnets = p.subnets.slice(0, 1); }) },
  { control: "ELB.17", policy: "elb-listeners-encrypted", name: "a TLS 1.0 security policy", mutate: (rs) => set(rs, T.listener, /-https$/, (p) => { p.sslPolicy = "ELBSecurityPolicy-2016-08"; }) },
  { control: "ACM.1", policy: "acm-certificates-managed", name: "e-mail validation", mutate: (rs) => set(rs, T.certificate, undefined, (p) => { p.validationMethod = "EMAIL"; }) },
  { control: "ACM.2", policy: "acm-certificates-managed", name: "a 1024-bit RSA key", mutate: (rs) => set(rs, T.certificate, undefined, (p) => { p.keyAlgorithm = "RSA_1024"; }) },
  // Lambda
  { control: "Lambda.1", policy: "lambda-function-safe", name: "everyone may invoke the bootstrap", mutate: (rs) => add(rs, T.lambdaPermission, "bootstrap-public", { action: "lambda:InvokeFunction", function: "mlflow-kit-prod-db-bootstrap", principal: "*" }) },
  { control: "Lambda.2", policy: "lambda-function-safe", name: "a deprecated runtime", mutate: (rs) => set(rs, T.lambdaFunction, undefined, (p) => { p.runtime = "nodejs16.x"; }) },
  { control: "Lambda.5", policy: "lambda-function-safe", name: "one subnet", mutate: (rs) => set(rs, T.lambdaFunction, undefined, (p) => { p.vpcConfig.subnetIds = p.vpcConfig.subnetIds.slice(0, 1); }) },
  // Secrets Manager, SNS, KMS
  { control: "SecretsManager.3", policy: "secrets-used", name: "a secret nothing reads", mutate: (rs) => add(rs, T.secret, "forgotten", { name: "mlflow-kit-prod/forgotten", recoveryWindowInDays: 7, tags }) },
  { control: "SNS.1", policy: "alarm-topic-encrypted-when-long-lived", name: "the alarm topic unencrypted", mutate: (rs) => set(rs, T.snsTopic, undefined, (p) => { delete p.kmsMasterKeyId; }) },
  { control: "SNS.1", policy: "alarm-topic-encrypted-when-long-lived", name: "the alarm topic on aws/sns", mutate: (rs) => set(rs, T.snsTopic, undefined, (p) => { p.kmsMasterKeyId = "alias/aws/sns"; }) },
  { control: "KMS.4", policy: "kms-keys-rotated-and-private", name: "the topic key not rotated", mutate: (rs) => set(rs, T.kmsKey, undefined, (p) => { p.enableKeyRotation = false; }) },
  { control: "KMS.5", policy: "kms-keys-rotated-and-private", name: "the topic key open to everyone", mutate: (rs) => json(rs, T.kmsKey, undefined, "policy", (d) => d.Statement.push({ Sid: "Everyone", Effect: "Allow", Principal: { AWS: "*" }, Action: "kms:Decrypt", Resource: "*" })) },
];
