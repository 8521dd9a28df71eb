/**
 * Elastic Load Balancing and ACM: the load balancer redirects HTTP to HTTPS with a TLS 1.3
 * policy, drops malformed headers, refuses desync attempts, spans two zones, logs its requests
 * and, when long-lived, refuses deletion; its certificate is issued (and renewed) by ACM with a
 * strong key.
 */
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { asArray, fsbp, isType, label, resourceLifecycle, stackLifecycle, T } from "./resources";

const balancer = (args: { type: string; props: Record<string, any> }) => isType(args, T.loadBalancer, T.albLoadBalancer) && (args.props.loadBalancerType ?? "application") === "application";

/** ELB's TLS 1.3 policies (FSBP ELB.17's recommended ones; ELB "Security policies for your Application Load Balancer"). */
export const RECOMMENDED_TLS_POLICIES = [
  "ELBSecurityPolicy-TLS13-1-2-2021-06", "ELBSecurityPolicy-TLS13-1-2-Res-2021-06", "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06",
  "ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06", "ELBSecurityPolicy-TLS13-1-3-2021-06", "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04",
  "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04", "ELBSecurityPolicy-TLS13-1-2-PQ-2025-09", "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09",
];

/** ACM key algorithms of at least RSA 2048 bits or an ECDSA curve (FSBP ACM.2 checks RSA's length). */
const STRONG_KEYS = ["RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1", "EC_secp521r1"];

export const elbPolicies: Array<ResourceValidationPolicy | StackValidationPolicy> = [
  {
    name: "elb-listeners-encrypted",
    description: "HTTP listeners only redirect to HTTPS; HTTPS listeners use a TLS 1.3 security policy (FSBP ELB.1, ELB.17).",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      if (!isType(args, T.listener, T.albListener)) return;
      const p = args.props;
      const protocol = String(p.protocol ?? "HTTP").toUpperCase();
      if (protocol === "HTTP") {
        const actions = asArray(p.defaultActions) as any[];
        const redirects = actions.length > 0 && actions.every((a) => a?.type === "redirect" && String(a.redirect?.protocol).toUpperCase() === "HTTPS");
        if (!redirects) report(fsbp("ELB.1", `the HTTP listener on port ${p.port} ${actions.map((a) => a?.type).join(", ") || "has no action"} instead of redirecting to HTTPS: passwords and session cookies would cross the internet in plain text. Make its default action a redirect to HTTPS 443`));
      } else if (protocol === "HTTPS" && !RECOMMENDED_TLS_POLICIES.includes(String(p.sslPolicy))) {
        report(fsbp("ELB.17", `sslPolicy is ${p.sslPolicy ?? "the ELB default"}: it admits TLS versions or ciphers AWS no longer recommends. Use ELBSecurityPolicy-TLS13-1-2-2021-06`));
      }
    },
  },
  {
    name: "elb-hardened",
    description: "Application load balancers drop invalid header fields, mitigate desync in defensive or strictest mode, and span at least two availability zones (FSBP ELB.4, ELB.12, ELB.13).",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      if (!balancer(args)) return;
      const p = args.props;
      if (p.dropInvalidHeaderFields !== true) report(fsbp("ELB.4", "dropInvalidHeaderFields is not true: requests with malformed headers reach Traefik and Authelia, the raw material of request smuggling. Set it to true"));
      if (p.desyncMitigationMode !== undefined && !["defensive", "strictest"].includes(p.desyncMitigationMode)) {
        report(fsbp("ELB.12", `desyncMitigationMode is ${p.desyncMitigationMode}: ambiguous requests that could desync Traefik are forwarded. Use defensive (AWS's default) or strictest`));
      }
      const zones = asArray(p.subnets).length || asArray(p.subnetMappings).length;
      if (zones < 2) report(fsbp("ELB.13", `the load balancer has ${zones} subnet${zones === 1 ? "" : "s"}: one zone's outage takes MLflow offline. Give it public subnets in two zones or more`));
    },
  },
  {
    name: "elb-deletion-protected-when-long-lived",
    description: "A long-lived stack's load balancer refuses deletion, unless the stack is being decommissioned (FSBP ELB.6).",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      if (stackLifecycle(args.resources) !== "long-lived") return;
      for (const lb of args.resources.filter((r) => balancer(r) && resourceLifecycle(r.props) === "long-lived")) {
        if (lb.props.enableDeletionProtection !== true) report(fsbp("ELB.6", `${label(lb)} has no deletion protection: one API call or console click takes the stack's only entrance, and its DNS name, away. It is on unless mlflow-kit:decommission is set (see "Decommissioning")`), lb.urn);
      }
    },
  },
  {
    name: "elb-access-logged-when-long-lived",
    description: "A long-lived stack's load balancer logs every request to the log bucket (FSBP ELB.5).",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      if (stackLifecycle(args.resources) !== "long-lived") return;
      for (const lb of args.resources.filter((r) => balancer(r) && resourceLifecycle(r.props) === "long-lived")) {
        const logs = lb.props.accessLogs;
        if (!logs || logs.enabled === false || !logs.bucket) report(fsbp("ELB.5", `${label(lb)} logs no requests: who called the API, from where, and what the load balancer answered is lost. Keep mlflow-kit:logging.accessLogs on`), lb.urn);
      }
    },
  },
  {
    name: "acm-certificates-managed",
    description: "Certificates are issued by ACM with DNS validation, so ACM renews them, and use RSA 2048 bits or more, or ECDSA (FSBP ACM.1, ACM.2).",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      if (!isType(args, T.certificate)) return;
      const p = args.props;
      if (p.privateKey !== undefined || p.certificateBody !== undefined) {
        report(fsbp("ACM.1", "the certificate is imported: ACM never renews it, and it expires on its own date. Request it from ACM with validationMethod DNS"));
      } else if (p.validationMethod !== "DNS") {
        report(fsbp("ACM.1", `validationMethod is ${p.validationMethod ?? "not set"}: ACM renews a certificate by itself only while its DNS validation record stays in place. Use DNS`));
      }
      if (p.keyAlgorithm !== undefined && !STRONG_KEYS.includes(p.keyAlgorithm)) {
        report(fsbp("ACM.2", `keyAlgorithm is ${p.keyAlgorithm}: use RSA_2048 or stronger (or an ECDSA curve)`));
      }
    },
  },
];
