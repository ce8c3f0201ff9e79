/**
 * The AWS provider's schema, reduced to what rendering HCL needs: which arguments of each resource
 * and data source type are nested blocks (`terraform providers schema -json`, "block_types").
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { BlockSchema, SchemaIndex } from "./hcl";
import { terraformEnv } from "./terraform";
import { TERRAFORM, providerMirror, writeCliConfig } from "./tools";

interface RawBlock {
  readonly block_types?: Record<string, { readonly block: RawBlock }>;
}

function reduce(block: RawBlock): BlockSchema {
  return { blocks: Object.fromEntries(Object.entries(block.block_types ?? {}).map(([name, b]) => [name, reduce(b.block)])) };
}

/**
 * Runs `terraform init` (providers from the local mirror when there is one) and `terraform providers
 * schema -json` for hashicorp/aws at exactly `version`, in a scratch directory it removes.
 */
export function awsSchemaIndex(version: string): SchemaIndex {
  const dir = mkdtempSync(path.join(tmpdir(), "mirror-schema-"));
  try {
    const cli = writeCliConfig(providerMirror(), dir);
    writeFileSync(path.join(dir, "versions.tf"), `terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws", version = "${version}" }\n  }\n}\n`);
    const env = terraformEnv(cli, {});
    const init = spawnSync(TERRAFORM, ["init", "-backend=false", "-input=false"], { cwd: dir, env, encoding: "utf8" });
    if (init.status !== 0) throw new Error(`terraform init for the provider schema failed: ${init.error?.message ?? init.stderr.trim()}`);
    const schema = spawnSync(TERRAFORM, ["providers", "schema", "-json"], { cwd: dir, env, encoding: "utf8", maxBuffer: 1 << 30 });
    if (schema.status !== 0) throw new Error(`terraform providers schema failed: ${schema.error?.message ?? schema.stderr.trim()}`);
    const parsed = JSON.parse(schema.stdout) as {
      provider_schemas: Record<string, { resource_schemas: Record<string, { block: RawBlock }>; data_source_schemas: Record<string, { block: RawBlock }> }>;
    };
    const aws = parsed.provider_schemas["registry.terraform.io/hashicorp/aws"];
    if (aws === undefined) throw new Error("terraform providers schema: no hashicorp/aws schema");
    const index = (schemas: Record<string, { block: RawBlock }>) => Object.fromEntries(Object.entries(schemas).map(([type, s]) => [type, reduce(s.block)]));
    return { resource: index(aws.resource_schemas), data: index(aws.data_source_schemas) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `terraform fmt` of HCL text (read from stdin); throws with Terraform's diagnostics when it does not parse. */
export function terraformFmt(hcl: string): string {
  const result = spawnSync(TERRAFORM, ["fmt", "-no-color", "-"], { input: hcl, encoding: "utf8", env: { ...process.env, CHECKPOINT_DISABLE: "1" } });
  if (result.status !== 0) throw new Error(`terraform fmt refused the rendered HCL: ${result.error?.message ?? result.stderr.trim()}`);
  return result.stdout;
}
