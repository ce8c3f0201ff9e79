/**
 * The first hour, for real: `MIRROR_CONFIG=own.json npm run sandbox:up` rehearsing a configuration
 * of one's own that names an existing VPC and subnets (created in the emulator with those ids, with
 * a NAT gateway; emulator over HTTPS, the state stack with its TLS-only bucket policy, the main stack
 * with its S3 backend on that bucket, apply, an empty second plan), `npm run preflight` against it
 * (clean for that configuration, then each bad case, set up in the same emulator through the AWS
 * SDK), and `npm run sandbox:down`, after which nothing is left running.
 *
 * The sandbox runs in its own directory (SANDBOX_DIR), so a developer's own .sandbox/ is untouched.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent } from "node:https";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { CodeCommitClient, CreateRepositoryCommand } from "@aws-sdk/client-codecommit";
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
  ModifyVpcAttributeCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import { GetParameterCommand, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import type { SandboxRecord } from "../../scripts/sandbox-env";
import { Timings } from "./support/timings";

const ROOT = path.resolve(__dirname, "..", "..");
const sandboxDir = mkdtempSync(path.join(tmpdir(), "mirror-sandbox-"));
const configDir = mkdtempSync(path.join(tmpdir(), "mirror-preflight-"));
const timings = new Timings("sandbox: up, preflight, down");

function npm(script: string, env: Record<string, string> = {}, args: string[] = []): { code: number; out: string } {
  const r = spawnSync("npm", ["run", "--silent", script, ...(args.length > 0 ? ["--", ...args] : [])], {
    cwd: ROOT,
    env: { ...process.env, SANDBOX_DIR: sandboxDir, ...env },
    encoding: "utf8",
    timeout: 12 * 60_000,
  });
  return { code: r.status ?? 1, out: `${r.stdout}${r.stderr}` };
}

let record: SandboxRecord;

/** The configuration rehearsed: the sandbox sample with a `network` of its own (ids that exist nowhere yet). */
const OWN_VPC = "vpc-0a1b2c3d4e5f60718";
const OWN_SUBNETS = ["subnet-0a1b2c3d4e5f60718", "subnet-1b2c3d4e5f6071829"];
const ownConfig = path.join(configDir, "own.json");

afterAll(() => {
  // Whatever failed: stop the emulator this suite started, by its process id, and remove its files.
  const file = path.join(sandboxDir, "sandbox.json");
  if (existsSync(file)) {
    const { pid } = JSON.parse(readFileSync(file, "utf8")) as SandboxRecord;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  rmSync(sandboxDir, { recursive: true, force: true });
  rmSync(configDir, { recursive: true, force: true });
  timings.report();
});

function sandboxConfig(): any {
  return JSON.parse(readFileSync(path.join(ROOT, "config", "sandbox.json"), "utf8"));
}

function preflight(config: unknown): { code: number; out: string } {
  const file = path.join(configDir, `config-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(config));
  return npm("preflight", { MIRROR_CONFIG: file, AWS_ENDPOINT_URL: record.endpoint });
}

test("sandbox:up deploys the configuration MIRROR_CONFIG names, creating the VPC and subnets it names, through the state stack, prints what it created, the webhook URLs and the endpoint, and leaves the emulator running", () => {
  writeFileSync(ownConfig, JSON.stringify({ ...sandboxConfig(), network: { vpcId: OWN_VPC, subnetIds: OWN_SUBNETS } }));
  timings.start();
  const t0 = Date.now();
  const up = npm("sandbox:up", { MIRROR_CONFIG: ownConfig });
  timings.record("npm run sandbox:up", Date.now() - t0);
  expect(up.out).toContain("main stack: second terraform plan (must show no change)");
  expect(up.code).toBe(0);
  record = JSON.parse(readFileSync(path.join(sandboxDir, "sandbox.json"), "utf8")) as SandboxRecord;
  const steps = JSON.parse(readFileSync(path.join(sandboxDir, "timings.json"), "utf8")) as Array<{ step: string; seconds: number }>;
  for (const s of steps) timings.note(`up: ${s.step} (s)`, s.seconds);
  const lines = up.out.split("\n");
  expect(lines).toContain(`AWS_ENDPOINT_URL=${record.endpoint}`);
  expect(record.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  expect(lines.filter((l) => /^SHOP\/web https:\/\/\S+\/prod\/SHOP\/web$/.test(l))).toHaveLength(1);
  expect(lines).toContainEqual(expect.stringMatching(/own\.json -> .*cdk\.tf\.json: \d+ resources$/));
  expect(lines[0]).toBe(`sandbox:up rehearses ${ownConfig} (MIRROR_CONFIG): stack sandbox in ap-northeast-1`);
  expect(record.config).toBe(ownConfig);
  expect(lines).toContain(`  VPC ${OWN_VPC} (network.vpcId), 10.64.0.0/16, DNS resolution and DNS hostnames on`);
  expect(lines).toContain(`  private subnet ${OWN_SUBNETS[1]} (network.subnetIds[1]), 10.64.2.0/24 in ap-northeast-1c`);
  expect(lines).toContainEqual(expect.stringMatching(/^ {2}NAT gateway nat-\w+ in public subnet subnet-\w+/));
  expect(lines).toContain(`e.g.: MIRROR_CONFIG=${ownConfig} AWS_ENDPOINT_URL=${record.endpoint} npm run preflight`);
  process.kill(record.pid, 0); // throws when the emulator is not running
  // The state went into the bucket the state stack made, over TLS (its policy denies anything else).
  const state = spawnSync("terraform", ["state", "list"], { cwd: record.stackDir, env: { ...process.env, TF_CLI_CONFIG_FILE: record.cliConfig, AWS_ACCESS_KEY_ID: "testing", AWS_SECRET_ACCESS_KEY: "testing", AWS_CA_BUNDLE: record.caBundle }, encoding: "utf8" });
  expect(state.stdout).toContain("aws_codecommit_repository.");
}, 15 * 60_000);

test("preflight of the rehearsed configuration finishes clean on the sandbox (a re-run after apply): no error, no warning", () => {
  const t0 = Date.now();
  const r = npm("preflight", { MIRROR_CONFIG: ownConfig, AWS_ENDPOINT_URL: record.endpoint });
  timings.record("npm run preflight (sandbox, good)", Date.now() - t0);
  expect(r.out).toContain("(the running sandbox)");
  expect(r.out).toContain("ok      SSM parameter /sandbox/ssh-private-key (backlog.sshKeyParameter): exists and is a SecureString (value not read)");
  expect(r.out).toContain("ok      CodeCommit repository web (repositories[0], SHOP/web): exists and is this stack's");
  expect(r.out).toContain("ssh-keyscan sandbox-space.git.backlog.com 2>/dev/null | cut -d' ' -f2- > host-keys.txt");
  expect(r.out).toContain(`ok      ${OWN_SUBNETS[0]} (network.subnetIds[0], ap-northeast-1a): routes 0.0.0.0/0 to nat-`);
  expect(r.out).toContain('ok      CodeBuild quota "Concurrently running builds for ARM/Small environment" (L-5ED1D25B): is 20, enough');
  expect(r.out).toMatch(/\n0 error\(s\), 0 warning\(s\)/);
  expect(r.code).toBe(0);
}, 60_000);

test("npm run sync and npm run status, as sandbox:up prints them (AWS_ENDPOINT_URL only), find the sandbox's stack", () => {
  const env = { MIRROR_CONFIG: ownConfig, AWS_ENDPOINT_URL: record.endpoint };
  const sync = npm("sync", env, ["--all"]);
  expect(sync.out).toMatch(/^SHOP\/web +sandbox-mirror-web:[0-9a-f-]+$/m);
  expect(sync.code).toBe(0);
  // Backlog out of reach (a closed port): the AWS half is still shown, read from the sandbox's stack.
  const status = npm("status", { ...env, BACKLOG_API_KEY: "sandbox-key", BACKLOG_API_BASE_URL: "https://127.0.0.1:1" });
  expect(status.out).toMatch(/^SHOP\/web .* unknown$/m);
  expect(status.out).not.toContain("terraform output");
  expect(status.code).toBe(2);
}, 60_000);

describe("preflight on a prepared account", () => {
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    const base = {
      region: "ap-northeast-1",
      endpoint: record.endpoint,
      credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
      requestHandler: { httpsAgent: new Agent({ ca: readFileSync(record.caBundle, "utf8") }) },
    };
    const ec2 = new EC2Client(base);
    const vpc = async (cidr: string) => (await ec2.send(new CreateVpcCommand({ CidrBlock: cidr }))).Vpc?.VpcId ?? "";
    const subnet = async (vpcId: string, cidr: string, az: string) =>
      (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: cidr, AvailabilityZone: az }))).Subnet?.SubnetId ?? "";
    const table = async (vpcId: string, subnets: string[]) => {
      const id = (await ec2.send(new CreateRouteTableCommand({ VpcId: vpcId }))).RouteTable?.RouteTableId ?? "";
      for (const s of subnets) await ec2.send(new AssociateRouteTableCommand({ RouteTableId: id, SubnetId: s }));
      return id;
    };
    ids.vpc = await vpc("10.1.0.0/16");
    // A new VPC has DNS hostnames off, as on AWS; EFS by DNS name needs them (preflight checks it).
    await ec2.send(new ModifyVpcAttributeCommand({ VpcId: ids.vpc, EnableDnsHostnames: { Value: true } }));
    ids.otherVpc = await vpc("10.2.0.0/16");
    ids.publicNat = await subnet(ids.vpc, "10.1.100.0/24", "ap-northeast-1a");
    ids.good1 = await subnet(ids.vpc, "10.1.1.0/24", "ap-northeast-1a");
    ids.good2 = await subnet(ids.vpc, "10.1.2.0/24", "ap-northeast-1c");
    ids.noRoute = await subnet(ids.vpc, "10.1.3.0/24", "ap-northeast-1c");
    ids.public = await subnet(ids.vpc, "10.1.4.0/24", "ap-northeast-1d");
    ids.sameAz = await subnet(ids.vpc, "10.1.5.0/24", "ap-northeast-1a");
    ids.otherVpcSubnet = await subnet(ids.otherVpc, "10.2.1.0/24", "ap-northeast-1c");
    const igw = (await ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway?.InternetGatewayId ?? "";
    await ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: ids.vpc }));
    const eip = (await ec2.send(new AllocateAddressCommand({ Domain: "vpc" }))).AllocationId ?? "";
    ids.nat = (await ec2.send(new CreateNatGatewayCommand({ SubnetId: ids.publicNat, AllocationId: eip }))).NatGateway?.NatGatewayId ?? "";
    const privateTable = await table(ids.vpc, [ids.good1, ids.good2, ids.sameAz]);
    await ec2.send(new CreateRouteCommand({ RouteTableId: privateTable, DestinationCidrBlock: "0.0.0.0/0", NatGatewayId: ids.nat }));
    const publicTable = await table(ids.vpc, [ids.public, ids.publicNat]);
    await ec2.send(new CreateRouteCommand({ RouteTableId: publicTable, DestinationCidrBlock: "0.0.0.0/0", GatewayId: igw }));
    await table(ids.vpc, [ids.noRoute]);
    ec2.destroy();

    const ssm = new SSMClient(base);
    await ssm.send(new PutParameterCommand({ Name: "/bad/ssh-key", Type: "String", Value: "-----BEGIN OPENSSH PRIVATE KEY-----" }));
    const hostKeys = (await ssm.send(new GetParameterCommand({ Name: "/sandbox/ssh-host-keys" }))).Parameter?.Value ?? "";
    await ssm.send(new PutParameterCommand({ Name: "/bad/host-keys", Type: "String", Value: `# from ssh-keyscan\nother-space.git.backlog.com ${hostKeys.trim()}\n` }));
    ssm.destroy();

    const codecommit = new CodeCommitClient(base);
    await codecommit.send(new CreateRepositoryCommand({ repositoryName: "taken-repo" }));
    codecommit.destroy();
  }, 60_000);

  test("a good network (private subnets in two AZs, routed to an available NAT gateway) passes", () => {
    const config = sandboxConfig();
    config.network = { vpcId: ids.vpc, subnetIds: [ids.good1, ids.good2] };
    config.repositories = [{ projectKey: "SHOP", repository: "fresh" }];
    const r = preflight(config);
    expect(r.out).toContain(`ok      ${ids.good1} (network.subnetIds[0], ap-northeast-1a): routes 0.0.0.0/0 to ${ids.nat} (available)`);
    expect(r.out).toContain(`ok      ${ids.good2} (network.subnetIds[1], ap-northeast-1c): routes 0.0.0.0/0 to ${ids.nat} (available)`);
    expect(r.out).toContain("ok      CodeCommit repository fresh (repositories[0], SHOP/fresh): the name is free");
    expect(r.out).toMatch(/\n0 error\(s\)/);
    expect(r.code).toBe(0);
  }, 60_000);

  test("every bad network, parameter and name is one finding that names it and what to do, and the exit code is 1", () => {
    const missing = "subnet-0123456789abcdef0";
    const config = sandboxConfig();
    config.network = { vpcId: ids.vpc, subnetIds: [ids.good1, ids.noRoute, ids.public, ids.sameAz, ids.otherVpcSubnet, missing] };
    config.backlog.sshKeyParameter = "/bad/ssh-key";
    config.backlog.hostKeysParameter = "/bad/host-keys";
    config.repositories = [{ projectKey: "SHOP", repository: "web", codecommitRepository: "taken-repo" }];
    const t0 = Date.now();
    const r = preflight(config);
    timings.record("npm run preflight (bad account)", Date.now() - t0);
    const errors = r.out.split("\n").filter((l) => l.startsWith("ERROR"));
    expect(errors).toEqual([
      expect.stringMatching(new RegExp(`^ERROR   ${ids.sameAz} \\(network.subnetIds\\[3\\]\\): is in ap-northeast-1a like ${ids.good1}: EFS allows one mount target per Availability Zone`)),
      expect.stringMatching(new RegExp(`^ERROR   ${ids.otherVpcSubnet} \\(network.subnetIds\\[4\\]\\): belongs to ${ids.otherVpc}, not to network.vpcId ${ids.vpc}`)),
      expect.stringMatching(new RegExp(`^ERROR   ${missing} \\(network.subnetIds\\[5\\]\\): does not exist in ap-northeast-1`)),
      expect.stringMatching(new RegExp(`^ERROR   ${ids.noRoute} \\(network.subnetIds\\[1\\], ap-northeast-1c\\): has no route to the internet: add a 0.0.0.0/0 route to a NAT gateway in route table rtb-`)),
      expect.stringMatching(new RegExp(`^ERROR   ${ids.public} \\(network.subnetIds\\[2\\], ap-northeast-1d\\): is a public subnet \\(0.0.0.0/0 goes to igw-`)),
      expect.stringMatching(/^ERROR {3}SSM parameter \/bad\/ssh-key \(backlog.sshKeyParameter\): is a String, so the private key is stored unencrypted: .*--type SecureString --name \/bad\/ssh-key/),
      expect.stringMatching(/^ERROR {3}SSM parameter \/bad\/host-keys \(backlog.hostKeysParameter\): the line "other-space.git.backlog.com ssh-ed25519 .*" is for host other-space.git.backlog.com, not sandbox-space.git.backlog.com/),
      expect.stringMatching(/^ERROR {3}CodeCommit repository taken-repo \(repositories\[0\], SHOP\/web\): the name is taken by something outside this stack: .*codecommitRepository/),
    ]);
    expect(r.out).toMatch(/\n8 error\(s\)/);
    expect(r.code).toBe(1);
  }, 60_000);

  test("a VPC with DNS hostnames off (a new VPC's default) is named with the command that turns them on", () => {
    const config = sandboxConfig();
    config.network = { vpcId: ids.otherVpc, subnetIds: [ids.otherVpcSubnet, "subnet-0123456789abcdef3"] };
    const r = preflight(config);
    expect(r.out).toContain(`ok      ${ids.otherVpc} (network.vpcId): enableDnsSupport is on`);
    expect(r.out).toContain(
      `ERROR   ${ids.otherVpc} (network.vpcId): enableDnsHostnames is off: the builds mount EFS by its DNS name, which resolves only with DNS hostnames on (EFS User Guide, "Mounting on Amazon EC2 with a DNS name"): aws ec2 modify-vpc-attribute --vpc-id ${ids.otherVpc} --enable-dns-hostnames '{"Value":true}'`,
    );
    expect(r.code).toBe(1);
  }, 60_000);

  test("a VPC and parameters that do not exist are named, with the command that fixes them", () => {
    const config = sandboxConfig();
    config.network = { vpcId: "vpc-0123456789abcdef0", subnetIds: ["subnet-0123456789abcdef1", "subnet-0123456789abcdef2"] };
    config.backlog.sshKeyParameter = "/missing/ssh-key";
    config.backlog.hostKeysParameter = "/missing/host-keys";
    const r = preflight(config);
    const errors = r.out.split("\n").filter((l) => l.startsWith("ERROR"));
    expect(errors).toEqual([
      "ERROR   vpc-0123456789abcdef0 (network.vpcId): does not exist in ap-northeast-1: give the id of an existing VPC (aws ec2 describe-vpcs), or remove `network` to let the stack create one",
      expect.stringMatching(/^ERROR {3}subnet-0123456789abcdef1 \(network.subnetIds\[0\]\): does not exist/),
      expect.stringMatching(/^ERROR {3}subnet-0123456789abcdef2 \(network.subnetIds\[1\]\): does not exist/),
      "ERROR   SSM parameter /missing/ssh-key (backlog.sshKeyParameter): does not exist in ap-northeast-1: store the Backlog user's SSH private key: aws ssm put-parameter --type SecureString --name /missing/ssh-key --value file://id_ed25519",
      "ERROR   SSM parameter /missing/host-keys (backlog.hostKeysParameter): does not exist in ap-northeast-1: ssh-keyscan sandbox-space.git.backlog.com 2>/dev/null | cut -d' ' -f2- > host-keys.txt, check the keys out of band, then: aws ssm put-parameter --type String --name /missing/host-keys --value file://host-keys.txt",
    ]);
    expect(r.code).toBe(1);
  }, 60_000);
});

test("sandbox:down destroys the stack, stops exactly the emulator it started and removes its directory", () => {
  const t0 = Date.now();
  const down = npm("sandbox:down");
  timings.record("npm run sandbox:down", Date.now() - t0);
  expect(down.out).toContain("main stack: terraform destroy");
  expect(down.code).toBe(0);
  expect(() => process.kill(record.pid, 0)).toThrow();
  expect(existsSync(sandboxDir)).toBe(false);
}, 10 * 60_000);
