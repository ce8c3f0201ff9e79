/**
 * Renders the buildspec (version 0.2) shared by every sync project of a stack.
 *
 * The shell lives in `lib/buildspec/mirror-sync.sh` (lintable, runnable on its own), which reaches the
 * build as a file of the project's source folder (lib/build-scripts.ts); the buildspec runs it. A repository's
 * settings (remote, CodeCommit name, mirror path, ...) are its project's environment variables, not
 * part of the text: the buildspec is one constant per stack, and no configuration value or webhook
 * field is ever parsed by the shell as code (the script reads them as variables only). The YAML is produced by the `yaml` library in block style, so the synthesized JSON
 * carries a buildspec a reviewer can read.
 */
import { stringify } from "yaml";
import { BUILD_SCRIPT_FILES, type BuildScriptFile, buildScriptPath } from "./build-scripts";
import { backlogRemoteUrl, mirrorRelativePath } from "./naming";
import type { BacklogSettings, RepositoryMirrorSpec } from "./props";
import { HOST_KEY_TYPE_PATTERN } from "./host-key-types";
import type { BuildSetting, MirrorInputs } from "./mirror-inputs";
import { escapeTerraformTemplate } from "./terraform-template";
import type { Switch } from "./terraform-values";

/** Environment variable that receives the SSH private key from SSM (`env.parameter-store`). */
export const SSH_KEY_ENV = "SRC_GIT_CREDENTIAL";

/** Project environment variable naming the S3 bucket of the sync's backup bundles. */
export const BACKUP_BUCKET_ENV = "BACKUP_BUCKET";

/**
 * Project environment variable naming the SSM SecureString of the Backlog credentials for Git LFS
 * (setting `lfs.credentialsParameter`); set only when the stack mirrors LFS objects. The build reads
 * the parameter itself (`aws ssm get-parameter`), so that a missing or unreadable parameter fails
 * the LFS step only, after the refs were pushed (an `env.parameter-store` entry would fail the build
 * before the sync starts).
 */
export const LFS_CREDENTIALS_PARAMETER_ENV = "LFS_CREDENTIALS_PARAMETER";

/**
 * Project environment variable with the repository's LFS server (lib/naming.ts
 * `backlogLfsEndpoint`), empty for a repository that opted out (`repositories[].lfs: false`); set
 * only when the stack mirrors LFS objects.
 */
export const LFS_ENDPOINT_ENV = "LFS_ENDPOINT";

/** Environment variable holding the pinned host keys. */
export const HOST_KEYS_ENV = "BACKLOG_HOST_KEYS";

/**
 * Buildspec variable (`env.variables`) with the host-key types a pinned key may have, the rule's
 * pattern (lib/rules.ts), read by lib/buildspec/backlog-ssh.sh: one list for the configuration,
 * preflight and the build. Shared by the sync and the verify buildspecs.
 */
export function sshKeyTypesVariables(): { readonly BACKLOG_SSH_KEY_TYPES: string } {
  return { BACKLOG_SSH_KEY_TYPES: HOST_KEY_TYPE_PATTERN };
}

/** The sync script shipped with the module. */
export const SYNC_SCRIPT_PATH = buildScriptPath(BUILD_SCRIPT_FILES.MirrorSync);

/**
 * Shell functions for SSH access to Backlog (agent with the key, pinned host keys, connection
 * bounds), shared by every build script that reads from Backlog; run before the script.
 */
export const BACKLOG_SSH_SCRIPT_PATH = buildScriptPath(BUILD_SCRIPT_FILES.BacklogSsh);

/**
 * CodeBuild refuses an inline buildspec longer than 25,600 characters ("Max buildspec length is
 * 25600"). The limit is not in CodeBuild's documentation; aws-cdk met it and moved large buildspecs
 * out of line (aws/aws-cdk#14974). The scripts are therefore not in the buildspec (lib/build-scripts.ts);
 * `__tests__/quotas.test.ts` holds every project of the largest accepted configuration to the limit
 * and the emulator refuses a longer one (tools/emulator/moto_launcher.py).
 */
export const INLINE_BUILDSPEC_MAX_CHARS = 25_600;

/**
 * How the buildspecs are written as YAML: block style, literal blocks, no line folding, and sequence
 * items at their key's indentation (`indentSeq: false`).
 */
export const BUILDSPEC_YAML_OPTIONS = { lineWidth: 0, blockQuote: "literal", indentSeq: false } as const;

/**
 * The build command that runs scripts of the project's source folder (lib/build-scripts.ts) in order,
 * in a subshell of the build phase's shell: a script's `set -euo pipefail`, its functions and its
 * `exit` stay inside it. `$CODEBUILD_SRC_DIR` is where CodeBuild put the source folder.
 */
export function runScriptsCommand(files: readonly BuildScriptFile[]): string {
  return `(\n${files.map((file) => `. "$CODEBUILD_SRC_DIR/${file}"`).join("\n")}\n)\n`;
}

/** Inputs of {@link renderBuildspec}: only what is the same for every repository of a stack. */
export interface BuildspecInputs {
  readonly sshKeyParameter: string;
  /** The SSM parameter of the pinned host keys, read into BACKLOG_HOST_KEYS when it is their source. */
  readonly hostKeysParameter: { readonly value: string; readonly when: Switch };
}

/** Inputs of {@link syncSettings}. */
export interface SyncSettingsInputs {
  readonly backlog: Pick<MirrorInputs["backlog"], "gitHost" | "hostKeyMode" | "hostKeys">;
  /** Seconds a build waits for another build of the same repository (text: it may be an expression). */
  readonly lockTimeoutSeconds: string;
  /** `true` lets a sync empty CodeCommit when Backlog advertises no refs (`sync.allowEmptySource`). */
  readonly allowEmptySource: string;
  /** The SSM parameter of the Backlog credentials for Git LFS (setting `lfs.credentialsParameter`), when LFS objects are mirrored. */
  readonly lfs: MirrorInputs["lfs"];
}

/**
 * The sync's settings that differ between repositories, as the names of the project environment
 * variables (read by lib/buildspec/mirror-sync.sh) and their values for one repository.
 */
export function repositorySyncSettings(
  backlog: Pick<BacklogSettings, "spaceKey" | "domain">,
  repository: Pick<RepositoryMirrorSpec, "projectKey" | "repository">,
  codecommitRepository: string,
  refs: { readonly include: string; readonly exclude: string },
): {
  readonly BACKLOG_REMOTE: string;
  readonly CODECOMMIT_REPOSITORY: string;
  readonly MIRROR_PATH: string;
  readonly REF_INCLUDE: string;
  readonly REF_EXCLUDE: string;
} {
  return {
    BACKLOG_REMOTE: backlogRemoteUrl(backlog, repository),
    CODECOMMIT_REPOSITORY: codecommitRepository,
    MIRROR_PATH: mirrorRelativePath(repository),
    REF_INCLUDE: refs.include,
    REF_EXCLUDE: refs.exclude,
  };
}

/**
 * The sync's settings that every repository of a stack shares (project environment variables, in
 * this order, before the per-repository ones of {@link repositorySyncSettings}).
 */
export function syncSettings(inputs: SyncSettingsInputs): BuildSetting[] {
  const { backlog } = inputs;
  return [
    { name: "BACKLOG_HOST", value: backlog.gitHost },
    { name: "HOST_KEY_MODE", value: backlog.hostKeyMode },
    { name: "LOCK_TIMEOUT_SECONDS", value: inputs.lockTimeoutSeconds },
    { name: "ALLOW_EMPTY_SOURCE", value: inputs.allowEmptySource },
    { name: LFS_CREDENTIALS_PARAMETER_ENV, value: inputs.lfs.credentialsParameter, when: inputs.lfs.when },
    // Only when pinned in the configuration: a project variable takes precedence over the buildspec's
    // `env.parameter-store` value of the same name (CodeBuild User Guide, "Create a build project",
    // environment variables: the StartBuild call's value first, then the project's, then the
    // buildspec's), so it must not exist when the keys come from `hostKeysParameter` (validation
    // admits exactly one source).
    { name: HOST_KEYS_ENV, value: backlog.hostKeys.value, when: backlog.hostKeys.when },
  ];
}

/** The install phase of the builds: push over HTTPS with the build role (no software installed). */
export const INSTALL_COMMANDS = [
  // The AWS CLI v2 of the standard image: nothing is installed at build time.
  "git config --global credential.helper '!aws codecommit credential-helper $@'",
  "git config --global credential.UseHttpPath true",
] as const;

/**
 * The sync's buildspec: the same for every repository (their settings are the projects' environment
 * variables, lib/mirror-build.ts), so one text serves every sync project. The text is a Terraform
 * template: literal text escaped, the parameter names inputs (lib/mirror-inputs.ts; expressions in
 * the module).
 */
export function renderBuildspec(inputs: BuildspecInputs): string {
  return renderBuildspecText(
    inputs,
    {
      install: { commands: INSTALL_COMMANDS.map(escapeTerraformTemplate) },
      build: { commands: [escapeTerraformTemplate(runScriptsCommand([BUILD_SCRIPT_FILES.BacklogSsh, BUILD_SCRIPT_FILES.MirrorSync]))] },
      // No post_build: the sync publishes no metric. Starting the AWS CLI there cost about 0.5 s per
      // build (`npm run bench:sync`: incremental sync 0.36 -> 0.88 s); CodeBuild's own state-change
      // event reports the build's end (lib/alerts.ts).
    },
  );
}

/**
 * A buildspec (version 0.2, bash) with `phases` (escaped already) and the Backlog parameters in
 * `env.parameter-store`: the SSH key, and BACKLOG_HOST_KEYS as `hostKeysParameter` says. Under a
 * condition (the module), that entry is a `%{ if }` directive of the template around the line YAML
 * writes for it (an entry of the mapping `env.parameter-store`, indented 4): the document is then
 * written as two YAML texts, `version` and `env` (whose `parameter-store` comes last) before the
 * line, `phases` after it.
 */
export function renderBuildspecText(inputs: BuildspecInputs, phases: Record<string, unknown>): string {
  const { value, when } = inputs.hostKeysParameter;
  const head = (hostKeys: boolean) => ({
    version: 0.2,
    env: {
      shell: "bash",
      variables: Object.fromEntries(Object.entries(sshKeyTypesVariables()).map(([k, v]) => [k, escapeTerraformTemplate(v)])),
      "parameter-store": { [SSH_KEY_ENV]: inputs.sshKeyParameter, ...(hostKeys ? { [HOST_KEYS_ENV]: value } : {}) },
    },
  });
  if (typeof when === "boolean") return stringify({ ...head(when), phases }, BUILDSPEC_YAML_OPTIONS);
  return `${stringify(head(false), BUILDSPEC_YAML_OPTIONS)}%{ if ${when.hcl} }    ${HOST_KEYS_ENV}: ${value}\n%{ endif }${stringify({ phases }, BUILDSPEC_YAML_OPTIONS)}`;
}
