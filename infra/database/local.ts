import * as fs from "node:fs";
import * as path from "node:path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { dockerLabels } from "../docker/private-network";
import { runSetupJob } from "../docker/setup-job";
import { scramVerifier } from "./bootstrap/handler";
import { APP_ROLE, AUTH_DATABASE, MetadataDatabase, TRACKING_DATABASE } from "./types";
import { dockerDuration } from "../docker/duration";

export interface LocalDatabaseArgs {
  /** `<project>-<stack>`: prefixes the container and volume names. */
  namePrefix: string;
  lifecycle: "long-lived" | "ephemeral";
  /** Long-lived only: drops `protect` from the volumes so that `pulumi destroy` can finish (they stay in Docker). */
  decommission?: boolean;
  /** PostgreSQL image pinned by digest. */
  image: string;
  /** The private network (PrivateNetwork.name). */
  networkName: pulumi.Input<string>;
  /** Changing this number generates a new app-role password (random.RandomPassword keepers). */
  passwordRotation: number;
  tags: Record<string, string>;
}

/** The server's name on the private network. */
export const POSTGRES_HOST = "postgres";
const PORT = 5432;
const DATABASES = [TRACKING_DATABASE, AUTH_DATABASE];
const DATA_DIR = "/var/lib/postgresql/data";
const SOCKET_DIR = "/var/run/postgresql";
const SETUP_SCRIPT = path.join(__dirname, "local-setup.sh");

/**
 * PostgreSQL in a container on the machine running `pulumi up`: on the private network only
 * (no published port), data in a named volume, restarted unless stopped, healthy once it
 * accepts TCP connections.
 *
 * The role and the databases come from local-setup.sh, run by a one-shot container of the same
 * image over the server's Unix socket (a volume both mount), as the superuser that the
 * official image trusts on that socket. Not the image's /docker-entrypoint-initdb.d: that runs
 * only on an empty volume, so it could neither apply a rotated password nor take over a volume
 * kept from an earlier stack (whose passwords were generated anew). Nothing connects from the
 * machine running `pulumi up`, and no superuser password is used at all (the image requires
 * one, so one is generated and never handed out).
 */
export class LocalDatabase extends pulumi.ComponentResource implements MetadataDatabase {
  readonly trackingUri: pulumi.Output<string>;
  readonly authUri: pulumi.Output<string>;
  readonly ready: pulumi.Output<string>;
  /** The data volume's name (kept on `pulumi destroy` when long-lived). */
  readonly volumeName: pulumi.Output<string>;
  readonly containerName: pulumi.Output<string>;

  constructor(name: string, args: LocalDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mlflow-kit:database:LocalDatabase", name, {}, opts);
    const labels = dockerLabels(args.tags);
    // Long-lived: the volumes are protected (`pulumi destroy --exclude-protected` leaves them
    // and a later `pulumi up` takes them up again) and retained on delete (decommissioning
    // drops protect; the data stays in Docker until `docker volume rm`). See README "local".
    const keepData: pulumi.CustomResourceOptions = args.lifecycle === "long-lived" ? { protect: !args.decommission, retainOnDelete: true } : {};

    const image = new docker.RemoteImage(`${name}-image`, {
      name: args.image,
      // Other stacks on the machine may run the same image: never remove it on destroy.
      keepLocally: true,
    }, { parent: this });

    const data = new docker.Volume(`${name}-data`, {
      name: `${args.namePrefix}-pgdata`,
      labels,
    }, { parent: this, ...keepData });
    // Only the server's socket lives here; the setup job reaches the server through it. Kept
    // like the data, so that a kept data volume always finds its server's socket directory.
    const socket = new docker.Volume(`${name}-socket`, {
      name: `${args.namePrefix}-pgsocket`,
      labels,
    }, { parent: this, ...keepData });

    // Required by the image to initialise; nothing ever logs in with it (see above).
    const superuserPassword = new random.RandomPassword(`${name}-superuser-password`, {
      length: 32, special: false,
    }, { parent: this });
    const appPassword = new random.RandomPassword(`${name}-app-password`, {
      length: 32, special: false,
      keepers: { rotation: String(args.passwordRotation) },
    }, { parent: this });
    // The server stores a SCRAM verifier, never the password; a stable salt keeps the verifier
    // (and so the setup job) unchanged between runs, a rotation draws a new one.
    const salt = new random.RandomBytes(`${name}-app-password-salt`, {
      length: 16,
      keepers: { rotation: String(args.passwordRotation) },
    }, { parent: this });

    const server = new docker.Container(`${name}-server`, {
      name: `${args.namePrefix}-postgres`,
      image: image.imageId,
      envs: pulumi.secret(pulumi.interpolate`POSTGRES_PASSWORD=${superuserPassword.result}`.apply((e) => [e])),
      networksAdvanced: [{ name: args.networkName, aliases: [POSTGRES_HOST] }],
      volumes: [
        { volumeName: data.name, containerPath: DATA_DIR },
        { volumeName: socket.name, containerPath: SOCKET_DIR },
      ],
      restart: "unless-stopped",
      // TCP on purpose: during initialisation the image runs a socket-only server, which must
      // not count as ready.
      healthcheck: {
        tests: ["CMD", "pg_isready", "--host", "127.0.0.1", "--port", String(PORT), "--username", "postgres", "--dbname", "postgres"],
        interval: dockerDuration(5), timeout: dockerDuration(5), retries: 12, startPeriod: dockerDuration(30),
      },
      wait: true,
      waitTimeout: 180,
      // A clean shutdown (checkpoint) before the container goes.
      stopSignal: "SIGINT",
      stopTimeout: 60,
      destroyGraceSeconds: 60,
      labels,
    }, { parent: this });

    this.ready = runSetupJob(`${name}-setup`, {
      containerName: `${args.namePrefix}-postgres-setup`,
      image: image.imageId,
      entrypoint: ["bash", "/mlflow-kit/local-setup.sh"],
      uploads: [{ file: "/mlflow-kit/local-setup.sh", content: fs.readFileSync(SETUP_SCRIPT, "utf8") }],
      envs: pulumi.all([appPassword.result, salt.hex]).apply(([password, saltHex]) => [
        `PGHOST=${SOCKET_DIR}`,
        "PGUSER=postgres",
        "PGDATABASE=postgres",
        `MLFLOW_ROLE=${APP_ROLE}`,
        `MLFLOW_ROLE_PASSWORD=${scramVerifier(password, Buffer.from(saltHex, "hex"))}`,
        `MLFLOW_DATABASES=${DATABASES.join(" ")}`,
      ]),
      volumes: [{ volumeName: socket.name, containerPath: SOCKET_DIR }],
      labels,
      dependsOn: [server],
      parent: this,
    });

    // Built from `ready`: whatever consumes a URI waits for the role and databases.
    const uri = (database: string) => pulumi.secret(pulumi.all([appPassword.result, this.ready]).apply(([password]) =>
      // No TLS inside the private Docker network; nothing outside it can reach the server.
      `postgresql://${APP_ROLE}:${encodeURIComponent(password)}@${POSTGRES_HOST}:${PORT}/${database}?sslmode=disable`));
    this.trackingUri = uri(TRACKING_DATABASE);
    this.authUri = uri(AUTH_DATABASE);
    this.volumeName = data.name;
    this.containerName = server.name;

    this.registerOutputs({
      trackingUri: this.trackingUri,
      authUri: this.authUri,
      ready: this.ready,
      volumeName: this.volumeName,
      containerName: this.containerName,
    });
  }
}
