import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";

export interface SetupJobArgs {
  /** Physical container name. */
  containerName: string;
  /** Image id (docker.RemoteImage.imageId) the job runs; the same image as the server it sets up. */
  image: pulumi.Input<string>;
  /** The script's interpreter and path, e.g. ["bash", "/mlflow-kit/setup.sh"]. */
  entrypoint: string[];
  /** Files placed in the container before it starts (the script, a policy document). */
  uploads: Array<{ file: string; content: pulumi.Input<string> }>;
  /** KEY=value lines; secret as a whole, because some carry credentials. */
  envs: pulumi.Input<pulumi.Input<string>[]>;
  networkName?: pulumi.Input<string>;
  volumes?: Array<{ volumeName: pulumi.Input<string>; containerPath: string }>;
  labels: Array<{ label: string; value: string }>;
  dependsOn: pulumi.Input<pulumi.Resource>[];
  parent: pulumi.Resource;
}

/**
 * A one-shot container that runs an idempotent setup script beside a service on the private
 * network, and fails `pulumi up` when the script fails. Any change of its inputs (a rotated
 * password) replaces the container, which runs the script again: the service converges without
 * anything reaching it from the machine running `pulumi up`.
 *
 * The provider waits for the container to exit (attach, mustRun false) and reports its exit
 * code without failing on it (its logs are not fetched, so they never reach the state); the returned Output throws on a non-zero code, so whatever
 * consumes it (the server's connection settings) never sees a half-set-up service.
 */
export function runSetupJob(name: string, a: SetupJobArgs): pulumi.Output<string> {
  const job = new docker.Container(name, {
    name: a.containerName,
    image: a.image,
    entrypoints: a.entrypoint,
    envs: pulumi.secret(a.envs),
    uploads: a.uploads.map((u) => ({ file: u.file, content: u.content, permissions: "0555" })),
    networksAdvanced: a.networkName ? [{ name: a.networkName }] : undefined,
    networkMode: a.networkName ? undefined : "none",
    volumes: a.volumes,
    attach: true,
    // Never kept: the provider stores a one-shot container's logs in the state (containerLogs),
    // in plain text, whatever the script printed. `docker logs <name>` shows them.
    logs: false,
    mustRun: false,
    restart: "no",
    labels: a.labels,
  }, {
    parent: a.parent,
    dependsOn: a.dependsOn,
    // Its scripts bound their own waits; this bounds the provider's.
    customTimeouts: { create: "5m" },
  });
  return pulumi.all([job.exitCode, job.name]).apply(([code, containerName]) => {
    if (code !== 0) {
      throw new Error(`${containerName} exited with code ${code}; its output: \`docker logs ${containerName}\` (no secret is printed there)`);
    }
    return containerName;
  });
}
