/**
 * `npm run status` end to end: the Backlog API stand-in (a test double of Backlog's API v2) and
 * the local AWS emulator (moto through tools/emulator/moto_launcher.py) holding the sync projects,
 * their builds and the CodeCommit repositories; the command runs in its own process.
 */
import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { type Emulator, EMULATOR_ENV, startEmulator } from "../../tools/emulator/moto";
import { BacklogStandIn } from "../backlog-api/server";
import { API_KEY, deployMany, filesUnder, minutesAgo, outputsJson, type Repo, type Run, runCommand, tempDir, webhookUrl, writeConfig } from "./support";

let emulator: Emulator;
let standIn: BacklogStandIn;
let dir: string;
const runs: Run[] = [];

const repos: Record<string, Repo> = {
  current: { projectKey: "SHOP", repository: "frontend" },
  justPushed: { projectKey: "SHOP", repository: "docs.site", codecommitRepository: "shop-docs" },
  stale: { projectKey: "SHOP", repository: "backend" },
  failing: { projectKey: "SHOP", repository: "api", codecommitRepository: "shop-api" },
  noHook: { projectKey: "DATA", repository: "etl" },
  elsewhere: { projectKey: "DATA", repository: "reports" },
  notApplied: { projectKey: "DATA", repository: "new-one" },
  syncing: { projectKey: "OPS", repository: "runbooks" },
};
const key = (r: Repo) => `${r.projectKey}/${r.repository}`;
const COMMIT = "3f786850e387550fdab836ed7e6dc881de23001b";

beforeAll(async () => {
  emulator = await startEmulator();
  dir = tempDir();
  const ok = (minutes: number) => ({ status: "SUCCEEDED" as const, startedMinutesAgo: minutes, seconds: 47 });
  // The current repository's last sync: phases as a VPC build reports them, and its log's Git LFS
  // warning (the line lib/buildspec/mirror-sync.sh prints; the e2e suite checks the pattern).
  const lastOk = {
    ...ok(118),
    phases: { queued: 1, provisioning: 38, build: 6 },
    log: [
      "[mirror] mirrored 3 refs of SHOP/frontend.git to frontend",
      "[mirror] WARNING: SHOP/frontend uses Git LFS: 2 LFS object(s) of the mirrored refs are not mirrored; CodeCommit holds their pointer files only (README, What it does not do)",
    ],
  };
  const failed = {
    status: "FAILED" as const,
    startedMinutesAgo: 30,
    seconds: 12,
    phases: { queued: 0, provisioning: 9, build: 3 },
    phaseError: { statusCode: "COMMAND_EXECUTION_ERROR", message: "Error while executing command: (...). Reason: exit status 1" },
    log: ["[mirror] fetching from Backlog", "[mirror] ERROR: SHOP/api: Backlog refused the SSH key (Permission denied (publickey))", "[Container] Phase complete: BUILD State: FAILED"],
  };
  await deployMany(emulator.endpoint, [
    { repo: repos.current, builds: [ok(300), lastOk], commit: COMMIT },
    { repo: repos.justPushed, builds: [ok(180)], commit: COMMIT },
    { repo: repos.stale, builds: [ok(190)], commit: COMMIT },
    { repo: repos.failing, builds: [ok(240), failed], commit: COMMIT },
    { repo: repos.noHook, builds: [ok(60)], commit: COMMIT },
    { repo: repos.elsewhere, builds: [ok(60)], commit: null },
    { repo: repos.syncing, builds: [ok(500), { status: "IN_PROGRESS", startedMinutesAgo: 20, seconds: 0 }], commit: COMMIT },
  ]);
  standIn = new BacklogStandIn({
    spaceKey: "acme",
    domain: "backlog.com",
    apiKey: API_KEY,
    projects: {
      SHOP: {
        repositories: [
          { name: "frontend", hookUrl: webhookUrl("SHOP/frontend"), pushedAt: minutesAgo(120) },
          { name: "docs.site", hookUrl: webhookUrl("SHOP/docs.site"), pushedAt: minutesAgo(5) },
          { name: "backend", hookUrl: webhookUrl("SHOP/backend"), pushedAt: minutesAgo(75) },
          { name: "api", hookUrl: webhookUrl("SHOP/api"), pushedAt: minutesAgo(31) },
        ],
      },
      DATA: {
        repositories: [
          { name: "etl", hookUrl: null, pushedAt: minutesAgo(600) },
          { name: "reports", hookUrl: "https://old-mirror.example.com/hooks/DATA/reports", pushedAt: null },
          { name: "new-one", hookUrl: null, pushedAt: minutesAgo(2) },
        ],
      },
      OPS: { repositories: [{ name: "runbooks", hookUrl: webhookUrl("OPS/runbooks"), pushedAt: minutesAgo(25) }] },
      LOCKED: { forbidden: true, repositories: [{ name: "vault" }] },
    },
  });
  await standIn.start();
}, 120_000);

afterAll(async () => {
  await standIn?.stop();
  await emulator?.stop();
});

async function status(args: string[], config: string, outputs: string): Promise<Run> {
  const run = await runCommand("status", ["--outputs", outputs, ...args], {
    ...EMULATOR_ENV,
    AWS_ENDPOINT_URL: emulator.endpoint,
    MIRROR_CONFIG: config,
    BACKLOG_API_KEY: API_KEY,
    BACKLOG_API_BASE_URL: standIn.url,
  });
  runs.push(run);
  return run;
}

function files(repositories: Repo[], deployed: Repo[], name: string) {
  const config = writeConfig(dir, repositories, `${name}.json`);
  const outputs = path.join(dir, `${name}-outputs.json`);
  writeFileSync(outputs, outputsJson(deployed));
  return { config, outputs };
}

type Row = { repository: string; verdict: string; webhook: string; reasons: string[]; [k: string]: unknown };

test("a table of every repository: current, behind (stale), failing, not wired (webhook missing, elsewhere, not applied); exit 1", async () => {
  const all = Object.values(repos);
  const { config, outputs } = files(all, all.filter((r) => r !== repos.notApplied), "mixed");
  const run = await status([], config, outputs);
  console.log(`npm run status (${run.ms} ms), exit ${run.code}:\n${run.stdout}${run.stderr}`);
  expect(run.code).toBe(1);
  expect(run.stderr).toBe("");
  const lines = run.stdout.split("\n");
  expect(lines[0]).toMatch(/^REPOSITORY\s+PUSHED \(BACKLOG\)\s+WEBHOOK\s+LAST SYNC\s+ENDED\s+TOOK\s+QUEUED\/PROV\/BUILD\s+LAG\s+DEFAULT BRANCH HEAD\s+VERDICT$/);
  const row = (r: Repo) => lines.find((l) => l.startsWith(`${key(r)} `)) ?? "";
  // Pushed 120 min ago, synced by the build that started 118 min ago and took 47 s: about 2m47s.
  expect(row(repos.current)).toMatch(/\s+right\s+SUCCEEDED\s+\S+ \S+\s+47s\s+1s\/38s\/6s\s+2m[34]\ds\s+main 3f786850e387\s+current$/);
  expect(row(repos.justPushed)).toMatch(/\s+right\s+SUCCEEDED\s.*\s+-\/-\/-\s+>[45]m\d\ds\s.*\s+current$/);
  expect(row(repos.stale)).toMatch(/\s+right\s+SUCCEEDED\s.*\s+>7[45]m\d\ds\s.*\s+behind$/);
  expect(row(repos.failing)).toMatch(/\s+right\s+FAILED\s+\S+ \S+\s+12s\s+0s\/9s\/3s\s+>3\dm\d\ds\s+main 3f786850e387\s+failing$/);
  expect(row(repos.noHook)).toMatch(/\s+missing\s+SUCCEEDED\s.*\s+not wired$/);
  expect(row(repos.elsewhere)).toMatch(/^DATA\/reports\s+-\s+wrong\s+SUCCEEDED\s.*\s+-\s+not wired$/);
  expect(row(repos.notApplied)).toMatch(/\s+missing\s+-\s+-\s+-\s+-\s+-\s+-\s+not wired$/);
  expect(row(repos.syncing)).toMatch(/\s+right\s+IN_PROGRESS\s+-\s+-\s+-\/-\/-\s+>2[56]m\d\ds\s+main 3f786850e387\s+current$/);
  expect(run.stdout).toContain("8 repositories (times in UTC): 3 current, 1 behind, 1 failing, 3 not wired");
  expect(run.stdout).toMatch(/ {2}SHOP\/backend: pushed at \S+Z \(75 min ago\), last successful sync started \S+Z\n/);
  expect(run.stdout).toContain(`  DATA/etl: no webhook URL in Backlog: set ${webhookUrl("DATA/etl")}\n`);
  expect(run.stdout).toContain(`  DATA/reports: Backlog's webhook URL is https://old-mirror.example.com/hooks/DATA/reports, not this stack's ${webhookUrl("DATA/reports")}\n`);
  expect(run.stdout).toContain("  DATA/new-one: not in the stack's outputs: add it to the configuration and apply\n");
  expect(run.stdout).toMatch(
    / {2}SHOP\/api: the last sync FAILED at \S+Z \(build backlog-mirror-mirror-shop-api:[0-9a-f-]+\): \[mirror\] ERROR: SHOP\/api: Backlog refused the SSH key \(Permission denied \(publickey\)\)\n/,
  );
  // Mirrored: SHOP/frontend (about 2m47s) and DATA/etl (pushed 600 min ago, synced from 60 min ago: 540m47s).
  expect(run.stdout).toMatch(/^lag \(last push to mirrored\): median 27\dm\d\ds, max 540m4\ds over 2 repositories; 4 not mirrored yet \(oldest push 7[45]m\d\ds ago\)$/m);
  expect(run.stdout).toContain("  SHOP/frontend: uses Git LFS: 2 LFS object(s) not mirrored, CodeCommit holds their pointer files (README, What it does not do)\n");
});

test("--json gives the same verdicts with every field, for machines", async () => {
  const all = Object.values(repos);
  const { config, outputs } = files(all, all.filter((r) => r !== repos.notApplied), "json");
  const run = await status(["--json"], config, outputs);
  expect(run.code).toBe(1);
  const body = JSON.parse(run.stdout) as { exitCode: number; checkedAt: string; repositories: Row[] };
  expect(body.exitCode).toBe(1);
  const verdicts = Object.fromEntries(body.repositories.map((r) => [r.repository, r.verdict]));
  expect(verdicts).toEqual({
    "SHOP/frontend": "current",
    "SHOP/docs.site": "current",
    "SHOP/backend": "behind",
    "SHOP/api": "failing",
    "DATA/etl": "not wired",
    "DATA/reports": "not wired",
    "DATA/new-one": "not wired",
    "OPS/runbooks": "current",
  });
  const stale = body.repositories.find((r) => r.repository === "SHOP/backend")!;
  expect(stale).toMatchObject({
    webhook: "right",
    webhookUrl: webhookUrl("SHOP/backend"),
    codecommitRepository: "backend",
    defaultBranch: "main",
    head: COMMIT,
    lastBuild: { status: "SUCCEEDED", durationSeconds: 47 },
  });
  expect(Date.parse(stale.backlogPushedAt as string)).toBeGreaterThan(Date.parse((stale.lastBuild as { startTime: string }).startTime));
  const failing = body.repositories.find((r) => r.repository === "SHOP/api")!;
  expect(failing.lastSuccessfulBuild).toMatchObject({ status: "SUCCEEDED" });
  expect(failing.lastBuild).toMatchObject({ status: "FAILED", durationSeconds: 12, phases: { queued: 0, provisioning: 9, build: 3 } });
  expect(failing).toMatchObject({ lastErrorLine: "[mirror] ERROR: SHOP/api: Backlog refused the SSH key (Permission denied (publickey))", lagSeconds: null, lfs: null });
  expect(failing.behindSeconds).toBeGreaterThan(30 * 60);
  const current = body.repositories.find((r) => r.repository === "SHOP/frontend")!;
  expect(current).toMatchObject({ lastErrorLine: null, behindSeconds: null, lfs: { objects: 2, atLeast: false } });
  expect(current.lagSeconds).toBeGreaterThan(140);
  expect(current.lagSeconds).toBeLessThanOrEqual(168);
  const etl = body.repositories.find((r) => r.repository === "DATA/etl")!;
  expect(body).toMatchObject({ lag: { maxSeconds: etl.lagSeconds, repositories: 2 } });
  const reports = body.repositories.find((r) => r.repository === "DATA/reports")!;
  expect(reports).toMatchObject({ webhook: "wrong", defaultBranch: null, head: null, backlogPushedAt: null });
});

test("exit 0 only when every repository is current and wired", async () => {
  const good = [repos.current, repos.justPushed, repos.syncing];
  const { config, outputs } = files(good, good, "good");
  const run = await status([], config, outputs);
  expect(run.stdout).toContain("3 repositories (times in UTC): 3 current");
  expect(run.code).toBe(0);
  // A shorter grace period turns the fresh push without a sync into "behind".
  const strict = await status(["--grace-minutes", "1"], config, outputs);
  expect(strict.code).toBe(1);
  expect(strict.stdout).toMatch(/SHOP\/docs\.site: pushed at \S+Z \(5 min ago\), last successful sync started/);
});

test("a project Backlog will not show makes its repositories unknown (exit 2), with Backlog's answer", async () => {
  const vault = { projectKey: "LOCKED", repository: "vault" };
  const list = [repos.current, vault];
  const { config, outputs } = files(list, list, "locked");
  await deployMany(emulator.endpoint, [{ repo: vault, builds: [], commit: null }]);
  const run = await status([], config, outputs);
  expect(run.code).toBe(2);
  expect(run.stdout).toMatch(/^LOCKED\/vault\s.*\s+unknown$/m);
  expect(run.stdout).toContain('  LOCKED/vault: Backlog answered 403 listing the Git repositories of project LOCKED ("You do not have permission to access this project.", Backlog error code 5)');
});

test("stack outputs that are not this stack's, or an unreadable stack directory, are one line (exit 2)", async () => {
  const { config } = files([repos.current], [repos.current], "bad-outputs");
  const wrong = path.join(dir, "other.json");
  writeFileSync(wrong, JSON.stringify({ vpc_id: { value: "vpc-1" } }));
  const run = await status([], config, wrong);
  expect(run.code).toBe(2);
  expect(run.stderr).toBe(`error: ${wrong}: \`repositories["vpc_id"]\` lacks webhook_url, codecommit_repository or build_project; give it what \`terraform output -json\` prints for this stack\n`);
  const noDir = await runCommand("status", ["--stack-dir", path.join(dir, "nowhere")], {
    ...EMULATOR_ENV,
    MIRROR_CONFIG: config,
    BACKLOG_API_KEY: API_KEY,
    BACKLOG_API_BASE_URL: standIn.url,
  });
  runs.push(noDir);
  expect(noDir.code).toBe(2);
  expect(noDir.stderr).toMatch(/^error: cannot run `terraform output -json` in \S+nowhere \(.+\); run it where the stack was applied, or pass --outputs FILE\n$/);
});

test("the single output (terraform output -json repositories) read from standard input works too", async () => {
  const { config } = files([repos.current], [repos.current], "stdin");
  const single = JSON.stringify(JSON.parse(outputsJson([repos.current])).repositories.value);
  const run = await runCommand(
    "status",
    ["--outputs", "-"],
    { ...EMULATOR_ENV, AWS_ENDPOINT_URL: emulator.endpoint, MIRROR_CONFIG: config, BACKLOG_API_KEY: API_KEY, BACKLOG_API_BASE_URL: standIn.url },
    single,
  );
  runs.push(run);
  expect(run.stdout).toMatch(/^SHOP\/frontend\s.*\s+current$/m);
  expect(run.code).toBe(0);
});

test("Backlog out of reach: the AWS half is still shown, every repository unknown (exit 2), the reason said once", async () => {
  const list = [repos.current, repos.failing];
  const { config, outputs } = files(list, list, "no-backlog");
  const run = await runCommand("status", ["--outputs", outputs], {
    ...EMULATOR_ENV,
    AWS_ENDPOINT_URL: emulator.endpoint,
    MIRROR_CONFIG: config,
    BACKLOG_API_KEY: API_KEY,
    BACKLOG_API_BASE_URL: "http://127.0.0.1:9", // the discard port: nothing listens
  });
  runs.push(run);
  expect(run.code).toBe(2);
  expect(run.stderr.split("\n").filter((l) => l.startsWith("warning: "))).toHaveLength(1);
  expect(run.stderr).toMatch(/^warning: .+; the Backlog half of every repository is unknown$/m);
  expect(run.stdout).toMatch(/^SHOP\/frontend\s+-\s+unknown\s+SUCCEEDED\s+\S+ \S+\s+47s\s+1s\/38s\/6s\s+-\s+main 3f786850e387\s+unknown$/m);
  expect(run.stdout).toMatch(/^SHOP\/api\s.*\s+FAILED\s.*\s+failing$/m);
  expect(run.stdout).toContain("  SHOP/frontend: Backlog could not be read (see the warning above)\n");
});

test("MIRROR_CONFIG unset, and the stack is another configuration's: refused with one line instead of judging the example", async () => {
  const { outputs } = files([repos.current], [repos.current], "unset");
  const run = await runCommand("status", ["--outputs", outputs], { ...EMULATOR_ENV, AWS_ENDPOINT_URL: emulator.endpoint, BACKLOG_API_KEY: API_KEY, BACKLOG_API_BASE_URL: standIn.url });
  runs.push(run);
  expect(run.code).toBe(2);
  expect(run.stdout).toBe("");
  expect(run.stderr).toBe(
    "error: MIRROR_CONFIG is not set, so the configuration is config/example.json, and the stack's outputs list none of its repositories (they list SHOP/frontend): set MIRROR_CONFIG to the configuration the stack was made from\n",
  );
});

test("a root module that calls the HCL module: its outputs under any name are read, from a file or by running terraform there", async () => {
  const list = [repos.current, repos.stale];
  const { config } = files(list, list, "root-module");
  const value = JSON.parse(outputsJson(list)).repositories.value;
  const doc = path.join(dir, "root-module-outputs.json");
  writeFileSync(doc, JSON.stringify({ vpc_id: { sensitive: false, type: "string", value: "vpc-1" }, mirror: { sensitive: false, type: ["map", ["object", {}]], value } }));
  const run = await status([], config, doc);
  expect(run.stdout).toMatch(/^SHOP\/frontend\s.*\s+current$/m);
  expect(run.stdout).toMatch(/^SHOP\/backend\s.*\s+behind$/m);
  expect(run.code).toBe(1);

  // A root module run by the real terraform: local state, no backend block, an output of another name.
  const root = path.join(dir, "root");
  mkdirSync(root);
  writeFileSync(path.join(root, "main.tf"), `output "backlog_mirror" {\n  value = jsondecode(${JSON.stringify(JSON.stringify(value))})\n}\n`);
  const env = { TF_IN_AUTOMATION: "1", TF_CLI_CONFIG_FILE: "/dev/null" };
  const apply = await new Promise<number>((resolve) => execFile("terraform", ["apply", "-auto-approve", "-input=false", "-no-color"], { cwd: root, env: { ...process.env, ...env } }, (e) => resolve(e === null ? 0 : 1)));
  expect(apply).toBe(0);
  const fromDir = await runCommand("status", ["--stack-dir", root], {
    ...EMULATOR_ENV,
    AWS_ENDPOINT_URL: emulator.endpoint,
    MIRROR_CONFIG: config,
    BACKLOG_API_KEY: API_KEY,
    BACKLOG_API_BASE_URL: standIn.url,
  });
  runs.push(fromDir);
  expect(fromDir.stderr).not.toContain("error");
  expect(fromDir.stdout).toMatch(/^SHOP\/backend\s.*\s+behind$/m);
  expect(fromDir.code).toBe(1);
});

test("terraform output failing in the stack directory: Terraform's Error: line, not its diagnostic's box", async () => {
  const { config } = files([repos.current], [repos.current], "uninitialised");
  const stack = path.join(dir, "uninitialised");
  mkdirSync(stack);
  writeFileSync(path.join(stack, "main.tf"), 'terraform {\n  backend "s3" {\n    bucket = "b"\n    key    = "k"\n    region = "us-east-1"\n  }\n}\n');
  const run = await runCommand("status", ["--stack-dir", stack], { ...EMULATOR_ENV, MIRROR_CONFIG: config, BACKLOG_API_KEY: API_KEY, BACKLOG_API_BASE_URL: standIn.url });
  runs.push(run);
  expect(run.code).toBe(2);
  expect(run.stderr).toBe(
    `error: cannot run \`terraform output -json\` in ${stack} (Error: Backend initialization required, please run "terraform init"); run it where the stack was applied, or pass --outputs FILE\n`,
  );
});

test("the key appears in no output and no file", () => {
  expect(runs.length).toBeGreaterThanOrEqual(8);
  for (const run of runs) expect(`${run.stdout}${run.stderr}`).not.toContain(API_KEY);
  for (const f of filesUnder(dir)) expect(f.text).not.toContain(API_KEY);
});
