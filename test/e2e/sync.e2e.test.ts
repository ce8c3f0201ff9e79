/**
 * Mirror scenarios over one repository's history: webhook (API Gateway stand-in) → StartBuild
 * (emulator) → the synthesized buildspec (CodeBuild stand-in) → Backlog stand-in (real sshd) →
 * CodeCommit stand-in. The host key is pinned in the configuration (`backlog.hostKeys`).
 * Every scenario ends by comparing refs exactly.
 */
import { createHash } from "node:crypto";
import { lfsWarning } from "../../scripts/ops/build-logs";
import { Harness } from "../../tools/e2e/harness";
import { expectMirrored, expectSoundMirror, expectSucceeded } from "../../tools/e2e/expect-mirror";

const KEY = "E2E/history";
let h: Harness;

beforeAll(async () => {
  h = await Harness.start({
    hostKeys: "config",
    repositories: [{ projectKey: "E2E", repository: "history", codecommitRepository: "history-mirror" }],
  });
}, 90_000);

afterAll(async () => {
  await h?.stop();
});

const sync = async (): Promise<void> => {
  const result = await h.sync(KEY);
  expectSucceeded(result);
  expectMirrored(h, KEY);
};

test("first sync of a repository with history mirrors every branch and tag", async () => {
  const src = h.source(KEY);
  for (let i = 0; i < 30; i++) src.commit(`commit ${i}`, { [`file-${i % 5}.txt`]: `content ${i}\n` });
  src.git("tag", "-a", "v0.1", "-m", "release 0.1", "HEAD~10");
  src.git("branch", "release", "HEAD~5");
  src.push("main", "release", "v0.1");
  await sync();
  expect(h.codecommitRefs(KEY).size).toBe(3);
  expectSoundMirror(h, KEY);
});

test("new commits are mirrored", async () => {
  const src = h.source(KEY);
  src.commit("next 1");
  src.commit("next 2", { "docs/guide.md": "# guide\n" });
  src.push("main");
  await sync();
});

test("a new branch is mirrored", async () => {
  const src = h.source(KEY);
  src.git("checkout", "--quiet", "-b", "feature/login");
  src.commit("login form", { "login.html": "<form></form>\n" });
  src.push("feature/login");
  src.git("checkout", "--quiet", "main");
  await sync();
  expect(h.codecommitRefs(KEY).has("refs/heads/feature/login")).toBe(true);
});

test("a deleted branch is deleted from the mirror", async () => {
  h.source(KEY).push(":feature/login");
  await sync();
  expect(h.codecommitRefs(KEY).has("refs/heads/feature/login")).toBe(false);
});

test("tags created (lightweight and annotated) and deleted are mirrored", async () => {
  const src = h.source(KEY);
  src.git("tag", "v1.0");
  src.git("tag", "-a", "v1.1", "-m", "annotated", "HEAD~1");
  src.push("v1.0", "v1.1");
  await sync();
  expect(h.codecommitRefs(KEY).get("refs/tags/v1.1")).toBe(src.git("rev-parse", "v1.1"));
  src.push(":v1.0", ":v0.1");
  await sync();
  expect(h.codecommitRefs(KEY).has("refs/tags/v1.0")).toBe(false);
  expect(h.codecommitRefs(KEY).has("refs/tags/v0.1")).toBe(false);
});

test("a force-push that rewrites history is mirrored", async () => {
  const src = h.source(KEY);
  const before = src.git("rev-parse", "main");
  src.git("reset", "--quiet", "--hard", "HEAD~3");
  src.commit("rewritten", { "rewritten.txt": "new history\n" });
  src.push("+main");
  await sync();
  expect(h.codecommitRefs(KEY).get("refs/heads/main")).not.toBe(before);
});

test("a ref outside heads/tags (refs/pull/1/head) is not pushed and does not fail the sync", async () => {
  const src = h.source(KEY);
  const head = src.commit("pull request work", { "pr.txt": "pr\n" });
  src.git("push", "--quiet", "origin", `${head}:refs/pull/1/head`, `${head}:refs/merge-requests/7/head`);
  src.git("reset", "--quiet", "--hard", "HEAD~1");
  expect(src.refs().get("refs/pull/1/head")).toBe(head);
  await sync();
  const pushed = [...h.codecommitRefs(KEY).keys()];
  expect(pushed.filter((r) => !r.startsWith("refs/heads/") && !r.startsWith("refs/tags/"))).toEqual([]);
});

/** A Git LFS pointer file, byte for byte as git-lfs writes it (git-lfs docs/spec.md). */
const lfsPointer = (content: string): string =>
  `version https://git-lfs.github.com/spec/v1\noid sha256:${createHash("sha256").update(content).digest("hex")}\nsize ${Buffer.byteLength(content)}\n`;

test("a repository that uses Git LFS: its pointer files are mirrored, and one warning counts the LFS objects the mirror does not carry", async () => {
  const src = h.source(KEY);
  src.commit("small files only", { "notes.txt": "no LFS here\n" });
  src.push("main");
  const before = await h.sync(KEY);
  expectSucceeded(before);
  expect(before.log).not.toContain("uses Git LFS");

  src.commit("large files through LFS", {
    ".gitattributes": "*.bin filter=lfs diff=lfs merge=lfs -text\n",
    "assets/a.bin": lfsPointer("object a"),
    "assets/b.bin": lfsPointer("object b"),
    "assets/copy-of-a.bin": lfsPointer("object a"),
  });
  // Pointers without their objects: where git-lfs is installed, the commit's clean filter installs
  // its pre-push hook, which would try to upload them; this work tree runs no hooks.
  src.git("config", "core.hooksPath", "/dev/null");
  src.push("main");
  const result = await h.sync(KEY);
  expectSucceeded(result);
  expectMirrored(h, KEY);
  const warnings = result.log.split("\n").filter((l) => l.includes("uses Git LFS"));
  expect(warnings).toEqual([
    "[mirror] WARNING: E2E/history uses Git LFS: 2 LFS object(s) of the mirrored refs are not mirrored; CodeCommit holds their pointer files only (README, What it does not do)",
  ]);
  // What npm run status reads in the build's log (scripts/ops/build-logs.ts).
  expect(lfsWarning(result.log.split("\n"))).toEqual({ objects: 2, atLeast: false });
  expect(lfsWarning(before.log.split("\n"))).toBeNull();
});
