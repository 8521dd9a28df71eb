import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

export interface ServerCredentialsArgs {
  /** A password set as a secret in config; when absent one is generated. */
  adminPassword?: pulumi.Output<string>;
  /** Bump to generate a new value (random.RandomPassword keepers). */
  rotation: { adminPassword: number; flaskSecretKey: number };
}

/**
 * The server's own credentials: the MLflow admin password and the Flask secret key that every
 * worker and replica shares. Both are secrets from creation; a bump of their rotation number
 * in stack config generates new ones on the next `pulumi up`.
 */
export class ServerCredentials extends pulumi.ComponentResource {
  readonly adminPassword: pulumi.Output<string>;
  readonly flaskSecretKey: pulumi.Output<string>;

  constructor(name: string, args: ServerCredentialsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mlflow-kit:credentials:ServerCredentials", name, {}, opts);
    if (args.adminPassword) {
      this.adminPassword = pulumi.secret(args.adminPassword);
    } else {
      // Letters and digits only: the password travels in HTTP Basic headers and env files.
      const admin = new random.RandomPassword(`${name}-admin-password`, {
        length: 32, special: false, minLower: 2, minUpper: 2, minNumeric: 2,
        keepers: { rotation: String(args.rotation.adminPassword) },
      }, { parent: this });
      this.adminPassword = pulumi.secret(admin.result);
    }
    const flask = new random.RandomPassword(`${name}-flask-secret-key`, {
      length: 64, special: false,
      keepers: { rotation: String(args.rotation.flaskSecretKey) },
    }, { parent: this });
    this.flaskSecretKey = pulumi.secret(flask.result);
    this.registerOutputs({ adminPassword: this.adminPassword, flaskSecretKey: this.flaskSecretKey });
  }
}
