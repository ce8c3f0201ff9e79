/** The resource diagram (npm run diagram): the graph drawn from the synthesized stack, and its DOT. */
import { stackGraph, toDot } from "../scripts/diagram";
import { exampleConfig, synthStack } from "../test/support/synth";

const synth = synthStack(exampleConfig());
const graph = stackGraph(synth);
const address = (type: string, pathEnd: string): string => {
  const node = graph.nodes.find((n) => n.type === type && n.path.join("/").endsWith(pathEnd));
  if (node === undefined) throw new Error(`no ${type} at .../${pathEnd}`);
  return node.address;
};
const hasEdge = (from: string, to: string) => graph.edges.some(([f, t]) => f === from && t === to);

describe("resource diagram", () => {
  test("has one node per synthesized resource", () => {
    const count = Object.values(synth.resource).reduce((n, byName) => n + Object.keys(byName).length, 0);
    expect(graph.nodes).toHaveLength(count);
  });

  test("draws direct references: the sync project runs as the build role and writes its log group", () => {
    const project = address("aws_codebuild_project", "Repositories/Project");
    expect(hasEdge(project, address("aws_iam_role", "Iam/BuildRole"))).toBe(true);
    expect(hasEdge(project, address("aws_cloudwatch_log_group", "Repositories/LogGroup"))).toBe(true);
  });

  test("draws depends_on: the project waits for the mount targets", () => {
    const project = address("aws_codebuild_project", "Repositories/Project");
    expect(hasEdge(project, address("aws_efs_mount_target", "Storage/MountTarget"))).toBe(true);
  });

  test("draws references made through a policy document: the bucket policy names the bucket", () => {
    expect(hasEdge(address("aws_s3_bucket_policy", "Storage/CachePolicy"), address("aws_s3_bucket", "Storage/CacheBucket"))).toBe(true);
  });

  test("every edge joins two drawn resources, with no self-loops or duplicates", () => {
    const nodes = new Set(graph.nodes.map((n) => n.address));
    for (const [from, to] of graph.edges) {
      expect(nodes.has(from) && nodes.has(to) && from !== to).toBe(true);
    }
    expect(new Set(graph.edges.map((e) => e.join(" "))).size).toBe(graph.edges.length);
  });

  test("the DOT groups resources by construct and declares every node and edge", () => {
    const dot = toDot(graph);
    expect(dot.startsWith('digraph "backlog-codecommit-mirror" {')).toBe(true);
    for (const cluster of ["Storage", "Network", "Iam", "Webhook", "Repositories"]) expect(dot).toContain(`subgraph "cluster_${cluster}"`);
    for (const n of graph.nodes) expect(dot).toContain(`"${n.address}" [label=`);
    expect(dot.match(/ -> /g)).toHaveLength(graph.edges.length);
    expect(dot.trimEnd().endsWith("}")).toBe(true);
  });
});
