/**
 * `npm run discover` end to end against the Backlog API stand-in (a test double of Backlog's API
 * v2, test/backlog-api/server.ts): the command runs in its own process, as a user runs it.
 */
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { loadStackConfig } from "../../lib/stack-config";
import { BacklogStandIn } from "../backlog-api/server";
import { API_KEY, filesUnder, type Run, runCommand, tempDir, writeConfig } from "./support";

let standIn: BacklogStandIn;
let dir: string;
const runs: Run[] = [];

function projects() {
  return {
    SHOP: { repositories: [{ name: "frontend" }, { name: "backend" }, { name: "api" }, { name: "docs.site" }] },
    DATA: { repositories: [{ name: "etl" }, { name: "api" }, { name: "bad name" }, { name: "legacy.git" }] },
    OPS: { repositories: [{ name: "runbooks" }] },
    SECRET: { forbidden: true, repositories: [{ name: "vault" }] },
  };
}

async function discover(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const run = await runCommand("discover", args, { BACKLOG_API_KEY: API_KEY, BACKLOG_API_BASE_URL: standIn.url, ...env });
  runs.push(run);
  return run;
}

beforeEach(async () => {
  standIn = new BacklogStandIn({ spaceKey: "acme", domain: "backlog.com", apiKey: API_KEY, projects: projects() });
  await standIn.start();
  dir = tempDir();
});

afterEach(async () => {
  await standIn.stop();
});

const existing = [
  { projectKey: "SHOP", repository: "frontend" },
  { projectKey: "SHOP", repository: "api", codecommitRepository: "shop-api" },
];

test("lists what the configuration lacks across several projects, and changes nothing without --write", async () => {
  const file = writeConfig(dir, existing);
  const before = readFileSync(file, "utf8");
  const run = await discover(["--project", "SHOP", "--project", "DATA", "--project", "OPS"], { MIRROR_CONFIG: file });
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  expect(run.stdout).toContain("  SHOP: 4 Git repositories");
  expect(run.stdout).toContain("  OPS: 1 Git repository");
  expect(run.stdout).toContain("Already configured (2): SHOP/frontend, SHOP/api");
  expect(run.stdout).toContain(
    [
      "Missing from " + file + " (5):",
      '    { "projectKey": "SHOP", "repository": "backend" },',
      '    { "projectKey": "SHOP", "repository": "docs.site" },',
      '    { "projectKey": "DATA", "repository": "etl" },',
      '    { "projectKey": "DATA", "repository": "api" },',
      '    { "projectKey": "OPS", "repository": "runbooks" }',
    ].join("\n"),
  );
  expect(readFileSync(file, "utf8")).toBe(before);
});

test("names the rules refuse are listed apart, each with the rule it breaks", async () => {
  const file = writeConfig(dir, [{ projectKey: "SHOP", repository: "api" }]);
  const run = await discover(["--project", "SHOP", "--project", "DATA"], { MIRROR_CONFIG: file });
  expect(run.code).toBe(0);
  const refused = run.stdout.slice(run.stdout.indexOf("Refused by the configuration rules"));
  expect(refused).toContain("Refused by the configuration rules, not added (3):");
  // DATA/api would be mirrored into the CodeCommit repository "api" that SHOP/api already uses.
  expect(refused).toContain(
    '  DATA/api\n    - `codecommitRepository` must be unique, but the CodeCommit repository name "api" is also used by repositories[0]; set codecommitRepository to tell them apart, got: nothing (defaults to "api")',
  );
  expect(refused).toContain('  DATA/bad name\n    - `repository` must be a Backlog repository name: 1-100 letters, digits, _ . and -, not starting with . or -, got: "bad name"');
  expect(refused).toContain('  DATA/legacy.git\n    - `repository` must not end in ".git" (give the name without it), got: "legacy.git"');
  expect(run.stdout.slice(0, run.stdout.indexOf("Refused"))).not.toContain("bad name");
});

test("--write appends the missing entries, keeping every existing entry, setting, key order and the file's formatting", async () => {
  const file = path.join(dir, "hand-written.json");
  const original = readFileSync(path.join(__dirname, "../../config/example.json"), "utf8")
    .replace('"example-space"', '"acme"')
    .replace('"backlog.jp"', '"backlog.com"')
    .replace(
      '{ "projectKey": "DEMO", "repository": "web-app", "codecommitRepository": "demo-web-app" }',
      '{ "projectKey": "SHOP", "repository": "frontend", "codecommitRepository": "shop-frontend" }',
    );
  writeFileSync(file, original, { mode: 0o640 });
  const run = await discover(["--project", "SHOP", "--project", "OPS", "--write"], { MIRROR_CONFIG: file });
  expect(run.code).toBe(0);
  expect(run.stdout).toContain(`Wrote 4 entries to ${file} (now 5 repositories).`);
  const after = readFileSync(file, "utf8");
  const anchor = '"codecommitRepository": "shop-frontend" }';
  const cut = original.indexOf(anchor) + anchor.length;
  // Everything before and after the insertion point is byte for byte the original.
  expect(after.startsWith(original.slice(0, cut))).toBe(true);
  expect(after.endsWith(original.slice(cut))).toBe(true);
  expect(after.slice(cut, after.length - (original.length - cut))).toBe(
    [
      ",",
      '    { "projectKey": "SHOP", "repository": "backend" },',
      '    { "projectKey": "SHOP", "repository": "api" },',
      '    { "projectKey": "SHOP", "repository": "docs.site" },',
      '    { "projectKey": "OPS", "repository": "runbooks" }',
    ].join("\n"),
  );
  expect(Object.keys(JSON.parse(after))).toEqual(Object.keys(JSON.parse(original)));
  expect(loadStackConfig(file).repositories).toHaveLength(5);
  const again = await discover(["--project", "SHOP", "--project", "OPS", "--write"], { MIRROR_CONFIG: file });
  expect(again.code).toBe(0);
  expect(again.stdout).toContain("Nothing to write.");
  expect(readFileSync(file, "utf8")).toBe(after);
  for (const f of filesUnder(dir)) expect(f.text).not.toContain(API_KEY);
});

test("a key Backlog refuses (401) is one line, exit 2, nothing written", async () => {
  const file = writeConfig(dir, existing);
  const before = readFileSync(file, "utf8");
  const run = await discover(["--project", "SHOP", "--write"], { MIRROR_CONFIG: file, BACKLOG_API_KEY: "not-the-key" });
  expect(run.code).toBe(2);
  expect(run.stdout).toBe("");
  expect(run.stderr).toBe(
    'error: Backlog refused the API key (401, "Authentication failure.", Backlog error code 11): check that BACKLOG_API_KEY is a key of a user of acme.backlog.com\n',
  );
  expect(run.stderr).not.toContain("not-the-key");
  expect(readFileSync(file, "utf8")).toBe(before);
});

test("a project the key may not read (403) and an unknown project (404) are one line each, and --write writes nothing", async () => {
  const file = writeConfig(dir, existing);
  const before = readFileSync(file, "utf8");
  const run = await discover(["--project", "SECRET", "--project", "NOPE", "--project", "OPS", "--write"], { MIRROR_CONFIG: file });
  expect(run.code).toBe(2);
  expect(run.stdout).toContain("  SECRET: not listed (error below)");
  expect(run.stdout).toContain('    { "projectKey": "OPS", "repository": "runbooks" }');
  expect(run.stderr.trim().split("\n")).toEqual([
    'error: Backlog answered 403 listing the Git repositories of project SECRET ("You do not have permission to access this project.", Backlog error code 5): check the project key and that the key\'s user is a member of the project with access to Git',
    'error: Backlog answered 404 listing the Git repositories of project NOPE ("No project.", Backlog error code 6): check the project key and that the key\'s user is a member of the project with access to Git',
    "nothing written: 2 project(s) could not be listed",
  ]);
  expect(readFileSync(file, "utf8")).toBe(before);
});

test("a rate-limited answer (429) is retried after Backlog's X-RateLimit-Reset", async () => {
  const file = writeConfig(dir, existing);
  standIn.rateLimitNext(2, 1);
  const run = await discover(["--project", "OPS"], { MIRROR_CONFIG: file });
  expect(run.code).toBe(0);
  expect(run.stdout).toContain('{ "projectKey": "OPS", "repository": "runbooks" }');
  const notices = run.stderr.trim().split("\n");
  expect(notices).toHaveLength(2);
  expect(notices[0]).toMatch(/^Backlog rate limit reached reading the space; waiting [12] s until it resets at \S+Z \(retry 1 of 3\)$/);
  expect(standIn.requests.map((r) => r.status)).toEqual([429, 429, 200, 200]);
});

test("a rate limit that resets later than the command waits, or keeps coming back, is one line (bounded)", async () => {
  const file = writeConfig(dir, existing);
  standIn.rateLimitNext(1, 3600);
  const late = await discover(["--project", "OPS"], { MIRROR_CONFIG: file });
  expect(late.code).toBe(2);
  expect(late.stderr).toMatch(/^error: Backlog rate limit reached \(429\) reading the space; the limit resets at \S+Z, later than this command waits \(60 s\): run again after the reset\n$/);
  expect(late.ms).toBeLessThan(15_000);

  standIn.rateLimitNext(10, 1);
  const persistent = await discover(["--project", "OPS"], { MIRROR_CONFIG: file });
  expect(persistent.code).toBe(2);
  expect(persistent.stderr.trim().split("\n").pop()).toMatch(/^error: Backlog rate limit reached \(429\) reading the space; the limit resets at \S+Z and 3 waits did not help: run again after the reset$/);
  expect(standIn.requests.filter((r) => r.status === 429)).toHaveLength(5);
});

test("a network failure is one line", async () => {
  const file = writeConfig(dir, existing);
  const url = standIn.url;
  await standIn.stop();
  const run = await discover(["--project", "OPS"], { MIRROR_CONFIG: file, BACKLOG_API_BASE_URL: url });
  expect(run.code).toBe(2);
  expect(run.stderr).toBe(`error: cannot reach Backlog at ${url} reading the space (ECONNREFUSED): check the network and BACKLOG_API_BASE_URL\n`);
});

test("the key is taken from BACKLOG_API_KEY only: never a flag or an argument, never echoed", async () => {
  const file = writeConfig(dir, existing);
  const flag = await discover(["--project", "OPS", `--api-key=${API_KEY}`], { MIRROR_CONFIG: file });
  expect(flag.code).toBe(2);
  expect(flag.stderr).toBe("error: unknown option --api-key (npm run discover -- --help prints the usage)\n");
  const positional = await discover(["--project", "OPS", API_KEY], { MIRROR_CONFIG: file });
  expect(positional.code).toBe(2);
  expect(positional.stderr).toBe("error: unexpected argument: this command takes options only (npm run discover -- --help prints the usage)\n");
  const unset = await discover(["--project", "OPS"], { MIRROR_CONFIG: file, BACKLOG_API_KEY: undefined });
  expect(unset.code).toBe(2);
  expect(unset.stderr).toBe("error: BACKLOG_API_KEY is not set: export the API key of a Backlog user (Personal settings > API) in it\n");
  const plain = await discover(["--project", "OPS"], { MIRROR_CONFIG: file, BACKLOG_API_BASE_URL: "http://backlog.example.com" });
  expect(plain.code).toBe(2);
  expect(plain.stderr).toContain("BACKLOG_API_BASE_URL must be https (plain http only on a loopback address");
  // backlog-js sends the key in a header, so no URL (which proxies and logs keep) carries it.
  expect(standIn.requests.every((r) => r.keyIn === "header")).toBe(true);
});

test("the stand-in keeps to Backlog's documentation: apiKey query parameter, error body, rate-limit headers", async () => {
  const ok = await fetch(`${standIn.url}/api/v2/projects/OPS/git/repositories?apiKey=${API_KEY}`);
  expect(ok.status).toBe(200);
  expect(Number(ok.headers.get("X-RateLimit-Limit"))).toBe(600);
  expect(Number(ok.headers.get("X-RateLimit-Remaining"))).toBe(599);
  expect(Number(ok.headers.get("X-RateLimit-Reset"))).toBeGreaterThan(Date.now() / 1000);
  const [repo] = (await ok.json()) as Record<string, unknown>[];
  expect(Object.keys(repo).sort()).toEqual(
    ["id", "projectId", "name", "description", "hookUrl", "httpUrl", "sshUrl", "displayOrder", "pushedAt", "createdUser", "created", "updatedUser", "updated"].sort(),
  );
  expect(repo).toMatchObject({ name: "runbooks", hookUrl: null, pushedAt: null, sshUrl: "acme@acme.git.backlog.com:/OPS/runbooks.git" });
  const denied = await fetch(`${standIn.url}/api/v2/space`);
  expect(denied.status).toBe(401);
  expect(await denied.json()).toEqual({ errors: [{ message: "Authentication failure.", code: 11, moreInfo: "" }] });
});

test("no run of the command printed the key (runs above: every answer, error and usage path)", () => {
  expect(runs.length).toBeGreaterThan(12);
  for (const run of runs) expect(`${run.stdout}${run.stderr}`).not.toContain(API_KEY);
});
