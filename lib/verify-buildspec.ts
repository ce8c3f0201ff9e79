/**
 * Renders the buildspec (version 0.2) of the safety net's `NAME-verify` project.
 *
 * The shell lives in `lib/buildspec/verify-mirrors.sh`, run after the shared SSH functions of
 * `lib/buildspec/backlog-ssh.sh`, both files of the project's source folder (lib/build-scripts.ts);
 * its settings are the project's environment variables ({@link verifySettings}). The repository list is NOT in the buildspec: CodeBuild
 * refuses an inline buildspec longer than 25,600 characters ("Max buildspec length is 25600", an
 * undocumented CodeBuild limit met by aws-cdk: aws/aws-cdk#14974, #30326), and 200 repositories with
 * names at the lengths validation accepts need up to ~46,000 characters. The list is an S3 object instead (see lib/safety-net.ts), named by the project's
 * environment variable `REPOSITORY_LIST_URI`, so the buildspec's size does not grow with the
 * repositories.
 */
import { BUILD_SCRIPT_FILES, buildScriptPath } from "./build-scripts";
import { type BuildspecInputs, HOST_KEYS_ENV, INSTALL_COMMANDS, renderBuildspecText, runScriptsCommand } from "./buildspec";
import type { BuildSetting, MirrorInputs } from "./mirror-inputs";
import { METRIC_NAMESPACE, OLDEST_IN_SYNC_AGE_METRIC } from "./naming";
import { escapeTerraformTemplate } from "./terraform-template";
import { numberText } from "./terraform-values";

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

/** Inputs of {@link verifySettings}. */
export interface VerifySettingsInputs {
  readonly stackName: string;
  readonly backlog: Pick<MirrorInputs["backlog"], "spaceKey" | "gitHost" | "hostKeyMode" | "hostKeys">;
  /** A repository out of sync this long (seconds) is reported to the alert state machine. */
  readonly outOfSyncAlertSeconds: number;
  /** The alert state machine (lib/alert-states.ts). */
  readonly alertStateMachineArn: string;
  /** `s3://BUCKET/KEY` of the in-sync times the verifier keeps. */
  readonly inSyncStateUri: string;
}

/**
 * The verifier's settings: environment variables of the `NAME-verify` project (as the sync's are of
 * the sync projects), so that the buildspec is the same text whatever the settings.
 */
export function verifySettings(inputs: VerifySettingsInputs): BuildSetting[] {
  const { backlog } = inputs;
  return [
    { name: "STACK_NAME", value: inputs.stackName },
    { name: "BACKLOG_USER", value: backlog.spaceKey },
    { name: "BACKLOG_HOST", value: backlog.gitHost },
    { name: "HOST_KEY_MODE", value: backlog.hostKeyMode },
    { name: "METRIC_NAMESPACE", value: METRIC_NAMESPACE },
    { name: "OLDEST_AGE_METRIC", value: OLDEST_IN_SYNC_AGE_METRIC },
    { name: "PARALLEL_CHECKS", value: String(VERIFY_PARALLEL_CHECKS) },
    { name: "IN_SYNC_STATE_URI", value: inputs.inSyncStateUri },
    { name: "ALERT_STATE_MACHINE_ARN", value: inputs.alertStateMachineArn },
    { name: "OUT_OF_SYNC_ALERT_SECONDS", value: numberText(inputs.outOfSyncAlertSeconds) },
    // Only when pinned in the configuration (see lib/buildspec.ts syncSettings).
    { name: HOST_KEYS_ENV, value: backlog.hostKeys.value, when: backlog.hostKeys.when },
  ];
}

/** The verifier's buildspec: the shared SSH functions, then the verifier (a Terraform template). */
export function renderVerifyBuildspec(inputs: BuildspecInputs): string {
  return renderBuildspecText(inputs, {
    install: { commands: INSTALL_COMMANDS.map(escapeTerraformTemplate) },
    build: { commands: [escapeTerraformTemplate(runScriptsCommand([BUILD_SCRIPT_FILES.BacklogSsh, BUILD_SCRIPT_FILES.VerifyMirrors]))] },
  });
}
