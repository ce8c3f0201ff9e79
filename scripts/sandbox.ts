/**
 * A rehearsal without an AWS account: `npm run sandbox:up` / `npm run sandbox:down`.
 *
 * up: rehearses the configuration `MIRROR_CONFIG` names (default `config/sandbox.json`, the sandbox
 * sample, which has no `network`, so the stack creates its VPC). It starts the bundled AWS emulator
 * (moto through tools/emulator/moto_launcher.py) speaking HTTPS with a throwaway certificate, then
 * follows docs/state-bootstrap.md as a user would:
 *   0. with `network`: the VPC, subnets (with the configuration's own ids) and NAT gateway it names,
 *      created in the emulator (scripts/sandbox-account.ts), each printed;
 *   1. `npm run synth:state`, `terraform init`, `terraform apply`: the state bucket, with its
 *      TLS-only bucket policy unchanged (the emulator speaks TLS, so the policy allows it);
 *   2. the SSH key (SecureString, a throwaway key) and the pinned host keys in Parameter Store;
 *   3. `npm run synth`, `terraform init` with the S3 backend on that bucket, `terraform plan -out`,
 *      `terraform apply`, and a second `terraform plan -detailed-exitcode` that must show no change.
 * It prints the outputs (one webhook URL per line) and `AWS_ENDPOINT_URL=<the emulator>`, and leaves
 * the emulator running (detached; its process id is in .sandbox/sandbox.json).
 *
 * down: `terraform destroy` of the main stack, then stops exactly the emulator process up started,
 * and removes .sandbox/. (The state bucket has `prevent_destroy`; it goes with the emulator.)
 *
 * What points Terraform at the emulator stays outside the synthesized JSON: a provider override file
 * next to it and a `-backend-config` file, as in the integration suite (tools/terraform/).
 * The synthesized stacks are written under .sandbox/ (CDKTF_OUTDIR), never over cdktf.out/.
 *
 * Environment: MIRROR_CONFIG, SANDBOX_DIR (default .sandbox/), MOTO_PYTHON, TERRAFORM_BIN,
 * TF_PROVIDER_MIRROR, SANDBOX_KEEP_ON_FAILURE. Arguments, `--help` and exit codes are the runner's
 * (scripts/ops/command.ts): 0 done, 1 a step failed (the rehearsal found a problem), 2 a usage or
 * configuration error, a missing tool, or a sandbox already running.
 */
import { type SpawnSyncReturns, execFileSync, spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, get as httpsGet } from "node:https";
import * as path from "node:path";
import { EC2Client } from "@aws-sdk/client-ec2";
import { SSMClient } from "@aws-sdk/client-ssm";
import { loadStackConfig } from "../lib/stack-config";
import { STACK_NAME } from "../main";
import { STATE_STACK_NAME } from "../state/main";
import { EMULATOR_ENV, MOTO_LAUNCHER, freePort } from "../tools/emulator/moto";
import { backendConfigText, endpointServices, providerOverride } from "../tools/terraform/emulator-target";
import { Terraform, terraformEnv } from "../tools/terraform/terraform";
import { MOTO_PYTHON, providerMirror, requireMoto, requireTerraform, writeCliConfig } from "../tools/terraform/tools";
import { command, configFile, EXIT, main, type Command, UsageError, UserError } from "./ops/command";
import { ensureNetwork, putThrowawayKeys } from "./sandbox-account";
import { REPO_ROOT, SANDBOX_CREDENTIALS, type SandboxRecord, processAlive, readRecord, recordFile, sandboxDir } from "./sandbox-env";

/** The configuration the sandbox deploys when `MIRROR_CONFIG` is not set (committed; no `network`). */
export const SANDBOX_CONFIG = "config/sandbox.json";

const LAUNCHER = MOTO_LAUNCHER;
const CERT_SCRIPT = path.join(REPO_ROOT, "scripts", "sandbox_cert.py");
/** Name of the provider override written next to each synthesized cdk.tf.json. */
const OVERRIDE_FILE = "sandbox_override.tf.json";

/** One timed step. */
export interface StepTime {
  readonly step: string;
  readonly seconds: number;
}

class Steps {
  readonly times: StepTime[] = [];

  async run<T>(step: string, fn: () => T | Promise<T>): Promise<T> {
    process.stdout.write(`- ${step} ...`);
    const started = Date.now();
    try {
      const result = await fn();
      const seconds = (Date.now() - started) / 1000;
      this.times.push({ step, seconds });
      process.stdout.write(` ${seconds.toFixed(1)} s\n`);
      return result;
    } catch (e) {
      process.stdout.write(` FAILED after ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
      throw e;
    }
  }
}

/** Runs an npm script like a user would, with extra environment; throws with its output on failure. */
function npmRun(script: string, env: NodeJS.ProcessEnv): string {
  const result: SpawnSyncReturns<string> = spawnSync("npm", ["run", "--silent", script], { cwd: REPO_ROOT, env, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`npm run ${script} failed (${result.status}):\n${result.stdout}${result.stderr}`);
  return result.stdout.trim();
}

/** GET over HTTPS trusting `ca`; resolves with the status code. */
function httpsStatus(url: string, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsGet(url, { ca, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
  });
}

/** Stops the emulator process `pid` (SIGTERM, then SIGKILL after 5 s); resolves when it is gone. */
export async function stopProcess(pid: number): Promise<void> {
  if (!processAlive(pid)) return;
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + 5000;
  while (processAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (processAlive(pid)) {
    process.kill(pid, "SIGKILL");
    while (processAlive(pid)) await new Promise((r) => setTimeout(r, 100));
  }
}

/** Writes the provider override (emulator endpoints, the sandbox CA) next to a synthesized stack. */
function pointProviderAtSandbox(stackDir: string, endpoint: string, caBundle: string): void {
  const json = JSON.parse(readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8")) as { resource?: Record<string, unknown>; data?: Record<string, unknown> };
  const override = providerOverride(endpoint, endpointServices(json), caBundle);
  writeFileSync(path.join(stackDir, OVERRIDE_FILE), `${JSON.stringify(override, null, 2)}\n`);
}

interface Outputs {
  readonly [name: string]: { readonly value: unknown };
}

/** The lines sandbox:up ends with: one webhook URL per line, the other outputs, the endpoint. */
export function outputLines(outputs: Outputs, record: Pick<SandboxRecord, "endpoint" | "caBundle" | "region" | "config">): string[] {
  const repos = (outputs.repositories?.value ?? {}) as Record<string, { webhook_url: string }>;
  const lines = ["", "Webhook URLs (PROJECT/REPO URL; in Backlog: Project settings > Git > the repository > Webhook URL):"];
  for (const [key, r] of Object.entries(repos)) lines.push(`${key} ${r.webhook_url}`);
  lines.push("", "Other outputs:");
  for (const [name, o] of Object.entries(outputs)) {
    if (name !== "repositories") lines.push(`${name} = ${typeof o.value === "string" ? o.value : JSON.stringify(o.value)}`);
  }
  lines.push(
    "",
    "The emulator keeps running. Use it with the AWS CLI, terraform, npm run preflight, sync or status (which find this stack):",
    `AWS_ENDPOINT_URL=${record.endpoint}`,
    `AWS_CA_BUNDLE=${record.caBundle}`,
    `AWS_ACCESS_KEY_ID=${SANDBOX_CREDENTIALS.accessKeyId} AWS_SECRET_ACCESS_KEY=${SANDBOX_CREDENTIALS.secretAccessKey} AWS_REGION=${record.region} AWS_DEFAULT_REGION=${record.region}`,
    `e.g.: MIRROR_CONFIG=${record.config} AWS_ENDPOINT_URL=${record.endpoint} npm run preflight`,
    `      MIRROR_CONFIG=${record.config} AWS_ENDPOINT_URL=${record.endpoint} npm run sync -- --all`,
    "Stop it with: npm run sandbox:down",
  );
  return lines;
}

/** How a configuration file is named in what sandbox:up prints: relative to the repository when inside it. */
function shownPath(file: string): string {
  const relative = path.relative(REPO_ROOT, file);
  return relative.startsWith("..") || path.isAbsolute(relative) ? file : relative;
}

/** A step of sandbox:up or sandbox:down failed: the rehearsal found a problem (exit code 1). */
export class StepFailed extends Error {}

export async function sandboxUp(env: NodeJS.ProcessEnv = process.env): Promise<StepTime[]> {
  // The configuration first: an invalid one is a configuration error before anything starts.
  const file = configFile(env, path.join(REPO_ROOT, SANDBOX_CONFIG));
  const config = loadStackConfig(file);
  const dir = sandboxDir(env);
  const existing = readRecord(dir);
  if (existing !== undefined && processAlive(existing.pid)) {
    throw new UserError(`a sandbox is already running (emulator pid ${existing.pid}, ${existing.endpoint}, ${existing.config}); run npm run sandbox:down first`);
  }
  try {
    requireTerraform();
    requireMoto();
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const steps = new Steps();
  const configFileName = shownPath(file);
  console.log(`sandbox:up rehearses ${configFileName}${env.MIRROR_CONFIG ? " (MIRROR_CONFIG)" : " (the sandbox sample; MIRROR_CONFIG=FILE rehearses another)"}: stack ${config.name} in ${config.region}`);
  let record: SandboxRecord | undefined;
  const created: string[] = [];

  try {
    const cliConfig = await steps.run("terraform and moto found; the Terraform CLI configuration", () => writeCliConfig(providerMirror(), dir));

    record = await steps.run("start the emulator (HTTPS, throwaway certificate)", async () => {
      const certDir = path.join(dir, "tls");
      execFileSync(MOTO_PYTHON, [CERT_SCRIPT, certDir], { stdio: ["ignore", "ignore", "pipe"] });
      const caBundle = path.join(certDir, "ca.pem");
      const port = await freePort();
      const endpoint = `https://127.0.0.1:${port}`;
      const log = openSync(path.join(dir, "emulator.log"), "a");
      const child = spawn(
        MOTO_PYTHON,
        [LAUNCHER, "-H", "127.0.0.1", "-p", String(port), "--ssl-cert", path.join(certDir, "cert.pem"), "--ssl-key", path.join(certDir, "key.pem")],
        { detached: true, stdio: ["ignore", log, log], env: { ...process.env, ...EMULATOR_ENV } },
      );
      closeSync(log);
      if (child.pid === undefined) throw new Error(`the emulator could not be started with ${MOTO_PYTHON}`);
      child.unref();
      const stackDir = path.join(dir, "cdktf.out", "stacks", STACK_NAME);
      const rec: SandboxRecord = {
        pid: child.pid,
        endpoint,
        caBundle,
        region: config.region,
        config: configFileName,
        stackDir,
        backendConfig: path.join(dir, "sandbox.s3.tfbackend"),
        cliConfig,
        startedAt: new Date().toISOString(),
      };
      writeFileSync(recordFile(dir), `${JSON.stringify(rec, null, 2)}\n`);
      const ca = readFileSync(caBundle, "utf8");
      const deadline = Date.now() + 30_000;
      for (;;) {
        if (!processAlive(child.pid)) throw new Error(`the emulator exited: ${readFileSync(path.join(dir, "emulator.log"), "utf8").slice(-2000)}`);
        const status = await httpsStatus(`${endpoint}/moto-api/`, ca).catch(() => 0);
        if (status > 0 && status < 500) break;
        if (Date.now() > deadline) throw new Error(`the emulator did not answer on ${endpoint} within 30 s`);
        await new Promise((r) => setTimeout(r, 100));
      }
      return rec;
    });
    const rec = record;
    const tfEnv = terraformEnv(cliConfig, {
      AWS_ACCESS_KEY_ID: SANDBOX_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: SANDBOX_CREDENTIALS.secretAccessKey,
      AWS_REGION: config.region,
      AWS_DEFAULT_REGION: config.region,
      AWS_CA_BUNDLE: rec.caBundle,
    });
    const synthEnv = { ...process.env, MIRROR_CONFIG: file, CDKTF_OUTDIR: path.join(dir, "cdktf.out") };
    // Made before the steps start, so that a warning the SDK prints at its first client (its Node.js
    // support notice) does not split a step's line.
    const clientConfig = {
      region: config.region,
      endpoint: rec.endpoint,
      credentials: { ...SANDBOX_CREDENTIALS },
      requestHandler: { httpsAgent: new Agent({ ca: readFileSync(rec.caBundle, "utf8") }) },
    };
    const ssm = new SSMClient(clientConfig);
    const ec2 = new EC2Client(clientConfig);

    if (config.network !== undefined) {
      await steps.run(`the network ${configFileName} names (network.vpcId, network.subnetIds), in the emulator`, async () => {
        created.push(...(await ensureNetwork(ec2, config.network)));
      });
    }
    ec2.destroy();

    // docs/state-bootstrap.md, step 2
    const stateDir = path.join(dir, "cdktf.out", "stacks", STATE_STACK_NAME);
    await steps.run("state stack: npm run synth:state", () => {
      npmRun("synth:state", synthEnv);
      pointProviderAtSandbox(stateDir, rec.endpoint, rec.caBundle);
    });
    const stateTf = new Terraform(stateDir, tfEnv);
    await steps.run("state stack: terraform init", () => stateTf.run(["init", "-input=false", "-no-color"]));
    await steps.run("state stack: terraform apply", () => stateTf.run(["apply", "-auto-approve", "-input=false", "-no-color"]));

    // docs/state-bootstrap.md, step 3 (a throwaway key: the sandbox never reaches Backlog)
    await steps.run("SSH key and host keys in Parameter Store", async () => {
      created.push(...(await putThrowawayKeys(ssm, config.backlog)));
      ssm.destroy();
    });

    // docs/state-bootstrap.md, step 4
    const synthLine = await steps.run("main stack: npm run synth", () => {
      const out = npmRun("synth", synthEnv);
      pointProviderAtSandbox(rec.stackDir, rec.endpoint, rec.caBundle);
      writeFileSync(rec.backendConfig, backendConfigText(rec.endpoint, rec.caBundle));
      return out.split("\n").pop() ?? "";
    });
    const tf = new Terraform(rec.stackDir, tfEnv);
    await steps.run("main stack: terraform init (S3 backend on the state bucket)", () =>
      tf.run(["init", "-input=false", "-no-color", `-backend-config=${rec.backendConfig}`]),
    );
    await steps.run("main stack: terraform plan -out", () => tf.run(["plan", "-input=false", "-no-color", "-out=sandbox.tfplan"]));
    await steps.run("main stack: terraform apply", () => tf.run(["apply", "-input=false", "-no-color", "sandbox.tfplan"]));
    await steps.run("main stack: second terraform plan (must show no change)", async () => {
      const second = await tf.run(["plan", "-input=false", "-no-color", "-detailed-exitcode"], [0, 2]);
      if (second.code !== 0) throw new Error(`the second plan is not empty:\n${second.stdout.slice(-3000)}`);
    });
    const outputs = JSON.parse((await tf.run(["output", "-json"])).stdout) as Outputs;
    writeFileSync(path.join(dir, "timings.json"), `${JSON.stringify(steps.times, null, 2)}\n`);

    console.log(`\n${synthLine}`);
    console.log(`\nCreated in the emulator for ${configFileName}, as you would in the account before apply:`);
    for (const line of created) console.log(`  ${line}`);
    console.log(outputLines(outputs, rec).join("\n"));
    return steps.times;
  } catch (e) {
    // A failed start leaves nothing running unless asked to (to look at the emulator).
    if (record !== undefined && process.env.SANDBOX_KEEP_ON_FAILURE !== "1") {
      await stopProcess(record.pid);
      rmSync(recordFile(dir), { force: true });
      console.error(`sandbox:up failed; the emulator (pid ${record.pid}) was stopped. SANDBOX_KEEP_ON_FAILURE=1 keeps it running.`);
    }
    throw new StepFailed(e instanceof Error ? e.message : String(e));
  }
}

export async function sandboxDown(env: NodeJS.ProcessEnv = process.env): Promise<StepTime[]> {
  const dir = sandboxDir(env);
  const record = readRecord(dir);
  if (record === undefined) {
    console.log(`no sandbox in ${dir}: nothing to stop`);
    return [];
  }
  const steps = new Steps();
  let failure: unknown;
  if (processAlive(record.pid) && existsSync(path.join(record.stackDir, ".terraform"))) {
    const tfEnv = terraformEnv(record.cliConfig, {
      AWS_ACCESS_KEY_ID: SANDBOX_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: SANDBOX_CREDENTIALS.secretAccessKey,
      AWS_REGION: record.region,
      AWS_DEFAULT_REGION: record.region,
      AWS_CA_BUNDLE: record.caBundle,
    });
    await steps.run("main stack: terraform destroy", () => new Terraform(record.stackDir, tfEnv).run(["destroy", "-auto-approve", "-input=false", "-no-color"])).catch((e: unknown) => {
      failure = e;
    });
  }
  await steps.run(`stop the emulator (pid ${record.pid})`, () => stopProcess(record.pid));
  if (failure !== undefined) {
    console.error(`the emulator is stopped, ${dir} is kept for inspection`);
    throw new StepFailed((failure as Error).message);
  }
  rmSync(dir, { recursive: true, force: true });
  console.log(`removed ${path.relative(process.cwd(), dir) || dir}; nothing of the sandbox is running`);
  return steps.times;
}

const UP_USAGE = `usage: [MIRROR_CONFIG=FILE] npm run sandbox:up

Rehearses a deployment without an AWS account: starts the bundled AWS emulator (moto) over HTTPS on
a free loopback port and deploys the configuration MIRROR_CONFIG names (default ${SANDBOX_CONFIG})
as on a new account: the VPC, subnets and NAT gateway its \`network\` names (created in the emulator,
with the configuration's ids, when they do not exist there), the state stack, throwaway SSH and host
keys in the parameters it names, then synth, terraform init, plan, apply and a second plan that must
show no change. It prints what it created, the webhook URLs and AWS_ENDPOINT_URL, and leaves the
emulator running (files in SANDBOX_DIR, default .sandbox/); npm run sandbox:down stops it.

Needs Terraform >= 1.11 (TERRAFORM_BIN) and Python with moto[server] 5.2.1 (MOTO_PYTHON).
SANDBOX_KEEP_ON_FAILURE=1 keeps the emulator running after a failed step.
exit codes: 0 deployed, 1 a step failed (its output is printed), 2 a usage or configuration error,
a missing tool, or a sandbox already running`;

const DOWN_USAGE = `usage: npm run sandbox:down

Destroys what npm run sandbox:up deployed (terraform destroy of the main stack), stops exactly the
emulator it started and removes its directory (SANDBOX_DIR, default .sandbox/). The configuration is
the one sandbox:up recorded; MIRROR_CONFIG is not read.
exit codes: 0 nothing of the sandbox is left running, 1 the destroy failed (the directory is kept),
2 a usage error`;

/** Runs a sandbox step function as a command: a failed step is exit code 1 with its output. */
function stepsCommand(name: string, usage: string, steps: (env: NodeJS.ProcessEnv) => Promise<StepTime[]>): Command<Record<never, never>> {
  return command({
    name,
    usage,
    options: {},
    run: async ({ env, output }) => {
      const started = Date.now();
      try {
        const times = await steps(env);
        if (times.length > 0) output.out(`\n${name} took ${((Date.now() - started) / 1000).toFixed(1)} s`);
        return EXIT.ok;
      } catch (e) {
        if (!(e instanceof StepFailed)) throw e;
        output.err(e.message);
        return EXIT.finding;
      }
    },
  });
}

export const sandboxUpCommand = stepsCommand("sandbox:up", UP_USAGE, sandboxUp);
export const sandboxDownCommand = stepsCommand("sandbox:down", DOWN_USAGE, sandboxDown);

/** `scripts/sandbox.ts up|down` (what npm run sandbox:up and sandbox:down run). */
export function sandboxCommand(which: string | undefined): Command<Record<never, never>> {
  if (which === "up") return sandboxUpCommand;
  if (which === "down") return sandboxDownCommand;
  return command({
    name: "sandbox:up",
    usage: `${UP_USAGE}\n\n${DOWN_USAGE}`,
    options: {},
    run: () => Promise.reject(new UsageError(`unknown sandbox command ${which ?? "(none)"}: give up or down`)),
  });
}

if (require.main === module) main(sandboxCommand(process.argv[2]), process.argv.slice(3));
