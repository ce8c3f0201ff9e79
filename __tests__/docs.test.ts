/**
 * Docs that stay true: every measured figure in one table (written by `npm run bench`), no path
 * outside the repository, and the host-key command for both Backlog domains.
 */
import { readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";

const ROOT = path.join(__dirname, "..");
const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
const docs = readdirSync(path.join(ROOT, "docs"))
  .filter((f) => f.endsWith(".md"))
  .map((f) => [`docs/${f}`, readFileSync(path.join(ROOT, "docs", f), "utf8")] as const);

/**
 * A measured duration as docs quote one: "~0.7 s", "about 8 seconds", "under 30 s", "takes 2 min"
 * (a bare constant such as a back-off of 800 ms or `-lock-timeout=0s` is not a measurement).
 */
const DURATION = /(?:~ ?|\babout |\baround |\bunder |\btakes )\d+(?:\.\d+)?(?:-\d+(?:\.\d+)?)? ?(?:ms|s|min|minutes?|seconds?)\b/g;

describe("measured figures", () => {
  const begin = readme.indexOf("<!-- figures:begin -->");
  const end = readme.indexOf("<!-- figures:end -->");

  test("the README has one figures table, between the markers the bench writes", () => {
    expect(begin).toBeGreaterThan(0);
    expect(end).toBeGreaterThan(begin);
    expect(readme.indexOf("<!-- figures:begin -->", begin + 1)).toBe(-1);
    const rows = readme.slice(begin, end).split("\n").filter((l) => /^\| `/.test(l));
    expect(rows.length).toBeGreaterThanOrEqual(3);
    for (const row of rows) expect(row).toMatch(/\| \d{4}-\d{2}-\d{2} \|$/);
  });

  test("no duration is quoted outside that table, in the README or in docs/", () => {
    const outside = readme.slice(0, begin) + readme.slice(end);
    expect(outside.match(DURATION) ?? []).toEqual([]);
    for (const [name, text] of docs) expect([name, text.match(DURATION) ?? []]).toEqual([name, []]);
  });
});

describe("paths", () => {
  test.each([["README.md", readme] as const, ...docs])("%s refers to nothing outside the repository", (_name, text) => {
    expect(text).not.toMatch(/\.\.\/shared|\]\(\.\.\/\.\.|\/work\//);
  });
});

test("the README gives the ssh-keyscan line for backlog.jp and for backlog.com spaces", () => {
  expect(readme).toContain("ssh-keyscan SPACE.git.backlog.jp 2>/dev/null | cut -d' ' -f2- > host-keys.txt");
  expect(readme).toContain("ssh-keyscan SPACE.git.backlog.com 2>/dev/null | cut -d' ' -f2- > host-keys.txt");
});
