/**
 * Runs Terraform in a working directory against the emulator and times every command.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { TERRAFORM } from "./tools";

export interface TerraformResult {
  readonly args: readonly string[];
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time in milliseconds. */
  readonly ms: number;
}

export interface RunningTerraform {
  readonly child: ChildProcess;
  readonly done: Promise<TerraformResult>;
}

export class TerraformFailed extends Error {
  constructor(readonly result: TerraformResult) {
    super(
      `terraform ${result.args.join(" ")} exited ${result.code} after ${(result.ms / 1000).toFixed(1)} s\n` +
        `--- stderr (tail) ---\n${tail(result.stderr, 4000)}\n--- stdout (tail) ---\n${tail(result.stdout, 3000)}`,
    );
    this.name = "TerraformFailed";
  }
}

function tail(text: string, chars: number): string {
  return text.length > chars ? `...${text.slice(-chars)}` : text;
}

/** Terraform commands in one directory, with one environment. */
export class Terraform {
  private readonly running = new Set<ChildProcess>();

  constructor(
    readonly dir: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** Starts a command; `done` resolves with its result whatever the exit code. */
  start(args: readonly string[]): RunningTerraform {
    const started = Date.now();
    const child = spawn(TERRAFORM, [...args], { cwd: this.dir, env: this.env, stdio: ["ignore", "pipe", "pipe"] });
    this.running.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const done = new Promise<TerraformResult>((resolve) => {
      child.on("error", (e) => {
        stderr += `\n${e.message}`;
      });
      child.on("close", (code, signal) => {
        this.running.delete(child);
        resolve({ args, code: code ?? (signal !== null ? 128 : 1), stdout, stderr, ms: Date.now() - started });
      });
    });
    return { child, done };
  }

  /** Runs a command; throws {@link TerraformFailed} unless it exits with one of `okCodes`. */
  async run(args: readonly string[], okCodes: readonly number[] = [0]): Promise<TerraformResult> {
    const result = await this.start(args).done;
    if (!okCodes.includes(result.code)) throw new TerraformFailed(result);
    return result;
  }

  /** Kills whatever is still running (after a failed or timed-out test). */
  killAll(): void {
    for (const child of this.running) child.kill("SIGKILL");
  }
}

/** The environment of every Terraform command: no prompts, no checkpoint calls, test credentials. */
export function terraformEnv(cliConfigFile: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Never let a developer's real AWS profile or session reach the emulator run.
  for (const name of ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"]) {
    delete env[name];
  }
  return {
    ...env,
    ...extra,
    TF_CLI_CONFIG_FILE: cliConfigFile,
    TF_IN_AUTOMATION: "1",
    TF_INPUT: "0",
    CHECKPOINT_DISABLE: "1",
    AWS_EC2_METADATA_DISABLED: "true",
  };
}
