import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { subnetCidrs } from "../database/rds";

export interface EcsNetworkArgs {
  /** `<project>-<stack>`: physical names. */
  namePrefix: string;
  vpcId: pulumi.Input<string>;
  /** Add subnets to the VPC the database created (its CIDR block, zone count) ... */
  create?: { cidrBlock: string; availabilityZoneCount: number };
  /** ... or use an existing VPC's: public subnets for the load balancer, private ones (with egress) for tasks. */
  existing?: { publicSubnetIds: string[]; privateSubnetIds: pulumi.Input<string[]> };
  tags: Record<string, string>;
}

/**
 * Where the ECS target runs, in the database's VPC: public subnets for the load balancer (an
 * internet gateway) and private subnets for the tasks, whose only way out is a NAT gateway
 * (images from GHCR and Docker Hub, Secrets Manager, CloudWatch Logs, S3). Tasks get no public
 * IP. One NAT gateway: a zone outage stops new image pulls, not running tasks; its cost
 * (one instead of one per zone) is the trade.
 */
export class EcsNetwork extends pulumi.ComponentResource {
  readonly publicSubnetIds: pulumi.Output<string[]>;
  readonly privateSubnetIds: pulumi.Output<string[]>;
  /** The load balancer's subnets: the only sources Traefik trusts X-Forwarded-* from. */
  readonly publicCidrs: pulumi.Output<string[]>;

  constructor(name: string, args: EcsNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mlflow-kit:targets:EcsNetwork", name, {}, opts);
    const tags = args.tags;
    const id = args.namePrefix;

    if (args.create) {
      const { cidrBlock, availabilityZoneCount: n } = args.create;
      // The database took the first n /20s of the block; ours come after it.
      const all = subnetCidrs(cidrBlock, 16);
      const privateCidrs = all.slice(4, 4 + n);
      const publicCidrs = all.slice(8, 8 + n);
      const zones = aws.getAvailabilityZonesOutput({ state: "available", filters: [{ name: "opt-in-status", values: ["opt-in-not-required"] }] }, { parent: this });
      const zone = (i: number) => zones.names.apply((names) => names[i]);

      const igw = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: args.vpcId, tags: { ...tags, Name: `${id}-igw` } }, { parent: this });
      const publicRoutes = new aws.ec2.RouteTable(`${name}-public`, { vpcId: args.vpcId, tags: { ...tags, Name: `${id}-public` } }, { parent: this });
      new aws.ec2.Route(`${name}-public-default`, { routeTableId: publicRoutes.id, destinationCidrBlock: "0.0.0.0/0", gatewayId: igw.id }, { parent: this });
      const publicSubnets = publicCidrs.map((cidr, i) => {
        const subnet = new aws.ec2.Subnet(`${name}-public-${i + 1}`, {
          vpcId: args.vpcId, cidrBlock: cidr, availabilityZone: zone(i),
          // Only the load balancer and the NAT gateway live here, with their own addresses.
          mapPublicIpOnLaunch: false,
          tags: { ...tags, Name: `${id}-public-${i + 1}` },
        }, { parent: this });
        new aws.ec2.RouteTableAssociation(`${name}-public-${i + 1}`, { subnetId: subnet.id, routeTableId: publicRoutes.id }, { parent: this });
        return subnet;
      });

      const eip = new aws.ec2.Eip(`${name}-nat`, { domain: "vpc", tags: { ...tags, Name: `${id}-nat` } }, { parent: this });
      const nat = new aws.ec2.NatGateway(`${name}-nat`, { allocationId: eip.id, subnetId: publicSubnets[0].id, tags: { ...tags, Name: `${id}-nat` } }, { parent: this, dependsOn: [igw] });
      const privateRoutes = new aws.ec2.RouteTable(`${name}-private`, { vpcId: args.vpcId, tags: { ...tags, Name: `${id}-tasks` } }, { parent: this });
      new aws.ec2.Route(`${name}-private-default`, { routeTableId: privateRoutes.id, destinationCidrBlock: "0.0.0.0/0", natGatewayId: nat.id }, { parent: this });
      const privateSubnets = privateCidrs.map((cidr, i) => {
        const subnet = new aws.ec2.Subnet(`${name}-tasks-${i + 1}`, {
          vpcId: args.vpcId, cidrBlock: cidr, availabilityZone: zone(i), mapPublicIpOnLaunch: false,
          tags: { ...tags, Name: `${id}-tasks-${i + 1}` },
        }, { parent: this });
        new aws.ec2.RouteTableAssociation(`${name}-tasks-${i + 1}`, { subnetId: subnet.id, routeTableId: privateRoutes.id }, { parent: this });
        return subnet;
      });
      this.publicSubnetIds = pulumi.all(publicSubnets.map((s) => s.id));
      this.privateSubnetIds = pulumi.all(privateSubnets.map((s) => s.id));
      this.publicCidrs = pulumi.output(publicCidrs);
    } else if (args.existing) {
      const { publicSubnetIds, privateSubnetIds } = args.existing;
      this.publicSubnetIds = pulumi.output(publicSubnetIds);
      this.privateSubnetIds = pulumi.output(privateSubnetIds);
      this.publicCidrs = pulumi.all(publicSubnetIds.map((sid) => aws.ec2.getSubnetOutput({ id: sid }, { parent: this }).cidrBlock));
    } else {
      throw new Error(`EcsNetwork ${name}: give create or existing`);
    }
    this.registerOutputs({ publicSubnetIds: this.publicSubnetIds, privateSubnetIds: this.privateSubnetIds, publicCidrs: this.publicCidrs });
  }
}
