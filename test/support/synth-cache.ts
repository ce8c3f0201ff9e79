/**
 * Syntheses shared by the unit test files of one run. Most files synthesize the example
 * configuration, and several the same few others; each file has its own module registry, so each
 * paid for its own synthesis (the example alone 16 times a run, about 0.4 s each). With the cache,
 * the first file to synthesize a configuration writes the synthesized JSON text to a directory made
 * for the run (test/support/synth-cache-setup.js, removed afterwards), and the others read it.
 *
 * A hit gives what a synthesis would: the key is the configuration's exact content (key order and
 * keys holding `undefined` included), and synthesis is deterministic (the same text for the same
 * configuration; the sources do not change during a run). A configuration the key cannot represent
 * exactly (a function, a class instance, NaN, ...) is synthesized every time, and so is one that the
 * synthesis changed. Without the run's directory (another jest project, a single file run with a
 * config that lacks the setup) every call synthesizes.
 */
import { createHash } from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import * as path from "node:path";

/** Names the run's directory; set by test/support/synth-cache-setup.js (which repeats the name). */
export const SYNTH_CACHE_ENV = "MIRROR_UNIT_SYNTH_CACHE";

/** Thrown inside {@link cacheKey} for a value JSON cannot represent exactly. */
const NOT_JSON = Symbol("not JSON");

function exact(value: unknown): unknown {
  if (value === undefined) return { "\u0000": "undefined" };
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") {
    if (!Number.isFinite(value) || Object.is(value, -0)) throw NOT_JSON;
    return value;
  }
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) throw NOT_JSON;
      out.push(exact(value[i]));
    }
    return out;
  }
  if (typeof value === "object") {
    const proto = Object.getPrototypeOf(value);
    if ((proto !== Object.prototype && proto !== null) || Object.getOwnPropertySymbols(value).length > 0) throw NOT_JSON;
    if (Object.prototype.hasOwnProperty.call(value, "\u0000")) throw NOT_JSON;
    return Object.fromEntries(Object.keys(value).map((k) => [k, exact((value as Record<string, unknown>)[k])]));
  }
  throw NOT_JSON;
}

/** The configuration's exact content as text, or undefined when JSON cannot represent it exactly. */
export function cacheKey(config: unknown): string | undefined {
  try {
    return JSON.stringify(exact(config));
  } catch (e) {
    if (e === NOT_JSON) return undefined;
    throw e;
  }
}

/** `synthesize()`'s text for `config`: from the run's directory when another file wrote it. */
export function cachedSynthesis(config: unknown, synthesize: () => string): string {
  const dir = process.env[SYNTH_CACHE_ENV];
  const key = dir === undefined || dir === "" ? undefined : cacheKey(config);
  if (dir === undefined || key === undefined) return synthesize();
  const file = path.join(dir, `${createHash("sha256").update(key).digest("hex")}.json`);
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const text = synthesize();
  if (cacheKey(config) === key) {
    // Whole or not at all: the other worker may read it at any moment.
    const partial = `${file}.${process.pid}`;
    writeFileSync(partial, text);
    renameSync(partial, file);
  }
  return text;
}
