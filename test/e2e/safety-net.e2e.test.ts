/**
 * The safety net end to end: the synthesized `NAME-verify` buildspec runs in the CodeBuild stand-in
 * against the real SSH Backlog stand-in and the CodeCommit stand-in; its `aws` calls (repository
 * list from S3, StartBuild, PutMetricData, GetMetricData) reach the emulator (moto), except
 * BatchGetBuilds, which the harness's CodeBuild stand-in answers with the real outcome of the syncs
 * it runs meanwhile (test/e2e/support/codebuild-status.ts). The syncs publish no metric: every
 * InSync point is the verifier's.
 *
 * Also measures one scheduled run over 200 unchanged repositories and projects it to CodeBuild
 * build-minutes (printed; the README quotes it).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { CloudWatchClient, GetMetricDataCommand, ListMetricsCommand } from "@aws-sdk/client-cloudwatch";
import { EMULATOR_ENV } from "../emulator/moto";
import { Harness, type RepoSpec, refsDiff } from "./support/harness";

jest.setTimeout(900_000);

const NAMESPACE = "BacklogCodeCommitMirror";

function cloudwatch(h: Harness): CloudWatchClient {
  return new CloudWatchClient({
    endpoint: h.emulator.endpoint,
    region: EMULATOR_ENV.AWS_REGION,
    credentials: { accessKeyId: EMULATOR_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: EMULATOR_ENV.AWS_SECRET_ACCESS_KEY },
  });
}

/** Repositories (dimension Repository) that have an InSync metric for stack "e2e". */
async function inSyncRepositories(h: Harness): Promise<string[]> {
  const names: string[] = [];
  let NextToken: string | undefined;
  do {
    const page = await cloudwatch(h).send(
      new ListMetricsCommand({ Namespace: NAMESPACE, MetricName: "InSync", Dimensions: [{ Name: "Stack", Value: "e2e" }], NextToken }),
    );
    for (const m of page.Metrics ?? []) names.push(m.Dimensions?.find((d) => d.Name === "Repository")?.Value ?? "?");
    NextToken = page.NextToken;
  } while (NextToken !== undefined);
  return [...new Set(names)].sort();
}

/** The values of OldestInSyncAge published so far, oldest first. */
async function oldestAges(h: Harness): Promise<number[]> {
  const now = Date.now();
  const out = await cloudwatch(h).send(
    new GetMetricDataCommand({
      StartTime: new Date(now - 3600_000),
      EndTime: new Date(now + 60_000),
      ScanBy: "TimestampAscending",
      MetricDataQueries: [
        {
          Id: "age",
          MetricStat: {
            Metric: { Namespace: NAMESPACE, MetricName: "OldestInSyncAge", Dimensions: [{ Name: "Stack", Value: "e2e" }] },
            Period: 1,
            Stat: "Maximum",
          },
        },
      ],
    }),
  );
  const r = out.MetricDataResults?.[0];
  const points = (r?.Timestamps ?? []).map((t, i) => [new Date(t).getTime(), r?.Values?.[i] as number] as const);
  return points.sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

/** Runs the verify project once, and meanwhile the syncs it starts; returns its result and those syncs. */
async function verify(h: Harness) {
  return h.runBuildWithStarted(h.verifyProject());
}

/** Gives every source repository a commit and a tag (one shell, fast) and, with `mirror`, copies them to CodeCommit. */
function populate(h: Harness, repos: readonly RepoSpec[], mirror: boolean): void {
  const lines = ["set -e"];
  for (const r of repos) {
    const key = `${r.projectKey}/${r.repository}`;
    const src = h.source(key);
    const q = (s: string) => `'${s}'`;
    lines.push(
      `git -C ${q(src.work)} commit --quiet --allow-empty -m "first commit of ${key}"`,
      `git -C ${q(src.work)} tag -a -m v1 v1`,
      `git -C ${q(src.work)} push --quiet origin main v1`,
    );
    if (mirror) lines.push(`git -C ${q(src.work)} push --quiet ${q(h.codecommit.repoPath(h.codecommitName(key)))} main v1`);
  }
  const script = path.join(h.dir, "populate.sh");
  writeFileSync(script, lines.join("\n"));
  execFileSync("bash", [script], { stdio: ["ignore", "ignore", "inherit"] });
}

describe("the safety net on four repositories", () => {
  const repos: RepoSpec[] = [
    { projectKey: "DEMO", repository: "web-app" },
    { projectKey: "DEMO", repository: "api", codecommitRepository: "demo.api" },
    { projectKey: "OPS", repository: "tools" },
    { projectKey: "OPS", repository: "site" },
  ];
  let h: Harness;

  beforeAll(async () => {
    h = await Harness.start({ repositories: repos, hostKeys: "ssm" });
    populate(h, repos, false);
  });
  afterAll(async () => {
    await h?.stop();
  });

  test("first run: every mirror differs (CodeCommit is empty), so exactly their syncs are started; it waits for them, and as they succeed it publishes InSync for each and OldestInSyncAge 0", async () => {
    const { result, started } = await verify(h);
    expect(result.log).toContain("[verify] 4 repositories: 0 in sync, 4 differ (syncs started: 4, succeeded: 4), 0 could not be checked; oldest in-sync age 0s");
    expect(result.succeeded).toBe(true);
    expect(started.map((b) => b.buildId.split(":")[0]).sort()).toEqual(repos.map((r) => h.projectOf(`${r.projectKey}/${r.repository}`)).sort());
    const syncs = await Promise.all(started.map((b) => b.done));
    for (const s of syncs) expect([s.projectName, s.succeeded]).toEqual([s.projectName, true]);
    for (const r of repos) {
      const key = `${r.projectKey}/${r.repository}`;
      expect(refsDiff(h.source(key).mirroredRefs(), h.codecommitRefs(key))).toBe("");
    }
    for (const s of syncs) expect(result.log).toContain(`its sync ${s.buildId} ended SUCCEEDED`);
    // The verifier asked the status of exactly the builds it started.
    expect(h.codebuildApi.batchGetCalls.flat().every((id) => started.some((b) => b.buildId === id))).toBe(true);
    // Repaired in this run: age 0; the verifier published InSync for each (the syncs publish nothing).
    expect(await oldestAges(h)).toEqual([0]);
    expect(await inSyncRepositories(h)).toEqual(repos.map((r) => `${r.projectKey}/${r.repository}`).sort());
    for (const s of syncs) expect(s.log).not.toMatch(/cloudwatch|put-metric-data/);
  });

  test("second run: everything in sync, no build started, OldestInSyncAge 0", async () => {
    const { result, started } = await verify(h);
    expect(result.succeeded).toBe(true);
    expect(result.log).toContain("[verify] 4 repositories: 4 in sync, 0 differ (syncs started: 0, succeeded: 0), 0 could not be checked; oldest in-sync age 0s");
    expect(started).toEqual([]);
    expect((await oldestAges(h)).at(-1)).toBe(0);
  });

  test("a push whose webhook never came is found and only its repository is synced; a branch CodeCommit refuses is no difference", async () => {
    const web = h.source("DEMO/web-app");
    web.commit("pushed while the webhook was down");
    web.push("main");
    const tools = h.source("OPS/tools");
    tools.git("branch", "0123456789abcdef0123456789abcdef01234567");
    tools.push("0123456789abcdef0123456789abcdef01234567");

    const { result, started } = await verify(h);
    expect(result.succeeded).toBe(true);
    expect(result.log).toContain("[verify] DEMO/web-app differs from Backlog: started");
    expect(result.log).toContain("3 in sync, 1 differ (syncs started: 1, succeeded: 1), 0 could not be checked; oldest in-sync age 0s");
    expect(started.map((b) => b.buildId.split(":")[0])).toEqual([h.projectOf("DEMO/web-app")]);
    expect((await oldestAges(h)).at(-1)).toBe(0);
    expect((await started[0].done).succeeded).toBe(true);
    expect(refsDiff(web.mirroredRefs(), h.codecommitRefs("DEMO/web-app"))).toBe("");
  });

  test("a repository whose sync fails (Backlog re-created empty: the sync refuses) stays out of sync: the run reports the age of its last InSync point", async () => {
    const site = h.source("OPS/site");
    execFileSync("mv", [site.bare, `${site.bare}.kept`]);
    execFileSync("git", ["init", "--quiet", "--bare", "--initial-branch=main", site.bare]);
    try {
      const { result, started } = await verify(h);
      expect(started.map((b) => b.buildId.split(":")[0])).toEqual([h.projectOf("OPS/site")]);
      const sync = await started[0].done;
      expect(sync.succeeded).toBe(false);
      expect(sync.log).toContain("sync.allowEmptySource");
      expect(result.log).toContain(`[verify] OPS/site: its sync ${sync.buildId} ended FAILED`);
      expect(result.log).toContain("3 in sync, 1 differ (syncs started: 1, succeeded: 0), 0 could not be checked");
      // A failed sync does not fail the verifier (the sync's own FAILED alert reports it).
      expect(result.succeeded).toBe(true);
      // OPS/site was last in sync at the previous run, seconds ago: that age, not 0.
      const age = (await oldestAges(h)).at(-1) as number;
      expect(age).toBeGreaterThan(0);
      expect(age).toBeLessThan(600);
      expect(result.log).toMatch(/\[verify\] OPS\/site: last in sync \d+ minutes ago/);
    } finally {
      execFileSync("rm", ["-rf", site.bare]);
      execFileSync("mv", [`${site.bare}.kept`, site.bare]);
    }
  });

  test("a repository that cannot be listed fails the run naming it, starts nothing for it, and the others are still published", async () => {
    execFileSync("mv", [h.source("OPS/site").bare, `${h.source("OPS/site").bare}.gone`]);
    try {
      const { result, started } = await verify(h);
      expect(result.succeeded).toBe(false);
      expect(result.log).toMatch(/\[verify\] ERROR: cannot read e2e-space@e2e-space\.git\.backlog\.jp:\/OPS\/site\.git: /);
      expect(result.log).toContain("3 in sync, 0 differ (syncs started: 0, succeeded: 0), 1 could not be checked");
      expect(result.log).toContain("[verify] ERROR: 1 repositories could not be checked, 0 syncs could not be started");
      expect(started).toEqual([]);
      // OPS/site was in sync at the previous run: its age is that of its last InSync point.
      const age = (await oldestAges(h)).at(-1) as number;
      expect(age).toBeGreaterThan(0);
      expect(age).toBeLessThan(600);
    } finally {
      execFileSync("mv", [`${h.source("OPS/site").bare}.gone`, h.source("OPS/site").bare]);
    }
  });

  test("the private key appears in no log of the verifier", () => {
    const verifyLogs = h.builds.filter((b) => b.projectName === h.verifyProject()).map((b) => b.log);
    expect(verifyLogs.length).toBeGreaterThanOrEqual(4);
    const keyBody = h.clientKey.privateKey.split("\n").filter((l) => l.length > 20)[1];
    for (const log of verifyLogs) expect(log).not.toContain(keyBody);
  });
});

describe("one scheduled run over 200 unchanged repositories", () => {
  const N = 200;
  const repos: RepoSpec[] = Array.from({ length: N }, (_, i) => ({ projectKey: `P${i % 40}`, repository: `repo-${i}` }));
  let h: Harness;

  beforeAll(async () => {
    h = await Harness.start({ repositories: repos, hostKeys: "config" });
    populate(h, repos, true);
  });
  afterAll(async () => {
    await h?.stop();
  });

  test("checks every repository, starts no build, publishes 200 InSync points and OldestInSyncAge 0, within the cost bound", async () => {
    const { result, started } = await verify(h);
    if (!result.succeeded) console.log(result.log.slice(-6000));
    expect(result.log).toContain(`[verify] ${N} repositories: ${N} in sync, 0 differ (syncs started: 0, succeeded: 0), 0 could not be checked; oldest in-sync age 0s`);
    expect(result.succeeded).toBe(true);
    expect(started).toEqual([]);
    expect((await inSyncRepositories(h)).length).toBe(N);
    expect(await oldestAges(h)).toEqual([0]);

    // What the harness cannot run: the CodeCommit credential helper, asked once per repository
    // (the stand-in is reached through insteadOf, without credentials). Measured here with the
    // AWS CLI of this machine, PARALLEL_CHECKS (8) at a time, and added to the projection.
    const helperDir = path.join(h.dir, "helper");
    mkdirSync(helperDir);
    const helper = path.join(helperDir, "helper.sh");
    writeFileSync(
      helper,
      `printf 'protocol=https\\nhost=git-codecommit.${EMULATOR_ENV.AWS_REGION}.amazonaws.com\\npath=v1/repos/repo-$1\\n\\n' | aws codecommit credential-helper get >/dev/null\n`,
    );
    const t0 = process.hrtime.bigint();
    execFileSync("bash", ["-c", `seq ${N} | xargs -P 8 -n 1 bash ${helper}`], {
      env: { ...process.env, AWS_ACCESS_KEY_ID: "AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY: "example", AWS_DEFAULT_REGION: EMULATOR_ENV.AWS_REGION },
    });
    const helperSeconds = Number(process.hrtime.bigint() - t0) / 1e9;

    // Projection to CodeBuild: billed per minute, rounded up, from the start of PROVISIONING
    // (assumed: the conservative reading of "billed for the build's duration"). ASSUMED, not
    // measured here: 120 s for provisioning a VPC-attached container (ENI attachment included),
    // downloading no source and finalizing; network round trips to Backlog and CodeCommit
    // (ap-northeast-1 to Backlog's Tokyo servers) of 0.3 s per repository per side, 8 at a time.
    const provisioningSeconds = 120;
    const networkSeconds = (N * 2 * 0.3) / 8;
    const projected = result.seconds + helperSeconds + networkSeconds + provisioningSeconds;
    const buildMinutes = Math.ceil(projected / 60);
    console.log(
      `safety net, ${N} unchanged repositories: verify build ${result.seconds.toFixed(1)} s in the harness; ` +
        `credential helper ${helperSeconds.toFixed(1)} s (${N} calls, 8 at a time); assumed network ${networkSeconds.toFixed(1)} s ` +
        `and provisioning ${provisioningSeconds} s; projected ${projected.toFixed(0)} s = ${buildMinutes} build-minute(s) per run`,
    );
    expect(buildMinutes).toBeLessThanOrEqual(5);
  });
});
