/**
 * Values the construct tree is built from, which are either known when the configuration is written
 * (the CDKTF stack: literal values from validated props) or Terraform expressions known only when it
 * is applied (the HCL module: its variables). The constructs are written once against these types;
 * lib/mirror-inputs.ts makes them from props, lib/terraform-module.ts from the module's variables.
 *
 * - A string or a number may be an expression: a string holding `${...}`, a number token
 *   (`Token.asNumber`). Literal text is escaped where the inputs are made
 *   (lib/terraform-template.ts), so a `${` left in a string is always meant as an expression.
 * - A {@link Switch} says whether an optional part exists: literally (the part is created or not), or
 *   by an HCL condition, which becomes its resources' `count` (and `dynamic` blocks, `%{ if }`
 *   template directives).
 * - A {@link StringList} is a literal list, or an HCL expression of one.
 */
import { type TerraformResource, Token, ref } from "cdktf";
import { templateParts } from "./terraform-template";

/** A boolean HCL expression, e.g. `var.resync.enabled` (without `${}`). */
export interface Condition {
  readonly hcl: string;
}

/** Whether an optional part exists: always, never, or when an HCL condition holds. */
export type Switch = boolean | Condition;

/** The condition `hcl` (an HCL boolean expression, without `${}`). */
export function when(hcl: string): Condition {
  return { hcl };
}

/** Whether the part exists in some configuration (its resources must be declared). */
export function declared(s: Switch): boolean {
  return s !== false;
}

/** The `count` of a resource of the part: none when it always exists, `cond ? 1 : 0` otherwise. */
export function countOf(s: Switch): number | undefined {
  if (typeof s === "boolean") return undefined;
  return Token.asNumber(ref(`${s.hcl} ? 1 : 0`));
}

/** An HCL expression of a list of strings (without `${}`), e.g. `var.subnet_ids`. */
export interface ListExpression {
  readonly hcl: string;
}

/** A list of strings: literal, or an HCL expression. */
export type StringList = readonly string[] | ListExpression;

/** Whether `l` is an expression (not a literal list). */
export function isListExpression(l: StringList): l is ListExpression {
  return !Array.isArray(l);
}

/** The list as an attribute value: the literal strings, or a list token of the expression. */
export function listValue(l: StringList): string[] {
  return isListExpression(l) ? Token.asList(ref(l.hcl)) : [...l];
}

/** An HCL expression of the list (for use inside another expression). */
export function listHcl(l: StringList): string {
  return isListExpression(l) ? l.hcl : `[${l.map(hclTemplate).join(", ")}]`;
}

/** `f` applied to every item: `[for x in LIST : "f(x)"]` for an expression. */
export function mapList(l: StringList, f: (item: string) => string): StringList {
  if (!isListExpression(l)) return l.map(f);
  return { hcl: `[for x in ${l.hcl} : ${hclTemplate(f("${x}"))}]` };
}

/**
 * CDKTF's marker of a string token (`${TfToken[TOKEN.12]}`). Inside an expression CDKTF resolves a
 * token to its bare reference (`data.aws_region.X.id`), which inside a quoted template must be
 * interpolated again: {@link hclTemplate} wraps such a marker in `${}`. Expressions holding tokens
 * are always made with cdktf's `ref()`, never as raw `${...}` strings, in which CDKTF misreads the
 * nesting once a quoted template precedes a token (__tests__/terraform-values.test.ts shows both).
 */
const STRING_TOKEN = /^\$\{TfToken\[[^\]]+\]\}$/;

/**
 * A template string (literal text, `${...}` interpolations, CDKTF tokens) as an HCL quoted template,
 * for use inside an expression.
 */
export function hclTemplate(template: string): string {
  const parts = templateParts(template);
  if (parts.length === 1 && "sequence" in parts[0] && parts[0].sequence.startsWith("${")) {
    // One interpolation: its expression (a CDKTF token resolves to its bare reference here).
    const { sequence } = parts[0];
    return STRING_TOKEN.test(sequence) ? sequence : sequence.slice(2, -1);
  }
  const escape = (text: string) => text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
  const body = parts
    .map((part) => {
      if ("literal" in part) return escape(part.literal);
      // A CDKTF token is a sequence of its own; any other `${...}` is HCL already.
      return STRING_TOKEN.test(part.sequence) ? `\${${part.sequence}}` : part.sequence;
    })
    .join("");
  return `"${body}"`;
}

/** `f` applied to every item and joined by `sep`: a literal string, or a `${join(...)}` template. */
export function joinList(l: StringList, sep: string, f: (item: string) => string): string {
  if (!isListExpression(l)) return l.map(f).join(sep);
  return Token.asString(ref(`join(${hclTemplate(sep)}, [for x in ${l.hcl} : ${hclTemplate(f("${x}"))}])`));
}

/**
 * An attribute of a resource of an optional part: the attribute itself when the part always exists,
 * `one(TYPE.NAME[*].ATTRIBUTE)` when it has a `count` (null when the part is off).
 */
export function optionalAttribute(resource: TerraformResource, attribute: string): string {
  if (resource.count === undefined) return Token.asString(resource.getStringAttribute(attribute));
  return Token.asString(ref(`one(${resource.fqn}[*].${attribute})`));
}

/** A number input as text for a template (`Token.asString` keeps a token a token). */
export function numberText(n: number): string {
  return Token.isUnresolved(n) ? Token.asString(n) : String(n);
}
