/**
 * Lambda (the database bootstrap function): nobody outside the account may invoke it, it runs
 * on a runtime AWS still patches, and its VPC configuration spans two zones.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { asArray, configOf, fsbp, isType, T } from "./resources";

/**
 * Runtimes Lambda supports and does not deprecate before 2027 (AWS Lambda, "Lambda runtimes",
 * Supported runtimes table). FSBP Lambda.2 takes the same kind of list as its parameter; update
 * it (policy config supportedRuntimes) as AWS deprecates runtimes.
 */
export const SUPPORTED_RUNTIMES = [
  "nodejs22.x", "nodejs24.x", "python3.11", "python3.12", "python3.13", "python3.14",
  "java17", "java21", "java25", "dotnet8", "dotnet10", "ruby3.3", "ruby3.4", "provided.al2023",
];

export const lambdaPolicies: ResourceValidationPolicy[] = [
  {
    name: "lambda-function-safe",
    description: "No Lambda permission lets everyone invoke a function; functions use a supported runtime and, in a VPC, subnets in two zones or more (FSBP Lambda.1, Lambda.2, Lambda.5).",
    enforcementLevel: "mandatory",
    configSchema: { properties: { supportedRuntimes: { type: "array", items: { type: "string" } } } },
    validateResource: (args, report) => {
      const p = args.props;
      if (isType(args, T.lambdaPermission)) {
        const everyone = p.principal === "*" || p.principal === "arn:aws:iam::*:root";
        if (everyone && !p.sourceAccount && !p.sourceArn && !p.principalOrgId) {
          report(fsbp("Lambda.1", `principal "${p.principal}" with no sourceArn, sourceAccount or principalOrgId: anyone can invoke the function, which holds the database's master password in its input. Name the service and its source ARN`));
        }
      }
      if (!isType(args, T.lambdaFunction)) return;
      const { supportedRuntimes } = configOf(args, { supportedRuntimes: SUPPORTED_RUNTIMES });
      if (p.runtime !== undefined && !supportedRuntimes.includes(p.runtime)) {
        report(fsbp("Lambda.2", `runtime ${p.runtime} is deprecated or about to be: AWS stops patching it and, later, updating the function. Use one of ${supportedRuntimes.join(", ")}`));
      }
      const subnets = asArray(p.vpcConfig?.subnetIds);
      if (p.vpcConfig && subnets.length < 2) {
        report(fsbp("Lambda.5", `the function's VPC configuration has ${subnets.length} subnet${subnets.length === 1 ? "" : "s"}: a zone outage stops the database bootstrap. Give it the private subnets of two zones`));
      }
    },
  },
];
