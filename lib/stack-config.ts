/**
 * Reading the stack's JSON configuration file: `config/example.json` unless `MIRROR_CONFIG` names
 * another file. Validation is `lib/validation.ts`; this file only finds, reads and parses.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { type ParseError, parse as parseJsonc, printParseErrorCode } from "jsonc-parser";
import { ConfigError, type StackConfig, validateStackConfig } from "./validation";

/** The environment variable that points at a configuration file. */
export const CONFIG_ENV = "MIRROR_CONFIG";

/**
 * The configuration every command reads when `MIRROR_CONFIG` is not set (relative to the working
 * directory): the synthesis, the state stack, preflight, discover and status.
 */
export const DEFAULT_CONFIG = "config/example.json";

/** Resolves the configuration path: `MIRROR_CONFIG` or {@link DEFAULT_CONFIG}, relative to the working directory. */
export function configPath(env: NodeJS.ProcessEnv, defaultPath: string = path.resolve(DEFAULT_CONFIG)): string {
  const fromEnv = env[CONFIG_ENV];
  return fromEnv !== undefined && fromEnv !== "" ? path.resolve(fromEnv) : defaultPath;
}

/** Reads, parses and validates a configuration file; throws {@link ConfigError} on any problem. */
export function loadStackConfig(file: string): StackConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError([`cannot read ${file}: ${(e as Error).message}`], `configuration file ${file}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ConfigError([jsonSyntaxError(text, (e as Error).message)], `configuration file ${file}`);
  }
  return validateStackConfig(data, `configuration file ${file}`);
}

/** 1-based line and column of a character offset. */
function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split("\n");
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

/**
 * Describes a JSON syntax error once, with its line and column: `JSON syntax error at line 3,
 * column 12: Expected ',' or '}' after property value`. V8's message gives the position of most
 * errors; where it does not (an unexpected token), jsonc-parser (VS Code's parser) locates the first.
 */
export function jsonSyntaxError(text: string, v8Message: string): string {
  // V8: `Unexpected token 'x', "…the text…" is not valid JSON` or `… in JSON at position N`.
  const reason = v8Message
    .replace(/, (?:\.\.\.)?"[\s\S]*"(?:\.\.\.)? is not valid JSON$/, "")
    .replace(/ at position \d+.*$/s, "")
    .replace(/ in JSON$/, "")
    .replace(/^JSON\.parse: /, "");
  const v8Position = /at position (\d+)/.exec(v8Message);
  let offset: number | undefined = v8Position !== null ? Number(v8Position[1]) : undefined;
  let located = reason;
  if (offset === undefined) {
    const errors: ParseError[] = [];
    parseJsonc(text, errors, { allowTrailingComma: false, disallowComments: true, allowEmptyContent: false });
    if (errors.length > 0) {
      offset = errors[0].offset;
      located = `${reason} (${printParseErrorCode(errors[0].error)})`;
    }
  }
  if (offset === undefined) return `JSON syntax error: ${reason}`;
  const { line, column } = lineAndColumn(text, offset);
  return `JSON syntax error at line ${line}, column ${column}: ${located}`;
}
