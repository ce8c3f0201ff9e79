#!/usr/bin/env node
/**
 * Synthesis benchmark: prints figures, asserts nothing (the budgets are printed beside them).
 *
 *   npm run bench            (builds dist/ first)
 *   BENCH_RUNS=9 npm run bench
 *
 * Measures, each as the median of BENCH_RUNS runs of a fresh process (the cases taking turns, so
 * that a busy machine slows them alike):
 *   - `npm run synth` of the example, as a user types it (npm + build + synthesis);
 *   - `node dist/main.js` of the example: wall time and peak RSS;
 *   - the same with 200 repositories in 200 projects (the largest count validation accepts), and its
 *     time as a multiple of the example's (budget 1.5x, issue 16);
 *   - the same example synthesis with the provider package root preloaded, which is what the usual
 *     barrel import of the whole provider package (instead of one module per class) costs every process.
 * Writes them into the figures table of docs/development.md (the one place every measured figure lives); with
 * BENCH_SUITES=1 it also times `npm test`, the type check, the sandbox (up, preflight, down), the
 * demo and the slow suites once each and writes those rows too.
 * Then runs the sync benchmark (`npm run bench:sync`) when the project has one.
 */
"use strict";
const { spawnSync } = require("node:child_process");
const { mkdtempSync, writeFileSync, readFileSync, rmSync } = require("node:fs");
const { tmpdir } = require("node:os");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..");
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const RSS_PROBE = path.join(__dirname, "rss-probe.js");
const work = mkdtempSync(path.join(tmpdir(), "mirror-bench-"));

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Runs `command` once; returns its wall ms and the peak RSS (MB) the probe reported, if it ran. */
function runOnce(label, command, args, env, i) {
  const rssFile = path.join(work, `rss-${i}`);
  rmSync(rssFile, { force: true });
  const start = process.hrtime.bigint();
  const r = spawnSync(command, args, {
    cwd: ROOT,
    env: { ...process.env, CDKTF_OUTDIR: path.join(work, "out"), RSS_PROBE_FILE: rssFile, ...env },
    encoding: "utf8",
  });
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) {
    throw new Error(`${label} failed (${r.status}): ${r.stderr}`);
  }
  let rssMb;
  try {
    rssMb = Number(readFileSync(rssFile, "utf8")) / 1024;
  } catch {
    // the command did not load the probe (npm itself)
  }
  return { wallMs, rssMb };
}

/**
 * Runs each case RUNS times, round by round (case 1, case 2, ..., then again), so that every case
 * meets the same background load and the ratios between them hold on a busy machine; returns each
 * case's median wall ms and median peak RSS (MB).
 */
function measureAll(cases) {
  const runs = cases.map(() => []);
  for (let i = 0; i < RUNS; i++) {
    cases.forEach((c, k) => runs[k].push(runOnce(c.label, c.command, c.args, c.env ?? {}, i)));
  }
  return cases.map((c, k) => {
    const rss = runs[k].map((r) => r.rssMb).filter((v) => v !== undefined);
    const walls = runs[k].map((r) => r.wallMs);
    return { label: c.label, wallMs: median(walls), minMs: Math.min(...walls), maxMs: Math.max(...walls), rssMb: rss.length > 0 ? median(rss) : undefined };
  });
}

function configWith(n) {
  const config = JSON.parse(readFileSync(path.join(ROOT, "config", "example.json"), "utf8"));
  config.repositories = Array.from({ length: n }, (_, i) => ({ projectKey: `P${i}`, repository: `repo-${i}` }));
  const file = path.join(work, `config-${n}.json`);
  writeFileSync(file, JSON.stringify(config));
  return file;
}

const node = process.execPath;
const probe = ["--require", RSS_PROBE];
const results = measureAll([
  { label: "npm run synth (example, as typed)", command: "npm", args: ["run", "--silent", "synth"] },
  { label: "node dist/main.js (example)", command: node, args: [...probe, "dist/main.js"] },
  { label: "node dist/main.js (200 repositories in 200 projects)", command: node, args: [...probe, "dist/main.js"], env: { MIRROR_CONFIG: configWith(200) } },
  {
    label: "example with the provider package root preloaded (barrel import)",
    command: node,
    args: [...probe, "--require", "@cdktf/provider-aws", "dist/main.js"],
  },
]);

const fmt = (r) =>
  `${r.label.padEnd(68)} ${r.wallMs.toFixed(0).padStart(6)} ms (${r.minMs.toFixed(0)}-${r.maxMs.toFixed(0)})${r.rssMb !== undefined ? `  ${r.rssMb.toFixed(0).padStart(4)} MB peak RSS` : ""}`;
console.log(`synthesis, median of ${RUNS} runs (fresh process each; fastest-slowest):`);
for (const r of results) console.log(`  ${fmt(r)}`);
const [npmSynth, example, largest, barrel] = results;
/** The 200-repository synthesis's time as a multiple of the example's (both medians). */
const largestRatio = largest.wallMs / example.wallMs;
const verdict = (ok) => (ok ? "met" : "MISSED");
console.log(`budgets (median of ${RUNS} runs each):`);
console.log(`  npm run synth <= 1000 ms: ${npmSynth.wallMs.toFixed(0)} ms (${verdict(npmSynth.wallMs <= 1000)})`);
console.log(`  example peak RSS <= 150 MB: ${example.rssMb.toFixed(0)} MB (${verdict(example.rssMb <= 150)})`);
console.log(
  `  deep imports vs barrel import >= 5x: ${(barrel.wallMs / example.wallMs).toFixed(1)}x faster, ${(barrel.rssMb / example.rssMb).toFixed(1)}x less memory (${verdict(barrel.wallMs / example.wallMs >= 5)})`,
);
console.log(
  `  200 repositories in 200 projects <= 1.5x the example's time and <= 150 MB peak RSS: ${largestRatio.toFixed(2)}x (${largest.wallMs.toFixed(0)} ms against ${example.wallMs.toFixed(0)} ms), ${largest.rssMb.toFixed(0)} MB (${verdict(largestRatio <= 1.5 && largest.rssMb <= 150)})`,
);

// --- the figures table (docs/development.md) ---------------------------------------------------
// Every measured figure the docs quote lives in one table of docs/development.md, between these markers. The
// bench rewrites the rows it measured (the synthesis rows always; with BENCH_SUITES=1 also the
// suites', the demo's and the sandbox's, each timed once) and keeps the other rows as they are.
const FIGURES_DOC = path.join(ROOT, "docs", "development.md");
const BEGIN = "<!-- figures:begin -->";
const END = "<!-- figures:end -->";
const today = new Date().toISOString().slice(0, 10);
const sec = (ms) => (ms >= 120_000 ? `${(ms / 60_000).toFixed(1)} min` : `${(ms / 1000).toFixed(1)} s`);
const measured = new Map([
  ["`npm run synth` (example, as typed)", sec(npmSynth.wallMs)],
  ["`node dist/main.js` (example): wall time, peak memory", `${sec(example.wallMs)}, ${example.rssMb.toFixed(0)} MB`],
  ["`node dist/main.js` (200 repositories in 200 projects): wall time, peak memory", `${sec(largest.wallMs)} (${largestRatio.toFixed(2)}x the example's), ${largest.rssMb.toFixed(0)} MB`],
  ["the same with the provider package root loaded (barrel import)", `${sec(barrel.wallMs)}, ${barrel.rssMb.toFixed(0)} MB`],
]);

/** Times one command once (for the suites: minutes each, so no median). */
function once(command, args, env = {}) {
  const start = Date.now();
  const r = spawnSync(command, args, { cwd: ROOT, env: { ...process.env, ...env }, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return { ms: Date.now() - start, stdout: r.stdout };
}

if (process.env.BENCH_SUITES === "1") {
  const sandboxDir = mkdtempSync(path.join(tmpdir(), "mirror-bench-sandbox-"));
  const sandboxEnv = { SANDBOX_DIR: sandboxDir };
  measured.set("`npm test`", sec(once("npm", ["test"]).ms));
  measured.set("`npm run typecheck`", sec(once("npm", ["run", "typecheck"]).ms));
  const up = once("npm", ["run", "--silent", "sandbox:up"], sandboxEnv);
  measured.set("`npm run sandbox:up` (fresh clone)", sec(up.ms));
  const endpoint = /^AWS_ENDPOINT_URL=(\S+)$/m.exec(up.stdout)?.[1];
  measured.set("`npm run preflight` (against the sandbox)", sec(once("npm", ["run", "--silent", "preflight"], { ...sandboxEnv, MIRROR_CONFIG: "config/sandbox.json", AWS_ENDPOINT_URL: endpoint }).ms));
  measured.set("`npm run sandbox:down`", sec(once("npm", ["run", "--silent", "sandbox:down"], sandboxEnv).ms));
  rmSync(sandboxDir, { recursive: true, force: true });
  measured.set("`npm run demo`", sec(once("npm", ["run", "demo"]).ms));
  for (const suite of ["test:integration", "test:e2e", "test:module"]) measured.set(`\`npm run ${suite}\``, sec(once("npm", ["run", suite]).ms));
}

const readme = readFileSync(FIGURES_DOC, "utf8");
const [before, rest] = readme.split(BEGIN);
if (rest === undefined || !rest.includes(END)) {
  console.error(`docs/development.md has no ${BEGIN} ... ${END} table: figures not written`);
  process.exitCode = 1;
} else {
  const [table, after] = rest.split(END);
  const rows = table
    .split("\n")
    .filter((l) => l.startsWith("| ") && !l.startsWith("| figure") && !l.startsWith("|---"))
    .map((l) => l.split(" | ").map((c) => c.replace(/^\| |\s*\|$/g, "")));
  const lines = rows.map(([figure, value, when]) =>
    measured.has(figure) ? `| ${figure} | ${measured.get(figure)} | ${today} |` : `| ${figure} | ${value} | ${when} |`,
  );
  for (const [figure, value] of measured) {
    if (!rows.some(([f]) => f === figure)) lines.push(`| ${figure} | ${value} | ${today} |`);
  }
  const text = `\n| figure | value | measured |\n|---|---|---|\n${lines.join("\n")}\n`;
  writeFileSync(FIGURES_DOC, `${before}${BEGIN}${text}${END}${after}`);
  console.log(`\ndocs/development.md figures table: ${measured.size} row(s) written`);
}

rmSync(work, { recursive: true, force: true });

const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8"));
if (pkg.scripts?.["bench:sync"] !== undefined) {
  console.log("\nsync benchmark (npm run bench:sync):");
  const r = spawnSync("npm", ["run", "--silent", "bench:sync"], { cwd: ROOT, stdio: "inherit" });
  process.exitCode = r.status ?? 1;
}
