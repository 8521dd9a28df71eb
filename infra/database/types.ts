import * as pulumi from "@pulumi/pulumi";

/**
 * What every metadata store (Neon, RDS, local) gives the rest of the program: two databases
 * owned by one application role, as secret connection URIs. The role is least-privilege on RDS
 * and locally; on Neon it is a member of neon_superuser (every role Neon's API creates is). The auth database
 * is separate from tracking (MLflow's auth app crash-loops when they share one).
 */
export interface MetadataDatabase {
  /** postgresql://app:password@host:5432/mlflow_tracking?<TLS that verifies the server>, a Pulumi secret (RDS: sslmode=verify-full&sslrootcert=...). */
  readonly trackingUri: pulumi.Output<string>;
  /** postgresql://app:password@host:5432/mlflow_auth?<TLS that verifies the server>, a Pulumi secret. */
  readonly authUri: pulumi.Output<string>;
  /** Resources the server must wait for before it starts (role and databases exist). */
  readonly ready: pulumi.Output<string>;
  /**
   * host[:port] of the server without a connection pooler, where the URIs go through one (Neon's
   * PgBouncer, transaction mode): migrations and the start-up lock connect there. Not a secret:
   * the pooled host (in the URIs, and in the entrypoint's messages) is it with "-pooler" added.
   */
  readonly directHost?: pulumi.Output<string>;
}

/** Names shared by every database implementation. */
export const TRACKING_DATABASE = "mlflow_tracking";
export const AUTH_DATABASE = "mlflow_auth";
export const APP_ROLE = "mlflow_app";
