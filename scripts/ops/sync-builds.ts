/**
 * What `npm run sync` does with CodeBuild, with the SDK v3's standard credential chain and
 * `AWS_ENDPOINT_URL` (honoured by the SDK itself), apart from how it prints:
 *
 * - {@link resolveNames}: the names given → the repositories of the configuration and their
 *   outputs, refusing every unknown or unapplied name at once, before anything starts.
 * - {@link startBuilds}: `StartBuild` on each repository's sync project (the `repositories` output's
 *   `build_project`), a few at a time; a refused call is that repository's error, the others go on.
 * - {@link waitForBuilds}: `BatchGetBuilds` on the builds still running (at most 100 ids a call,
 *   CodeBuild API reference, BatchGetBuilds "ids": 1-100), first at once, then after a pause that
 *   doubles up to {@link MAX_POLL_SECONDS}, until every build ended or the time is up.
 * - A failed build's last error line: scripts/ops/build-logs.ts (the sync script's `[mirror] ERROR:`
 *   line from the build's log, else the message of the phase that did not succeed).
 */
import { BatchGetBuildsCommand, type BatchGetBuildsCommandOutput, type Build, type CodeBuildClient, StartBuildCommand } from "@aws-sdk/client-codebuild";
import type { StackConfig } from "../../lib/validation";
import { mapLimit } from "./aws";
import { lastErrorLine } from "./build-logs";
import { UserError } from "./command";
import { oneLine } from "./output";
import type { RepositoriesOutput } from "./stack-outputs";

/** The longest pause between two polls of `--wait`. */
export const MAX_POLL_SECONDS = 30;

/** One repository to sync. */
export interface Target {
  /** `PROJECT/REPO`. */
  readonly key: string;
  readonly buildProject: string;
  readonly logGroup: string | null;
}

/** A build as sync reports it. */
export interface SyncBuild {
  readonly key: string;
  readonly buildProject: string;
  readonly buildId: string | null;
  /** CodeBuild's build status; `NOT_STARTED` when StartBuild was refused. */
  readonly status: string;
  /** StartBuild's refusal, or the last error line of a build that did not succeed. */
  readonly error: string | null;
  readonly startTime: Date | null;
  readonly endTime: Date | null;
}

const keyOf = (r: { projectKey: string; repository: string }) => `${r.projectKey}/${r.repository}`;

/**
 * The repositories `names` name (or every configured one with `all`), in the order given, each
 * once. Throws one {@link UserError} naming every name that is not a repository of the
 * configuration (with a case-insensitive match as a suggestion), then one naming every repository
 * that is configured but not in the stack's outputs.
 */
export function resolveNames(names: readonly string[], all: boolean, config: StackConfig, configFile: string, outputs: RepositoriesOutput | null): Target[] {
  const configured = config.repositories.map(keyOf);
  const wanted = all ? configured : [...new Set(names)];
  const unknown = wanted.filter((n) => !configured.includes(n));
  if (unknown.length > 0) {
    const named = unknown.map((n) => {
      const like = configured.find((c) => c.toLowerCase() === n.toLowerCase());
      return like !== undefined ? `${n} (did you mean ${like}?)` : n;
    });
    const what = unknown.length === 1 ? "not a repository of the configuration" : "not repositories of the configuration";
    throw new UserError(
      `${what} ${configFile}: ${named.join(", ")}; its \`repositories\` list the known ones as PROJECT/REPO (npm run sync -- --all starts them all); nothing was started`,
    );
  }
  if (outputs === null) return [];
  const unapplied = wanted.filter((n) => outputs[n] === undefined);
  if (unapplied.length > 0) {
    const verb = unapplied.length === 1 ? "is" : "are";
    throw new UserError(`${unapplied.join(", ")} ${verb} in the configuration but not in the stack's outputs (apply first); nothing was started`);
  }
  return wanted.map((key) => ({ key, buildProject: outputs[key].build_project, logGroup: outputs[key].log_group ?? null }));
}

function awsError(e: unknown): string {
  const err = e as { name?: string; message?: string };
  return `${err.name ?? "Error"}: ${oneLine(err.message ?? String(e))}`;
}

function fromBuild(target: Pick<Target, "key" | "buildProject">, b: Build): SyncBuild {
  const status = b.buildStatus ?? "UNKNOWN";
  return {
    key: target.key,
    buildProject: target.buildProject,
    buildId: b.id ?? null,
    status,
    error: status === "SUCCEEDED" || status === "IN_PROGRESS" ? null : lastErrorLine(b),
    startTime: b.startTime ?? null,
    endTime: b.endTime ?? null,
  };
}

/** Starts the sync build of every target, `concurrency` at a time; the result keeps their order. */
export async function startBuilds(client: CodeBuildClient, targets: readonly Target[], concurrency = 8): Promise<SyncBuild[]> {
  return mapLimit(targets, concurrency, async (target) => {
    try {
      const out = await client.send(new StartBuildCommand({ projectName: target.buildProject }));
      return fromBuild(target, out.build ?? {});
    } catch (e) {
      return { key: target.key, buildProject: target.buildProject, buildId: null, status: "NOT_STARTED", error: `not started: CodeBuild answered ${awsError(e)}`, startTime: null, endTime: null };
    }
  });
}

/** How `--wait` polls: the first pause, the time allowed, and how it sleeps and tells the time (tests inject both). */
export interface WaitOptions {
  readonly firstPauseSeconds: number;
  readonly timeoutSeconds: number;
  /** A failed build's error line, preferred to its phase's message when not null ({@link logErrorLine}). */
  readonly errorLine?: (build: Build) => Promise<string | null>;
  /** Called after each poll that leaves builds running, with them. */
  readonly onPoll?: (running: readonly SyncBuild[]) => void;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

export class WaitError extends Error {}

/**
 * Polls the started builds until each has ended (its status is no longer IN_PROGRESS) or the time
 * is up; resolves with every build (those still running keep IN_PROGRESS). A BatchGetBuilds call
 * that fails (after the SDK's own retries) or a build CodeBuild no longer knows throws a
 * {@link WaitError}.
 */
export async function waitForBuilds(client: CodeBuildClient, builds: readonly SyncBuild[], options: WaitOptions): Promise<{ builds: SyncBuild[]; timedOut: boolean }> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const now = options.now ?? Date.now;
  const deadline = now() + options.timeoutSeconds * 1000;
  const current = new Map(builds.filter((b) => b.buildId !== null).map((b) => [b.buildId as string, b]));
  const running = () => [...current.values()].filter((b) => b.status === "IN_PROGRESS");
  const result = () => builds.map((b) => (b.buildId === null ? b : (current.get(b.buildId) ?? b)));
  let pause = options.firstPauseSeconds;
  for (;;) {
    const ids = running().map((b) => b.buildId as string);
    if (ids.length === 0) return { builds: result(), timedOut: false };
    for (let i = 0; i < ids.length; i += 100) {
      const chunk = ids.slice(i, i + 100);
      let out: BatchGetBuildsCommandOutput;
      try {
        out = await client.send(new BatchGetBuildsCommand({ ids: chunk }));
      } catch (e) {
        throw new WaitError(`cannot read the builds (BatchGetBuilds): ${awsError(e)}`);
      }
      if ((out.buildsNotFound ?? []).length > 0) throw new WaitError(`CodeBuild no longer knows the build ${(out.buildsNotFound ?? []).join(", ")}`);
      for (const b of out.builds ?? []) {
        const before = current.get(b.id ?? "");
        if (before === undefined) continue;
        let seen = fromBuild(before, b);
        if (seen.status !== "IN_PROGRESS" && seen.status !== "SUCCEEDED" && options.errorLine !== undefined) {
          const line = await options.errorLine(b);
          if (line !== null) seen = { ...seen, error: line };
        }
        current.set(b.id as string, seen);
      }
    }
    const still = running();
    if (still.length === 0) continue;
    if (now() >= deadline) return { builds: result(), timedOut: true };
    options.onPoll?.(still);
    await sleep(Math.min(pause, Math.max(0, (deadline - now()) / 1000)) * 1000);
    pause = Math.min(pause === 0 ? 0 : pause * 2, MAX_POLL_SECONDS);
  }
}

const iso = (d: Date | null) => (d === null ? null : d.toISOString().replace(/\.\d{3}Z$/, "Z"));

/** Lines of cells, each column padded to its widest cell, the last cell not padded. */
export function columns(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]))).join("  ").trimEnd());
}

/** The summary line of `--wait`: `N builds: X succeeded, Y did not (FAILED 1, …), Z still running`. */
export function summaryLine(builds: readonly SyncBuild[]): string {
  const started = builds.filter((b) => b.buildId !== null);
  const succeeded = started.filter((b) => b.status === "SUCCEEDED").length;
  const running = started.filter((b) => b.status === "IN_PROGRESS").length;
  const failed = started.filter((b) => b.status !== "SUCCEEDED" && b.status !== "IN_PROGRESS");
  const byStatus = new Map<string, number>();
  for (const b of failed) byStatus.set(b.status, (byStatus.get(b.status) ?? 0) + 1);
  const parts = [`${succeeded} succeeded`];
  if (failed.length > 0) parts.push(`${failed.length} did not (${[...byStatus].map(([s, n]) => `${s} ${n}`).join(", ")})`);
  if (running > 0) parts.push(`${running} still running`);
  return `${started.length} build${started.length === 1 ? "" : "s"}: ${parts.join(", ")}`;
}

/** The JSON of `--json`. */
export function syncJson(builds: readonly SyncBuild[], startedAt: Date, exitCode: number): unknown {
  return {
    startedAt: iso(startedAt),
    exitCode,
    builds: builds.map((b) => ({
      repository: b.key,
      buildProject: b.buildProject,
      buildId: b.buildId,
      status: b.status,
      error: b.error,
      startTime: iso(b.startTime),
      endTime: iso(b.endTime),
      durationSeconds: b.startTime !== null && b.endTime !== null ? Math.round((b.endTime.getTime() - b.startTime.getTime()) / 1000) : null,
    })),
  };
}
