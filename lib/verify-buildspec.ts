/**
 * Renders the buildspec (version 0.2) of the safety net's `NAME-verify` project.
 *
 * The shell lives in `lib/buildspec/verify-mirrors.sh`, run after the shared SSH functions of
 * `lib/buildspec/backlog-ssh.sh`, both files of the project's source folder (lib/build-scripts.ts),
 * and after a block of shell-quoted settings. The repository list is NOT in the buildspec: CodeBuild
 * refuses an inline buildspec longer than 25,600 characters ("Max buildspec length is 25600", an
 * undocumented CodeBuild limit met by aws-cdk: aws/aws-cdk#14974, #30326), and 200 repositories with
 * names at the lengths validation accepts need up to ~46,000 characters. The list is an S3 object instead (see lib/safety-net.ts), named by the project's
 * environment variable `REPOSITORY_LIST_URI`, so the buildspec's size does not grow with the
 * repositories.
 */
import { stringify } from "yaml";
import { BUILD_SCRIPT_FILES, buildScriptPath } from "./build-scripts";
import { BUILDSPEC_YAML_OPTIONS, HOST_KEYS_ENV, SSH_KEY_ENV, sshKeyTypesVariables, runScriptsCommand } from "./buildspec";
import { IN_SYNC_METRIC, METRIC_NAMESPACE, OLDEST_IN_SYNC_AGE_METRIC, backlogGitHost } from "./naming";
import type { BacklogSettings } from "./props";

/** The verifier script shipped with the module. */
export const VERIFY_SCRIPT_PATH = buildScriptPath(BUILD_SCRIPT_FILES.VerifyMirrors);

/**
 * Repositories checked at once. Below OpenSSH's default `MaxStartups 10:30:100` (sshd_config(5):
 * beyond 10 unauthenticated connections the server starts refusing new ones), so a Backlog SSH
 * server with the default setting does not drop the verifier's connections.
 */
export const VERIFY_PARALLEL_CHECKS = 8;

/** Environment variable (on the project) naming the repository list object. */
export const REPOSITORY_LIST_ENV = "REPOSITORY_LIST_URI";

/** Inputs of {@link renderVerifyBuildspec}. */
export interface VerifyBuildspecInputs {
  readonly stackName: string;
  readonly backlog: BacklogSettings;
  /** How far back (hours) the last in-sync point of an out-of-sync repository is looked for. */
  readonly lookbackHours: number;
}

/** The settings block that precedes the script. */
export function verifySettings(inputs: VerifyBuildspecInputs): Array<readonly [string, string]> {
  const { backlog } = inputs;
  const settings: Array<readonly [string, string]> = [
    ["STACK_NAME", inputs.stackName],
    ["BACKLOG_USER", backlog.spaceKey],
    ["BACKLOG_HOST", backlogGitHost(backlog)],
    ["HOST_KEY_MODE", backlog.scanHostKey === true ? "scan" : "pinned"],
    ["METRIC_NAMESPACE", METRIC_NAMESPACE],
    ["IN_SYNC_METRIC", IN_SYNC_METRIC],
    ["OLDEST_AGE_METRIC", OLDEST_IN_SYNC_AGE_METRIC],
    ["PARALLEL_CHECKS", String(VERIFY_PARALLEL_CHECKS)],
    ["LOOKBACK_HOURS", String(inputs.lookbackHours)],
  ];
  if (backlog.hostKeys !== undefined) settings.push([HOST_KEYS_ENV, backlog.hostKeys.join("\n")]);
  return settings;
}

/** The buildspec as a plain object (what the YAML encodes). */
export function verifyBuildspecDocument(inputs: VerifyBuildspecInputs): Record<string, unknown> {
  const parameterStore: Record<string, string> = { [SSH_KEY_ENV]: inputs.backlog.sshKeyParameter };
  if (inputs.backlog.hostKeysParameter !== undefined) parameterStore[HOST_KEYS_ENV] = inputs.backlog.hostKeysParameter;
  return {
    version: 0.2,
    env: { shell: "bash", variables: sshKeyTypesVariables(), "parameter-store": parameterStore },
    phases: {
      install: {
        commands: [
          // List CodeCommit over HTTPS with the project's role, as the sync pushes.
          "git config --global credential.helper '!aws codecommit credential-helper $@'",
          "git config --global credential.UseHttpPath true",
        ],
      },
      build: { commands: [runScriptsCommand([BUILD_SCRIPT_FILES.BacklogSsh, BUILD_SCRIPT_FILES.VerifyMirrors], verifySettings(inputs))] },
    },
  };
}

/** The buildspec YAML of the verify project. */
export function renderVerifyBuildspec(inputs: VerifyBuildspecInputs): string {
  return stringify(verifyBuildspecDocument(inputs), BUILDSPEC_YAML_OPTIONS);
}
