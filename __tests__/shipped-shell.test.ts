/**
 * The shell a buildspec carries is the repository's script without comment and blank lines
 * (lib/buildspec.ts `minifyShell`, to fit CodeBuild's inline buildspec limit). These tests prove the
 * shipped form is the same program: bash parses each file and its shipped form into the same code.
 *
 * Bash's `declare -f` prints a function's body as bash parsed it: comments dropped, layout
 * normalised, but the contents of every string and here-string kept byte for byte. Each whole file is
 * wrapped as the body of one function, so its top-level code is compared too; a minifier that dropped
 * a line inside a multi-line string, or a line that only looked like a comment, changes that text.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { BACKLOG_SSH_SCRIPT_PATH, SYNC_SCRIPT_PATH, minifyShell, shellBody } from "../lib/buildspec";
import { VERIFY_SCRIPT_PATH } from "../lib/verify-buildspec";

/** Bash's own rendering of a script, parsed as the body of a function (nothing in it runs). */
function parsedByBash(script: string): string {
  return execFileSync("bash", ["-c", 'eval "__shipped() {\n$1\n}" && declare -f __shipped', "bash", script], { encoding: "utf8" });
}

describe.each([
  ["backlog-ssh.sh", BACKLOG_SSH_SCRIPT_PATH],
  ["mirror-sync.sh", SYNC_SCRIPT_PATH],
  ["verify-mirrors.sh", VERIFY_SCRIPT_PATH],
])("the shipped %s", (_name, file) => {
  const source = readFileSync(file, "utf8");

  test("is the same program bash parses from the repository's file", () => {
    const shipped = shellBody(file);
    expect(shipped.length).toBeLessThan(source.length * 0.8); // the comments are gone
    expect(parsedByBash(shipped)).toBe(parsedByBash(source));
  });

  test("keeps no comment line, no blank line and no shebang", () => {
    const lines = shellBody(file).split("\n").slice(0, -1);
    expect(lines.filter((l) => /^\s*(#|$)/.test(l))).toEqual([]);
  });
});

describe("minifyShell", () => {
  test("drops whole comment lines, blank lines and indentation, keeps code and trailing comments", () => {
    expect(minifyShell("#!/usr/bin/env bash\n# a comment\n\nif true; then\n  echo '#not a comment' # trailing\n  # indented comment\nfi\n")).toBe(
      "if true; then\necho '#not a comment' # trailing\nfi\n",
    );
  });

  test.each([
    ["a line starting with #", 'msg="first\n# second line of the string\n"\necho "$msg"\n'],
    ["an indented line", 'msg="first\n   indented line of the string"\necho "$msg"\n'],
  ])("a multi-line string holding %s would change the program, and the comparison sees it", (_what, script) => {
    expect(parsedByBash(minifyShell(script))).not.toBe(parsedByBash(script));
  });
});
