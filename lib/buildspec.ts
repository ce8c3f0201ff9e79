/**
 * Renders the buildspec (version 0.2) shared by every sync project of a stack.
 *
 * The shell lives in `lib/buildspec/mirror-sync.sh` (lintable, runnable on its own). A repository's
 * settings (remote, CodeCommit name, mirror path, ...) are its project's environment variables, not
 * part of the text: the buildspec is one constant per stack, and no configuration value or webhook
 * field is ever parsed by the shell as code (the script reads them as variables only). The YAML is produced by the `yaml` library in block style, so the synthesized JSON
 * carries a buildspec a reviewer can read.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { quote } from "shell-quote";
import { stringify } from "yaml";
import { backlogGitHost, backlogRemoteUrl, mirrorRelativePath } from "./naming";
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

/**
 * CodeBuild refuses an inline buildspec longer than 25,600 characters ("Max buildspec length is
 * 25600"). The limit is not in CodeBuild's documentation; aws-cdk met it and moved large buildspecs
 * out of line (aws/aws-cdk#14974). `__tests__/quotas.test.ts` holds every project of the largest
 * accepted configuration to it and the emulator refuses a longer one (tools/emulator/moto_launcher.py).
 */
export const INLINE_BUILDSPEC_MAX_CHARS = 25_600;

/**
 * The shell as shipped in a buildspec: the file without its shebang, comment lines, blank lines and
 * indentation. The comments and the layout stay in the repository's files (where they are read and
 * linted; the buildspec names them); in the buildspec they would cost about 45% of CodeBuild's
 * inline limit, in every project. Only whole comment lines are dropped (a `#` after code stays), the
 * lines of a multi-line single-quoted string (an awk program) are kept as they are, and the scripts
 * hold no here-document, so nothing the shell runs changes: `__tests__/shipped-shell.test.ts` proves
 * it by comparing bash's own rendering (`declare -f`) of each file with that of its shipped form.
 */
export function minifyShell(text: string): string {
  const kept: string[] = [];
  let inQuotedBlock = false;
  for (const line of text.split("\n")) {
    if (!inQuotedBlock && /^\s*(#|$)/.test(line)) continue;
    kept.push(inQuotedBlock ? line : line.replace(/^\s+/, ""));
    // A line with an odd number of single quotes (outside "...") opens or closes a multi-line '...'
    // string, such as an awk program, whose lines are kept as written. The check is crude on
    // purpose: __tests__/shipped-shell.test.ts is what proves the result.
    const outsideDoubleQuotes = line.replace(/"(?:[^"\\]|\\.)*"/g, "");
    if ((outsideDoubleQuotes.match(/'/g)?.length ?? 0) % 2 === 1) inQuotedBlock = !inQuotedBlock;
  }
  return kept.length === 0 ? "" : `${kept.join("\n")}\n`;
}

/**
 * How the buildspecs are written as YAML: block style, literal blocks, no line folding, and sequence
 * items at their key's indentation (`indentSeq: false`), which keeps every script line two columns
 * (about 900 characters per buildspec) further from the inline limit without changing the document.
 */
export const BUILDSPEC_YAML_OPTIONS = { lineWidth: 0, blockQuote: "literal", indentSeq: false } as const;

const scriptBodies = new Map<string, string>();

/** A shipped shell file as the buildspec carries it ({@link minifyShell}), read once per process. */
export function shellBody(file: string): string {
  let body = scriptBodies.get(file);
  if (body === undefined) {
    body = minifyShell(readFileSync(file, "utf8"));
    scriptBodies.set(file, body);
  }
  return body;
}

/** The sync's shell: the SSH functions, then the sync script. */
function syncScriptBody(): string {
  return `${shellBody(BACKLOG_SSH_SCRIPT_PATH)}${shellBody(SYNC_SCRIPT_PATH)}`;
}

/** Inputs of {@link renderBuildspec}: only what is the same for every repository of a stack. */
export interface BuildspecInputs {
  readonly backlog: Pick<BacklogSettings, "sshKeyParameter" | "hostKeysParameter">;
}

/** Inputs of {@link syncSettings}. */
export interface SyncSettingsInputs {
  readonly backlog: BacklogSettings;
  /** Seconds a build waits for another build of the same repository. */
  readonly lockTimeoutSeconds: number;
  /**
   * Let a sync empty CodeCommit when Backlog advertises no refs (`sync.allowEmptySource`).
   * @default false
   */
  readonly allowEmptySource?: boolean;
}

/** `NAME=value` lines, values shell-quoted; the order is the order given. */
export function shellAssignments(settings: ReadonlyArray<readonly [string, string]>): string {
  return settings.map(([name, value]) => `${name}=${quote([value])}`).join("\n");
}

/**
 * The sync's settings that differ between repositories, as the names of the project environment
 * variables (read by lib/buildspec/mirror-sync.sh) and their values for one repository.
 */
export function repositorySyncSettings(
  backlog: Pick<BacklogSettings, "spaceKey" | "domain">,
  repository: Pick<RepositoryMirrorSpec, "projectKey" | "repository">,
  codecommitRepository: string,
): { readonly BACKLOG_REMOTE: string; readonly CODECOMMIT_REPOSITORY: string; readonly MIRROR_PATH: string } {
  return {
    BACKLOG_REMOTE: backlogRemoteUrl(backlog, repository),
    CODECOMMIT_REPOSITORY: codecommitRepository,
    MIRROR_PATH: mirrorRelativePath(repository),
  };
}

/**
 * The sync's settings that every repository of a stack shares (project environment variables, in
 * this order, before the per-repository ones of {@link repositorySyncSettings}).
 */
export function syncSettings(inputs: SyncSettingsInputs): Array<readonly [string, string]> {
  const { backlog } = inputs;
  const settings: Array<readonly [string, string]> = [
    ["BACKLOG_HOST", backlogGitHost(backlog)],
    ["HOST_KEY_MODE", backlog.scanHostKey === true ? "scan" : "pinned"],
    ["LOCK_TIMEOUT_SECONDS", String(inputs.lockTimeoutSeconds)],
    ["ALLOW_EMPTY_SOURCE", inputs.allowEmptySource === true ? "true" : "false"],
  ];
  // Only when pinned in the configuration: a project variable takes precedence over the buildspec's
  // `env.parameter-store` value of the same name (CodeBuild User Guide, "Create a build project",
  // environment variables: the StartBuild call's value first, then the project's, then the
  // buildspec's), so it must not exist when the keys come from `hostKeysParameter` (validation
  // admits exactly one source).
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
  // The same for every repository: each repository's settings are its project's environment
  // variables (lib/mirror-build.ts), so one text serves every sync project.
  const syncCommand = `(\n${syncScriptBody()})\n`;
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
      // No post_build: the sync publishes no metric. Starting the AWS CLI there cost about 0.5 s per
      // build (`npm run bench:sync`: incremental sync 0.36 -> 0.88 s); the safety net publishes each
      // repository's InSync instead (lib/safety-net.ts).
    },
  };
}

/** The buildspec YAML shared by every sync project of a stack. */
export function renderBuildspec(inputs: BuildspecInputs): string {
  return stringify(buildspecDocument(inputs), BUILDSPEC_YAML_OPTIONS);
}
