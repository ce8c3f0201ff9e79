/** Helpers for the unit tests: configurations and parsed synthesized stacks. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { cachedSynthesis } from "./synth-cache";
import { synthesizing } from "./synthesizing";
import type { StackConfig } from "../../lib/validation";
import { instances } from "../../tools/terraform/instances";

export { type Instance, forEachMap, instances } from "../../tools/terraform/instances";
export { synthesizing } from "./synthesizing";

export const ROOT = path.resolve(__dirname, "..", "..");

/**
 * The app as `npm run synth` runs it: `node dist/main.js`, built first when a source is newer
 * (scripts/build.sh, a no-op when it is current). A test that needs the app as a process spawns this
 * rather than TypeScript through tsx (about 3 s per process).
 */
export function builtApp(): string {
  // Once per test process: the sources do not change while a suite runs.
  if (!appBuilt) {
    execFileSync("bash", [path.join(ROOT, "scripts", "build.sh")], { cwd: ROOT, stdio: "inherit" });
    appBuilt = true;
  }
  return path.join(ROOT, "dist", "main.js");
}
let appBuilt = false;

/** The shipped example configuration, parsed (a fresh copy each call). */
export function exampleConfig(): StackConfig {
  return JSON.parse(readFileSync(path.join(ROOT, "config", "example.json"), "utf8")) as StackConfig;
}

/** The example with `n` repositories: DEMO/repo-1 ... in two Backlog projects. */
export function configWithRepositories(n: number): StackConfig {
  const config = exampleConfig();
  return {
    ...config,
    repositories: Array.from({ length: n }, (_, i) => ({
      projectKey: i % 2 === 0 ? "DEMO" : "OPS",
      repository: `repo-${i + 1}`,
    })),
  };
}

/** A synthesized stack, parsed. `resource[type][name]` holds the resources. */
export interface Synth {
  terraform: Record<string, unknown>;
  provider: Record<string, Array<Record<string, unknown>>>;
  resource: Record<string, Record<string, Record<string, any>>>;
  data: Record<string, Record<string, Record<string, any>>>;
  output: Record<string, { value: any; description?: string }>;
  locals?: Record<string, any>;
  moved?: Array<{ from: string; to: string }>;
}

/**
 * The stack the app synthesizes for `config`, parsed ({@link synthesizing}: as the app builds it);
 * a fresh copy each call. Synthesized once per run for each configuration ({@link cachedSynthesis});
 * the app (and cdktf) is loaded only when this file synthesizes.
 */
export function synthStack(config: StackConfig): Synth {
  const text = cachedSynthesis(config, () =>
    synthesizing(() => {
      const { Testing } = require("cdktf") as typeof import("cdktf");
      const { MirrorStack } = require("../../main") as typeof import("../../main");
      return Testing.synth(new MirrorStack(Testing.app(), "test", config));
    }),
  );
  return JSON.parse(text) as Synth;
}

/** All resource instances of a type ({@link instances}), as a list of their arguments. */
export function resources(synth: Synth, type: string): Array<Record<string, any>> {
  return instances(synth, type).map((i) => i.body);
}

/** The one resource instance of a type; fails when there are zero or several. */
export function onlyResource(synth: Synth, type: string): Record<string, any> {
  const all = resources(synth, type);
  if (all.length !== 1) throw new Error(`expected one ${type}, found ${all.length}`);
  return all[0];
}

/**
 * The one resource instance of a type outside the safety net (`Mirror_SafetyNet_*`: the verify
 * project, its log group, its alarm), i.e. the one of the single configured repository or of the stack.
 */
export function onlyResourceOutsideSafetyNet(synth: Synth, type: string): Record<string, any> {
  const all = instances(synth, type).filter((i) => !/_SafetyNet_/.test(i.address));
  if (all.length !== 1) throw new Error(`expected one ${type} outside the safety net, found ${all.length}`);
  return all[0].body;
}

/** The Terraform address of the resource instance whose body is `body` (from {@link resources}). */
export function addressOf(synth: Synth, type: string, body: Record<string, unknown>): string {
  const entry = instances(synth, type).find((i) => i.body === body);
  if (entry === undefined) throw new Error(`no such ${type}`);
  return entry.address;
}

/**
 * The address `depends_on` names for the resource of that instance: the resource itself, without
 * the instance key (Terraform's `depends_on` takes whole resources).
 */
export function resourceAddressOf(synth: Synth, type: string, body: Record<string, unknown>): string {
  return addressOf(synth, type, body).replace(/\[.*\]$/, "");
}

/** `${type.name.attr}` reference of the resource instance whose body is `body`. */
export function refOf(synth: Synth, type: string, body: Record<string, unknown>, attr = "id"): string {
  return `\${${addressOf(synth, type, body)}.${attr}}`;
}

/** The rendered IAM policy document data source named by a `${data.aws_iam_policy_document.X.json}` reference. */
export function policyDocument(synth: Synth, reference: string): Record<string, any> {
  const m = /^\$\{data\.aws_iam_policy_document\.([^.]+)\.json\}$/.exec(reference);
  if (m === null) throw new Error(`not a policy document reference: ${reference}`);
  return synth.data.aws_iam_policy_document[m[1]];
}

/** `${data.type.name.attr}` of the only data source of a type. */
export function dataRef(synth: Synth, type: string, attr: string): string {
  const names = Object.keys(synth.data[type] ?? {});
  if (names.length !== 1) throw new Error(`expected one data.${type}, found ${names.length}`);
  return `\${data.${type}.${names[0]}.${attr}}`;
}

/**
 * A literal string as Terraform hands it to the provider: template escapes resolved (`$${` → `${`,
 * `%%{` → `%{`); the one inverse every suite uses (tools/terraform/template.ts).
 */
export { terraformLiteral } from "../../tools/terraform/template";
import { terraformLiteral } from "../../tools/terraform/template";

/**
 * What a CodeBuild project's build phase runs, read from the synthesized stack only: its one build
 * command, the files it sources from `$CODEBUILD_SRC_DIR`, and each file's text as the stack uploads
 * it (the `aws_s3_object` at the project's S3 source folder + the file name: lib/build-scripts.ts).
 */
export function buildScriptsOf(synth: Synth, project: Record<string, any>): { command: string; files: string[]; text: string } {
  const spec = parse(terraformLiteral(project.source.buildspec)) as { phases: { build: { commands: string[] } } };
  const command = spec.phases.build.commands[0];
  const files = [...command.matchAll(/^\. "\$CODEBUILD_SRC_DIR\/([^"]+)"$/gm)].map((m) => m[1]);
  if (project.source.type !== "S3") throw new Error(`the project's source is ${project.source.type}, not S3`);
  const folder = String(project.source.location).replace(/^\$\{[^}]+\}\//, "");
  const objects = resources(synth, "aws_s3_object");
  const text = files
    .map((file) => {
      const object = objects.find((o) => o.key === `${folder}${file}`);
      if (object === undefined) throw new Error(`no aws_s3_object at ${folder}${file}`);
      return terraformLiteral(object.content);
    })
    .join("");
  return { command, files, text };
}

/** The problems validation reports for the example configuration changed by `mutate`. */
export function problemsOf(mutate: (c: any) => void): string[] {
  // Loaded here, not on import: validation brings cdktf, which a file reading cached syntheses needs not load.
  const { ConfigError, validateStackConfig } = require("../../lib/validation") as typeof import("../../lib/validation");
  const config: any = exampleConfig();
  mutate(config);
  try {
    validateStackConfig(config);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error("the configuration was accepted");
}
