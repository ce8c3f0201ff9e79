/**
 * Renders the buildspec (version 0.2) of one repository's sync project.
 *
 * The shell lives in `lib/buildspec/mirror-sync.sh` (lintable, runnable on its own). Per repository
 * only a block of assignments changes; each value is quoted for the shell by `shell-quote`, and the
 * values were validated beforehand, so no configuration value and no webhook field can reach the
 * shell as code. The YAML is produced by the `yaml` library in block style, so the synthesized JSON
 * carries a buildspec a reviewer can read.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { quote } from "shell-quote";
import { stringify } from "yaml";
import { IN_SYNC_METRIC, METRIC_NAMESPACE, backlogGitHost, backlogRemoteUrl, mirrorRelativePath, repositoryKey } from "./naming";
import type { BacklogSettings, RepositoryMirrorSpec } from "./props";

/** Environment variable that receives the SSH private key from SSM (`env.parameter-store`). */
export const SSH_KEY_ENV = "SRC_GIT_CREDENTIAL";

/** Project environment variable naming the S3 bucket of the sync's backup bundles. */
export const BACKUP_BUCKET_ENV = "BACKUP_BUCKET";

/** Environment variable holding the pinned host keys. */
export const HOST_KEYS_ENV = "BACKLOG_HOST_KEYS";

/** The sync script shipped with the module. */
export const SYNC_SCRIPT_PATH = path.join(__dirname, "buildspec", "mirror-sync.sh");

/**
 * Shell functions for SSH access to Backlog (agent with the key, pinned host keys, connection
 * bounds), shared by every build script that reads from Backlog; placed before the script.
 */
export const BACKLOG_SSH_SCRIPT_PATH = path.join(__dirname, "buildspec", "backlog-ssh.sh");

const scriptBodies = new Map<string, string>();

/** A shipped shell file without its shebang, read once per process. */
export function shellBody(file: string): string {
  let body = scriptBodies.get(file);
  if (body === undefined) {
    body = readFileSync(file, "utf8").replace(/^#!.*\n/, "");
    scriptBodies.set(file, body);
  }
  return body;
}

/** The sync's shell: the SSH functions, then the sync script. */
function syncScriptBody(): string {
  return `${shellBody(BACKLOG_SSH_SCRIPT_PATH)}${shellBody(SYNC_SCRIPT_PATH)}`;
}

/** Inputs of {@link renderBuildspec}. */
export interface BuildspecInputs {
  readonly backlog: BacklogSettings;
  readonly repository: RepositoryMirrorSpec;
  readonly codecommitRepository: string;
  /** Seconds a build waits for another build of the same repository. */
  readonly lockTimeoutSeconds: number;
  /**
   * Let a sync empty CodeCommit when Backlog advertises no refs (`sync.allowEmptySource`).
   * @default false
   */
  readonly allowEmptySource?: boolean;
  /** The stack's name (dimension `Stack` of the health metric). */
  readonly stackName: string;
}

/**
 * post_build: a build that succeeded publishes its repository's `InSync` metric (lib/safety-net.ts).
 * A failure to publish is a warning, never a failed sync.
 */
export function inSyncMetricCommand(stackName: string, repository: RepositoryMirrorSpec): string {
  const put = quote([
    "aws", "cloudwatch", "put-metric-data", "--namespace", METRIC_NAMESPACE, "--metric-name", IN_SYNC_METRIC,
    "--unit", "Count", "--value", "1", "--dimensions", `Stack=${stackName},Repository=${repositoryKey(repository)}`,
  ]);
  return `if [ "\${CODEBUILD_BUILD_SUCCEEDING:-0}" = 1 ]; then ${put} || echo '[mirror] WARNING: the InSync metric could not be published'; fi`;
}

/** `NAME=value` lines, values shell-quoted; the order is the order given. */
export function shellAssignments(settings: ReadonlyArray<readonly [string, string]>): string {
  return settings.map(([name, value]) => `${name}=${quote([value])}`).join("\n");
}

/** The per-repository settings block that precedes the script body. */
export function syncSettings(inputs: BuildspecInputs): Array<readonly [string, string]> {
  const { backlog, repository } = inputs;
  const settings: Array<readonly [string, string]> = [
    ["BACKLOG_HOST", backlogGitHost(backlog)],
    ["BACKLOG_REMOTE", backlogRemoteUrl(backlog, repository)],
    ["CODECOMMIT_REPOSITORY", inputs.codecommitRepository],
    ["MIRROR_PATH", mirrorRelativePath(repository)],
    ["HOST_KEY_MODE", backlog.scanHostKey === true ? "scan" : "pinned"],
    ["LOCK_TIMEOUT_SECONDS", String(inputs.lockTimeoutSeconds)],
    ["ALLOW_EMPTY_SOURCE", inputs.allowEmptySource === true ? "true" : "false"],
  ];
  if (backlog.hostKeys !== undefined) {
    settings.push([HOST_KEYS_ENV, backlog.hostKeys.join("\n")]);
  }
  return settings;
}

/** The buildspec as a plain object (what the YAML encodes). */
export function buildspecDocument(inputs: BuildspecInputs): Record<string, unknown> {
  const parameterStore: Record<string, string> = { [SSH_KEY_ENV]: inputs.backlog.sshKeyParameter };
  if (inputs.backlog.hostKeysParameter !== undefined) {
    parameterStore[HOST_KEYS_ENV] = inputs.backlog.hostKeysParameter;
  }
  const syncCommand = `(\n${shellAssignments(syncSettings(inputs))}\n${syncScriptBody()})\n`;
  return {
    version: 0.2,
    env: {
      shell: "bash",
      "parameter-store": parameterStore,
    },
    phases: {
      install: {
        commands: [
          // Push over HTTPS with the build role through the AWS CLI v2 of the standard image:
          // nothing is installed at build time.
          "git config --global credential.helper '!aws codecommit credential-helper $@'",
          "git config --global credential.UseHttpPath true",
        ],
      },
      build: {
        commands: [syncCommand],
      },
      post_build: {
        commands: [inSyncMetricCommand(inputs.stackName, inputs.repository)],
      },
    },
  };
}

/** The buildspec YAML of one repository's sync project. */
export function renderBuildspec(inputs: BuildspecInputs): string {
  return stringify(buildspecDocument(inputs), { lineWidth: 0, blockQuote: "literal" });
}
