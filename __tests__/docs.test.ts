/**
 * Docs that stay true: every measured figure in one table (docs/development.md, written by
 * `npm run bench`), no path outside the repository, every relative link and anchor resolving, the
 * README within its size and the host-key command for each Backlog domain.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { REFERENCE_ROWS, ruleSummary, withDocumentedRules } from "../lib/config-reference";
import { BUILD_DEFAULTS } from "../lib/mirror-build";
import { RULES } from "../lib/rules";
import { documentedFiles } from "../scripts/build-docs";

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
  const figures = readFileSync(path.join(ROOT, "docs", "development.md"), "utf8");
  const begin = figures.indexOf("<!-- figures:begin -->");
  const end = figures.indexOf("<!-- figures:end -->");

  test("docs/development.md has one figures table, between the markers the bench writes", () => {
    expect(begin).toBeGreaterThan(0);
    expect(end).toBeGreaterThan(begin);
    expect(figures.indexOf("<!-- figures:begin -->", begin + 1)).toBe(-1);
    const rows = figures.slice(begin, end).split("\n").filter((l) => /^\| `/.test(l));
    expect(rows.length).toBeGreaterThanOrEqual(3);
    for (const row of rows) expect(row).toMatch(/\| \d{4}-\d{2}-\d{2} \|$/);
  });

  test("no duration is quoted outside that table, in the README or in docs/", () => {
    expect(readme.match(DURATION) ?? []).toEqual([]);
    for (const [name, text] of docs) {
      const outside = name === "docs/development.md" ? text.slice(0, begin) + text.slice(end) : text;
      expect([name, outside.match(DURATION) ?? []]).toEqual([name, []]);
    }
  });
});

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
const anchor = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}_\- ]/gu, "")
    .replace(/ /g, "-");

describe("links", () => {
  const pages = [["README.md", readme] as const, ...docs];
  test.each(pages)("every relative link of %s reaches a file of the repository, and its anchor a heading", (name, text) => {
    const broken: string[] = [];
    const prose = text.replace(/```[\s\S]*?```/g, "");
    for (const m of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1];
      if (/^(https?:|mailto:)/.test(target)) continue;
      const [file, hash] = target.split("#");
      const resolved = file === "" ? path.join(ROOT, name) : path.join(ROOT, path.dirname(name), file);
      if (!existsSync(resolved)) {
        broken.push(target);
        continue;
      }
      if (hash !== undefined && resolved.endsWith(".md")) {
        const headings = [...readFileSync(resolved, "utf8").matchAll(/^#{1,6} (.+)$/gm)].map((h) => anchor(h[1]));
        if (!headings.includes(hash)) broken.push(target);
      }
    }
    expect(broken).toEqual([]);
  });

  test("the README stays a page for users: at most 25,000 characters (counted as UTF-8 bytes, the stricter count), the construct's usage within its first 150 lines", () => {
    expect(Buffer.byteLength(readme, "utf8")).toBeLessThanOrEqual(25_000);
    expect(readme.split("\n").findIndex((l) => l.startsWith("## Use the construct"))).toBeLessThan(150);
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

describe("what the rule table documents (npm run build:docs)", () => {
  test("the README's configuration reference and the props' Allowed: lines are what the rule table writes", () => {
    for (const [file, [text, generated]] of Object.entries(documentedFiles())) expect([file, text]).toEqual([file, generated]);
  });

  test("a rule's reference row leads with the rule's allowed values, and defaults come from the constants", () => {
    const row = (key: string) => readme.split("\n").find((l) => l.startsWith(`| \`${key}\` |`)) ?? "";
    expect(row("build.timeoutMinutes")).toBe(`| \`build.timeoutMinutes\` | no | \`${BUILD_DEFAULTS.timeoutMinutes}\` | ${ruleSummary(RULES["build.timeoutMinutes"])} |`);
    expect(row("backlog.domain")).toContain("`backlog.jp`, `backlog.com` or `backlogtool.com`");
    for (const r of REFERENCE_ROWS.filter((x) => x.rule !== undefined)) expect(row(r.key)).toContain(ruleSummary(RULES[r.rule!]));
  });

  test("a props TSDoc line naming a rule the table lacks fails the build", () => {
    expect(() => withDocumentedRules('   * Allowed: 1-2 (`RULES["build.noSuchThing"]`).')).toThrow('lib/props.ts documents the rule "build.noSuchThing"');
  });
});
