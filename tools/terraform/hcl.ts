/**
 * Terraform's JSON configuration syntax rendered as HCL native syntax, for the committed module
 * (`npm run build:module`). The two syntaxes are specified side by side by Terraform ("JSON
 * Configuration Syntax", developer.hashicorp.com/terraform/language/syntax/json): a JSON string is
 * a template (`${...}` interpolations, `%{...}` directives, `$${` and `%%{` escapes, no backslash
 * escapes of its own), and a JSON object is a nested block or an object value depending on the
 * provider's schema, which is why rendering takes the schema (`terraform providers schema -json`).
 *
 * cdktf's own HCL output (`App({ hclOutput: true })`, cdktf 0.21) was tried first and fails
 * `terraform validate` on this stack: it quotes JSON policy strings without escaping their quotes,
 * writes `\d` in a quoted string unescaped, renders lifecycle `postcondition` as an argument and
 * `moved` addresses as strings (the bugs of hashicorp/terraform-cdk #3911 and #3875 family); see
 * __tests__/hcl.test.ts for the cases this renderer gets right instead.
 */
import { templateParts } from "../../lib/terraform-template";

/** The nested block types of a resource or data source type, recursively (from the provider schema). */
export interface BlockSchema {
  readonly blocks: Readonly<Record<string, BlockSchema>>;
}

/** Block structure of every resource and data source type of a provider. */
export interface SchemaIndex {
  readonly resource: Readonly<Record<string, BlockSchema>>;
  readonly data: Readonly<Record<string, BlockSchema>>;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const EMPTY: BlockSchema = { blocks: {} };
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;


/** A quoted HCL template with the same value as the JSON template `template`. */
function quoted(template: string): string {
  const body = templateParts(template)
    .map((p) =>
      "literal" in p
        ? p.literal.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n").replace(/\r/g, "\\r").replace(/\t/g, "\\t")
        : p.sequence,
    )
    .join("");
  return `"${body}"`;
}

/** A heredoc with the value of `template` (which ends with a newline): its text is kept as written. */
function heredoc(template: string): string {
  let tag = "EOT";
  const lines = new Set(template.split("\n").map((l) => l.trim()));
  while (lines.has(tag)) tag = `${tag}_`;
  return `<<${tag}\n${template}${tag}`;
}

/** The expression of a JSON string: a lone interpolation becomes its expression, else a template. */
export function stringExpression(s: string): string {
  const parts = templateParts(s);
  if (parts.length === 1 && "sequence" in parts[0] && parts[0].sequence.startsWith("${")) {
    return parts[0].sequence.slice(2, -1).replace(/^~\s*/, "").replace(/\s*~$/, "").trim();
  }
  if (s.includes("\n") && s.endsWith("\n") && s.split("\n").length > 2) return heredoc(s);
  return quoted(s);
}

const pad = (depth: number) => "  ".repeat(depth);

/** A JSON value as an HCL expression. */
export function expression(value: Json, depth = 0): string {
  if (value === null) return "null";
  if (typeof value === "string") return stringExpression(value);
  if (typeof value === "number" || typeof value === "boolean") return JSON.stringify(value);
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    const items = value.map((v) => expression(v, depth + 1));
    const oneLine = `[${items.join(", ")}]`;
    if (oneLine.length <= 100 && !oneLine.includes("\n")) return oneLine;
    return `[\n${items.map((i) => `${pad(depth + 1)}${i},`).join("\n")}\n${pad(depth)}]`;
  }
  const entries = Object.entries(value).filter(([k]) => k !== "//");
  if (entries.length === 0) return "{}";
  return `{\n${entries.map(([k, v]) => `${pad(depth + 1)}${objectKey(k)} = ${expression(v, depth + 1)}`).join("\n")}\n${pad(depth)}}`;
}

function objectKey(key: string): string {
  return IDENTIFIER.test(key) ? key : JSON.stringify(key);
}

/** A reference given as a JSON string (depends_on, moved, provider): the bare address. */
function reference(value: Json): string {
  if (typeof value !== "string") throw new Error(`a reference must be a string, got ${JSON.stringify(value)}`);
  const m = /^\$\{(.+)\}$/s.exec(value);
  return m === null ? value : m[1];
}

const attribute = (depth: number, name: string, value: string) => `${pad(depth)}${name} = ${value}`;

/** The arguments and nested blocks of a block. */
function blockBody(body: JsonObject, schema: BlockSchema, depth: number): string[] {
  const lines: string[] = [];
  // Arguments first, then nested blocks, then dynamic blocks (Terraform's style guide).
  const rank = ([key, value]: [string, Json]) => (key === "dynamic" ? 2 : schema.blocks[key] !== undefined && value !== null && typeof value === "object" ? 1 : 0);
  const entries = Object.entries(body).sort((a, b) => rank(a) - rank(b));
  for (const [key, value] of entries) {
    if (key === "//") continue;
    if (key === "dynamic") {
      for (const [name, spec] of Object.entries(value as JsonObject)) {
        const specs = Array.isArray(spec) ? spec : [spec];
        for (const d of specs as JsonObject[]) {
          const inner = schema.blocks[name] ?? EMPTY;
          const { content, ...rest } = d;
          lines.push(`${pad(depth)}dynamic ${JSON.stringify(name)} {`);
          for (const [k, v] of Object.entries(rest)) lines.push(attribute(depth + 1, k, k === "iterator" ? reference(v) : expression(v, depth + 1)));
          lines.push(...block("content", [], content as JsonObject, inner, depth + 1));
          lines.push(`${pad(depth)}}`);
        }
      }
      continue;
    }
    const nested = schema.blocks[key];
    if (nested !== undefined && value !== null && typeof value === "object") {
      for (const b of Array.isArray(value) ? value : [value]) lines.push(...block(key, [], b as JsonObject, nested, depth));
      continue;
    }
    lines.push(attribute(depth, key, expression(value, depth)));
  }
  return lines;
}

function block(type: string, labels: string[], body: JsonObject, schema: BlockSchema, depth: number): string[] {
  const head = `${pad(depth)}${[type, ...labels.map((l) => JSON.stringify(l))].join(" ")} {`;
  const inner = blockBody(body, schema, depth + 1);
  return inner.length === 0 ? [`${head}}`] : [head, ...inner, `${pad(depth)}}`];
}

/** The lifecycle block: references kept bare, conditions as blocks. */
function lifecycle(value: JsonObject, depth: number): string[] {
  const lines = [`${pad(depth)}lifecycle {`];
  for (const [k, v] of Object.entries(value)) {
    if (k === "precondition" || k === "postcondition") {
      for (const c of (Array.isArray(v) ? v : [v]) as JsonObject[]) lines.push(...block(k, [], c, EMPTY, depth + 1));
    } else if (k === "ignore_changes" || k === "replace_triggered_by") {
      lines.push(attribute(depth + 1, k, Array.isArray(v) ? `[${v.map(reference).join(", ")}]` : reference(v)));
    } else {
      lines.push(attribute(depth + 1, k, expression(v, depth + 1)));
    }
  }
  lines.push(`${pad(depth)}}`);
  return lines;
}

/** A resource or data block: meta-arguments first, as Terraform's style guide orders them. */
function resourceBlock(kind: "resource" | "data", type: string, name: string, body: JsonObject, schema: SchemaIndex): string[] {
  const typeSchema = (kind === "resource" ? schema.resource : schema.data)[type];
  if (typeSchema === undefined) throw new Error(`the provider schema has no ${kind} type ${type}`);
  const { count, for_each, provider, depends_on, lifecycle: life, ...rest } = body;
  const lines = [`${kind} ${JSON.stringify(type)} ${JSON.stringify(name)} {`];
  if (count !== undefined) lines.push(attribute(1, "count", expression(count, 1)));
  if (for_each !== undefined) lines.push(attribute(1, "for_each", expression(for_each, 1)));
  if (provider !== undefined) lines.push(attribute(1, "provider", reference(provider)));
  if (lines.length > 1) lines.push("");
  lines.push(...blockBody(rest, typeSchema, 1));
  if (depends_on !== undefined) lines.push("", attribute(1, "depends_on", `[\n${(depends_on as Json[]).map((d) => `${pad(2)}${reference(d)},`).join("\n")}\n${pad(1)}]`));
  if (life !== undefined) lines.push("", ...lifecycle(life as JsonObject, 1));
  lines.push("}");
  return lines;
}

function variableBlock(name: string, body: JsonObject): string[] {
  const lines = [`variable ${JSON.stringify(name)} {`];
  for (const [k, v] of Object.entries(body)) {
    if (k === "type") lines.push(attribute(1, "type", String(v)));
    else if (k === "validation") {
      for (const c of (Array.isArray(v) ? v : [v]) as JsonObject[]) lines.push("", ...block("validation", [], c, EMPTY, 1));
    } else lines.push(attribute(1, k, expression(v, 1)));
  }
  lines.push("}");
  return lines;
}

function outputBlock(name: string, body: JsonObject): string[] {
  const lines = [`output ${JSON.stringify(name)} {`];
  for (const [k, v] of Object.entries(body)) lines.push(attribute(1, k, k === "depends_on" ? `[${(v as Json[]).map(reference).join(", ")}]` : expression(v, 1)));
  lines.push("}");
  return lines;
}

function terraformBlock(body: JsonObject): string[] {
  const lines = ["terraform {"];
  for (const [k, v] of Object.entries(body)) {
    if (k === "required_providers") {
      lines.push(`${pad(1)}required_providers {`);
      for (const [p, req] of Object.entries(v as JsonObject)) lines.push(attribute(2, p, expression(req, 2)));
      lines.push(`${pad(1)}}`);
    } else lines.push(attribute(1, k, expression(v, 1)));
  }
  lines.push("}");
  return lines;
}

/**
 * A Terraform JSON configuration (one file's top-level object) as HCL: `terraform`, `variable`,
 * `locals`, `data`, `resource`, `moved` and `output` blocks, separated by blank lines. Not yet
 * formatted: pass it through `terraform fmt`.
 */
export function renderHcl(config: JsonObject, schema: SchemaIndex): string {
  const blocks: string[][] = [];
  for (const [section, value] of Object.entries(config)) {
    if (section === "//") continue;
    const v = value as JsonObject;
    switch (section) {
      case "terraform":
        blocks.push(terraformBlock(v));
        break;
      case "variable":
        for (const [name, body] of Object.entries(v)) blocks.push(variableBlock(name, body as JsonObject));
        break;
      case "locals": {
        const lines = ["locals {"];
        for (const [name, body] of Object.entries(v)) lines.push(attribute(1, name, expression(body, 1)));
        lines.push("}");
        blocks.push(lines);
        break;
      }
      case "data":
      case "resource":
        for (const [type, byName] of Object.entries(v)) {
          for (const [name, body] of Object.entries(byName as JsonObject)) {
            blocks.push(resourceBlock(section, type, name, body as JsonObject, schema));
          }
        }
        break;
      case "moved":
        for (const m of (Array.isArray(value) ? value : [value]) as JsonObject[]) {
          blocks.push(["moved {", attribute(1, "from", reference(m.from)), attribute(1, "to", reference(m.to)), "}"]);
        }
        break;
      case "output":
        for (const [name, body] of Object.entries(v)) blocks.push(outputBlock(name, body as JsonObject));
        break;
      default:
        throw new Error(`renderHcl: unsupported top-level block "${section}"`);
    }
  }
  return `${blocks.map((b) => b.join("\n")).join("\n\n")}\n`;
}
