import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { LOAD_BALANCER_IDLE_TIMEOUT_SECONDS } from "../edge/traefik";

export interface EcsLoadBalancerArgs {
  namePrefix: string;
  vpcId: pulumi.Input<string>;
  publicSubnetIds: pulumi.Input<string[]>;
  /** Served names: the certificate covers both, Traefik tells them apart. */
  domain: string;
  authDomain: string;
  /** Route 53 zone: validation and alias records are created there. */
  hostedZoneId?: string;
  /** Traefik's ports inside its task: traffic and the /ping health check. */
  trafficPort: number;
  pingPort: number;
  /** Refuse deletion of the load balancer (FSBP ELB.6): long-lived stacks, unless decommissioning. */
  deletionProtection: boolean;
  /** Access logs to this bucket under prefix/AWSLogs/<account>/ (FSBP ELB.5); the bucket's policy must admit ELB first. */
  accessLogs?: { bucketName: pulumi.Input<string>; prefix: string };
  tags: Record<string, string>;
}

export interface DnsRecord { name: string; type: string; value: string }

/**
 * The public edge: an Application Load Balancer with TLS from ACM on 443, HTTP on 80 redirected
 * to HTTPS, forwarding to Traefik's tasks. ACM, not Traefik's ACME: AWS renews the certificate,
 * no task holds a key or an ACME account, no Let's Encrypt rate limit can bite on restarts,
 * and Traefik stays stateless (no EFS), so it can run and roll like any other task.
 */
export class EcsLoadBalancer extends pulumi.ComponentResource {
  readonly securityGroupId: pulumi.Output<string>;
  readonly targetGroupArn: pulumi.Output<string>;
  readonly dnsName: pulumi.Output<string>;
  /** For CloudWatch dimensions: app/<name>/<id> and targetgroup/<name>/<id>. */
  readonly arnSuffix: pulumi.Output<string>;
  readonly targetGroupArnSuffix: pulumi.Output<string>;
  /** Records to add to DNS by hand when no Route 53 zone is configured. */
  readonly dnsRecords: pulumi.Output<DnsRecord[]>;
  readonly httpsListenerArn: pulumi.Output<string>;

  constructor(name: string, args: EcsLoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mlflow-kit:targets:EcsLoadBalancer", name, {}, opts);
    const tags = args.tags;
    const id = args.namePrefix;

    // The only group in the stack open to the world, and only on 80 and 443.
    const sg = new aws.ec2.SecurityGroup(`${name}-alb`, {
      namePrefix: `${id}-alb-`,
      description: "MLflow load balancer: HTTPS and HTTP (redirect) from anywhere",
      vpcId: args.vpcId,
      tags: { ...tags, Name: `${id}-alb` },
    }, { parent: this });
    for (const port of [443, 80]) {
      new aws.vpc.SecurityGroupIngressRule(`${name}-alb-in-${port}`, {
        securityGroupId: sg.id, cidrIpv4: "0.0.0.0/0", ipProtocol: "tcp", fromPort: port, toPort: port,
        description: port === 443 ? "HTTPS" : "HTTP, redirected to HTTPS", tags,
      }, { parent: this });
    }

    const alb = new aws.lb.LoadBalancer(`${name}-alb`, {
      name: `${id}`.slice(0, 32).replace(/-$/, ""),
      loadBalancerType: "application",
      internal: false,
      securityGroups: [sg.id],
      subnets: args.publicSubnetIds,
      // Requests with malformed headers never reach Traefik.
      dropInvalidHeaderFields: true,
      // Shorter than Traefik's keep-alive timeout, as AWS requires of targets (else 502s when a
      // target closes a connection the load balancer is about to reuse); see edge/traefik.ts.
      idleTimeout: LOAD_BALANCER_IDLE_TIMEOUT_SECONDS,
      // Append the client's address to X-Forwarded-For (the default, said out loud): Traefik's
      // clientip plugin keeps that right-most entry only.
      xffHeaderProcessingMode: "append",
      // AWS's default, said explicitly: requests that could desync Traefik are refused (FSBP ELB.12).
      desyncMitigationMode: "defensive",
      enableDeletionProtection: args.deletionProtection,
      ...(args.accessLogs ? { accessLogs: { bucket: args.accessLogs.bucketName, prefix: args.accessLogs.prefix, enabled: true } } : {}),
      tags,
    }, { parent: this });

    const targetGroup = new aws.lb.TargetGroup(`${name}-traefik`, {
      namePrefix: "trfk-",
      port: args.trafficPort,
      protocol: "HTTP",
      targetType: "ip",
      vpcId: args.vpcId,
      deregistrationDelay: 30,
      healthCheck: { path: "/ping", port: String(args.pingPort), protocol: "HTTP", matcher: "200", interval: 15, healthyThreshold: 2, unhealthyThreshold: 3 },
      tags,
    }, { parent: this });

    const certificate = new aws.acm.Certificate(`${name}-certificate`, {
      domainName: args.domain,
      subjectAlternativeNames: [args.authDomain],
      validationMethod: "DNS",
      tags,
    }, { parent: this });
    const validationRecords = certificate.domainValidationOptions.apply((options) =>
      // Both names may share one record (same parent): one record per distinct name.
      [...new Map((options ?? []).map((o) => [o.resourceRecordName, { name: o.resourceRecordName, type: o.resourceRecordType, value: o.resourceRecordValue }])).values()]);

    let validation: aws.acm.CertificateValidation;
    if (args.hostedZoneId) {
      const zoneId = args.hostedZoneId;
      // Records are created per served name (known now); each reads its value from the certificate.
      const fqdns = [args.domain, args.authDomain].map((host, i) => {
        const option = certificate.domainValidationOptions.apply((o) => o.find((x) => x.domainName === host)!);
        return new aws.route53.Record(`${name}-validation-${i + 1}`, {
          zoneId,
          name: option.resourceRecordName,
          type: option.resourceRecordType,
          records: [option.resourceRecordValue],
          ttl: 300,
          allowOverwrite: true,
        }, { parent: this }).fqdn;
      });
      validation = new aws.acm.CertificateValidation(`${name}-certificate`, { certificateArn: certificate.arn, validationRecordFqdns: fqdns }, { parent: this });
      [args.domain, args.authDomain].forEach((host, i) => new aws.route53.Record(`${name}-alias-${i + 1}`, {
        zoneId,
        name: host,
        type: "A",
        aliases: [{ name: alb.dnsName, zoneId: alb.zoneId, evaluateTargetHealth: true }],
      }, { parent: this }));
    } else {
      // Waits until the records (dnsRecords) are in the domain's DNS; see README, "prod quickstart".
      validation = new aws.acm.CertificateValidation(`${name}-certificate`, { certificateArn: certificate.arn }, { parent: this, customTimeouts: { create: "2h" } });
    }

    const https = new aws.lb.Listener(`${name}-https`, {
      loadBalancerArn: alb.arn,
      port: 443,
      protocol: "HTTPS",
      sslPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06",
      certificateArn: validation.certificateArn,
      defaultActions: [{ type: "forward", targetGroupArn: targetGroup.arn }],
      tags,
    }, { parent: this });
    new aws.lb.Listener(`${name}-http`, {
      loadBalancerArn: alb.arn,
      port: 80,
      protocol: "HTTP",
      defaultActions: [{ type: "redirect", redirect: { protocol: "HTTPS", port: "443", statusCode: "HTTP_301" } }],
      tags,
    }, { parent: this });

    this.securityGroupId = sg.id;
    this.targetGroupArn = targetGroup.arn;
    this.dnsName = alb.dnsName;
    this.arnSuffix = alb.arnSuffix;
    this.targetGroupArnSuffix = targetGroup.arnSuffix;
    this.httpsListenerArn = https.arn;
    this.dnsRecords = args.hostedZoneId
      ? pulumi.output([])
      : pulumi.all([validationRecords, alb.dnsName]).apply(([records, dns]) => [
          ...records,
          ...[args.domain, args.authDomain].map((host) => ({ name: `${host}.`, type: "CNAME", value: dns })),
        ]);
    this.registerOutputs({ dnsName: this.dnsName, dnsRecords: this.dnsRecords });
  }
}
