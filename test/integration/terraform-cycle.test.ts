/**
 * The synthesized stack applied for real: Terraform init / validate / plan / apply / re-plan /
 * destroy against moto's server (patched by tools/emulator/moto_launcher.py), with state and locking
 * in the S3 backend on the emulator. Then the resources are read back through the AWS SDK.
 *
 * Two cycles, each with its own emulator:
 * - the example configuration (1 repository, the operator's network, the default hardening: resource
 *   policy, 404 for unknown routes, stage throttling, hourly re-sync, alert topic, failure rule and
 *   5xx alarm), and
 * - a configuration with 6 repositories (two re-sync rules: 5 targets + 1) and every optional part on:
 *   the stack's own VPC with a NAT gateway, a WAFv2 web ACL on the stage, a customer-managed KMS key,
 *   e-mail subscriptions and a custom re-sync schedule; during its apply a second plan must be refused
 *   the state lock.
 * The emulator supports every resource of both (the launcher patches its gaps): nothing is excluded.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import {
  GetGatewayResponseCommand,
  GetIntegrationCommand,
  GetResourcesCommand,
  GetRestApiCommand,
  GetRestApisCommand,
  GetStageCommand,
  GetStagesCommand,
} from "@aws-sdk/client-api-gateway";
import { DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { DescribeLogGroupsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { BatchGetProjectsCommand } from "@aws-sdk/client-codebuild";
import { GetRepositoryCommand, ListTagsForResourceCommand } from "@aws-sdk/client-codecommit";
import {
  DescribeAddressesCommand,
  DescribeInternetGatewaysCommand,
  DescribeNatGatewaysCommand,
  DescribeRouteTablesCommand,
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcAttributeCommand,
  DescribeVpcsCommand,
} from "@aws-sdk/client-ec2";
import { DescribeBackupPolicyCommand, DescribeFileSystemsCommand, DescribeMountTargetsCommand, DescribeMountTargetSecurityGroupsCommand } from "@aws-sdk/client-efs";
import { DescribeRuleCommand, ListRulesCommand, ListTargetsByRuleCommand } from "@aws-sdk/client-eventbridge";
import { GetRoleCommand, GetRolePolicyCommand, ListRolePoliciesCommand, ListRolesCommand } from "@aws-sdk/client-iam";
import { DescribeKeyCommand, GetKeyPolicyCommand, GetKeyRotationStatusCommand, ListAliasesCommand } from "@aws-sdk/client-kms";
import {
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketPolicyCommand,
  GetObjectCommand,
  GetPublicAccessBlockCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
} from "@aws-sdk/client-s3";
import { GetTopicAttributesCommand, ListSubscriptionsByTopicCommand, ListTopicsCommand } from "@aws-sdk/client-sns";
import { GetWebACLCommand, GetWebACLForResourceCommand, ListWebACLsCommand } from "@aws-sdk/client-wafv2";
import { parse as parseYaml } from "yaml";
import { BUILD_EVENT_INPUT } from "../../lib/alert-states";
import { FAILED_BUILD_STATES } from "../../lib/alerts";
import { refSelectionOf } from "../../lib/mirror-inputs";
import { BACKLOG_WEBHOOK_SOURCE_IPS } from "../../lib/backlog-ips";
import { BUILD_SCRIPT_FILES, buildScriptPath, buildScriptsFolder } from "../../lib/build-scripts";
import { START_BUILD_ACTIONS } from "../../lib/iam";
import { BUILD_DEFAULTS, BUILD_IMAGE } from "../../lib/mirror-build";
import {
  EFS_LOCATION_IDENTIFIER,
  EFS_MOUNT_POINT,
  MIRROR_STACK_TAG_KEY,
  STAGE_NAME,
  alertsEventsRoleName,
  alertsStateMachineName,
  buildLogGroupName,
  buildProjectPrefix,
  buildProjectName,
  codecommitRepositoryName,
  repositoryKey,
} from "../../lib/naming";
import { DEFAULT_OUT_OF_SYNC_ALARM_HOURS, DEFAULT_RESYNC_SCHEDULE } from "../../lib/safety-net";
import type { StackConfig } from "../../lib/validation";
import { MIRROR_VPC_CIDR, PRIVATE_SUBNET_CIDRS, PUBLIC_SUBNET_CIDR } from "../../lib/vpc";
import { START_BUILD_REQUEST_PARAMETERS, UNKNOWN_ROUTE_RESPONSE, WEBHOOK_CONTENT_TYPE } from "../../lib/webhook-api";
import { startBuildRequestTemplate } from "../../lib/webhook-routing";
import { DEFAULT_THROTTLE } from "../../lib/webhook-protection";
import { EMULATOR_ENV, type Emulator, startEmulator } from "../../tools/emulator/moto";
import {
  type Clients,
  type Inventory,
  type TestNetwork,
  REGION,
  added,
  createNetwork,
  createParameters,
  createStateBucket,
  destroyClients,
  emulatorClients,
  inventory,
} from "../../tools/terraform/aws";
import { PROVIDER_OVERRIDE_FILE, endpointServices, pointAtEmulator } from "../../tools/terraform/emulator-target";
import { type Synthesized, resourceCount, resourceInstances, synthesizeStack } from "../../tools/terraform/synth";
import { Terraform, terraformEnv } from "../../tools/terraform/terraform";
import { Timings } from "./support/timings";
import { providerMirror, requireMoto, requireTerraform, writeCliConfig } from "../../tools/terraform/tools";

const ROOT = path.resolve(__dirname, "..", "..");
const EXAMPLE_CONFIG = path.join(ROOT, "config", "example.json");

// Jest timeouts: the apply waits ~55 s on the provider's S3 lifecycle settling (as on AWS).
const STEP_TIMEOUT = 60_000;
const APPLY_TIMEOUT = 240_000;
const DESTROY_TIMEOUT = 180_000;

const LOOPBACK = /127\.0\.0\.1|localhost|\[::1\]|0\.0\.0\.0:\d/;

/** The emulator's account (moto's default). */
const ACCOUNT = "123456789012";

function readExample(): StackConfig {
  return JSON.parse(readFileSync(EXAMPLE_CONFIG, "utf8")) as StackConfig;
}

/** The example configuration, unchanged. */
const oneRepository = (): StackConfig => readExample();

/**
 * The example with six repositories in two Backlog projects (one CodeCommit name with a dot; more
 * than the 5 targets of one re-sync rule) and every optional part on: no `network` (the stack
 * creates its VPC, subnets, internet and NAT gateways), a WAF rate limit, a customer-managed key,
 * e-mail alerts and a custom re-sync schedule.
 */
const everyOptionalPart = (): StackConfig => {
  const { network: _operatorNetwork, ...example } = readExample();
  return {
    ...example,
    repositories: [
      { projectKey: "DEMO", repository: "web-app", codecommitRepository: "demo-web-app" },
      { projectKey: "DEMO", repository: "api" },
      { projectKey: "DEMO", repository: "docs" },
      { projectKey: "INFRA", repository: "tools", codecommitRepository: "infra.tools" },
      { projectKey: "INFRA", repository: "terraform" },
      { projectKey: "INFRA", repository: "ansible" },
    ],
    webhook: { wafRateLimitPer5Minutes: 300 },
    encryption: { customerManagedKey: true },
    alerts: { emails: ["mirror-ops@example.com", "backlog-admin@example.com"] },
    resync: { schedule: "cron(17 */6 * * ? *)" },
    state: { ...example.state, key: "backlog-mirror-optional/terraform.tfstate" },
  };
};

/**
 * Past the sizes where the stack used to break on AWS's default quotas (issue 9): 60 repositories
 * in 40 Backlog projects (20 with two repositories, 20 with one), every name at the length
 * validation accepts (project keys of 25 characters, repository names of 100, a stack name of 24).
 * Until the redesign, 48 repositories overflowed the build role's inline policies (10,240
 * characters), 60 the failure rule's event pattern (2,048) and two API resources per repository
 * the REST API's 300 resources from 150 repositories; the emulator now refuses each of these as
 * AWS does (tools/emulator/moto_launcher.py).
 */
const SCALE_PROJECTS = 40;
const SCALE_REPOSITORIES = 60;
const atScale = (): StackConfig => {
  const example = readExample();
  const repositories: StackConfig["repositories"] = [];
  for (let p = 0; p < SCALE_PROJECTS; p++) {
    const projectKey = `SCALEPROJECTWITHLONGKEY${String(p).padStart(2, "0")}`;
    for (let r = 0; r < (p < SCALE_REPOSITORIES - SCALE_PROJECTS ? 2 : 1); r++) {
      const repository = `p${String(p).padStart(2, "0")}-r${r}-${"a-repository-name-as-long-as-backlog-and-codecommit-accept-".repeat(2)}`.slice(0, 100);
      repositories.push({ projectKey, repository });
    }
  }
  return {
    ...example,
    name: "backlog-scale-cycle-test",
    repositories,
    state: { ...example.state, key: "backlog-mirror-scale/terraform.tfstate" },
  };
};

interface CycleOptions {
  /** Run a second `plan -lock-timeout=0s` while the apply holds the state lock. */
  readonly lockProbe: boolean;
  /** Terraform's `-parallelism` for plan, apply and destroy (Terraform's default: 10). */
  readonly parallelism?: number;
  /** Multiplies the Jest timeouts of the Terraform steps (a large stack takes longer). */
  readonly timeoutFactor?: number;
  /**
   * Availability zones (suffixes) of the operator's subnets the test creates, one subnet each, when
   * the configuration names a network. Default: two subnets in two zones.
   */
  readonly operatorSubnetZones?: readonly string[];
}

function describeCycle(title: string, makeConfig: () => StackConfig, options: CycleOptions): void {
  describe(title, () => {
    // What the configuration turns on decides which read-back checks are registered.
    const planned = makeConfig();
    const wafLimit = planned.webhook?.wafRateLimitPer5Minutes;
    const customerKey = planned.encryption?.customerManagedKey === true;
    const ownVpc = planned.network === undefined;
    const timings = new Timings(title);
    const parallelism = options.parallelism === undefined ? [] : [`-parallelism=${options.parallelism}`];
    const factor = options.timeoutFactor ?? 1;
    let emulator: Emulator | undefined;
    let clients: Clients;
    let scratch: string;
    let tf: Terraform;
    let synth: Synthesized;
    let backendFile: string;
    let baseline: Inventory;
    /** The operator's network created in the emulator (when the configuration names one). */
    let operatorNetwork: TestNetwork | undefined;
    /** Resource blocks in the stack (what the state lists). */
    let expectedResources = 0;
    /** Resource instances (what plan and apply count): one EFS mount target per availability zone. */
    let expectedInstances = 0;
    let brokenAt: string | undefined;
    let readBackMs = 0;

    /** The network the builds and mount targets must be in: the operator's, or the stack's own VPC. */
    const networkInUse = async (): Promise<TestNetwork> => {
      if (operatorNetwork !== undefined) return operatorNetwork;
      const created = await createdVpc(clients, synth.config.name);
      return { vpcId: created.vpcId, subnetIds: created.privateSubnetIds };
    };

    /** A step of the Terraform cycle: later steps do not run (and fail) once one failed. */
    const step = (name: string, fn: () => Promise<void>, timeout = STEP_TIMEOUT * factor): void => {
      test(
        name,
        async () => {
          if (brokenAt !== undefined) throw new Error(`not run: an earlier step failed ("${brokenAt}")`);
          try {
            await fn();
          } catch (e) {
            brokenAt = name;
            throw e;
          }
        },
        timeout,
      );
    };
    /** A read-back check: a failure does not stop the cycle (destroy still runs). */
    const check = (name: string, fn: () => Promise<void>): void => {
      test(
        name,
        async () => {
          if (brokenAt !== undefined) throw new Error(`not run: an earlier step failed ("${brokenAt}")`);
          const t0 = Date.now();
          try {
            await fn();
          } finally {
            readBackMs += Date.now() - t0;
          }
        },
        STEP_TIMEOUT * factor,
      );
    };

    beforeAll(async () => {
      // A missing tool fails here with an install hint, never a skip.
      requireTerraform();
      requireMoto();
      timings.start();
      scratch = mkdtempSync(path.join(tmpdir(), "mirror-it-"));
      // HTTPS, as AWS: the stack's bucket denies requests without TLS (aws:SecureTransport).
      emulator = await timings.time("start emulator", () => startEmulator(undefined, { tls: true }));
      clients = emulatorClients(emulator.endpoint, emulator.caBundle);
    }, STEP_TIMEOUT);

    afterAll(async () => {
      tf?.killAll();
      if (clients !== undefined) destroyClients(clients);
      await emulator?.stop();
      timings.report();
      if (scratch !== undefined && process.env.KEEP_INTEGRATION_DIRS === undefined) rmSync(scratch, { recursive: true, force: true });
    }, STEP_TIMEOUT);

    step("synthesizes the production stack for an account prepared in the emulator, with no emulator address in it", async () => {
      const config = makeConfig();
      // The example's network ids are placeholders: the test creates that network in the emulator.
      if (config.network !== undefined) operatorNetwork = await createNetwork(clients.ec2, options.operatorSubnetZones);
      const { backlog } = config;
      await createParameters(clients.ssm, [backlog.sshKeyParameter, ...(backlog.hostKeysParameter ? [backlog.hostKeysParameter] : [])]);
      await createStateBucket(clients.s3, config.state.bucket, config.state.region);
      baseline = await inventory(clients);

      const configFile = path.join(scratch, "config.json");
      writeFileSync(configFile, JSON.stringify(operatorNetwork === undefined ? config : { ...config, network: operatorNetwork }, null, 2));
      synth = await timings.time("synthesize", async () => synthesizeStack(configFile, path.join(scratch, "cdktf.out")));
      expectedResources = resourceCount(synth.json);
      // The stack's own VPC has one private subnet per zone; the operator's subnets may share zones.
      const zones = operatorNetwork === undefined ? PRIVATE_SUBNET_CIDRS.length : new Set(options.operatorSubnetZones ?? ["a", "c"]).size;
      expectedInstances = resourceInstances(synth.json, (type) => (type === "aws_efs_mount_target" ? zones : undefined));
      timings.note("resources in the stack", expectedResources);
      timings.note("resource instances", expectedInstances);

      const text = readFileSync(path.join(synth.stackDir, "cdk.tf.json"), "utf8");
      expect(text).not.toMatch(LOOPBACK);
      expect(Object.keys(synth.json.terraform.backend.s3).sort()).toEqual(["bucket", "encrypt", "key", "region", "use_lockfile"]);
      expect(synth.json.terraform.backend.s3).toMatchObject({ bucket: config.state.bucket, key: config.state.key, use_lockfile: true });
    });

    step("points a copy of the stack directory at the emulator with only a provider override and a backend config file", async () => {
      if (emulator === undefined) throw new Error("no emulator");
      const workDir = path.join(scratch, "work");
      cpSync(synth.stackDir, workDir, { recursive: true });
      const services = endpointServices(synth.json);
      backendFile = pointAtEmulator(workDir, scratch, emulator.endpoint, services, emulator.caBundle);
      const cliConfig = writeCliConfig(providerMirror(), scratch);
      tf = new Terraform(workDir, terraformEnv(cliConfig, {}));
      timings.note("emulated services", services);

      expect(readFileSync(path.join(workDir, "cdk.tf.json"), "utf8")).toBe(readFileSync(path.join(synth.stackDir, "cdk.tf.json"), "utf8"));
      const override = JSON.parse(readFileSync(path.join(workDir, PROVIDER_OVERRIDE_FILE), "utf8"));
      expect(Object.keys(override)).toEqual(["provider"]);
      expect(Object.keys(override.provider)).toEqual(["aws"]);
      expect(Object.keys(override.provider.aws.endpoints[0]).sort()).toEqual(services);
      expect(services).toEqual(
        expect.arrayContaining(["apigateway", "cloudwatch", "codebuild", "codecommit", "ec2", "efs", "events", "iam", "s3", "sns", "sts"]),
      );
      if (wafLimit !== undefined) expect(services).toContain("wafv2");
      if (customerKey) expect(services).toContain("kms");
    });

    step("terraform init configures the S3 backend in the emulated state bucket", async () => {
      const result = await timings.time("init", () => tf.run(["init", "-input=false", "-no-color", `-backend-config=${backendFile}`]));
      expect(result.stdout).toMatch(/Successfully configured the backend "s3"/);
      expect(result.stdout).toMatch(/Terraform has been successfully initialized/);
    });

    step("terraform validate accepts the configuration", async () => {
      const result = await timings.time("validate", () => tf.run(["validate", "-no-color"]));
      expect(result.stdout).toMatch(/The configuration is valid/);
    });

    step("terraform plan adds every resource of the stack and nothing else", async () => {
      await timings.time("plan", () => tf.run(["plan", "-input=false", "-no-color", "-lock-timeout=60s", ...parallelism, "-out=tfplan"]));
      const shown = await tf.run(["show", "-json", "tfplan"]);
      const changes = (JSON.parse(shown.stdout) as { resource_changes: Array<{ mode: string; change: { actions: string[] } }> }).resource_changes.filter(
        (c) => c.mode === "managed",
      );
      expect(changes.filter((c) => c.change.actions.join() === "create")).toHaveLength(expectedInstances);
      expect(changes.filter((c) => c.change.actions.join() !== "create")).toEqual([]);
    });

    const applyTitle = options.lockProbe
      ? "terraform apply creates every resource, and a second plan -lock-timeout=0s started meanwhile is refused the state lock"
      : "terraform apply creates every resource";
    step(
      applyTitle,
      async () => {
        const t0 = Date.now();
        const apply = tf.start(["apply", "-input=false", "-no-color", "-lock-timeout=60s", ...parallelism, "tfplan"]);
        if (options.lockProbe) {
          const lockKey = `${synth.config.state.key}.tflock`;
          await waitForObject(clients, synth.config.state.bucket, lockKey, 60_000);
          const probe = await timings.time("concurrent plan (refused)", () =>
            tf.run(["plan", "-input=false", "-no-color", "-lock-timeout=0s"], [1]),
          );
          expect(probe.stderr).toMatch(/Error acquiring the state lock/);
          expect(probe.stderr).toMatch(/PreconditionFailed|412|already exists/i);
          expect(apply.child.exitCode).toBeNull(); // the apply still held the lock when the plan was refused
        }
        const result = await apply.done;
        timings.record("apply", Date.now() - t0);
        if (result.code !== 0) throw new Error(`terraform apply exited ${result.code}:\n${result.stderr.slice(-4000)}`);
        expect(result.stdout).toContain(`Apply complete! Resources: ${expectedInstances} added, 0 changed, 0 destroyed.`);
        timings.note("resources created", expectedInstances);
      },
      APPLY_TIMEOUT * factor,
    );

    step("terraform plan -detailed-exitcode right after apply exits 0 (no perpetual diff)", async () => {
      const result = await timings.time("re-plan", () =>
        tf.run(["plan", "-input=false", "-no-color", "-lock-timeout=60s", ...parallelism, "-detailed-exitcode"], [0, 2]),
      );
      if (result.code === 2) throw new Error(`the plan after apply is not empty:\n${result.stdout.slice(-6000)}`);
      expect(result.stdout).toMatch(/No changes\./);
    });

    check("what was deployed stays within the AWS quotas the emulator enforces: inline policies per role, event patterns, REST API resources, resource policy", async () => {
      // The emulator already refused anything past these (tools/emulator/moto_launcher.py); the sizes
      // are read back here so that each cycle reports how close it came.
      const config = synth.config;
      const { Roles = [] } = await clients.iam.send(new ListRolesCommand({}));
      const roles = Roles.map((r) => r.RoleName!).filter((n) => n.startsWith(`${config.name}-`));
      expect(roles.length).toBeGreaterThan(0);
      let largestRole = 0;
      for (const roleName of roles) {
        const { PolicyNames = [] } = await clients.iam.send(new ListRolePoliciesCommand({ RoleName: roleName }));
        let size = 0;
        for (const policyName of PolicyNames) {
          const { PolicyDocument } = await clients.iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: policyName }));
          size += decodeURIComponent(PolicyDocument!).replace(/\s/g, "").length;
        }
        largestRole = Math.max(largestRole, size);
      }
      const { Rules = [] } = await clients.events.send(new ListRulesCommand({ NamePrefix: `${config.name}-` }));
      const longestPattern = Math.max(0, ...Rules.map((r) => (r.EventPattern ?? "").length));
      const apiId = await restApiId(clients, config.name);
      const { items = [] } = await clients.apigateway.send(new GetResourcesCommand({ restApiId: apiId, limit: 500 }));
      const { policy } = await clients.apigateway.send(new GetRestApiCommand({ restApiId: apiId }));
      const policyLength = policy === undefined ? 0 : (JSON.parse(`"${policy}"`) as string).length;
      const sizes = { largestRoleInlinePolicies: largestRole, longestEventPattern: longestPattern, apiResources: items.length, resourcePolicy: policyLength };
      timings.note("quota use (role inline policies / 10240, event pattern / 2048, API resources / 300, resource policy / 8192)", sizes);
      expect(largestRole).toBeLessThanOrEqual(10_240);
      expect(longestPattern).toBeLessThanOrEqual(2_048);
      expect(items.length).toBeLessThanOrEqual(300);
      expect(policyLength).toBeLessThanOrEqual(8_192);
    });

    check("the state object is in the emulated state bucket, holds every resource, and no lock object is left", async () => {
      const { bucket, key } = synth.config.state;
      await clients.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      const object = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const state = JSON.parse(await object.Body!.transformToString()) as { resources: Array<{ mode: string }> };
      expect(state.resources.filter((r) => r.mode === "managed")).toHaveLength(expectedResources);
      await expect(clients.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `${key}.tflock` }))).rejects.toThrow();
    });

    check("one route /{project}/{repo} calls StartBuild with the static headers and a template whose table names only the configured projects", async () => {
      const config = synth.config;
      const apis = await clients.apigateway.send(new GetRestApisCommand({}));
      const api = (apis.items ?? []).find((a) => a.name === `${config.name}-webhook`);
      expect(api?.endpointConfiguration?.types).toEqual(["REGIONAL"]);
      const resources = await clients.apigateway.send(new GetResourcesCommand({ restApiId: api!.id, limit: 500 }));
      const routePaths = (resources.items ?? []).map((r) => r.path).filter((p) => p !== "/").sort();
      expect(routePaths).toEqual(["/{project}", "/{project}/{repo}"]);
      const resource = resources.items!.find((r) => r.path === "/{project}/{repo}")!;
      const integration = await clients.apigateway.send(
        new GetIntegrationCommand({ restApiId: api!.id, resourceId: resource.id, httpMethod: "POST" }),
      );
      expect(integration).toMatchObject({
        type: "AWS",
        httpMethod: "POST",
        uri: `arn:aws:apigateway:${REGION}:codebuild:action/StartBuild`,
        passthroughBehavior: "NEVER",
        credentials: expect.stringMatching(new RegExp(`:role/${config.name}-webhook$`)),
      });
      expect(integration.requestParameters).toEqual(START_BUILD_REQUEST_PARAMETERS);
      expect(integration.requestTemplates).toEqual({
        [WEBHOOK_CONTENT_TYPE]: startBuildRequestTemplate(
          config.repositories.map((repo) => ({ key: repositoryKey(repo), projectName: buildProjectName(config.name, repo) })),
        ),
      });
      const stages = await clients.apigateway.send(new GetStagesCommand({ restApiId: api!.id }));
      expect((stages.item ?? []).map((s) => s.stageName)).toEqual(["prod"]);
      expect(stages.item![0].deploymentId).toBeTruthy();
    });

    check("the REST API's resource policy denies every caller outside Backlog's published addresses", async () => {
      const apis = await clients.apigateway.send(new GetRestApisCommand({}));
      const api = (apis.items ?? []).find((a) => a.name === `${synth.config.name}-webhook`);
      const { policy } = await clients.apigateway.send(new GetRestApiCommand({ restApiId: api!.id }));
      // API Gateway returns the policy JSON-escaped (quotes as \"), as the provider expects.
      const document = JSON.parse(JSON.parse(`"${policy}"`) as string) as { Statement: Array<Record<string, unknown>> };
      const deny = document.Statement.find((st) => st.Effect === "Deny");
      expect(deny).toMatchObject({ Principal: "*", Action: "execute-api:Invoke" });
      expect((deny!.Condition as { NotIpAddress: { "aws:SourceIp": string[] } }).NotIpAddress["aws:SourceIp"]).toEqual([
        ...BACKLOG_WEBHOOK_SOURCE_IPS,
      ]);
    });

    check("every build project runs the intended buildspec on the ARM image, in the VPC, with the EFS mirror mounted", async () => {
      const config = synth.config;
      const network = await networkInUse();
      const [fileSystem] = (await clients.efs.send(new DescribeFileSystemsCommand({}))).FileSystems ?? [];
      const buildGroup = await securityGroupId(clients, `${config.name}-codebuild`);
      const names = config.repositories.map((r) => buildProjectName(config.name, r));
      const { projects = [] } = await clients.codebuild.send(new BatchGetProjectsCommand({ names }));
      expect(projects.map((p) => p.name).sort()).toEqual([...names].sort());
      for (const project of projects) {
        expect(project.environment).toMatchObject({
          type: "ARM_CONTAINER",
          image: BUILD_IMAGE,
          computeType: config.build?.computeType ?? BUILD_DEFAULTS.computeType,
          privilegedMode: false,
          imagePullCredentialsType: "CODEBUILD",
        });
        expect(project.fileSystemLocations).toEqual([
          {
            type: "EFS",
            identifier: EFS_LOCATION_IDENTIFIER,
            location: `${fileSystem.FileSystemId}.efs.${REGION}.amazonaws.com:/`,
            mountPoint: EFS_MOUNT_POINT,
          },
        ]);
        expect(project.vpcConfig?.vpcId).toBe(network.vpcId);
        expect([...(project.vpcConfig?.subnets ?? [])].sort()).toEqual([...network.subnetIds].sort());
        expect(project.vpcConfig?.securityGroupIds).toEqual([buildGroup]);
        // The build scripts' folder in the stack's bucket (lib/build-scripts.ts).
        expect(project.source?.type).toBe("S3");
        expect(project.source?.location).toBe(`${synth.config.name}-build-cache-123456789012/${buildScriptsFolder()}`);
        expect(project.source?.buildspec).toBe(synth.buildspecs.get(project.name!));
        // One buildspec for every sync project; the repository's settings are its variables.
        const spec = parseYaml(project.source!.buildspec!) as { phases: { build: { commands: string[] } } };
        expect(spec.phases.build.commands[0]).not.toMatch(/CODECOMMIT_REPOSITORY=/);
        const repo = config.repositories.find((r) => buildProjectName(config.name, r) === project.name)!;
        const variables = Object.fromEntries((project.environment?.environmentVariables ?? []).map((v) => [v.name, [v.type, v.value]]));
        expect(variables).toMatchObject({
          CODECOMMIT_REPOSITORY: ["PLAINTEXT", codecommitRepositoryName(repo)],
          MIRROR_PATH: ["PLAINTEXT", `${repo.projectKey}/${repo.repository}.git`],
          BACKLOG_REMOTE: ["PLAINTEXT", `${config.backlog.spaceKey}@${config.backlog.spaceKey}.git.${config.backlog.domain}:/${repo.projectKey}/${repo.repository}.git`],
        });
        // Nothing of Terraform's template escapes reaches CodeBuild (the shell itself arrives as written
        // in S3: the bucket's check compares the uploaded scripts with the files).
        expect(project.source!.buildspec).not.toContain("$${");
        // No project limit unless configured (a StartBuild beyond a project limit is refused, not queued).
        expect(project.concurrentBuildLimit).toBe(config.build?.concurrentBuildLimit);
        expect(project.timeoutInMinutes).toBe(config.build?.timeoutMinutes ?? BUILD_DEFAULTS.timeoutMinutes);
        expect(project.queuedTimeoutInMinutes).toBe(config.build?.queuedTimeoutMinutes ?? BUILD_DEFAULTS.queuedTimeoutMinutes);
        expect(project.cache?.type ?? "NO_CACHE").toBe("NO_CACHE");
        expect(project.logsConfig?.cloudWatchLogs).toMatchObject({ status: "ENABLED", groupName: `/aws/codebuild/${project.name}` });
        expect(project.serviceRole).toMatch(new RegExp(`:role/${config.name}-codebuild$`));
      }
    });

    check("the EFS file system is encrypted, not backed up, and mounted once per availability zone of the subnets, behind the EFS security group only", async () => {
      const config = synth.config;
      const network = await networkInUse();
      const { FileSystems = [] } = await clients.efs.send(new DescribeFileSystemsCommand({}));
      expect(FileSystems).toHaveLength(1);
      expect(FileSystems[0]).toMatchObject({ Encrypted: true, PerformanceMode: "generalPurpose", ThroughputMode: "elastic" });
      const fsId = FileSystems[0].FileSystemId!;
      const backup = await clients.efs.send(new DescribeBackupPolicyCommand({ FileSystemId: fsId }));
      expect(backup.BackupPolicy?.Status).toBe("DISABLED");
      const { MountTargets = [] } = await clients.efs.send(new DescribeMountTargetsCommand({ FileSystemId: fsId }));
      // One mount target per availability zone (a second one in a zone is refused: MountTargetConflict),
      // each in one of the network's subnets of that zone.
      const { Subnets = [] } = await clients.ec2.send(new DescribeSubnetsCommand({ SubnetIds: network.subnetIds }));
      const zoneOf = new Map(Subnets.map((sn) => [sn.SubnetId!, sn.AvailabilityZone!]));
      expect(network.subnetIds.every((id) => zoneOf.has(id))).toBe(true);
      expect(MountTargets.map((m) => m.SubnetId).every((id) => network.subnetIds.includes(id!))).toBe(true);
      expect(MountTargets.map((m) => zoneOf.get(m.SubnetId!)).sort()).toEqual([...new Set(zoneOf.values())].sort());
      const efsGroup = await securityGroupId(clients, `${config.name}-efs`);
      for (const target of MountTargets) {
        const groups = await clients.efs.send(new DescribeMountTargetSecurityGroupsCommand({ MountTargetId: target.MountTargetId }));
        expect(groups.SecurityGroups).toEqual([efsGroup]);
      }
    });

    check("the security groups admit NFS from the builds only and let the builds out on SSH and HTTPS", async () => {
      const config = synth.config;
      const buildGroup = await securityGroupId(clients, `${config.name}-codebuild`);
      const efsGroup = await securityGroupId(clients, `${config.name}-efs`);
      const rules = async (groupId: string) =>
        ((await clients.ec2.send(new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: "group-id", Values: [groupId] }] }))).SecurityGroupRules ?? []).map(
          (r) => ({
            egress: r.IsEgress,
            protocol: r.IpProtocol,
            ports: `${r.FromPort}-${r.ToPort}`,
            peer: r.CidrIpv4 ?? r.ReferencedGroupInfo?.GroupId,
          }),
        );
      const byPorts = (a: { ports: string }, b: { ports: string }) => a.ports.localeCompare(b.ports);
      expect((await rules(buildGroup)).sort(byPorts)).toEqual(
        [
          { egress: true, protocol: "tcp", ports: "2049-2049", peer: efsGroup },
          { egress: true, protocol: "tcp", ports: "22-22", peer: "0.0.0.0/0" },
          { egress: true, protocol: "tcp", ports: "443-443", peer: "0.0.0.0/0" },
        ].sort(byPorts),
      );
      expect(await rules(efsGroup)).toEqual([{ egress: false, protocol: "tcp", ports: "2049-2049", peer: buildGroup }]);
    });

    check("every CodeCommit repository exists with its mirror description, the stack's default tags and its backlog-mirror:stack tag", async () => {
      const config = synth.config;
      for (const repo of config.repositories) {
        const name = codecommitRepositoryName(repo);
        const { repositoryMetadata } = await clients.codecommit.send(new GetRepositoryCommand({ repositoryName: name }));
        expect(repositoryMetadata?.repositoryDescription).toContain(
          `${config.backlog.spaceKey}@${config.backlog.spaceKey}.git.${config.backlog.domain}:/${repositoryKey(repo)}.git`,
        );
        const tags = await clients.codecommit.send(new ListTagsForResourceCommand({ resourceArn: repositoryMetadata!.Arn }));
        // The stack's default tags, plus the tag the build role's push grant is scoped by (lib/iam.ts).
        expect(tags.tags).toEqual({ ...config.tags, [MIRROR_STACK_TAG_KEY]: config.name });
      }
    });

    check("the cache bucket denies insecure transport, blocks public access, encrypts, and expires objects", async () => {
      const bucket = `${synth.config.name}-build-cache-123456789012`;
      const policy = JSON.parse((await clients.s3.send(new GetBucketPolicyCommand({ Bucket: bucket }))).Policy!);
      expect(policy.Statement).toEqual([
        {
          Sid: "DenyInsecureTransport",
          Effect: "Deny",
          Principal: "*",
          Action: "s3:*",
          Resource: expect.arrayContaining([`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`]),
          Condition: { Bool: { "aws:SecureTransport": "false" } },
        },
      ]);
      const block = await clients.s3.send(new GetPublicAccessBlockCommand({ Bucket: bucket }));
      expect(block.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      const encryption = await clients.s3.send(new GetBucketEncryptionCommand({ Bucket: bucket }));
      const byDefault = encryption.ServerSideEncryptionConfiguration?.Rules?.[0].ApplyServerSideEncryptionByDefault;
      if (customerKey) {
        // SSE-KMS with the mirror's key (read back in the key's own check).
        expect(byDefault).toEqual({ SSEAlgorithm: "aws:kms", KMSMasterKeyID: (await mirrorKey(clients, synth.config.name)).Arn });
      } else {
        expect(byDefault).toEqual({ SSEAlgorithm: "AES256" });
      }
      const ownership = await clients.s3.send(new GetBucketOwnershipControlsCommand({ Bucket: bucket }));
      expect(ownership.OwnershipControls?.Rules).toEqual([{ ObjectOwnership: "BucketOwnerEnforced" }]);
      const lifecycle = await clients.s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }));
      expect(lifecycle.Rules).toHaveLength(2);
      expect(lifecycle.Rules![0]).toMatchObject({
        ID: "expire-backups",
        Status: "Enabled",
        Expiration: { Days: 90 },
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
      });
      expect(lifecycle.Rules![1]).toMatchObject({ ID: "expire-replaced-tools", Status: "Enabled", NoncurrentVersionExpiration: { NoncurrentDays: 14 } });
      // The build scripts, the projects' source, as Terraform uploaded them (lib/build-scripts.ts).
      const listed = await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: buildScriptsFolder() }));
      expect((listed.Contents ?? []).map((o) => o.Key!.slice(buildScriptsFolder().length)).sort()).toEqual(Object.values(BUILD_SCRIPT_FILES).sort());
      const sync = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${buildScriptsFolder()}${BUILD_SCRIPT_FILES.MirrorSync}` }));
      expect(await sync.Body!.transformToString()).toBe(readFileSync(buildScriptPath(BUILD_SCRIPT_FILES.MirrorSync), "utf8"));
    });

    check("the build role can be assumed only by CodeBuild for this account and carries its two inline policies", async () => {
      const config = synth.config;
      const role = await clients.iam.send(new GetRoleCommand({ RoleName: `${config.name}-codebuild` }));
      const trust = JSON.parse(decodeURIComponent(role.Role!.AssumeRolePolicyDocument!));
      expect(trust.Statement).toEqual([
        expect.objectContaining({
          Effect: "Allow",
          Action: "sts:AssumeRole",
          Principal: { Service: "codebuild.amazonaws.com" },
          Condition: { StringEquals: { "aws:SourceAccount": ACCOUNT } },
        }),
      ]);
      const inline = await clients.iam.send(new ListRolePoliciesCommand({ RoleName: `${config.name}-codebuild` }));
      expect([...(inline.PolicyNames ?? [])].sort()).toEqual(["mirror-sync", "vpc-access"]);
      // With a customer-managed key the builds may use it (cache and artifacts), and only it.
      const sync = await rolePolicy(clients, `${config.name}-codebuild`, "mirror-sync");
      const useKey = sync.Statement.filter((st) => st.Sid === "UseMirrorKey").map((st) => ({ ...st, Action: [st.Action].flat().sort() }));
      if (customerKey) {
        expect(useKey).toEqual([
          { Sid: "UseMirrorKey", Effect: "Allow", Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: (await mirrorKey(clients, config.name)).Arn },
        ]);
      } else {
        expect(useKey).toEqual([]);
      }
    });

    check("the stage throttles every method at the configured rate and burst and records metrics; an unknown route answers 404", async () => {
      const config = synth.config;
      const apiId = await restApiId(clients, config.name);
      const stage = await clients.apigateway.send(new GetStageCommand({ restApiId: apiId, stageName: STAGE_NAME }));
      expect(stage.methodSettings).toEqual({
        "*/*": expect.objectContaining({
          throttlingRateLimit: config.webhook?.throttleRateLimit ?? DEFAULT_THROTTLE.rateLimit,
          throttlingBurstLimit: config.webhook?.throttleBurstLimit ?? DEFAULT_THROTTLE.burstLimit,
          metricsEnabled: true,
        }),
      });
      const unknown = await clients.apigateway.send(
        new GetGatewayResponseCommand({ restApiId: apiId, responseType: "MISSING_AUTHENTICATION_TOKEN" }),
      );
      expect(unknown.statusCode).toBe(UNKNOWN_ROUTE_RESPONSE.statusCode);
      expect(unknown.responseTemplates).toEqual({ "application/json": UNKNOWN_ROUTE_RESPONSE.template });
    });

    check(
      `the safety net: one rule starts NAME-verify on ${planned.resync?.schedule ?? DEFAULT_RESYNC_SCHEDULE} through its own role; the repository list is in the bucket; one heartbeat alarm on its successful runs`,
      async () => {
        const config = synth.config;
        const verify = `${config.name}-verify`;
        const verifyArn = `arn:aws:codebuild:${REGION}:${ACCOUNT}:project/${verify}`;
        const { Rules = [] } = await clients.events.send(new ListRulesCommand({ NamePrefix: `${config.name}-` }));
        expect(Rules.filter((r) => r.ScheduleExpression !== undefined).map((r) => r.Name)).toEqual([verify]);
        const rule = await clients.events.send(new DescribeRuleCommand({ Name: verify }));
        expect(rule).toMatchObject({ State: "ENABLED", ScheduleExpression: config.resync?.schedule ?? DEFAULT_RESYNC_SCHEDULE });
        const { Targets = [] } = await clients.events.send(new ListTargetsByRuleCommand({ Rule: verify }));
        expect(Targets.map((t) => [t.Arn, t.RoleArn])).toEqual([[verifyArn, `arn:aws:iam::${ACCOUNT}:role/${config.name}-verify-schedule`]]);
        const role = await clients.iam.send(new GetRoleCommand({ RoleName: `${config.name}-verify-schedule` }));
        expect(JSON.parse(decodeURIComponent(role.Role!.AssumeRolePolicyDocument!)).Statement).toEqual([
          expect.objectContaining({
            Effect: "Allow",
            Action: "sts:AssumeRole",
            Principal: { Service: "events.amazonaws.com" },
            Condition: { StringEquals: { "aws:SourceAccount": ACCOUNT } },
          }),
        ]);
        const policy = await rolePolicy(clients, `${config.name}-verify-schedule`, "start-verify");
        expect(policy.Statement).toHaveLength(1);
        expect(policy.Statement[0]).toMatchObject({ Effect: "Allow", Action: oneOrMany(START_BUILD_ACTIONS), Resource: verifyArn });
        const { projects = [] } = await clients.codebuild.send(new BatchGetProjectsCommand({ names: [verify] }));
        expect(projects.map((p) => [p.name, p.serviceRole, p.environment?.type])).toEqual([[verify, `arn:aws:iam::${ACCOUNT}:role/${verify}`, "ARM_CONTAINER"]]);
        const listUri = projects[0].environment?.environmentVariables?.find((v) => v.name === "REPOSITORY_LIST_URI")?.value ?? "";
        const [, bucket, key] = /^s3:\/\/([^/]+)\/(.+)$/.exec(listUri) ?? [];
        const object = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        expect((await object.Body!.transformToString()).split("\n").filter(Boolean)).toEqual(
          config.repositories.map((r) => {
            const refs = refSelectionOf(r, config.sync?.refs);
            return `${repositoryKey(r)} ${codecommitRepositoryName(r)} ${buildProjectName(config.name, r)} ${refs.include} ${refs.exclude}`;
          }),
        );
        const { MetricAlarms = [] } = await clients.cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: [`${config.name}-out-of-sync`] }));
        const hours = config.resync?.outOfSyncAlarmHours ?? DEFAULT_OUT_OF_SYNC_ALARM_HOURS;
        expect(MetricAlarms.map((a) => [a.Namespace, a.MetricName, a.EvaluationPeriods, a.DatapointsToAlarm, a.TreatMissingData, a.AlarmActions])).toEqual([
          ["AWS/CodeBuild", "SucceededBuilds", hours, hours, "breaching", [await alertTopicArn(clients, config.name)]],
        ]);
      },
    );

    check("every end of a sync of any project reaches the alert state machine through the sync rule, with its role and input", async () => {
      const config = synth.config;
      const rule = await clients.events.send(new DescribeRuleCommand({ Name: `${config.name}-sync-failed` }));
      expect(rule.State).toBe("ENABLED");
      expect(rule.ScheduleExpression).toBeUndefined();
      expect(JSON.parse(rule.EventPattern!)).toEqual({
        source: ["aws.codebuild"],
        "detail-type": ["CodeBuild Build State Change"],
        detail: {
          "build-status": ["SUCCEEDED", ...FAILED_BUILD_STATES],
          "project-name": [{ prefix: buildProjectPrefix(config.name) }],
        },
      });
      const { Targets = [] } = await clients.events.send(new ListTargetsByRuleCommand({ Rule: `${config.name}-sync-failed` }));
      expect(Targets).toHaveLength(1);
      expect(Targets[0].Arn).toBe(`arn:aws:states:${EMULATOR_ENV.AWS_REGION}:${ACCOUNT}:stateMachine:${alertsStateMachineName(config.name)}`);
      expect(Targets[0].RoleArn).toBe(`arn:aws:iam::${ACCOUNT}:role/${alertsEventsRoleName(config.name)}`);
      expect(Targets[0].InputTransformer?.InputPathsMap).toEqual(BUILD_EVENT_INPUT.inputPaths);
      expect(Targets[0].InputTransformer?.InputTemplate).toBe(BUILD_EVENT_INPUT.inputTemplate);
    });

    check(
      `the alert topic admits CloudWatch of this account only (the state machine publishes with its role) and has ${planned.alerts?.emails?.length ?? 0} e-mail subscription(s)`,
      async () => {
        const config = synth.config;
        const topicArn = await alertTopicArn(clients, config.name);
        const { Attributes = {} } = await clients.sns.send(new GetTopicAttributesCommand({ TopicArn: topicArn }));
        expect(Attributes.DisplayName).toBe("Backlog mirror alerts");
        expect(Attributes.KmsMasterKeyId).toBe(customerKey ? (await mirrorKey(clients, config.name)).Arn : undefined);
        const policy = JSON.parse(Attributes.Policy!) as { Statement: Array<Record<string, unknown>> };
        expect(policy.Statement).toHaveLength(1);
        expect(policy.Statement[0]).toMatchObject({
          Sid: "AlertPublishers",
          Effect: "Allow",
          Action: "sns:Publish",
          Resource: topicArn,
          Condition: { StringEquals: { "aws:SourceAccount": ACCOUNT } },
        });
        expect([(policy.Statement[0].Principal as { Service: string | string[] }).Service].flat().sort()).toEqual(["cloudwatch.amazonaws.com"]);
        const { Subscriptions = [] } = await clients.sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn }));
        expect(Subscriptions.map((sub) => `${sub.Protocol}:${sub.Endpoint}`).sort()).toEqual(
          (config.alerts?.emails ?? []).map((e) => `email:${e}`).sort(),
        );
      },
    );

    check("the 5xx alarm watches the webhook stage's 5XXError sum over 5 minutes and notifies the alert topic", async () => {
      const config = synth.config;
      const { MetricAlarms = [] } = await clients.cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: [`${config.name}-webhook-5xx`] }));
      expect(MetricAlarms).toHaveLength(1);
      const alarm = MetricAlarms[0];
      expect(alarm).toMatchObject({
        Namespace: "AWS/ApiGateway",
        MetricName: "5XXError",
        Statistic: "Sum",
        Period: 300,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: "GreaterThanOrEqualToThreshold",
        TreatMissingData: "notBreaching",
        ActionsEnabled: true,
        AlarmActions: [await alertTopicArn(clients, config.name)],
      });
      expect([...(alarm.Dimensions ?? [])].sort((a, b) => a.Name!.localeCompare(b.Name!))).toEqual([
        { Name: "ApiName", Value: `${config.name}-webhook` },
        { Name: "Stage", Value: STAGE_NAME },
      ]);
    });

    if (wafLimit !== undefined) {
      check(`the web ACL blocks a source address above ${wafLimit} requests in 5 minutes and guards the webhook stage`, async () => {
        const config = synth.config;
        const { WebACLs = [] } = await clients.wafv2.send(new ListWebACLsCommand({ Scope: "REGIONAL" }));
        expect(WebACLs.map((w) => w.Name)).toEqual([`${config.name}-webhook`]);
        const { WebACL } = await clients.wafv2.send(new GetWebACLCommand({ Scope: "REGIONAL", Name: WebACLs[0].Name, Id: WebACLs[0].Id }));
        expect(WebACL?.DefaultAction).toEqual({ Allow: {} });
        expect(WebACL?.VisibilityConfig).toEqual({
          CloudWatchMetricsEnabled: true,
          MetricName: `${config.name}-webhook`,
          SampledRequestsEnabled: true,
        });
        expect(WebACL?.Rules).toEqual([
          {
            Name: "rate-limit-per-source",
            Priority: 0,
            Action: { Block: {} },
            Statement: { RateBasedStatement: { Limit: wafLimit, AggregateKeyType: "IP" } },
            VisibilityConfig: { CloudWatchMetricsEnabled: true, MetricName: `${config.name}-webhook-rate-limit`, SampledRequestsEnabled: true },
          },
        ]);
        const stageArn = `arn:aws:apigateway:${REGION}::/restapis/${await restApiId(clients, config.name)}/stages/${STAGE_NAME}`;
        const guarded = await clients.wafv2.send(new GetWebACLForResourceCommand({ ResourceArn: stageArn }));
        expect(guarded.WebACL?.ARN).toBe(WebACLs[0].ARN);
      });
    }

    if (customerKey) {
      check("the customer-managed key rotates, is named by its alias, admits CloudWatch Logs for the build log groups only, and encrypts EFS, the build logs, the builds and the alert topic", async () => {
        const config = synth.config;
        const key = await mirrorKey(clients, config.name);
        expect(key).toMatchObject({
          Enabled: true,
          KeyState: "Enabled",
          KeyUsage: "ENCRYPT_DECRYPT",
          KeyManager: "CUSTOMER",
          Description: `Backlog mirror ${config.name}: logs, EFS, backups, alerts`,
        });
        expect((await clients.kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId }))).KeyRotationEnabled).toBe(true);
        const { Policy } = await clients.kms.send(new GetKeyPolicyCommand({ KeyId: key.KeyId, PolicyName: "default" }));
        const statements = (JSON.parse(Policy!) as { Statement: Array<Record<string, unknown>> }).Statement;
        expect(statements.map((st) => st.Sid)).toEqual(["AccountAdministers", "BuildLogGroups", "AlarmsPublishAlerts"]);
        expect(statements[0]).toMatchObject({ Effect: "Allow", Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: "kms:*" });
        expect(statements[1]).toMatchObject({
          Effect: "Allow",
          Principal: { Service: `logs.${REGION}.amazonaws.com` },
          Condition: {
            // The sync projects' groups and the safety net's (lib/encryption.ts keyLogGroupNames).
            ArnLike: {
              "kms:EncryptionContext:aws:logs:arn": [
                `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/codebuild/${config.name}-mirror-*`,
                `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/codebuild/${config.name}-verify`,
              ],
            },
          },
        });
        const topicArn = await alertTopicArn(clients, config.name);
        // The alarms, publishers of the encrypted alert topic, limited to it by SNS's encryption
        // context and by the source account (the state machine's role has its own grant).
        expect(statements[2]).toMatchObject({
          Effect: "Allow",
          Principal: { Service: "cloudwatch.amazonaws.com" },
          Condition: { StringEquals: { "aws:SourceAccount": ACCOUNT, "kms:EncryptionContext:aws:sns:topicArn": topicArn } },
        });

        const [fileSystem] = (await clients.efs.send(new DescribeFileSystemsCommand({}))).FileSystems ?? [];
        expect(fileSystem).toMatchObject({ Encrypted: true, KmsKeyId: key.Arn });
        const names = config.repositories.map((r) => buildProjectName(config.name, r));
        const { projects = [] } = await clients.codebuild.send(new BatchGetProjectsCommand({ names }));
        expect(projects.map((p) => p.encryptionKey)).toEqual(names.map(() => key.Arn));
        for (const name of names) {
          const { logGroups = [] } = await clients.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: buildLogGroupName(name) }));
          expect(logGroups.map((g) => [g.logGroupName, g.kmsKeyId])).toEqual([[buildLogGroupName(name), key.Arn]]);
        }
        // The cache bucket (SSE-KMS) and the alert topic are read back in their own checks.
      });
    } else {
      check("without a customer-managed key: no key or alias, and the build logs and builds use AWS-managed encryption", async () => {
        const config = synth.config;
        const { Aliases = [] } = await clients.kms.send(new ListAliasesCommand({}));
        expect(Aliases.map((a) => a.AliasName)).not.toContain(`alias/${config.name}-mirror`);
        for (const repo of config.repositories) {
          const name = buildLogGroupName(buildProjectName(config.name, repo));
          const { logGroups = [] } = await clients.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name }));
          expect(logGroups.map((g) => [g.logGroupName, g.kmsKeyId])).toEqual([[name, undefined]]);
        }
        const names = config.repositories.map((r) => buildProjectName(config.name, r));
        const { projects = [] } = await clients.codebuild.send(new BatchGetProjectsCommand({ names }));
        // CodeBuild reports its default, the AWS-managed S3 key, when a project names none.
        expect(projects.map((p) => p.encryptionKey)).toEqual(names.map(() => `arn:aws:kms:${REGION}:${ACCOUNT}:alias/aws/s3`));
      });
    }

    if (ownVpc) {
      check("the stack's own VPC routes the private subnets (builds, mount targets) through the NAT gateway's Elastic IP and the public subnet through the internet gateway", async () => {
        const config = synth.config;
        const vpc = await createdVpc(clients, config.name);
        const attribute = async (Attribute: "enableDnsHostnames" | "enableDnsSupport") =>
          clients.ec2.send(new DescribeVpcAttributeCommand({ VpcId: vpc.vpcId, Attribute }));
        expect((await attribute("enableDnsHostnames")).EnableDnsHostnames?.Value).toBe(true);
        expect((await attribute("enableDnsSupport")).EnableDnsSupport?.Value).toBe(true);
        const byVpc = [{ Name: "vpc-id", Values: [vpc.vpcId] }];
        const { Subnets = [] } = await clients.ec2.send(new DescribeSubnetsCommand({ Filters: byVpc }));
        const subnet = (id: string) => Subnets.find((sn) => sn.SubnetId === id)!;
        expect(Subnets).toHaveLength(3);
        expect(vpc.privateSubnetIds.map((id) => subnet(id).CidrBlock)).toEqual([...PRIVATE_SUBNET_CIDRS]);
        expect(new Set(vpc.privateSubnetIds.map((id) => subnet(id).AvailabilityZone)).size).toBe(2);
        expect(subnet(vpc.publicSubnetId).CidrBlock).toBe(PUBLIC_SUBNET_CIDR);
        expect(subnet(vpc.publicSubnetId).AvailabilityZone).toBe(subnet(vpc.privateSubnetIds[0]).AvailabilityZone);

        const { InternetGateways = [] } = await clients.ec2.send(
          new DescribeInternetGatewaysCommand({ Filters: [{ Name: "attachment.vpc-id", Values: [vpc.vpcId] }] }),
        );
        expect(InternetGateways).toHaveLength(1);
        const { Addresses = [] } = await clients.ec2.send(
          new DescribeAddressesCommand({ Filters: [{ Name: "tag:Name", Values: [`${config.name}-mirror-nat`] }] }),
        );
        expect(Addresses).toHaveLength(1);
        expect(Addresses[0].Domain).toBe("vpc");
        const { NatGateways = [] } = await clients.ec2.send(new DescribeNatGatewaysCommand({ Filter: byVpc }));
        expect(NatGateways.map((n) => n.State)).toEqual(["available"]);
        expect(NatGateways[0].SubnetId).toBe(vpc.publicSubnetId);
        expect(NatGateways[0].NatGatewayAddresses?.map((a) => [a.AllocationId, a.PublicIp])).toEqual([
          [Addresses[0].AllocationId, Addresses[0].PublicIp],
        ]);

        const { RouteTables = [] } = await clients.ec2.send(new DescribeRouteTablesCommand({ Filters: byVpc }));
        const table = (name: string) => RouteTables.find((t) => t.Tags?.some((tag) => tag.Key === "Name" && tag.Value === name))!;
        const defaultRoute = (t: (typeof RouteTables)[number]) => t.Routes?.find((r) => r.DestinationCidrBlock === "0.0.0.0/0");
        const associated = (t: (typeof RouteTables)[number]) =>
          (t.Associations ?? []).filter((a) => a.Main !== true).map((a) => a.SubnetId!).sort();
        const publicTable = table(`${config.name}-mirror-public`);
        expect(defaultRoute(publicTable)?.GatewayId).toBe(InternetGateways[0].InternetGatewayId);
        expect(associated(publicTable)).toEqual([vpc.publicSubnetId]);
        const privateTable = table(`${config.name}-mirror-private`);
        expect(defaultRoute(privateTable)?.NatGatewayId).toBe(NatGateways[0].NatGatewayId);
        expect(defaultRoute(privateTable)?.GatewayId).toBeUndefined();
        expect(associated(privateTable)).toEqual([...vpc.privateSubnetIds].sort());
        // The security groups are in this VPC too.
        for (const group of [`${config.name}-codebuild`, `${config.name}-efs`]) {
          const { SecurityGroups = [] } = await clients.ec2.send(
            new DescribeSecurityGroupsCommand({ Filters: [{ Name: "group-name", Values: [group] }] }),
          );
          expect(SecurityGroups.map((g) => g.VpcId)).toEqual([vpc.vpcId]);
        }
      });
    } else {
      check("with the operator's network and no WAF limit: the stack creates no VPC, NAT gateway or web ACL of its own", async () => {
        const config = synth.config;
        const { Vpcs = [] } = await clients.ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: "tag:Name", Values: [`${config.name}-mirror`] }] }));
        expect(Vpcs).toEqual([]);
        const { NatGateways = [] } = await clients.ec2.send(new DescribeNatGatewaysCommand({}));
        expect(NatGateways).toEqual([]);
        if (wafLimit === undefined) {
          const { WebACLs = [] } = await clients.wafv2.send(new ListWebACLsCommand({ Scope: "REGIONAL" }));
          expect(WebACLs).toEqual([]);
        }
      });
    }

    step(
      "terraform destroy leaves nothing behind but the state object (a customer-managed key is scheduled for deletion in 30 days)",
      async () => {
        timings.record("read back (SDK checks)", readBackMs);
        const { bucket, key } = synth.config.state;
        const state = JSON.parse(
          await (await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString(),
        ) as { resources: Array<{ type: string; mode: string; instances: Array<{ attributes: { id: string } }> }> };
        const keyIds = state.resources.filter((r) => r.mode === "managed" && r.type === "aws_kms_key").map((r) => r.instances[0].attributes.id);
        expect(keyIds).toHaveLength(customerKey ? 1 : 0);

        await timings.time("destroy", () =>
          tf.run(["destroy", "-auto-approve", "-input=false", "-no-color", "-lock-timeout=60s", ...parallelism]),
        );
        const left = added(baseline, await inventory(clients));
        expect(left).toEqual({ "S3 objects": [`${bucket}/${key}`] });
        for (const keyId of keyIds) {
          const { KeyMetadata } = await clients.kms.send(new DescribeKeyCommand({ KeyId: keyId }));
          expect(KeyMetadata?.KeyState).toBe("PendingDeletion");
          const days = (KeyMetadata!.DeletionDate!.getTime() - Date.now()) / 86_400_000;
          expect(days).toBeGreaterThan(29);
          expect(days).toBeLessThanOrEqual(30);
        }
      },
      DESTROY_TIMEOUT * factor,
    );
  });
}

/** A role's inline policy document. */
async function rolePolicy(clients: Clients, roleName: string, policyName: string): Promise<{ Statement: Array<Record<string, unknown>> }> {
  const { PolicyDocument } = await clients.iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: policyName }));
  return JSON.parse(decodeURIComponent(PolicyDocument!)) as { Statement: Array<Record<string, unknown>> };
}

/** An IAM action list as a policy document may hold it: a string for one action. */
function oneOrMany(actions: readonly string[]): string | string[] {
  return actions.length === 1 ? actions[0] : [...actions];
}

async function restApiId(clients: Clients, name: string): Promise<string> {
  const apis = await clients.apigateway.send(new GetRestApisCommand({ limit: 500 }));
  const matching = (apis.items ?? []).filter((a) => a.name === `${name}-webhook`);
  expect(matching).toHaveLength(1);
  return matching[0].id!;
}

async function alertTopicArn(clients: Clients, name: string): Promise<string> {
  const { Topics = [] } = await clients.sns.send(new ListTopicsCommand({}));
  const arn = `arn:aws:sns:${REGION}:${ACCOUNT}:${name}-mirror-alerts`;
  expect(Topics.map((t) => t.TopicArn)).toContain(arn);
  return arn;
}

/** The customer-managed key, found through its alias `alias/NAME-mirror`. */
async function mirrorKey(clients: Clients, name: string): Promise<{ KeyId: string; Arn: string } & Record<string, unknown>> {
  const { Aliases = [] } = await clients.kms.send(new ListAliasesCommand({}));
  const alias = Aliases.find((a) => a.AliasName === `alias/${name}-mirror`);
  expect(alias?.TargetKeyId).toBeDefined();
  const { KeyMetadata } = await clients.kms.send(new DescribeKeyCommand({ KeyId: alias!.TargetKeyId }));
  return KeyMetadata as { KeyId: string; Arn: string } & Record<string, unknown>;
}

/** The VPC the stack created (no `network` given), found by its Name tags. */
async function createdVpc(clients: Clients, name: string): Promise<{ vpcId: string; privateSubnetIds: string[]; publicSubnetId: string }> {
  const { Vpcs = [] } = await clients.ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: "tag:Name", Values: [`${name}-mirror`] }] }));
  expect(Vpcs).toHaveLength(1);
  expect(Vpcs[0].CidrBlock).toBe(MIRROR_VPC_CIDR);
  const vpcId = Vpcs[0].VpcId!;
  const subnetNamed = async (tag: string): Promise<string> => {
    const { Subnets = [] } = await clients.ec2.send(
      new DescribeSubnetsCommand({ Filters: [{ Name: "vpc-id", Values: [vpcId] }, { Name: "tag:Name", Values: [tag] }] }),
    );
    expect(Subnets).toHaveLength(1);
    return Subnets[0].SubnetId!;
  };
  return {
    vpcId,
    privateSubnetIds: [await subnetNamed(`${name}-mirror-private-1`), await subnetNamed(`${name}-mirror-private-2`)],
    publicSubnetId: await subnetNamed(`${name}-mirror-public`),
  };
}

async function securityGroupId(clients: Clients, name: string): Promise<string> {
  const { SecurityGroups = [] } = await clients.ec2.send(
    new DescribeSecurityGroupsCommand({ Filters: [{ Name: "group-name", Values: [name] }] }),
  );
  expect(SecurityGroups).toHaveLength(1);
  return SecurityGroups[0].GroupId!;
}

/** Polls until an object exists (the apply's lock object). */
async function waitForObject(clients: Clients, bucket: string, key: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await clients.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`s3://${bucket}/${key} did not appear within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describeCycle("the example configuration (1 repository)", oneRepository, { lockProbe: false });
describeCycle(
  "6 repositories with every optional part (own VPC and NAT gateway, WAF, customer-managed key, e-mail alerts, custom re-sync schedule)",
  everyOptionalPart,
  { lockProbe: true },
);
describeCycle(
  `at scale: ${SCALE_REPOSITORIES} repositories in ${SCALE_PROJECTS} projects, every name at its longest, 3 subnets in 2 availability zones (past the old quota break points)`,
  atScale,
  // Three subnets of the operator's network in two availability zones: one mount target per zone.
  { lockProbe: false, timeoutFactor: 4, operatorSubnetZones: ["a", "a", "c"] },
);
