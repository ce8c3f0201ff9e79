/**
 * The layout a newcomer can guess: the product (lib/, main.ts, state/), its commands (scripts/) and
 * what they run on (tools/) never import from the test suites (test/, __tests__/).
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";

const ROOT = path.join(__dirname, "..");

test("nothing outside test/ and __tests__/ imports from them", () => {
  const files = execFileSync("git", ["ls-files", "*.ts", "*.js"], { cwd: ROOT, encoding: "utf8" })
    .split("\n")
    .filter((f) => f !== "" && !/^(test|__tests__)\//.test(f));
  expect(files.length).toBeGreaterThan(30);
  const offending: string[] = [];
  for (const file of files) {
    const text = readFileSync(path.join(ROOT, file), "utf8");
    for (const m of text.matchAll(/(?:from|import|require)\s*\(?\s*["'](\.[^"']*)["']/g)) {
      const target = path.relative(ROOT, path.resolve(ROOT, path.dirname(file), m[1]));
      if (/^(test|__tests__)(\/|$)/.test(target)) offending.push(`${file}: ${m[1]}`);
    }
  }
  expect(offending).toEqual([]);
});

// One escape inverse serves every suite: Terraform's template escapes (`$${`, `%%{`) are resolved by
// tools/terraform/template.ts only, never by a copy in a test-support folder or a tool.
test("one inverse of Terraform's template escapes, in tools/terraform/template.ts", () => {
  const files = execFileSync("git", ["ls-files", "*.ts", "*.js"], { cwd: ROOT, encoding: "utf8" })
    .split("\n")
    .filter((f) => /^(test|__tests__|tools|scripts)\//.test(f));
  const inverses = files.filter((f) => /\.replace\(\/\\\$\\\$\\\{\/g/.test(readFileSync(path.join(ROOT, f), "utf8")));
  expect(inverses).toEqual(["tools/terraform/template.ts"]);
});
