/**
 * The operations commands at the configuration's limit: 200 repositories in 10 Backlog projects
 * (the Backlog API stand-in, a test double) and 200 sync projects and CodeCommit repositories on
 * the local AWS emulator. Prints each command's wall time (this is the figure docs/development.md quotes).
 */
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { loadStackConfig } from "../../lib/stack-config";
import { MAX_REPOSITORIES } from "../../lib/validation";
import { BacklogStandIn } from "../backlog-api/server";
import { type Emulator, EMULATOR_ENV, startEmulator } from "../../tools/emulator/moto";
import { API_KEY, deployMany, minutesAgo, outputsJson, type Repo, runCommand, tempDir, webhookUrl, writeConfig } from "./support";

let emulator: Emulator;
let standIn: BacklogStandIn;
const projects = Array.from({ length: 10 }, (_, p) => `PROJ${p}`);
const all: Repo[] = projects.flatMap((projectKey, p) =>
  Array.from({ length: MAX_REPOSITORIES / projects.length }, (_, i) => ({ projectKey, repository: `repo-${p}-${String(i).padStart(2, "0")}` })),
);

beforeAll(async () => {
  emulator = await startEmulator();
  const started = Date.now();
  await deployMany(
    emulator.endpoint,
    all.map((repo, i) => ({
      repo,
      builds: [
        { status: "SUCCEEDED" as const, startedMinutesAgo: 200, seconds: 40 },
        { status: i % 7 === 0 ? ("FAILED" as const) : ("SUCCEEDED" as const), startedMinutesAgo: 90, seconds: 50 },
        { status: "SUCCEEDED" as const, startedMinutesAgo: 60, seconds: 35 },
      ],
      commit: "0123456789abcdef0123456789abcdef01234567",
    })),
  );
  console.log(`emulator prepared with ${all.length} repositories in ${Date.now() - started} ms`);
  standIn = new BacklogStandIn({
    spaceKey: "acme",
    domain: "backlog.com",
    apiKey: API_KEY,
    projects: Object.fromEntries(
      projects.map((projectKey) => [
        projectKey,
        {
          repositories: all
            .filter((r) => r.projectKey === projectKey)
            .map((r) => ({ name: r.repository, hookUrl: webhookUrl(`${r.projectKey}/${r.repository}`), pushedAt: minutesAgo(61) })),
        },
      ]),
    ),
  });
  await standIn.start();
}, 300_000);

afterAll(async () => {
  await standIn?.stop();
  await emulator?.stop();
});

test(`discover: ${MAX_REPOSITORIES} repositories in ${projects.length} projects, one configured, the rest written`, async () => {
  const dir = tempDir();
  const file = writeConfig(dir, [all[0]]);
  const run = await runCommand("discover", [...projects.flatMap((p) => ["--project", p]), "--write"], {
    MIRROR_CONFIG: file,
    BACKLOG_API_KEY: API_KEY,
    BACKLOG_API_BASE_URL: standIn.url,
  });
  console.log(`npm run discover, ${MAX_REPOSITORIES} repositories: ${run.ms} ms`);
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  expect(run.stdout).toContain(`Wrote ${MAX_REPOSITORIES - 1} entries to ${file} (now ${MAX_REPOSITORIES} repositories).`);
  expect(loadStackConfig(file).repositories.map((r) => `${r.projectKey}/${r.repository}`)).toEqual(all.map((r) => `${r.projectKey}/${r.repository}`));
  expect(readFileSync(file, "utf8")).not.toContain(API_KEY);
  expect(run.ms).toBeLessThan(60_000);
});

test(`status: ${MAX_REPOSITORIES} repositories, every seventh one's middle sync failed but a later one succeeded`, async () => {
  const dir = tempDir();
  const config = writeConfig(dir, all);
  const outputs = path.join(dir, "outputs.json");
  writeFileSync(outputs, outputsJson(all));
  const run = await runCommand("status", ["--outputs", outputs, "--json"], {
    ...EMULATOR_ENV,
    AWS_ENDPOINT_URL: emulator.endpoint,
    MIRROR_CONFIG: config,
    BACKLOG_API_KEY: API_KEY,
    BACKLOG_API_BASE_URL: standIn.url,
  });
  console.log(`npm run status, ${MAX_REPOSITORIES} repositories: ${run.ms} ms`);
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  const body = JSON.parse(run.stdout) as { repositories: { verdict: string; lastBuild: { durationSeconds: number } }[] };
  expect(body.repositories).toHaveLength(MAX_REPOSITORIES);
  expect(body.repositories.every((r) => r.verdict === "current" && r.lastBuild.durationSeconds === 35)).toBe(true);
  // One request per project to Backlog (plus the space), never one per repository.
  expect(standIn.requests.filter((r) => r.path.endsWith("/git/repositories")).length).toBe(2 * projects.length);
  expect(run.ms).toBeLessThan(60_000);
});
