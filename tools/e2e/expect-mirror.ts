/** Assertions shared by the e2e scenarios. */
import { run } from "./proc";
import { type Harness, refsDiff } from "./harness";

/**
 * The CodeCommit stand-in's refs equal the source's refs/heads/* and refs/tags/* exactly (names and
 * object ids), and it holds nothing else.
 */
export function expectMirrored(h: Harness, key: string): void {
  const expected = h.source(key).mirroredRefs();
  const actual = h.codecommitRefs(key);
  expect(expected.size).toBeGreaterThan(0);
  expect(refsDiff(expected, actual)).toBe("");
}

/** The bare mirror on the EFS stand-in passes a full `git fsck`. */
export function expectSoundMirror(h: Harness, key: string): void {
  const res = run("git", ["--git-dir", h.mirrorPath(key), "fsck", "--no-progress", "--no-dangling"], { allowFail: true });
  expect({ code: res.code, errors: res.stderr.split("\n").filter((l) => /^(error|fatal|missing|broken)/.test(l)) }).toEqual({ code: 0, errors: [] });
}

/** A build result's log, attached to a failed expectation. */
export function expectSucceeded(result: { succeeded: boolean; log: string }): void {
  if (!result.succeeded) throw new Error(`the build failed:\n${result.log}`);
}
