/**
 * What `npm run status` reads from AWS, with the SDK v3's standard credential chain and
 * `AWS_ENDPOINT_URL` (honoured by the SDK itself):
 *
 * - CodeBuild: `ListBuildsForProject` without `sortOrder` (newest first, at most 100 ids a page;
 *   setting a sort order fails on projects with more than 100 builds — CodeBuild API reference,
 *   ListBuildsForProject), then `BatchGetBuilds` for the newest few builds of every project
 *   together, at most 100 ids per call (CodeBuild API reference, BatchGetBuilds: "ids", 1-100).
 * - CodeCommit: `GetRepository` (the default branch) and `GetBranch` (its head).
 * - CloudWatch Logs: the tail of a build's log ({@link readBuildLogs}: the last successful
 *   build's, for its Git LFS warning; a failed last build's, for its error line).
 *
 * Calls run a few at a time (`concurrency`); the SDK retries throttled calls itself.
 */
import { BatchGetBuildsCommand, type Build, CodeBuildClient, ListBuildsForProjectCommand } from "@aws-sdk/client-codebuild";
import { CodeCommitClient, GetBranchCommand, GetRepositoryCommand } from "@aws-sdk/client-codecommit";
import type { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { type LfsNotice, type LogLocation, lastErrorLine, lfsWarning, logLocation, type PhaseSeconds, phaseSeconds, readLogTail, scriptErrorLine } from "./build-logs";

/** A sync build as status shows it. */
export interface BuildSummary {
  readonly id: string;
  readonly status: string;
  readonly startTime: Date | null;
  readonly endTime: Date | null;
  readonly durationSeconds: number | null;
  /** How long it queued, provisioned and built (scripts/ops/build-logs.ts). */
  readonly phases: PhaseSeconds;
  /** CodeBuild's message for the phase that did not succeed, or null. */
  readonly phaseError: string | null;
  /** Its log stream, or null when CodeBuild names none. */
  readonly log: LogLocation | null;
}

export type ProjectBuilds = { readonly builds: readonly BuildSummary[] } | { readonly missing: true } | { readonly error: string };

export type CodeCommitHead =
  | { readonly defaultBranch: string | null; readonly commitId: string | null }
  | { readonly missing: true }
  | { readonly error: string };

/** Runs `work` over `items`, `concurrency` at a time, keeping the order. */
export async function mapLimit<T, R>(items: readonly T[], concurrency: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

function message(e: unknown): string {
  const err = e as { name?: string; message?: string };
  return `${err.name ?? "Error"}: ${(err.message ?? String(e)).split("\n")[0]}`;
}

function summary(b: Build): BuildSummary {
  const start = b.startTime ?? null;
  const end = b.endTime ?? null;
  return {
    id: b.id ?? "",
    status: b.buildStatus ?? "UNKNOWN",
    startTime: start,
    endTime: end,
    durationSeconds: start !== null && end !== null ? Math.round((end.getTime() - start.getTime()) / 1000) : null,
    phases: phaseSeconds(b),
    phaseError: b.buildStatus === "SUCCEEDED" || b.buildStatus === "IN_PROGRESS" ? null : lastErrorLine(b),
    log: logLocation(b),
  };
}

/** The newest `perProject` builds of each project, newest first. */
export async function readBuilds(
  client: CodeBuildClient,
  projects: readonly string[],
  perProject = 10,
  concurrency = 8,
): Promise<Map<string, ProjectBuilds>> {
  const result = new Map<string, ProjectBuilds>();
  const ids = new Map<string, string[]>();
  await mapLimit(projects, concurrency, async (project) => {
    try {
      const page = await client.send(new ListBuildsForProjectCommand({ projectName: project }));
      ids.set(project, (page.ids ?? []).slice(0, perProject));
    } catch (e) {
      if ((e as { name?: string }).name === "ResourceNotFoundException") result.set(project, { missing: true });
      else result.set(project, { error: message(e) });
    }
  });
  const all = [...ids.values()].flat();
  const byId = new Map<string, BuildSummary>();
  const chunks: string[][] = [];
  for (let i = 0; i < all.length; i += 100) chunks.push(all.slice(i, i + 100));
  const failed: string[] = [];
  await mapLimit(chunks, concurrency, async (chunk) => {
    try {
      const out = await client.send(new BatchGetBuildsCommand({ ids: chunk }));
      for (const b of out.builds ?? []) if (b.id !== undefined) byId.set(b.id, summary(b));
    } catch (e) {
      failed.push(message(e));
    }
  });
  for (const [project, list] of ids) {
    if (failed.length > 0) result.set(project, { error: failed[0] });
    else result.set(project, { builds: list.map((id) => byId.get(id)).filter((b): b is BuildSummary => b !== undefined) });
  }
  return result;
}

/** The default branch and its head of each CodeCommit repository. */
export async function readHeads(client: CodeCommitClient, repositories: readonly string[], concurrency = 8): Promise<Map<string, CodeCommitHead>> {
  const result = new Map<string, CodeCommitHead>();
  await mapLimit(repositories, concurrency, async (name) => {
    try {
      const repo = await client.send(new GetRepositoryCommand({ repositoryName: name }));
      const branch = repo.repositoryMetadata?.defaultBranch ?? null;
      if (branch === null) {
        result.set(name, { defaultBranch: null, commitId: null });
        return;
      }
      const head = await client.send(new GetBranchCommand({ repositoryName: name, branchName: branch }));
      result.set(name, { defaultBranch: branch, commitId: head.branch?.commitId ?? null });
    } catch (e) {
      if ((e as { name?: string }).name === "RepositoryDoesNotExistException") result.set(name, { missing: true });
      else result.set(name, { error: message(e) });
    }
  });
  return result;
}

/** What status reads in the logs of a repository's builds. */
export interface BuildLogFindings {
  /** The sync script's last error line in the failed build's log, or null. */
  readonly errorLine: string | null;
  /** The Git LFS warning of the last successful build, or null. */
  readonly lfs: LfsNotice | null;
}

/**
 * Reads, for each entry, the tail of `failed`'s log (its `[mirror] ERROR:` line) and of
 * `succeeded`'s (its Git LFS warning): at most two GetLogEvents calls per repository, `concurrency`
 * at a time. A log that cannot be read gives null (status then shows CodeBuild's phase message).
 */
export async function readBuildLogs(
  client: CloudWatchLogsClient,
  entries: ReadonlyMap<string, { readonly failed: BuildSummary | null; readonly succeeded: BuildSummary | null }>,
  concurrency = 8,
): Promise<Map<string, BuildLogFindings>> {
  const result = new Map<string, BuildLogFindings>();
  await mapLimit([...entries], concurrency, async ([key, { failed, succeeded }]) => {
    const failedLog = failed?.log != null ? await readLogTail(client, failed.log) : null;
    const succeededLog = succeeded?.log != null ? await readLogTail(client, succeeded.log) : null;
    result.set(key, { errorLine: failedLog === null ? null : scriptErrorLine(failedLog), lfs: succeededLog === null ? null : lfsWarning(succeededLog) });
  });
  return result;
}
