/**
 * Stack-wide: a long-lived stack's data survives mistakes (protected, retained, not
 * force-destroyed); an ephemeral stack says when it may be torn down; credentials in inputs
 * are Pulumi secrets, so the state stores them encrypted.
 */
import { Secret, type PolicyResource, type ResourceValidationPolicy, type StackValidationPolicy } from "@pulumi/policy";
import { configOf, isSecretName, isType, label, stackLifecycle, T, TAG, tagsOf } from "./resources";

/** Resources that hold the stack's data: losing one loses experiments, runs or artifacts. */
export const DATA_TYPES = [T.bucket, T.bucketV2, T.rdsInstance, T.neonProject, T.neonBranch, T.neonDatabase, T.dockerVolume];

/**
 * The analyzer protocol carries `protect` but not `retainOnDelete` (pulumirpc
 * AnalyzerResourceOptions), so `pulumi preview` checks protect and the provider-side guards;
 * a host that knows retainOnDelete (the offline plan) passes it and it is checked too.
 */
type Options = PolicyResource["opts"] & { retainOnDelete?: boolean };

export const stackPolicies: Array<ResourceValidationPolicy | StackValidationPolicy> = [
  {
    name: "data-protected-when-long-lived",
    description: "A long-lived stack's data resources (bucket, database, Neon project and branch, Docker volume) are protected, retained on delete (RDS: by its final snapshot), and never force-destroyed.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      if (stackLifecycle(args.resources) !== "long-lived") return;
      for (const r of args.resources.filter((x) => isType(x, ...DATA_TYPES))) {
        const opts = r.opts as Options;
        const missing: string[] = [];
        if (opts.protect !== true) missing.push("protect: true");
        // An RDS instance is retained by its final snapshot (rds-deletion-guarded-when-long-lived
        // checks it): a retained instance would block the deletion of its network on destroy.
        if (opts.retainOnDelete === false && !isType(r, T.rdsInstance)) missing.push("retainOnDelete: true");
        if (missing.length) report(`${label(r)} holds a long-lived stack's data but lacks ${missing.join(" and ")}: a mistaken destroy or replacement would delete it. Pass ${missing.join(", ")} in its resource options (to decommission on purpose, see policies/README.md)`, r.urn);
        if (r.props.forceDestroy === true) report(`${label(r)} has forceDestroy true on a long-lived stack: deleting it would delete every artifact with it. Set forceDestroy false`, r.urn);
      }
    },
  },
  {
    name: "ephemeral-stack-expires",
    description: `An ephemeral stack's taggable resources carry ${TAG.expiresAt} (ISO 8601, in the future, at most maxTtlHours away), and its Neon branches an expiresAt.`,
    enforcementLevel: "mandatory",
    configSchema: { properties: { maxTtlHours: { type: "integer", minimum: 1, default: 720 } } },
    validateStack: (args, report) => {
      if (stackLifecycle(args.resources) !== "ephemeral") return;
      const { maxTtlHours } = configOf(args, { maxTtlHours: 720 });
      const now = Date.now();
      const check = (r: PolicyResource, what: string, value: unknown) => {
        const at = typeof value === "string" ? Date.parse(value) : NaN;
        if (value === undefined || value === null || value === "") {
          report(`${label(r)} belongs to an ephemeral stack but has no ${what}: teardown cannot tell when it may go. Set mlflow-kit:ttlHours (or expiresAt) and tag it with settings.tags`, r.urn);
        } else if (Number.isNaN(at)) {
          report(`${label(r)} has ${what} ${JSON.stringify(value)}, which is not an ISO 8601 time such as 2026-12-01T00:00:00Z`, r.urn);
        } else if (at <= now) {
          report(`${label(r)} expired at ${value} (${what}): teardown will remove it. Deploy with a later mlflow-kit:expiresAt, or let ttlHours renew it`, r.urn);
        } else if (at - now > maxTtlHours * 3_600_000) {
          report(`${label(r)} expires at ${value} (${what}), more than ${maxTtlHours} hours from now: an ephemeral stack that lives that long is forgotten and billed. Lower mlflow-kit:ttlHours, or make the stack long-lived`, r.urn);
        }
      };
      for (const r of args.resources) {
        const tags = tagsOf(r.props);
        if (tags) check(r, `tag ${TAG.expiresAt}`, tags[TAG.expiresAt]);
        if (isType(r, T.neonBranch)) check(r, "expiresAt", r.props.expiresAt);
      }
    },
  },
  {
    name: "secret-inputs-encrypted",
    description: "Inputs named like credentials (password, token, secret, API key, database URI), and the values of such environment variables, are Pulumi secrets; this rule makes plain ones secret.",
    // Only the remediation step sees which values are secrets (the analyzer hands validations
    // plain values), so this rule enforces by remediating: the CLI stores such inputs encrypted.
    enforcementLevel: "remediate",
    remediateResource: (args) => {
      const raw = unproxied(args.props);
      const found: string[] = [];
      const fixed = encryptPlainSecrets(raw, "", found);
      return found.length ? (fixed as Record<string, any>) : undefined;
    },
  },
];

/** The plain object under @pulumi/policy's proxies, its secrets still wrapped in Secret. */
function unproxied(v: any): any {
  for (let i = 0; i < 4 && v && typeof v === "object" && v.__isSpecialProxy === true; i++) v = v.__getSpecialProxyTarget;
  return v;
}

/**
 * A copy of `value` in which every plain credential is a Secret; the paths it wrapped are
 * pushed to `found`. Credentials: string values of secret-named keys; `value` of a
 * {key|name, value} pair whose name is secret-named; "NAME=value" strings (Docker envs) whose
 * NAME is; every string under a key named `secrets`.
 */
export function encryptPlainSecrets(value: unknown, path: string, found: string[], inSecrets = false): unknown {
  if (value instanceof Secret) return value;
  if (typeof value === "string") {
    const assignment = /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(value);
    if (inSecrets || (assignment && isSecretName(assignment[1]))) {
      found.push(path);
      return new Secret(value);
    }
    return value;
  }
  if (Array.isArray(value)) return value.map((v, i) => encryptPlainSecrets(v, `${path}[${i}]`, found, inSecrets));
  if (value && typeof value === "object" && !(value as any).__pulumiAsset && !(value as any).__pulumiArchive) {
    const obj = value as Record<string, unknown>;
    const pairName = typeof obj.key === "string" ? obj.key : typeof obj.name === "string" && "value" in obj ? obj.name : undefined;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) {
      const p = path ? `${path}.${k}` : k;
      const secretHere = inSecrets || k === "secrets" || isSecretName(k) || (k === "value" && pairName !== undefined && isSecretName(pairName));
      if (typeof v === "string" && secretHere) {
        found.push(p);
        out[k] = new Secret(v);
      } else {
        out[k] = encryptPlainSecrets(v, p, found, inSecrets || k === "secrets");
      }
    }
    return out;
  }
  return value;
}
