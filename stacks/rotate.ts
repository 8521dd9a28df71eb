/**
 * `npm run rotate -- --stack S <s3-key|db-password|admin-password|flask-secret|authelia>
 *   [--revoke-inactive] [--dry-run | --config-only]`
 *
 * Changes the stack config that drives the rotation (a counter, for the S3 key also the active
 * slot) and runs `pulumi up`. --dry-run prints the change only; --config-only writes
 * Pulumi.<stack>.yaml without deploying, for a pull request whose merge deploys it.
 */
import { parseArgs } from "node:util";
import { configOnlyWorkspace, io, policyPacks, run, workspace } from "./lifecycle/cli";
import { rotate } from "./lifecycle/operations";
import { CREDENTIALS, type Credential } from "./lifecycle/rotation-decision";

export function parseRotateArgs(argv: string[]): { stack: string; credential: Credential; revokeInactive: boolean; dryRun: boolean; configOnly: boolean } {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      stack: { type: "string" },
      "revoke-inactive": { type: "boolean", default: false },
      "dry-run": { type: "boolean", default: false },
      "config-only": { type: "boolean", default: false },
    },
    allowPositionals: true,
  });
  if (values.stack === undefined) throw new Error("--stack: is missing. Name the stack whose credential to rotate, e.g. --stack prod");
  if (positionals.length !== 1 || !(CREDENTIALS as readonly string[]).includes(positionals[0])) {
    throw new Error(`rotate: name one credential: ${CREDENTIALS.join(", ")} (got ${positionals.join(" ") || "none"})`);
  }
  if (values["dry-run"] && values["config-only"]) throw new Error("--dry-run and --config-only: pick one (--dry-run writes nothing)");
  return { stack: values.stack, credential: positionals[0] as Credential, revokeInactive: values["revoke-inactive"]!, dryRun: values["dry-run"]!, configOnly: values["config-only"]! };
}

if (require.main === module) {
  run(async () => {
    const args = parseRotateArgs(process.argv.slice(2));
    // A dry run decides from Pulumi.<stack>.yaml alone: it needs no CLI and no backend.
    const ws = args.dryRun ? configOnlyWorkspace() : await workspace();
    await rotate(ws, { ...args, policyPacks: policyPacks() }, io);
    return 0;
  });
}
