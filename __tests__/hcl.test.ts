/**
 * tools/terraform/hcl.ts: Terraform's JSON syntax as HCL, the cases cdktf 0.21's own HCL output gets
 * wrong (see the last test) among them. The committed module is checked against Terraform itself
 * (terraform fmt, validate, test) in the module suite.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { App, TerraformStack } from "cdktf";
import { DataAwsRegion } from "@cdktf/provider-aws/lib/data-aws-region";
import { IamPolicy } from "@cdktf/provider-aws/lib/iam-policy";
import { templateParts } from "../lib/terraform-template";
import { type SchemaIndex, expression, renderHcl, stringExpression } from "../tools/terraform/hcl";

const schema: SchemaIndex = {
  resource: {
    aws_thing: { blocks: { environment: { blocks: { environment_variable: { blocks: {} } } }, source: { blocks: {} } } },
  },
  data: { aws_region: { blocks: {} } },
};

describe("templates", () => {
  test("split into literal text and ${...} / %{...} sequences, escapes staying literal", () => {
    expect(templateParts('a$${b}c${var.x}%{ if y }z%{ endif }"')).toEqual([
      { literal: "a$${b}c" },
      { sequence: "${var.x}" },
      { sequence: "%{ if y }" },
      { literal: "z" },
      { sequence: "%{ endif }" },
      { literal: '"' },
    ]);
  });

  test("an interpolation's own strings, braces and nested templates stay one sequence", () => {
    expect(templateParts('${jsonencode({ a = "}", b = "${var.c}" })}!')).toEqual([
      { sequence: '${jsonencode({ a = "}", b = "${var.c}" })}' },
      { literal: "!" },
    ]);
  });

  test("a lone interpolation becomes its expression", () => {
    expect(stringExpression("${var.name}")).toBe("var.name");
    expect(stringExpression('${join(",", ["a", "b"])}')).toBe('join(",", ["a", "b"])');
  });

  test("quoted: literal quotes, backslashes and tabs escaped, interpolations kept", () => {
    expect(stringExpression('{"a":"${var.x}","re":"4\\d{2}"}')).toBe('"{\\"a\\":\\"${var.x}\\",\\"re\\":\\"4\\\\d{2}\\"}"');
    expect(stringExpression("a\tb")).toBe('"a\\tb"');
  });

  test("multi-line text ending in a newline is a heredoc written as is", () => {
    expect(stringExpression("line 1 \\d\n${var.x}\n")).toBe("<<EOT\nline 1 \\d\n${var.x}\nEOT");
    expect(stringExpression("EOT\nx\n")).toBe("<<EOT_\nEOT\nx\nEOT_");
  });

  test("objects with keys that are not identifiers, and lists", () => {
    expect(expression({ "application/json": "x", Name: 1, list: [true, null] })).toBe('{\n  "application/json" = "x"\n  Name = 1\n  list = [true, null]\n}');
  });
});

describe("renderHcl", () => {
  test("nested blocks from the schema, object arguments as values, meta-arguments first, references bare", () => {
    const hcl = renderHcl(
      {
        resource: {
          aws_thing: {
            one: {
              "//": { metadata: {} },
              environment: { environment_variable: [{ name: "A", value: "1" }, { name: "B", value: "2" }], image: "x" },
              tags: { Name: "n" },
              for_each: "${local.m}",
              depends_on: ["aws_thing.two"],
              lifecycle: { create_before_destroy: true, postcondition: [{ condition: "${self.id != \"\"}", error_message: "no id" }] },
            },
          },
        },
        moved: [{ from: "aws_thing.old", to: "aws_thing.one" }],
      },
      schema,
    );
    expect(hcl).toBe(
      [
        'resource "aws_thing" "one" {',
        "  for_each = local.m",
        "",
        "  tags = {",
        '    Name = "n"',
        "  }",
        "  environment {",
        '    image = "x"',
        "    environment_variable {",
        '      name = "A"',
        '      value = "1"',
        "    }",
        "    environment_variable {",
        '      name = "B"',
        '      value = "2"',
        "    }",
        "  }",
        "",
        "  depends_on = [",
        "    aws_thing.two,",
        "  ]",
        "",
        "  lifecycle {",
        "    create_before_destroy = true",
        "    postcondition {",
        '      condition = self.id != ""',
        '      error_message = "no id"',
        "    }",
        "  }",
        "}",
        "",
        "moved {",
        "  from = aws_thing.old",
        "  to = aws_thing.one",
        "}",
        "",
      ].join("\n"),
    );
  });

  test("dynamic blocks take their content's schema; variables keep type expressions bare", () => {
    const hcl = renderHcl(
      {
        variable: { v: { type: "list(object({ a = string }))", description: "d", validation: [{ condition: "${length(var.v) > 0}", error_message: "v must list one" }] } },
        resource: {
          aws_thing: {
            t: { environment: { dynamic: { environment_variable: { for_each: "${var.v}", content: { name: "${environment_variable.value.a}" } } } } },
          },
        },
      },
      schema,
    );
    expect(hcl).toContain("  type = list(object({ a = string }))\n");
    expect(hcl).toContain("  validation {\n    condition = length(var.v) > 0\n");
    expect(hcl).toContain('    dynamic "environment_variable" {\n      for_each = var.v\n      content {\n        name = environment_variable.value.a\n      }\n    }');
  });

  test("a type the schema does not know is an error, not a guess", () => {
    expect(() => renderHcl({ resource: { aws_other: { x: {} } } }, schema)).toThrow("the provider schema has no resource type aws_other");
  });

  test("cdktf 0.21's own HCL output breaks a JSON policy holding a reference and a backslash (why this renderer exists)", () => {
    const outdir = mkdtempSync(path.join(tmpdir(), "hcl-test-"));
    const app = new App({ outdir, skipValidation: true });
    const stack = new TerraformStack(app, "s");
    const region = new DataAwsRegion(stack, "r");
    new IamPolicy(stack, "p", { name: "p", description: "4\\d{2}", policy: `{"Resource":"arn:aws:sns:${region.id}:1:t"}` });
    stack.prepareStack();
    const cdktfHcl = (stack.toHclTerraform() as { hcl: string }).hcl;
    rmSync(outdir, { recursive: true, force: true });
    // Unescaped quotes around an interpolation, and \d, which HCL refuses ("Invalid escape sequence").
    expect(cdktfHcl).toContain('policy = "{"Resource":"arn:aws:sns:${data.aws_region.r.id}:1:t"}"');
    expect(cdktfHcl).toContain('description = "4\\d{2}"');
    expect(stringExpression('{"Resource":"arn:aws:sns:${data.aws_region.r.id}:1:t"}')).toBe('"{\\"Resource\\":\\"arn:aws:sns:${data.aws_region.r.id}:1:t\\"}"');
    expect(stringExpression("4\\d{2}")).toBe('"4\\\\d{2}"');
  });
});
