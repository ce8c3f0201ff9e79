import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..", "..");

/**
 * A script of scripts/ (`scripts/preflight.ts`) as one CommonJS file for `node FILE`: for a test
 * that needs the command as a process, in place of `node --import tsx scripts/NAME.ts` (the npm
 * script's way, about 1 s more CPU per process: tsx transforms each file as it loads, through its
 * module hooks). The project's own files are bundled by esbuild, as scripts/build.sh bundles the
 * app; packages stay `require` calls into node_modules, as under tsx. The file is dist/NAME.js,
 * beside dist/main.js: the same folder depth as scripts/, so that `__dirname` (REPO_ROOT in
 * scripts/sandbox-env.ts) names what it names under tsx, and lib/build-scripts.ts looks for the build
 * scripts in dist/buildspec, where scripts/build.sh puts them. Built on every call (about 0.1 s),
 * written whole.
 */
export function builtScript(script: string): string {
  const { buildSync } = require("esbuild") as typeof import("esbuild");
  const out = path.join(ROOT, "dist", `${path.basename(script, ".ts")}.js`);
  const result = buildSync({
    absWorkingDir: ROOT,
    entryPoints: [script],
    bundle: true,
    packages: "external",
    platform: "node",
    format: "cjs",
    target: "node20",
    write: false,
    outfile: out,
    logLevel: "warning",
  });
  mkdirSync(path.dirname(out), { recursive: true });
  const partial = `${out}.${process.pid}`;
  writeFileSync(partial, result.outputFiles[0].contents);
  renameSync(partial, out);
  return out;
}
