/**
 * Command-line parsing shared by the operations commands (node's `util.parseArgs`), with messages
 * that name the option but never echo a value (a mistyped secret must not be printed).
 */
export class UsageError extends Error {}

/**
 * Runs node's `parseArgs` (called by the command, so its types stay precise) and turns its errors
 * into a {@link UsageError} that names the option but not the value given.
 */
export function parsed<R>(run: () => R, usage: string): R {
  try {
    return run();
  } catch (e) {
    const code = (e as { code?: string }).code;
    const name = /'(--?[A-Za-z][\w-]*)/.exec((e as Error).message)?.[1] ?? "";
    const what =
      code === "ERR_PARSE_ARGS_UNKNOWN_OPTION"
        ? `unknown option ${name}`
        : code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL"
          ? "unexpected argument (this command takes options only)"
          : code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE"
            ? `option ${name} needs a value`
            : "bad arguments";
    throw new UsageError(`${what.trim()}\n${usage}`);
  }
}

/** A whole number option within bounds. */
export function wholeNumber(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}`);
  return n;
}

/**
 * The Backlog API key from the environment variable `name` (never a flag: a flag shows in the
 * process list and the shell history). Refuses an unset or empty variable.
 */
export function apiKeyFrom(env: NodeJS.ProcessEnv, name: string): string {
  const apiKey = env[name];
  if (apiKey === undefined || apiKey === "") {
    throw new UsageError(`${name} is not set: export the API key of a Backlog user (Personal settings > API) in it`);
  }
  return apiKey;
}
