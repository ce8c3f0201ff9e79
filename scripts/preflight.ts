/**
 * `npm run preflight`: checks the AWS account a configuration targets before anything is applied,
 * so that mistakes surface here and not after 40 resources exist. Read-only: it never writes and
 * never reads the SSH key's value.
 *
 * Uses the AWS SDK's standard credential chain and endpoint settings (`AWS_PROFILE`,
 * `AWS_ACCESS_KEY_ID`, ..., `AWS_ENDPOINT_URL`), plus `AWS_CA_BUNDLE` as the AWS CLI reads it; when
 * `AWS_ENDPOINT_URL` is a running `npm run sandbox:up`, it trusts that sandbox's certificate and
 * uses its test credentials unless credentials are set (see scripts/sandbox-env.ts).
 *
 * The configuration is validated first (lib/validation.ts): a region where CodeBuild runs no ARM
 * builds (lib/regions.ts), like any other invalid field, is reported with the field, what is allowed
 * and what was given, before any AWS call (exit code 2).
 *
 * Checks, each finding naming the resource and what to do:
 * - `network` given: the VPC exists and has DNS support and DNS hostnames on (builds mount EFS by its
 *   DNS name); every subnet exists and is in that VPC; one subnet per
 *   Availability Zone (EFS: one mount target per AZ); each subnet's route table sends 0.0.0.0/0 to
 *   a NAT gateway that is available (or an equivalent: transit gateway, NAT instance, ...; not an
 *   internet gateway: CodeBuild gives builds no public address). Without `network`: the region has
 *   two Availability Zones for the VPC the stack creates.
 * - the SSH key parameter exists and is a SecureString (DescribeParameters: the value is not read);
 * - the host keys (parameter or `backlog.hostKeys`) parse as `TYPE BASE64`, the key blob naming TYPE;
 * - each CodeCommit repository name: free, or taken by this stack (tag) or by something else;
 * - each CodeBuild ARM concurrency quota the stack uses (GetServiceQuota, else the default) against
 *   what the design needs: one sync per repository at once, plus `NAME-verify` on ARM small
 *   ({@link armConcurrencyNeeds}); below it an error naming the quota, its code and the
 *   `aws service-quotas request-service-quota-increase` line. A Service Quotas endpoint that does
 *   not answer gives a warning.
 * It prints the `ssh-keyscan` line for the configured Backlog domain. Exit codes (the runner's,
 * scripts/ops/command.ts): 0 no error, 1 some error finding, 2 a usage or configuration error.
 *
 * Usage: MIRROR_CONFIG=config/production.json npm run preflight
 */
import * as path from "node:path";
import { CodeCommitClient, GetRepositoryCommand, ListTagsForResourceCommand } from "@aws-sdk/client-codecommit";
import {
  DescribeAvailabilityZonesCommand,
  DescribeNatGatewaysCommand,
  DescribeRouteTablesCommand,
  DescribeSubnetsCommand,
  DescribeVpcAttributeCommand,
  DescribeVpcsCommand,
  EC2Client,
  type RouteTable,
  type Subnet,
} from "@aws-sdk/client-ec2";
import { GetAWSDefaultServiceQuotaCommand, GetServiceQuotaCommand, ServiceQuotasClient } from "@aws-sdk/client-service-quotas";
import { DescribeParametersCommand, GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { BUILD_DEFAULTS } from "../lib/mirror-build";
import { HOST_KEY_TYPE_PATTERN } from "../lib/rules";
import { MIRROR_STACK_TAG_KEY, backlogGitHost, codecommitRepositoryName, repositoryKey } from "../lib/naming";
import { DEFAULT_CONFIG, loadStackConfig } from "../lib/stack-config";
import type { StackConfig } from "../lib/validation";
import { command, configFile, EXIT, main } from "./ops/command";
import { sdkClientConfig } from "./sandbox-env";

export type Level = "error" | "warning" | "ok";

export interface Finding {
  readonly level: Level;
  /** The resource or setting, e.g. `subnet-0abc (network.subnetIds[1])`. */
  readonly resource: string;
  /** What was found, and for errors and warnings what to do. */
  readonly message: string;
}

export interface Clients {
  readonly ec2: EC2Client;
  readonly ssm: SSMClient;
  readonly codecommit: CodeCommitClient;
  readonly quotas: ServiceQuotasClient;
}

/** The exact command that fetches the host keys for the configured Backlog space. */
export function keyscanLine(config: Pick<StackConfig, "backlog">): string {
  return `ssh-keyscan ${backlogGitHost(config.backlog)} 2>/dev/null | cut -d' ' -f2- > host-keys.txt`;
}

function errorName(e: unknown): string {
  return (e as { name?: string }).name ?? "Error";
}

function errorText(e: unknown): string {
  return `${errorName(e)}: ${(e as Error).message}`;
}

// --- network -------------------------------------------------------------------------------------

/** The route table that applies to a subnet: its explicit association, else the VPC's main table. */
function routeTableOf(subnetId: string, tables: readonly RouteTable[]): RouteTable | undefined {
  return (
    tables.find((t) => (t.Associations ?? []).some((a) => a.SubnetId === subnetId)) ??
    tables.find((t) => (t.Associations ?? []).some((a) => a.Main === true))
  );
}

/**
 * The VPC attributes EFS needs: CodeBuild mounts the file system by its DNS name
 * (`fileSystemLocations` location `FS.efs.REGION.amazonaws.com:/`, lib/mirror-build.ts), which the Amazon DNS server resolves only
 * in a VPC with DNS resolution and DNS hostnames enabled (EFS User Guide, "Mounting on Amazon EC2
 * with a DNS name", https://docs.aws.amazon.com/efs/latest/ug/mounting-fs-mount-cmd-dns-name.html;
 * "Mounting with an IP address": mounting by IP "works in environments where DNS is disabled, such
 * as VPCs with DNS hostnames disabled"; VPC User Guide, "DNS attributes for your VPC"). A new
 * non-default VPC has DNS hostnames off. Support is checked first: DNS hostnames can only be enabled
 * in a VPC with DNS support (same VPC page).
 */
export const VPC_DNS_ATTRIBUTES = [
  { attribute: "enableDnsSupport", flag: "--enable-dns-support", what: "DNS resolution" },
  { attribute: "enableDnsHostnames", flag: "--enable-dns-hostnames", what: "DNS hostnames" },
] as const;

export async function checkVpcDns(vpcId: string, c: Pick<Clients, "ec2">): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const { attribute, flag, what } of VPC_DNS_ATTRIBUTES) {
    const answer = await c.ec2.send(new DescribeVpcAttributeCommand({ VpcId: vpcId, Attribute: attribute }));
    const on = (attribute === "enableDnsSupport" ? answer.EnableDnsSupport : answer.EnableDnsHostnames)?.Value === true;
    findings.push(
      on
        ? { level: "ok", resource: `${vpcId} (network.vpcId)`, message: `${attribute} is on` }
        : {
            level: "error",
            resource: `${vpcId} (network.vpcId)`,
            message: `${attribute} is off: the builds mount EFS by its DNS name, which resolves only with ${what} on (EFS User Guide, "Mounting on Amazon EC2 with a DNS name"): aws ec2 modify-vpc-attribute --vpc-id ${vpcId} ${flag} '{"Value":true}'`,
          },
    );
  }
  return findings;
}

export async function checkNetwork(config: StackConfig, c: Clients): Promise<Finding[]> {
  const findings: Finding[] = [];
  if (config.network === undefined) {
    // The stack's own VPC puts its two private subnets in two Availability Zones (lib/vpc.ts).
    const zones = (await c.ec2.send(new DescribeAvailabilityZonesCommand({ Filters: [{ Name: "state", Values: ["available"] }] }))).AvailabilityZones ?? [];
    findings.push(
      zones.length >= 2
        ? { level: "ok", resource: `region ${config.region}`, message: `no \`network\`: the stack creates a VPC, 2 private subnets and a NAT gateway (${zones.length} Availability Zones available)` }
        : { level: "error", resource: `region ${config.region}`, message: `has ${zones.length} available Availability Zone(s); the stack's VPC needs 2: choose another region or give \`network\`` },
    );
    return findings;
  }
  const { vpcId, subnetIds } = config.network;
  const vpcs = (await c.ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: "vpc-id", Values: [vpcId] }] }))).Vpcs ?? [];
  if (vpcs.length === 0) {
    findings.push({ level: "error", resource: `${vpcId} (network.vpcId)`, message: `does not exist in ${config.region}: give the id of an existing VPC (aws ec2 describe-vpcs), or remove \`network\` to let the stack create one` });
  } else {
    findings.push({ level: "ok", resource: `${vpcId} (network.vpcId)`, message: "exists" });
    findings.push(...(await checkVpcDns(vpcId, c)));
  }

  const subnets = (await c.ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: "subnet-id", Values: [...subnetIds] }] }))).Subnets ?? [];
  const byId = new Map<string, Subnet>(subnets.map((s) => [s.SubnetId ?? "", s]));
  const zones = new Map<string, string>();
  const vpcTables = vpcs.length > 0 ? ((await c.ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: "vpc-id", Values: [vpcId] }] }))).RouteTables ?? []) : [];
  const natIds = new Set<string>();
  const routeFor = new Map<string, RouteTable | undefined>();
  for (const [i, id] of subnetIds.entries()) {
    const where = `${id} (network.subnetIds[${i}])`;
    const subnet = byId.get(id);
    if (subnet === undefined) {
      findings.push({ level: "error", resource: where, message: `does not exist in ${config.region}: list existing private subnets of ${vpcId} (aws ec2 describe-subnets --filters Name=vpc-id,Values=${vpcId})` });
      continue;
    }
    if (subnet.VpcId !== vpcId) {
      findings.push({ level: "error", resource: where, message: `belongs to ${subnet.VpcId}, not to network.vpcId ${vpcId}: list subnets of one VPC only` });
      continue;
    }
    const az = subnet.AvailabilityZone ?? "?";
    const other = zones.get(az);
    if (other !== undefined) {
      findings.push({ level: "error", resource: where, message: `is in ${az} like ${other}: EFS allows one mount target per Availability Zone, so list one subnet per AZ (drop one of them)` });
      continue;
    }
    zones.set(az, id);
    const table = routeTableOf(id, vpcTables);
    routeFor.set(id, table);
    const nat = table?.Routes?.find((r) => r.DestinationCidrBlock === "0.0.0.0/0")?.NatGatewayId;
    if (nat !== undefined) natIds.add(nat);
  }
  const nats = natIds.size > 0 ? ((await c.ec2.send(new DescribeNatGatewaysCommand({ NatGatewayIds: [...natIds] }))).NatGateways ?? []) : [];
  const natState = new Map(nats.map((n) => [n.NatGatewayId ?? "", n.State ?? "?"]));

  for (const [i, id] of subnetIds.entries()) {
    if (!routeFor.has(id)) continue;
    const where = `${id} (network.subnetIds[${i}], ${byId.get(id)?.AvailabilityZone})`;
    const table = routeFor.get(id);
    const route = table?.Routes?.find((r) => r.DestinationCidrBlock === "0.0.0.0/0");
    const tableName = table?.RouteTableId ?? "no route table";
    const fixNat = `add a 0.0.0.0/0 route to a NAT gateway in route table ${tableName} (the sync fetches from Backlog over SSH, port 22, and pushes over HTTPS, 443)`;
    if (route === undefined) {
      findings.push({ level: "error", resource: where, message: `has no route to the internet: ${fixNat}` });
    } else if (route.State === "blackhole") {
      findings.push({ level: "error", resource: where, message: `its 0.0.0.0/0 route in ${tableName} is a blackhole (its target is gone): ${fixNat}` });
    } else if (route.NatGatewayId !== undefined) {
      const state = natState.get(route.NatGatewayId) ?? "missing";
      findings.push(
        state === "available"
          ? { level: "ok", resource: where, message: `routes 0.0.0.0/0 to ${route.NatGatewayId} (available)` }
          : { level: "error", resource: where, message: `routes 0.0.0.0/0 to ${route.NatGatewayId}, which is ${state}: use an available NAT gateway` },
      );
    } else if (route.GatewayId?.startsWith("igw-") === true) {
      findings.push({
        level: "error",
        resource: where,
        message: `is a public subnet (0.0.0.0/0 goes to ${route.GatewayId}): CodeBuild gives builds in a VPC no public address, so list private subnets whose 0.0.0.0/0 goes to a NAT gateway`,
      });
    } else {
      const target = route.TransitGatewayId ?? route.NetworkInterfaceId ?? route.InstanceId ?? route.VpcPeeringConnectionId ?? route.CoreNetworkArn ?? route.GatewayId ?? "?";
      findings.push({ level: "warning", resource: where, message: `routes 0.0.0.0/0 to ${target}, not to a NAT gateway: make sure it reaches Backlog on 22 and AWS on 443` });
    }
  }
  if (zones.size > 0 && zones.size < 2) {
    findings.push({ level: "error", resource: "network.subnetIds", message: `cover ${zones.size} Availability Zone: list private subnets in at least 2 AZs` });
  }
  return findings;
}

// --- Parameter Store -------------------------------------------------------------------------------

async function describeParameter(c: Clients, name: string) {
  const out = await c.ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: "Name", Option: "Equals", Values: [name] }] }));
  return (out.Parameters ?? []).find((p) => p.Name === name);
}

/** Host-key types: the configuration's rule for pinned keys (lib/rules.ts), for the parameter's lines too. */
const KEY_TYPE_RE = new RegExp(HOST_KEY_TYPE_PATTERN);

/**
 * Problems of one host-key line, read as the build reads it (lib/buildspec/backlog-ssh.sh):
 * `TYPE BASE64 [comment]`, or `HOST TYPE BASE64` as ssh-keyscan prints it when HOST is the configured
 * Backlog host; the key blob must name TYPE. Undefined when the line is good.
 */
export function hostKeyProblem(line: string, host: string): string | undefined {
  const fields = line.trim().split(/\s+/);
  let type = fields[0];
  let b64 = fields[1] ?? "";
  if (!KEY_TYPE_RE.test(type)) {
    const hosts = fields[0];
    if (hosts.startsWith("@")) return `has a marker (${hosts}), which the build does not support`;
    if (hosts.startsWith("|")) return `has a hashed host name, which cannot be checked against ${host}: give it as "TYPE BASE64"`;
    [type, b64] = [fields[1] ?? "", fields[2] ?? ""];
    if (!KEY_TYPE_RE.test(type)) return `is not "TYPE BASE64" or "HOST TYPE BASE64"`;
    if (!hosts.split(",").some((h) => h === host || h === `[${host}]:22`)) {
      return `is for host ${hosts}, not ${host}: fetch the keys of ${host}`;
    }
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return `has no base64 key after ${type}`;
  const blob = Buffer.from(b64, "base64");
  const len = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
  const inner = len > 0 && len + 4 <= blob.length ? blob.subarray(4, 4 + len).toString("latin1") : "";
  if (inner !== type) return `is not a valid ${type} key (its blob names "${inner || "nothing"}")`;
  return undefined;
}

export async function checkParameters(config: StackConfig, c: Clients): Promise<Finding[]> {
  const findings: Finding[] = [];
  const b = config.backlog;
  const keyName = b.sshKeyParameter;
  const key = await describeParameter(c, keyName);
  const put = `aws ssm put-parameter --type SecureString --name ${keyName} --value file://id_ed25519`;
  if (key === undefined) {
    findings.push({ level: "error", resource: `SSM parameter ${keyName} (backlog.sshKeyParameter)`, message: `does not exist in ${config.region}: store the Backlog user's SSH private key: ${put}` });
  } else if (key.Type !== "SecureString") {
    findings.push({
      level: "error",
      resource: `SSM parameter ${keyName} (backlog.sshKeyParameter)`,
      message: `is a ${key.Type}, so the private key is stored unencrypted: delete it (aws ssm delete-parameter --name ${keyName}) and store it again as a SecureString: ${put}`,
    });
  } else {
    findings.push({ level: "ok", resource: `SSM parameter ${keyName} (backlog.sshKeyParameter)`, message: "exists and is a SecureString (value not read)" });
  }

  const check = (lines: string[], where: string): void => {
    const keys = lines.map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
    if (keys.length === 0) {
      findings.push({ level: "error", resource: where, message: `holds no host key: ${keyscanLine(config)}, check the keys out of band, then store them` });
      return;
    }
    const host = backlogGitHost(b);
    const bad = keys.map((l) => [l, hostKeyProblem(l, host)] as const).filter(([, p]) => p !== undefined);
    for (const [line, problem] of bad) findings.push({ level: "error", resource: where, message: `the line "${line.slice(0, 60)}..." ${problem}` });
    if (bad.length === 0) findings.push({ level: "ok", resource: where, message: `${keys.length} host key(s) for ${host}` });
  };
  if (b.hostKeysParameter !== undefined) {
    const where = `SSM parameter ${b.hostKeysParameter} (backlog.hostKeysParameter)`;
    const meta = await describeParameter(c, b.hostKeysParameter);
    if (meta === undefined) {
      findings.push({ level: "error", resource: where, message: `does not exist in ${config.region}: ${keyscanLine(config)}, check the keys out of band, then: aws ssm put-parameter --type String --name ${b.hostKeysParameter} --value file://host-keys.txt` });
    } else {
      // Host keys are public: reading this value is fine (the SSH key's value is never read).
      const value = (await c.ssm.send(new GetParameterCommand({ Name: b.hostKeysParameter, WithDecryption: true }))).Parameter?.Value ?? "";
      check(value.split("\n"), where);
    }
  } else if (b.hostKeys !== undefined) {
    check([...b.hostKeys], "backlog.hostKeys");
  } else {
    findings.push({ level: "warning", resource: "backlog.scanHostKey", message: `is true: every build trusts whatever key the host presents; pin the keys instead: ${keyscanLine(config)}` });
  }
  return findings;
}

// --- CodeCommit ----------------------------------------------------------------------------------

export async function checkRepositories(config: StackConfig, c: Clients): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const [i, repo] of config.repositories.entries()) {
    const name = codecommitRepositoryName(repo);
    const where = `CodeCommit repository ${name} (repositories[${i}], ${repositoryKey(repo)})`;
    let arn: string | undefined;
    try {
      arn = (await c.codecommit.send(new GetRepositoryCommand({ repositoryName: name }))).repositoryMetadata?.Arn;
    } catch (e) {
      if (errorName(e) !== "RepositoryDoesNotExistException") throw e;
      findings.push({ level: "ok", resource: where, message: "the name is free" });
      continue;
    }
    const tags = arn !== undefined ? ((await c.codecommit.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags ?? {}) : {};
    if (tags[MIRROR_STACK_TAG_KEY] === config.name) {
      findings.push({ level: "ok", resource: where, message: `exists and is this stack's (tag ${MIRROR_STACK_TAG_KEY}=${config.name}): fine when it is in this stack's state (a re-run after apply)` });
    } else {
      const owner = tags[MIRROR_STACK_TAG_KEY] !== undefined ? `stack "${tags[MIRROR_STACK_TAG_KEY]}"` : "something outside this stack";
      findings.push({
        level: "error",
        resource: where,
        message: `the name is taken by ${owner}: apply would fail with RepositoryNameExistsException. Set repositories[${i}].codecommitRepository to a free name, or adopt it with terraform import`,
      });
    }
  }
  return findings;
}

// --- CodeBuild quota -------------------------------------------------------------------------------

/**
 * The Service Quotas entries (service code `codebuild`) of CodeBuild's concurrency per ARM compute
 * type: the names as "Quotas for AWS CodeBuild" (CodeBuild User Guide) lists them, each with a
 * default of 1 in every supported Region, adjustable; the codes as Service Quotas lists them
 * (ListServiceQuotas / the console's "Quota code"). CodeBuild runs at most that many builds of one
 * platform and compute type at once and queues the rest ("Builds in AWS CodeBuild").
 */
export const ARM_CONCURRENCY_QUOTAS: Readonly<Record<string, { readonly code: string; readonly name: string }>> = {
  BUILD_GENERAL1_SMALL: { code: "L-5ED1D25B", name: "Concurrently running builds for ARM/Small environment" },
  BUILD_GENERAL1_MEDIUM: { code: "L-DF544FF3", name: "Concurrently running builds for ARM/Medium environment" },
  BUILD_GENERAL1_LARGE: { code: "L-596BEAB4", name: "Concurrently running builds for ARM/Large environment" },
};

/** What the design needs of one ARM concurrency quota, and why. */
export interface QuotaNeed {
  readonly computeType: string;
  readonly code: string;
  readonly name: string;
  readonly needed: number;
  readonly why: string;
}

/**
 * The ARM concurrency the design needs, per quota. Every repository's sync may run at once: the
 * safety net starts the sync of every repository that differs in one run (all of them on its first
 * run, or after a Backlog outage), and each push starts its repository's. Below that, syncs queue on
 * the quota; CodeBuild does not say in which order queued builds start, drops a queued build when its
 * queued timeout (`build.queuedTimeoutMinutes`) ends, and refuses StartBuild beyond five times the
 * quota in the queue ("Builds in AWS CodeBuild"). `NAME-verify` (ARM small, lib/safety-net.ts) runs
 * alongside them: it no longer waits for the syncs it starts, but for its own run (minutes at 200
 * repositories) it holds one slot of the ARM small quota.
 */
export function armConcurrencyNeeds(config: StackConfig): QuotaNeed[] {
  const computeType = config.build?.computeType ?? BUILD_DEFAULTS.computeType;
  const repos = config.repositories.length;
  const verify = config.resync?.enabled !== false;
  const needs = new Map<string, { needed: number; why: string[] }>();
  const add = (type: string, n: number, why: string): void => {
    const need = needs.get(type) ?? { needed: 0, why: [] };
    need.needed += n;
    need.why.push(why);
    needs.set(type, need);
  };
  add(computeType, repos, `${repos} sync(s) may run at once (one per repository: the safety net starts every repository that differs, each push its repository's)`);
  if (verify) add("BUILD_GENERAL1_SMALL", 1, `${config.name}-verify runs on ARM small alongside them`);
  return [...needs].map(([type, need]) => ({ computeType: type, ...ARM_CONCURRENCY_QUOTAS[type], needed: need.needed, why: need.why.join(", and ") }));
}

/** The applied value of a CodeBuild quota, else its default (GetServiceQuota answers only applied values). */
async function quotaValue(c: Clients, code: string): Promise<{ value?: number; source: string }> {
  try {
    const applied = await c.quotas.send(new GetServiceQuotaCommand({ ServiceCode: "codebuild", QuotaCode: code }));
    if (applied.Quota?.Value !== undefined) return { value: applied.Quota.Value, source: "applied" };
  } catch (e) {
    if (errorName(e) !== "NoSuchResourceException") throw e;
  }
  // "If the applied quota value is not available for a quota, the quota is not retrieved"
  // (Service Quotas API Reference, GetServiceQuota): then the default (GetAWSDefaultServiceQuota).
  try {
    const def = await c.quotas.send(new GetAWSDefaultServiceQuotaCommand({ ServiceCode: "codebuild", QuotaCode: code }));
    return { value: def.Quota?.Value, source: "default" };
  } catch (e) {
    if (errorName(e) !== "NoSuchResourceException") throw e;
    return { source: "none" };
  }
}

/** The command that asks for `needed` of quota `code`. */
export function quotaIncreaseLine(code: string, needed: number, region: string): string {
  return `aws service-quotas request-service-quota-increase --service-code codebuild --quota-code ${code} --desired-value ${needed} --region ${region}`;
}

/** Checks each ARM concurrency quota the configuration uses against {@link armConcurrencyNeeds}. */
export async function checkQuota(config: StackConfig, c: Clients): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const need of armConcurrencyNeeds(config)) {
    const where = `CodeBuild quota "${need.name}" (${need.code})`;
    let read;
    try {
      read = await quotaValue(c, need.code);
    } catch (e) {
      const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      const why = status !== undefined && status >= 500 ? `HTTP ${status} from Service Quotas` : errorText(e).split("\n")[0].slice(0, 160);
      findings.push({ level: "warning", resource: where, message: `could not be read (${why}): check it under Service Quotas > AWS CodeBuild; the design needs ${need.needed}: ${need.why}` });
      continue;
    }
    if (read.value === undefined) {
      findings.push({ level: "warning", resource: where, message: `not answered by Service Quotas in ${config.region}: check it in the console before apply; the design needs ${need.needed}: ${need.why}` });
      continue;
    }
    const limit = read.value;
    const value = `${limit}${read.source === "default" ? " (the default: no applied value)" : ""}`;
    // A project's own limit cannot exceed the account's (User Guide, "Builds in AWS CodeBuild").
    if (need.computeType === (config.build?.computeType ?? BUILD_DEFAULTS.computeType) && config.build?.concurrentBuildLimit !== undefined && config.build.concurrentBuildLimit > limit) {
      findings.push({ level: "error", resource: where, message: `is ${value}, below build.concurrentBuildLimit ${config.build.concurrentBuildLimit}: CodeBuild refuses a project limit above the account's; lower it or raise the quota: ${quotaIncreaseLine(need.code, config.build.concurrentBuildLimit, config.region)}` });
      continue;
    }
    if (limit < need.needed) {
      const queued = config.build?.queuedTimeoutMinutes ?? BUILD_DEFAULTS.queuedTimeoutMinutes;
      findings.push({
        level: "error",
        resource: where,
        message:
          `is ${value}; the design needs ${need.needed}: ${need.why}. Below it, builds queue on this quota in no predictable order, ` +
          `a queued sync is dropped after build.queuedTimeoutMinutes (${queued}) and StartBuild is refused beyond ${5 * limit} queued builds. ` +
          `Raise it: ${quotaIncreaseLine(need.code, need.needed, config.region)}`,
      });
      continue;
    }
    findings.push({ level: "ok", resource: where, message: `is ${value}, enough: the design needs ${need.needed} (${need.why})` });
  }
  return findings;
}

// --- the command -----------------------------------------------------------------------------------

export async function preflight(config: StackConfig, clients: Clients): Promise<Finding[]> {
  const findings: Finding[] = [];
  const guard = async (what: string, check: () => Promise<Finding[]>): Promise<void> => {
    try {
      findings.push(...(await check()));
    } catch (e) {
      findings.push({ level: "error", resource: what, message: `could not be checked: ${errorText(e).split("\n")[0].slice(0, 300)} (check the credentials, the region and the permissions to describe it)` });
    }
  };
  await guard("network", () => checkNetwork(config, clients));
  await guard("SSM parameters", () => checkParameters(config, clients));
  await guard("CodeCommit repositories", () => checkRepositories(config, clients));
  await guard("CodeBuild quota", () => checkQuota(config, clients));
  return findings;
}

export function makeClients(region: string, env: NodeJS.ProcessEnv = process.env): Clients & { sandbox: boolean } {
  const { sandbox, ...base } = sdkClientConfig(region, env);
  return {
    ec2: new EC2Client(base),
    ssm: new SSMClient(base),
    codecommit: new CodeCommitClient(base),
    // One attempt: an endpoint without Service Quotas answers 5xx, and retrying only waits.
    quotas: new ServiceQuotasClient({ ...base, maxAttempts: 1 }),
    sandbox: sandbox !== undefined,
  };
}

export function render(findings: readonly Finding[]): string {
  const label: Record<Level, string> = { error: "ERROR  ", warning: "WARNING", ok: "ok     " };
  return findings.map((f) => `${label[f.level]} ${f.resource}: ${f.message}`).join("\n");
}

const USAGE = `usage: [MIRROR_CONFIG=FILE] npm run preflight

Checks the AWS account the configuration (MIRROR_CONFIG, default ${DEFAULT_CONFIG}) targets before
anything is applied: the region, the VPC and its subnets (DNS, one per Availability Zone, a NAT
route), the SSH key and host keys in Parameter Store, free CodeCommit names and the CodeBuild ARM
concurrency quotas. Read-only; it never reads the SSH key's value. AWS is read with the SDK's
standard credentials, AWS_ENDPOINT_URL and AWS_CA_BUNDLE (a running sandbox:up is trusted).

exit codes: 0 no error (warnings allowed), 1 some error finding, 2 a usage or configuration error`;

export const preflightCommand = command({
  name: "preflight",
  usage: USAGE,
  options: {},
  run: async ({ env, output }) => {
    const file = configFile(env);
    const config = loadStackConfig(file);
    const started = Date.now();
    const clients = makeClients(config.region, env);
    const endpoint = env.AWS_ENDPOINT_URL;
    output.out(`preflight of ${path.relative(process.cwd(), file)} in ${config.region}${endpoint !== undefined ? ` at ${endpoint}` : ""}${clients.sandbox ? " (the running sandbox)" : ""}`);
    try {
      const findings = await preflight(config, clients);
      output.out(render(findings));
      const errors = findings.filter((f) => f.level === "error").length;
      const warnings = findings.filter((f) => f.level === "warning").length;
      output.out(`\nFetch and pin Backlog's host keys with (then check them out of band; Backlog publishes no fingerprints):\n  ${keyscanLine(config)}`);
      output.out(`\n${errors} error(s), ${warnings} warning(s) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return errors > 0 ? EXIT.finding : EXIT.ok;
    } finally {
      for (const client of [clients.ec2, clients.ssm, clients.codecommit, clients.quotas]) client.destroy();
    }
  },
});

if (require.main === module) main(preflightCommand);
