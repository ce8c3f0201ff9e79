/**
 * `npm run sync` end to end on the local AWS emulator (moto through tools/emulator/moto_launcher.py):
 * the sync projects exist there as the stack makes them, the stack's outputs are what
 * `terraform output -json` prints, and the command runs in its own process.
 *
 * moto runs no build: a started build answers IN_PROGRESS to StartBuild and SUCCEEDED to the first
 * BatchGetBuilds that asks about it. The launcher's patch_codebuild_scripted_build_outcomes scripts
 * the next builds of a project instead (running for N polls, then an end status and a failed phase's
 * context message), which is how `--wait` is shown waiting and failing. SYNC_POLL_SECONDS=0 makes the
 * command poll without pausing: the tests count polls, never wall-clock time.
 */
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { CodeBuildClient, ListBuildsForProjectCommand } from "@aws-sdk/client-codebuild";
import { type Emulator, EMULATOR_ENV, startEmulator } from "../../tools/emulator/moto";
import { deployMany, outputsJson, REGION, type Repo, type Run, runCommand, tempDir, writeConfig } from "./support";

let emulator: Emulator;
let dir: string;
let config: string;
let outputs: string;
let codebuild: CodeBuildClient;

const repos: Repo[] = [
  { projectKey: "SHOP", repository: "frontend" },
  { projectKey: "SHOP", repository: "api", codecommitRepository: "shop-api" },
  { projectKey: "DATA", repository: "etl" },
];
/** In the configuration, not in the stack's outputs (not applied yet). */
const notApplied: Repo = { projectKey: "DATA", repository: "new-one" };
const project = (r: Repo) => `backlog-mirror-mirror-${(r.codecommitRepository ?? r.repository).replace(/\./g, "_")}`;
const key = (r: Repo) => `${r.projectKey}/${r.repository}`;

beforeAll(async () => {
  emulator = await startEmulator();
  dir = tempDir();
  await deployMany(
    emulator.endpoint,
    repos.map((repo) => ({ repo, builds: [], commit: null })),
  );
  config = writeConfig(dir, [...repos, notApplied]);
  outputs = path.join(dir, "outputs.json");
  writeFileSync(outputs, outputsJson(repos));
  codebuild = new CodeBuildClient({ region: REGION, endpoint: emulator.endpoint, credentials: { accessKeyId: "testing", secretAccessKey: "testing" } });
}, 120_000);

afterAll(async () => {
  await emulator?.stop();
});

function sync(args: string[], env: Record<string, string> = {}, outputsFile = outputs): Promise<Run> {
  return runCommand("sync", ["--outputs", outputsFile, ...args], { ...EMULATOR_ENV, AWS_ENDPOINT_URL: emulator.endpoint, MIRROR_CONFIG: config, SYNC_POLL_SECONDS: "0", ...env });
}

/** Every build id of each project, oldest first. */
async function buildsOf(): Promise<Record<string, string[]>> {
  const all: Record<string, string[]> = {};
  for (const r of repos) all[key(r)] = [...((await codebuild.send(new ListBuildsForProjectCommand({ projectName: project(r), sortOrder: "ASCENDING" }))).ids ?? [])];
  return all;
}

/** Scripts the next builds of `r`'s project (the launcher's build-outcomes setter). */
async function script(r: Repo, outcomes: object[]): Promise<void> {
  const res = await fetch(`${emulator.endpoint}/moto-api/static/codebuild/build-outcomes`, {
    method: "POST",
    body: JSON.stringify({ region: REGION, projectName: project(r), outcomes }),
  });
  expect(res.status).toBe(201);
}

const ID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

test("starts the sync build of each named repository, one line each: PROJECT/REPO  BUILD_ID; exit 0", async () => {
  const before = await buildsOf();
  const run = await sync([key(repos[0]), key(repos[1])]);
  console.log(`npm run sync (${run.ms} ms), exit ${run.code}:\n${run.stdout}${run.stderr}`);
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
  const lines = run.stdout.trimEnd().split("\n");
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatch(new RegExp(`^SHOP/frontend {2}backlog-mirror-mirror-frontend:${ID}$`));
  expect(lines[1]).toMatch(new RegExp(`^SHOP/api {7}backlog-mirror-mirror-shop-api:${ID}$`));
  const after = await buildsOf();
  expect(after["SHOP/frontend"]).toEqual([...before["SHOP/frontend"], lines[0].split(/\s+/)[1]]);
  expect(after["SHOP/api"]).toEqual([...before["SHOP/api"], lines[1].split(/\s+/)[1]]);
  expect(after["DATA/etl"]).toEqual(before["DATA/etl"]);
});

test("--all starts every configured repository of the stack, a name given twice starts once", async () => {
  const before = await buildsOf();
  // DATA/new-one is configured but not applied: --all names it and refuses, starting nothing.
  const refused = await sync(["--all"]);
  expect(refused.stderr).toBe(`error: DATA/new-one is in the configuration but not in the stack's outputs (apply first); nothing was started\n`);
  expect(refused.code).toBe(2);
  expect(await buildsOf()).toEqual(before);

  const applied = writeConfig(dir, repos, "applied.json");
  const run = await sync(["--all"], { MIRROR_CONFIG: applied });
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
  expect(run.stdout.trimEnd().split("\n").map((l) => l.split(/\s+/)[0])).toEqual(repos.map(key));
  const after = await buildsOf();
  for (const r of repos) expect(after[key(r)]).toHaveLength(before[key(r)].length + 1);

  const twice = await sync([key(repos[2]), key(repos[2])]);
  expect(twice.code).toBe(0);
  expect(twice.stdout.trimEnd().split("\n")).toHaveLength(1);
  expect((await buildsOf())[key(repos[2])]).toHaveLength(after[key(repos[2])].length + 1);
});

test("unknown names are refused by name before anything starts (exit 2, one line)", async () => {
  const before = await buildsOf();
  const run = await sync([key(repos[0]), "SHOP/nope", "shop/api", "nothing"]);
  expect(run.stdout).toBe("");
  expect(run.stderr).toBe(
    `error: not repositories of the configuration ${config}: SHOP/nope, shop/api (did you mean SHOP/api?), nothing; ` +
      "its `repositories` list the known ones as PROJECT/REPO (npm run sync -- --all starts them all); nothing was started\n",
  );
  expect(run.code).toBe(2);
  const notYet = await sync([key(repos[0]), key(notApplied)]);
  expect(notYet.stderr).toBe(`error: DATA/new-one is in the configuration but not in the stack's outputs (apply first); nothing was started\n`);
  expect(notYet.code).toBe(2);
  expect(await buildsOf()).toEqual(before);
});

test("no names and no --all, or both, is a usage error (exit 2); --help prints the usage and starts nothing", async () => {
  const before = await buildsOf();
  const none = await sync([]);
  expect(none.stderr).toBe("error: name the repositories to sync (PROJECT/REPO ...) or give --all (npm run sync -- --help prints the usage)\n");
  expect(none.code).toBe(2);
  const both = await sync(["--all", key(repos[0])]);
  expect(both.stderr).toBe("error: give repository names or --all, not both (npm run sync -- --help prints the usage)\n");
  expect(both.code).toBe(2);
  const badTimeout = await sync(["--wait", "--timeout", "soon", key(repos[0])]);
  expect(badTimeout.stderr).toBe("error: --timeout must be a whole number from 1 to 2160, got: something that is not a number (npm run sync -- --help prints the usage)\n");
  expect(badTimeout.code).toBe(2);
  const noWait = await sync(["--timeout", "5", key(repos[0])]);
  expect(noWait.stderr).toBe("error: --timeout is for --wait: give both, or neither (npm run sync -- --help prints the usage)\n");
  expect(noWait.code).toBe(2);
  const help = await sync(["--help", key(repos[0])]);
  expect({ code: help.code, stderr: help.stderr }).toEqual({ code: 0, stderr: "" });
  expect(help.stdout).toMatch(/^usage: .*npm run sync -- PROJECT\/REPO \[PROJECT\/REPO…\] \[--all\] \[--wait\]/);
  expect(help.stdout).toMatch(/exit codes: 0 /);
  expect(await buildsOf()).toEqual(before);
});

test("--wait exits 0 when every build succeeded (moto ends a build the first time it is asked)", async () => {
  const run = await sync(["--wait", key(repos[0]), key(repos[2])]);
  console.log(`npm run sync -- --wait (${run.ms} ms), exit ${run.code}:\n${run.stdout}${run.stderr}`);
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(new RegExp(`^SHOP/frontend {2}backlog-mirror-mirror-frontend:${ID}$`, "m"));
  expect(run.stdout).toMatch(new RegExp(`^SHOP/frontend {2}backlog-mirror-mirror-frontend:${ID} {2}SUCCEEDED$`, "m"));
  expect(run.stdout).toMatch(new RegExp(`^DATA/etl {7}backlog-mirror-mirror-etl:${ID} {7}SUCCEEDED$`, "m"));
  expect(run.stdout).toContain("2 builds: 2 succeeded\n");
});

test("--wait polls until every build ends; a failed build shows its status and last error line, exit 1", async () => {
  await script(repos[0], [{ buildStatus: "SUCCEEDED", inProgressPolls: 3 }]);
  await script(repos[1], [
    {
      buildStatus: "FAILED",
      inProgressPolls: 1,
      phaseType: "BUILD",
      statusCode: "COMMAND_EXECUTION_ERROR",
      message: "Error while executing command: bash mirror-sync.sh. Reason: exit status 1",
    },
  ]);
  await script(repos[2], [{ buildStatus: "TIMED_OUT", inProgressPolls: 0, phaseType: "BUILD", statusCode: "BUILD_TIMED_OUT", message: "Build has timed out. " }]);
  const run = await sync(["--wait", ...repos.map(key)]);
  console.log(`npm run sync -- --wait, failing (${run.ms} ms), exit ${run.code}:\n${run.stdout}${run.stderr}`);
  expect(run.code).toBe(1);
  const lines = run.stdout.trimEnd().split("\n");
  expect(lines.slice(0, 3).map((l) => l.split(/\s+/).length)).toEqual([2, 2, 2]);
  const ids = lines.slice(0, 3).map((l) => l.split(/\s+/)[1]);
  expect(lines.slice(3)).toEqual([
    `SHOP/frontend  ${ids[0]}  SUCCEEDED`,
    `SHOP/api       ${ids[1]}  FAILED     BUILD: COMMAND_EXECUTION_ERROR: Error while executing command: bash mirror-sync.sh. Reason: exit status 1`,
    `DATA/etl       ${ids[2]}       TIMED_OUT  BUILD: BUILD_TIMED_OUT: Build has timed out.`,
    "3 builds: 1 succeeded, 2 did not (FAILED 1, TIMED_OUT 1)",
  ]);
  // Progress goes to standard error: each poll that still has running builds says how many.
  expect(run.stderr).toMatch(/^waiting for 3 builds\n/);
  expect(run.stderr.match(/^still running: /gm)?.length).toBe(3);
});

test("--wait prefers the sync script's own last error line, from the build's log, to the phase's message", async () => {
  const logs = new CloudWatchLogsClient({ region: REGION, endpoint: emulator.endpoint, credentials: { accessKeyId: "testing", secretAccessKey: "testing" } });
  const group = `/aws/codebuild/${project(repos[1])}`;
  const stream = "4a34e607-f317-44e2-8e37-26ef739252a2";
  await logs.send(new CreateLogGroupCommand({ logGroupName: group }));
  await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: stream }));
  const t = Date.now() - 60_000;
  const lines = [
    "[Container] 2026/12/02 17:20:01.000000 Running command bash mirror-sync.sh",
    "[mirror] ERROR: an earlier error line",
    "[mirror] ERROR: Backlog refused the SSH key: Permission denied (publickey)",
    "[Container] 2026/12/02 17:20:09.000000 Command did not exit successfully bash mirror-sync.sh exit status 1",
    "[Container] 2026/12/02 17:20:09.000000 Phase complete: BUILD State: FAILED",
  ];
  await logs.send(new PutLogEventsCommand({ logGroupName: group, logStreamName: stream, logEvents: lines.map((message, i) => ({ timestamp: t + i, message })) }));
  await script(repos[1], [
    { buildStatus: "FAILED", phaseType: "BUILD", statusCode: "COMMAND_EXECUTION_ERROR", message: "Error while executing command: bash mirror-sync.sh. Reason: exit status 1", logGroupName: group, logStreamName: stream },
  ]);
  // A log stream that does not exist: the phase's message, as without the log.
  await script(repos[2], [{ buildStatus: "FAILED", phaseType: "BUILD", statusCode: "COMMAND_EXECUTION_ERROR", message: "Reason: exit status 1", logGroupName: group, logStreamName: "gone" }]);
  const run = await sync(["--wait", key(repos[1]), key(repos[2])]);
  expect(run.code).toBe(1);
  expect(run.stdout).toMatch(/^SHOP\/api {2}\S+ {2}FAILED {2}\[mirror\] ERROR: Backlog refused the SSH key: Permission denied \(publickey\)$/m);
  expect(run.stdout).toMatch(/^DATA\/etl {2}\S+ +FAILED {2}BUILD: COMMAND_EXECUTION_ERROR: Reason: exit status 1$/m);
});

test("--json: the same builds as JSON, every field (with --wait, once every build ended)", async () => {
  await script(repos[1], [{ buildStatus: "FAULT", inProgressPolls: 0, phaseType: "PROVISIONING", statusCode: "CLIENT_ERROR", message: "ENI limit reached" }]);
  const run = await sync(["--wait", "--json", key(repos[0]), key(repos[1])]);
  expect(run.code).toBe(1);
  const body = JSON.parse(run.stdout) as { startedAt: string; exitCode: number; builds: Record<string, unknown>[] };
  expect(body.exitCode).toBe(1);
  expect(Date.parse(body.startedAt)).not.toBeNaN();
  expect(body.builds).toEqual([
    expect.objectContaining({ repository: "SHOP/frontend", buildProject: project(repos[0]), buildId: expect.stringMatching(new RegExp(`:${ID}$`)), status: "SUCCEEDED", error: null }),
    expect.objectContaining({ repository: "SHOP/api", buildProject: project(repos[1]), status: "FAULT", error: "PROVISIONING: CLIENT_ERROR: ENI limit reached" }),
  ]);
  const started = await sync(["--json", key(repos[2])]);
  expect(started.code).toBe(0);
  const one = JSON.parse(started.stdout) as { builds: Record<string, unknown>[] };
  expect(one.builds).toEqual([expect.objectContaining({ repository: "DATA/etl", status: "IN_PROGRESS", error: null })]);
});

test("a project missing in AWS (stale outputs) is named; the other builds still start; exit 2", async () => {
  const stale = path.join(dir, "stale-outputs.json");
  const ghost: Repo = { projectKey: "DATA", repository: "ghost" };
  writeFileSync(stale, outputsJson([...repos, ghost]));
  const withGhost = writeConfig(dir, [...repos, ghost], "ghost.json");
  const before = await buildsOf();
  const run = await sync([key(ghost), key(repos[0])], { MIRROR_CONFIG: withGhost }, stale);
  expect(run.code).toBe(2);
  expect(run.stdout).toMatch(new RegExp(`^SHOP/frontend {2}backlog-mirror-mirror-frontend:${ID}$`, "m"));
  expect(run.stderr).toMatch(/^error: DATA\/ghost: not started: CodeBuild answered ResourceNotFoundException: Project cannot be found: \S+backlog-mirror-mirror-ghost\n$/);
  expect((await buildsOf())["SHOP/frontend"]).toHaveLength(before["SHOP/frontend"].length + 1);
});
