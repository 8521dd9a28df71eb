/**
 * A stand-in program for test/engine/lambda.test.ts: the kit's FunctionInvocation (the RDS
 * bootstrap's invocation) against the Lambda fake that AWS_ENDPOINT_URL_LAMBDA points the AWS
 * SDK at. Its event holds the master and app passwords (secret config), as the kit's does.
 *   engine:appPassword   secret; a change runs the function again (an update, never a replace)
 *   engine:functionName  the function invoked
 *   engine:code          the trigger (the hash of the function's code in the kit)
 */
import * as pulumi from "@pulumi/pulumi";
import { FunctionInvocation } from "../../../../infra/providers/aws/lambda-invocation";

const cfg = new pulumi.Config("engine");
const event = pulumi.all([cfg.requireSecret("masterPassword"), cfg.requireSecret("appPassword")]).apply(([masterPassword, password]) =>
  JSON.stringify({ host: "db.internal", port: 5432, masterUsername: "mlflow_admin", masterPassword, role: "mlflow_app", password, databases: ["mlflow_tracking", "mlflow_auth"] }));

const invocation = new FunctionInvocation("metadata-bootstrap", {
  region: "eu-west-1",
  functionName: cfg.get("functionName") ?? "mlflow-kit-engine-db-bootstrap",
  input: event,
  triggers: { code: cfg.get("code") ?? "sha-1" },
  // Short waits for the test; the kit waits up to 15 minutes.
  wait: { maxWaitMs: 20_000, pollMs: 50, maxNotReadyInvokes: 5 },
});

export const result = invocation.result;
export const functionName = invocation.functionName;
