/**
 * The suite's preconditions: a missing tool is a failure that says how to install it, never a skip;
 * the CLI configuration takes providers from the local mirror when there is one.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { REQUIRED_TERRAFORM_VERSION } from "../../lib/terraform-version";
import { CLI_CONFIG_FILE, cliConfigText, providerMirror, requireMoto, requireTerraform, writeCliConfig } from "../../tools/terraform/tools";

test("a missing terraform fails with a message that says how to install it", () => {
  expect(() => requireTerraform("/nonexistent/terraform")).toThrow(`Install Terraform ${REQUIRED_TERRAFORM_VERSION} (`);
  expect(() => requireTerraform("/nonexistent/terraform")).toThrow(/cannot be run/);
});

test("a Python without moto fails with a message that says how to install it", () => {
  expect(() => requireMoto("/nonexistent/python3")).toThrow(/pip install "moto\[server\]==5\.2\.1"/);
});

test("the installed terraform and moto are found", () => {
  expect(requireTerraform()).toMatch(/^1\.\d+\.\d+/);
  expect(requireMoto()).toMatch(/^\d+\.\d+\.\d+/);
});

test("TF_PROVIDER_MIRROR selects the filesystem mirror, and no mirror means the registry", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "mirror-it-plugins-"));
  try {
    expect(providerMirror({ TF_PROVIDER_MIRROR: dir })).toBe(dir);
    expect(() => providerMirror({ TF_PROVIDER_MIRROR: path.join(dir, "missing") })).toThrow(/does not exist/);
    expect(cliConfigText(dir)).toBe(`provider_installation {\n  filesystem_mirror {\n    path = ${JSON.stringify(dir)}\n  }\n}\n`);
    expect(cliConfigText(undefined)).toBe("provider_installation {\n  direct {}\n}\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the CLI configuration is written into the directory the caller passes (the run's scratch directory)", () => {
  const scratch = mkdtempSync(path.join(tmpdir(), "mirror-it-scratch-"));
  try {
    const file = writeCliConfig("/opt/some-mirror", scratch);
    expect(file).toBe(path.join(scratch, CLI_CONFIG_FILE));
    expect(readdirSync(scratch)).toEqual([CLI_CONFIG_FILE]);
    expect(readFileSync(file, "utf8")).toBe(cliConfigText("/opt/some-mirror"));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});

test("without a directory, the CLI configuration goes into a new temporary directory of its own", () => {
  const file = writeCliConfig(undefined);
  try {
    expect(path.basename(path.dirname(file))).toMatch(/^mirror-it-cli-/);
    expect(readFileSync(file, "utf8")).toBe(cliConfigText(undefined));
  } finally {
    rmSync(path.dirname(file), { recursive: true, force: true });
  }
});
