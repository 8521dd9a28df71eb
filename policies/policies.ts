/**
 * Every rule of the pack, by area. index.ts serves them (the CLI's policy host); the offline
 * plan and the tests import this list without starting a server.
 */
import type { PolicyPackArgs } from "@pulumi/policy";
import { ecsPolicies } from "./ecs";
import { elbPolicies } from "./elb";
import { iamPolicies } from "./iam";
import { lambdaPolicies } from "./lambda";
import { networkPolicies } from "./network";
import { rdsPolicies } from "./rds";
import { s3Policies } from "./s3";
import { secretPolicies } from "./secrets";
import { stackPolicies } from "./stack";
import { targetPolicies } from "./targets";

export const PACK_NAME = "mlflow-kit";

export const policies: PolicyPackArgs["policies"] = [
  ...s3Policies,
  ...iamPolicies,
  ...rdsPolicies,
  ...networkPolicies,
  ...ecsPolicies,
  ...elbPolicies,
  ...lambdaPolicies,
  ...secretPolicies,
  ...targetPolicies,
  ...stackPolicies,
];
