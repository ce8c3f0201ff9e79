/**
 * The sync's bounds on the smart-HTTP CodeCommit stand-in (issue 10, items 3 and 4), with
 * `sync.allowEmptySource: true`:
 *   - a push that stalls mid-receive (the stand-in stops reading the pack) ends with one clear line
 *     after git's low-speed limit, far below the build timeout, and releases the lock: a build
 *     waiting for it takes over and mirrors the push;
 *   - an emptied Backlog source empties CodeCommit (all but the default branch, which CodeCommit
 *     cannot delete), after the commits it deletes were bundled to the backup bucket, from which
 *     they are restored.
 */
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { Harness } from "../../tools/e2e/harness";
import { expectMirrored, expectSucceeded } from "../../tools/e2e/expect-mirror";
import { run, waitFor } from "../../tools/e2e/proc";
import { EMULATOR_ENV } from "../../tools/emulator/moto";

jest.setTimeout(300_000);

const REPOS = ["stalled-push", "emptied"];
let h: Harness;

beforeAll(async () => {
  h = await Harness.start({ hostKeys: "config", sync: { allowEmptySource: true }, repositories: REPOS.map((repository) => ({ projectKey: "BOUND", repository })) });
  for (const r of REPOS) await h.seed(`BOUND/${r}`, 2);
}, 120_000);

afterAll(async () => {
  await h?.stop();
});

test("a push that stalls mid-receive ends with one clear line (the 60 s low-speed limit) and releases the lock to the build waiting for it", async () => {
  const key = "BOUND/stalled-push";
  const src = h.source(key);
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < 10; i++) files[`blob-${i}.bin`] = randomBytes(64 * 1024);
  src.commit("a push to stall", files);
  src.push("main");
  const before = h.codecommitRefs(key);
  h.codecommit.stallPushes("stalled-push", 64 * 1024);

  expect((await h.webhook(key)).status).toBe(200);
  const [first] = await h.startNewBuilds();
  await waitFor("the push to stall mid-receive", () => h.codecommit.isPushStalled("stalled-push"), 60_000);
  // Later pushes are received normally; the stalled one stays stalled.
  h.codecommit.releasePushStall("stalled-push");
  // A second push arrives while the first sync holds the lock on its stalled push.
  src.commit("pushed during the stall");
  src.push("main");
  expect((await h.webhook(key)).status).toBe(200);
  const [second] = await h.startNewBuilds();

  const stalled = await first.done;
  expect(stalled.succeeded).toBe(false);
  const url = `https://git-codecommit.${EMULATOR_ENV.AWS_REGION}.amazonaws.com/v1/repos/stalled-push`;
  expect(stalled.log.split("\n").filter((l) => l.startsWith("[mirror] ERROR") || l.startsWith("[mirror] push:"))).toEqual([
    `[mirror] ERROR: the push to ${url} stalled: under 1000 bytes/s for 60s (http.lowSpeedLimit); the refs of this push were not updated in CodeCommit, the next sync pushes them`,
  ]);
  // It ended on its own (not killed by the stand-in's build timeout: the line above is its own).
  // How long it took (60 s of the low-speed limit plus the fetch, against the bound the lock
  // timeout was derived with, lib/mirror-build.ts) is a figure: npm run bench:stalls.
  expect(stalled.killed).toBe(false);

  // The waiting build got the lock when the stalled one ended, and mirrored both pushes.
  const took = await second.done;
  expectSucceeded(took);
  expect(took.log).toContain("[mirror] another build is syncing BOUND/stalled-push.git");
  expect(took.log).toContain("[mirror] lock acquired");
  expect(before).not.toEqual(h.codecommitRefs(key));
  expectMirrored(h, key);
  console.log(`stalled push: the build ended after ${stalled.seconds.toFixed(1)} s; the waiting build took over and ended after ${took.seconds.toFixed(1)} s`);
});

test("sync.allowEmptySource: an emptied Backlog repository empties CodeCommit but for its default branch, after bundling what it deletes to S3, from where it is restored", async () => {
  const key = "BOUND/emptied";
  const src = h.source(key);
  src.git("checkout", "--quiet", "-b", "feature/x");
  const featureTip = src.commit("only on feature/x", { "x.txt": "x\n" });
  src.git("tag", "-a", "-m", "release 1", "v1");
  src.push("feature/x", "v1");
  src.git("checkout", "--quiet", "main");
  expectSucceeded(await h.sync(key));
  expectMirrored(h, key);
  const mainTip = src.git("rev-parse", "main");
  const tagObject = src.git("rev-parse", "refs/tags/v1");

  // Backlog: the repository re-created empty.
  for (const ref of ["refs/heads/main", "refs/heads/feature/x", "refs/tags/v1"]) run("git", ["--git-dir", src.bare, "update-ref", "-d", ref]);
  expect(src.mirroredRefs().size).toBe(0);
  const result = await h.sync(key);
  expectSucceeded(result);
  expect(result.log).toContain("[mirror] WARNING: Backlog advertises no refs for BOUND/emptied and sync.allowEmptySource is on: deleting CodeCommit's refs (backed up first)");
  expect(result.log).toContain("[mirror] WARNING: CodeCommit cannot delete its default branch main and Backlog has no other branch: main is kept");
  // The bundles were saved before anything was pushed.
  const saved = result.log.indexOf("saved 2 bundle(s) of history about to be overwritten or deleted");
  expect(saved).toBeGreaterThan(0);
  expect(saved).toBeLessThan(result.log.indexOf("ref change(s) pushed"));
  expect([...h.codecommitRefs(key)]).toEqual([["refs/heads/main", mainTip]]);

  const keys = await h.backupKeys(key);
  expect(keys).toEqual([
    expect.stringMatching(/^backups\/BOUND\/emptied\/\d{8}T\d{6}Z-heads_feature_x\.bundle$/),
    expect.stringMatching(/^backups\/BOUND\/emptied\/\d{8}T\d{6}Z-tags_v1\.bundle$/),
  ]);
  // docs/restore.md: fetch the refs back from the bundles into a clone of CodeCommit.
  const restore = path.join(h.dir, "restore-emptied");
  run("git", ["clone", "--quiet", "--mirror", h.codecommit.repoPath("emptied"), restore]);
  for (const [i, refspec] of [[0, "refs/heads/feature/x:refs/heads/feature/x"], [1, "refs/tags/v1:refs/tags/v1"]] as const) {
    const bundle = path.join(h.dir, `emptied-${i}.bundle`);
    await h.downloadBackup(keys[i], bundle);
    run("git", ["--git-dir", restore, "bundle", "verify", "--quiet", bundle]);
    run("git", ["--git-dir", restore, "fetch", "--quiet", bundle, refspec]);
  }
  expect(run("git", ["--git-dir", restore, "rev-parse", "refs/heads/feature/x", "refs/tags/v1"]).stdout.trim().split("\n")).toEqual([featureTip, tagObject]);
});
