/**
 * ECS: credentials reach containers through `secrets` (Secrets Manager / SSM references), never
 * as plain `environment`; every container logs to a group that expires its logs; tasks have no
 * public IP (the load balancer is the only way in).
 */
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { asArray, configOf, containerDefinitions, isSecretName, isType, T } from "./resources";

export const ecsPolicies: Array<ResourceValidationPolicy | StackValidationPolicy> = [
  {
    name: "ecs-secrets-not-in-environment",
    description: "Task definitions pass credentials through `secrets`, never in `environment`.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      if (!isType(args, T.taskDefinition)) return;
      for (const c of containerDefinitions(args.props)) {
        const leaked = asArray(c.environment).map((e) => e.name).filter(isSecretName);
        if (leaked.length) {
          report(`container "${c.name}" gets ${leaked.join(", ")} in plain \`environment\`, visible to anyone who can describe the task definition: move ${leaked.length > 1 ? "them" : "it"} to \`secrets\` (valueFrom a Secrets Manager or SSM parameter ARN)`);
        }
      }
    },
  },
  {
    name: "ecs-logs-configured",
    description: "Every container of a task definition sends its logs to CloudWatch (awslogs with a group).",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      if (!isType(args, T.taskDefinition)) return;
      for (const c of containerDefinitions(args.props)) {
        const log = c.logConfiguration;
        if (!log || (log.logDriver === "awslogs" && !log.options?.["awslogs-group"])) {
          report(`container "${c.name}" has ${log ? "an awslogs configuration without awslogs-group" : "no logConfiguration"}: its output is lost. Send it to a log group with a retention (logDriver awslogs, awslogs-group)`);
        }
      }
    },
  },
  {
    name: "log-retention",
    description: "Every CloudWatch log group expires its logs, after at least minLogRetentionDays.",
    enforcementLevel: "mandatory",
    configSchema: { properties: { minLogRetentionDays: { type: "integer", minimum: 1, default: 7 } } },
    validateResource: (args, report) => {
      if (!isType(args, T.logGroup)) return;
      const { minLogRetentionDays } = configOf(args, { minLogRetentionDays: 7 });
      const days = args.props.retentionInDays;
      if (!days) report(`retentionInDays is not set: the logs are kept (and billed) forever. Set it, e.g. 30`);
      else if (days < minLogRetentionDays) report(`retentionInDays is ${days}, below ${minLogRetentionDays}: an incident is often found later than that. Raise it`);
    },
  },
  {
    name: "ecs-no-public-ip",
    description: "ECS services give their tasks no public IP; the load balancer is the only way in.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      if (isType(args, T.ecsService) && args.props.networkConfiguration?.assignPublicIp === true) {
        report("networkConfiguration.assignPublicIp is true: each task is reachable from the internet past the load balancer and Authelia. Set it to false and run tasks in private subnets (with a NAT or VPC endpoints for egress)");
      }
    },
  },
];
