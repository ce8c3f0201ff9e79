/**
 * The stack's outputs, as `terraform output -json` prints them: either read from a file
 * (`--outputs FILE`, `-` for standard input) or by running `terraform output -json` in the stack's
 * directory (`--stack-dir DIR`, default `cdktf.out/stacks/backlog-codecommit-mirror`, which must
 * be initialised with its backend so Terraform can read the state). Both the whole document
 * (`terraform output -json`) and the single output (`terraform output -json repositories`) are
 * understood.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";

/** One repository in the `repositories` output (see main.ts). */
export interface RepositoryOutput {
  readonly webhook_url: string;
  readonly codecommit_repository: string;
  readonly clone_url_http?: string;
  readonly clone_url_ssh?: string;
  readonly build_project: string;
  readonly log_group?: string;
}

/** `PROJECT/REPO` → its outputs. */
export type RepositoriesOutput = Readonly<Record<string, RepositoryOutput>>;

export class OutputsError extends Error {}

function isRepository(v: unknown): v is RepositoryOutput {
  const r = v as Record<string, unknown> | null;
  return typeof r === "object" && r !== null && typeof r.webhook_url === "string" && typeof r.build_project === "string" && typeof r.codecommit_repository === "string";
}

/** Finds the `repositories` map in the JSON `terraform output -json [repositories]` printed. */
export function parseOutputs(text: string, source: string): RepositoriesOutput {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new OutputsError(`${source} is not JSON (${(e as Error).message}); give it what \`terraform output -json\` prints`);
  }
  const top = data as Record<string, unknown>;
  const whole = (top?.repositories as { value?: unknown } | undefined)?.value;
  const map = whole !== undefined ? whole : data;
  if (typeof map !== "object" || map === null || Array.isArray(map)) {
    throw new OutputsError(`${source} has no \`repositories\` output: is it the output of this stack, applied?`);
  }
  const entries = Object.entries(map as Record<string, unknown>);
  if (entries.length === 0 && whole === undefined) {
    throw new OutputsError(`${source} has no \`repositories\` output: is it the output of this stack, applied?`);
  }
  for (const [key, value] of entries) {
    if (!isRepository(value)) {
      throw new OutputsError(`${source}: \`repositories["${key}"]\` lacks webhook_url, codecommit_repository or build_project; give it what \`terraform output -json\` prints for this stack`);
    }
  }
  return map as RepositoriesOutput;
}

/** Reads the outputs from a file (or `-` for standard input). */
export function readOutputsFile(file: string): RepositoriesOutput {
  let text: string;
  try {
    text = readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (e) {
    throw new OutputsError(`cannot read the stack outputs from ${file}: ${(e as Error).message}`);
  }
  return parseOutputs(text, file === "-" ? "standard input" : file);
}

/** Runs `terraform output -json` in `dir`. */
export async function terraformOutputs(dir: string): Promise<RepositoriesOutput> {
  try {
    const { stdout } = await promisify(execFile)("terraform", ["output", "-json"], { cwd: dir, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, TF_IN_AUTOMATION: "1" } });
    return parseOutputs(stdout, `terraform output -json in ${dir}`);
  } catch (e) {
    if (e instanceof OutputsError) throw e;
    const err = e as { code?: string; stderr?: string; message: string };
    const why = err.code === "ENOENT" ? "terraform or the directory was not found" : (err.stderr ?? err.message).trim().split("\n").filter(Boolean).slice(-1)[0];
    throw new OutputsError(`cannot run \`terraform output -json\` in ${dir} (${why}); run it where the stack was applied, or pass --outputs FILE`);
  }
}
