/**
 * Prints the container env that infra/runtime-contract.ts computes for a stack, as JSON, with
 * the endpoints and credentials given on the command line in place of the cloud ones. The
 * image's end-to-end test runs the real entrypoint with exactly this env.
 *
 *   tsx stacks/runtime-env.ts --stack dev --tracking-db-uri URI --auth-db-uri URI \
 *     --s3-endpoint URL --access-key-id ID --secret-access-key S --admin-password P \
 *     --flask-secret-key K [--port N] [--bucket NAME | --account-id ID]
 */
import { parseArgs } from "node:util";
import * as pulumi from "@pulumi/pulumi";
import { artifactBucketName } from "../infra/artifacts/s3";
import { stackRuntimeEnvironment } from "../infra/runtime-contract";
import { parseSettings } from "../infra/settings";
import { settleDeep } from "./offline";
import { OFFLINE_ACCOUNT_ID, OfflineMocks } from "./offline-mocks";
import { readStackConfig } from "./stack-config";

async function main() {
  const { values } = parseArgs({
    options: {
      stack: { type: "string" },
      "tracking-db-uri": { type: "string" },
      "auth-db-uri": { type: "string" },
      "s3-endpoint": { type: "string" },
      "access-key-id": { type: "string" },
      "secret-access-key": { type: "string" },
      "admin-password": { type: "string" },
      "flask-secret-key": { type: "string" },
      port: { type: "string" },
      bucket: { type: "string" },
      "account-id": { type: "string" },
    },
  });
  const missing = ["stack", "tracking-db-uri", "auth-db-uri", "s3-endpoint", "access-key-id", "secret-access-key", "admin-password", "flask-secret-key"]
    .filter((k) => !values[k as keyof typeof values]);
  if (missing.length) throw new Error(`missing ${missing.map((m) => `--${m}`).join(", ")}`);

  const cfg = readStackConfig(values.stack!);
  await pulumi.runtime.setMocks(new OfflineMocks(), cfg.project, cfg.stack, false);
  const s = parseSettings({ project: cfg.project, stack: cfg.stack, values: cfg.config, secretKeys: new Set(cfg.secretKeys) }, { allowUnsupported: true });
  const env = stackRuntimeEnvironment(s, {
    trackingDatabaseUri: values["tracking-db-uri"]!,
    authDatabaseUri: values["auth-db-uri"]!,
    adminPassword: values["admin-password"]!,
    flaskSecretKey: values["flask-secret-key"]!,
    // The stack's own bucket name (the offline account unless --account-id), or a test's bucket.
    artifactsDestination: `s3://${values.bucket ?? artifactBucketName(s.namePrefix, values["account-id"] ?? OFFLINE_ACCOUNT_ID)}/${s.artifacts.prefix}`,
    artifactsRegion: s.region,
    accessKey: { id: values["access-key-id"]!, secret: values["secret-access-key"]! },
    s3EndpointUrl: values["s3-endpoint"],
    port: values.port ? Number(values.port) : undefined,
  });
  process.stdout.write(`${JSON.stringify(await settleDeep(env, true))}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`runtime-env: ${err.message}\n`);
  process.exit(2);
});
