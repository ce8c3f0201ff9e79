import { withShortStackTraces } from "../../lib/stack-traces";

/**
 * Runs `fn`, which builds and synthesizes a stack, as the app does (`synthesize()` in main.ts:
 * inside {@link withShortStackTraces}) and with V8's own format for the stack traces CDKTF records
 * for every token, as under `node dist/main.js`. Jest's source-map hook would otherwise map each of
 * those traces, parsing the source maps of cdktf and of the provider classes on them (megabytes):
 * about a fifth of a synthesizing test file's time, for traces no test reads.
 */
export function synthesizing<T>(fn: () => T): T {
  const hook = Error as { prepareStackTrace?: unknown };
  const sourceMapped = hook.prepareStackTrace;
  hook.prepareStackTrace = undefined;
  try {
    return withShortStackTraces(fn);
  } finally {
    hook.prepareStackTrace = sourceMapped;
  }
}
