/**
 * The committed Terraform module (modules/backlog-codecommit-mirror, npm run build:module) and
 * examples/hcl-basic, with the real Terraform and provider:
 *
 * - in a temporary copy of the repository layout, the HCL example that calls the module passes
 *   terraform init + validate;
 * - against the local AWS emulator, the example's plan is compared, resource by resource and value
 *   by value, with the plan of the CDKTF stack synthesized for the same settings: both come from the
 *   same construct and must plan the same infrastructure;
 * - the example is applied, and a second plan has nothing to do.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { StackConfig } from "../../lib/validation";
import { MODULE_DIR } from "../../scripts/build-module";
import { copyModule } from "./support/module-copy";
import { type Emulator, EMULATOR_ENV, startEmulator } from "../../tools/emulator/moto";
import { type Clients, REGION, createNetwork, createParameters, createStateBucket, destroyClients, emulatorClients } from "../../tools/terraform/aws";
import { endpointServices, pointAtEmulator, providerOverride } from "../../tools/terraform/emulator-target";
import { synthesizeStack } from "../../tools/terraform/synth";
import { Terraform, terraformEnv } from "../../tools/terraform/terraform";
import { providerMirror, requireMoto, requireTerraform, writeCliConfig } from "../../tools/terraform/tools";
import { type Props, moduleArgs } from "./support/args";

const ROOT = path.resolve(__dirname, "..", "..");

interface PlannedResource {
  address: string;
  type: string;
  values: Record<string, unknown>;
}

/** Every managed resource of a plan (root and child modules). */
function plannedResources(plan: any): PlannedResource[] {
  const out: PlannedResource[] = [];
  const walk = (m: any) => {
    for (const r of m?.resources ?? []) if (r.mode === "managed") out.push({ address: r.address, type: r.type, values: r.values });
    for (const c of m?.child_modules ?? []) walk(c);
  };
  walk(plan.planned_values.root_module);
  return out;
}

/** A resource's values without what legitimately differs between the two (the redeploy hash). */
function canonical(r: PlannedResource): string {
  const values = { ...r.values };
  if (r.type === "aws_api_gateway_deployment") delete values.triggers;
  return `${r.type} ${JSON.stringify(values, Object.keys(values).sort())}`;
}

describe("the plain Terraform module and examples/hcl-basic", () => {
  const work = mkdtempSync(path.join(tmpdir(), "mirror-module-"));
  const example = path.join(work, "examples", "hcl-basic");
  const cli = writeCliConfig(providerMirror());
  let emulator: Emulator | undefined;
  let clients: Clients | undefined;
  const running: Terraform[] = [];

  beforeAll(() => {
    requireTerraform();
    // The committed module, where examples/hcl-basic's `source = "../../modules/..."` finds it.
    copyModule(path.join(work, "modules", path.basename(MODULE_DIR)));
    mkdirSync(path.join(work, "examples"));
    cpSync(path.join(ROOT, "examples", "hcl-basic"), example, { recursive: true, filter: (s) => !/\.terraform|tfstate/.test(s) });
  });

  afterAll(async () => {
    for (const t of running) t.killAll();
    if (clients !== undefined) destroyClients(clients);
    await emulator?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test("terraform init + validate with the real provider", async () => {
    const tf = new Terraform(example, terraformEnv(cli, {}));
    running.push(tf);
    await tf.run(["init", "-input=false", "-backend=false"]);
    const result = await tf.run(["validate", "-json"]);
    expect(JSON.parse(result.stdout)).toMatchObject({ valid: true, error_count: 0, warning_count: 0 });
  }, 120_000);

  describe("against the emulator", () => {
    let tf: Terraform;
    let stackPlan: any;
    let modulePlan: any;

    beforeAll(async () => {
      requireMoto();
      // HTTPS, as AWS: the stack's bucket denies requests without TLS (aws:SecureTransport).
      emulator = await startEmulator(undefined, { tls: true });
      clients = emulatorClients(emulator.endpoint, emulator.caBundle);
      const network = await createNetwork(clients.ec2);
      await createParameters(clients.ssm, ["/backlog-mirror/ssh-private-key", "/backlog-mirror/ssh-host-keys"]);

      // The CDKTF stack for the settings examples/hcl-basic gives the module.
      const example0 = JSON.parse(readFileSync(path.join(ROOT, "config", "example.json"), "utf8")) as StackConfig;
      const config: StackConfig = {
        ...example0,
        region: REGION,
        name: "backlog-mirror",
        logRetentionDays: 30,
        network,
        build: { timeoutMinutes: 10 },
        repositories: [
          { projectKey: "DEMO", repository: "web-app", codecommitRepository: "demo-web-app" },
          { projectKey: "DEMO", repository: "api" },
        ],
        tags: { Project: "backlog-mirror", ManagedBy: "terraform" },
      };
      await createStateBucket(clients.s3, config.state.bucket, REGION);
      const configFile = path.join(work, "stack-config.json");
      writeFileSync(configFile, JSON.stringify(config));
      const stack = synthesizeStack(configFile, path.join(work, "cdktf.out"));
      const services = endpointServices(stack.json);
      const backendFile = pointAtEmulator(stack.stackDir, work, emulator.endpoint, services, emulator.caBundle);
      const env = terraformEnv(cli, { ...EMULATOR_ENV });
      const stackTf = new Terraform(stack.stackDir, env);
      running.push(stackTf);
      await stackTf.run(["init", "-input=false", `-backend-config=${backendFile}`]);
      await stackTf.run(["plan", "-input=false", "-out=stack.tfplan"]);
      stackPlan = JSON.parse((await stackTf.run(["show", "-json", "stack.tfplan"])).stdout);

      // The HCL example, with the same provider override (endpoints) and the emulator's network.
      writeFileSync(path.join(example, "emulator_override.tf.json"), JSON.stringify(providerOverride(emulator.endpoint, services, emulator.caBundle)));
      writeFileSync(path.join(example, "terraform.tfvars.json"), JSON.stringify({ region: REGION, vpc_id: network.vpcId, subnet_ids: network.subnetIds }));
      tf = new Terraform(example, env);
      running.push(tf);
      await tf.run(["init", "-input=false"]);
      await tf.run(["plan", "-input=false", "-out=module.tfplan"]);
      modulePlan = JSON.parse((await tf.run(["show", "-json", "module.tfplan"])).stdout);
    }, 240_000);

    test("the module plans the same resources, with the same values, as the CDKTF stack", () => {
      const fromStack = plannedResources(stackPlan).map(canonical).sort();
      const fromModule = plannedResources(modulePlan).map(canonical).sort();
      expect(fromModule.length).toBeGreaterThan(40);
      expect(fromModule.length).toBe(fromStack.length);
      const onlyStack = fromStack.filter((x) => !fromModule.includes(x));
      const onlyModule = fromModule.filter((x) => !fromStack.includes(x));
      expect({ onlyStack, onlyModule }).toEqual({ onlyStack: [], onlyModule: [] });
    });

    test("per-repository resources are keyed by PROJECT/REPO", () => {
      const addresses = plannedResources(modulePlan).map((r) => r.address);
      expect(addresses).toContain('module.backlog_mirror.aws_codebuild_project.Mirror_Repository_Project["DEMO/web-app"]');
      expect(addresses).toContain('module.backlog_mirror.aws_codecommit_repository.Mirror_Repository_Repository["DEMO/api"]');
      // The webhook is one route for every repository: its resources are not per repository.
      expect(addresses).toContain("module.backlog_mirror.aws_api_gateway_resource.Mirror_Webhook_RepositoryPath");
      expect(addresses.filter((a) => a.includes("aws_api_gateway_resource"))).toHaveLength(2);
    });

    /** Plans the CDKTF stack and the module for the same props; returns the differences. */
    async function planBoth(label: string, props: Props): Promise<{ count: number; stackCount: number; onlyStack: string[]; onlyModule: string[] }> {
      if (emulator === undefined) throw new Error("no emulator");
      const dir = path.join(work, label);
      mkdirSync(dir);
      const tags = { Project: "backlog-mirror", ManagedBy: "terraform" };
      const example0 = JSON.parse(readFileSync(path.join(ROOT, "config", "example.json"), "utf8")) as StackConfig;
      const config = { ...props, region: REGION, tags, state: { ...example0.state, key: `${label}/terraform.tfstate` } } as StackConfig;
      writeFileSync(path.join(dir, "config.json"), JSON.stringify(config));
      const stack = synthesizeStack(path.join(dir, "config.json"), path.join(dir, "cdktf.out"));
      const services = endpointServices(stack.json);
      const backendFile = pointAtEmulator(stack.stackDir, dir, emulator.endpoint, services, emulator.caBundle);
      const env = terraformEnv(cli, { ...EMULATOR_ENV });
      const stackTf = new Terraform(stack.stackDir, env);
      running.push(stackTf);
      await stackTf.run(["init", "-input=false", `-backend-config=${backendFile}`]);
      await stackTf.run(["plan", "-input=false", "-out=p.tfplan"]);
      const a = JSON.parse((await stackTf.run(["show", "-json", "p.tfplan"])).stdout);

      const rootDir = path.join(dir, "root");
      mkdirSync(rootDir);
      const moduleDir = path.join(work, "modules", path.basename(MODULE_DIR));
      writeFileSync(
        path.join(rootDir, "main.tf.json"),
        JSON.stringify({ provider: { aws: { region: REGION, default_tags: { tags } } }, module: { mirror: { source: moduleDir, ...moduleArgs(props) } } }),
      );
      writeFileSync(path.join(rootDir, "emulator_override.tf.json"), JSON.stringify(providerOverride(emulator.endpoint, services, emulator.caBundle)));
      const rootTf = new Terraform(rootDir, env);
      running.push(rootTf);
      await rootTf.run(["init", "-input=false"]);
      await rootTf.run(["plan", "-input=false", "-out=p.tfplan"]);
      const b = JSON.parse((await rootTf.run(["show", "-json", "p.tfplan"])).stdout);
      const fromStack = plannedResources(a).map(canonical).sort();
      const fromModule = plannedResources(b).map(canonical).sort();
      return {
        count: fromModule.length,
        stackCount: fromStack.length,
        onlyStack: fromStack.filter((x) => !fromModule.includes(x)),
        onlyModule: fromModule.filter((x) => !fromStack.includes(x)),
      };
    }

    test("with every option switched, the module still plans what the stack plans", async () => {
      const network = await createNetwork((clients as Clients).ec2);
      const diff = await planBoth("every-option", {
        name: "variant-a",
        logRetentionDays: 3653,
        backlog: { spaceKey: "other-space", domain: "backlog.com", sshKeyParameter: "/variant/ssh-key", scanHostKey: true },
        network,
        repositories: [
          { projectKey: "SHOP", repository: "front.end", codecommitRepository: "shop.front" },
          { projectKey: "SHOP", repository: "back", lfs: false },
        ],
        lfs: { credentialsParameter: "/variant/lfs-credentials" },
        build: { timeoutMinutes: 480, queuedTimeoutMinutes: 5, computeType: "BUILD_GENERAL1_MEDIUM", allowDebugSessions: true, fleet: { baseCapacity: 2, overflow: "queue" } },
        webhook: { allowedSourceIps: ["203.0.113.0/24"], additionalSourceIps: ["198.51.100.7/32"], throttleRateLimit: 100, throttleBurstLimit: 200, wafRateLimitPer5Minutes: 2000 },
        resync: { schedule: "cron(0 * * * ? *)", enabled: false },
        alerts: { emails: ["ops@example.com", "dev@example.com"] },
        sync: { allowEmptySource: true },
        backups: { retentionDays: 30 },
      });
      expect(diff.count).toBeGreaterThan(30);
      expect(diff.count).toBe(diff.stackCount);
      expect({ onlyStack: diff.onlyStack, onlyModule: diff.onlyModule }).toEqual({ onlyStack: [], onlyModule: [] });
    }, 240_000);

    test("with pinned keys inline and seven repositories (two re-sync rules), the module plans what the stack plans", async () => {
      const network = await createNetwork((clients as Clients).ec2);
      const diff = await planBoth("seven-repositories", {
        name: "variant-b",
        backlog: {
          spaceKey: "example-space",
          domain: "backlog.jp",
          sshKeyParameter: "/backlog-mirror/ssh-private-key",
          hostKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl", "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY="],
        },
        network,
        repositories: Array.from({ length: 7 }, (_, i) => ({ projectKey: ["DEMO", "OPS", "INFRA"][i % 3], repository: `repo-${i + 1}` })),
      });
      expect(diff.count).toBeGreaterThan(70);
      expect(diff.count).toBe(diff.stackCount);
      expect({ onlyStack: diff.onlyStack, onlyModule: diff.onlyModule }).toEqual({ onlyStack: [], onlyModule: [] });
    }, 240_000);

    test("apply succeeds and a second plan has nothing to do", async () => {
      await tf.run(["apply", "-input=false", "module.tfplan"]);
      const again = await tf.run(["plan", "-input=false", "-detailed-exitcode", "-no-color"], [0, 2]);
      expect(again.stdout).toContain("No changes.");
      const outputs = JSON.parse((await tf.run(["output", "-json"])).stdout);
      expect(Object.keys(outputs.webhook_urls.value).sort()).toEqual(["DEMO/api", "DEMO/web-app"]);
      expect(outputs.webhook_urls.value["DEMO/api"]).toMatch(/\/prod\/DEMO\/api$/);
    }, 300_000);
  });
});
