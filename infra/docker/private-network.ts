import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";

export interface PrivateNetworkArgs {
  /** Physical network name: `<project>-<stack>-private`. */
  networkName: string;
  labels: Record<string, string>;
}

/**
 * The Docker network the local stack's data services live on. Internal: no route out of it and
 * no port published from it, so PostgreSQL and MinIO are reachable only by the containers
 * attached here (the server and the setup jobs), by their aliases (postgres, minio).
 */
export class PrivateNetwork extends pulumi.ComponentResource {
  readonly name: pulumi.Output<string>;

  constructor(name: string, args: PrivateNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mlflow-kit:docker:PrivateNetwork", name, {}, opts);
    const network = new docker.Network(name, {
      name: args.networkName,
      driver: "bridge",
      internal: true,
      labels: dockerLabels(args.labels),
    }, { parent: this });
    this.name = network.name;
    this.registerOutputs({ name: this.name });
  }
}

/**
 * The stack's tags as Docker labels (":" becomes ".", Docker's key convention), so that
 * `docker ps --filter label=mlflow-kit.stack=local` lists a stack's containers.
 */
export function dockerLabels(tags: Record<string, string>): Array<{ label: string; value: string }> {
  return Object.entries(tags).map(([key, value]) => ({ label: key.replace(/:/g, "."), value }));
}
