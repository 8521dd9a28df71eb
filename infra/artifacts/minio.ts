import * as fs from "node:fs";
import * as path from "node:path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { dockerLabels } from "../docker/private-network";
import { runSetupJob } from "../docker/setup-job";
import { artifactUserPolicy } from "./s3";
import type { ArtifactStorage } from "./types";
import { dockerDuration } from "../docker/duration";

export interface MinioArtifactStoreArgs {
  /** `<project>-<stack>`: prefixes the container and volume names. */
  namePrefix: string;
  /** Physical bucket name: `<project>-<stack>-artifacts`. */
  bucketName: string;
  /** Artifact prefix inside the bucket, no leading or trailing slash. */
  prefix: string;
  lifecycle: "long-lived" | "ephemeral";
  /** Long-lived only: drops `protect` from the volume so that `pulumi destroy` can finish (it stays in Docker). */
  decommission?: boolean;
  /** MinIO image pinned by digest. */
  image: string;
  /** The private network (PrivateNetwork.name). */
  networkName: pulumi.Input<string>;
  /** Changing this number gives the server's user a new secret key. */
  keyRotation: number;
  tags: Record<string, string>;
}

/** MinIO's name on the private network, and the endpoint the server signs its requests for. */
export const MINIO_HOST = "minio";
const API_PORT = 9000;
/** MinIO's default region; boto3 signs for it. */
const REGION = "us-east-1";
const POLICY_NAME = "mlflow-artifacts";
const ROOT_USER = "mlflow-kit-root";
const SETUP_SCRIPT = path.join(__dirname, "minio-setup.sh");

/**
 * MinIO in a container on the machine running `pulumi up`, as the local stack's artifact store:
 * on the private network only (no published port), data in a named volume, its console off.
 * A one-shot setup container creates the bucket and a user whose policy is the S3 store's
 * (artifactUserPolicy: list, read, write and delete under the prefix, nothing else); the server
 * holds that user's key, never the root credentials.
 */
export class MinioArtifactStore extends pulumi.ComponentResource implements ArtifactStorage {
  readonly bucketName: pulumi.Output<string>;
  readonly artifactsDestination: pulumi.Output<string>;
  readonly region: pulumi.Output<string>;
  readonly endpointUrl: pulumi.Output<string>;
  /** MinIO names a user by its access key: secret like the key. */
  readonly userName: pulumi.Output<string>;
  readonly accessKeyId: pulumi.Output<string>;
  readonly secretAccessKey: pulumi.Output<string>;
  readonly volumeName: pulumi.Output<string>;

  constructor(name: string, args: MinioArtifactStoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mlflow-kit:artifacts:MinioArtifactStore", name, {}, opts);
    const labels = dockerLabels(args.tags);
    // As LocalDatabase's volumes: protected and retained when long-lived.
    const keepData: pulumi.CustomResourceOptions = args.lifecycle === "long-lived" ? { protect: !args.decommission, retainOnDelete: true } : {};
    // Checked here, before anything exists: the policy must not widen (see artifactUserPolicy).
    const policy = JSON.stringify(artifactUserPolicy(`arn:aws:s3:::${args.bucketName}`, args.prefix), null, 2);

    const image = new docker.RemoteImage(`${name}-image`, { name: args.image, keepLocally: true }, { parent: this });
    const data = new docker.Volume(`${name}-data`, {
      name: `${args.namePrefix}-minio-data`,
      labels,
    }, { parent: this, ...keepData });

    const rootPassword = new random.RandomPassword(`${name}-root-password`, { length: 40, special: false }, { parent: this });
    // Upper-case letters and digits: the shape of the contract's AWS_ACCESS_KEY_ID. A
    // RandomPassword, not a RandomString: its result is a secret from birth, and its id is
    // "none" (a RandomString keeps the key in plain text as its result and its id).
    const accessKey = new random.RandomPassword(`${name}-access-key`, {
      length: 20, special: false, lower: false, upper: true, numeric: true,
      keepers: { rotation: String(args.keyRotation) },
    }, { parent: this });
    const secretKey = new random.RandomPassword(`${name}-secret-key`, {
      length: 40, special: false,
      keepers: { rotation: String(args.keyRotation) },
    }, { parent: this });

    const server = new docker.Container(`${name}-server`, {
      name: `${args.namePrefix}-minio`,
      image: image.imageId,
      command: ["server", "/data"],
      envs: pulumi.secret(pulumi.all([rootPassword.result]).apply(([password]) => [
        `MINIO_ROOT_USER=${ROOT_USER}`,
        `MINIO_ROOT_PASSWORD=${password}`,
        // The web console is not published anyway; off, it is not there at all.
        "MINIO_BROWSER=off",
      ])),
      networksAdvanced: [{ name: args.networkName, aliases: [MINIO_HOST] }],
      volumes: [{ volumeName: data.name, containerPath: "/data" }],
      restart: "unless-stopped",
      // The image has no curl; `mc ready local` asks the server's health endpoint.
      healthcheck: { tests: ["CMD", "mc", "ready", "local"], interval: dockerDuration(5), timeout: dockerDuration(5), retries: 12, startPeriod: dockerDuration(10) },
      wait: true,
      waitTimeout: 120,
      destroyGraceSeconds: 30,
      labels,
    }, { parent: this });

    const ready = runSetupJob(`${name}-setup`, {
      containerName: `${args.namePrefix}-minio-setup`,
      image: image.imageId,
      entrypoint: ["/bin/sh", "/mlflow-kit/minio-setup.sh"],
      uploads: [
        { file: "/mlflow-kit/minio-setup.sh", content: fs.readFileSync(SETUP_SCRIPT, "utf8") },
        { file: "/mlflow-kit/policy.json", content: policy },
      ],
      envs: pulumi.all([rootPassword.result, accessKey.result, secretKey.result]).apply(([root, id, secret]) => [
        `MC_HOST_local=http://${ROOT_USER}:${root}@${MINIO_HOST}:${API_PORT}`,
        `MLFLOW_BUCKET=${args.bucketName}`,
        `MLFLOW_POLICY=${POLICY_NAME}`,
        `MLFLOW_ACCESS_KEY=${id}`,
        `MLFLOW_SECRET_KEY=${secret}`,
      ]),
      networkName: args.networkName,
      labels,
      dependsOn: [server],
      parent: this,
    });

    // Built from `ready`: the server gets the bucket and key only once they exist.
    this.bucketName = ready.apply(() => args.bucketName);
    this.artifactsDestination = ready.apply(() => `s3://${args.bucketName}/${args.prefix}`);
    this.region = pulumi.output(REGION);
    this.endpointUrl = pulumi.output(`http://${MINIO_HOST}:${API_PORT}`);
    this.accessKeyId = pulumi.secret(pulumi.all([accessKey.result, ready]).apply(([id]) => id));
    this.userName = this.accessKeyId;
    this.secretAccessKey = pulumi.secret(pulumi.all([secretKey.result, ready]).apply(([secret]) => secret));
    this.volumeName = data.name;

    this.registerOutputs({
      bucketName: this.bucketName,
      artifactsDestination: this.artifactsDestination,
      region: this.region,
      endpointUrl: this.endpointUrl,
      userName: this.userName,
      accessKeyId: this.accessKeyId,
      secretAccessKey: this.secretAccessKey,
      volumeName: this.volumeName,
    });
  }
}
