/**
 * Draws the synthesized stack: every resource, grouped by the construct that creates it, with an
 * arrow from each resource to each resource it refers to (`${type.name.attr}` references and
 * `depends_on`). Built from the synthesized JSON rather than `terraform graph`, whose output
 * needs `terraform init` and is dominated by provider and meta nodes; the picture is the same
 * dependency graph Terraform builds, minus that noise.
 *
 * Usage: node --import tsx scripts/diagram.ts [--stack cdk.tf.json] [--output out.svg]
 *   defaults: cdktf.out/stacks/backlog-codecommit-mirror/cdk.tf.json and dist/diagram/diagram.svg
 *   (also writes the DOT source next to the SVG). Needs Graphviz's `dot`. Arguments, `--help` and
 *   exit codes are the runner's (scripts/ops/command.ts).
 * The picture is generated, never committed: its default place is under dist/ (git-ignored), and
 * nothing is written unless both the DOT and the SVG were made (a failure leaves no partial file).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { command, EXIT, main, UserError } from "./ops/command";

export interface StackJson {
  readonly resource?: Record<string, Record<string, Record<string, unknown>>>;
  readonly data?: Record<string, Record<string, Record<string, unknown>>>;
}

export interface Node {
  /** `type.name` */
  readonly address: string;
  readonly type: string;
  /** The construct path below the stack and the top-level construct, e.g. ["Storage", "FileSystem"]. */
  readonly path: readonly string[];
}

export interface Graph {
  readonly nodes: readonly Node[];
  /** [from, to]: `from` refers to `to`. */
  readonly edges: ReadonlyArray<readonly [string, string]>;
}

const DATA_REFERENCE = /\$\{(?:[^}]*?[^a-z_.])?(data\.aws_[a-z0-9_]+\.[A-Za-z0-9_-]+)/g;
const DEPENDS_ON = /^aws_[a-z0-9_]+\.[A-Za-z0-9_-]+$/;
const REFERENCE = /\$\{(?:[^}]*?[^a-z_.])?(aws_[a-z0-9_]+\.[A-Za-z0-9_-]+)/g;

function strings(value: unknown, out: string[]): string[] {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) for (const v of value) strings(v, out);
  else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) if (k !== "//") strings(v, out);
  }
  return out;
}

/** The resources and their references. Data sources are folded into the resources that read them. */
export function stackGraph(stack: StackJson): Graph {
  const nodes: Node[] = [];
  const bodies = new Map<string, Record<string, unknown>>();
  for (const [type, byName] of Object.entries(stack.resource ?? {})) {
    for (const [name, body] of Object.entries(byName)) {
      // The construct path: "stack/Mirror/Storage/FileSystem" from the metadata of a real synthesis,
      // else from the name ("Mirror_Storage_FileSystem_2AF78B77"); either way ["Storage", "FileSystem"].
      const meta = (body["//"] as { metadata?: { path?: string } } | undefined)?.metadata?.path;
      const parts = meta !== undefined ? meta.split("/").slice(1) : name.replace(/_[0-9A-F]{8}$/, "").split("_");
      nodes.push({ address: `${type}.${name}`, type, path: parts.length > 1 ? parts.slice(1) : parts });
      bodies.set(`${type}.${name}`, body);
    }
  }
  const known = new Set(nodes.map((n) => n.address));
  // `${type.name.attr}` anywhere, and the bare `type.name` entries of depends_on.
  const referencesIn = (body: unknown): string[] =>
    strings(body, []).flatMap((text) => (DEPENDS_ON.test(text) ? [text] : [...text.matchAll(REFERENCE)].map((m) => m[1])));
  // A data source (a policy document) stands for the resources it refers to.
  const viaData = new Map<string, string[]>();
  for (const [type, byName] of Object.entries(stack.data ?? {})) {
    for (const [name, body] of Object.entries(byName)) viaData.set(`data.${type}.${name}`, referencesIn(body));
  }
  const edges = new Map<string, readonly [string, string]>();
  for (const [from, body] of bodies) {
    const direct = referencesIn(body);
    const folded = strings(body, []).flatMap((text) =>
      [...text.matchAll(DATA_REFERENCE)].flatMap((m) => viaData.get(m[1]) ?? []),
    );
    for (const to of [...direct, ...folded]) {
      if (to !== from && known.has(to)) edges.set(`${from} ${to}`, [from, to]);
    }
  }
  return { nodes, edges: [...edges.values()].sort((a, b) => a.join().localeCompare(b.join())) };
}

const quote = (s: string) => JSON.stringify(s);

/** Fill colour by AWS service. */
function colour(type: string): string {
  if (type.startsWith("aws_api_gateway")) return "#f3e5f5";
  if (type.startsWith("aws_codebuild") || type.startsWith("aws_codecommit")) return "#e3f2fd";
  if (type.startsWith("aws_iam")) return "#fff3e0";
  if (type.startsWith("aws_efs") || type.startsWith("aws_s3")) return "#e8f5e9";
  if (type.startsWith("aws_security_group") || type.startsWith("aws_vpc")) return "#fce4ec";
  if (type.startsWith("aws_cloudwatch")) return "#fffde7";
  return "#eeeeee";
}

/** Graphviz DOT: one cluster per first-level construct, left to right. */
export function toDot(graph: Graph, title = "backlog-codecommit-mirror"): string {
  const clusters = new Map<string, Node[]>();
  for (const n of graph.nodes) {
    const key = n.path.length > 1 ? n.path[0] : "";
    clusters.set(key, [...(clusters.get(key) ?? []), n]);
  }
  const nodeLine = (n: Node) => {
    const label = `${n.type.replace(/^aws_/, "")}\\n${n.path.slice(n.path.length > 1 ? 1 : 0).join("/")}`;
    return `    ${quote(n.address)} [label="${label}", fillcolor=${quote(colour(n.type))}];`;
  };
  const lines = [
    `digraph ${quote(title)} {`,
    "  rankdir=LR; compound=true; newrank=true;",
    `  label=${quote(`${title}: resources and their dependencies (arrow: refers to)`)}; labelloc=t; fontname="Helvetica";`,
    '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
    '  edge [color="#607d8b", arrowsize=0.6];',
  ];
  for (const [key, nodes] of [...clusters].sort(([a], [b]) => a.localeCompare(b))) {
    if (key === "") {
      lines.push(...nodes.map(nodeLine));
      continue;
    }
    lines.push(`  subgraph ${quote(`cluster_${key}`)} {`, `    label=${quote(key)}; style="rounded,dashed"; color="#90a4ae";`);
    lines.push(...nodes.map(nodeLine), "  }");
  }
  for (const [from, to] of graph.edges) lines.push(`  ${quote(from)} -> ${quote(to)};`);
  lines.push("}");
  return `${lines.join("\n")}\n`;
}

/** Renders DOT to SVG with Graphviz; throws with an install hint when `dot` is missing. */
export function renderSvg(dot: string): string {
  const result = spawnSync("dot", ["-Tsvg"], { input: dot, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (result.error !== undefined) {
    throw new UserError(`Graphviz's dot cannot be run (${result.error.message}). Install it: apt-get install -y graphviz (or brew install graphviz)`);
  }
  if (result.status !== 0) throw new Error(`dot failed: ${result.stderr}`);
  return result.stdout;
}

const ROOT = path.resolve(__dirname, "..");
const DEFAULT_STACK = path.join("cdktf.out", "stacks", "backlog-codecommit-mirror", "cdk.tf.json");
const DEFAULT_OUTPUT = path.join("dist", "diagram", "diagram.svg");

const USAGE = `usage: npm run diagram [-- --stack cdk.tf.json] [--output out.svg]

Synthesizes the stack (npm run synth) and draws every resource, grouped by the construct that
creates it, with an arrow for each reference, into an SVG (and its DOT source next to it).

  --stack FILE    the synthesized stack (default ${DEFAULT_STACK})
  --output FILE   the SVG to write (default ${DEFAULT_OUTPUT})

Needs Graphviz's dot.
exit codes: 0 written, 2 a usage error, an unreadable stack or no dot (nothing is written)`;

export const diagramCommand = command({
  name: "diagram",
  usage: USAGE,
  options: { stack: { type: "string" }, output: { type: "string" } },
  run: async ({ values, output: out }) => {
    const input = values.stack !== undefined ? path.resolve(values.stack) : path.join(ROOT, DEFAULT_STACK);
    const output = values.output !== undefined ? path.resolve(values.output) : path.join(ROOT, DEFAULT_OUTPUT);
    let text: string;
    try {
      text = readFileSync(input, "utf8");
    } catch (e) {
      throw new UserError(`cannot read the synthesized stack ${input} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): run npm run synth first, or give --stack`);
    }
    const dot = toDot(stackGraph(JSON.parse(text) as StackJson));
    const svg = renderSvg(dot);
    mkdirSync(path.dirname(output), { recursive: true });
    writeFileSync(output.replace(/\.svg$/, ".dot"), dot);
    writeFileSync(output, svg);
    out.out(`wrote ${path.relative(process.cwd(), output)}`);
    return EXIT.ok;
  },
});

if (require.main === module) main(diagramCommand);
