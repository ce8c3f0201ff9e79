/**
 * Draws the synthesized stack: every resource, grouped by the construct that creates it, with an
 * arrow from each resource to each resource it refers to (`${type.name.attr}` references and
 * `depends_on`). Built from the synthesized JSON rather than `terraform graph`, whose output
 * needs `terraform init` and is dominated by provider and meta nodes; the picture is the same
 * dependency graph Terraform builds, minus that noise.
 *
 * Usage: node --import tsx scripts/diagram.ts [cdk.tf.json] [out.svg]
 *   defaults: cdktf.out/stacks/backlog-codecommit-mirror/cdk.tf.json and dist/diagram/diagram.svg
 *   (also writes the DOT source next to the SVG). Needs Graphviz's `dot`.
 * The picture is generated, never committed: its default place is under dist/ (git-ignored), and
 * nothing is written unless both the DOT and the SVG were made (a failure leaves no partial file).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";

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
    throw new Error(`Graphviz's dot cannot be run (${result.error.message}). Install it: apt-get install -y graphviz (or brew install graphviz)`);
  }
  if (result.status !== 0) throw new Error(`dot failed: ${result.stderr}`);
  return result.stdout;
}

if (require.main === module) {
  const root = path.resolve(__dirname, "..");
  const input = process.argv[2] ?? path.join(root, "cdktf.out", "stacks", "backlog-codecommit-mirror", "cdk.tf.json");
  const output = process.argv[3] ?? path.join(root, "dist", "diagram", "diagram.svg");
  try {
    const dot = toDot(stackGraph(JSON.parse(readFileSync(input, "utf8")) as StackJson));
    const svg = renderSvg(dot);
    mkdirSync(path.dirname(output), { recursive: true });
    writeFileSync(output.replace(/\.svg$/, ".dot"), dot);
    writeFileSync(output, svg);
    console.log(`wrote ${path.relative(process.cwd(), output)}`);
  } catch (e) {
    console.error(`diagram: ${(e as Error).message}`);
    process.exit(1);
  }
}
