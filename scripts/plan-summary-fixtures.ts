/**
 * Regenerates the real Terraform plans that __tests__/plan-summary.test.ts reads, by planning (and
 * applying) the synthesized stack against the local AWS emulator with the integration suite's
 * helpers (tools/terraform, tools/emulator):
 *
 *   create.json / create.txt   the example configuration with two repositories, planned on empty state
 *   mixed.json  / mixed.txt    after applying that, a changed configuration: one repository removed
 *                              (destroy), one added (create), the log retention changed (update), a
 *                              CodeCommit name changed (replace)
 *   none.json                  the applied configuration planned again (no changes)
 *
 * Run: node --import tsx scripts/plan-summary-fixtures.ts [OUTDIR]   (default test/fixtures/plan-summary)
 * Needs Terraform, the provider (filesystem mirror) and moto, as the integration suite does; ~3 min.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { StackConfig } from "../lib/validation";
import { startEmulator } from "../tools/emulator/moto";
import { REGION, createNetwork, createParameters, createStateBucket, destroyClients, emulatorClients } from "../tools/terraform/aws";
import { endpointServices, pointAtEmulator } from "../tools/terraform/emulator-target";
import { synthesizeStack } from "../tools/terraform/synth";
import { Terraform, terraformEnv } from "../tools/terraform/terraform";
import { providerMirror, requireMoto, requireTerraform, writeCliConfig } from "../tools/terraform/tools";

const ROOT = path.resolve(__dirname, "..");
export const FIXTURE_DIR = path.join(ROOT, "test", "fixtures", "plan-summary");

async function main(outDir: string): Promise<void> {
  requireTerraform();
  requireMoto();
  mkdirSync(outDir, { recursive: true });
  const emulator = await startEmulator();
  const clients = emulatorClients(emulator.endpoint);
  try {
    const example = JSON.parse(readFileSync(path.join(ROOT, "config", "example.json"), "utf8")) as StackConfig;
    const network = await createNetwork(clients.ec2);
    await createStateBucket(clients.s3, example.state.bucket, REGION);
    await createParameters(clients.ssm, [example.backlog.sshKeyParameter, example.backlog.hostKeysParameter ?? "/unused"]);

    const before: StackConfig = {
      ...example,
      region: REGION,
      network,
      repositories: [
        { projectKey: "DEMO", repository: "web-app", codecommitRepository: "demo-web-app" },
        { projectKey: "DEMO", repository: "api" },
      ],
    };
    const after: StackConfig = {
      ...before,
      logRetentionDays: 60,
      repositories: [
        { projectKey: "DEMO", repository: "web-app", codecommitRepository: "web-app-mirror" },
        { projectKey: "OPS", repository: "tools" },
      ],
    };

    const work = mkdtempSync(path.join(tmpdir(), "plan-fixtures-"));
    const cli = writeCliConfig(providerMirror());
    const env = terraformEnv(cli, { ...(await import("../tools/emulator/moto")).EMULATOR_ENV });

    const synthInto = (config: StackConfig, name: string) => {
      const file = path.join(work, `${name}.json`);
      writeFileSync(file, JSON.stringify(config));
      return synthesizeStack(file, path.join(work, `out-${name}`));
    };
    const a = synthInto(before, "before");
    const b = synthInto(after, "after");
    const services = endpointServices({ resource: { ...a.json.resource, ...b.json.resource }, data: { ...a.json.data, ...b.json.data } });
    const backendFile = pointAtEmulator(a.stackDir, work, emulator.endpoint, services);
    const tf = new Terraform(a.stackDir, env);

    const planTo = async (name: string) => {
      await tf.run(["plan", "-input=false", "-lock-timeout=30s", "-out", `${name}.tfplan`]);
      const json = await tf.run(["show", "-json", `${name}.tfplan`]);
      const text = await tf.run(["show", "-no-color", `${name}.tfplan`]);
      writeFileSync(path.join(outDir, `${name}.json`), `${JSON.stringify(JSON.parse(json.stdout))}\n`);
      writeFileSync(path.join(outDir, `${name}.txt`), text.stdout);
      console.log(`wrote ${name}.json/.txt`);
    };

    await tf.run(["init", "-input=false", `-backend-config=${backendFile}`]);
    await planTo("create");
    await tf.run(["apply", "-input=false", "create.tfplan"]);
    await planTo("none");
    writeFileSync(path.join(a.stackDir, "cdk.tf.json"), readFileSync(path.join(b.stackDir, "cdk.tf.json")));
    await planTo("mixed");
  } finally {
    destroyClients(clients);
    await emulator.stop();
  }
}

if (require.main === module) {
  main(path.resolve(process.argv[2] ?? FIXTURE_DIR)).catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
