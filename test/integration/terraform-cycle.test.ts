/**
 * The synthesized stack applied for real: Terraform init / validate / plan / apply / re-plan /
 * destroy against moto's server (patched by test/emulator/moto_launcher.py), with state and locking
 * in the S3 backend on the emulator. Then the resources are read back through the AWS SDK.
 *
 * Two cycles, each with its own emulator: the example configuration (1 repository) and a
 * configuration with 3 repositories, during whose apply a second plan must be refused the lock.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { GetIntegrationCommand, GetResourcesCommand, GetRestApiCommand, GetRestApisCommand, GetStagesCommand } from "@aws-sdk/client-api-gateway";
import { BatchGetProjectsCommand } from "@aws-sdk/client-codebuild";
import { GetRepositoryCommand, ListTagsForResourceCommand } from "@aws-sdk/client-codecommit";
import { DescribeSecurityGroupRulesCommand, DescribeSecurityGroupsCommand } from "@aws-sdk/client-ec2";
import { DescribeBackupPolicyCommand, DescribeFileSystemsCommand, DescribeMountTargetsCommand, DescribeMountTargetSecurityGroupsCommand } from "@aws-sdk/client-efs";
import { GetRoleCommand, ListRolePoliciesCommand } from "@aws-sdk/client-iam";
import {
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketPolicyCommand,
  GetObjectCommand,
  GetPublicAccessBlockCommand,
  HeadObjectCommand,
} from "@aws-sdk/client-s3";
import { parse as parseYaml } from "yaml";
import { BACKLOG_WEBHOOK_SOURCE_IPS } from "../../lib/backlog-ips";
import { BUILD_DEFAULTS, BUILD_IMAGE } from "../../lib/mirror-build";
import { EFS_LOCATION_IDENTIFIER, EFS_MOUNT_POINT, buildProjectName, codecommitRepositoryName, repositoryKey } from "../../lib/naming";
import type { StackConfig } from "../../lib/validation";
import { START_BUILD_REQUEST_PARAMETERS, WEBHOOK_CONTENT_TYPE, startBuildTemplate } from "../../lib/webhook-api";
import { type Emulator, startEmulator } from "../emulator/moto";
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
} from "./support/aws";
import { PROVIDER_OVERRIDE_FILE, endpointServices, pointAtEmulator } from "./support/emulator-target";
import { type Synthesized, resourceCount, synthesizeStack } from "./support/synth";
import { Terraform, terraformEnv } from "./support/terraform";
import { Timings } from "./support/timings";
import { providerMirror, requireMoto, requireTerraform, writeCliConfig } from "./support/tools";

const ROOT = path.resolve(__dirname, "..", "..");
const EXAMPLE_CONFIG = path.join(ROOT, "config", "example.json");

// Jest timeouts: the apply waits ~55 s on the provider's S3 lifecycle settling (as on AWS).
const STEP_TIMEOUT = 60_000;
const APPLY_TIMEOUT = 240_000;
const DESTROY_TIMEOUT = 180_000;

const LOOPBACK = /127\.0\.0\.1|localhost|\[::1\]|0\.0\.0\.0:\d/;

function readExample(): StackConfig {
  return JSON.parse(readFileSync(EXAMPLE_CONFIG, "utf8")) as StackConfig;
}

/** The example configuration, unchanged. */
const oneRepository = (): StackConfig => readExample();

/** The example with three repositories in two Backlog projects (one CodeCommit name with a dot). */
const threeRepositories = (): StackConfig => ({
  ...readExample(),
  repositories: [
    { projectKey: "DEMO", repository: "web-app", codecommitRepository: "demo-web-app" },
    { projectKey: "DEMO", repository: "api" },
    { projectKey: "INFRA", repository: "tools", codecommitRepository: "infra.tools" },
  ],
  state: { ...readExample().state, key: "backlog-mirror-3/terraform.tfstate" },
});

interface CycleOptions {
  /** Run a second `plan -lock-timeout=0s` while the apply holds the state lock. */
  readonly lockProbe: boolean;
}

function describeCycle(title: string, makeConfig: () => StackConfig, options: CycleOptions): void {
  describe(title, () => {
    const timings = new Timings(title);
    let emulator: Emulator | undefined;
    let clients: Clients;
    let scratch: string;
    let tf: Terraform;
    let synth: Synthesized;
    let backendFile: string;
    let baseline: Inventory;
    let network: TestNetwork;
    let expectedResources = 0;
    let brokenAt: string | undefined;

    /** A step of the Terraform cycle: later steps do not run (and fail) once one failed. */
    const step = (name: string, fn: () => Promise<void>, timeout = STEP_TIMEOUT): void => {
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
          await fn();
        },
        STEP_TIMEOUT,
      );
    };

    beforeAll(async () => {
      // A missing tool fails here with an install hint, never a skip.
      requireTerraform();
      requireMoto();
      timings.start();
      scratch = mkdtempSync(path.join(tmpdir(), "mirror-it-"));
      emulator = await timings.time("start emulator", () => startEmulator());
      clients = emulatorClients(emulator.endpoint);
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
      network = await createNetwork(clients.ec2);
      const { backlog } = config;
      await createParameters(clients.ssm, [backlog.sshKeyParameter, ...(backlog.hostKeysParameter ? [backlog.hostKeysParameter] : [])]);
      await createStateBucket(clients.s3, config.state.bucket, config.state.region);
      baseline = await inventory(clients);

      const configFile = path.join(scratch, "config.json");
      writeFileSync(configFile, JSON.stringify({ ...config, network }, null, 2));
      synth = await timings.time("synthesize", async () => synthesizeStack(configFile, path.join(scratch, "cdktf.out")));
      expectedResources = resourceCount(synth.json);
      timings.note("resources in the stack", expectedResources);

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
      backendFile = pointAtEmulator(workDir, scratch, emulator.endpoint, services);
      const cliConfig = writeCliConfig(providerMirror());
      tf = new Terraform(workDir, terraformEnv(cliConfig, {}));
      timings.note("emulated services", services);

      expect(readFileSync(path.join(workDir, "cdk.tf.json"), "utf8")).toBe(readFileSync(path.join(synth.stackDir, "cdk.tf.json"), "utf8"));
      const override = JSON.parse(readFileSync(path.join(workDir, PROVIDER_OVERRIDE_FILE), "utf8"));
      expect(Object.keys(override)).toEqual(["provider"]);
      expect(Object.keys(override.provider)).toEqual(["aws"]);
      expect(Object.keys(override.provider.aws.endpoints[0]).sort()).toEqual(services);
      expect(services).toEqual(expect.arrayContaining(["apigateway", "codebuild", "codecommit", "ec2", "efs", "iam", "s3", "sts"]));
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
      await timings.time("plan", () => tf.run(["plan", "-input=false", "-no-color", "-lock-timeout=60s", "-out=tfplan"]));
      const shown = await tf.run(["show", "-json", "tfplan"]);
      const changes = (JSON.parse(shown.stdout) as { resource_changes: Array<{ mode: string; change: { actions: string[] } }> }).resource_changes.filter(
        (c) => c.mode === "managed",
      );
      expect(changes.filter((c) => c.change.actions.join() === "create")).toHaveLength(expectedResources);
      expect(changes.filter((c) => c.change.actions.join() !== "create")).toEqual([]);
    });

    const applyTitle = options.lockProbe
      ? "terraform apply creates every resource, and a second plan -lock-timeout=0s started meanwhile is refused the state lock"
      : "terraform apply creates every resource";
    step(
      applyTitle,
      async () => {
        const t0 = Date.now();
        const apply = tf.start(["apply", "-input=false", "-no-color", "-lock-timeout=60s", "tfplan"]);
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
        expect(result.stdout).toContain(`Apply complete! Resources: ${expectedResources} added, 0 changed, 0 destroyed.`);
        timings.note("resources created", expectedResources);
      },
      APPLY_TIMEOUT,
    );

    step("terraform plan -detailed-exitcode right after apply exits 0 (no perpetual diff)", async () => {
      const result = await timings.time("re-plan", () =>
        tf.run(["plan", "-input=false", "-no-color", "-lock-timeout=60s", "-detailed-exitcode"], [0, 2]),
      );
      if (result.code === 2) throw new Error(`the plan after apply is not empty:\n${result.stdout.slice(-6000)}`);
      expect(result.stdout).toMatch(/No changes\./);
    });

    check("the state object is in the emulated state bucket, holds every resource, and no lock object is left", async () => {
      const { bucket, key } = synth.config.state;
      await clients.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      const object = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const state = JSON.parse(await object.Body!.transformToString()) as { resources: Array<{ mode: string }> };
      expect(state.resources.filter((r) => r.mode === "managed")).toHaveLength(expectedResources);
      await expect(clients.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `${key}.tflock` }))).rejects.toThrow();
    });

    check("every repository's webhook route calls StartBuild with the static headers and a template naming only its project", async () => {
      const config = synth.config;
      const apis = await clients.apigateway.send(new GetRestApisCommand({}));
      const api = (apis.items ?? []).find((a) => a.name === `${config.name}-webhook`);
      expect(api?.endpointConfiguration?.types).toEqual(["REGIONAL"]);
      const resources = await clients.apigateway.send(new GetResourcesCommand({ restApiId: api!.id, limit: 500 }));
      const routePaths = (resources.items ?? []).map((r) => r.path).filter((p) => p !== "/").sort();
      const projectPaths = [...new Set(config.repositories.map((r) => `/${r.projectKey}`))];
      expect(routePaths).toEqual([...projectPaths, ...config.repositories.map((r) => `/${repositoryKey(r)}`)].sort());
      for (const repo of config.repositories) {
        const resource = resources.items!.find((r) => r.path === `/${repositoryKey(repo)}`)!;
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
          [WEBHOOK_CONTENT_TYPE]: startBuildTemplate(buildProjectName(config.name, repo)),
        });
      }
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
          privilegedMode: true,
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
        expect(project.source?.type).toBe("NO_SOURCE");
        expect(project.source?.buildspec).toBe(synth.buildspecs.get(project.name!));
        const spec = parseYaml(project.source!.buildspec!) as { phases: { build: { commands: string[] } } };
        const repo = config.repositories.find((r) => buildProjectName(config.name, r) === project.name)!;
        expect(spec.phases.build.commands[0]).toContain(`\nCODECOMMIT_REPOSITORY=${codecommitRepositoryName(repo)}\n`);
        // The shell arrives as written: Terraform turned the synthesized "$${" back into "${".
        expect(project.source!.buildspec).toMatch(/[^$]\$\{[A-Z_]+/);
        expect(project.source!.buildspec).not.toContain("$${");
        // No project limit unless configured (a StartBuild beyond a project limit is refused, not queued).
        expect(project.concurrentBuildLimit).toBe(config.build?.concurrentBuildLimit);
        expect(project.timeoutInMinutes).toBe(config.build?.timeoutMinutes ?? BUILD_DEFAULTS.timeoutMinutes);
        expect(project.queuedTimeoutInMinutes).toBe(config.build?.queuedTimeoutMinutes ?? BUILD_DEFAULTS.queuedTimeoutMinutes);
        expect(project.cache).toMatchObject({ type: "S3", location: `${config.name}-build-cache-123456789012/${project.name}` });
        expect(project.logsConfig?.cloudWatchLogs).toMatchObject({ status: "ENABLED", groupName: `/aws/codebuild/${project.name}` });
        expect(project.serviceRole).toMatch(new RegExp(`:role/${config.name}-codebuild$`));
      }
    });

    check("the EFS file system is encrypted, not backed up, and mounted in both subnets behind the EFS security group only", async () => {
      const config = synth.config;
      const { FileSystems = [] } = await clients.efs.send(new DescribeFileSystemsCommand({}));
      expect(FileSystems).toHaveLength(1);
      expect(FileSystems[0]).toMatchObject({ Encrypted: true, PerformanceMode: "generalPurpose", ThroughputMode: "bursting" });
      const fsId = FileSystems[0].FileSystemId!;
      const backup = await clients.efs.send(new DescribeBackupPolicyCommand({ FileSystemId: fsId }));
      expect(backup.BackupPolicy?.Status).toBe("DISABLED");
      const { MountTargets = [] } = await clients.efs.send(new DescribeMountTargetsCommand({ FileSystemId: fsId }));
      expect(MountTargets.map((m) => m.SubnetId).sort()).toEqual([...network.subnetIds].sort());
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

    check("every CodeCommit repository exists with its mirror description and the stack's default tags", async () => {
      const config = synth.config;
      for (const repo of config.repositories) {
        const name = codecommitRepositoryName(repo);
        const { repositoryMetadata } = await clients.codecommit.send(new GetRepositoryCommand({ repositoryName: name }));
        expect(repositoryMetadata?.repositoryDescription).toContain(
          `${config.backlog.spaceKey}@${config.backlog.spaceKey}.git.${config.backlog.domain}:/${repositoryKey(repo)}.git`,
        );
        const tags = await clients.codecommit.send(new ListTagsForResourceCommand({ resourceArn: repositoryMetadata!.Arn }));
        expect(tags.tags).toEqual(config.tags);
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
      expect(encryption.ServerSideEncryptionConfiguration?.Rules?.[0].ApplyServerSideEncryptionByDefault?.SSEAlgorithm).toBe("AES256");
      const ownership = await clients.s3.send(new GetBucketOwnershipControlsCommand({ Bucket: bucket }));
      expect(ownership.OwnershipControls?.Rules).toEqual([{ ObjectOwnership: "BucketOwnerEnforced" }]);
      const lifecycle = await clients.s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }));
      expect(lifecycle.Rules).toHaveLength(1);
      expect(lifecycle.Rules![0]).toMatchObject({
        ID: "expire-cache",
        Status: "Enabled",
        Expiration: { Days: 30 },
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
      });
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
          Condition: { StringEquals: { "aws:SourceAccount": "123456789012" } },
        }),
      ]);
      const inline = await clients.iam.send(new ListRolePoliciesCommand({ RoleName: `${config.name}-codebuild` }));
      expect([...(inline.PolicyNames ?? [])].sort()).toEqual(["mirror-sync", "vpc-access"]);
    });

    step(
      "terraform destroy leaves nothing behind but the state object",
      async () => {
        await timings.time("destroy", () => tf.run(["destroy", "-auto-approve", "-input=false", "-no-color", "-lock-timeout=60s"]));
        const left = added(baseline, await inventory(clients));
        expect(left).toEqual({ "S3 objects": [`${synth.config.state.bucket}/${synth.config.state.key}`] });
      },
      DESTROY_TIMEOUT,
    );
  });
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
describeCycle("a configuration with 3 repositories", threeRepositories, { lockProbe: true });
