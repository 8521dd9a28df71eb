/**
 * IAM: the artifact user's policy names its actions and resources, stays under the artifact
 * prefix, and the user holds no more access keys than the two rotation slots.
 */
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { asArray, configOf, fsbp, isType, label, parseJson, refersTo, serverEnvironment, T } from "./resources";

interface Statement {
  Sid?: string;
  Effect?: string;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

const IDENTITY_POLICIES = [T.iamUserPolicy, T.iamRolePolicy, T.iamPolicy];
const statementsOf = (policy: unknown): Statement[] => asArray(parseJson<{ Statement?: Statement | Statement[] }>(policy)?.Statement);
const sid = (s: Statement) => (s.Sid ? `statement "${s.Sid}"` : "a statement");

/** `*`, or a whole service (`s3:*`): an action wildcard that grants what nobody reviewed. */
const wildcardAction = (a: string) => a === "*" || /^[a-z0-9-]+:\*$/i.test(a);

export const iamPolicies: Array<ResourceValidationPolicy | StackValidationPolicy> = [
  {
    name: "iam-no-wildcards",
    description: "Identity policies allow named actions on named resources: no \"*\" action (or service:*), no \"*\" resource, no NotAction or NotResource.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      if (!isType(args, ...IDENTITY_POLICIES)) return;
      for (const s of statementsOf(args.props.policy)) {
        if (s.Effect !== "Allow") continue;
        const actions = asArray(s.Action).filter(wildcardAction);
        if (actions.length) report(fsbp("IAM.1, IAM.21", `${sid(s)} allows the action wildcard ${actions.join(", ")}: list the actions the service calls (MLflow's artifacts need s3:PutObject, s3:GetObject, s3:DeleteObject, s3:AbortMultipartUpload, s3:ListBucket)`));
        if (asArray(s.Resource).includes("*")) report(fsbp("IAM.1, KMS.1, KMS.2", `${sid(s)} allows its actions on every resource ("*"): name the bucket ARN and the artifact prefix instead`));
        if (s.NotAction !== undefined || s.NotResource !== undefined) report(`${sid(s)} uses NotAction or NotResource with Allow, which grants everything not listed: use Action and Resource`);
      }
    },
  },
  {
    name: "iam-artifact-prefix-scope",
    description: "The artifact user's S3 permissions stay under one artifact prefix: objects under <bucket>/<prefix>/*, listing only with an s3:prefix condition.",
    enforcementLevel: "mandatory",
    configSchema: { properties: { artifactPrefix: { type: "string", description: "When set, the prefix every artifact permission must stay under (mlflow-kit:artifacts.prefix)" } } },
    validateResource: (args, report) => {
      if (!isType(args, T.iamUserPolicy)) return;
      const { artifactPrefix } = configOf<{ artifactPrefix?: string }>(args, {});
      for (const s of statementsOf(args.props.policy)) {
        if (s.Effect !== "Allow") continue;
        const actions = asArray(s.Action);
        if (!actions.some((a) => a.startsWith("s3:"))) continue;
        for (const resource of asArray(s.Resource).filter((r) => r.startsWith("arn:") && r.includes(":s3:::"))) {
          const path = resource.slice(resource.indexOf(":::") + 3);
          const slash = path.indexOf("/");
          if (slash < 0) {
            // The bucket itself: only listing, and only under the prefix.
            const bucketActions = actions.filter((a) => a !== "s3:ListBucket");
            const prefixes = asArray((s.Condition?.StringLike as any)?.["s3:prefix"] ?? (s.Condition?.StringEquals as any)?.["s3:prefix"]) as string[];
            if (bucketActions.length) report(`${sid(s)} allows ${bucketActions.join(", ")} on the bucket ${path} itself: the artifact user may only list it (s3:ListBucket) under the prefix`);
            if (actions.includes("s3:ListBucket") && (prefixes.length === 0 || prefixes.some((p) => !underPrefix(p, artifactPrefix)))) {
              report(`${sid(s)} lets the user list ${path} ${prefixes.length ? `with s3:prefix ${prefixes.join(", ")}` : "without an s3:prefix condition"}: add Condition StringLike s3:prefix ["${artifactPrefix ?? "<prefix>"}/*"]`);
            }
            continue;
          }
          const key = path.slice(slash + 1);
          if (!underPrefix(key, artifactPrefix)) {
            report(`${sid(s)} reaches ${resource}, outside ${artifactPrefix ? `the artifact prefix "${artifactPrefix}/"` : "an artifact prefix"}: scope it to arn:aws:s3:::<bucket>/${artifactPrefix ?? "<prefix>"}/*`);
          }
        }
      }
    },
  },
  {
    name: "iam-access-keys-per-user",
    description: "No IAM user holds more than maxAccessKeysPerUser access keys (two rotation slots).",
    enforcementLevel: "mandatory",
    configSchema: { properties: { maxAccessKeysPerUser: { type: "integer", minimum: 1, maximum: 2, default: 2 } } },
    validateStack: (args, report) => {
      const { maxAccessKeysPerUser } = configOf(args, { maxAccessKeysPerUser: 2 });
      const keys = args.resources.filter((r) => isType(r, T.accessKey));
      for (const user of args.resources.filter((r) => isType(r, T.iamUser))) {
        const own = keys.filter((k) => refersTo(k, "user", user, ["name"]));
        if (own.length > maxAccessKeysPerUser) {
          report(`${label(user)} has ${own.length} access keys (${own.map((k) => k.name).join(", ")}), more than ${maxAccessKeysPerUser}: keep two slots and rotate them (README "Rotating credentials")`, user.urn);
        }
      }
    },
  },
  {
    name: "iam-no-console-users",
    description: "The stack creates no console password: a person signs in through the company's identity provider with MFA, never as a user of this stack (FSBP IAM.5).",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      for (const p of args.resources.filter((r) => isType(r, T.loginProfile))) {
        report(fsbp("IAM.5", `${label(p)} gives an IAM user of the stack a console password, without MFA the stack could enforce: people sign in through IAM Identity Center. Remove it`), p.urn);
      }
    },
  },
  {
    name: "iam-static-keys-only-where-used",
    description: "An IAM user with access keys exists only when a server outside AWS signs with them (AWS_ACCESS_KEY_ID in its environment); where servers run with a role, no user and no key (FSBP IAM.2, IAM.3, IAM.8).",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      const used = args.resources.some((r) => "AWS_ACCESS_KEY_ID" in (serverEnvironment(r) ?? {}));
      if (used) return;
      for (const r of args.resources.filter((x) => isType(x, T.iamUser, T.accessKey, T.iamUserPolicy, T.userPolicyAttachment))) {
        report(fsbp("IAM.2, IAM.3, IAM.8", `${label(r)}: no server of this stack signs with an IAM user's key (ECS tasks use their task role), so this long-lived credential is never used or rotated by anything. Remove it (ArtifactStore staticKeys false)`), r.urn);
      }
    },
  },
];

/** A key or s3:prefix pattern under `<prefix>/`: a fixed, wildcard-free first segment. */
function underPrefix(keyPattern: string, prefix: string | undefined): boolean {
  if (prefix !== undefined) return keyPattern.startsWith(`${prefix}/`) && !keyPattern.slice(0, prefix.length + 1).includes("*");
  const first = keyPattern.split("/")[0];
  return keyPattern.includes("/") && first.length > 0 && !/[*?$]/.test(first);
}
