/**
 * The safety net end to end: the synthesized `NAME-verify` buildspec runs in the CodeBuild stand-in
 * against the real SSH Backlog stand-in and the CodeCommit stand-in; its `aws` calls (repository
 * list and its in-sync times in S3, StartBuild, PutMetricData) reach the emulator (moto), and the
 * syncs it starts run in the harness meanwhile (with a concurrency quota where a test sets one). The
 * verifier does not wait for them: a repository whose sync a run started is in sync in the next
 * run. The syncs publish no metric, and there is no metric per repository: the verifier keeps
 * when each repository was last found in sync (or first seen) in one S3 object.
 *
 * The cost projection of one scheduled run over 200 repositories is a benchmark, not a test:
 * `npm run bench:safety-net` (scripts/bench-safety-net.ts).
 */
import { execFileSync } from "node:child_process";
import { CloudWatchClient, GetMetricDataCommand, ListMetricsCommand } from "@aws-sdk/client-cloudwatch";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { EMULATOR_ENV } from "../../tools/emulator/moto";
import { ACCOUNT_ID, Harness, type RepoSpec, refsDiff } from "../../tools/e2e/harness";
import { populate } from "../../tools/e2e/populate";

jest.setTimeout(900_000);

const NAMESPACE = "BacklogCodeCommitMirror";

function cloudwatch(h: Harness): CloudWatchClient {
  return new CloudWatchClient({
    endpoint: h.emulator.endpoint,
    region: EMULATOR_ENV.AWS_REGION,
    credentials: { accessKeyId: EMULATOR_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: EMULATOR_ENV.AWS_SECRET_ACCESS_KEY },
  });
}

/** The verifier's in-sync times (its IN_SYNC_STATE_URI object): repository key → epoch seconds. */
async function inSyncTimes(h: Harness): Promise<Map<string, number>> {
  const variable = (h.stack.project(h.verifyProject()).environment.environment_variable as Array<{ name: string; value: string }>).find(
    (v) => v.name === "IN_SYNC_STATE_URI",
  )!;
  const [, bucket, key] = /^s3:\/\/([^/]+)\/(.+)$/.exec(h.stack.resolve(variable.value, { accountId: ACCOUNT_ID, region: EMULATOR_ENV.AWS_REGION }))!;
  const body = await (await h.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();
  return new Map(body.split("\n").filter((l) => l !== "").map((l) => [l.split(" ")[0], Number(l.split(" ")[1])] as const));
}

/** Repositories that have a metric of their own (there must be none: one per stack only). */
async function perRepositoryMetrics(h: Harness): Promise<string[]> {
  const page = await cloudwatch(h).send(new ListMetricsCommand({ Namespace: NAMESPACE }));
  return (page.Metrics ?? []).filter((m) => m.Dimensions?.some((d) => d.Name === "Repository")).map((m) => m.MetricName ?? "?");
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

  test("first run: every mirror differs (CodeCommit is empty), so exactly their syncs are started and not waited for; none is in sync in this run", async () => {
    const before = Math.floor(Date.now() / 1000);
    const { result, started } = await verify(h);
    expect(result.log).toContain("[verify] 4 repositories: 0 in sync, 4 differ (syncs started: 4), 0 could not be checked; oldest in-sync age 0s");
    expect(result.log).toContain("[verify] the 4 sync(s) started are not waited for");
    expect(result.succeeded).toBe(true);
    expect(started.map((b) => b.buildId.split(":")[0]).sort()).toEqual(repos.map((r) => h.projectOf(`${r.projectKey}/${r.repository}`)).sort());
    // It asked no build's status: it does not wait.
    expect(h.codebuildApi.batchGetCalls).toEqual([]);
    // Seen for the first time: not late yet (age 0), each recorded at this run as its starting point.
    expect(await oldestAges(h)).toEqual([0]);
    const times = await inSyncTimes(h);
    expect([...times.keys()].sort()).toEqual(repos.map((r) => `${r.projectKey}/${r.repository}`).sort());
    for (const t of times.values()) expect(t).toBeGreaterThanOrEqual(before);
    const syncs = await Promise.all(started.map((b) => b.done));
    for (const s of syncs) expect([s.projectName, s.succeeded]).toEqual([s.projectName, true]);
    for (const r of repos) {
      const key = `${r.projectKey}/${r.repository}`;
      expect(refsDiff(h.source(key).mirroredRefs(), h.codecommitRefs(key))).toBe("");
    }
    for (const s of syncs) expect(s.log).not.toMatch(/cloudwatch|put-metric-data/);
  });

  test("second run: the syncs the first started succeeded, so everything is in sync: each one's time is this run's, no build started, OldestInSyncAge 0", async () => {
    const first = await inSyncTimes(h);
    const { result, started } = await verify(h);
    expect(result.succeeded).toBe(true);
    expect(result.log).toContain("[verify] 4 repositories: 4 in sync, 0 differ (syncs started: 0), 0 could not be checked; oldest in-sync age 0s");
    expect(started).toEqual([]);
    expect((await oldestAges(h)).at(-1)).toBe(0);
    const times = await inSyncTimes(h);
    for (const [key, t] of times) expect(t).toBeGreaterThanOrEqual(first.get(key)!);
    expect(await perRepositoryMetrics(h)).toEqual([]);
  });

  test("a push whose webhook never came is found and only its repository is synced, in sync at the next run; a branch CodeCommit refuses is no difference", async () => {
    const web = h.source("DEMO/web-app");
    web.commit("pushed while the webhook was down");
    web.push("main");
    const tools = h.source("OPS/tools");
    tools.git("branch", "0123456789abcdef0123456789abcdef01234567");
    tools.push("0123456789abcdef0123456789abcdef01234567");

    const { result, started } = await verify(h);
    expect(result.succeeded).toBe(true);
    expect(result.log).toContain("[verify] DEMO/web-app differs from Backlog: started");
    expect(result.log).toContain("3 in sync, 1 differ (syncs started: 1), 0 could not be checked");
    expect(started.map((b) => b.buildId.split(":")[0])).toEqual([h.projectOf("DEMO/web-app")]);
    // Not in sync in this run: the age since it was last found in sync (the previous run, seconds ago).
    const age = (await oldestAges(h)).at(-1) as number;
    expect(age).toBeGreaterThan(0);
    expect(age).toBeLessThan(600);
    expect((await started[0].done).succeeded).toBe(true);
    expect(refsDiff(web.mirroredRefs(), h.codecommitRefs("DEMO/web-app"))).toBe("");

    const next = await verify(h);
    expect(next.result.log).toContain("4 in sync, 0 differ (syncs started: 0), 0 could not be checked; oldest in-sync age 0s");
    expect((await oldestAges(h)).at(-1)).toBe(0);
  });

  test("a repository whose sync fails (Backlog re-created empty: the sync refuses) stays out of sync: each run starts it again and reports the age since it was last in sync", async () => {
    const site = h.source("OPS/site");
    execFileSync("mv", [site.bare, `${site.bare}.kept`]);
    execFileSync("git", ["init", "--quiet", "--bare", "--initial-branch=main", site.bare]);
    try {
      const ages: number[] = [];
      for (let run = 0; run < 2; run++) {
        const { result, started } = await verify(h);
        expect(started.map((b) => b.buildId.split(":")[0])).toEqual([h.projectOf("OPS/site")]);
        const sync = await started[0].done;
        expect(sync.succeeded).toBe(false);
        expect(sync.log).toContain("sync.allowEmptySource");
        expect(result.log).toContain("3 in sync, 1 differ (syncs started: 1), 0 could not be checked");
        // A failed sync does not fail the verifier (the sync's own FAILED alert reports it).
        expect(result.succeeded).toBe(true);
        expect(result.log).toMatch(/\[verify\] OPS\/site: last in sync \(or first seen\) \d+ minutes ago/);
        ages.push((await oldestAges(h)).at(-1) as number);
      }
      // OPS/site was last in sync before the first of these runs: both report the age since then
      // (it does not shrink, and it is not 0).
      expect(ages[0]).toBeGreaterThan(0);
      expect(ages[1]).toBeGreaterThanOrEqual(ages[0]);
      expect(ages[1]).toBeLessThan(600);
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
      expect(result.log).toContain("3 in sync, 0 differ (syncs started: 0), 1 could not be checked");
      expect(result.log).toContain("[verify] ERROR: 1 repositories could not be checked, 0 syncs could not be started");
      expect(started).toEqual([]);
      // OPS/site was in sync at the previous run: its age is the time since then.
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

describe("the safety net with room for one ARM build at a time (a new account's quota can be 1)", () => {
  // The verify build and the syncs are all ARM small: one platform and compute type, one slot.
  // The syncs' queued timeout at its smallest (5 minutes), so a sync stuck behind a verifier that
  // holds the slot is dropped, as CodeBuild drops it.
  const repos: RepoSpec[] = [
    { projectKey: "ONE", repository: "first" },
    { projectKey: "ONE", repository: "second" },
  ];
  let h: Harness;

  beforeAll(async () => {
    h = await Harness.start({ repositories: repos, hostKeys: "config", concurrentBuilds: 1, build: { queuedTimeoutMinutes: 5 } });
    populate(h, repos, false);
  });
  afterAll(async () => {
    await h?.stop();
  });

  test("the verifier does not hold the slot its syncs wait for: they run after it, one at a time, and every mirror is repaired; the next run finds all in sync", async () => {
    const { result, started } = await verify(h);
    if (!result.succeeded) console.log(result.log.slice(-3000));
    expect(result.succeeded).toBe(true);
    expect(started.map((b) => b.buildId.split(":")[0]).sort()).toEqual(repos.map((r) => h.projectOf(`${r.projectKey}/${r.repository}`)).sort());
    const syncs = await Promise.all(started.map((b) => b.done));
    for (const s of syncs) expect({ project: s.projectName, succeeded: s.succeeded, end: s.succeeded ? "" : s.log.slice(-400) }).toEqual({ project: s.projectName, succeeded: true, end: "" });
    for (const r of repos) {
      const key = `${r.projectKey}/${r.repository}`;
      expect(refsDiff(h.source(key).mirroredRefs(), h.codecommitRefs(key))).toBe("");
    }
    // The quota was enforced: never two builds at once.
    expect(h.mostRunningAtOnce.get("ARM_CONTAINER/BUILD_GENERAL1_SMALL")).toBe(1);

    const next = await verify(h);
    expect(next.result.succeeded).toBe(true);
    expect(next.started).toEqual([]);
    expect(next.result.log).toContain("[verify] 2 repositories: 2 in sync, 0 differ");
    expect((await oldestAges(h)).at(-1)).toBe(0);
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

  test("checks every repository, starts no build, records 200 in-sync times in one object and publishes OldestInSyncAge 0", async () => {
    const { result, started } = await verify(h);
    if (!result.succeeded) console.log(result.log.slice(-6000));
    expect(result.log).toContain(`[verify] ${N} repositories: ${N} in sync, 0 differ (syncs started: 0), 0 could not be checked; oldest in-sync age 0s`);
    expect(result.succeeded).toBe(true);
    expect(started).toEqual([]);
    expect((await inSyncTimes(h)).size).toBe(N);
    expect(await perRepositoryMetrics(h)).toEqual([]);
    expect(await oldestAges(h)).toEqual([0]);
  });
});
