/**
 * What `npm run sandbox:up` leaves behind for the commands that follow it (`npm run preflight`,
 * `npm run sandbox:down`): the record in `.sandbox/sandbox.json` (or `$SANDBOX_DIR`), and the AWS
 * SDK client settings that honour `AWS_CA_BUNDLE` as the AWS CLI does.
 *
 * The directory is git-ignored; it holds the emulator's throwaway certificate, its log, the
 * synthesized stacks and the state stack's local state. Nothing in it is a real secret.
 */
import { existsSync, readFileSync } from "node:fs";
import { Agent } from "node:https";
import * as path from "node:path";
import { rootCertificates } from "node:tls";

/** The repository's root (scripts/..). */
export const REPO_ROOT = path.resolve(__dirname, "..");

/** The sandbox's directory: `$SANDBOX_DIR`, else `.sandbox/` in the repository. */
export function sandboxDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.SANDBOX_DIR;
  return fromEnv !== undefined && fromEnv !== "" ? path.resolve(fromEnv) : path.join(REPO_ROOT, ".sandbox");
}

/** `.sandbox/sandbox.json`: what a running sandbox is. */
export interface SandboxRecord {
  /** Process id of the emulator (moto's server), started detached by sandbox:up. */
  readonly pid: number;
  /** `https://127.0.0.1:PORT` */
  readonly endpoint: string;
  /** The CA that signed the emulator's certificate. */
  readonly caBundle: string;
  readonly region: string;
  /** The configuration the sandbox deployed. */
  readonly config: string;
  /** The main stack's Terraform directory, with its emulator override and backend file. */
  readonly stackDir: string;
  readonly backendConfig: string;
  readonly cliConfig: string;
  readonly startedAt: string;
}

/** The emulator's test credentials (moto accepts any). */
export const SANDBOX_CREDENTIALS = { accessKeyId: "testing", secretAccessKey: "testing" } as const;

export function recordFile(dir: string): string {
  return path.join(dir, "sandbox.json");
}

/** The record of the sandbox in `dir`, or undefined when none was started there. */
export function readRecord(dir: string): SandboxRecord | undefined {
  const file = recordFile(dir);
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as SandboxRecord) : undefined;
}

/** Whether a process with this id exists (signal 0 checks without signalling). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The running sandbox that `AWS_ENDPOINT_URL` names, if any. */
export function runningSandbox(env: NodeJS.ProcessEnv = process.env): SandboxRecord | undefined {
  const record = readRecord(sandboxDir(env));
  return record !== undefined && env.AWS_ENDPOINT_URL !== undefined && env.AWS_ENDPOINT_URL.replace(/\/$/, "") === record.endpoint && processAlive(record.pid) ? record : undefined;
}

/**
 * Client settings for AWS SDK v3: the standard credential chain and `AWS_ENDPOINT_URL` stay the
 * SDK's own; what is added is `AWS_CA_BUNDLE` (which the JavaScript SDK, unlike the CLI and the Go
 * SDK, does not read), and, when `AWS_ENDPOINT_URL` is the running sandbox's endpoint, the sandbox's
 * CA and, if no credentials are set in the environment, its test credentials.
 */
export function sdkClientConfig(
  region: string,
  env: NodeJS.ProcessEnv = process.env,
): { region: string; requestHandler?: { httpsAgent: Agent }; credentials?: { accessKeyId: string; secretAccessKey: string }; sandbox?: SandboxRecord } {
  const sandbox = runningSandbox(env);
  const bundles = [env.AWS_CA_BUNDLE, sandbox?.caBundle].filter((b): b is string => b !== undefined && b !== "");
  const config: ReturnType<typeof sdkClientConfig> = { region };
  if (bundles.length > 0) {
    const ca = [...rootCertificates, ...bundles.map((b) => readFileSync(b, "utf8"))];
    config.requestHandler = { httpsAgent: new Agent({ ca, keepAlive: true }) };
  }
  if (sandbox !== undefined) {
    config.sandbox = sandbox;
    if (env.AWS_ACCESS_KEY_ID === undefined && env.AWS_PROFILE === undefined) config.credentials = { ...SANDBOX_CREDENTIALS };
  }
  return config;
}
