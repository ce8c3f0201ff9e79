/**
 * Every name the module derives from its inputs, in one place, so that validation (uniqueness and
 * length checks) and the constructs can never disagree.
 */
import type { RepositoryMirrorSpec } from "./props";

/** Identifier of the EFS file-system location: CodeBuild exposes the mount path as `CODEBUILD_REPO_DIR`. */
export const EFS_LOCATION_IDENTIFIER = "repo_dir";

/** Where CodeBuild mounts the EFS file system inside the build container. */
export const EFS_MOUNT_POINT = "/mnt/shared";

/** The API Gateway stage that serves the webhooks. */
export const STAGE_NAME = "prod";

/**
 * Tag every CodeCommit repository of a stack carries, with the stack's `name` as value. The build
 * role's CodeCommit grants are scoped by it (`aws:ResourceTag/backlog-mirror:stack`), because
 * CodeCommit names are chosen by the user and share no prefix.
 */
export const MIRROR_STACK_TAG_KEY = "backlog-mirror:stack";

/**
 * `NAME-mirror-`: the prefix of every sync project (and, under `/aws/codebuild/`, of its log group).
 * IAM grants and the failure alert's event pattern are scoped by it rather than by lists that grow
 * with the repositories. Validation refuses a `name` with a `-mirror` segment, so that one stack's
 * prefix can never cover another stack's projects.
 */
export function buildProjectPrefix(name: string): string {
  return `${name}-mirror-`;
}

/** `SPACE.git.DOMAIN`: the Backlog Git SSH host. */
export function backlogGitHost(backlog: { readonly spaceKey: string; readonly domain: string }): string {
  return `${backlog.spaceKey}.git.${backlog.domain}`;
}

/** `SPACE@SPACE.git.DOMAIN:/PROJECT/REPO.git`: the SSH clone URL Backlog shows. */
export function backlogRemoteUrl(
  backlog: { readonly spaceKey: string; readonly domain: string },
  repo: Pick<RepositoryMirrorSpec, "projectKey" | "repository">,
): string {
  return `${backlog.spaceKey}@${backlogGitHost(backlog)}:/${repo.projectKey}/${repo.repository}.git`;
}

/**
 * `https://SPACE.DOMAIN/git/PROJECT/REPO.git/info/lfs`: the repository's Git LFS server. Backlog's
 * HTTPS clone URL is `https://SPACE.DOMAIN/git/PROJECT/REPO.git` (Backlog help, "Summary of Git");
 * Backlog does not document an LFS endpoint, so this is git-lfs's default rule, the remote URL
 * followed by `/info/lfs` (git-lfs docs/api/server-discovery.md, "Guessing the Server"), which is
 * what a git-lfs client of a Backlog clone uses (docs/real-account-checklist.md).
 */
export function backlogLfsEndpoint(
  backlog: { readonly spaceKey: string; readonly domain: string },
  repo: Pick<RepositoryMirrorSpec, "projectKey" | "repository">,
): string {
  return `https://${backlog.spaceKey}.${backlog.domain}/git/${repo.projectKey}/${repo.repository}.git/info/lfs`;
}

/** Key prefix of a repository's LFS objects in the stack's bucket: `lfs/PROJECT/REPO/objects/`. */
export function lfsObjectsPrefix(repo: Pick<RepositoryMirrorSpec, "projectKey" | "repository">): string {
  return `lfs/${repo.projectKey}/${repo.repository}/objects/`;
}

/** `PROJECT/REPO`: the key of a repository in maps, outputs and messages. */
export function repositoryKey(repo: Pick<RepositoryMirrorSpec, "projectKey" | "repository">): string {
  return `${repo.projectKey}/${repo.repository}`;
}

/** The CodeCommit repository a Backlog repository is mirrored into. */
export function codecommitRepositoryName(repo: RepositoryMirrorSpec): string {
  return repo.codecommitRepository ?? repo.repository;
}

/**
 * The CodeBuild project of one repository: `NAME-mirror-CODECOMMIT`, with `.` (allowed in CodeCommit
 * names, not in CodeBuild names) turned into `_`.
 */
export function buildProjectName(name: string, repo: RepositoryMirrorSpec): string {
  return `${buildProjectPrefix(name)}${codecommitRepositoryName(repo).replace(/\./g, "_")}`;
}

/** The SNS topic of the alerts: `NAME-mirror-alerts`. */
export function alertsTopicName(name: string): string {
  return `${name}-mirror-alerts`;
}

/**
 * The dead-letter queue of the failure alerts: `NAME-mirror-alerts-dlq` (EventBridge moves an alert
 * it could not deliver to the topic there).
 */
export function alertsDeadLetterQueueName(name: string): string {
  return `${alertsTopicName(name)}-dlq`;
}

/** The alert state machine (lib/alert-states.ts) and its role: `NAME-mirror-alerts`. */
export function alertsStateMachineName(name: string): string {
  return `${name}-mirror-alerts`;
}

/** The table of each repository's alert state: `NAME-mirror-alert-state`. */
export function alertStateTableName(name: string): string {
  return `${name}-mirror-alert-state`;
}

/** The role EventBridge starts the alert state machine with: `NAME-mirror-alerts-events`. */
export function alertsEventsRoleName(name: string): string {
  return `${name}-mirror-alerts-events`;
}

/** The log group CodeBuild writes a project's logs to. */
export function buildLogGroupName(projectName: string): string {
  return `/aws/codebuild/${projectName}`;
}

/** The bare mirror's path relative to the EFS mount: `PROJECT/REPO.git`. */
export function mirrorRelativePath(repo: Pick<RepositoryMirrorSpec, "projectKey" | "repository">): string {
  return `${repo.projectKey}/${repo.repository}.git`;
}

/** Construct id of a repository's resources: stable, derived only from the Backlog coordinates. */
export function repositoryConstructId(repo: Pick<RepositoryMirrorSpec, "projectKey" | "repository">): string {
  return `${repo.projectKey}-${repo.repository}`;
}

/** CloudWatch namespace of the mirrors' health metric (dimension `Stack`). */
export const METRIC_NAMESPACE = "BacklogCodeCommitMirror";

/**
 * Per stack (dimension `Stack` = NAME), seconds: published by every verifier run, the longest time
 * any repository has gone without being found in sync (lib/safety-net.ts IN_SYNC_STATE_KEY). The
 * only custom metric: one per repository would cost USD 0.30 a month each (Amazon CloudWatch pricing).
 */
export const OLDEST_IN_SYNC_AGE_METRIC = "OldestInSyncAge";

/** The safety net's CodeBuild project (and its role): outside the `NAME-mirror-` prefix. */
export function verifyProjectName(name: string): string {
  return `${name}-verify`;
}
