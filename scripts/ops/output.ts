/**
 * What the operations commands print. Every line goes through {@link Output}, which replaces any
 * occurrence of the secrets it was given (the Backlog API key) before writing: a second guard
 * behind the rule that no message is ever built from the key.
 */
export interface Output {
  /** One line on standard output. */
  out(line?: string): void;
  /** One line on standard error (progress, notices and errors). */
  err(line: string): void;
}

/** The placeholder that replaces a secret in printed text. */
export const REDACTED = "[BACKLOG_API_KEY]";

/** Replaces every occurrence of each secret in `text`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) {
    if (s.length > 0) out = out.split(s).join(REDACTED);
  }
  return out;
}

/** Output on the process's streams, redacting `secrets`. */
export function processOutput(secrets: readonly string[]): Output {
  return {
    out: (line = "") => process.stdout.write(`${redact(line, secrets)}\n`),
    err: (line) => process.stderr.write(`${redact(line, secrets)}\n`),
  };
}

/** The message of anything thrown, on one line. */
export function oneLine(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.replace(/\s*\n\s*/g, " ").trim();
}
