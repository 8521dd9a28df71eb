/**
 * Network: nothing is open to the internet except HTTP(S) on the load balancer, and the
 * database admits named security groups only.
 */
import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { asArray, configOf, fsbp, isType, label, refersDeep, refersTo, stackLifecycle, T } from "./resources";

const WORLD = ["0.0.0.0/0", "::/0"];

/** One ingress permission, whichever of the three AWS shapes declared it. */
interface Ingress {
  rule: PolicyResource;
  /** The security group it opens, when known. */
  group: PolicyResource | undefined;
  world: boolean;
  cidrs: string[];
  fromSecurityGroup: boolean;
  fromPort: number;
  toPort: number;
  protocol: string;
}

export function ingressOf(resources: PolicyResource[]): Ingress[] {
  const groups = resources.filter((r) => isType(r, T.securityGroup));
  const groupOf = (rule: PolicyResource) => groups.find((g) => refersTo(rule, "securityGroupId", g, ["id"]));
  const out: Ingress[] = [];
  for (const r of resources) {
    const p = r.props;
    if (isType(r, T.ingressRule)) {
      const cidrs = [p.cidrIpv4, p.cidrIpv6].filter(Boolean);
      out.push({ rule: r, group: groupOf(r), world: cidrs.some((c) => WORLD.includes(c)), cidrs: [...cidrs, ...(p.prefixListId ? [p.prefixListId] : [])], fromSecurityGroup: !!p.referencedSecurityGroupId, fromPort: p.fromPort ?? 0, toPort: p.toPort ?? 65535, protocol: String(p.ipProtocol ?? "-1") });
    } else if (isType(r, T.securityGroupRule) && p.type === "ingress") {
      const cidrs = [...asArray<string>(p.cidrBlocks), ...asArray<string>(p.ipv6CidrBlocks), ...asArray<string>(p.prefixListIds)];
      out.push({ rule: r, group: groupOf(r), world: cidrs.some((c) => WORLD.includes(c)), cidrs, fromSecurityGroup: !!p.sourceSecurityGroupId || p.self === true, fromPort: p.fromPort ?? 0, toPort: p.toPort ?? 65535, protocol: String(p.protocol ?? "-1") });
    } else if (isType(r, T.securityGroup)) {
      for (const i of asArray(p.ingress) as any[]) {
        const cidrs = [...asArray<string>(i.cidrBlocks), ...asArray<string>(i.ipv6CidrBlocks), ...asArray<string>(i.prefixListIds)];
        out.push({ rule: r, group: r, world: cidrs.some((c) => WORLD.includes(c)), cidrs, fromSecurityGroup: asArray(i.securityGroups).length > 0 || i.self === true, fromPort: i.fromPort ?? 0, toPort: i.toPort ?? 65535, protocol: String(i.protocol ?? "-1") });
      }
    }
  }
  return out;
}

const ports = (i: Ingress) => (i.protocol === "-1" || i.protocol === "all" ? "all ports" : i.fromPort === i.toPort ? `port ${i.fromPort}` : `ports ${i.fromPort}-${i.toPort}`);

export const networkPolicies: StackValidationPolicy[] = [
  {
    name: "no-ingress-from-internet",
    description: "No security group admits 0.0.0.0/0 or ::/0, except allowedPublicPorts (80, 443) on a load balancer's group.",
    enforcementLevel: "mandatory",
    configSchema: { properties: { allowedPublicPorts: { type: "array", items: { type: "integer" }, default: [80, 443] } } },
    validateStack: (args, report) => {
      const { allowedPublicPorts } = configOf(args, { allowedPublicPorts: [80, 443] });
      const balancers = args.resources.filter((r) => isType(r, T.loadBalancer, T.albLoadBalancer));
      for (const i of ingressOf(args.resources).filter((x) => x.world)) {
        const onBalancer = !!i.group && balancers.some((lb) => refersTo(lb, "securityGroups", i.group!, ["id"]));
        const webOnly = i.protocol === "tcp" || i.protocol === "6" ? i.fromPort === i.toPort && allowedPublicPorts.includes(i.fromPort) : false;
        if (!(onBalancer && webOnly)) {
          report(fsbp("EC2.13, EC2.14, EC2.18, EC2.19, EC2.53, EC2.54", `${label(i.rule)} admits ${i.cidrs.filter((c) => WORLD.includes(c)).join(" and ")} on ${ports(i)}${i.group ? ` into ${label(i.group)}` : ""}: only a load balancer's security group may be open to the internet, and only on ${allowedPublicPorts.join(", ")}. Admit a security group (referencedSecurityGroupId) instead`), i.rule.urn);
        }
      }
    },
  },
  {
    name: "database-ingress-from-security-groups",
    description: "A database's security group admits other security groups only: no CIDR range, no prefix list.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      const dbGroups = new Set<string>();
      const groups = args.resources.filter((r) => isType(r, T.securityGroup));
      for (const db of args.resources.filter((r) => isType(r, T.rdsInstance))) {
        for (const g of groups) if (refersTo(db, "vpcSecurityGroupIds", g, ["id"])) dbGroups.add(g.urn);
      }
      for (const i of ingressOf(args.resources)) {
        if (!i.group || !dbGroups.has(i.group.urn)) continue;
        if (i.cidrs.length > 0 || !i.fromSecurityGroup) {
          report(`${label(i.rule)} admits ${i.cidrs.length ? i.cidrs.join(", ") : "an unnamed source"} on ${ports(i)} into the database's ${label(i.group)}: admit the clients' security groups only (mlflow-kit:database.clientSecurityGroupIds)`, i.rule.urn);
        }
      }
    },
  },
  {
    name: "ec2-subnets-private-by-default",
    description: "No subnet gives what starts in it a public IP address (FSBP EC2.15).",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      for (const sn of args.resources.filter((r) => isType(r, T.subnet) && r.props.mapPublicIpOnLaunch === true)) {
        report(fsbp("EC2.15", `${label(sn)} has mapPublicIpOnLaunch true: anything started there is reachable from the internet past the load balancer. Set it to false`), sn.urn);
      }
    },
  },
  {
    name: "ec2-nothing-unused",
    description: "Every security group is attached to something (a task, the database, the load balancer, a function), every Elastic IP to a NAT gateway or an association, every network ACL to a subnet (FSBP EC2.22, EC2.12, EC2.16).",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      const rs = args.resources;
      const attachments: Array<[string, string]> = [
        [T.rdsInstance, "vpcSecurityGroupIds"], [T.loadBalancer, "securityGroups"], [T.albLoadBalancer, "securityGroups"],
        [T.ecsService, "networkConfiguration"], [T.lambdaFunction, "vpcConfig"],
      ];
      for (const sg of rs.filter((r) => isType(r, T.securityGroup))) {
        if (!rs.some((r) => attachments.some(([type, key]) => r.type === type && refersDeep(r, key, sg, ["id"])))) {
          report(fsbp("EC2.22", `${label(sg)} is attached to nothing: an unused group is a rule set someone may attach later without reading it. Remove it, or attach it`), sg.urn);
        }
      }
      for (const eip of rs.filter((r) => isType(r, T.eip))) {
        if (!rs.some((r) => (isType(r, T.natGateway) && refersDeep(r, "allocationId", eip, ["id", "allocationId"])) || (isType(r, T.eipAssociation) && refersDeep(r, "allocationId", eip, ["id", "allocationId"])))) {
          report(fsbp("EC2.12", `${label(eip)} is associated with nothing: an idle Elastic IP is billed and can be taken over by whatever is attached to it next. Remove it`), eip.urn);
        }
      }
      for (const acl of rs.filter((r) => isType(r, T.networkAcl))) {
        const associated = asArray(acl.props.subnetIds).length > 0 || rs.some((r) => isType(r, T.networkAclAssociation) && refersDeep(r, "networkAclId", acl, ["id"]));
        if (!associated) report(fsbp("EC2.16", `${label(acl)} is associated with no subnet: remove it, or associate it`), acl.urn);
      }
    },
  },
  {
    name: "vpc-defaults-closed",
    description: "A VPC the stack creates has its default security group stripped of every rule and a default network ACL that admits no 0.0.0.0/0 or ::/0 on 22 or 3389; no network ACL of the stack does (FSBP EC2.2, EC2.21).",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      const rs = args.resources;
      for (const vpc of rs.filter((r) => isType(r, T.vpc))) {
        const sgs = rs.filter((r) => isType(r, T.defaultSecurityGroup) && refersDeep(r, "vpcId", vpc, ["id"]));
        if (sgs.length === 0) report(fsbp("EC2.2", `${label(vpc)} keeps its default security group with AWS's rules (all traffic among its members, all out): add an aws.ec2.DefaultSecurityGroup with no ingress and no egress`), vpc.urn);
        for (const sg of sgs) {
          if (asArray(sg.props.ingress).length || asArray(sg.props.egress).length) report(fsbp("EC2.2", `${label(sg)} has rules: the default group must allow nothing, so that a resource started without a group of its own gets no traffic. Give it ingress [] and egress []`), sg.urn);
        }
        if (!rs.some((r) => isType(r, T.defaultNetworkAcl) && refersDeep(r, "defaultNetworkAclId", vpc, ["defaultNetworkAclId"]))) {
          report(fsbp("EC2.21", `${label(vpc)} keeps AWS's default network ACL, which admits 0.0.0.0/0 on every port, 22 and 3389 included: manage it with an aws.ec2.DefaultNetworkAcl (see guardDefaults in infra/database/rds.ts)`), vpc.urn);
        }
      }
      const entries = rs.flatMap((r) =>
        isType(r, T.defaultNetworkAcl, T.networkAcl) ? asArray(r.props.ingress).map((e: any) => ({ r, e: { ...e, cidr: e.cidrBlock ?? e.ipv6CidrBlock, allow: e.action === "allow" } }))
          : isType(r, T.networkAclRule) && r.props.egress !== true ? [{ r, e: { protocol: r.props.protocol, fromPort: r.props.fromPort, toPort: r.props.toPort, cidr: r.props.cidrBlock ?? r.props.ipv6CidrBlock, allow: r.props.ruleAction === "allow", ruleNo: r.props.ruleNumber } }] : []);
      for (const { r, e } of entries) {
        if (!e.allow || !WORLD.includes(e.cidr)) continue;
        const protocol = String(e.protocol).toLowerCase();
        if (!["-1", "all", "tcp", "6", "udp", "17"].includes(protocol)) continue;
        const all = protocol === "-1" || protocol === "all";
        const open = [22, 3389].filter((port) => all || (Number(e.fromPort) <= port && port <= Number(e.toPort)));
        if (open.length) report(fsbp("EC2.21", `${label(r)} rule ${e.ruleNo ?? ""} allows ${e.cidr} on ${all ? "every protocol and port" : `${protocol} ${e.fromPort}-${e.toPort}`}, which covers ${open.join(" and ")}: leave those ports out of any rule open to the world`), r.urn);
      }
    },
  },
  {
    name: "vpc-flow-logs-when-long-lived",
    description: "A long-lived stack's created VPCs record their traffic with flow logs (FSBP EC2.6).",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      if (stackLifecycle(args.resources) !== "long-lived") return;
      for (const vpc of args.resources.filter((r) => isType(r, T.vpc))) {
        if (!args.resources.some((r) => isType(r, T.flowLog) && refersDeep(r, "vpcId", vpc, ["id"]))) {
          report(fsbp("EC2.6", `${label(vpc)} has no flow log: which address talked to the database or the tasks cannot be told after an incident. Keep mlflow-kit:logging.flowLogs on`), vpc.urn);
        }
      }
    },
  },
];
