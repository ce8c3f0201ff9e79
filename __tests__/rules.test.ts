/**
 * lib/rules.ts is the one place a single-field rule is written: the configuration's schema and the
 * module's validation blocks are both made from it (the module suite runs every rule through
 * `terraform validate` and zod side by side; this is the fast smoke test).
 */
import { RULES, type Rule, hclCondition, passes, ruleText } from "../lib/rules";
import { moduleVariables } from "../lib/terraform-module";
import { ConfigError, validateMirrorProps } from "../lib/validation";
import { exampleConfig } from "../test/support/synth";

const blocks = Object.values(moduleVariables()).flatMap((v) => v.validation ?? []);
/** Fields the module has no variable for (the CDKTF stack only). */
const STACK_ONLY = [
  "build.concurrentBuildLimit",
];

describe("the rule table", () => {
  test.each((Object.entries(RULES) as Array<[string, Rule]>).filter(([f]) => !STACK_ONLY.includes(f)))("%s is a validation block of the module", (_field, rule) => {
    // The condition on some expression: the rule's own condition with `x` replaced by that expression.
    const [before, after] = hclCondition(rule, "\u0000").split("\u0000");
    expect(blocks.some((b) => b.condition.includes(before) && b.condition.includes(after.split("\u0000")[0]) && b.error_message.endsWith(` ${ruleText(rule)}.`))).toBe(true);
  });

  test("a bad value gets the rule's text in the configuration's error", () => {
    const props = { ...exampleConfig(), name: "Bad_Name" };
    try {
      validateMirrorProps(props as never);
      throw new Error("not refused");
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).problems.join("\n")).toContain(`\`name\` ${ruleText(RULES.name)}`);
    }
  });

  test("patterns are RE2 as well as JavaScript: no lookaround, no backreference", () => {
    for (const rule of Object.values(RULES) as Rule[]) {
      if (rule.kind === "pattern") expect(rule.pattern.source).not.toMatch(/\(\?[=!<]|\\[1-9]/);
      if (rule.kind === "pattern" && rule.reserved !== undefined) expect(rule.reserved.source).not.toMatch(/\(\?[=!<]|\\[1-9]/);
    }
  });

  test("passes() is what the rules say", () => {
    expect(passes(RULES["build.timeoutMinutes"], 480)).toBe(true);
    expect(passes(RULES["build.timeoutMinutes"], 4.5)).toBe(false);
    expect(passes(RULES["backlog.domain"], "backlogtool.com")).toBe(true);
    expect(passes(RULES["backlog.hostKeys[]"], "ssh-dss AAAA")).toBe(false);
    expect(passes(RULES["webhook.sourceIps[]"], "10.0.0.0/33")).toBe(false);
    // Reserved by AWS in any case; one rule says so to both the schema and the module.
    expect(["/backlog/key", "/AWS/key", "/ssm/key", "/Ssm"].map((v) => passes(RULES["backlog.sshKeyParameter"], v))).toEqual([true, false, false, false]);
    expect(hclCondition(RULES["backlog.sshKeyParameter"], "x")).toContain('!can(regex("(?i)^\\\\/(aws|ssm)", x))');
  });
});
