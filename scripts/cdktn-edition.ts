/**
 * The CDK Terrain edition of the npm package, made from the same compiled output as the CDKTF one.
 *
 *   npm run build:package   → dist/npm/ (the CDKTF edition, packed from the repository root) and
 *                             dist/cdktn/ (this edition, a package directory: `npm pack dist/cdktn`)
 *
 * `tsc -p tsconfig.package.json` compiles index.ts once, against cdktf; this script copies what it
 * wrote (JavaScript, declarations, the buildspec shell) into dist/cdktn/dist/npm/, rewriting every
 * module specifier through {@link WORLDS}, the one table between the two import worlds
 * (`cdktf` → `cdktn`, `@cdktf/provider-aws/lib/x` → `@cdktn/provider-aws/lib/x`), and writes the
 * edition's package.json from the root one: its name, its peer dependencies from the same table,
 * its engines. Nothing else differs: no source file has a second copy. It fails when a specifier of
 * the output is in neither world's table, the package's dependencies nor Node's built-ins, so a new
 * import of another cdktf package cannot slip through unmapped.
 *
 * Why `backlog-codecommit-mirror-cdktn`: a team searching npm for this construct types its name and
 * finds both editions side by side (same prefix); the suffix is the framework's own name, as its
 * packages carry it (`cdktn`, `cdktn-cli`, `@cdktn/provider-aws`), and the `cdktn` keyword lists it
 * where CDK Terrain users filter.
 */
import { builtinModules } from "node:module";
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";

/**
 * The two import worlds, one row per package: the CDKTF edition's, the CDK Terrain edition's, the
 * range the CDK Terrain edition's users may install (its peer dependency; `undefined`: not a peer)
 * and the exact version the module suite installs to test it (test/module/cdktn-edition.test.ts).
 * The CDKTF edition's ranges are the root package.json's.
 */
export const WORLDS: ReadonlyArray<{ cdktf: string; cdktn: string; peer?: string; tested?: string }> = [
  // this package: what an app of each world installs and imports
  { cdktf: "backlog-codecommit-mirror", cdktn: "backlog-codecommit-mirror-cdktn" },
  { cdktf: "cdktf", cdktn: "cdktn", peer: "^0.24.0", tested: "0.24.0" },
  // the bindings of hashicorp/aws 6.x (25.7.0 binds 6.x; docs/terraform-users.md#provider-versions)
  { cdktf: "@cdktf/provider-aws", cdktn: "@cdktn/provider-aws", peer: "^25.0.0", tested: "25.7.0" },
  // cdktn 0.24 and @cdktn/provider-aws 25 take constructs >=10.6.0 <10.8.0
  { cdktf: "constructs", cdktn: "constructs", peer: ">=10.6.0 <10.8.0", tested: "10.7.2" },
  // the CLI: no import of the package; the consumer app's tool (`cdktn synth`)
  { cdktf: "cdktf-cli", cdktn: "cdktn-cli", tested: "0.24.0" },
];

/** The edition's package name (see the file comment for why). */
export const CDKTN_PACKAGE = WORLDS[0].cdktn;
/** cdktn-cli 0.24 needs Node 22.19 or later, @cdktn/provider-aws 25 Node 22.11: no Node 20 here. */
export const CDKTN_ENGINES = "^22.19.0 || >=24.0.0";

/** The package a specifier names: `@scope/name` or `name`, without the subpath. */
function packageOf(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

/** A specifier of the CDKTF world in the CDK Terrain world, `undefined` when the table has no row for its package. */
export function toCdktn(specifier: string): string | undefined {
  const row = WORLDS.find((w) => w.cdktf === packageOf(specifier));
  return row === undefined ? undefined : row.cdktn + specifier.slice(row.cdktf.length);
}

/** Every module specifier of a JavaScript or declaration file, with its position (the literal's text, quotes excluded). */
export function moduleSpecifiers(fileName: string, text: string): Array<{ start: number; end: number; value: string }> {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, fileName.endsWith(".ts") ? ts.ScriptKind.TS : ts.ScriptKind.JS);
  const found: Array<{ start: number; end: number; value: string }> = [];
  const add = (node: ts.Node | undefined) => {
    if (node !== undefined && ts.isStringLiteralLike(node)) found.push({ start: node.getStart(source) + 1, end: node.getEnd() - 1, value: node.text });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) add(node.moduleSpecifier);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) add(node.moduleReference.expression);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node.argument.literal);
    else if (ts.isCallExpression(node) && node.arguments.length === 1 && (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === "require"))) add(node.arguments[0]);
    else if (ts.isModuleDeclaration(node) && ts.isStringLiteral(node.name)) add(node.name);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The file's text with each specifier of the CDKTF world replaced by its CDK Terrain counterpart. */
export function rewriteForCdktn(fileName: string, text: string): string {
  let out = text;
  for (const s of moduleSpecifiers(fileName, text).sort((a, b) => b.start - a.start)) {
    const to = toCdktn(s.value);
    if (to !== undefined && to !== s.value) out = out.slice(0, s.start) + to + out.slice(s.end);
  }
  return out;
}

type PackageJson = {
  name: string;
  description?: string;
  keywords?: string[];
  engines?: Record<string, string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  scripts?: Record<string, string>;
  [key: string]: unknown;
};

/** The edition's package.json from the root one. */
export function cdktnPackageJson(root: PackageJson): PackageJson {
  const { devDependencies: _dev, scripts: _scripts, peerDependencies = {}, ...rest } = root;
  const peers: Record<string, string> = {};
  for (const name of Object.keys(peerDependencies)) {
    const row = WORLDS.find((w) => w.cdktf === name);
    if (row?.peer === undefined) throw new Error(`peer dependency ${name} has no row in WORLDS (scripts/cdktn-edition.ts)`);
    peers[row.cdktn] = row.peer;
  }
  return {
    ...rest,
    name: CDKTN_PACKAGE,
    description: `${root.description ?? ""} (CDK Terrain edition: cdktn and @cdktn/provider-aws)`.trim(),
    keywords: [...new Set([...(root.keywords ?? []).filter((k) => !/cdktf/.test(k)), "cdktn", "cdk-terrain", "terraform", "codecommit", "backlog"])],
    engines: { node: CDKTN_ENGINES },
    peerDependencies: peers,
  };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

/**
 * Writes `out` (a package directory) from `compiled` (what `npm run build:package` writes into
 * dist/npm: the CDKTF edition's JavaScript, declarations and buildspec shell); returns the files written.
 */
export function buildCdktnEdition(root: string, out = path.join(root, "dist", "cdktn"), compiled = path.join(root, "dist", "npm")): string[] {
  const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as PackageJson;
  const edition = cdktnPackageJson(pkg);
  const allowed = new Set([...Object.keys(edition.dependencies ?? {}), ...Object.keys(edition.peerDependencies ?? {})]);
  rmSync(out, { recursive: true, force: true });
  const written: string[] = [];
  const problems: string[] = [];
  for (const file of filesUnder(compiled)) {
    const rel = path.join("dist", "npm", path.relative(compiled, file));
    const target = path.join(out, rel);
    mkdirSync(path.dirname(target), { recursive: true });
    if (/\.(js|d\.ts)$/.test(file)) {
      const text = rewriteForCdktn(file, readFileSync(file, "utf8"));
      for (const s of moduleSpecifiers(file, text)) {
        const name = packageOf(s.value);
        if (s.value.startsWith(".") || s.value.startsWith("node:") || builtinModules.includes(name)) continue;
        if (!allowed.has(name)) problems.push(`${rel}: "${s.value}" is neither a dependency nor a peer dependency of ${CDKTN_PACKAGE}`);
      }
      writeFileSync(target, text);
    } else {
      cpSync(file, target);
    }
    written.push(path.relative(out, target));
  }
  if (problems.length > 0) throw new Error(`the CDK Terrain edition would not resolve its imports:\n${problems.join("\n")}`);
  writeFileSync(path.join(out, "package.json"), `${JSON.stringify(edition, null, 2)}\n`);
  cpSync(path.join(root, "README.md"), path.join(out, "README.md"));
  return [...written, "package.json", "README.md"].sort();
}

if (require.main === module) {
  const root = path.resolve(__dirname, "..");
  const files = buildCdktnEdition(root);
  // standard error: `npm pack --json` (whose prepack runs this) keeps standard output for its JSON
  console.error(`dist/cdktn: ${CDKTN_PACKAGE} (${files.length} files; npm pack ./dist/cdktn)`);
}
