/**
 * Ref selection (issue 18 item 3), end to end: the synthesized sync and safety net, with
 * `repositories[].refs` and the stack's `sync.refs`, against the Backlog SSH stand-in and the
 * CodeCommit stand-in. A selected ref is mirrored like any other; a ref outside the selection is
 * never pushed and never deleted from CodeCommit; the safety net compares the selected refs only;
 * a Backlog default branch outside the selection stops the sync with one line, nothing pushed.
 */
import { execFileSync } from "node:child_process";
import { expectSucceeded } from "../../tools/e2e/expect-mirror";
import { Harness } from "../../tools/e2e/harness";

const SELECTED = "E2E/selected";
const OTHER_DEFAULT = "E2E/other-default";
let h: Harness;

beforeAll(async () => {
  h = await Harness.start({
    hostKeys: "config",
    repositories: [
      { projectKey: "E2E", repository: "selected", refs: { include: ["refs/heads/main", "refs/heads/release/*", "refs/tags/v*"], exclude: ["refs/tags/v0*"] } },
      { projectKey: "E2E", repository: "other-default" },
    ],
    // The stack's selection, for the repositories without their own.
    sync: { refs: { include: ["refs/heads/release/*"] } },
  });
}, 90_000);

afterAll(async () => {
  await h?.stop();
});

/** The refs of a map, sorted, for an exact comparison. */
const names = (refs: Map<string, string>) => [...refs.keys()].sort();

test("only the selected refs reach CodeCommit, with the source's object ids", async () => {
  const src = h.source(SELECTED);
  src.commit("main");
  src.push("main");
  src.git("checkout", "--quiet", "-b", "release/1.0");
  src.commit("release");
  src.push("release/1.0");
  src.git("checkout", "--quiet", "-b", "feature/x");
  src.commit("feature");
  src.push("feature/x");
  src.git("tag", "v1.0");
  src.git("tag", "v0.9");
  src.git("tag", "nightly");
  src.push("--tags");
  src.git("checkout", "--quiet", "main");

  expectSucceeded(await h.sync(SELECTED));
  const cc = h.codecommitRefs(SELECTED);
  expect(names(cc)).toEqual(["refs/heads/main", "refs/heads/release/1.0", "refs/tags/v1.0"]);
  for (const [ref, oid] of cc) expect(oid).toBe(h.source(SELECTED).mirroredRefs().get(ref));
});

test("a ref outside the selection that CodeCommit holds is never deleted; a selected one deleted in Backlog is", async () => {
  // Someone pushed a branch straight into CodeCommit; Backlog has no such branch.
  const bare = h.codecommit.repoPath(h.codecommitName(SELECTED));
  const main = h.codecommitRefs(SELECTED).get("refs/heads/main")!;
  execFileSync("git", ["--git-dir", bare, "update-ref", "refs/heads/aws-only", main]);
  const src = h.source(SELECTED);
  src.git("push", "--quiet", "origin", ":refs/heads/release/1.0");

  const result = await h.sync(SELECTED);
  expectSucceeded(result);
  expect(names(h.codecommitRefs(SELECTED))).toEqual(["refs/heads/aws-only", "refs/heads/main", "refs/tags/v1.0"]);
});

test("the safety net compares the selected refs only: unselected differences are no difference", async () => {
  // Backlog has feature/x, v0.9 and nightly, CodeCommit aws-only: all outside the selection.
  const { result, started } = await h.runBuildWithStarted(h.verifyProject());
  expect(result.log).toContain("[verify] 2 repositories: 2 in sync, 0 differ (syncs started: 0)");
  expect(started).toEqual([]);
  // A selected difference is one: a new tag v2.
  h.source(SELECTED).git("tag", "v2");
  h.source(SELECTED).push("--tags");
  const next = await h.runBuildWithStarted(h.verifyProject());
  expect(next.result.log).toContain("[verify] 2 repositories: 1 in sync, 1 differ (syncs started: 1)");
  expect(next.started.map((b) => b.buildId.split(":")[0])).toEqual([h.projectOf(SELECTED)]);
  expectSucceeded(await next.started[0].done);
  expect(h.codecommitRefs(SELECTED).has("refs/tags/v2")).toBe(true);
});

test("a Backlog default branch outside the selection stops the sync with one line, nothing pushed", async () => {
  // E2E/other-default takes the stack's selection, release/* only; its default branch is main.
  const src = h.source(OTHER_DEFAULT);
  src.commit("main");
  src.push("main");
  src.git("checkout", "--quiet", "-b", "release/2.0");
  src.commit("release");
  src.push("release/2.0");
  const result = await h.sync(OTHER_DEFAULT);
  expect(result.succeeded).toBe(false);
  expect(result.log.split("\n").filter((l) => l.includes("ERROR"))).toEqual([
    "[mirror] ERROR: Backlog's default branch main of E2E/other-default is outside the ref selection (include: refs/heads/release/*; exclude: -): select refs/heads/main in sync.refs or repositories[].refs; nothing was pushed",
  ]);
  expect(names(h.codecommitRefs(OTHER_DEFAULT))).toEqual([]);
});
