/**
 * AWS SDK v3 clients of the emulator, the account set-up the stack expects to find (VPC, subnets,
 * SSM parameters, the state bucket), and an inventory of every service's resources.
 */
import { readFileSync } from "node:fs";
import { Agent } from "node:https";
import { APIGatewayClient, GetRestApisCommand } from "@aws-sdk/client-api-gateway";
import { CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { CloudWatchLogsClient, DescribeLogGroupsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { CodeBuildClient, ListProjectsCommand } from "@aws-sdk/client-codebuild";
import { CodeCommitClient, ListRepositoriesCommand } from "@aws-sdk/client-codecommit";
import {
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeAddressesCommand,
  DescribeInternetGatewaysCommand,
  DescribeNatGatewaysCommand,
  DescribeNetworkInterfacesCommand,
  DescribeRouteTablesCommand,
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import { DescribeFileSystemsCommand, EFSClient } from "@aws-sdk/client-efs";
import { EventBridgeClient, ListRulesCommand } from "@aws-sdk/client-eventbridge";
import { IAMClient, ListPoliciesCommand, ListRolesCommand } from "@aws-sdk/client-iam";
import { DescribeKeyCommand, KMSClient, ListAliasesCommand, ListKeysCommand } from "@aws-sdk/client-kms";
import { CreateBucketCommand, ListBucketsCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { ListSubscriptionsCommand, ListTopicsCommand, SNSClient } from "@aws-sdk/client-sns";
import { DescribeParametersCommand, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { ListWebACLsCommand, WAFV2Client } from "@aws-sdk/client-wafv2";
import { EMULATOR_ENV } from "../emulator/moto";

export const REGION = EMULATOR_ENV.AWS_REGION;

export interface Clients {
  apigateway: APIGatewayClient;
  cloudwatch: CloudWatchClient;
  codebuild: CodeBuildClient;
  codecommit: CodeCommitClient;
  ec2: EC2Client;
  efs: EFSClient;
  events: EventBridgeClient;
  iam: IAMClient;
  kms: KMSClient;
  logs: CloudWatchLogsClient;
  s3: S3Client;
  sns: SNSClient;
  ssm: SSMClient;
  wafv2: WAFV2Client;
}

/** SDK clients of the emulator; `caBundle` is the CA to trust when it speaks HTTPS. */
export function emulatorClients(endpoint: string, caBundle?: string): Clients {
  const config = {
    endpoint,
    region: REGION,
    credentials: { accessKeyId: EMULATOR_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: EMULATOR_ENV.AWS_SECRET_ACCESS_KEY },
    maxAttempts: 2,
    ...(caBundle === undefined ? {} : { requestHandler: { httpsAgent: new Agent({ ca: readFileSync(caBundle), keepAlive: true }) } }),
  };
  return {
    apigateway: new APIGatewayClient(config),
    cloudwatch: new CloudWatchClient(config),
    codebuild: new CodeBuildClient(config),
    codecommit: new CodeCommitClient(config),
    ec2: new EC2Client(config),
    efs: new EFSClient(config),
    events: new EventBridgeClient(config),
    iam: new IAMClient(config),
    kms: new KMSClient(config),
    logs: new CloudWatchLogsClient(config),
    s3: new S3Client({ ...config, forcePathStyle: true }),
    sns: new SNSClient(config),
    ssm: new SSMClient(config),
    wafv2: new WAFV2Client(config),
  };
}

export function destroyClients(clients: Clients): void {
  for (const client of Object.values(clients)) client.destroy();
}

/** The network the stack is deployed into (created by the test, as an operator would have it). */
export interface TestNetwork {
  readonly vpcId: string;
  readonly subnetIds: string[];
}

/**
 * A VPC with one subnet per entry of `zones` (availability zone suffixes of the region): by default
 * two subnets in two availability zones; a zone may repeat (several subnets in one zone).
 */
export async function createNetwork(ec2: EC2Client, zones: readonly string[] = ["a", "c"]): Promise<TestNetwork> {
  const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: "10.42.0.0/16" }));
  const vpcId = vpc.Vpc?.VpcId;
  if (vpcId === undefined) throw new Error("CreateVpc returned no id");
  const subnetIds: string[] = [];
  for (const [i, az] of zones.map((z) => `${REGION}${z}`).entries()) {
    const subnet = await ec2.send(
      new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: `10.42.${i + 1}.0/24`, AvailabilityZone: az }),
    );
    if (subnet.Subnet?.SubnetId === undefined) throw new Error("CreateSubnet returned no id");
    subnetIds.push(subnet.Subnet.SubnetId);
  }
  return { vpcId, subnetIds };
}

/** The SSM parameters the buildspec reads at build time (the stack references them by name only). */
export async function createParameters(ssm: SSMClient, names: readonly string[]): Promise<void> {
  for (const name of names) {
    await ssm.send(new PutParameterCommand({ Name: name, Type: "SecureString", Value: `test value of ${name}`, Overwrite: true }));
  }
}

export async function createStateBucket(s3: S3Client, bucket: string, region: string): Promise<void> {
  await s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: region as never } }));
}

/** Everything the stack could create, by kind, as sorted lists of names or ids. */
export type Inventory = Record<string, string[]>;

const sorted = (values: Array<string | undefined>): string[] => values.filter((v): v is string => v !== undefined).sort();

/** Lists every service's resources in the emulator. */
export async function inventory(c: Clients): Promise<Inventory> {
  const [
    apis,
    projects,
    repos,
    fileSystems,
    groups,
    rules,
    enis,
    vpcs,
    subnets,
    gateways,
    natGateways,
    addresses,
    routeTables,
    roles,
    policies,
    logGroups,
    buckets,
    parameters,
    eventRules,
    topics,
    subscriptions,
    alarms,
    keys,
    aliases,
    webAcls,
  ] = await Promise.all([
    c.apigateway.send(new GetRestApisCommand({ limit: 500 })),
    c.codebuild.send(new ListProjectsCommand({})),
    c.codecommit.send(new ListRepositoriesCommand({})),
    c.efs.send(new DescribeFileSystemsCommand({})),
    c.ec2.send(new DescribeSecurityGroupsCommand({})),
    c.ec2.send(new DescribeSecurityGroupRulesCommand({})),
    c.ec2.send(new DescribeNetworkInterfacesCommand({})),
    c.ec2.send(new DescribeVpcsCommand({})),
    c.ec2.send(new DescribeSubnetsCommand({})),
    c.ec2.send(new DescribeInternetGatewaysCommand({})),
    c.ec2.send(new DescribeNatGatewaysCommand({})),
    c.ec2.send(new DescribeAddressesCommand({})),
    c.ec2.send(new DescribeRouteTablesCommand({})),
    c.iam.send(new ListRolesCommand({})),
    c.iam.send(new ListPoliciesCommand({ Scope: "Local" })),
    c.logs.send(new DescribeLogGroupsCommand({})),
    c.s3.send(new ListBucketsCommand({})),
    c.ssm.send(new DescribeParametersCommand({})),
    c.events.send(new ListRulesCommand({})),
    c.sns.send(new ListTopicsCommand({})),
    c.sns.send(new ListSubscriptionsCommand({})),
    c.cloudwatch.send(new DescribeAlarmsCommand({})),
    c.kms.send(new ListKeysCommand({})),
    c.kms.send(new ListAliasesCommand({})),
    c.wafv2.send(new ListWebACLsCommand({ Scope: "REGIONAL" })),
  ]);
  const objects: string[] = [];
  for (const bucket of buckets.Buckets ?? []) {
    const listed = await c.s3.send(new ListObjectsV2Command({ Bucket: bucket.Name }));
    objects.push(...(listed.Contents ?? []).map((o) => `${bucket.Name}/${o.Key}`));
  }
  // A destroyed KMS key is scheduled for deletion (7 to 30 days on AWS), never deleted at once:
  // only keys in another state count as left behind.
  const liveKeys: string[] = [];
  for (const key of keys.Keys ?? []) {
    const { KeyMetadata } = await c.kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }));
    if (KeyMetadata?.KeyState !== "PendingDeletion") liveKeys.push(`${key.KeyId} (${KeyMetadata?.KeyState})`);
  }
  return {
    "API Gateway REST APIs": sorted((apis.items ?? []).map((a) => a.name)),
    "CodeBuild projects": sorted(projects.projects ?? []),
    "CodeCommit repositories": sorted((repos.repositories ?? []).map((r) => r.repositoryName)),
    "EFS file systems": sorted((fileSystems.FileSystems ?? []).map((f) => f.FileSystemId)),
    "EC2 security groups": sorted((groups.SecurityGroups ?? []).map((g) => `${g.GroupName} (${g.GroupId})`)),
    "EC2 security group rules": sorted((rules.SecurityGroupRules ?? []).map((r) => r.SecurityGroupRuleId)),
    "EC2 network interfaces": sorted((enis.NetworkInterfaces ?? []).map((n) => n.NetworkInterfaceId)),
    "EC2 VPCs": sorted((vpcs.Vpcs ?? []).map((v) => v.VpcId)),
    "EC2 subnets": sorted((subnets.Subnets ?? []).map((s) => s.SubnetId)),
    "EC2 internet gateways": sorted((gateways.InternetGateways ?? []).map((g) => g.InternetGatewayId)),
    "EC2 NAT gateways": sorted(
      (natGateways.NatGateways ?? []).filter((n) => n.State !== "deleted" && n.State !== "deleting").map((n) => n.NatGatewayId),
    ),
    "EC2 Elastic IPs": sorted((addresses.Addresses ?? []).map((a) => a.AllocationId)),
    "EC2 route tables": sorted((routeTables.RouteTables ?? []).map((t) => t.RouteTableId)),
    "IAM roles": sorted((roles.Roles ?? []).map((r) => r.RoleName)),
    "IAM customer policies": sorted((policies.Policies ?? []).map((p) => p.PolicyName)),
    "CloudWatch log groups": sorted((logGroups.logGroups ?? []).map((g) => g.logGroupName)),
    "CloudWatch alarms": sorted((alarms.MetricAlarms ?? []).map((a) => a.AlarmName)),
    "EventBridge rules": sorted((eventRules.Rules ?? []).map((r) => r.Name)),
    "SNS topics": sorted((topics.Topics ?? []).map((t) => t.TopicArn)),
    "SNS subscriptions": sorted((subscriptions.Subscriptions ?? []).map((s) => `${s.Protocol}:${s.Endpoint} (${s.SubscriptionArn})`)),
    "KMS keys not pending deletion": liveKeys.sort(),
    "KMS aliases": sorted((aliases.Aliases ?? []).map((a) => a.AliasName)),
    "WAFv2 web ACLs": sorted((webAcls.WebACLs ?? []).map((w) => w.Name)),
    "S3 buckets": sorted((buckets.Buckets ?? []).map((b) => b.Name)),
    "S3 objects": objects.sort(),
    "SSM parameters": sorted((parameters.Parameters ?? []).map((p) => p.Name)),
  };
}

/** What `after` has that `before` has not, by kind (kinds with nothing new are left out). */
export function added(before: Inventory, after: Inventory): Inventory {
  const result: Inventory = {};
  for (const [kind, items] of Object.entries(after)) {
    const had = new Set(before[kind] ?? []);
    const extra = items.filter((i) => !had.has(i));
    if (extra.length > 0) result[kind] = extra;
  }
  return result;
}
