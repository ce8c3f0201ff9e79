/**
 * The plan summary on real plans: test/fixtures/plan-summary/ holds `terraform show -json` and
 * `terraform show -no-color` of plans made against the local AWS emulator by
 * scripts/plan-summary-fixtures.ts (create on empty state; no changes after the apply; a changed
 * configuration with a removed, an added and a renamed repository and a new log retention).
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { type PlanJson, changeKind, headline, planSummary, renderSummary, summarizePlan } from "../scripts/plan-summary";

const FIXTURES = path.join(__dirname, "..", "test", "fixtures", "plan-summary");
const plan = (name: string): PlanJson => JSON.parse(readFileSync(path.join(FIXTURES, `${name}.json`), "utf8")) as PlanJson;
const text = (name: string): string => readFileSync(path.join(FIXTURES, `${name}.txt`), "utf8");

/** The "Plan: ..." or "No changes." line Terraform itself printed for the same plan. */
function terraformHeadline(name: string): string {
  const line = text(name)
    .split("\n")
    .find((l) => /^(Plan: |No changes\.|Changes to Outputs:)/.test(l));
  if (line === undefined) throw new Error(`no headline in ${name}.txt`);
  return line.trim();
}

describe("plan summary on real plans", () => {
  test.each(["create", "mixed"])("counts what Terraform counts (%s plan)", (name) => {
    expect(headline(summarizePlan(plan(name)))).toBe(terraformHeadline(name));
  });

  test("a plan on empty state only creates, one row per managed resource", () => {
    const p = plan("create");
    const s = summarizePlan(p);
    const managed = (p.resource_changes ?? []).filter((r) => r.mode === "managed");
    expect(s.add).toBe(managed.length);
    expect(s.add).toBeGreaterThan(30);
    expect([s.change, s.destroy, s.replace]).toEqual([0, 0, 0]);
    expect(new Set(s.rows.map((r) => r.kind))).toEqual(new Set(["create"]));
    expect(s.rows.map((r) => r.address)).toContain("aws_codecommit_repository.Mirror_DEMO-api_Repository_9E2E1CA4");
  });

  test("the plan after apply has no changes", () => {
    const s = summarizePlan(plan("none"));
    expect([s.add, s.change, s.destroy]).toEqual([0, 0, 0]);
    expect(s.rows).toEqual([]);
    expect(headline(s)).toBe("No changes. Your infrastructure matches the configuration.");
  });

  describe("a changed configuration", () => {
    const s = summarizePlan(plan("mixed"));
    const rowsOf = (kind: string) => s.rows.filter((r) => r.kind === kind).map((r) => r.address);

    test("the removed repository's resources are destroyed", () => {
      const destroyed = rowsOf("delete");
      expect(destroyed.some((a) => a.startsWith("aws_codecommit_repository.Mirror_DEMO-api_"))).toBe(true);
      expect(destroyed.some((a) => a.startsWith("aws_codebuild_project.Mirror_DEMO-api_"))).toBe(true);
    });

    test("resources whose name changes are replaced, with the attribute that forces it", () => {
      const replaced = new Map(s.rows.filter((r) => r.kind === "replace").map((r) => [r.address.replace(/_[0-9A-F]{8}$/, ""), r.detail]));
      expect(replaced.get("aws_cloudwatch_log_group.Mirror_DEMO-web-app_LogGroup")).toBe("forced by name; destroy before create");
      expect(replaced.get("aws_codebuild_project.Mirror_DEMO-web-app_Project")).toBe("forced by name; destroy before create");
      expect(replaced.get("aws_api_gateway_deployment.Mirror_Webhook_Deployment")).toBe("forced by triggers; create before destroy");
      expect(s.replace).toBe(replaced.size);
    });

    test("a renamed CodeCommit repository and the widened IAM policies are in-place updates", () => {
      const updated = rowsOf("update");
      expect(updated.some((a) => a.startsWith("aws_codecommit_repository.Mirror_DEMO-web-app_"))).toBe(true);
      expect(updated.some((a) => a.startsWith("aws_iam_role_policy.Mirror_Iam_BuildSyncPolicy_"))).toBe(true);
    });

    test("the added repository's resources are created", () => {
      expect(rowsOf("create").some((a) => a.startsWith("aws_codecommit_repository.Mirror_OPS-tools_"))).toBe(true);
    });

    test("destroys and replacements come first in the table", () => {
      const kinds = s.rows.map((r) => r.kind);
      const firstCreate = kinds.indexOf("create");
      expect(kinds.slice(firstCreate).every((k) => k === "create")).toBe(true);
      expect(kinds[0]).toBe("delete");
    });

    test("the Markdown has the marker, the counts, a warning, the rows and the full plan collapsed", () => {
      const md = renderSummary(s, { title: "backlog-codecommit-mirror", planText: text("mixed"), maxChars: 1_000_000 });
      expect(md.startsWith("<!-- plan-summary:backlog-codecommit-mirror -->\n")).toBe(true);
      expect(md).toContain(`**${terraformHeadline("mixed")}**`);
      expect(md).toContain(`| ${s.add} | ${s.change} | ${s.destroy} | ${s.replace} |`);
      expect(md).toContain("> [!WARNING]");
      for (const r of s.rows) expect(md).toContain(`\`${r.address}\``);
      expect(md).toMatch(/<details><summary>Full plan \(\d+ lines\)<\/summary>\n\n```+text\n/);
      expect(md).toContain(text("mixed").trimEnd());
    });
  });

  test("by default stays under GitHub's comment limit (65,536 characters)", () => {
    const md = renderSummary(summarizePlan(plan("mixed")), { planText: text("mixed") });
    expect(text("mixed").length).toBeGreaterThan(65_536);
    expect(md.length).toBeLessThanOrEqual(60_000);
    expect(md).toContain("(cut: ");
  });

  test("stays under the limit by cutting the plan text first", () => {
    const s = summarizePlan(plan("create"));
    const full = text("create");
    const md = renderSummary(s, { planText: full.repeat(20), maxChars: 20_000 });
    expect(md.length).toBeLessThanOrEqual(20_000);
    expect(md).toContain("(cut: ");
    for (const r of s.rows) expect(md).toContain(`\`${r.address}\``);
  });

  test("a fence is longer than any backtick run in the plan text", () => {
    const s = summarizePlan(plan("none"));
    const md = renderSummary(s, { planText: "a ```` b" });
    expect(md).toContain("`````text\na ```` b\n`````");
  });

  test("the command line reads the files and prints the Markdown", () => {
    const md = planSummary({ json: path.join(FIXTURES, "mixed.json"), text: path.join(FIXTURES, "mixed.txt"), title: "x" });
    expect(md.split("\n", 1)[0]).toBe("<!-- plan-summary:x -->");
  });

  test.each<[string, () => unknown, string]>([
    ["a file that is not a plan", () => summarizePlan({ format_version: undefined } as unknown as PlanJson), "not a Terraform JSON plan"],
    ["an unknown action list", () => changeKind(["explode"]), "unknown Terraform plan action list: [explode]"],
    ["no --json", () => planSummary({ text: "x" }), "--json is required: give it the output of terraform show -json PLANFILE"],
  ])("refuses %s", (_, run, message) => {
    expect(run).toThrow(message);
  });
});
