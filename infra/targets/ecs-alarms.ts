import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface EcsAlarmsArgs {
  namePrefix: string;
  /** E-mail subscribers of the topic (each confirms once). */
  emails: string[];
  loadBalancerArnSuffix: pulumi.Input<string>;
  targetGroupArnSuffix: pulumi.Input<string>;
  clusterName: pulumi.Input<string>;
  /** ECS services whose memory is watched. */
  services: pulumi.Input<string>[];
  dbInstanceIdentifier: pulumi.Input<string>;
  /** RDS storage in GiB: the free-storage threshold is a share of it. */
  allocatedStorageGb: number;
  /**
   * Encrypt the topic with a customer managed KMS key that CloudWatch may use (FSBP SNS.1):
   * AWS's own aws/sns key does not let CloudWatch alarms publish. The key costs $1 a month.
   */
  encrypt: boolean;
  tags: Record<string, string>;
}

/**
 * What pages someone: 5xx at the load balancer (its own and the targets'), an unhealthy
 * Traefik target, task memory near the limit (the OOM kill MLflow is known for), and RDS low
 * on free storage or busy CPU. Every alarm notifies on ALARM and on OK.
 */
export class EcsAlarms extends pulumi.ComponentResource {
  readonly topicArn: pulumi.Output<string>;
  readonly alarmNames: pulumi.Output<string>[] = [];

  constructor(name: string, args: EcsAlarmsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mlflow-kit:targets:EcsAlarms", name, {}, opts);
    const tags = args.tags;
    const id = args.namePrefix;

    const key = args.encrypt ? this.topicKey(name, id, tags) : undefined;
    const topic = new aws.sns.Topic(`${name}-topic`, { name: `${id}-alarms`, kmsMasterKeyId: key?.arn, tags }, { parent: this });
    args.emails.forEach((email, i) => new aws.sns.TopicSubscription(`${name}-email-${i + 1}`, { topic: topic.arn, protocol: "email", endpoint: email }, { parent: this }));

    const alarm = (key: string, a: Omit<aws.cloudwatch.MetricAlarmArgs, "alarmActions" | "okActions" | "tags" | "name">) => {
      const created = new aws.cloudwatch.MetricAlarm(`${name}-${key}`, {
        name: `${id}-${key}`,
        alarmActions: [topic.arn],
        okActions: [topic.arn],
        treatMissingData: "notBreaching",
        tags,
        ...a,
      }, { parent: this });
      this.alarmNames.push(created.name);
      return created;
    };
    const lb = { LoadBalancer: args.loadBalancerArnSuffix };
    alarm("alb-5xx", {
      alarmDescription: "The load balancer answered 5xx itself (no healthy Traefik, timeouts)",
      namespace: "AWS/ApplicationELB", metricName: "HTTPCode_ELB_5XX_Count", dimensions: lb,
      statistic: "Sum", period: 300, evaluationPeriods: 1, threshold: 10, comparisonOperator: "GreaterThanOrEqualToThreshold",
    });
    alarm("target-5xx", {
      alarmDescription: "Traefik, Authelia or MLflow answered 5xx",
      namespace: "AWS/ApplicationELB", metricName: "HTTPCode_Target_5XX_Count", dimensions: lb,
      statistic: "Sum", period: 300, evaluationPeriods: 1, threshold: 10, comparisonOperator: "GreaterThanOrEqualToThreshold",
    });
    alarm("unhealthy-targets", {
      alarmDescription: "A Traefik task fails the load balancer's health check",
      namespace: "AWS/ApplicationELB", metricName: "UnHealthyHostCount",
      dimensions: { LoadBalancer: args.loadBalancerArnSuffix, TargetGroup: args.targetGroupArnSuffix },
      statistic: "Maximum", period: 60, evaluationPeriods: 3, threshold: 1, comparisonOperator: "GreaterThanOrEqualToThreshold",
    });
    args.services.forEach((service, i) => alarm(`memory-${i + 1}`, {
      alarmDescription: pulumi.interpolate`Tasks of ${service} use over 90% of their memory (OOM kill ahead)`,
      namespace: "AWS/ECS", metricName: "MemoryUtilization",
      dimensions: { ClusterName: args.clusterName, ServiceName: service },
      statistic: "Maximum", period: 60, evaluationPeriods: 5, threshold: 90, comparisonOperator: "GreaterThanOrEqualToThreshold",
    }));
    const db = { DBInstanceIdentifier: args.dbInstanceIdentifier };
    alarm("rds-free-storage", {
      alarmDescription: "RDS has under 10% of its allocated storage free (autoscaling stuck at its ceiling?)",
      namespace: "AWS/RDS", metricName: "FreeStorageSpace", dimensions: db,
      statistic: "Minimum", period: 300, evaluationPeriods: 1,
      threshold: Math.round(args.allocatedStorageGb * 0.1 * 1024 ** 3), comparisonOperator: "LessThanThreshold",
    });
    alarm("rds-cpu", {
      alarmDescription: "RDS CPU above 80% for 15 minutes",
      namespace: "AWS/RDS", metricName: "CPUUtilization", dimensions: db,
      statistic: "Average", period: 300, evaluationPeriods: 3, threshold: 80, comparisonOperator: "GreaterThanThreshold",
    });

    this.topicArn = topic.arn;
    this.registerOutputs({ topicArn: this.topicArn });
  }

  /**
   * The topic's key. Its policy: the account administers it through IAM (AWS's default key
   * policy statement), and CloudWatch may encrypt the messages it publishes to this account's
   * topics ("Configure a KMS key for an encrypted topic", Amazon SNS developer guide and the
   * CloudWatch alarm actions documentation). Yearly rotation (FSBP KMS.4).
   */
  private topicKey(name: string, id: string, tags: Record<string, string>): aws.kms.Key {
    const identity = aws.getCallerIdentityOutput({}, { parent: this });
    const partition = aws.getPartitionOutput({}, { parent: this });
    const key = new aws.kms.Key(`${name}-topic-key`, {
      description: `Encrypts ${id}-alarms; CloudWatch alarms publish with it`,
      enableKeyRotation: true,
      deletionWindowInDays: 30,
      policy: pulumi.all([identity.accountId, partition.partition]).apply(([account, p]) => JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          { Sid: "AccountAdministersThroughIam", Effect: "Allow", Principal: { AWS: `arn:${p}:iam::${account}:root` }, Action: "kms:*", Resource: "*" },
          {
            Sid: "CloudWatchAlarmsPublish", Effect: "Allow", Principal: { Service: "cloudwatch.amazonaws.com" },
            Action: ["kms:Decrypt", "kms:GenerateDataKey*"], Resource: "*",
          },
        ],
      })),
      tags,
    }, { parent: this });
    new aws.kms.Alias(`${name}-topic-key`, { name: `alias/${id}-alarms`, targetKeyId: key.keyId }, { parent: this });
    return key;
  }
}
