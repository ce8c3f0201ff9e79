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
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
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

/**
 * `synthesize()`'s text for `config`: from the run's directory when another file wrote it. When
 * another worker is synthesizing the same configuration (its lock file is there), this one waits for
 * that text rather than synthesizing it a second time (the example, which the first file of each
 * worker synthesizes at the same moment: about 0.5 s of CPU a run); it synthesizes itself when the
 * lock's process is gone without a text.
 */
export function cachedSynthesis(config: unknown, synthesize: () => string): string {
  const dir = process.env[SYNTH_CACHE_ENV];
  const key = dir === undefined || dir === "" ? undefined : cacheKey(config);
  if (dir === undefined || key === undefined) return synthesize();
  const file = path.join(dir, `${createHash("sha256").update(key).digest("hex")}.json`);
  const lock = `${file}.lock`;
  for (;;) {
    const text = readIfThere(file);
    if (text !== undefined) return text;
    if (takeLock(lock)) break;
    waitForLockHolder(lock);
  }
  try {
    // Written by another worker between the first look and the lock.
    const written = readIfThere(file);
    if (written !== undefined) return written;
    const text = synthesize();
    if (cacheKey(config) === key) {
      // Whole or not at all: the other worker may read it at any moment.
      const partial = `${file}.${process.pid}`;
      writeFileSync(partial, text);
      renameSync(partial, file);
    }
    return text;
  } finally {
    rmSync(lock, { force: true });
  }
}

function readIfThere(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    return undefined;
  }
}

/** Creates the lock file holding this process's id; false when another process holds it. */
function takeLock(lock: string): boolean {
  try {
    writeFileSync(lock, String(process.pid), { flag: "wx" });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    return false;
  }
}

/**
 * Returns when the lock is released (its holder wrote the text, or failed) or its holder's process
 * is gone (the lock is removed then, for the caller to take). Looks every 10 ms: a synthesis takes
 * 0.1 to 1 s.
 */
function waitForLockHolder(lock: string): void {
  const tick = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    let holder: number;
    try {
      holder = Number(readFileSync(lock, "utf8"));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      throw e;
    }
    // An empty file: the holder has created it and not yet written its id.
    if (holder > 0 && !alive(holder)) {
      rmSync(lock, { force: true });
      return;
    }
    Atomics.wait(tick, 0, 0, 10);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
