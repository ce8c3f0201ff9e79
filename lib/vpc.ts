/**
 * An optional VPC for the sync builds, created when no `network` is given: two private subnets in
 * two availability zones (builds and EFS mount targets), one public subnet with a NAT gateway whose
 * Elastic IP is the fixed address every sync leaves from (for a Backlog space that allows Git access
 * from listed addresses only).
 *
 * Cost: the NAT gateway is billed per hour (about USD 45 a month in Tokyo) plus per GB processed.
 */
import { DataAwsAvailabilityZones } from "@cdktf/provider-aws/lib/data-aws-availability-zones";
import { Eip } from "@cdktf/provider-aws/lib/eip";
import { InternetGateway } from "@cdktf/provider-aws/lib/internet-gateway";
import { NatGateway } from "@cdktf/provider-aws/lib/nat-gateway";
import { Route } from "@cdktf/provider-aws/lib/route";
import { RouteTable } from "@cdktf/provider-aws/lib/route-table";
import { RouteTableAssociation } from "@cdktf/provider-aws/lib/route-table-association";
import { Subnet } from "@cdktf/provider-aws/lib/subnet";
import { Vpc } from "@cdktf/provider-aws/lib/vpc";
import { Fn } from "cdktf";
import { Construct } from "constructs";

/** Address plan of the created VPC. */
export const MIRROR_VPC_CIDR = "10.64.0.0/16";
export const PRIVATE_SUBNET_CIDRS = ["10.64.0.0/20", "10.64.16.0/20"] as const;
export const PUBLIC_SUBNET_CIDR = "10.64.240.0/24";

/** Props of {@link MirrorVpc}. */
export interface MirrorVpcProps {
  /** Prefix of the Name tags. */
  readonly name: string;
}

/** VPC, subnets, internet and NAT gateways, routes. */
export class MirrorVpc extends Construct {
  public readonly vpc: Vpc;
  public readonly privateSubnets: Subnet[];
  /** The address syncs leave from. */
  public readonly natEip: Eip;

  constructor(scope: Construct, id: string, props: MirrorVpcProps) {
    super(scope, id);
    const zones = new DataAwsAvailabilityZones(this, "Zones", { state: "available" });
    const zone = (i: number) => Fn.element(zones.names, i);

    this.vpc = new Vpc(this, "Vpc", {
      cidrBlock: MIRROR_VPC_CIDR,
      // The builds mount EFS by its DNS name, which resolves only with both on (EFS User Guide,
      // "Mounting on Amazon EC2 with a DNS name"; a new VPC has DNS hostnames off by default, VPC
      // User Guide, "DNS attributes for your VPC"). preflight checks them on a given VPC.
      enableDnsHostnames: true,
      enableDnsSupport: true,
      tags: { Name: `${props.name}-mirror` },
    });

    const igw = new InternetGateway(this, "InternetGateway", {
      vpcId: this.vpc.id,
      tags: { Name: `${props.name}-mirror` },
    });
    const publicSubnet = new Subnet(this, "PublicSubnet", {
      vpcId: this.vpc.id,
      cidrBlock: PUBLIC_SUBNET_CIDR,
      availabilityZone: zone(0),
      tags: { Name: `${props.name}-mirror-public` },
    });
    const publicRoutes = new RouteTable(this, "PublicRoutes", {
      vpcId: this.vpc.id,
      tags: { Name: `${props.name}-mirror-public` },
    });
    new Route(this, "PublicDefaultRoute", {
      routeTableId: publicRoutes.id,
      destinationCidrBlock: "0.0.0.0/0",
      gatewayId: igw.id,
    });
    new RouteTableAssociation(this, "PublicRoutesAssociation", {
      subnetId: publicSubnet.id,
      routeTableId: publicRoutes.id,
    });

    this.natEip = new Eip(this, "NatEip", { domain: "vpc", tags: { Name: `${props.name}-mirror-nat` } });
    const nat = new NatGateway(this, "NatGateway", {
      allocationId: this.natEip.allocationId,
      subnetId: publicSubnet.id,
      tags: { Name: `${props.name}-mirror` },
      dependsOn: [igw],
    });
    const privateRoutes = new RouteTable(this, "PrivateRoutes", {
      vpcId: this.vpc.id,
      tags: { Name: `${props.name}-mirror-private` },
    });
    new Route(this, "PrivateDefaultRoute", {
      routeTableId: privateRoutes.id,
      destinationCidrBlock: "0.0.0.0/0",
      natGatewayId: nat.id,
    });

    this.privateSubnets = PRIVATE_SUBNET_CIDRS.map((cidrBlock, i) => {
      const subnet = new Subnet(this, `PrivateSubnet${i + 1}`, {
        vpcId: this.vpc.id,
        cidrBlock,
        availabilityZone: zone(i),
        tags: { Name: `${props.name}-mirror-private-${i + 1}` },
      });
      new RouteTableAssociation(this, `PrivateRoutesAssociation${i + 1}`, {
        subnetId: subnet.id,
        routeTableId: privateRoutes.id,
      });
      return subnet;
    });
  }
}
