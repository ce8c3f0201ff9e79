/**
 * Synthesizes the production stack for a configuration file, in-process, with main.ts's own
 * `synthesize` (what `npm run synth` runs), into a given output directory.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { loadStackConfig } from "../../lib/stack-config";
import type { StackConfig } from "../../lib/validation";
import { STACK_NAME, synthesize } from "../../main";
import { forEachMap, instances } from "./instances";
import { terraformLiteral } from "./template";

export interface SynthJson {
  terraform: { backend: { s3: Record<string, unknown> } } & Record<string, unknown>;
  provider: Record<string, unknown>;
  resource: Record<string, Record<string, Record<string, unknown>>>;
  data?: Record<string, Record<string, Record<string, unknown>>>;
  output?: Record<string, unknown>;
  locals?: Record<string, unknown>;
}

export interface Synthesized {
  readonly config: StackConfig;
  /** Directory holding cdk.tf.json. */
  readonly stackDir: string;
  /** The parsed cdk.tf.json. */
  readonly json: SynthJson;
  /** Per CodeBuild project name: the buildspec the provider receives (the JSON string as Terraform reads it). */
  readonly buildspecs: ReadonlyMap<string, string>;
}

/** Synthesizes the stack of `configFile` into `outdir`. */
export function synthesizeStack(configFile: string, outdir: string): Synthesized {
  const config = loadStackConfig(configFile);
  synthesize(configFile, outdir);
  const stackDir = path.join(outdir, "stacks", STACK_NAME);
  const json = JSON.parse(readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8")) as SynthJson;
  const buildspecs = new Map<string, string>();
  for (const { body: project } of instances(json, "aws_codebuild_project")) {
    const source = (project.source ?? {}) as { buildspec?: string };
    if (typeof project.name !== "string" || source.buildspec === undefined) throw new Error("a CodeBuild project without name or buildspec");
    buildspecs.set(project.name, terraformLiteral(source.buildspec));
  }
  return { config, stackDir, json, buildspecs };
}

/** Number of resources (not data sources) in a synthesized stack. */
export function resourceCount(json: SynthJson): number {
  return Object.values(json.resource).reduce((n, byName) => n + Object.keys(byName).length, 0);
}

/**
 * Number of resource instances Terraform plans and applies: a resource with `for_each` or `count`
 * has as many instances as `instancesOf(type, name)` says (the test knows them, e.g. one EFS mount
 * target per availability zone); any other resource is one. A `for_each`/`count` resource the
 * caller does not know fails, so a new one cannot go uncounted.
 */
export function resourceInstances(json: SynthJson, instancesOf: (type: string, name: string) => number | undefined): number {
  let total = 0;
  for (const [type, byName] of Object.entries(json.resource)) {
    for (const [name, body] of Object.entries(byName)) {
      if (body.for_each === undefined && body.count === undefined) {
        total += 1;
        continue;
      }
      // A for_each over a literal map (the per-repository resources): one instance per key.
      const map = body.for_each === undefined ? undefined : forEachMap(json, body.for_each);
      if (map !== undefined) {
        total += Object.keys(map).length;
        continue;
      }
      const n = instancesOf(type, name);
      if (n === undefined) throw new Error(`${type}.${name} has for_each or count: the test must say how many instances it plans`);
      total += n;
    }
  }
  return total;
}
