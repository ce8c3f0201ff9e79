/**
 * npm run build:module: writes the plain Terraform module to dist/terraform-module/ (or the
 * directory given): main.tf.json, variables.tf.json, outputs.tf.json, versions.tf.json, README.md.
 * See lib/terraform-module.ts for how it is made from the construct.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { moduleReadme, synthesizePlaceholderStack, toModule } from "../lib/terraform-module";

export const MODULE_DIR = path.resolve(__dirname, "..", "dist", "terraform-module");

/** Writes the module into `dir` (replacing what was there); returns the file names. */
export function buildModule(dir: string = MODULE_DIR): string[] {
  const files = toModule(synthesizePlaceholderStack());
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), `${JSON.stringify(content, null, 2)}\n`);
  writeFileSync(path.join(dir, "README.md"), moduleReadme(files));
  return readdirSync(dir).sort();
}

if (require.main === module) {
  try {
    const dir = path.resolve(process.argv[2] ?? MODULE_DIR);
    const files = buildModule(dir);
    console.log(`wrote ${path.relative(process.cwd(), dir)}/: ${files.join(", ")}`);
  } catch (e) {
    console.error(`build-module: ${(e as Error).message}`);
    process.exit(1);
  }
}
