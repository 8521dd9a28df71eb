import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { dockerLabels } from "../docker/private-network";
import type { RuntimeEnvironment } from "../runtime-contract";
import type { DeployedTarget } from "./types";
import { dockerDuration } from "../docker/duration";

export interface LocalTargetArgs {
  /** `<project>-<stack>`: prefixes the container and network names. */
  namePrefix: string;
  /** The locally built image id (MlflowImage.imageRef, sha256:...). */
  imageRef: pulumi.Input<string>;
  /** The runtime contract, secrets as secrets. */
  environment: RuntimeEnvironment;
  /** The port the server listens on (PORT) and is published on, on 127.0.0.1 only. */
  port: number;
  /** The private network PostgreSQL and MinIO are on; absent when neither runs locally. */
  privateNetworkName?: pulumi.Input<string>;
  tags: Record<string, string>;
}

/** Loopback only: the server is never reachable from another machine. */
export const PUBLISH_ADDRESS = "127.0.0.1";
/** Where the server writes on its read-only root filesystem (proxied artifact transfers). */
const WRITABLE_TMPFS = { "/tmp": "rw,noexec,nosuid,size=1g" };

/**
 * The MLflow server as a container of the local Docker engine: the image built on this machine,
 * the runtime contract as its env (a Pulumi secret as a whole), published on 127.0.0.1 only,
 * restarted unless stopped, healthy per its /health.
 *
 * Two networks: the private one (internal, no published ports possible) to reach PostgreSQL
 * and MinIO, and a bridge of its own that carries the published port.
 */
export class LocalTarget extends pulumi.ComponentResource implements DeployedTarget {
  readonly url: pulumi.Output<string>;
  readonly containerName: pulumi.Output<string>;

  constructor(name: string, args: LocalTargetArgs, opts?: pulumi.ComponentResourceOptions) {
    // Checked before super(): a bad port registers nothing.
    if (!Number.isInteger(args.port) || args.port < 1024 || args.port > 65535) {
      throw new Error(`LocalTarget: port must be 1024-65535 (got ${args.port})`);
    }
    super("mlflow-kit:targets:LocalTarget", name, {}, opts);
    const labels = dockerLabels(args.tags);

    const published = new docker.Network(`${name}-published`, {
      name: `${args.namePrefix}-published`,
      driver: "bridge",
      labels,
    }, { parent: this });

    const names = Object.keys(args.environment).sort();
    const envs = pulumi.secret(pulumi.all(names.map((n) => args.environment[n])).apply((values) => names.map((n, i) => `${n}=${values[i]}`)));

    const server = new docker.Container(`${name}-server`, {
      name: `${args.namePrefix}-server`,
      image: args.imageRef,
      envs,
      networksAdvanced: [
        { name: published.name },
        ...(args.privateNetworkName ? [{ name: args.privateNetworkName }] : []),
      ],
      ports: [{ internal: args.port, external: args.port, ip: PUBLISH_ADDRESS, protocol: "tcp" }],
      restart: "unless-stopped",
      // The image's own check, stated here so that it is what `pulumi up` waits for.
      healthcheck: {
        tests: ["CMD", "python", "-c", `import urllib.request; urllib.request.urlopen('http://127.0.0.1:${args.port}/health', timeout=4)`],
        interval: dockerDuration(15), timeout: dockerDuration(5), retries: 4, startPeriod: dockerDuration(120),
      },
      // The first start migrates both databases before it serves.
      wait: true,
      waitTimeout: 300,
      readOnly: true,
      tmpfs: WRITABLE_TMPFS,
      capabilities: { drops: ["ALL"] },
      securityOpts: ["no-new-privileges:true"],
      // uvicorn gets SIGTERM and drains; then the container goes.
      destroyGraceSeconds: 30,
      labels,
    }, { parent: this });

    this.url = pulumi.output(`http://${PUBLISH_ADDRESS}:${args.port}`);
    this.containerName = server.name;
    this.registerOutputs({ url: this.url, containerName: this.containerName });
  }
}
