/** Ref selection (issue 18 item 3): its validation and the safety net's comparison of the selected refs. */
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { ConfigError, validateStackConfig } from "../lib/validation";
import { VERIFY_SCRIPT_PATH } from "../lib/verify-buildspec";
import { exampleConfig } from "../test/support/synth";

const problems = (patch: Record<string, unknown>): string[] => {
  try {
    validateStackConfig({ ...exampleConfig(), ...patch });
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
};

describe("validation of sync.refs and repositories[].refs", () => {
  test.each<[string, Record<string, unknown>]>([
    ["a branch and tag selection", { sync: { refs: { include: ["refs/heads/main", "refs/heads/release/*", "refs/tags/v*"] } } }],
    ["an exclusion only", { sync: { refs: { exclude: ["refs/heads/wip/*", "refs/tags/nightly-*"] } } }],
    ["a repository's own selection", { repositories: [{ projectKey: "DEMO", repository: "web-app", refs: { include: ["refs/heads/main"] } }] }],
  ])("accepts %s", (_what, patch) => {
    expect(problems(patch)).toEqual([]);
  });

  test.each<[string, Record<string, unknown>, string]>([
    ["a pattern outside heads and tags", { sync: { refs: { include: ["refs/heads/*", "refs/pull/*"] } } }, '`sync.refs.include[1]` must be a ref pattern under refs/heads/ or refs/tags/'],
    ["a pattern with ..", { sync: { refs: { exclude: ["refs/heads/a..b"] } } }, '`sync.refs.exclude[0]` must be a ref pattern'],
    ["a pattern with a space", { sync: { refs: { include: ["refs/heads/a b"] } } }, '`sync.refs.include[0]` must be a ref pattern'],
    ["no branch at all", { sync: { refs: { include: ["refs/tags/*"] } } }, "`sync.refs.include` must include a pattern under refs/heads/ (Backlog's default branch must be mirrored)"],
    ["every branch excluded", { sync: { refs: { exclude: ["refs/heads/*"] } } }, '`sync.refs.exclude` must not exclude every branch ("refs/heads/*")'],
    ["an empty include", { sync: { refs: { include: [] } } }, "`sync.refs.include` must list at least 1 pattern"],
    ["an unknown key", { sync: { refs: { only: ["refs/heads/main"] } } }, "`sync.refs`"],
    [
      "a repository's bad pattern",
      { repositories: [{ projectKey: "DEMO", repository: "web-app", refs: { include: ["main"] } }] },
      '`repositories[0].refs.include[0]` must be a ref pattern',
    ],
  ])("refuses %s, naming the field", (_what, patch, message) => {
    const found = problems(patch);
    expect(found.some((p) => p.startsWith(message) || p.includes(message))).toBe(true);
  });
});

describe("the safety net compares the selected refs only", () => {
  const select = (input: string, include: string, exclude: string): string =>
    execFileSync("bash", ["-c", `VERIFY_MIRRORS_FUNCTIONS_ONLY=1 . ${JSON.stringify(VERIFY_SCRIPT_PATH)}; verify_selected_refs "$1" "$2"`, "x", include, exclude], {
      input,
      encoding: "utf8",
      cwd: path.dirname(VERIFY_SCRIPT_PATH),
    });
  const refs = ["a refs/heads/main", "b refs/heads/release/1.0", "c refs/heads/wip/x", "d refs/tags/v1", "e refs/tags/nightly"].join("\n") + "\n";

  test("the default: every branch and tag", () => {
    expect(select(refs, "refs/heads/*,refs/tags/*", "-")).toBe(refs);
  });

  test("an include and an exclude, * matching any characters, / included", () => {
    expect(select(refs, "refs/heads/*,refs/tags/v*", "refs/heads/wip/*")).toBe("a refs/heads/main\nb refs/heads/release/1.0\nd refs/tags/v1\n");
  });

  test("patterns are matched, never expanded as file names", () => {
    expect(select("a refs/heads/main\n", "*", "-")).toBe("a refs/heads/main\n");
  });
});
