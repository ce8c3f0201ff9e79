/**
 * The state bootstrap stack applied for real against the local AWS emulator: the bucket and its
 * settings exist afterwards, a second plan has nothing to do, and Terraform refuses to destroy it.
 * Its local state goes where the backend block says (overridden with -backend-config to a temp path).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import {
  GetBucketEncryptionCommand,
  GetBucketPolicyCommand,
  GetBucketVersioningCommand,
  GetPublicAccessBlockCommand,
} from "@aws-sdk/client-s3";
import { App } from "cdktf";
import { STATE_STACK_NAME, StateStack } from "../../state/main";
import { type Emulator, EMULATOR_ENV, startEmulator } from "../../tools/emulator/moto";
import { type Clients, REGION, destroyClients, emulatorClients } from "../../tools/terraform/aws";
import { PROVIDER_OVERRIDE_FILE, endpointServices, providerOverride } from "../../tools/terraform/emulator-target";
import { Terraform, terraformEnv } from "../../tools/terraform/terraform";
import { providerMirror, requireMoto, requireTerraform, writeCliConfig } from "../../tools/terraform/tools";

const BUCKET = "state-bootstrap-test-123456789012";

describe("state bootstrap stack against the emulator", () => {
  let emulator: Emulator;
  let clients: Clients;
  let tf: Terraform;
  const work = mkdtempSync(path.join(tmpdir(), "mirror-state-"));

  beforeAll(async () => {
    requireTerraform();
    requireMoto();
    emulator = await startEmulator();
    clients = emulatorClients(emulator.endpoint);
    const app = new App({ outdir: path.join(work, "out") });
    new StateStack(app, STATE_STACK_NAME, { bucket: BUCKET, region: REGION, tags: { ManagedBy: "terraform" } });
    app.synth();
    const dir = path.join(work, "out", "stacks", STATE_STACK_NAME);
    const json = JSON.parse(readFileSync(path.join(dir, "cdk.tf.json"), "utf8"));
    writeFileSync(path.join(dir, PROVIDER_OVERRIDE_FILE), JSON.stringify(providerOverride(emulator.endpoint, endpointServices(json))));
    mkdirSync(path.join(work, "state"));
    tf = new Terraform(dir, terraformEnv(writeCliConfig(providerMirror()), { ...EMULATOR_ENV }));
    await tf.run(["init", "-input=false", `-backend-config=path=${path.join(work, "state", "terraform.tfstate")}`]);
  }, 60_000);

  afterAll(async () => {
    tf?.killAll();
    if (clients !== undefined) destroyClients(clients);
    await emulator?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test("apply creates a versioned, encrypted, private, TLS-only bucket, with local state", async () => {
    await tf.run(["apply", "-input=false", "-auto-approve"]);
    const versioning = await clients.s3.send(new GetBucketVersioningCommand({ Bucket: BUCKET }));
    expect(versioning.Status).toBe("Enabled");
    const encryption = await clients.s3.send(new GetBucketEncryptionCommand({ Bucket: BUCKET }));
    expect(encryption.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm).toBe("AES256");
    const pab = await clients.s3.send(new GetPublicAccessBlockCommand({ Bucket: BUCKET }));
    expect(pab.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true });
    const policy = JSON.parse((await clients.s3.send(new GetBucketPolicyCommand({ Bucket: BUCKET }))).Policy ?? "{}");
    expect(policy.Statement[0]).toMatchObject({ Sid: "DenyInsecureTransport", Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } });
    const state = JSON.parse(readFileSync(path.join(work, "state", "terraform.tfstate"), "utf8"));
    expect(state.resources.map((r: { type: string }) => r.type)).toContain("aws_s3_bucket");
  }, 240_000);

  test("a second plan has nothing to do", async () => {
    const plan = await tf.run(["plan", "-input=false", "-detailed-exitcode"], [0]);
    expect(plan.stdout).toContain("No changes.");
  }, 120_000);

  test("destroy is refused by prevent_destroy", async () => {
    const result = await tf.run(["destroy", "-input=false", "-auto-approve", "-no-color"], [1]);
    expect(result.stderr).toContain("Instance cannot be destroyed");
    expect(result.stderr).toContain("aws_s3_bucket.StateBucket");
  }, 120_000);
});
