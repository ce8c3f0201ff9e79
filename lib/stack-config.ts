/**
 * Reading the stack's JSON configuration file: `config/example.json` unless `MIRROR_CONFIG` names
 * another file. Validation is `lib/validation.ts`; this file only finds, reads and parses.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { ConfigError, type StackConfig, validateStackConfig } from "./validation";

/** The environment variable that points at a configuration file. */
export const CONFIG_ENV = "MIRROR_CONFIG";

/** Resolves the configuration path: `MIRROR_CONFIG` (relative to the working directory) or the default. */
export function configPath(env: NodeJS.ProcessEnv, defaultPath: string): string {
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
    throw new ConfigError([`${file} is not valid JSON: ${(e as Error).message}`], `configuration file ${file}`);
  }
  return validateStackConfig(data, `configuration file ${file}`);
}
