/**
 * Where each setting has an effect: the one table settings.ts refuses settings by (issue 14:
 * "a setting that has no effect on a target is refused by settings.ts with a message saying
 * why"), and test/unit/settings-effect.test.ts walks it over every target and database.
 *
 * Every key of the configuration reference is either a RULE here (where it does nothing, why,
 * and the fix) or in EVERYWHERE (it acts on every stack that accepts it, with the reason); the
 * test fails on a key that is in neither, so a new setting cannot skip the audit.
 */

export type TargetKind = "local" | "render" | "hf-space" | "ecs";
export type DatabaseKind = "rds" | "neon" | "local";
export type ArtifactsKind = "s3" | "minio";

/** What a rule looks at: the stack's kinds and the parts of its config that decide an effect. */
export interface EffectContext {
  stack: string;
  target: TargetKind;
  database: DatabaseKind;
  artifacts: ArtifactsKind;
  lifecycle: "long-lived" | "ephemeral";
  /** database.vpcId is set (an existing VPC: nothing network-shaped is created). */
  existingVpc: boolean;
  /** database.projectId is set (an existing Neon project: read, never created or changed). */
  existingNeonProject: boolean;
  monitoringEnabled: boolean;
  /** The logging switches as settings resolve them (unset: on for long-lived stacks). */
  logging: { accessLogs: boolean; flowLogs: boolean; databaseLogs: boolean; enhancedMonitoringSeconds: number };
  /** Whether the stack's config gives this key (full key, "mlflow-kit:..." or "aws:region"; a path like "mlflow-kit:artifacts.activeKey" looks inside the value). */
  given(key: string): boolean;
  /** The parsed value at a path under mlflow-kit: ("rotation.adminPassword"). */
  value(path: string): unknown;
}

export interface EffectRule {
  /** "artifacts.activeKey" (under mlflow-kit:), or a full key for other namespaces ("aws:region"). */
  key: string;
  /** Where it acts, in words: the configuration reference's "has an effect" column. */
  appliesWhere: string;
  /** Why it does nothing on this stack, or undefined where it acts (only asked when the key is given). */
  noEffect(c: EffectContext): string | undefined;
  /** What to do instead, beside removing it. */
  fix?: string;
  /**
   * A warning, not a refusal: secrets, which a CI environment sets on every stack it deploys
   * (review.yml sets the Render key whatever review.target is), and keys a kit command leaves
   * beside the one that voids them (restore adds database.projectId next to database.region).
   */
  warnOnly?: boolean;
  /** A valid value that differs from the default, for the test. */
  example: unknown;
}

/** Any log a log setting could govern on this stack, after defaults. */
const anyLog = (c: EffectContext) =>
  (c.logging.accessLogs && (c.artifacts === "s3" || c.target === "ecs")) ||
  (c.logging.flowLogs && c.database === "rds" && !c.existingVpc) ||
  (c.database === "rds" && (c.logging.databaseLogs || c.logging.enhancedMonitoringSeconds > 0));
/** Anything on AWS: the S3 store, RDS, ECS. */
const onAws = (c: EffectContext) => c.artifacts === "s3" || c.database === "rds" || c.target === "ecs";

export const RULES: readonly EffectRule[] = [
  {
    key: "artifacts.activeKey",
    appliesWhere: "artifacts.kind s3, every target but ecs",
    noEffect: (c) => (c.target === "ecs" ? "ECS tasks sign their S3 requests with the task role, so the artifact store has no access keys to choose between" : undefined),
    fix: "Nothing replaces it on ecs: the task role's credentials rotate by themselves",
    example: "green",
  },
  {
    key: "artifacts.keyRotations",
    appliesWhere: "artifacts.kind s3, every target but ecs",
    noEffect: (c) => (c.target === "ecs" ? "ECS tasks sign their S3 requests with the task role, so there is no access key to rotate" : undefined),
    fix: "Nothing replaces it on ecs: the task role's credentials rotate by themselves",
    example: { blue: 1, green: 0 },
  },
  {
    key: "monitoring.managedPrometheus",
    appliesWhere: "target.kind ecs with monitoring.enabled",
    // Decided by the value: false is what every other stack does anyway.
    noEffect: (c) => (c.value("monitoring.managedPrometheus") === true && (c.target !== "ecs" || !c.monitoringEnabled)
      ? `it creates an Amazon Managed Service for Prometheus workspace fed from the ECS tasks; it needs target.kind ecs and monitoring.enabled true (this stack: target.kind ${c.target}, monitoring.enabled ${c.monitoringEnabled})`
      : undefined),
    fix: "Or turn monitoring.enabled on for an ecs target",
    example: true,
  },
  ...(["prometheusPort", "grafanaPort", "prometheusImage", "grafanaImage"] as const).map((k): EffectRule => ({
    key: `monitoring.${k}`,
    appliesWhere: "target.kind local with monitoring.enabled",
    noEffect: (c) => (c.target !== "local"
      ? `only target.kind local runs Prometheus and Grafana beside the server; ${c.target} serves /metrics from the server alone`
      : !c.monitoringEnabled ? "Prometheus and Grafana run only with monitoring.enabled true" : undefined),
    fix: "Or, on target.kind local, set monitoring.enabled true",
    example: k === "prometheusPort" ? 9191 : k === "grafanaPort" ? 3300
      : k === "prometheusImage" ? `quay.io/prometheus/prometheus@sha256:${"a".repeat(64)}` : `docker.io/grafana/grafana@sha256:${"b".repeat(64)}`,
  })),
  ...(["owner", "name", "username"] as const).map((k): EffectRule => ({
    key: `image.${k}`,
    appliesWhere: "every target but local (the pushed image)",
    noEffect: (c) => (c.target === "local" ? `target.kind local builds the image into the local Docker engine as <project>-<stack>-server and never pushes it, so there is no GHCR ${k === "name" ? "image name" : k === "owner" ? "owner" : "user"}` : undefined),
    example: k === "owner" ? "example-org" : k === "name" ? "my-mlflow" : "example-user",
  })),
  {
    key: "rotation.adminPassword",
    appliesWhere: "stacks without the secret adminPassword (the generated admin password)",
    noEffect: (c) => (c.given("mlflow-kit:adminPassword") && c.value("rotation.adminPassword") !== 0 ? "the secret mlflow-kit:adminPassword is set, so the admin password is yours and nothing is generated to rotate" : undefined),
    fix: "To change the password set a new mlflow-kit:adminPassword; or remove that secret to let the kit generate and rotate one",
    example: 1,
  },
  {
    key: "rotation.apiUserPassword",
    appliesWhere: "target.kind ecs",
    noEffect: (c) => (c.target !== "ecs" && c.value("rotation.apiUserPassword") !== 0 ? `only target.kind ecs has an API user with a generated password (MLflow's basic-auth users behind Traefik); ${c.target} clients use the admin or the users you create in MLflow` : undefined),
    fix: "Or set it to 0",
    example: 1,
  },
  {
    key: "rotation.autheliaSecrets",
    appliesWhere: "target.kind ecs",
    noEffect: (c) => (c.target !== "ecs" && c.value("rotation.autheliaSecrets") !== 0 ? `only target.kind ecs runs Authelia; ${c.target} has no Authelia secrets to rotate` : undefined),
    fix: "Or set it to 0",
    example: 1,
  },
  {
    key: "logging.accessLogs",
    appliesWhere: "artifacts.kind s3 or target.kind ecs",
    noEffect: (c) => (c.artifacts !== "s3" && c.target !== "ecs" ? "there is neither an S3 artifact bucket nor a load balancer to log: MinIO and the local server write no AWS access logs" : undefined),
    example: true,
  },
  {
    key: "logging.flowLogs",
    appliesWhere: "database.kind rds in a VPC the kit creates (no vpcId)",
    noEffect: (c) => (c.database !== "rds" ? `only database.kind rds creates a VPC, and ${c.database} has none` : c.existingVpc ? "database.vpcId is an existing VPC, whose flow logs are its owner's to set" : undefined),
    example: true,
  },
  {
    key: "logging.databaseLogs",
    appliesWhere: "database.kind rds",
    noEffect: (c) => (c.database !== "rds" ? `only RDS exports PostgreSQL logs to CloudWatch; ${c.database} keeps its own` : undefined),
    example: true,
  },
  {
    key: "logging.enhancedMonitoringSeconds",
    appliesWhere: "database.kind rds",
    noEffect: (c) => (c.database !== "rds" ? `Enhanced Monitoring is an RDS feature; ${c.database} has none` : undefined),
    example: 30,
  },
  {
    key: "logging.retentionDays",
    appliesWhere: "stacks where a log setting is on (access logs, flow logs, RDS logs)",
    noEffect: (c) => (!anyLog(c) ? "no AWS log is kept on this stack (see the logging switches), so there is nothing to expire" : undefined),
    fix: "Or turn on the log it should govern (logging.accessLogs, flowLogs, databaseLogs)",
    example: 30,
  },
  {
    key: "ttlHours",
    appliesWhere: "ephemeral stacks without expiresAt",
    noEffect: (c) => (c.lifecycle === "long-lived" ? "a long-lived stack never expires" : c.given("mlflow-kit:expiresAt") ? "mlflow-kit:expiresAt fixes the expiry instead" : undefined),
    fix: "Or set mlflow-kit:lifecycle ephemeral (without expiresAt) for a stack that expires",
    example: 24,
  },
  {
    key: "decommission",
    appliesWhere: "long-lived stacks",
    noEffect: (c) => (c.lifecycle === "ephemeral" && c.value("decommission") === true ? "an ephemeral stack protects nothing, so `pulumi destroy` removes it without decommissioning" : undefined),
    example: true,
  },
  {
    key: "database.cidrBlock",
    appliesWhere: "database.kind rds without vpcId",
    noEffect: (c) => (c.existingVpc ? "database.vpcId names an existing VPC, so no VPC is created with this block" : undefined),
    fix: "Or remove vpcId (and privateSubnetIds) to let mlflow-kit create the VPC",
    example: "10.50.0.0/16",
  },
  {
    key: "database.availabilityZones",
    appliesWhere: "database.kind rds without vpcId",
    noEffect: (c) => (c.existingVpc ? "database.vpcId names an existing VPC, whose zones are those of privateSubnetIds" : undefined),
    fix: "Or remove vpcId (and privateSubnetIds) to let mlflow-kit create the VPC",
    example: 3,
  },
  {
    key: "database.region",
    appliesWhere: "database.kind neon without projectId",
    noEffect: (c) => (c.database === "neon" && c.existingNeonProject ? "database.projectId names an existing Neon project, which keeps its own region (the kit reads it, never changes it)" : undefined),
    fix: "Or remove projectId to let mlflow-kit create a project in this region",
    // Warned, not refused: `npm run restore` adds projectId to a stack file that names these.
    warnOnly: true,
    example: "aws-eu-central-1",
  },
  {
    key: "database.orgId",
    appliesWhere: "database.kind neon without projectId",
    noEffect: (c) => (c.database === "neon" && c.existingNeonProject ? "database.projectId names an existing Neon project, which already belongs to its organization" : undefined),
    fix: "Or remove projectId to let mlflow-kit create a project in this organization",
    // Warned, not refused: `npm run restore` adds projectId to a stack file that names these.
    warnOnly: true,
    example: "org-morning-bread-81040908",
  },
  {
    key: "review",
    appliesWhere: "the dev stack (Pulumi.dev.yaml), which review stacks are made from",
    noEffect: (c) => (c.stack.toLowerCase() !== "dev" ? `review stacks are made from Pulumi.dev.yaml only; stack ${c.stack}'s review settings are never read` : undefined),
    fix: "Move it to Pulumi.dev.yaml",
    example: { ttlHours: 24 },
  },
  {
    key: "aws:region",
    appliesWhere: "stacks with anything on AWS (artifacts.kind s3, database.kind rds, target.kind ecs)",
    noEffect: (c) => (!onAws(c) ? "nothing of this stack is on AWS (MinIO artifacts, a non-RDS database, a non-ECS target)" : undefined),
    example: "us-west-2",
  },
  // Secrets: the deploy and review workflows set the keys their environment holds on every stack
  // (.github/workflows/review.yml), so a key a stack does not use is said (a warning the program
  // logs), not refused.
  {
    key: "ghcrToken",
    appliesWhere: "every target but local (the pushed image)",
    noEffect: (c) => (c.target === "local" ? "target.kind local builds the image into the local Docker engine and never pushes it" : undefined),
    warnOnly: true,
    example: "fake",
  },
  {
    key: "renderApiKey",
    appliesWhere: "target.kind render",
    noEffect: (c) => (c.target !== "render" ? `only target.kind render calls Render's API; this stack runs on ${c.target}` : undefined),
    warnOnly: true,
    example: "fake",
  },
  {
    key: "hfToken",
    appliesWhere: "target.kind hf-space",
    noEffect: (c) => (c.target !== "hf-space" ? `only target.kind hf-space calls the Hugging Face Hub; this stack runs on ${c.target}` : undefined),
    warnOnly: true,
    example: "fake",
  },
  {
    key: "neonApiKey",
    appliesWhere: "database.kind neon",
    noEffect: (c) => (c.database !== "neon" ? `only database.kind neon calls Neon's API; this stack's database is ${c.database}` : undefined),
    warnOnly: true,
    example: "fake",
  },
  {
    key: "autheliaPasswordHashes",
    appliesWhere: "target.kind ecs (with target.users)",
    noEffect: (c) => (c.target !== "ecs" ? `only target.kind ecs runs Authelia's portal; ${c.target} signs people in with MLflow's own basic auth` : undefined),
    warnOnly: true,
    example: "{}",
  },
];

/**
 * Keys that act on every stack that accepts them, and why. Target-specific keys (target.*,
 * database.<kind-only key>, artifacts.<minio-only key>) are refused elsewhere by the schema
 * itself (each kind is a strict object), and a kind that cannot run with a target is refused by
 * settings.ts's kind rules (rds only with ecs, local and minio only with local).
 */
export const EVERYWHERE: Record<string, string> = {
  lifecycle: "protection and retention of the data (every target)",
  "database.kind": "chooses the database; kinds a target cannot reach are refused by settings.ts",
  "database.*": "keys of one database kind: the schema refuses them under another kind; the database runs whatever the target",
  "target.kind": "chooses the target",
  "target.*": "keys of one target kind: the schema refuses them under another kind",
  "artifacts.kind": "chooses the artifact store; minio only with target.kind local (settings.ts)",
  "artifacts.prefix": "the key prefix in the bucket, S3 or MinIO, every target",
  "artifacts.noncurrentVersionDays": "the S3 bucket's lifecycle rule, every target with S3",
  "artifacts.image": "MinIO's image (artifacts.kind minio, which runs with target.kind local only)",
  "artifacts.keyRotation": "MinIO's server user (artifacts.kind minio, target.kind local only)",
  "monitoring.enabled": "MLFLOW_METRICS (/metrics) on every target; beside it Prometheus and Grafana on local, the CloudWatch dashboard on ecs (the edge refuses /metrics from outside)",
  "server.workers": "MLFLOW_WORKERS of the runtime contract, every target",
  "server.adminUsername": "MLflow's basic-auth admin: every target runs MLflow's auth app (ecs too, behind the edge)",
  "server.defaultPermission": "MLflow's auth app, every target",
  "server.corsAllowedOrigins": "MLFLOW_CORS_ALLOWED_ORIGINS, every target",
  "server.allowMajorUpgrade": "MLFLOW_ALLOW_MAJOR_UPGRADE: the entrypoint's migration (ecs: the one-off migrate container)",
  "image.platform": "the build platform everywhere (target.kind local: of the local build; ecs: the task's CPU architecture)",
  "rotation.databasePassword": "the database role's password, every database kind",
  "rotation.flaskSecretKey": "MLflow's auth app's Flask key, every target",
  expiresAt: "ephemeral stacks (a long-lived one is refused by settings.ts: it never expires)",
  skipTarget: "leaves the target out; its settings are kept, unused, for when it is turned back on (review stacks with review.target kind none)",
  adminPassword: "MLflow's admin password, every target",
};

/**
 * Whether a secret key does nothing for a stack of these kinds (its rule asks nothing else):
 * the offline plan (stacks/stack-config.ts) fills no placeholder for it.
 */
export function secretHasNoEffect(key: string, kinds: { target: string; database: string }): boolean {
  const rule = RULES.find((r) => r.key === key);
  if (!rule) return false;
  const c: EffectContext = {
    stack: "", target: kinds.target as TargetKind, database: kinds.database as DatabaseKind, artifacts: "s3", lifecycle: "long-lived",
    existingVpc: false, existingNeonProject: false, monitoringEnabled: false,
    logging: { accessLogs: false, flowLogs: false, databaseLogs: false, enhancedMonitoringSeconds: 0 },
    given: () => true, value: () => undefined,
  };
  return rule.noEffect(c) !== undefined;
}
