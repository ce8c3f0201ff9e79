/**
 * npm run bench:sync: bytes read from the source and wall time per sync, for a generated repository
 * of >= 5,000 commits and >= 50 MB: the first (full) sync, then an incremental sync after one small
 * commit. Target: the incremental sync transfers <= 1% of the full sync's bytes and takes <= 20% of
 * its time. "Time" is the sync's wall time (the build's commands, as CodeBuild's build duration);
 * the time from the webhook to the end of the build is printed next to it. Each is the median of 3 runs. Prints both (and one JSON line); exits 1 when a target is
 * missed.
 *
 * Runs the real path: webhook (API Gateway stand-in) → StartBuild (moto) → synthesized buildspec →
 * sshd (Backlog stand-in, which counts the bytes git-upload-pack sends) → CodeCommit stand-in.
 * The repository is generated once with git fast-import (incompressible random blobs) and cached in
 * /tmp/backlog-e2e-bench-cache between runs.
 */
import { randomBytes } from "node:crypto";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import * as path from "node:path";
import { Harness, refsDiff } from "../tools/e2e/harness";
import { run } from "../tools/e2e/proc";
import { runMain } from "../tools/run-main";

const COMMITS = 5000;
const BLOB_BYTES = 11 * 1024; // 5,000 x 11 KiB of random data: ~55 MB that no compression shrinks
const CACHE = `/tmp/backlog-e2e-bench-cache/v1-${COMMITS}x${BLOB_BYTES}.git`;
const KEY = "BENCH/big";

/** Feeds a fast-import stream of COMMITS commits, each adding one random blob, into `bare`. */
async function generate(bare: string): Promise<void> {
  run("git", ["init", "--quiet", "--bare", "--initial-branch=main", bare]);
  const child = spawn("git", ["--git-dir", bare, "fast-import", "--quiet"], { stdio: ["pipe", "inherit", "inherit"] });
  const write = (chunk: string | Buffer): Promise<void> =>
    new Promise((resolve) => (child.stdin.write(chunk) ? resolve() : child.stdin.once("drain", resolve)));
  const t0 = 1_700_000_000;
  // Without a `from`, fast-import chains each commit onto the branch's previous one.
  for (let i = 0; i < COMMITS; i++) {
    const blob = randomBytes(BLOB_BYTES);
    const msg = `commit ${i}\n`;
    await write(
      `commit refs/heads/main\ncommitter Bench <bench@example.com> ${t0 + i * 60} +0000\ndata ${Buffer.byteLength(msg)}\n${msg}` +
        `M 100644 inline data/${String(i % 100).padStart(2, "0")}/${i}.bin\ndata ${blob.length}\n`,
    );
    await write(blob);
    await write("\n");
  }
  child.stdin.end();
  await new Promise<void>((resolve, reject) => child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`fast-import exited ${code}`)))));
  run("git", ["--git-dir", bare, "tag", "v1", "main~100"]);
}

async function cachedRepository(): Promise<string> {
  if (!existsSync(CACHE)) {
    const t = Date.now();
    const tmp = `${CACHE}.tmp-${process.pid}`;
    mkdirSync(path.dirname(CACHE), { recursive: true });
    rmSync(tmp, { recursive: true, force: true });
    await generate(tmp);
    renameSync(tmp, CACHE);
    console.log(`generated ${CACHE} in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
  return CACHE;
}

const RUNS = 3;

/** One measured sync: bytes git-upload-pack sent, the build's wall time, webhook-to-end time. */
type Run = { bytes: number; seconds: number; endToEnd: number };

/** The run with the median wall time. */
function median(runs: Run[]): Run {
  return [...runs].sort((a, b) => a.seconds - b.seconds)[Math.floor(runs.length / 2)];
}

const mb = (b: number): string => `${(b / 1e6).toFixed(2)} MB`;

async function main(): Promise<number> {
  const cache = await cachedRepository();
  const commits = Number(run("git", ["--git-dir", cache, "rev-list", "--count", "main"]).stdout.trim());
  const size = Number(/size-pack: (\d+)/.exec(run("git", ["--git-dir", cache, "count-objects", "-v"]).stdout)![1]) * 1024;
  console.log(`source repository: ${commits} commits, ${mb(size)} packed`);

  const h = await Harness.start({ hostKeys: "config", repositories: [{ projectKey: "BENCH", repository: "big" }] });
  try {
    const bare = h.source(KEY).bare;
    rmSync(bare, { recursive: true, force: true });
    run("cp", ["-r", cache, bare]);
    run("chmod", ["-R", "a+rX", bare]);

    const measure = async (label: string): Promise<Run> => {
      const before = h.ssh.uploadPackBytes(`${KEY}`).length;
      const t = process.hrtime.bigint();
      const result = await h.sync(KEY);
      const endToEnd = Number(process.hrtime.bigint() - t) / 1e9;
      if (!result.succeeded) throw new Error(`${label} sync failed:\n${result.log}`);
      const diff = refsDiff(h.source(KEY).mirroredRefs(), h.codecommitRefs(KEY));
      if (diff !== "") throw new Error(`${label} sync left different refs:\n${diff}`);
      const bytes = h.ssh.uploadPackBytes(`${KEY}`).slice(before).reduce((a, b) => a + b, 0);
      return { bytes, seconds: result.seconds, endToEnd };
    };

    // Median of RUNS: a full sync starts from an empty EFS mirror and an empty CodeCommit repository;
    // an incremental sync follows one small commit written straight into the source repository.
    const fulls: Run[] = [];
    for (let i = 0; i < RUNS; i++) {
      rmSync(h.mirrorPath(KEY), { recursive: true, force: true });
      rmSync(h.codecommit.repoPath("big"), { recursive: true, force: true });
      h.codecommit.create("big");
      fulls.push(await measure("full"));
    }
    const incrementals: Run[] = [];
    for (let i = 0; i < RUNS; i++) {
      run("git", ["--git-dir", bare, "fast-import", "--quiet"], {
        input: `commit refs/heads/main\ncommitter Bench <bench@example.com> ${1_800_000_000 + i} +0000\ndata 6\nsmall\nfrom refs/heads/main^0\nM 100644 inline CHANGELOG.md\ndata 12\nchange ${String(i).padStart(3, "0")}.\n\n`,
      });
      incrementals.push(await measure("incremental"));
    }
    const full = median(fulls);
    const incremental = median(incrementals);
    const byteRatio = incremental.bytes / full.bytes;
    const timeRatio = incremental.seconds / full.seconds;
    const e2eRatio = incremental.endToEnd / full.endToEnd;
    const list = (runs: Run[]): string => runs.map((r) => r.seconds.toFixed(2)).join(", ");
    console.log(`\nsync runs (build wall time): full ${list(fulls)} s; incremental ${list(incrementals)} s`);
    console.log("\nmedian of 3         bytes from source   sync wall time   webhook->end");
    console.log(`full (first)       ${mb(full.bytes).padStart(17)}   ${full.seconds.toFixed(2).padStart(12)} s   ${full.endToEnd.toFixed(2).padStart(10)} s`);
    console.log(`incremental        ${mb(incremental.bytes).padStart(17)}   ${incremental.seconds.toFixed(2).padStart(12)} s   ${incremental.endToEnd.toFixed(2).padStart(10)} s`);
    console.log(`incremental/full   ${(byteRatio * 100).toFixed(3).padStart(16)}%   ${(timeRatio * 100).toFixed(1).padStart(12)}%   ${(e2eRatio * 100).toFixed(1).padStart(10)}%`);
    const ok = byteRatio <= 0.01 && timeRatio <= 0.2;
    console.log(`targets: bytes <= 1% ${byteRatio <= 0.01 ? "met" : "MISSED"}, time <= 20% ${timeRatio <= 0.2 ? "met" : "MISSED"}`);
    console.log(JSON.stringify({ bench: "sync", commits, packBytes: size, full, incremental, byteRatio, timeRatio, e2eRatio, ok }));
    return ok ? 0 : 1;
  } finally {
    await h.stop();
  }
}

runMain("bench-sync", main);
