/**
 * Secrets, keys and the alarm topic: every Secrets Manager secret is read by a task or a role of
 * the stack; the alarm topic is encrypted with a key CloudWatch may use; customer managed keys
 * rotate and are not open to everyone.
 */
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { asArray, fsbp, isType, label, mentions, parseJson, stackLifecycle, T } from "./resources";

const READERS = [T.taskDefinition, T.iamRolePolicy, T.iamPolicy, T.iamUserPolicy];

export const secretPolicies: Array<ResourceValidationPolicy | StackValidationPolicy> = [
  {
    name: "secrets-used",
    description: "Every Secrets Manager secret is read by something of the stack: a task definition's secrets or repository credentials, or an IAM policy (FSBP SecretsManager.3).",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      const readers = args.resources.filter((r) => isType(r, ...READERS));
      for (const secret of args.resources.filter((r) => isType(r, T.secret))) {
        const used = readers.some((r) =>
          Object.entries(r.propertyDependencies ?? {}).some(([, deps]) => deps.some((d) => d.urn === secret.urn)) ||
          mentions(r.props, [secret.props.arn, secret.props.id, secret.props.name].filter((v): v is string => typeof v === "string")));
        if (!used) report(fsbp("SecretsManager.3", `${label(secret)} is read by no task and no policy of the stack: a credential nobody uses is one nobody rotates or notices leaking. Remove it`), secret.urn);
      }
    },
  },
  {
    name: "alarm-topic-encrypted-when-long-lived",
    description: "A long-lived stack's SNS topics are encrypted with a customer managed KMS key (CloudWatch cannot use aws/sns) (FSBP SNS.1).",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      if (stackLifecycle(args.resources) !== "long-lived") return;
      for (const topic of args.resources.filter((r) => isType(r, T.snsTopic))) {
        const key = topic.props.kmsMasterKeyId;
        if (!key) report(fsbp("SNS.1", `${label(topic)} is not encrypted at rest: alarm messages name the stack's resources. Give it kmsMasterKeyId, a customer managed key CloudWatch may use (EcsAlarms encrypt)`), topic.urn);
        else if (key === "alias/aws/sns") report(fsbp("SNS.1", `${label(topic)} uses the AWS managed key aws/sns, whose policy does not let CloudWatch alarms publish: the alarms would fail silently. Use a customer managed key that grants cloudwatch.amazonaws.com kms:Decrypt and kms:GenerateDataKey*`), topic.urn);
      }
    },
  },
  {
    name: "kms-keys-rotated-and-private",
    description: "Customer managed keys rotate yearly and no key policy allows everyone (FSBP KMS.4, KMS.5).",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      if (!isType(args, T.kmsKey)) return;
      const p = args.props;
      const symmetric = (p.customerMasterKeySpec ?? p.keySpec ?? "SYMMETRIC_DEFAULT") === "SYMMETRIC_DEFAULT";
      if (symmetric && p.enableKeyRotation !== true) report(fsbp("KMS.4", "enableKeyRotation is not true: the same key material encrypts for years. Set it to true"));
      const statements = asArray(parseJson<{ Statement?: any }>(p.policy)?.Statement) as any[];
      for (const s of statements) {
        const principal = s?.Principal;
        const everyone = principal === "*" || asArray(principal?.AWS).includes("*");
        if (s?.Effect === "Allow" && everyone && !s.Condition) report(fsbp("KMS.5", `key policy statement ${s.Sid ?? ""} allows ${JSON.stringify(s.Action)} to everyone ("*"): name the account or the service`));
      }
    },
  },
];
