/**
 * What every rule needs to know about the kit's resources: type tokens (AWS and the kit's own
 * dynamic resources), tags, the stack's lifecycle, references between resources, the server's
 * environment on each target, and policy config with defaults.
 *
 * The pack imports no provider SDK: rules match type tokens, so the pack loads in a fraction
 * of a second and knows the dynamic resources (`pulumi-nodejs:dynamic/<vendor>:<Kind>`) too.
 */
import type { PolicyResource, ResourceValidationArgs, StackValidationArgs } from "@pulumi/policy";

export const T = {
  bucket: "aws:s3/bucket:Bucket",
  bucketV2: "aws:s3/bucketV2:BucketV2",
  publicAccessBlock: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
  sse: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
  sseV2: "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
  versioning: "aws:s3/bucketVersioning:BucketVersioning",
  versioningV2: "aws:s3/bucketVersioningV2:BucketVersioningV2",
  bucketPolicy: "aws:s3/bucketPolicy:BucketPolicy",
  lifecycle: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
  lifecycleV2: "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
  iamUser: "aws:iam/user:User",
  iamUserPolicy: "aws:iam/userPolicy:UserPolicy",
  iamRolePolicy: "aws:iam/rolePolicy:RolePolicy",
  iamPolicy: "aws:iam/policy:Policy",
  accessKey: "aws:iam/accessKey:AccessKey",
  rdsInstance: "aws:rds/instance:Instance",
  rdsParameterGroup: "aws:rds/parameterGroup:ParameterGroup",
  securityGroup: "aws:ec2/securityGroup:SecurityGroup",
  securityGroupRule: "aws:ec2/securityGroupRule:SecurityGroupRule",
  ingressRule: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
  loadBalancer: "aws:lb/loadBalancer:LoadBalancer",
  albLoadBalancer: "aws:alb/loadBalancer:LoadBalancer",
  taskDefinition: "aws:ecs/taskDefinition:TaskDefinition",
  ecsService: "aws:ecs/service:Service",
  logGroup: "aws:cloudwatch/logGroup:LogGroup",
  vpc: "aws:ec2/vpc:Vpc",
  subnet: "aws:ec2/subnet:Subnet",
  eip: "aws:ec2/eip:Eip",
  natGateway: "aws:ec2/natGateway:NatGateway",
  eipAssociation: "aws:ec2/eipAssociation:EipAssociation",
  defaultSecurityGroup: "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
  defaultNetworkAcl: "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl",
  networkAcl: "aws:ec2/networkAcl:NetworkAcl",
  networkAclRule: "aws:ec2/networkAclRule:NetworkAclRule",
  networkAclAssociation: "aws:ec2/networkAclAssociation:NetworkAclAssociation",
  flowLog: "aws:ec2/flowLog:FlowLog",
  bucketLogging: "aws:s3/bucketLogging:BucketLogging",
  bucketLoggingV2: "aws:s3/bucketLoggingV2:BucketLoggingV2",
  ownershipControls: "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
  bucketAcl: "aws:s3/bucketAcl:BucketAcl",
  bucketAclV2: "aws:s3/bucketAclV2:BucketAclV2",
  loginProfile: "aws:iam/userLoginProfile:UserLoginProfile",
  userPolicyAttachment: "aws:iam/userPolicyAttachment:UserPolicyAttachment",
  rdsSnapshot: "aws:rds/snapshot:Snapshot",
  rdsSnapshotCopy: "aws:rds/snapshotCopy:SnapshotCopy",
  rdsClusterSnapshot: "aws:rds/clusterSnapshot:ClusterSnapshot",
  listener: "aws:lb/listener:Listener",
  albListener: "aws:alb/listener:Listener",
  certificate: "aws:acm/certificate:Certificate",
  ecsCluster: "aws:ecs/cluster:Cluster",
  lambdaFunction: "aws:lambda/function:Function",
  lambdaPermission: "aws:lambda/permission:Permission",
  secret: "aws:secretsmanager/secret:Secret",
  snsTopic: "aws:sns/topic:Topic",
  kmsKey: "aws:kms/key:Key",
  dockerContainer: "docker:index/container:Container",
  dockerVolume: "docker:index/volume:Volume",
  renderService: "pulumi-nodejs:dynamic/render:Service",
  hfSpace: "pulumi-nodejs:dynamic/hf:Space",
  hfSpaceRelease: "pulumi-nodejs:dynamic/hf:SpaceRelease",
  neonProject: "pulumi-nodejs:dynamic/neon:Project",
  neonBranch: "pulumi-nodejs:dynamic/neon:Branch",
  neonDatabase: "pulumi-nodejs:dynamic/neon:Database",
} as const;

/** The tag keys infra/settings.ts puts on every taggable resource (TAG_KEYS there). */
export const TAG = { lifecycle: "mlflow-kit:lifecycle", expiresAt: "mlflow-kit:expires-at" } as const;

export type Lifecycle = "long-lived" | "ephemeral";

export const isType = (r: { type: string }, ...types: string[]) => types.includes(r.type);

export function tagsOf(props: Record<string, any>): Record<string, string> | undefined {
  const tags = props.tags;
  return tags && typeof tags === "object" && !Array.isArray(tags) ? tags : undefined;
}

/**
 * The stack's lifecycle, from the lifecycle tag its resources carry. Any long-lived tag makes
 * the stack long-lived; a stack with no lifecycle tag at all counts as long-lived (the safe side).
 */
export function stackLifecycle(resources: Array<{ props: Record<string, any> }>): Lifecycle {
  const seen = new Set(resources.map((r) => tagsOf(r.props)?.[TAG.lifecycle]).filter(Boolean));
  return seen.has("ephemeral") && !seen.has("long-lived") ? "ephemeral" : "long-lived";
}

/** A resource's own lifecycle tag, or the safe default. */
export function resourceLifecycle(props: Record<string, any>): Lifecycle {
  return tagsOf(props)?.[TAG.lifecycle] === "ephemeral" ? "ephemeral" : "long-lived";
}

/**
 * Does `from.props[key]` point at `to`? By the engine's property dependencies (known during
 * preview, when ids are not), else by value: the target's id-like name properties.
 */
export function refersTo(from: PolicyResource, key: string, to: PolicyResource, names: string[]): boolean {
  if ((from.propertyDependencies?.[key] ?? []).some((d) => d.urn === to.urn)) return true;
  const value = from.props[key];
  if (value === undefined || value === null) return false;
  const values = Array.isArray(value) ? value : [value];
  return names.some((n) => to.props[n] !== undefined && values.includes(to.props[n]));
}

/** A policy's config: what the operator set (pulumi --policy-pack-config), over the defaults. */
export function configOf<C extends object>(args: ResourceValidationArgs | StackValidationArgs, defaults: C): C {
  return { ...defaults, ...(args.getConfig<Partial<C>>() ?? {}) };
}

/** JSON text or an object: IAM documents and ECS container definitions come as either. */
export function parseJson<T>(value: unknown): T | undefined {
  if (typeof value !== "string") return value === undefined || value === null ? undefined : (value as T);
  try {
    return JSON.parse(value) as T;
  } catch {
    return undefined;
  }
}

export const asArray = <X>(v: X | X[] | undefined): X[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Input and variable names that hold credentials. */
export const SECRET_NAME = /(password|passwd|secret|token|api[-_]?key|access[-_]?key|private[-_]?key|credential|connection[-_]?string|database[-_]?uri|store[-_]?uri)/i;
/** Names that match SECRET_NAME but are not credentials (secretId: a Secrets Manager secret's ARN, as SecretVersion takes it; registryCredentialId: the id rgc-..., not the token). */
const NOT_SECRET = /^(secretArn|secretId|valueFrom|.*SecretArn|.*_SECRET_ARN|secrets|.*CredentialId)$/i;
/** camelCase references to a credential, not the credential: registryCredentialId, secretName. */
const REFERENCE = /[a-z0-9](Id|Ids|Arn|Arns|Name|Names|Path|Paths)$/;
export const isSecretName = (name: string) => SECRET_NAME.test(name) && !NOT_SECRET.test(name) && !REFERENCE.test(name);

/** The MLflow server's environment as each target declares it; undefined if `r` runs no server. */
export function serverEnvironment(r: PolicyResource | { type: string; props: Record<string, any> }): Record<string, string> | undefined {
  const p = r.props;
  let env: Record<string, string> | undefined;
  switch (r.type) {
    case T.renderService:
      // render:Service envVars: [{key, value}]
      env = Object.fromEntries(asArray(p.envVars).filter((e: any) => e && typeof e.key === "string").map((e: any) => [e.key, String(e.value ?? "")]));
      break;
    case T.hfSpaceRelease:
      // hf:SpaceRelease (infra/providers/hf/space-release.ts): secrets and variables, {KEY: value}
      env = { ...pairs(p.variables), ...pairs(p.secrets) };
      break;
    case T.dockerContainer:
      // docker Container envs: ["KEY=value"]
      env = Object.fromEntries(asArray<string>(p.envs).filter((e) => typeof e === "string" && e.includes("=")).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
      break;
    case T.taskDefinition: {
      const mlflow = containerDefinitions(p).find((c) => [...asArray(c.environment), ...asArray(c.secrets)].some((e: any) => /^MLFLOW_/.test(e?.name ?? "")));
      if (!mlflow) return undefined;
      env = Object.fromEntries(asArray(mlflow.environment).map((e: any) => [e.name, String(e.value ?? "")]));
      // Names delivered through `secrets` are present, their values are ARNs.
      for (const s of asArray(mlflow.secrets) as any[]) env![s.name] = "(from secrets)";
      break;
    }
    default:
      return undefined;
  }
  // A container runs MLflow when it gets the runtime contract's always-required variables.
  return env && Object.keys(env).some((k) => k === "MLFLOW_BACKEND_STORE_URI" || k === "MLFLOW_ARTIFACTS_DESTINATION") ? env : undefined;
}

function pairs(v: unknown): Record<string, string> {
  if (Array.isArray(v)) return Object.fromEntries(v.filter((e: any) => e && typeof e.key === "string").map((e: any) => [e.key, String(e.value ?? "")]));
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x ?? "")]));
  return {};
}

export interface ContainerDefinition {
  name?: string;
  environment?: Array<{ name: string; value?: string }>;
  secrets?: Array<{ name: string; valueFrom: string }>;
  logConfiguration?: { logDriver?: string; options?: Record<string, string> };
  memory?: number;
  [k: string]: unknown;
}

export function containerDefinitions(props: Record<string, any>): ContainerDefinition[] {
  return asArray(parseJson<ContainerDefinition | ContainerDefinition[]>(props.containerDefinitions));
}

/**
 * A message for a rule that enforces AWS Security Hub's Foundational Security Best Practices:
 * the control ids first (policies/README.md maps every control to its rule).
 */
export const fsbp = (controls: string, message: string) => `FSBP ${controls}: ${message}`;

/** Does any string inside `value` (nested objects, JSON text) equal one of `ids`? */
export function mentions(value: unknown, ids: string[]): boolean {
  if (value === undefined || value === null || ids.length === 0) return false;
  if (typeof value === "string") return ids.includes(value) || (/^[[{]/.test(value) && mentions(parseJson(value), ids));
  if (Array.isArray(value)) return value.some((v) => mentions(v, ids));
  if (typeof value === "object") return Object.values(value).some((v) => mentions(v, ids));
  return false;
}

/** `to` is named anywhere in `from`'s input `key`: by property dependency, or by one of its id-like values. */
export function refersDeep(from: PolicyResource, key: string, to: PolicyResource, names: string[]): boolean {
  if ((from.propertyDependencies?.[key] ?? []).some((d) => d.urn === to.urn)) return true;
  return mentions(from.props[key], names.map((n) => to.props[n]).filter((v): v is string => typeof v === "string"));
}

/** `name` with a short reason: how messages name a resource. */
export const label = (r: { type: string; name: string }) => `${r.type.replace(/^pulumi-nodejs:dynamic\//, "")} "${r.name}"`;
