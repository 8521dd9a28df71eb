import type * as pulumi from "@pulumi/pulumi";

/**
 * What every artifact store (S3, MinIO) gives the rest of the program: where MLflow's proxied
 * artifacts go and the one key the server signs with, limited to that place.
 */
export interface ArtifactStorage {
  readonly bucketName: pulumi.Output<string>;
  /** s3://bucket/prefix, MLFLOW_ARTIFACTS_DESTINATION. */
  readonly artifactsDestination: pulumi.Output<string>;
  readonly region: pulumi.Output<string>;
  /** Only for stores that are not AWS S3 (MLFLOW_S3_ENDPOINT_URL). */
  readonly endpointUrl: pulumi.Output<string> | undefined;
  /** The user whose key the server holds; undefined where the server runs with a role (S3 on ECS). */
  readonly userName: pulumi.Output<string> | undefined;
  /** Secret. */
  readonly accessKeyId: pulumi.Output<string> | undefined;
  /** Secret. */
  readonly secretAccessKey: pulumi.Output<string> | undefined;
}
