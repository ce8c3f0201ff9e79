/**
 * Small process helpers for the e2e harness: run a command and get its output, fail loudly with the
 * command's stderr, and find processes that carry a marker in their environment (so the harness
 * stops exactly the processes it started, daemonised ones included).
 */
import { spawn, spawnSync, type SpawnSyncOptions } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command synchronously; throws with its stderr when it fails (unless `allowFail`). */
export function run(
  cmd: string,
  args: readonly string[],
  opts: SpawnSyncOptions & { allowFail?: boolean; input?: string | Buffer } = {},
): RunResult {
  const res = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 256 * 1024 * 1024, ...opts });
  if (res.error) throw res.error;
  const out: RunResult = { code: res.status ?? 128, stdout: String(res.stdout ?? ""), stderr: String(res.stderr ?? "") };
  if (out.code !== 0 && opts.allowFail !== true) {
    throw new Error(`${cmd} ${args.join(" ")} exited ${out.code}:\n${out.stderr || out.stdout}`);
  }
  return out;
}

/** Runs a command asynchronously (so the event loop keeps serving the stand-ins meanwhile). */
export function runAsync(
  cmd: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; allowFail?: boolean } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const out = { code: code ?? 128, stdout, stderr };
      if (out.code !== 0 && opts.allowFail !== true) {
        reject(new Error(`${cmd} ${args.join(" ")} exited ${out.code}:\n${stderr || stdout}`));
      } else resolve(out);
    });
  });
}

/** Process ids whose environment contains `NAME=value` exactly. */
export function pidsWithEnv(name: string, value: string): number[] {
  const needle = `${name}=${value}`;
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, "latin1").split("\0");
      if (env.includes(needle)) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

/** SIGKILLs every process carrying the marker (used after a build ends or is killed). */
export function killMarked(name: string, value: string): number[] {
  const pids = pidsWithEnv(name, value).filter((p) => p !== process.pid);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  return pids;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns true (or throws after `timeoutMs`). */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}
