/**
 * What `npm run sandbox:up` makes in the emulator for a configuration of one's own
 * (scripts/sandbox-account.ts): the VPC, subnets and NAT gateway its `network` names, with the
 * configuration's own ids, and the throwaway keys in the parameters it names; then `npm run
 * preflight` against that emulator, in its own process, finishes clean: no error and no warning (the
 * emulator answers Service Quotas for the CodeBuild quotas preflight reads). The whole sandbox:up,
 * with Terraform, is test/integration/sandbox.test.ts.
 */
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { DescribeRouteTablesCommand, DescribeSubnetsCommand, DescribeVpcAttributeCommand, DescribeVpcsCommand, EC2Client } from "@aws-sdk/client-ec2";
import { SSMClient } from "@aws-sdk/client-ssm";
import { loadStackConfig } from "../../lib/stack-config";
import { ensureNetwork, putThrowawayKeys } from "../../scripts/sandbox-account";
import { type Emulator, EMULATOR_ENV, startEmulator } from "../../tools/emulator/moto";
import { ROOT, runCommand, tempDir } from "./support";

const VPC = "vpc-0a1b2c3d4e5f60718";
const SUBNETS = ["subnet-0a1b2c3d4e5f60718", "subnet-1b2c3d4e", "subnet-2c3d4e5f607182930"];

let emulator: Emulator;
let ec2: EC2Client;
let ssm: SSMClient;
const dir = tempDir();
const file = path.join(dir, "acme.json");

beforeAll(async () => {
  emulator = await startEmulator();
  const clients = { region: EMULATOR_ENV.AWS_REGION, endpoint: emulator.endpoint, credentials: { accessKeyId: "testing", secretAccessKey: "testing" } };
  ec2 = new EC2Client(clients);
  ssm = new SSMClient(clients);
  const sample = JSON.parse(readFileSync(path.join(ROOT, "config/sandbox.json"), "utf8"));
  writeFileSync(
    file,
    JSON.stringify({
      ...sample,
      name: "acme-mirror",
      backlog: { ...sample.backlog, spaceKey: "acme", sshKeyParameter: "/acme/ssh-key", hostKeysParameter: "/acme/host-keys" },
      network: { vpcId: VPC, subnetIds: SUBNETS },
      repositories: [{ projectKey: "SHOP", repository: "web" }, { projectKey: "SHOP", repository: "api" }],
    }),
  );
}, 60_000);

afterAll(async () => {
  ec2?.destroy();
  ssm?.destroy();
  await emulator?.stop();
});

test("the VPC and subnets a configuration names are created with its ids, one per Availability Zone, routed to a NAT gateway, and said", async () => {
  const config = loadStackConfig(file);
  const created = await ensureNetwork(ec2, config.network);
  expect(created).toEqual([
    `VPC ${VPC} (network.vpcId), 10.64.0.0/16, DNS resolution and DNS hostnames on`,
    `private subnet ${SUBNETS[0]} (network.subnetIds[0]), 10.64.1.0/24 in ap-northeast-1a`,
    `private subnet ${SUBNETS[1]} (network.subnetIds[1]), 10.64.2.0/24 in ap-northeast-1c`,
    `private subnet ${SUBNETS[2]} (network.subnetIds[2]), 10.64.3.0/24 in ap-northeast-1d`,
    expect.stringMatching(/^NAT gateway nat-\w+ in public subnet subnet-\w+ \(internet gateway igw-\w+, route table rtb-\w+\)$/),
    expect.stringMatching(/^route table rtb-\w+: the private subnets' 0\.0\.0\.0\/0 goes to nat-\w+$/),
  ]);
  expect((await ec2.send(new DescribeVpcsCommand({ VpcIds: [VPC] }))).Vpcs?.map((v) => v.VpcId)).toEqual([VPC]);
  const subnets = (await ec2.send(new DescribeSubnetsCommand({ SubnetIds: SUBNETS }))).Subnets ?? [];
  expect(subnets.map((s) => [s.SubnetId, s.VpcId]).sort()).toEqual(SUBNETS.map((s) => [s, VPC]).sort());
  const hostnames = await ec2.send(new DescribeVpcAttributeCommand({ VpcId: VPC, Attribute: "enableDnsHostnames" }));
  expect(hostnames.EnableDnsHostnames?.Value).toBe(true);
  const tables = (await ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: "association.subnet-id", Values: SUBNETS }] }))).RouteTables ?? [];
  expect(tables).toHaveLength(1);
  expect(tables[0].Routes?.find((r) => r.DestinationCidrBlock === "0.0.0.0/0")?.NatGatewayId).toMatch(/^nat-/);
  // What exists is left alone: a second run creates nothing.
  expect(await ensureNetwork(ec2, config.network)).toEqual([]);
  expect(await ensureNetwork(ec2, undefined)).toEqual([]);
}, 60_000);

test("with the throwaway keys in its parameters, preflight of that configuration against the emulator finishes clean (exit 0, no error, no warning)", async () => {
  const config = loadStackConfig(file);
  expect(await putThrowawayKeys(ssm, config.backlog)).toEqual([
    "SecureString /acme/ssh-key (backlog.sshKeyParameter): a throwaway SSH key",
    "String /acme/host-keys (backlog.hostKeysParameter): a throwaway host key",
  ]);
  const r = await runCommand("preflight", [], { ...EMULATOR_ENV, AWS_ENDPOINT_URL: emulator.endpoint, MIRROR_CONFIG: file });
  console.log(`npm run preflight against the emulator (${r.ms} ms), exit ${r.code}:\n${r.stdout}${r.stderr}`);
  expect(r.stdout).toContain(`ok      ${SUBNETS[2]} (network.subnetIds[2], ap-northeast-1d): routes 0.0.0.0/0 to nat-`);
  expect(r.stdout).toContain(`ok      ${VPC} (network.vpcId): enableDnsHostnames is on`);
  expect(r.stdout).toContain('ok      CodeBuild quota "Concurrently running builds for ARM/Small environment" (L-5ED1D25B): is 20, enough: the design needs 3');
  expect(r.stdout).toMatch(/\n0 error\(s\), 0 warning\(s\) in [\d.]+ s\n$/);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
}, 60_000);
