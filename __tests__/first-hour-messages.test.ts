/**
 * The messages a new user meets first: a JSON syntax error with its line and column (said once), a
 * number written as a string, a Backlog address given as the space key, a binary plan file given
 * to the plan summary, and the one line `npm run synth` ends with.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { loadStackConfig } from "../lib/stack-config";
import { ConfigError } from "../lib/validation";
import { defaultTitle, planSummary } from "../scripts/plan-summary";
import { ROOT, builtApp, problemsOf } from "../test/support/synth";

function problemsOfFile(text: string): string[] {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "mirror-json-")), "config.json");
  writeFileSync(file, text);
  try {
    loadStackConfig(file);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error("the file was accepted");
}


describe("a JSON syntax error names its line and column, once", () => {
  test.each<[string, string, string]>([
    ["a trailing comma", '{\n  "region": "ap-northeast-1",\n}\n', "JSON syntax error at line 3, column 1: Expected double-quoted property name"],
    ["a missing comma", '{\n  "region": "ap-northeast-1"\n  "name": "x"\n}\n', "JSON syntax error at line 3, column 3: Expected ',' or '}' after property value"],
    ["a bare word (V8 gives no position)", '{\n  "encryption": { "customerManagedKey": tru }\n}\n', "JSON syntax error at line 2, column 41:"],
    ["a file cut short", '{\n  "region": "ap-northeast-1"', "JSON syntax error at line 2, column 29:"],
  ])("%s", (_name, text, expected) => {
    const problems = problemsOfFile(text);
    expect(problems).toHaveLength(1);
    expect(problems[0].startsWith(expected)).toBe(true);
    expect(problems[0]).not.toContain("is not valid JSON");
  });
});

describe("hints for common slips", () => {
  test("a number written as a string says so", () => {
    expect(problemsOf((c) => (c.logRetentionDays = "30"))).toEqual([
      "`logRetentionDays` must be one of the retention periods CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653), got: \"30\" (a number, not a string: write 30 without quotes)",
    ]);
    expect(problemsOf((c) => (c.build = { timeoutMinutes: "15" }))).toEqual([
      '`build.timeoutMinutes` must be a whole number from 5 to 480, got: "15" (a number, not a string: write 15 without quotes)',
    ]);
  });

  test("a string that is not a number gets no number hint", () => {
    expect(problemsOf((c) => (c.build = { timeoutMinutes: "fifteen" }))).toEqual([
      '`build.timeoutMinutes` must be a whole number from 5 to 480, got: "fifteen"',
    ]);
  });

  test.each<[string, string, string]>([
    ["the space URL", "https://acme.backlog.com/", "backlog.com"],
    ["a repository URL", "https://acme.backlog.jp/git/SHOP/web", "backlog.jp"],
    ["the SSH clone address", "acme@acme.git.backlog.jp:/SHOP/web.git", "backlog.jp"],
    ["the host name", "acme.backlog.com", "backlog.com"],
    ["a backlogtool.com SSH clone address", "acme@acme.git.backlogtool.com:/SHOP/web.git", "backlogtool.com"],
  ])("a Backlog address as the space key (%s) names the key and the domain", (_name, given, domain) => {
    expect(problemsOf((c) => (c.backlog.spaceKey = given))).toEqual([
      `\`backlog.spaceKey\` must be a Backlog space key: 1-63 letters, digits and hyphens, not starting or ending with a hyphen, got: ${JSON.stringify(given)} (that is a Backlog address: the space key is the first part of its host name, "acme", and \`backlog.domain\` is "${domain}")`,
    ]);
  });
});

describe("plan summary input", () => {
  test("a binary plan file is refused with the terraform show -json command", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "plan-bin-"));
    const file = path.join(dir, "plan");
    // What `terraform plan -out` writes is a zip archive: local file header signature "PK\x03\x04".
    writeFileSync(file, Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x08, 0x00]));
    expect(() => planSummary({ json: file })).toThrow(
      `${file} is a binary plan file (terraform plan -out writes a zip archive), not JSON; convert it first: terraform show -json ${file} > plan.json, then pass --json plan.json`,
    );
  });

  test("the default title is the stack directory's name", () => {
    expect(defaultTitle("cdktf.out/stacks/backlog-codecommit-mirror/plan.json")).toBe("backlog-codecommit-mirror");
    const md = planSummary({ json: path.join(ROOT, "test", "fixtures", "plan-summary", "none.json") });
    expect(md.split("\n", 1)[0]).toBe("<!-- plan-summary:plan-summary -->");
  });
});

describe("npm run synth", () => {
  test("ends with one line naming the file it wrote and the resource count", () => {
    const outdir = mkdtempSync(path.join(tmpdir(), "mirror-synth-line-"));
    const result = spawnSync(process.execPath, [builtApp()], {
      cwd: ROOT,
      env: { ...process.env, CDKTF_OUTDIR: outdir },
      encoding: "utf8",
    });
    expect(result.stderr).toBe("");
    const file = path.join(outdir, "stacks", "backlog-codecommit-mirror", "cdk.tf.json");
    const json = JSON.parse(require("node:fs").readFileSync(file, "utf8"));
    const count = Object.values<Record<string, unknown>>(json.resource).reduce((n, r) => n + Object.keys(r).length, 0);
    expect(result.stdout.trim().split("\n")).toEqual([`config/example.json -> ${path.relative(ROOT, file)}: ${count} resources`]);
  });
});
