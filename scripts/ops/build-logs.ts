/**
 * What a sync build says about itself, for `npm run sync` and `npm run status`:
 *
 * - {@link phaseSeconds}: how long it queued, provisioned and ran its build phase (BatchGetBuilds
 *   `phases[].phaseType` and `durationInSeconds`; CodeBuild API reference, BuildPhase).
 * - {@link lastErrorLine}: the message CodeBuild gives the last phase that did not succeed
 *   (`phases[].contexts[].message`, with the phase type and the context's `statusCode`), which
 *   needs nothing besides `codebuild:BatchGetBuilds`.
 * - {@link readLogTail}: the last {@link LOG_LINES} events of the build's log stream (CodeBuild
 *   names the group and the stream in BatchGetBuilds `logs`; CloudWatch Logs `GetLogEvents`, one
 *   call per build), in which {@link scriptErrorLine} finds the sync script's last
 *   `[mirror] ERROR:` line and {@link lfsWarning} its Git LFS warning
 *   (lib/buildspec/mirror-sync.sh, `fail` and `report_lfs`; both are among its last lines).
 */
import { type CloudWatchLogsClient, GetLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import type { Build } from "@aws-sdk/client-codebuild";
import { oneLine } from "./output";

/** How many of a build's last log events are searched. */
export const LOG_LINES = 100;

/** The sync script's error lines (`fail`). */
const SCRIPT_ERROR = /\[mirror\] ERROR: /;

/**
 * The sync script's Git LFS warning (`report_lfs`): `uses Git LFS: [at least ]N LFS object(s)`.
 * The e2e suite checks this pattern against the line a real sync prints.
 */
export const LFS_WARNING = /uses Git LFS: (at least )?(\d+) LFS object\(s\)/;

/** The phases status shows, in seconds; null where the build has not reported the phase. */
export interface PhaseSeconds {
  readonly queued: number | null;
  readonly provisioning: number | null;
  readonly build: number | null;
}

/** The Git LFS objects the last sync found and did not mirror. */
export interface LfsNotice {
  /** Distinct LFS objects the tips of the mirrored refs point at. */
  readonly objects: number;
  /** True when the sync scanned only part of the tips (then `objects` is a lower bound). */
  readonly atLeast: boolean;
}

/** Durations of the QUEUED, PROVISIONING and BUILD phases. */
export function phaseSeconds(build: Build): PhaseSeconds {
  const of = (type: string) => build.phases?.find((p) => p.phaseType === type)?.durationInSeconds ?? null;
  return { queued: of("QUEUED"), provisioning: of("PROVISIONING"), build: of("BUILD") };
}

/** The last error line of a build that did not succeed: `PHASE: STATUS_CODE: MESSAGE`, or null. */
export function lastErrorLine(build: Build): string | null {
  for (const phase of [...(build.phases ?? [])].reverse()) {
    if (phase.phaseStatus === undefined || phase.phaseStatus === "SUCCEEDED") continue;
    const context = [...(phase.contexts ?? [])].reverse().find((c) => (c.message ?? "").trim() !== "");
    if (context === undefined) continue;
    return [phase.phaseType, context.statusCode, oneLine(context.message ?? "")].filter((s) => s !== undefined && s !== "").join(": ");
  }
  return null;
}

/** A build's log stream in CloudWatch Logs. */
export interface LogLocation {
  readonly group: string;
  readonly stream: string;
}

/** Where a build's log is (BatchGetBuilds `logs`), or null when CodeBuild names none. */
export function logLocation(build: Pick<Build, "logs">): LogLocation | null {
  const group = build.logs?.groupName;
  const stream = build.logs?.streamName;
  return group === undefined || stream === undefined || group === "" || stream === "" ? null : { group, stream };
}

/** The last {@link LOG_LINES} events of the log, as lines; null when it cannot be read. */
export async function readLogTail(logs: CloudWatchLogsClient, where: LogLocation): Promise<string[] | null> {
  try {
    const out = await logs.send(new GetLogEventsCommand({ logGroupName: where.group, logStreamName: where.stream, startFromHead: false, limit: LOG_LINES }));
    return (out.events ?? []).flatMap((e) => (e.message ?? "").split("\n"));
  } catch {
    return null;
  }
}

/** The last `[mirror] ERROR:` line, from that marker on, or null. */
export function scriptErrorLine(lines: readonly string[]): string | null {
  const hit = [...lines].reverse().find((l) => SCRIPT_ERROR.test(l));
  return hit === undefined ? null : oneLine(hit.slice(hit.search(SCRIPT_ERROR)));
}

/** The sync's Git LFS warning, or null when it printed none. */
export function lfsWarning(lines: readonly string[]): LfsNotice | null {
  for (const line of [...lines].reverse()) {
    const m = LFS_WARNING.exec(line);
    if (m !== null) return { objects: Number(m[2]), atLeast: m[1] !== undefined };
  }
  return null;
}

/** The last `[mirror] ERROR:` line of the build's log, or null when there is none or the log cannot be read. */
export async function logErrorLine(logs: CloudWatchLogsClient, build: Build): Promise<string | null> {
  const where = logLocation(build);
  const lines = where === null ? null : await readLogTail(logs, where);
  return lines === null ? null : scriptErrorLine(lines);
}
