/**
 * AWS SDK v3 clients of the emulator, the account set-up the stack expects to find (VPC, subnets,
 * SSM parameters, the state bucket), and an inventory of every service's resources.
 */
import { APIGatewayClient, GetRestApisCommand } from "@aws-sdk/client-api-gateway";
import { CloudWatchLogsClient, DescribeLogGroupsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { CodeBuildClient, ListProjectsCommand } from "@aws-sdk/client-codebuild";
import { CodeCommitClient, ListRepositoriesCommand } from "@aws-sdk/client-codecommit";
import {
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import { DescribeFileSystemsCommand, EFSClient } from "@aws-sdk/client-efs";
import { IAMClient, ListPoliciesCommand, ListRolesCommand } from "@aws-sdk/client-iam";
import { CreateBucketCommand, ListBucketsCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { DescribeParametersCommand, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { EMULATOR_ENV } from "../../emulator/moto";

export const REGION = EMULATOR_ENV.AWS_REGION;

export interface Clients {
  apigateway: APIGatewayClient;
  codebuild: CodeBuildClient;
  codecommit: CodeCommitClient;
  ec2: EC2Client;
  efs: EFSClient;
  iam: IAMClient;
  logs: CloudWatchLogsClient;
  s3: S3Client;
  ssm: SSMClient;
}

export function emulatorClients(endpoint: string): Clients {
  const config = {
    endpoint,
    region: REGION,
    credentials: { accessKeyId: EMULATOR_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: EMULATOR_ENV.AWS_SECRET_ACCESS_KEY },
    maxAttempts: 2,
  };
  return {
    apigateway: new APIGatewayClient(config),
    codebuild: new CodeBuildClient(config),
    codecommit: new CodeCommitClient(config),
    ec2: new EC2Client(config),
    efs: new EFSClient(config),
    iam: new IAMClient(config),
    logs: new CloudWatchLogsClient(config),
    s3: new S3Client({ ...config, forcePathStyle: true }),
    ssm: new SSMClient(config),
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

/** A VPC with two subnets in two availability zones. */
export async function createNetwork(ec2: EC2Client): Promise<TestNetwork> {
  const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: "10.42.0.0/16" }));
  const vpcId = vpc.Vpc?.VpcId;
  if (vpcId === undefined) throw new Error("CreateVpc returned no id");
  const subnetIds: string[] = [];
  for (const [i, az] of [`${REGION}a`, `${REGION}c`].entries()) {
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
  const [apis, projects, repos, fileSystems, groups, rules, enis, roles, policies, logGroups, buckets, parameters] =
    await Promise.all([
      c.apigateway.send(new GetRestApisCommand({ limit: 500 })),
      c.codebuild.send(new ListProjectsCommand({})),
      c.codecommit.send(new ListRepositoriesCommand({})),
      c.efs.send(new DescribeFileSystemsCommand({})),
      c.ec2.send(new DescribeSecurityGroupsCommand({})),
      c.ec2.send(new DescribeSecurityGroupRulesCommand({})),
      c.ec2.send(new DescribeNetworkInterfacesCommand({})),
      c.iam.send(new ListRolesCommand({})),
      c.iam.send(new ListPoliciesCommand({ Scope: "Local" })),
      c.logs.send(new DescribeLogGroupsCommand({})),
      c.s3.send(new ListBucketsCommand({})),
      c.ssm.send(new DescribeParametersCommand({})),
    ]);
  const objects: string[] = [];
  for (const bucket of buckets.Buckets ?? []) {
    const listed = await c.s3.send(new ListObjectsV2Command({ Bucket: bucket.Name }));
    objects.push(...(listed.Contents ?? []).map((o) => `${bucket.Name}/${o.Key}`));
  }
  return {
    "API Gateway REST APIs": sorted((apis.items ?? []).map((a) => a.name)),
    "CodeBuild projects": sorted(projects.projects ?? []),
    "CodeCommit repositories": sorted((repos.repositories ?? []).map((r) => r.repositoryName)),
    "EFS file systems": sorted((fileSystems.FileSystems ?? []).map((f) => f.FileSystemId)),
    "EC2 security groups": sorted((groups.SecurityGroups ?? []).map((g) => `${g.GroupName} (${g.GroupId})`)),
    "EC2 security group rules": sorted((rules.SecurityGroupRules ?? []).map((r) => r.SecurityGroupRuleId)),
    "EC2 network interfaces": sorted((enis.NetworkInterfaces ?? []).map((n) => n.NetworkInterfaceId)),
    "IAM roles": sorted((roles.Roles ?? []).map((r) => r.RoleName)),
    "IAM customer policies": sorted((policies.Policies ?? []).map((p) => p.PolicyName)),
    "CloudWatch log groups": sorted((logGroups.logGroups ?? []).map((g) => g.logGroupName)),
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
