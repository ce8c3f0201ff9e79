/**
 * The external tools of the integration suite: Terraform (and where its providers come from) and
 * the moto emulator. A missing tool fails the suite with a message that says how to install it.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { MIN_TERRAFORM_VERSION, REQUIRED_TERRAFORM_VERSION } from "../../lib/terraform-version";

/** The Terraform binary: TERRAFORM_BIN, else `terraform` on the PATH. */
export const TERRAFORM = process.env.TERRAFORM_BIN ?? "terraform";

/** The Python that runs moto (as tools/emulator/moto.ts uses it). */
export const MOTO_PYTHON = process.env.MOTO_PYTHON ?? "python3";

/** Default filesystem mirror of this machine image. */
export const DEFAULT_PROVIDER_MIRROR = "/opt/tf-plugins";

export const TERRAFORM_INSTALL_HINT =
  `Install Terraform ${REQUIRED_TERRAFORM_VERSION} (https://developer.hashicorp.com/terraform/install, e.g. the zip for your ` +
  "platform into /usr/local/bin) or set TERRAFORM_BIN to its path.";

export const MOTO_INSTALL_HINT =
  'Install moto with: python3 -m pip install "moto[server]==5.2.1" (or set MOTO_PYTHON to a Python that has it).';

/** Terraform's version; throws with an install hint when it cannot be run or is older than MIN_TERRAFORM_VERSION. */
export function requireTerraform(binary = TERRAFORM): string {
  const result = spawnSync(binary, ["version", "-json"], { encoding: "utf8", env: { ...process.env, CHECKPOINT_DISABLE: "1" } });
  if (result.error !== undefined || result.status !== 0) {
    throw new Error(
      `terraform (${binary}) cannot be run (${result.error?.message ?? result.stderr.trim()}). ${TERRAFORM_INSTALL_HINT}`,
    );
  }
  const version = (JSON.parse(result.stdout) as { terraform_version: string }).terraform_version;
  const [major, minor] = version.split(".").map(Number);
  const [minMajor, minMinor] = MIN_TERRAFORM_VERSION.split(".").map(Number);
  if (major < minMajor || (major === minMajor && minor < minMinor)) {
    throw new Error(`terraform ${version} is too old: the S3 backend's use_lockfile is stable from ${MIN_TERRAFORM_VERSION}. ${TERRAFORM_INSTALL_HINT}`);
  }
  return version;
}

/** moto's version; throws with an install hint when the Python has no moto server. */
export function requireMoto(python = MOTO_PYTHON): string {
  const result = spawnSync(python, ["-c", "import moto, moto.server, flask; print(moto.__version__)"], { encoding: "utf8" });
  if (result.error !== undefined || result.status !== 0) {
    throw new Error(
      `moto's server cannot be imported by ${python} (${result.error?.message ?? result.stderr.trim().split("\n").pop()}). ${MOTO_INSTALL_HINT}`,
    );
  }
  return result.stdout.trim();
}

/** The provider mirror directory: TF_PROVIDER_MIRROR, else /opt/tf-plugins when it exists, else none. */
export function providerMirror(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const fromEnv = env.TF_PROVIDER_MIRROR;
  if (fromEnv !== undefined && fromEnv !== "") {
    if (!existsSync(fromEnv)) throw new Error(`TF_PROVIDER_MIRROR=${fromEnv} does not exist`);
    return path.resolve(fromEnv);
  }
  return existsSync(DEFAULT_PROVIDER_MIRROR) ? DEFAULT_PROVIDER_MIRROR : undefined;
}

/** The CLI configuration (filesystem mirror when there is one, else the registry). */
export function cliConfigText(mirror: string | undefined): string {
  if (mirror === undefined) return "provider_installation {\n  direct {}\n}\n";
  return `provider_installation {\n  filesystem_mirror {\n    path = ${JSON.stringify(mirror)}\n  }\n}\n`;
}

/** Name of the CLI configuration file written by {@link writeCliConfig}. */
export const CLI_CONFIG_FILE = "terraform.tfrc";

/**
 * Writes the CLI configuration into `dir` (the run's scratch directory, removed with it); returns
 * the file's path. Without `dir`, a new temporary directory is made, which the caller must remove.
 */
export function writeCliConfig(mirror: string | undefined, dir?: string): string {
  const target = dir ?? mkdtempSync(path.join(tmpdir(), "mirror-it-cli-"));
  const file = path.join(target, CLI_CONFIG_FILE);
  writeFileSync(file, cliConfigText(mirror));
  return file;
}
