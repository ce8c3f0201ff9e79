/**
 * What `npm run sandbox:up` makes in the emulator before it applies a configuration, as a user
 * makes it in a new account before apply (README, deploy steps 1 and 2):
 *
 * - the network a configuration's `network` names, when it does not exist there: the VPC (DNS
 *   resolution and DNS hostnames on, as EFS by DNS name needs), each subnet with the very id the
 *   configuration gives (the emulator's `_custom_id_` tag, tools/emulator/moto_launcher.py
 *   patch_ec2_vpc_subnet_custom_ids), one per Availability Zone in turn, and their way out: a
 *   public subnet with an internet gateway, a NAT gateway, and a route table sending the
 *   configured subnets' 0.0.0.0/0 to it. What exists already is left as it is.
 * - a throwaway SSH key (SecureString) and a throwaway pinned host key in the parameters the
 *   configuration names (the sandbox never reaches Backlog).
 *
 * Each function returns what it created, one line each, for sandbox:up to print.
 */
import { generateKeyPairSync } from "node:crypto";
import {
  AllocateAddressCommand,
  AssociateRouteTableCommand,
  AttachInternetGatewayCommand,
  CreateInternetGatewayCommand,
  CreateNatGatewayCommand,
  CreateRouteCommand,
  CreateRouteTableCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeAvailabilityZonesCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  type EC2Client,
  ModifyVpcAttributeCommand,
  type Tag,
} from "@aws-sdk/client-ec2";
import { PutParameterCommand, type SSMClient } from "@aws-sdk/client-ssm";
import type { StackConfig } from "../lib/validation";

/** The tag the emulator reads as the id to give a new resource (moto's convention). */
export const CUSTOM_ID_TAG = "_custom_id_";

/** The address range of a VPC the sandbox creates; subnet i gets 10.64.(i+1).0/24, the NAT's subnet 10.64.255.0/24. */
export const SANDBOX_VPC_CIDR = "10.64.0.0/16";

const nameTag = (name: string): Tag => ({ Key: "Name", Value: `sandbox: ${name}` });

/**
 * Creates in the emulator the VPC, subnets and NAT gateway `network` names, when they do not exist
 * there. Resolves with one line per thing created (none when there is no `network` or all exists).
 */
export async function ensureNetwork(ec2: EC2Client, network: StackConfig["network"]): Promise<string[]> {
  if (network === undefined) return [];
  const { vpcId, subnetIds } = network;
  const created: string[] = [];
  const vpcExists = ((await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: "vpc-id", Values: [vpcId] }] }))).Vpcs ?? []).length > 0;
  const existing = new Set(
    ((await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: "subnet-id", Values: [...subnetIds] }] }))).Subnets ?? []).map((s) => s.SubnetId),
  );
  const missing = subnetIds.filter((id) => !existing.has(id));
  if (vpcExists && missing.length === 0) return [];
  if (vpcExists) {
    throw new Error(`${vpcId} (network.vpcId) exists in the emulator but ${missing.join(", ")} (network.subnetIds) do not: the sandbox creates subnets only in a VPC it creates`);
  }

  const withId = (type: "vpc" | "subnet", id: string, what: string) => [{ ResourceType: type, Tags: [{ Key: CUSTOM_ID_TAG, Value: id }, nameTag(what)] }];
  const gotId = (what: string, wanted: string, got: string | undefined): string => {
    if (got !== wanted) {
      throw new Error(
        `the emulator created ${what} ${got ?? "without an id"}, not ${wanted}: its launcher (tools/emulator/moto_launcher.py) must honour the ${CUSTOM_ID_TAG} tag (patch_ec2_vpc_subnet_custom_ids)`,
      );
    }
    return got;
  };

  gotId("the VPC", vpcId, (await ec2.send(new CreateVpcCommand({ CidrBlock: SANDBOX_VPC_CIDR, TagSpecifications: withId("vpc", vpcId, "network.vpcId") }))).Vpc?.VpcId);
  // A new VPC has DNS hostnames off, as on AWS; the builds mount EFS by its DNS name.
  await ec2.send(new ModifyVpcAttributeCommand({ VpcId: vpcId, EnableDnsHostnames: { Value: true } }));
  created.push(`VPC ${vpcId} (network.vpcId), ${SANDBOX_VPC_CIDR}, DNS resolution and DNS hostnames on`);

  const zones = ((await ec2.send(new DescribeAvailabilityZonesCommand({ Filters: [{ Name: "state", Values: ["available"] }] }))).AvailabilityZones ?? [])
    .map((z) => z.ZoneName ?? "")
    .filter((z) => z !== "")
    .sort();
  if (zones.length === 0) throw new Error("the emulator lists no Availability Zone in this region");
  for (const [i, id] of subnetIds.entries()) {
    const zone = zones[i % zones.length];
    const cidr = `10.64.${i + 1}.0/24`;
    gotId("the subnet", id, (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: cidr, AvailabilityZone: zone, TagSpecifications: withId("subnet", id, `network.subnetIds[${i}]`) }))).Subnet?.SubnetId);
    created.push(`private subnet ${id} (network.subnetIds[${i}]), ${cidr} in ${zone}`);
  }

  // Their way out: a NAT gateway in a public subnet (the builds fetch from Backlog and push to CodeCommit).
  const publicSubnet = (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: "10.64.255.0/24", AvailabilityZone: zones[0], TagSpecifications: [{ ResourceType: "subnet", Tags: [nameTag("public subnet of the NAT gateway")] }] }))).Subnet?.SubnetId ?? "";
  const igw = (await ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway?.InternetGatewayId ?? "";
  await ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpcId }));
  const publicTable = (await ec2.send(new CreateRouteTableCommand({ VpcId: vpcId }))).RouteTable?.RouteTableId ?? "";
  await ec2.send(new CreateRouteCommand({ RouteTableId: publicTable, DestinationCidrBlock: "0.0.0.0/0", GatewayId: igw }));
  await ec2.send(new AssociateRouteTableCommand({ RouteTableId: publicTable, SubnetId: publicSubnet }));
  const allocation = (await ec2.send(new AllocateAddressCommand({ Domain: "vpc" }))).AllocationId ?? "";
  const nat = (await ec2.send(new CreateNatGatewayCommand({ SubnetId: publicSubnet, AllocationId: allocation }))).NatGateway?.NatGatewayId ?? "";
  const privateTable = (await ec2.send(new CreateRouteTableCommand({ VpcId: vpcId }))).RouteTable?.RouteTableId ?? "";
  await ec2.send(new CreateRouteCommand({ RouteTableId: privateTable, DestinationCidrBlock: "0.0.0.0/0", NatGatewayId: nat }));
  for (const id of subnetIds) await ec2.send(new AssociateRouteTableCommand({ RouteTableId: privateTable, SubnetId: id }));
  created.push(`NAT gateway ${nat} in public subnet ${publicSubnet} (internet gateway ${igw}, route table ${publicTable})`);
  created.push(`route table ${privateTable}: the private subnets' 0.0.0.0/0 goes to ${nat}`);
  return created;
}

/** An SSH public key line `ssh-ed25519 BASE64` for a fresh throwaway key, and its private key. */
export function throwawayKey(): { publicLine: string; privatePem: string } {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const raw = publicKey.export({ format: "der", type: "spki" }).subarray(-32);
  const field = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const blob = Buffer.concat([field(Buffer.from("ssh-ed25519")), field(raw)]);
  return { publicLine: `ssh-ed25519 ${blob.toString("base64")}`, privatePem: privateKey.export({ format: "pem", type: "pkcs8" }).toString() };
}

/**
 * Stores a throwaway SSH key in `backlog.sshKeyParameter` (SecureString) and, with
 * `backlog.hostKeysParameter`, a throwaway pinned host key. Resolves with what it stored.
 */
export async function putThrowawayKeys(ssm: SSMClient, backlog: StackConfig["backlog"]): Promise<string[]> {
  const key = throwawayKey();
  await ssm.send(new PutParameterCommand({ Name: backlog.sshKeyParameter, Type: "SecureString", Value: key.privatePem, Overwrite: true }));
  const stored = [`SecureString ${backlog.sshKeyParameter} (backlog.sshKeyParameter): a throwaway SSH key`];
  if (backlog.hostKeysParameter !== undefined) {
    await ssm.send(new PutParameterCommand({ Name: backlog.hostKeysParameter, Type: "String", Value: `${key.publicLine}\n`, Overwrite: true }));
    stored.push(`String ${backlog.hostKeysParameter} (backlog.hostKeysParameter): a throwaway host key`);
  }
  return stored;
}
