/** Values that are literal in the stack and Terraform expressions in the module (lib/terraform-values.ts). */
import { DataAwsIamPolicyDocument } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import { SnsTopic } from "@cdktf/provider-aws/lib/sns-topic";
import { Testing, TerraformStack, Token, ref } from "cdktf";
import { countOf, declared, hclTemplate, joinList, listValue, mapList, numberText, optionalAttribute, when } from "../lib/terraform-values";

/** Synthesizes what `build` declares in a fresh stack; returns the parsed JSON. */
function synth(build: (stack: TerraformStack) => void): any {
  const app = Testing.app();
  const stack = new TerraformStack(app, "s");
  build(stack);
  return JSON.parse(Testing.synth(stack));
}

describe("literal values (the stack)", () => {
  test("stay as they are", () => {
    expect(mapList(["a", "b"], (x) => `arn:${x}`)).toEqual(["arn:a", "arn:b"]);
    expect(joinList(["a", "b"], ",", (x) => `<${x}>`)).toBe("<a>,<b>");
    expect(listValue(["a"])).toEqual(["a"]);
    expect(countOf(true)).toBeUndefined();
    expect([declared(true), declared(false), declared(when("var.x"))]).toEqual([true, false, true]);
    expect(numberText(26)).toBe("26");
  });
});

describe("expressions (the module)", () => {
  test("CDKTF resolves a token inside a raw `${...}` string wrongly once a quoted template precedes it, and correctly inside ref(): why every expression is built with ref()", () => {
    const json = synth((s) => {
      const a = Token.asString(ref("var.a"));
      const e = `concat([{ v = "\${var.s}.git" }, { v = ${a} }])`;
      new SnsTopic(s, "T", { name: `\${${e}}`, displayName: Token.asString(ref(e)) });
    });
    const topic = json.resource.aws_sns_topic.T;
    expect(topic.name).toBe('${concat([{ v = "${var.s}.git" }, { v = ${var.a} }])}');
    expect(topic.display_name).toBe('${concat([{ v = "${var.s}.git" }, { v = var.a }])}');
  });

  test("a list is mapped and joined with `for` expressions whose templates interpolate the tokens they hold", () => {
    const json = synth((s) => {
      const p = new DataAwsPartition(s, "P");
      const arns = listValue(mapList({ hcl: "var.subnet_ids" }, (x) => `arn:${p.partition}:ec2:${x}`));
      new DataAwsIamPolicyDocument(s, "D", { statement: [{ actions: ["a"], resources: arns }] });
      new SnsTopic(s, "T", { name: joinList({ hcl: "var.names" }, "-", (x) => `"${x}"`) });
    });
    expect(json.data.aws_iam_policy_document.D.statement[0].resources).toBe('${[for x in var.subnet_ids : "arn:${data.aws_partition.P.partition}:ec2:${x}"]}');
    expect(json.resource.aws_sns_topic.T.name).toBe('${join("-", [for x in var.names : "\\"${x}\\""])}');
  });

  test("a quoted template escapes its literal text only; one interpolation is its bare expression", () => {
    expect(hclTemplate('say "hi"\n${var.x} and ${join(", ", ["a"])}')).toBe('"say \\"hi\\"\\n${var.x} and ${join(", ", ["a"])}"');
    expect(hclTemplate("${var.x}")).toBe("var.x");
    expect(hclTemplate("$${literal}")).toBe('"$${literal}"');
  });

  test("an optional part has a count, and references to its resources go through one(...[*].attr)", () => {
    const json = synth((s) => {
      const on = new SnsTopic(s, "On", { name: "a" });
      const maybe = new SnsTopic(s, "Maybe", { name: "b", count: countOf(when("var.enabled")) });
      new SnsTopic(s, "Uses", { name: "c", displayName: `${optionalAttribute(on, "arn")} ${optionalAttribute(maybe, "arn")}` });
    });
    const t = json.resource.aws_sns_topic;
    expect(t.Maybe.count).toBe("${var.enabled ? 1 : 0}");
    expect(t.On.count).toBeUndefined();
    expect(t.Uses.display_name).toBe("${aws_sns_topic.On.arn} ${one(aws_sns_topic.Maybe[*].arn)}");
  });
});
