/**
 * The stack's outputs, as `terraform output -json` prints them: either read from a file
 * (`--outputs FILE`, `-` for standard input) or by running `terraform output -json` in the stack's
 * directory (`--stack-dir DIR`, default `cdktf.out/stacks/backlog-codecommit-mirror`, which must
 * be initialised with its backend so Terraform can read the state), or any root module that calls
 * the HCL module and passes its `repositories` output on under any name. Both the whole document
 * (`terraform output -json`) and a single output (`terraform output -json NAME`) are understood.
 * When `AWS_ENDPOINT_URL` is a running `npm run sandbox:up`, the default directory is that
 * sandbox's stack (as npm run preflight recognises the sandbox).
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { CONFIG_ENV } from "../../lib/stack-config";
import { runningSandbox } from "../sandbox-env";
import { UserError } from "./command";

/** The stack's directory when neither --outputs nor --stack-dir is given (and no sandbox is named). */
export const DEFAULT_STACK_DIR = "cdktf.out/stacks/backlog-codecommit-mirror";

/** Where `terraform output -json` runs: `--stack-dir`, else the running sandbox's stack, else {@link DEFAULT_STACK_DIR}. */
export function stackDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(flag ?? runningSandbox(env)?.stackDir ?? DEFAULT_STACK_DIR);
}

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

/** A map of `PROJECT/REPO` to repository outputs, with at least one entry. */
function isRepositoriesMap(v: unknown): v is RepositoriesOutput {
  return typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length > 0 && Object.values(v).every(isRepository);
}

/** `terraform output -json` without a name: every output as `{ sensitive, type, value }`. */
function isOutputsDocument(v: unknown): v is Record<string, { value: unknown }> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const values = Object.values(v);
  return values.length > 0 && values.every((o) => typeof o === "object" && o !== null && "value" in o && "type" in o);
}

/**
 * Finds the repositories map in the JSON `terraform output -json [NAME]` printed: the stack's
 * `repositories` output, or, in a root module that calls the HCL module, the one output (under any
 * name) whose value maps `PROJECT/REPO` to what the module's `repositories` output gives, for
 * example `output "mirror" { value = module.mirror.repositories }`. A single output's value
 * (`terraform output -json NAME`) is taken as it is.
 */
export function parseOutputs(text: string, source: string): RepositoriesOutput {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new OutputsError(`${source} is not JSON (${(e as Error).message}); give it what \`terraform output -json\` prints`);
  }
  const none = `${source} has no output that maps PROJECT/REPO to webhook_url, codecommit_repository and build_project (the stack's \`repositories\`, or the HCL module's \`repositories\` passed through an output of a root module): is it the output of this stack, applied?`;
  if (isOutputsDocument(data)) {
    if (data.repositories !== undefined && isRepositoriesMap(data.repositories.value)) return data.repositories.value;
    if (data.repositories !== undefined && typeof data.repositories.value === "object" && Object.keys(data.repositories.value ?? {}).length === 0) return {};
    const found = Object.entries(data).filter(([, o]) => isRepositoriesMap(o.value));
    if (found.length === 1) return found[0][1].value as RepositoriesOutput;
    if (found.length > 1) {
      throw new OutputsError(`${source} has ${found.length} outputs that map repositories (${found.map(([n]) => n).join(", ")}): give one, as \`terraform output -json NAME\` prints it`);
    }
    throw new OutputsError(none);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data) || Object.keys(data).length === 0) throw new OutputsError(none);
  for (const [key, value] of Object.entries(data)) {
    if (!isRepository(value)) {
      throw new OutputsError(`${source}: \`repositories["${key}"]\` lacks webhook_url, codecommit_repository or build_project; give it what \`terraform output -json\` prints for this stack`);
    }
  }
  return data as RepositoriesOutput;
}

/**
 * The line of Terraform's diagnostics that says what went wrong: its first `Error:` line, without
 * colours or the box Terraform draws around diagnostics; else its last non-empty line.
 */
export function terraformErrorLine(stderr: string): string {
  // \x1b[...m: the colour sequences of a Terraform run without -no-color.
  const lines = stderr.replace(/\x1b\[[0-9;]*m/g, "").split("\n").map((l) => l.replace(/^[\s│╷╵]+/, "").trim()).filter(Boolean);
  return lines.find((l) => l.startsWith("Error:")) ?? lines.at(-1) ?? "no message";
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
    const { stdout } = await promisify(execFile)("terraform", ["output", "-json", "-no-color"], { cwd: dir, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, TF_IN_AUTOMATION: "1" } });
    return parseOutputs(stdout, `terraform output -json in ${dir}`);
  } catch (e) {
    if (e instanceof OutputsError) throw e;
    const err = e as { code?: string; stderr?: string; message: string };
    const why = err.code === "ENOENT" ? "terraform or the directory was not found" : terraformErrorLine(err.stderr ?? err.message);
    throw new OutputsError(`cannot run \`terraform output -json\` in ${dir} (${why}); run it where the stack was applied, or pass --outputs FILE`);
  }
}

/**
 * Refuses the default configuration when `MIRROR_CONFIG` is not set and the stack's outputs list
 * none of its repositories: the stack was made from another configuration, and judging it by the
 * example's repositories would report each of them "not wired" instead of saying what is wrong.
 */
export function checkDefaultConfig(env: NodeJS.ProcessEnv, file: string, configured: readonly string[], outputKeys: readonly string[]): void {
  if ((env[CONFIG_ENV] ?? "") !== "" || outputKeys.length === 0 || outputKeys.some((k) => configured.includes(k))) return;
  const listed = outputKeys.length > 3 ? `${outputKeys.slice(0, 3).join(", ")} and ${outputKeys.length - 3} more` : outputKeys.join(", ");
  throw new UserError(
    `${CONFIG_ENV} is not set, so the configuration is ${path.relative(process.cwd(), file) || file}, and the stack's outputs list none of its repositories (they list ${listed}): set ${CONFIG_ENV} to the configuration the stack was made from`,
  );
}
