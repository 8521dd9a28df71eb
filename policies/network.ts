/**
 * Network: nothing is open to the internet except HTTP(S) on the load balancer, and the
 * database admits named security groups only.
 */
import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { asArray, configOf, isType, label, refersTo, T } from "./resources";

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
          report(`${label(i.rule)} admits ${i.cidrs.filter((c) => WORLD.includes(c)).join(" and ")} on ${ports(i)}${i.group ? ` into ${label(i.group)}` : ""}: only a load balancer's security group may be open to the internet, and only on ${allowedPublicPorts.join(", ")}. Admit a security group (referencedSecurityGroupId) instead`, i.rule.urn);
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
];
