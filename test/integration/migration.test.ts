/**
 * Upgrading a deployed stack to the `for_each` shape of the per-repository resources destroys
 * nothing: the stack as the construct wrote it before (one construct per repository, each holding
 * its CodeCommit repository, sync project and log group) is applied to the emulator, the directory
 * is switched to today's synthesis of the same configuration, and the plan moves every instance
 * (the `moved` blocks of lib/mirror-build.ts), destroys nothing (but the API deployment, replaced
 * by design when a route changes) and creates only resources added since.
 *
 * The earlier shape is test/fixtures/migration/before-for-each.tf.json: what main at 8c93dbf (the
 * last commit with that shape) synthesized for test/fixtures/migration/config.json, its `//`
 * metadata removed. It is a record of a released shape, not a generated file: it never changes.
 * The example's placeholder network ids are replaced with the network the test creates.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { StackConfig } from "../../lib/validation";
import { type Emulator, startEmulator } from "../../tools/emulator/moto";
import { type Clients, createNetwork, createParameters, createStateBucket, destroyClients, emulatorClients, type TestNetwork } from "../../tools/terraform/aws";
import { endpointServices, pointAtEmulator } from "../../tools/terraform/emulator-target";
import { synthesizeStack } from "../../tools/terraform/synth";
import { Terraform, terraformEnv } from "../../tools/terraform/terraform";
import { providerMirror, requireMoto, requireTerraform, writeCliConfig } from "../../tools/terraform/tools";

const FIXTURES = path.resolve(__dirname, "..", "fixtures", "migration");
const CONFIG_FILE = path.join(FIXTURES, "config.json");
const BEFORE_FILE = path.join(FIXTURES, "before-for-each.tf.json");
const STEP_TIMEOUT = 60_000;
const APPLY_TIMEOUT = 240_000;

interface ResourceChange {
  readonly address: string;
  readonly previous_address?: string;
  readonly mode: string;
  readonly change: { readonly actions: string[] };
}

/** The configuration's placeholder network replaced with the emulator's (in any text holding it). */
function withNetwork(text: string, config: StackConfig, network: TestNetwork): string {
  const placeholder = config.network;
  if (placeholder === undefined || placeholder.subnetIds.length !== network.subnetIds.length) throw new Error("the fixture names a network of two subnets");
  let out = text.split(placeholder.vpcId).join(network.vpcId);
  placeholder.subnetIds.forEach((id, i) => {
    out = out.split(id).join(network.subnetIds[i]);
  });
  return out;
}

describe("upgrading a deployed stack to the for_each shape", () => {
  const config = JSON.parse(readFileSync(CONFIG_FILE, "utf8")) as StackConfig;
  let emulator: Emulator | undefined;
  let clients: Clients;
  let scratch: string;
  let network: TestNetwork;
  let tf: Terraform;
  let workDir: string;
  let backendFile: string;
  let changes: ResourceChange[] = [];
  let before = "";

  beforeAll(async () => {
    requireTerraform();
    requireMoto();
    scratch = mkdtempSync(path.join(tmpdir(), "mirror-migration-"));
    emulator = await startEmulator(undefined, { tls: true });
    clients = emulatorClients(emulator.endpoint, emulator.caBundle);
    network = await createNetwork(clients.ec2);
    const { backlog } = config;
    await createParameters(clients.ssm, [backlog.sshKeyParameter, ...(backlog.hostKeysParameter ? [backlog.hostKeysParameter] : [])]);
    await createStateBucket(clients.s3, config.state.bucket, config.state.region);
  }, STEP_TIMEOUT);

  afterAll(async () => {
    tf?.killAll();
    if (clients !== undefined) destroyClients(clients);
    await emulator?.stop();
    if (scratch !== undefined && process.env.KEEP_INTEGRATION_DIRS === undefined) rmSync(scratch, { recursive: true, force: true });
  }, STEP_TIMEOUT);

  test(
    "the earlier shape applies to the emulator",
    async () => {
      if (emulator === undefined) throw new Error("no emulator");
      workDir = path.join(scratch, "work");
      before = withNetwork(readFileSync(BEFORE_FILE, "utf8"), config, network);
      mkdirSync(workDir);
      writeFileSync(path.join(workDir, "cdk.tf.json"), before);
      backendFile = pointAtEmulator(workDir, scratch, emulator.endpoint, endpointServices(JSON.parse(before)), emulator.caBundle);
      tf = new Terraform(workDir, terraformEnv(writeCliConfig(providerMirror(), scratch), {}));
      await tf.run(["init", "-input=false", "-no-color", `-backend-config=${backendFile}`]);
      const applied = await tf.run(["apply", "-input=false", "-no-color", "-auto-approve"]);
      expect(applied.stdout).toMatch(/Apply complete!/);
      const state = (await tf.run(["state", "list"])).stdout.split("\n");
      expect(state).toEqual(expect.arrayContaining(["aws_codebuild_project.Mirror_DEMO-web-app_Project_16116904", "aws_codecommit_repository.Mirror_OPS-infratools_Repository_8C36C842"]));
    },
    APPLY_TIMEOUT,
  );

  test(
    "today's synthesis of the same configuration destroys nothing and recreates nothing: every repository's three resources move",
    async () => {
      const configFile = path.join(scratch, "config.json");
      writeFileSync(configFile, JSON.stringify({ ...config, network }, null, 2));
      const synth = synthesizeStack(configFile, path.join(scratch, "cdktf.out"));
      const after = readFileSync(path.join(synth.stackDir, "cdk.tf.json"), "utf8");
      writeFileSync(path.join(workDir, "cdk.tf.json"), after);
      // Today's stack may use services the earlier one did not (the alerts' dead-letter queue): the
      // override names every service of both, the backend stays as it was.
      if (emulator === undefined) throw new Error("no emulator");
      const services = [...new Set([...endpointServices(JSON.parse(before)), ...endpointServices(JSON.parse(after))])].sort();
      pointAtEmulator(workDir, scratch, emulator.endpoint, services, emulator.caBundle);
      await tf.run(["plan", "-input=false", "-no-color", "-out=tfplan"]);
      const shown = JSON.parse((await tf.run(["show", "-json", "tfplan"])).stdout) as { resource_changes: ResourceChange[] };
      changes = shown.resource_changes.filter((c) => c.mode === "managed");
      const acting = (action: string) => changes.filter((c) => c.change.actions.includes(action)).map((c) => c.address);
      // Nothing is destroyed but the API deployment, which is replaced (created first) whenever a
      // route definition changes, by design (lib/webhook-api.ts).
      expect(acting("delete").filter((a) => !a.startsWith("aws_api_gateway_deployment."))).toEqual([]);
      // What is created is only what the earlier shape did not have at all (resources added since,
      // such as the alerts' dead-letter queue): no repository's instance, no resource of the earlier state.
      const earlier = new Set(Object.entries(JSON.parse(before).resource as Record<string, Record<string, unknown>>).flatMap(([type, byName]) => Object.keys(byName).map((n) => `${type}.${n}`)));
      const created = acting("create").filter((a) => !a.startsWith("aws_api_gateway_deployment."));
      expect(created.filter((a) => a.includes("_Repositories_") || earlier.has(a.replace(/\[.*\]$/, "")))).toEqual([]);
      const moved = changes.filter((c) => c.previous_address !== undefined).map((c) => [c.previous_address, c.address]);
      expect(moved).toHaveLength(3 * config.repositories.length);
      for (const key of ["DEMO/web-app", "OPS/infra.tools"]) {
        expect(moved.filter(([, to]) => (to as string).endsWith(`[${JSON.stringify(key)}]`))).toHaveLength(3);
      }
    },
    STEP_TIMEOUT * 2,
  );

  test(
    "the upgraded stack applies (the sync projects take their new buildspec and variables in place) and then has nothing to do",
    async () => {
      const applied = await tf.run(["apply", "-input=false", "-no-color", "-auto-approve", "tfplan"]);
      expect(applied.stdout).toMatch(/Apply complete! Resources: \d+ added, \d+ changed, [01] destroyed/);
      const again = await tf.run(["plan", "-input=false", "-no-color", "-detailed-exitcode"], [0, 2]);
      expect([again.code, again.stdout.match(/Plan: .*|No changes\./)?.[0]]).toEqual([0, "No changes."]);
    },
    APPLY_TIMEOUT,
  );
});
