/**
 * Option values shared by the operations commands, checked with messages that name the option but
 * never echo a secret. Parsing itself, `--help` and exit codes are the runner's (./command.ts).
 */
import { UsageError, UserError } from "./command";

/** A whole number option within bounds. */
export function wholeNumber(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    // The value is echoed only when it is a number: a secret pasted into the wrong option is not.
    const given = /^[-+]?[\d.]+(e[-+]?\d+)?$/i.test(value) ? value : "something that is not a number";
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got: ${given}`);
  }
  return n;
}

/**
 * The Backlog API key from the environment variable `name` (never a flag: a flag shows in the
 * process list and the shell history). Refuses an unset or empty variable.
 */
export function apiKeyFrom(env: NodeJS.ProcessEnv, name: string): string {
  const apiKey = env[name];
  if (apiKey === undefined || apiKey === "") {
    throw new UserError(`${name} is not set: export the API key of a Backlog user (Personal settings > API) in it`);
  }
  return apiKey;
}
