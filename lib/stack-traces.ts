/**
 * Shorter stack traces while a stack is built and synthesized.
 *
 * CDKTF records a stack trace for every token it makes (each read of a resource attribute, each
 * `dependsOn` entry), with `Error.stackTraceLimit` raised to its maximum, and formats it at once: at
 * 200 repositories that formatting was about a third of the synthesis time. The traces only serve
 * the message of a token that fails to resolve, where the innermost frames are the useful ones.
 * V8's `Error.prepareStackTrace(error, callSites)` hook (Node.js documentation, "Errors", and V8's
 * "Stack trace API") formats a trace; this keeps the innermost frames only, delegating to a hook
 * already installed (source maps), and restores the previous hook afterwards.
 */

/** Frames kept in each trace. */
export const KEPT_FRAMES = 10;

type Prepare = (error: Error, callSites: NodeJS.CallSite[]) => unknown;

/** Runs `fn` with stack traces cut to their innermost {@link KEPT_FRAMES} frames. */
export function withShortStackTraces<T>(fn: () => T): T {
  const previous = Error.prepareStackTrace as Prepare | undefined;
  const prepare: Prepare = (error, callSites) => {
    const kept = callSites.slice(0, KEPT_FRAMES);
    if (previous !== undefined) return previous(error, kept);
    return [String(error), ...kept.map((c) => `    at ${String(c)}`)].join("\n");
  };
  Error.prepareStackTrace = prepare as typeof Error.prepareStackTrace;
  try {
    return fn();
  } finally {
    Error.prepareStackTrace = previous as typeof Error.prepareStackTrace;
  }
}
