/**
 * npm run build:module: writes the plain Terraform module to dist/terraform-module/ (or the
 * directory given): main.tf.json, variables.tf.json, outputs.tf.json, versions.tf.json, README.md.
 * See lib/terraform-module.ts for how it is made from the construct.
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { moduleReadme, moduleReadmeTables, synthesizePlaceholderStack, toModule } from "../lib/terraform-module";

export const MODULE_DIR = path.resolve(__dirname, "..", "dist", "terraform-module");

/** The committed documentation of the module, whose inputs/outputs tables are generated. */
export const MODULE_DOC = path.resolve(__dirname, "..", "docs", "terraform-module.md");
export const TABLES_BEGIN = "<!-- BEGIN GENERATED: npm run build:module -- --update-docs -->";
export const TABLES_END = "<!-- END GENERATED -->";

/** `doc` with the text between the markers replaced by `tables`. */
export function withTables(doc: string, tables: string): string {
  const begin = doc.indexOf(TABLES_BEGIN);
  const end = doc.indexOf(TABLES_END);
  if (begin < 0 || end < begin) throw new Error(`${MODULE_DOC} has no ${TABLES_BEGIN} ... ${TABLES_END} section`);
  return `${doc.slice(0, begin + TABLES_BEGIN.length)}\n${tables}${doc.slice(end)}`;
}

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
    const args = process.argv.slice(2);
    if (args.includes("--update-docs")) {
      const tables = moduleReadmeTables(toModule(synthesizePlaceholderStack()));
      writeFileSync(MODULE_DOC, withTables(readFileSync(MODULE_DOC, "utf8"), tables));
      console.log(`updated ${path.relative(process.cwd(), MODULE_DOC)}`);
    }
    const dir = path.resolve(args.find((a) => !a.startsWith("--")) ?? MODULE_DIR);
    const files = buildModule(dir);
    console.log(`wrote ${path.relative(process.cwd(), dir)}/: ${files.join(", ")}`);
  } catch (e) {
    console.error(`build-module: ${(e as Error).message}`);
    process.exit(1);
  }
}
