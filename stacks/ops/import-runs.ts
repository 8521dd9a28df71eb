/**
 * `npm run import -- --stack S --from ./mlruns`: tools/ops/import_mlruns.py against the
 * stack's server (trackingUri output) as its admin (adminUsername / adminPassword outputs),
 * the password through the child's environment only.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Io } from "../lifecycle/operations";
import type { LifecycleWorkspace } from "../lifecycle/workspace";
import { readDeployedStack } from "./deployed-stack";
import { ensureOpsPython, TOOLS, type Processes } from "./processes";

export async function importRuns(d: { ws: LifecycleWorkspace; processes: Processes; env: NodeJS.ProcessEnv; io: Io }, opts: { stack: string; from: string; workers?: number }): Promise<void> {
  const source = path.resolve(opts.from);
  if (!fs.existsSync(source) || !fs.statSync(source).isDirectory()) throw new Error(`--from: ${opts.from} is not a directory. Give the mlruns folder of the file store (where \`mlflow ui\` ran)`);
  const s = await readDeployedStack(d.ws, opts.stack);
  if (!s.trackingUri) throw new Error(`--stack ${opts.stack}: has no trackingUri output (a stack deployed with skipTarget has no server); deploy its target first`);
  // MLflow's basic auth as the admin; MLFLOW_TRACKING_USERNAME/PASSWORD in the environment win
  // (another user, or the API user of a stack behind Authelia).
  const username = d.env.MLFLOW_TRACKING_USERNAME ?? s.adminUsername;
  const password = d.env.MLFLOW_TRACKING_PASSWORD ?? s.adminPassword;
  if (!username || !password) throw new Error(`--stack ${opts.stack}: no adminUsername / adminPassword output; set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD`);
  const python = await ensureOpsPython(d.processes, d.env);
  d.io.log(`[import] ${source} -> ${s.trackingUri} as ${username}`);
  await d.processes.run(python, [path.join(TOOLS, "import_mlruns.py"), "--from", source, ...(opts.workers ? ["--workers", String(opts.workers)] : [])], {
    env: { MLFLOW_TRACKING_URI: s.trackingUri, MLFLOW_TRACKING_USERNAME: username, MLFLOW_TRACKING_PASSWORD: password, MLFLOW_DISABLE_TELEMETRY: "true" },
    timeoutMs: 24 * 3_600_000,
  });
}
