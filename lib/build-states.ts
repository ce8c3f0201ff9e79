/**
 * CodeBuild's final build states (CodeBuild API Reference, `Build.buildStatus`: SUCCEEDED, FAILED,
 * FAULT, TIMED_OUT, IN_PROGRESS, STOPPED). No imports: the alert rule (lib/alerts.ts) and the
 * operations commands (scripts/ops/) read the same list.
 */

/** Build states that end a build without success: each raises an alert. */
export const FAILED_BUILD_STATES = ["FAILED", "FAULT", "TIMED_OUT", "STOPPED"] as const;

/** Whether `status` is one of {@link FAILED_BUILD_STATES}. */
export function isFailedBuildState(status: string): boolean {
  return (FAILED_BUILD_STATES as readonly string[]).includes(status);
}
