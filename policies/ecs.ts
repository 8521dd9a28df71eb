/**
 * ECS: credentials reach containers through `secrets` (Secrets Manager / SSM references), never
 * as plain `environment`; every container logs to a group that expires its logs; tasks have no
 * public IP (the load balancer is the only way in).
 */
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { asArray, configOf, containerDefinitions, fsbp, isSecretName, isType, T } from "./resources";

export const ecsPolicies: Array<ResourceValidationPolicy | StackValidationPolicy> = [
  {
    name: "ecs-secrets-not-in-environment",
    description: "Task definitions pass credentials through `secrets`, never in `environment`.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      if (!isType(args, T.taskDefinition)) return;
      for (const c of containerDefinitions(args.props)) {
        const leaked = asArray(c.environment).map((e) => e.name).filter((n) => isSecretName(n) || ECS_SECRET_KEYS.includes(n));
        if (leaked.length) {
          report(fsbp("ECS.8", `container "${c.name}" gets ${leaked.join(", ")} in plain \`environment\`, visible to anyone who can describe the task definition: move ${leaked.length > 1 ? "them" : "it"} to \`secrets\` (valueFrom a Secrets Manager or SSM parameter ARN)`));
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
          report(fsbp("ECS.9", `container "${c.name}" has ${log ? "an awslogs configuration without awslogs-group" : "no logConfiguration"}: its output is lost. Send it to a log group with a retention (logDriver awslogs, awslogs-group)`));
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
        report(fsbp("ECS.2", "networkConfiguration.assignPublicIp is true: each task is reachable from the internet past the load balancer and Authelia. Set it to false and run tasks in private subnets (with a NAT or VPC endpoints for egress)"));
      }
    },
  },
  {
    name: "ecs-containers-confined",
    description: "Task definitions share neither the host's network nor its process namespace, no container is privileged, and every root filesystem is read-only, writable paths being task volumes (FSBP ECS.1, ECS.3, ECS.4, ECS.5, ECS.17).",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      if (!isType(args, T.taskDefinition)) return;
      const p = args.props;
      const containers = containerDefinitions(p);
      if (p.networkMode === "host") report(fsbp("ECS.1, ECS.17", "networkMode is host: containers share the host's network stack and see its traffic. Use awsvpc (Fargate's only mode)"));
      if (p.pidMode === "host") report(fsbp("ECS.3", "pidMode is host: containers see and can signal every process of the host. Remove pidMode (or use task)"));
      for (const c of containers) {
        if (c.privileged === true) report(fsbp("ECS.4", `container "${c.name}" is privileged: root on the host in all but name. Remove privileged`));
        if (c.readonlyRootFilesystem !== true) report(fsbp("ECS.5", `container "${c.name}" can write to its root filesystem: a compromised process can alter its own binaries and config. Set readonlyRootFilesystem true and give the paths it writes a task volume (ContainerSpec.writablePaths)`));
      }
    },
  },
  {
    name: "ecs-platform-and-insights",
    description: "Fargate services run the LATEST platform version, and clusters have Container Insights (FSBP ECS.10, ECS.12).",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      if (isType(args, T.ecsService) && (args.props.launchType ?? "FARGATE") === "FARGATE" && args.props.platformVersion !== undefined && args.props.platformVersion !== "LATEST") {
        report(fsbp("ECS.10", `platformVersion is ${args.props.platformVersion}: the tasks keep an old kernel and runtime after AWS has patched LATEST. Set platformVersion "LATEST"`));
      }
      if (isType(args, T.ecsCluster)) {
        const insights = asArray(args.props.settings).find((s: any) => s?.name === "containerInsights")?.value;
        if (insights !== "enabled" && insights !== "enhanced") report(fsbp("ECS.12", `containerInsights is ${insights ?? "not set"}: per-task memory and restart metrics (the OOM alarms' input) are not collected. Set the cluster setting containerInsights to enabled`));
      }
    },
  },
];

/** Names FSBP ECS.8 treats as credentials whatever they look like (its secretKeys parameter). */
const ECS_SECRET_KEYS = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "ECS_ENGINE_AUTH_DATA"];
