/**
 * The one place that turns database, artifacts and credentials into the container env that
 * images/mlflow accepts. The variables themselves are declared once, in
 * images/mlflow/contract.json, which the image's entrypoint validates against too.
 */
import * as pulumi from "@pulumi/pulumi";
import contract from "../images/mlflow/contract.json";
import type { Settings } from "./settings";
import { type MigrateMode, targetProfile } from "./targets/profile";

export type ContractVariable = (typeof contract.variables)[number];
export const CONTRACT_VARIABLES: readonly ContractVariable[] = contract.variables;
const byName = new Map(CONTRACT_VARIABLES.map((v) => [v.name, v]));


export interface RuntimeInputs {
  trackingDatabaseUri: pulumi.Input<string>;
  /** host[:port] without the pooler (Neon), for migrations and the start-up lock; unset: the URIs' own. */
  databaseDirectHost?: pulumi.Input<string>;
  auth:
    | {
        /** MLflow's own basic auth: the server authenticates every request. */
        mode: "basic";
        databaseUri: pulumi.Input<string>;
        adminUsername: string;
        adminPassword: pulumi.Input<string>;
        flaskSecretKey: pulumi.Input<string>;
        defaultPermission: "READ" | "EDIT" | "MANAGE" | "NO_PERMISSIONS";
      }
    | {
        /** An authenticating proxy (Traefik + Authelia) in front; MLflow runs without auth. */
        mode: "proxy";
      };
  artifacts: {
    /** s3://bucket/prefix */
    destination: pulumi.Input<string>;
    region: pulumi.Input<string>;
    /** Non-AWS S3 only (MinIO, an emulator). */
    endpointUrl?: pulumi.Input<string>;
    /** Static keys of the artifact store's IAM user; omitted where the platform gives a role. */
    accessKey?: { id: pulumi.Input<string>; secret: pulumi.Input<string> };
  };
  server: {
    publicHostname: pulumi.Input<string>;
    /**
     * With publicHostname, the public origin the image allows state-changing browser requests
     * from (https://<host>; http://<host>:<port> and http://127.0.0.1:<port>): the UI sends its
     * reads as POST, which MLflow refuses from any other origin. See MLFLOW_PUBLIC_SCHEME.
     * Unset: the image's default, https.
     */
    publicScheme?: "https" | "http";
    port: number;
    workers: number;
    migrate: MigrateMode;
    /** Lets migrate auto/only take a 2.x database to 3.x (one way): set for the adoption start only. */
    allowMajorUpgrade?: boolean;
    /** Origins beside the public one (server.corsAllowedOrigins). */
    corsAllowedOrigins?: string[];
    dbWaitSeconds?: number;
    /** Prometheus metrics on /metrics (MLFLOW_METRICS=on). */
    metrics?: boolean;
  };
}

export type RuntimeEnvironment = Record<string, pulumi.Output<string>>;

/**
 * The container env for these inputs. Every variable the contract marks secret is a Pulumi
 * secret here, so a target can hand the map to its platform without deciding again.
 */
export function runtimeEnvironment(i: RuntimeInputs): RuntimeEnvironment {
  const env: Record<string, pulumi.Input<string> | undefined> = {
    MLFLOW_BACKEND_STORE_URI: i.trackingDatabaseUri,
    MLFLOW_DB_DIRECT_HOST: i.databaseDirectHost,
    MLFLOW_AUTH_MODE: i.auth.mode,
    MLFLOW_ARTIFACTS_DESTINATION: i.artifacts.destination,
    AWS_DEFAULT_REGION: i.artifacts.region,
    MLFLOW_S3_ENDPOINT_URL: i.artifacts.endpointUrl,
    AWS_ACCESS_KEY_ID: i.artifacts.accessKey?.id,
    AWS_SECRET_ACCESS_KEY: i.artifacts.accessKey?.secret,
    MLFLOW_PUBLIC_HOSTNAME: i.server.publicHostname,
    MLFLOW_PUBLIC_SCHEME: i.server.publicScheme,
    PORT: String(i.server.port),
    MLFLOW_WORKERS: String(i.server.workers),
    MLFLOW_MIGRATE: i.server.migrate,
    MLFLOW_ALLOW_MAJOR_UPGRADE: i.server.allowMajorUpgrade ? "true" : undefined,
    MLFLOW_DB_WAIT_SECONDS: i.server.dbWaitSeconds === undefined ? undefined : String(i.server.dbWaitSeconds),
    MLFLOW_METRICS: i.server.metrics ? "on" : undefined,
    MLFLOW_CORS_ALLOWED_ORIGINS: i.server.corsAllowedOrigins?.length ? i.server.corsAllowedOrigins.join(",") : undefined,
  };
  if (i.auth.mode === "basic") {
    Object.assign(env, {
      MLFLOW_AUTH_DATABASE_URI: i.auth.databaseUri,
      MLFLOW_ADMIN_USERNAME: i.auth.adminUsername,
      MLFLOW_ADMIN_PASSWORD: i.auth.adminPassword,
      MLFLOW_FLASK_SERVER_SECRET_KEY: i.auth.flaskSecretKey,
      MLFLOW_DEFAULT_PERMISSION: i.auth.defaultPermission,
    });
  }

  return contractEntries(env);
}

/** Each set value as its contract variable, secret where contract.json says so. */
function contractEntries(env: Record<string, pulumi.Input<string> | undefined>): RuntimeEnvironment {
  const out: RuntimeEnvironment = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    const variable = byName.get(name);
    // A name missing from contract.json is a bug here, not a config problem: fail loudly.
    if (!variable) throw new Error(`runtime-contract: ${name} is not declared in images/mlflow/contract.json`);
    out[name] = variable.secret ? pulumi.secret(value) : pulumi.output(value);
  }
  return out;
}

/** What the ECS edge adds to basic mode: Remote-User from Traefik + Authelia, API users. */
export interface EdgeIdentities {
  /** The secret Traefik sends with Remote-User (MLFLOW_EDGE_SECRET). */
  secret: pulumi.Input<string>;
  /** People who sign in at the portal (target.users): created in MLflow's auth database. */
  people: string[];
  /** API username -> generated password (MLflow Basic, no lockout). */
  apiUsers: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** The contract variables of EdgeIdentities; the ECS target merges them into the stack's env. */
export function edgeRuntimeEnvironment(e: EdgeIdentities): RuntimeEnvironment {
  const env: Record<string, pulumi.Input<string> | undefined> = {
    MLFLOW_EDGE_SECRET: e.secret,
    MLFLOW_EDGE_USERS: e.people.length ? e.people.join(",") : undefined,
    MLFLOW_API_USER_PASSWORDS: pulumi.output(e.apiUsers).apply((users) => JSON.stringify(users)),
  };
  return contractEntries(env);
}

/** What a deployment has made by the time the server can run. */
export interface DeployedParts {
  trackingDatabaseUri: pulumi.Input<string>;
  authDatabaseUri: pulumi.Input<string>;
  /** The database host without a pooler, where the URIs go through one (Neon). */
  databaseDirectHost?: pulumi.Input<string>;
  adminPassword: pulumi.Input<string>;
  flaskSecretKey: pulumi.Input<string>;
  artifactsDestination: pulumi.Input<string>;
  artifactsRegion: pulumi.Input<string>;
  /** The artifact user's key; none where the server runs with a role (ECS). */
  accessKey?: { id: pulumi.Input<string>; secret: pulumi.Input<string> };
  /** Non-AWS S3 only (an emulator in the image's e2e test). */
  s3EndpointUrl?: pulumi.Input<string>;
  /** Overrides the target's port (the e2e test's free port). */
  port?: number;
}

/**
 * The container env of a stack: its settings and target decide the auth mode, host, port,
 * workers and migrations; the deployed parts fill in endpoints and credentials. The deployment
 * and the image's e2e test (stacks/runtime-env.ts) both call this, so the test runs exactly
 * what a stack deploys.
 */
export function stackRuntimeEnvironment(s: Settings, parts: DeployedParts): RuntimeEnvironment {
  const profile = targetProfile(s);
  if (s.target.kind !== "ecs" && !parts.accessKey) {
    throw new Error(`mlflow-kit: target.kind ${s.target.kind} runs outside AWS and signs artifact requests with the artifact user's key, but the artifact store has none`);
  }
  return runtimeEnvironment({
    trackingDatabaseUri: parts.trackingDatabaseUri,
    databaseDirectHost: parts.databaseDirectHost,
    auth: profile.authMode === "proxy"
      ? { mode: "proxy" }
      : {
          mode: "basic",
          databaseUri: parts.authDatabaseUri,
          adminUsername: s.server.adminUsername,
          adminPassword: parts.adminPassword,
          flaskSecretKey: parts.flaskSecretKey,
          defaultPermission: s.server.defaultPermission,
        },
    artifacts: {
      destination: parts.artifactsDestination,
      region: parts.artifactsRegion,
      endpointUrl: parts.s3EndpointUrl,
      // ECS gives the task a role; the other targets run with the IAM user's active key.
      accessKey: s.target.kind === "ecs" ? undefined : parts.accessKey,
    },
    server: {
      publicHostname: profile.publicHostname,
      publicScheme: profile.publicScheme,
      port: parts.port ?? profile.port,
      workers: s.server.workers,
      migrate: profile.migrate,
      allowMajorUpgrade: s.server.allowMajorUpgrade,
      corsAllowedOrigins: s.server.corsAllowedOrigins,
      metrics: s.monitoring.enabled,
    },
  });
}

/** The variables the image requires for an auth mode, per the contract. */
export function requiredVariables(mode: "basic" | "proxy"): string[] {
  return CONTRACT_VARIABLES.filter((v) => v.required === "always" || v.required === mode).map((v) => v.name);
}

/** Problems of a concrete env against the contract (names only: values are never echoed). */
export function contractProblems(env: Record<string, string>): string[] {
  const problems: string[] = [];
  const mode = (env.MLFLOW_AUTH_MODE ?? "basic") as "basic" | "proxy";
  for (const name of requiredVariables(mode)) if (!(name in env)) problems.push(`${name}: required`);
  for (const [name, value] of Object.entries(env)) {
    const v = byName.get(name) as (ContractVariable & { pattern?: string; enum?: string[]; minLength?: number }) | undefined;
    if (!v) problems.push(`${name}: not in the contract`);
    else if (v.pattern && !new RegExp(v.pattern).test(value)) problems.push(`${name}: does not match ${v.pattern}`);
    else if (v.enum && !v.enum.includes(value)) problems.push(`${name}: not one of ${v.enum.join(", ")}`);
    else if (v.minLength && value.length < v.minLength) problems.push(`${name}: shorter than ${v.minLength}`);
  }
  return problems;
}
