/**
 * `npm run deploy -- --stack S [--create]`: the deploy workflow's step on the default branch.
 * With --create, makes the stack from Pulumi.<S>.yaml when it does not exist (a missing stack is
 * refused otherwise), sets the secrets the environment gives
 * (MLFLOW_KIT_<KEY>) as secrets, and runs `pulumi up` with the policy pack.
 */
import { parseArgs } from "node:util";
import { io, policyPacks, run, workspace } from "./lifecycle/cli";
import { deploy } from "./lifecycle/operations";

if (require.main === module) {
  run(async () => {
    const { values } = parseArgs({ options: { stack: { type: "string" }, create: { type: "boolean", default: false } }, allowPositionals: false });
    if (!values.stack) throw new Error("--stack: is missing. Name the stack to deploy, e.g. --stack dev");
    await deploy(await workspace(), { stack: values.stack, create: values.create, env: process.env, policyPacks: policyPacks() }, io);
    return 0;
  });
}
