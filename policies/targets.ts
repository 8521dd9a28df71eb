/**
 * The targets (Render, Hugging Face, ECS, local Docker): the server authenticates every request
 * (MLflow's basic auth, or Authelia in front of it), runs no more workers than its memory holds,
 * and a local server listens on the loopback interface only.
 */
import type { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { asArray, configOf, containerDefinitions, isType, label, refersTo, serverEnvironment, T } from "./resources";

/** Memory of each Render instance type in MB (render.com/pricing). */
export const RENDER_PLAN_MEMORY_MB: Record<string, number> = { free: 512, starter: 512, standard: 2048, pro: 4096, pro_plus: 8192, pro_max: 16384, pro_ultra: 32768 };
/** Memory of each Hugging Face Spaces hardware flavor in MB (huggingface.co/pricing#spaces). */
export const HF_HARDWARE_MEMORY_MB: Record<string, number> = { "cpu-basic": 16384, "cpu-upgrade": 32768 };

/** An Authelia edge in the stack: a container or resource that runs Authelia. */
function hasAutheliaEdge(resources: PolicyResource[]): boolean {
  return resources.some((r) =>
    /authelia/i.test(r.name) ||
    (isType(r, T.taskDefinition) && containerDefinitions(r.props).some((c) => /authelia/i.test(`${c.name ?? ""} ${String(c.image ?? "")}`))) ||
    (isType(r, T.dockerContainer) && /authelia/i.test(String(r.props.image ?? ""))));
}

/** The memory a server's resource gets, in MB, when its resource (or its Space) says. */
function memoryMb(r: PolicyResource, resources: PolicyResource[], planMemory: Record<string, number>): number | undefined {
  switch (r.type) {
    case T.renderService:
      return planMemory[String(r.props.plan ?? "starter")];
    case T.hfSpaceRelease: {
      // The release runs on the Space its repoId names; the hardware is the Space's.
      const space = resources.find((x) => isType(x, T.hfSpace) && (refersTo(r, "repoId", x, ["repoId"]) || r.props.repoId === `${x.props.owner}/${x.props.name}`));
      return space ? HF_HARDWARE_MEMORY_MB[String(space.props.hardware ?? "cpu-basic")] : undefined;
    }
    case T.taskDefinition: {
      const mlflow = containerDefinitions(r.props).find((c) => asArray(c.environment).some((e) => /^MLFLOW_/.test(e.name)));
      const own = typeof mlflow?.memory === "number" ? mlflow.memory : undefined;
      const task = r.props.memory !== undefined ? Number(r.props.memory) : undefined;
      return own ?? task;
    }
    case T.dockerContainer:
      return typeof r.props.memory === "number" && r.props.memory > 0 ? r.props.memory : undefined;
  }
  return undefined;
}

export const targetPolicies: Array<ResourceValidationPolicy | StackValidationPolicy> = [
  {
    name: "server-authenticated",
    description: "Every MLflow server authenticates requests: MLFLOW_AUTH_MODE basic, or proxy only behind an Authelia edge in the same stack.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      const edge = hasAutheliaEdge(args.resources);
      for (const r of args.resources) {
        const env = serverEnvironment(r);
        if (!env) continue;
        const mode = env.MLFLOW_AUTH_MODE ?? "basic"; // the contract's default
        if (mode === "basic") {
          const missing = ["MLFLOW_AUTH_DATABASE_URI", "MLFLOW_ADMIN_PASSWORD", "MLFLOW_FLASK_SERVER_SECRET_KEY"].filter((k) => !(k in env));
          if (missing.length) report(`${label(r)} runs MLflow's basic auth without ${missing.join(", ")}: the server refuses to start or runs with defaults. Give it the whole runtime contract (infra/runtime-contract.ts)`, r.urn);
        } else if (mode === "proxy") {
          if (isType(r, T.renderService, T.hfSpaceRelease, T.dockerContainer) || !edge) {
            report(`${label(r)} sets MLFLOW_AUTH_MODE=proxy, which turns MLflow's own auth off, but ${edge ? "this target is reached without" : "the stack has no"} Authelia edge in front of it: anyone could use the server. Use MLFLOW_AUTH_MODE=basic here`, r.urn);
          }
        } else {
          report(`${label(r)} sets MLFLOW_AUTH_MODE=${mode}: the contract knows basic and proxy only`, r.urn);
        }
      }
    },
  },
  {
    name: "workers-fit-memory",
    description: "MLFLOW_WORKERS is at most the instance memory divided by memoryPerWorkerMb (1 worker on a 512 MB plan).",
    enforcementLevel: "mandatory",
    configSchema: {
      properties: {
        memoryPerWorkerMb: { type: "integer", minimum: 128, default: 512 },
        renderPlanMemoryMb: { type: "object", description: "Override or add Render plans' memory in MB" },
      },
    },
    validateStack: (args, report) => {
      const c = configOf<{ memoryPerWorkerMb: number; renderPlanMemoryMb?: Record<string, number> }>(args, { memoryPerWorkerMb: 512 });
      for (const r of args.resources) {
        const env = serverEnvironment(r);
        if (!env) continue;
        const memory = memoryMb(r, args.resources, { ...RENDER_PLAN_MEMORY_MB, ...(c.renderPlanMemoryMb ?? {}) });
        if (memory === undefined) continue; // no limit declared (a local container without one)
        const workers = Number(env.MLFLOW_WORKERS ?? "1");
        const fits = Math.max(1, Math.floor(memory / c.memoryPerWorkerMb));
        if (!(workers <= fits)) {
          const where = isType(r, T.renderService) ? `Render's ${r.props.plan ?? "starter"} plan (${memory} MB)` : `${memory} MB`;
          report(`${label(r)}: MLFLOW_WORKERS=${env.MLFLOW_WORKERS} does not fit ${where}: each worker is a full MLflow process of about ${c.memoryPerWorkerMb} MB, so at most ${fits} fit${fits === 1 ? "s" : ""}. Lower mlflow-kit:server.workers to ${fits}, or choose more memory`, r.urn);
        }
      }
    },
  },
  {
    name: "local-ports-on-loopback",
    description: "Local Docker containers publish their ports on 127.0.0.1 (or ::1) only.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      if (!isType(args, T.dockerContainer)) return;
      for (const p of asArray(args.props.ports) as any[]) {
        const ip = p?.ip ?? "0.0.0.0";
        if (!["127.0.0.1", "::1"].includes(ip)) {
          report(`port ${p?.external ?? p?.internal} is published on ${ip}, reachable from the whole network: set ip "127.0.0.1"`);
        }
      }
      if (args.props.networkMode === "host" && serverEnvironment(args)) {
        report("networkMode host puts the server on every interface of the machine: use the bridge network with ports on 127.0.0.1");
      }
    },
  },
  {
    name: "server-access-defaults",
    description: "Signed-in users get at most allowedDefaultPermissions on others' experiments, and browsers may call the API from https origins only.",
    enforcementLevel: "advisory",
    configSchema: { properties: { allowedDefaultPermissions: { type: "array", items: { type: "string" }, default: ["READ", "NO_PERMISSIONS"] } } },
    validateResource: (args, report) => {
      const env = serverEnvironment(args);
      if (!env) return;
      const { allowedDefaultPermissions } = configOf(args, { allowedDefaultPermissions: ["READ", "NO_PERMISSIONS"] });
      const permission = env.MLFLOW_DEFAULT_PERMISSION ?? "READ";
      if (!allowedDefaultPermissions.includes(permission)) {
        report(`MLFLOW_DEFAULT_PERMISSION=${permission}: every signed-in user may ${permission === "MANAGE" ? "change permissions of and delete" : "change"} everyone's experiments and models. Use mlflow-kit:server.defaultPermission READ and grant more per experiment`);
      }
      const plain = (env.MLFLOW_CORS_ALLOWED_ORIGINS ?? "").split(",").filter((o) => /^http:\/\//.test(o) && !/^http:\/\/(localhost|127\.0\.0\.1)(:|$)/.test(o));
      if (plain.length) report(`MLFLOW_CORS_ALLOWED_ORIGINS allows ${plain.join(", ")} over plain HTTP: a page served there can be altered in transit and act with a signed-in user's session. Use https origins in mlflow-kit:server.corsAllowedOrigins`);
    },
  },
  {
    name: "hf-space-private",
    description: "A Hugging Face Space is private unless the operator chose otherwise.",
    enforcementLevel: "advisory",
    validateResource: (args, report) => {
      if (isType(args, T.hfSpace) && args.props.visibility === "public") {
        report("visibility is public: the Space's page, files and build logs are visible to everyone (the server still asks for a password). Set mlflow-kit:target.visibility private unless this is a public demo");
      }
    },
  },
];
