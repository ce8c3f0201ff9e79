/**
 * npm run build:docs: writes what the rule table documents (lib/config-reference.ts): the README's
 * configuration reference (between its `<!-- config-reference:begin -->` and
 * `<!-- config-reference:end -->` markers) and the `Allowed:` lines of the props' TSDoc
 * (lib/props.ts). `-- --check` exits 1 when a committed file differs (the unit suite checks the same).
 */
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { withConfigurationReference, withDocumentedRules } from "../lib/config-reference";

const ROOT = path.resolve(__dirname, "..");

/** The generated files: path → [committed text, generated text]. */
export function documentedFiles(): Record<string, [string, string]> {
  const files: Record<string, (text: string) => string> = { "README.md": withConfigurationReference, "lib/props.ts": withDocumentedRules };
  return Object.fromEntries(
    Object.entries(files).map(([file, make]) => {
      const text = readFileSync(path.join(ROOT, file), "utf8");
      return [file, [text, make(text)]];
    }),
  );
}

if (require.main === module) {
  try {
    const check = process.argv.includes("--check");
    const stale: string[] = [];
    for (const [file, [text, generated]] of Object.entries(documentedFiles())) {
      if (generated === text) continue;
      stale.push(file);
      if (!check) writeFileSync(path.join(ROOT, file), generated);
    }
    if (check && stale.length > 0) {
      console.error(`build-docs: ${stale.join(", ")} not what npm run build:docs writes; run npm run build:docs and commit the result.`);
      process.exit(1);
    }
    console.log(check ? "the documented rules are up to date" : stale.length > 0 ? `wrote ${stale.join(", ")}` : "nothing to write");
  } catch (e) {
    console.error(`build-docs: ${(e as Error).message}`);
    process.exit(2);
  }
}
