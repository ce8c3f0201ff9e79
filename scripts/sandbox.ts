/**
 * A rehearsal without an AWS account: `npm run sandbox:up` / `npm run sandbox:down`.
 *
 * up: starts the bundled AWS emulator (moto through tools/emulator/moto_launcher.py) speaking HTTPS
 * with a throwaway certificate, then follows docs/state-bootstrap.md as a user would, with
 * `config/sandbox.json` (no `network`, so the stack creates its VPC):
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
 * Environment: SANDBOX_DIR (default .sandbox/), MOTO_PYTHON, TERRAFORM_BIN, TF_PROVIDER_MIRROR.
 */
import { type SpawnSyncReturns, execFileSync, spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { generateKeyPairSync } from "node:crypto";
import { Agent, get as httpsGet } from "node:https";
import * as path from "node:path";
import { PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { loadStackConfig } from "../lib/stack-config";
import { STACK_NAME } from "../main";
import { STATE_STACK_NAME } from "../state/main";
import { EMULATOR_ENV, MOTO_LAUNCHER, freePort } from "../tools/emulator/moto";
import { backendConfigText, endpointServices, providerOverride } from "../tools/terraform/emulator-target";
import { Terraform, TerraformFailed, terraformEnv } from "../tools/terraform/terraform";
import { MOTO_PYTHON, providerMirror, requireMoto, requireTerraform, writeCliConfig } from "../tools/terraform/tools";
import { REPO_ROOT, SANDBOX_CREDENTIALS, type SandboxRecord, processAlive, readRecord, recordFile, sandboxDir } from "./sandbox-env";
import { installNodeSupportNotice } from "./ops/node-support";

/** The configuration the sandbox deploys (committed; no `network`). */
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

/** An SSH public key line `ssh-ed25519 BASE64` for a fresh throwaway key (the pinned host key). */
function throwawayHostKey(): { publicLine: string; privatePem: string } {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const raw = publicKey.export({ format: "der", type: "spki" }).subarray(-32);
  const field = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const blob = Buffer.concat([field(Buffer.from("ssh-ed25519")), field(raw)]);
  return { publicLine: `ssh-ed25519 ${blob.toString("base64")}`, privatePem: privateKey.export({ format: "pem", type: "pkcs8" }).toString() };
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
export function outputLines(outputs: Outputs, record: Pick<SandboxRecord, "endpoint" | "caBundle" | "region">): string[] {
  const repos = (outputs.repositories?.value ?? {}) as Record<string, { webhook_url: string }>;
  const lines = ["", "Webhook URLs (PROJECT/REPO URL; in Backlog: Project settings > Git > the repository > Webhook URL):"];
  for (const [key, r] of Object.entries(repos)) lines.push(`${key} ${r.webhook_url}`);
  lines.push("", "Other outputs:");
  for (const [name, o] of Object.entries(outputs)) {
    if (name !== "repositories") lines.push(`${name} = ${typeof o.value === "string" ? o.value : JSON.stringify(o.value)}`);
  }
  lines.push(
    "",
    "The emulator keeps running. Use it with the AWS CLI, terraform or npm run preflight:",
    `AWS_ENDPOINT_URL=${record.endpoint}`,
    `AWS_CA_BUNDLE=${record.caBundle}`,
    `AWS_ACCESS_KEY_ID=${SANDBOX_CREDENTIALS.accessKeyId} AWS_SECRET_ACCESS_KEY=${SANDBOX_CREDENTIALS.secretAccessKey} AWS_REGION=${record.region} AWS_DEFAULT_REGION=${record.region}`,
    `e.g.: MIRROR_CONFIG=${SANDBOX_CONFIG} AWS_ENDPOINT_URL=${record.endpoint} npm run preflight`,
    "Stop it with: npm run sandbox:down",
  );
  return lines;
}

export async function sandboxUp(): Promise<StepTime[]> {
  const dir = sandboxDir();
  const existing = readRecord(dir);
  if (existing !== undefined && processAlive(existing.pid)) {
    throw new Error(`a sandbox is already running (emulator pid ${existing.pid}, ${existing.endpoint}); run npm run sandbox:down first`);
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const steps = new Steps();
  const configFile = path.join(REPO_ROOT, SANDBOX_CONFIG);
  const config = loadStackConfig(configFile);
  let record: SandboxRecord | undefined;

  try {
    const cliConfig = await steps.run("check terraform and moto", () => {
      requireTerraform();
      requireMoto();
      return writeCliConfig(providerMirror(), dir);
    });

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
        config: SANDBOX_CONFIG,
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
    const synthEnv = { ...process.env, MIRROR_CONFIG: configFile, CDKTF_OUTDIR: path.join(dir, "cdktf.out") };

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
    // Made before the step starts, so that a warning the SDK prints at its first client (its Node.js
    // support notice) does not split the step's line.
    const ssm = new SSMClient({
      region: config.region,
      endpoint: rec.endpoint,
      credentials: { ...SANDBOX_CREDENTIALS },
      requestHandler: { httpsAgent: new Agent({ ca: readFileSync(rec.caBundle, "utf8") }) },
    });
    await steps.run("SSH key and host keys in Parameter Store", async () => {
      const key = throwawayHostKey();
      const hostKeysParameter = config.backlog.hostKeysParameter;
      await ssm.send(new PutParameterCommand({ Name: config.backlog.sshKeyParameter, Type: "SecureString", Value: key.privatePem, Overwrite: true }));
      if (hostKeysParameter !== undefined) {
        await ssm.send(new PutParameterCommand({ Name: hostKeysParameter, Type: "String", Value: `${key.publicLine}\n`, Overwrite: true }));
      }
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
    console.log(outputLines(outputs, rec).join("\n"));
    return steps.times;
  } catch (e) {
    // A failed start leaves nothing running unless asked to (to look at the emulator).
    if (record !== undefined && process.env.SANDBOX_KEEP_ON_FAILURE !== "1") {
      await stopProcess(record.pid);
      rmSync(recordFile(dir), { force: true });
      console.error(`sandbox:up failed; the emulator (pid ${record.pid}) was stopped. SANDBOX_KEEP_ON_FAILURE=1 keeps it running.`);
    }
    throw e;
  }
}

export async function sandboxDown(): Promise<StepTime[]> {
  const dir = sandboxDir();
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
    throw failure;
  }
  rmSync(dir, { recursive: true, force: true });
  console.log(`removed ${path.relative(process.cwd(), dir) || dir}; nothing of the sandbox is running`);
  return steps.times;
}

if (require.main === module) {
  installNodeSupportNotice();
  const command = process.argv[2];
  const run = command === "up" ? sandboxUp : command === "down" ? sandboxDown : undefined;
  if (run === undefined) {
    console.error("usage: sandbox.ts up|down");
    process.exit(2);
  }
  const started = Date.now();
  run().then(
    (times) => {
      if (times.length > 0) console.log(`\nsandbox:${command} took ${((Date.now() - started) / 1000).toFixed(1)} s`);
    },
    (e: unknown) => {
      console.error(e instanceof TerraformFailed ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e));
      process.exit(1);
    },
  );
}
