/**
 * What `npm run status` concludes for each repository, apart from any I/O, and how it prints it.
 *
 * Verdicts, first match wins:
 * - `failing`: the newest finished sync build did not succeed (FAILED, FAULT, TIMED_OUT, STOPPED).
 * - `not wired`: something between Backlog and CodeCommit is missing: the repository is not in
 *   the stack's outputs (not applied), its sync project or CodeCommit repository does not exist,
 *   Backlog has no such repository, or Backlog's webhook URL is missing or points elsewhere.
 * - `behind`: Backlog received a push more than the grace period ago and no successful sync
 *   started after it (nor is one running). A sync fetches after it starts, so a sync that started
 *   after the push has the push.
 * - `current`: none of the above.
 * - `unknown`: Backlog or AWS could not be read for it (the error is given).
 *
 * Lag: `lagSeconds` is the time from Backlog's last push to the end of the first successful sync
 * that started after it (among the newest builds read), once there is one; until then
 * `behindSeconds` is the time since that push. Both are null when Backlog reports no push.
 */
import type { BuildLogFindings, BuildSummary, CodeCommitHead, ProjectBuilds } from "./aws";
import type { LfsNotice } from "./build-logs";
import type { BacklogRepository } from "./backlog";
import { FAILED_BUILD_STATES, isFailedBuildState } from "../../lib/build-states";
import type { RepositoryOutput } from "./stack-outputs";

export type Verdict = "current" | "behind" | "failing" | "not wired" | "unknown";
export type WebhookState = "right" | "missing" | "wrong" | "unknown";

export { FAILED_BUILD_STATES };

export interface RepositoryStatus {
  readonly repository: string;
  readonly backlogPushedAt: string | null;
  readonly webhook: WebhookState;
  readonly webhookUrl: string | null;
  readonly expectedWebhookUrl: string | null;
  readonly lastBuild: BuildSummary | null;
  readonly lastSuccessfulBuild: BuildSummary | null;
  readonly codecommitRepository: string | null;
  readonly defaultBranch: string | null;
  readonly head: string | null;
  /** Seconds from the last push to the end of the first successful sync started after it; null until then. */
  readonly lagSeconds: number | null;
  /** Seconds since the last push while no successful sync has started after it; null otherwise. */
  readonly behindSeconds: number | null;
  /** The last finished build's error line when it did not succeed: the sync script's, else CodeBuild's. */
  readonly lastErrorLine: string | null;
  /** The Git LFS objects the last successful sync found and did not mirror, or null. */
  readonly lfs: LfsNotice | null;
  readonly verdict: Verdict;
  readonly reasons: readonly string[];
}

export interface StatusInputs {
  readonly key: string;
  readonly output: RepositoryOutput | undefined;
  /** Backlog's repository, `null` when Backlog does not list it, or the error. */
  readonly backlog: BacklogRepository | null | { readonly error: string };
  readonly builds: ProjectBuilds | undefined;
  readonly head: CodeCommitHead | undefined;
  /** What the builds' logs say (scripts/ops/aws.ts, readBuildLogs), when they were read. */
  readonly logs?: BuildLogFindings;
  readonly now: Date;
  readonly graceMinutes: number;
}

const iso = (d: Date | null | undefined) => (d == null ? null : d.toISOString().replace(/\.\d{3}Z$/, "Z"));

/**
 * The builds status reads the logs of (newest first): the newest finished build when it did not
 * succeed, and the newest successful one.
 */
export function notableBuilds(builds: readonly BuildSummary[]): { readonly failed: BuildSummary | null; readonly succeeded: BuildSummary | null } {
  const lastFinished = builds.find((b) => b.status !== "IN_PROGRESS") ?? null;
  return {
    failed: lastFinished !== null && isFailedBuildState(lastFinished.status) ? lastFinished : null,
    succeeded: builds.find((b) => b.status === "SUCCEEDED") ?? null,
  };
}

/** Judges one repository. */
export function judge(input: StatusInputs): RepositoryStatus {
  const failing: string[] = [];
  const unwired: string[] = [];
  const behind: string[] = [];
  const unknown: string[] = [];
  const out = input.output;
  if (out === undefined) unwired.push("not in the stack's outputs: add it to the configuration and apply");

  let backlog: BacklogRepository | null = null;
  if (input.backlog !== null && "error" in input.backlog) unknown.push(input.backlog.error);
  else if (input.backlog === null) unwired.push("Backlog lists no such repository");
  else backlog = input.backlog;

  let webhook: WebhookState = "unknown";
  if (backlog !== null) {
    webhook = backlog.hookUrl === null || backlog.hookUrl === "" ? "missing" : backlog.hookUrl === out?.webhook_url ? "right" : "wrong";
  }
  if (backlog !== null && out !== undefined) {
    if (webhook === "missing") unwired.push(`no webhook URL in Backlog: set ${out.webhook_url}`);
    if (webhook === "wrong") unwired.push(`Backlog's webhook URL is ${backlog.hookUrl}, not this stack's ${out.webhook_url}`);
  }

  let builds: readonly BuildSummary[] = [];
  if (out !== undefined && input.builds !== undefined) {
    if ("missing" in input.builds) unwired.push(`sync project ${out.build_project} does not exist`);
    else if ("error" in input.builds) unknown.push(`CodeBuild: ${input.builds.error}`);
    else builds = input.builds.builds;
  }
  const lastBuild = builds[0] ?? null;
  const { failed: lastFailed, succeeded: lastSuccessfulBuild } = notableBuilds(builds);
  const lastErrorLine = lastFailed === null ? null : (input.logs?.errorLine ?? lastFailed.phaseError);
  if (lastFailed !== null) {
    const when = lastFailed.endTime !== null ? ` at ${iso(lastFailed.endTime)}` : "";
    failing.push(`the last sync ${lastFailed.status}${when} (build ${lastFailed.id})${lastErrorLine !== null ? `: ${lastErrorLine}` : ""}`);
  }

  let defaultBranch: string | null = null;
  let head: string | null = null;
  if (out !== undefined && input.head !== undefined) {
    if ("missing" in input.head) unwired.push(`CodeCommit repository ${out.codecommit_repository} does not exist`);
    else if ("error" in input.head) unknown.push(`CodeCommit: ${input.head.error}`);
    else ({ defaultBranch, commitId: head } = input.head);
  }

  const pushedAt = backlog?.pushedAt ? new Date(backlog.pushedAt) : null;
  let lagSeconds: number | null = null;
  let behindSeconds: number | null = null;
  if (pushedAt !== null && out !== undefined && input.builds !== undefined && !("error" in input.builds)) {
    const ageMinutes = (input.now.getTime() - pushedAt.getTime()) / 60_000;
    const after = (b: BuildSummary | null) => b !== null && b.startTime !== null && b.startTime.getTime() >= pushedAt.getTime();
    const firstAfter = [...builds].reverse().find((b) => b.status === "SUCCEEDED" && after(b) && b.endTime !== null);
    if (firstAfter?.endTime != null) lagSeconds = Math.max(0, Math.round((firstAfter.endTime.getTime() - pushedAt.getTime()) / 1000));
    else behindSeconds = Math.max(0, Math.round((input.now.getTime() - pushedAt.getTime()) / 1000));
    const running = builds.some((b) => b.status === "IN_PROGRESS" && after(b));
    if (ageMinutes > input.graceMinutes && !after(lastSuccessfulBuild) && !running) {
      behind.push(
        `pushed at ${iso(pushedAt)} (${Math.round(ageMinutes)} min ago), ` +
          (lastSuccessfulBuild === null ? "no successful sync since" : `last successful sync started ${iso(lastSuccessfulBuild.startTime)}`),
      );
    }
  }

  const verdict: Verdict =
    failing.length > 0 ? "failing" : unwired.length > 0 ? "not wired" : unknown.length > 0 ? "unknown" : behind.length > 0 ? "behind" : "current";
  return {
    repository: input.key,
    backlogPushedAt: backlog?.pushedAt ?? null,
    webhook,
    webhookUrl: backlog?.hookUrl ?? null,
    expectedWebhookUrl: out?.webhook_url ?? null,
    lastBuild,
    lastSuccessfulBuild,
    codecommitRepository: out?.codecommit_repository ?? null,
    defaultBranch,
    head,
    lagSeconds,
    behindSeconds,
    lastErrorLine,
    lfs: input.logs?.lfs ?? null,
    verdict,
    reasons: [...failing, ...unwired, ...unknown, ...behind],
  };
}

/** Exit code: 0 all current (hence wired), 1 some repository is not, 2 some could not be judged. */
export function exitCode(statuses: readonly RepositoryStatus[]): number {
  if (statuses.some((s) => s.verdict === "unknown")) return 2;
  return statuses.every((s) => s.verdict === "current") ? 0 : 1;
}

const short = (d: Date | null | undefined) => (d == null ? "-" : d.toISOString().slice(0, 16).replace("T", " "));

function duration(seconds: number | null): string {
  if (seconds === null) return "-";
  return seconds < 60 ? `${seconds}s` : `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, "0")}s`;
}

/** The lag cell: the lag once mirrored, `>N` (at least) while behind, `-` without a push. */
function lagCell(s: Pick<RepositoryStatus, "lagSeconds" | "behindSeconds">): string {
  return s.lagSeconds !== null ? duration(s.lagSeconds) : s.behindSeconds !== null ? `>${duration(s.behindSeconds)}` : "-";
}

/** `queued/provisioning/build` of a build, `-` for a phase not reported. */
function phasesCell(b: BuildSummary | null): string {
  return b === null ? "-" : [b.phases.queued, b.phases.provisioning, b.phases.build].map((p) => duration(p)).join("/");
}

/** The median (the mean of the middle two for an even count) of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : Math.round((sorted[mid - 1] + sorted[mid]) / 2);
}

/** The summary of the lags: median and maximum over the repositories whose last push is mirrored. */
export function lagSummary(statuses: readonly RepositoryStatus[]): string {
  const lags = statuses.map((s) => s.lagSeconds).filter((l): l is number => l !== null);
  const behind = statuses.map((s) => s.behindSeconds).filter((l): l is number => l !== null);
  const parts = [
    lags.length === 0
      ? "lag (last push to mirrored): no repository's last push is mirrored yet"
      : `lag (last push to mirrored): median ${duration(median(lags))}, max ${duration(Math.max(...lags))} over ${lags.length} ${lags.length === 1 ? "repository" : "repositories"}`,
  ];
  if (behind.length > 0) parts.push(`${behind.length} not mirrored yet (oldest push ${duration(Math.max(...behind))} ago)`);
  return parts.join("; ");
}

/**
 * The table (times in UTC; LAG as {@link lagCell}; PHASES the last build's queued, provisioning
 * and build seconds), the count of each verdict, the lag summary, then one line per reason for each
 * repository that is not current and one per repository whose last sync reported Git LFS objects.
 */
export function renderTable(statuses: readonly RepositoryStatus[]): string[] {
  const header = ["REPOSITORY", "PUSHED (BACKLOG)", "WEBHOOK", "LAST SYNC", "ENDED", "TOOK", "QUEUED/PROV/BUILD", "LAG", "DEFAULT BRANCH HEAD", "VERDICT"];
  const rows = statuses.map((s) => [
    s.repository,
    short(s.backlogPushedAt !== null ? new Date(s.backlogPushedAt) : null),
    s.webhook,
    s.lastBuild?.status ?? "-",
    short(s.lastBuild?.endTime),
    duration(s.lastBuild?.durationSeconds ?? null),
    phasesCell(s.lastBuild),
    lagCell(s),
    s.defaultBranch !== null ? `${s.defaultBranch} ${s.head?.slice(0, 12) ?? "?"}` : "-",
    s.verdict,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join("  ");
  const lines = [line(header), ...rows.map(line)];
  const counts = new Map<Verdict, number>();
  for (const s of statuses) counts.set(s.verdict, (counts.get(s.verdict) ?? 0) + 1);
  lines.push("", `${statuses.length} repositories (times in UTC): ${[...counts].map(([v, n]) => `${n} ${v}`).join(", ")}`, lagSummary(statuses));
  for (const s of statuses.filter((x) => x.verdict !== "current")) {
    for (const r of s.reasons) lines.push(`  ${s.repository}: ${r}`);
  }
  for (const s of statuses.filter((x) => x.lfs !== null)) {
    const n = s.lfs as LfsNotice;
    lines.push(`  ${s.repository}: uses Git LFS: ${n.atLeast ? "at least " : ""}${n.objects} LFS object(s) not mirrored, CodeCommit holds their pointer files (README, What it does not do)`);
  }
  return lines;
}

/** The machine-readable form (`--json`). */
export function toJson(statuses: readonly RepositoryStatus[], now: Date): unknown {
  const build = (b: BuildSummary | null) =>
    b === null ? null : { id: b.id, status: b.status, startTime: iso(b.startTime), endTime: iso(b.endTime), durationSeconds: b.durationSeconds, phases: b.phases };
  const lags = statuses.map((s) => s.lagSeconds).filter((l): l is number => l !== null);
  return {
    checkedAt: iso(now),
    exitCode: exitCode(statuses),
    lag: { medianSeconds: lags.length > 0 ? median(lags) : null, maxSeconds: lags.length > 0 ? Math.max(...lags) : null, repositories: lags.length },
    repositories: statuses.map((s) => ({ ...s, lastBuild: build(s.lastBuild), lastSuccessfulBuild: build(s.lastSuccessfulBuild) })),
  };
}
