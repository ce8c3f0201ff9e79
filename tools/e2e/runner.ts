/**
 * CodeBuild stand-in for the build itself (CodeBuild cannot run here): executes the synthesized
 * buildspec of a project the way CodeBuild's buildspec 0.2 does:
 *   - `env.parameter-store` values are read from SSM (the emulator) before any phase; a missing
 *     parameter fails the build with CodeBuild's message and runs no command;
 *   - the project's `environment_variable` entries (PLAINTEXT) are exported, their Terraform
 *     references resolved by the caller; `env.variables` are exported; `CODEBUILD_<IDENTIFIER>` points at a local directory that stands
 *     for the EFS file system of each `file_system_locations` entry and persists between builds;
 *     AWS_REGION, AWS_DEFAULT_REGION, CODEBUILD_BUILD_ID and CODEBUILD_SRC_DIR are set, and
 *     CODEBUILD_BUILD_SUCCEEDING is 1 until a command fails (then 0), as CodeBuild sets it;
 *   - the project's source: NO_SOURCE, or S3 with a folder location (`BUCKET/PREFIX/`, the build
 *     scripts: lib/build-scripts.ts), whose objects are downloaded from the emulator's S3 into
 *     CODEBUILD_SRC_DIR at their paths relative to the folder before any phase (DOWNLOAD_SOURCE);
 *     an empty or missing folder fails the build there and runs no command;
 *   - all commands of install, pre_build, build and post_build run in ONE bash process (variables
 *     carry over), each command's exit status is checked, a failed phase stops the build
 *     (post_build still runs after a failed build phase);
 *   - HOME is a fresh directory per build (like a fresh container), prepared by the caller;
 *   - the project's `build_timeout` (minutes) ends the build as CodeBuild's timeout does: every
 *     process of the build is killed and the result says `timedOut` (TIMED_OUT). The stand-in has no
 *     PROVISIONING phase, so a build gets the whole timeout for its commands.
 * Unlike CodeBuild, the stand-in does NOT mask parameter-store values in the log, so a test can
 * prove the script itself never prints the key. Buildspec keys the stand-in does not emulate make
 * it throw instead of silently passing.
 */
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { GetParameterCommand, type SSMClient } from "@aws-sdk/client-ssm";
import { parse } from "yaml";
import { killMarked } from "./proc";
import { terraformLiteral } from "../terraform/template";
import type { Stack } from "./stack";

export const BUILD_MARKER_ENV = "BACKLOG_E2E_BUILD";

const PHASES = ["install", "pre_build", "build", "post_build"] as const;
const ENV_KEYS = new Set(["shell", "variables", "parameter-store"]);

export interface BuildOptions {
  readonly stack: Stack;
  readonly projectName: string;
  readonly buildId: string;
  /** Local directory standing for the file system of the project's EFS location(s). */
  readonly efsRoot: string;
  /** Scratch directory of this build (HOME, TMPDIR, source dir, driver script). */
  readonly buildDir: string;
  readonly region: string;
  readonly ssm: SSMClient;
  /** The emulator's S3, where an S3 source is downloaded from. */
  readonly s3: S3Client;
  /** Writes files into the fresh HOME before the build starts (ssh config, git config). */
  readonly prepareHome?: (home: string) => void;
  /** Directories put in front of PATH (the harness's ssh shim). */
  readonly pathPrepend?: readonly string[];
  /** Resolves a project environment variable's value (Terraform references) to its literal value. */
  readonly resolveValue?: (value: string) => string;
  /**
   * What the build container gets from its role and network and the stand-in cannot: AWS
   * credentials and the endpoints of the emulated services.
   */
  readonly platformEnv?: Readonly<Record<string, string>>;
  /**
   * TEST DOUBLE of a slower world: a build timeout in seconds that replaces the project's
   * `build_timeout`, and the sync's LOCK_TIMEOUT_SECONDS that goes with it (the construct derives it
   * from the timeout, lib/mirror-build.ts). A suite whose subject is the build's time budget runs it
   * at this smaller scale instead of CodeBuild's 5-minute minimum. @default the project's settings
   */
  readonly buildClock?: { readonly timeoutSeconds: number; readonly lockTimeoutSeconds: number };
}

export interface BuildResult {
  readonly buildId: string;
  readonly projectName: string;
  readonly exitCode: number;
  readonly succeeded: boolean;
  /** stdout and stderr interleaved, as CodeBuild's log. */
  readonly log: string;
  readonly killed: boolean;
  /** Killed by the project's build timeout (CodeBuild's TIMED_OUT); `killed` is true too. */
  readonly timedOut?: boolean;
  /** Wall time of the build's commands (from the shell's start to its exit), in seconds. */
  readonly seconds: number;
}

export interface BuildHandle {
  readonly buildId: string;
  readonly done: Promise<BuildResult>;
  /** The log so far. */
  log(): string;
  /** SIGKILLs every process of the build (a container that dies). */
  kill(): void;
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** The bash driver that runs every phase's commands in one shell. */
function driverScript(buildDir: string, phases: Record<string, { commands?: string[] } | undefined>): string {
  const lines = [
    "# CodeBuild stand-in driver (generated): every phase's commands in one shell, statuses checked.",
    "__cb_failed=''",
    "export CODEBUILD_BUILD_SUCCEEDING=1",
  ];
  let n = 0;
  for (const phase of PHASES) {
    const commands = phases[phase]?.commands ?? [];
    if (phases[phase] === undefined) continue;
    const upper = phase.toUpperCase();
    // post_build runs after a failed build phase; nothing runs after a failed install/pre_build.
    const guard = phase === "post_build" ? `[ -z "$__cb_failed" ] || [ "$__cb_failed" = BUILD ]` : `[ -z "$__cb_failed" ]`;
    lines.push(`if ${guard}; then`, `  echo ${q(`[Container] Entering phase ${upper}`)}`, "  __cb_phase_failed=''");
    for (const command of commands) {
      const file = path.join(buildDir, `command-${n++}.sh`);
      writeFileSync(file, command);
      const first = command.split("\n")[0];
      lines.push(
        `  if [ -z "$__cb_phase_failed" ]; then`,
        `    echo ${q(`[Container] Running command ${first}`)}`,
        `    . ${q(file)}`,
        "    __cb_rc=$?",
        `    if [ "$__cb_rc" -ne 0 ]; then`,
        `      echo "[Container] Command did not exit successfully ${first.replace(/["$`\\]/g, "")} exit status $__cb_rc"`,
        `      __cb_phase_failed=${upper}`,
      "      CODEBUILD_BUILD_SUCCEEDING=0",
        "    fi",
        "  fi",
      );
    }
    lines.push(
      `  if [ -n "$__cb_phase_failed" ]; then`,
      `    echo ${q(`[Container] Phase complete: ${upper} State: FAILED`)}`,
      `    [ -n "$__cb_failed" ] || __cb_failed=$__cb_phase_failed`,
      "  else",
      `    echo ${q(`[Container] Phase complete: ${upper} State: SUCCEEDED`)}`,
      "  fi",
      "fi",
    );
  }
  lines.push(`[ -z "$__cb_failed" ] || exit 1`, "exit 0", "");
  return lines.join("\n");
}

/** Resolves when a stream has closed. */
function streamClosed(stream: NodeJS.ReadableStream & { closed?: boolean }): Promise<void> {
  return stream.closed === true ? Promise.resolve() : new Promise((resolve) => stream.once("close", () => resolve()));
}

/**
 * DOWNLOAD_SOURCE of an S3 folder source (`BUCKET/PREFIX/`): every object under the prefix, written
 * at its path relative to the folder. Returns the number of files, 0 when the folder is empty.
 */
async function downloadFolderSource(s3: S3Client, location: string, dir: string): Promise<number> {
  const slash = location.indexOf("/");
  if (slash <= 0 || !location.endsWith("/")) throw new Error(`S3 source location ${location} is not a folder (BUCKET/PATH/): a ZIP source is not emulated`);
  const bucket = location.slice(0, slash);
  const prefix = location.slice(slash + 1);
  let files = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const object of page.Contents ?? []) {
      const relative = (object.Key as string).slice(prefix.length);
      if (relative === "" || relative.endsWith("/")) continue;
      const body = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key }));
      const file = path.join(dir, relative);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, await (body.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
      files++;
    }
    token = page.NextContinuationToken;
  } while (token !== undefined);
  return files;
}

/** Starts one build; resolves `done` when every process of the build has ended. */
export async function startBuild(opts: BuildOptions): Promise<BuildHandle> {
  const project = opts.stack.project(opts.projectName);
  const spec = parse(terraformLiteral(project.source.buildspec as string, `the buildspec of ${opts.projectName}`)) as Record<string, any>;
  if (String(spec.version) !== "0.2") throw new Error(`buildspec version ${spec.version} is not emulated`);
  for (const key of Object.keys(spec)) {
    if (!["version", "env", "phases"].includes(key)) throw new Error(`buildspec key ${key} is not emulated`);
  }
  const env = (spec.env ?? {}) as Record<string, any>;
  for (const key of Object.keys(env)) if (!ENV_KEYS.has(key)) throw new Error(`buildspec env.${key} is not emulated`);
  if (env.shell !== undefined && env.shell !== "bash") throw new Error(`env.shell ${env.shell} is not emulated`);
  for (const [phase, body] of Object.entries((spec.phases ?? {}) as Record<string, any>)) {
    if (!(PHASES as readonly string[]).includes(phase)) throw new Error(`phase ${phase} is not emulated`);
    for (const key of Object.keys(body ?? {})) {
      if (key !== "commands") throw new Error(`phases.${phase}.${key} is not emulated`);
    }
  }

  const home = path.join(opts.buildDir, "home");
  const tmp = path.join(opts.buildDir, "tmp");
  const src = path.join(opts.buildDir, "src");
  for (const d of [home, tmp, src, opts.efsRoot]) mkdirSync(d, { recursive: true });
  opts.prepareHome?.(home);

  const buildEnv: Record<string, string> = {
    PATH: [...(opts.pathPrepend ?? []), process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin"].join(":"),
    LANG: "C.UTF-8",
    HOME: home,
    TMPDIR: tmp,
    AWS_REGION: opts.region,
    AWS_DEFAULT_REGION: opts.region,
    CODEBUILD_BUILD_ID: opts.buildId,
    CODEBUILD_SRC_DIR: src,
    [BUILD_MARKER_ENV]: opts.buildId,
  };
  for (const loc of (project.file_system_locations ?? []) as Array<Record<string, string>>) {
    if (loc.type !== "EFS") throw new Error(`file system location type ${loc.type} is not emulated`);
    buildEnv[`CODEBUILD_${loc.identifier.toUpperCase()}`] = opts.efsRoot;
  }
  Object.assign(buildEnv, opts.platformEnv ?? {});
  for (const v of (project.environment?.environment_variable ?? []) as Array<Record<string, string>>) {
    if ((v.type ?? "PLAINTEXT") !== "PLAINTEXT") throw new Error(`environment variable type ${v.type} is not emulated`);
    buildEnv[v.name] = opts.resolveValue !== undefined ? opts.resolveValue(v.value) : v.value;
  }
  for (const [name, value] of Object.entries((env.variables ?? {}) as Record<string, unknown>)) buildEnv[name] = String(value);
  if (opts.buildClock !== undefined && buildEnv.LOCK_TIMEOUT_SECONDS !== undefined) buildEnv.LOCK_TIMEOUT_SECONDS = String(opts.buildClock.lockTimeoutSeconds);

  let log = "";
  const append = (s: string): void => {
    log += s;
  };
  append(`[Container] CodeBuild stand-in: build ${opts.buildId} of project ${opts.projectName}\n`);
  for (const [name, parameter] of Object.entries((env["parameter-store"] ?? {}) as Record<string, string>)) {
    try {
      const out = await opts.ssm.send(new GetParameterCommand({ Name: parameter, WithDecryption: true }));
      buildEnv[name] = out.Parameter?.Value ?? "";
    } catch (e) {
      if ((e as Error).name !== "ParameterNotFound") throw e;
      // CodeBuild's wording for this failure (DOWNLOAD_SOURCE phase, no command runs).
      append(`[Container] Phase context status code: Decrypted Variables Error Message: parameter does not exist: ${parameter}\n`);
      const result = { buildId: opts.buildId, projectName: opts.projectName, exitCode: 1, succeeded: false, log, killed: false, seconds: 0 };
      return { buildId: opts.buildId, done: Promise.resolve(result), log: () => log, kill: () => undefined };
    }
  }

  const source = (project.source ?? {}) as Record<string, string>;
  if (source.type === "S3") {
    const location = opts.resolveValue !== undefined ? opts.resolveValue(source.location) : source.location;
    const files = await downloadFolderSource(opts.s3, location, src).catch((e: Error) => {
      if (e.name !== "NoSuchBucket") throw e;
      return 0;
    });
    if (files === 0) {
      // CodeBuild fails the DOWNLOAD_SOURCE phase and runs no command (the stand-in's wording).
      append(`[Container] CodeBuild stand-in: DOWNLOAD_SOURCE failed: no objects under s3://${location}\n`);
      const result = { buildId: opts.buildId, projectName: opts.projectName, exitCode: 1, succeeded: false, log, killed: false, seconds: 0 };
      return { buildId: opts.buildId, done: Promise.resolve(result), log: () => log, kill: () => undefined };
    }
  } else if (source.type !== "NO_SOURCE") {
    throw new Error(`source type ${source.type} is not emulated`);
  }

  const driver = path.join(opts.buildDir, "driver.sh");
  writeFileSync(driver, driverScript(opts.buildDir, spec.phases ?? {}));
  const started = process.hrtime.bigint();
  const child = spawn("/bin/bash", [driver], { cwd: src, env: buildEnv, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.on("data", (d: Buffer) => append(d.toString()));
  child.stderr.on("data", (d: Buffer) => append(d.toString()));
  let killed = false;
  let timedOut = false;
  const killBuild = (): void => {
    killed = true;
    try {
      process.kill(-(child.pid as number), "SIGKILL");
    } catch {
      // already gone
    }
    killMarked(BUILD_MARKER_ENV, opts.buildId);
  };
  // CodeBuild's build timeout (CreateProject `timeoutInMinutes`, 5 to 2160): the build is stopped and
  // reported TIMED_OUT, whatever its commands were doing.
  const timeoutSeconds = opts.buildClock?.timeoutSeconds ?? Number(project.build_timeout ?? 60) * 60;
  const timer = setTimeout(() => {
    timedOut = true;
    append(`[Container] CodeBuild stand-in: build timed out after ${timeoutSeconds / 60} minutes (the project's build timeout)\n`);
    killBuild();
  }, timeoutSeconds * 1000);
  const done = new Promise<BuildResult>((resolve) => {
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      // Like a container that ends: nothing of the build outlives it (daemons such as ssh-agent).
      killMarked(BUILD_MARKER_ENV, opts.buildId);
      // The log is complete once both pipes are closed (every writer is gone now), not at the exit:
      // under load the shell's last lines can still be in the pipe. A bound in case a process
      // outside the marker still holds a pipe.
      const exitCode = code ?? (signal !== null ? 137 : 1);
      const finish = (): void => resolve({ buildId: opts.buildId, projectName: opts.projectName, exitCode, succeeded: exitCode === 0 && !timedOut, log, killed, timedOut, seconds });
      const bound = setTimeout(finish, 2000);
      void Promise.all([streamClosed(child.stdout), streamClosed(child.stderr)]).then(() => {
        clearTimeout(bound);
        finish();
      });
    });
  });
  return {
    buildId: opts.buildId,
    done,
    log: () => log,
    kill: killBuild,
  };
}
