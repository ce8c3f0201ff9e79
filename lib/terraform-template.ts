/** Writing literal text into a Terraform configuration. */

/**
 * Terraform reads every string of a configuration as a template: a literal text such as shell must
 * have its `${` written `$${` and its `%{` written `%%{` to reach the provider as written. (cdktf's
 * `Fn.rawString` targets HCL expressions and also re-escapes newlines and quotes, which a JSON string
 * must not have.)
 */
export function escapeTerraformTemplate(text: string): string {
  // (a replacer function, because "$$" in a replacement string means one "$")
  return text.replace(/\$\{/g, () => "$${").replace(/%\{/g, () => "%%{");
}

/** The parts of a template: literal text (escapes kept as written) and `${...}` / `%{...}` sequences. */
export function templateParts(template: string): Array<{ literal: string } | { sequence: string }> {
  const parts: Array<{ literal: string } | { sequence: string }> = [];
  let literal = "";
  let i = 0;
  while (i < template.length) {
    const two = template.slice(i, i + 2);
    const three = template.slice(i, i + 3);
    if (three === "$${" || three === "%%{") {
      literal += three;
      i += 3;
    } else if (two === "${" || two === "%{") {
      if (literal !== "") parts.push({ literal });
      literal = "";
      const end = scanExpression(template, i + 2);
      parts.push({ sequence: template.slice(i, end) });
      i = end;
    } else {
      literal += template[i];
      i += 1;
    }
  }
  if (literal !== "") parts.push({ literal });
  return parts;
}

/** Index after the `}` closing an expression that starts at `start` (after `${` or `%{`). */
function scanExpression(s: string, start: number): number {
  let depth = 1;
  let i = start;
  while (i < s.length) {
    const c = s[i];
    if (c === '"') {
      i = scanQuoted(s, i + 1);
      continue;
    }
    if (c === "{") depth += 1;
    if (c === "}") {
      depth -= 1;
      if (depth === 0) return i + 1;
    }
    i += 1;
  }
  throw new Error(`unterminated template sequence: ${s.slice(start - 2, start + 60)}`);
}

/** Index after the `"` closing a quoted template that starts at `start` (after its `"`). */
function scanQuoted(s: string, start: number): number {
  let i = start;
  while (i < s.length) {
    const c = s[i];
    if (c === "\\") {
      i += 2;
      continue;
    }
    if (c === '"') return i + 1;
    if ((c === "$" || c === "%") && s[i + 1] === "{") {
      if (s[i - 1] === c) {
        i += 2;
        continue;
      }
      i = scanExpression(s, i + 2);
      continue;
    }
    i += 1;
  }
  throw new Error(`unterminated string in a template expression: ${s.slice(start - 1, start + 60)}`);
}
