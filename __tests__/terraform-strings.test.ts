import { readdirSync } from "node:fs";
import * as path from "node:path";
import { loadStackConfig } from "../lib/stack-config";
import { templateParts } from "../lib/terraform-template";
import { ROOT, synthStack } from "../test/support/synth";

/** Every string in a JSON document, with its path. */
function* strings(value: unknown, at = ""): Generator<[string, string]> {
  if (typeof value === "string") yield [at, value];
  else if (Array.isArray(value)) for (const [i, v] of value.entries()) yield* strings(v, `${at}[${i}]`);
  else if (value !== null && typeof value === "object")
    for (const [k, v] of Object.entries(value)) yield* strings(v, at === "" ? k : `${at}.${k}`);
}

const configs = [
  "config/example.json",
  ...readdirSync(path.join(ROOT, "examples"))
    .map((d) => `examples/${d}/config.json`)
    .filter((f) => {
      try {
        return loadStackConfig(path.join(ROOT, f)) !== undefined;
      } catch {
        return false;
      }
    }),
];

describe.each(configs)("the synthesized configuration of %s", (file) => {
  const synth = synthStack(loadStackConfig(path.join(ROOT, file)));

  // Function names may hold digits (sha256, base64encode: Terraform's built-in functions).
  test("interpolates only references and functions: no literal text is read as a Terraform template", () => {
    const bad: string[] = [];
    for (const [at, s] of strings({ resource: synth.resource, data: synth.data, output: synth.output, locals: synth.locals })) {
      for (const part of templateParts(s)) {
        if (!("sequence" in part)) continue;
        const expression = part.sequence.slice(2, -1);
        // A reference (an instance's: `aws_T.N["KEY"].attr`, `aws_T.N[each.key].attr`), a local value,
        // a function call, a for_each instance's own key and value fields, or a `for` expression.
        if (!/^(data\.)?[a-z][a-z0-9_]*\.[A-Za-z0-9_-]+(\["[^"]*"\]|\[each\.key\])?\.[a-z0-9_.[\]]+$|^local\.[A-Za-z0-9_]+$|^[a-z_][a-z0-9_]*\(.*\)$|^each\.(key|value(\.[a-z_]+)?)$|^\{ for [a-z, ]+ in |^\[for [a-z, ]+ in /s.test(expression)) {
          bad.push(`${at}: ${part.sequence}`);
        }
      }
    }
    expect(bad).toEqual([]);
  });
});
