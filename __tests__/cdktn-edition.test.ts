/**
 * The CDK Terrain edition's build step (scripts/cdktn-edition.ts): module specifiers of the CDKTF
 * world rewritten through the one table, and nothing else of the text; the edition's package.json.
 * The packed edition used by a cdktn app: test/module/cdktn-edition.test.ts.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { CDKTN_PACKAGE, WORLDS, cdktnPackageJson, moduleSpecifiers, rewriteForCdktn, toCdktn } from "../scripts/cdktn-edition";

const ROOT = path.join(__dirname, "..");

test("each package of the CDKTF world maps to its CDK Terrain counterpart, subpaths kept", () => {
  expect(toCdktn("cdktf")).toBe("cdktn");
  expect(toCdktn("@cdktf/provider-aws/lib/codebuild-project")).toBe("@cdktn/provider-aws/lib/codebuild-project");
  expect(toCdktn("@cdktf/provider-aws")).toBe("@cdktn/provider-aws");
  expect(toCdktn("constructs")).toBe("constructs");
  expect(toCdktn("backlog-codecommit-mirror")).toBe(CDKTN_PACKAGE);
  // no row: not a package of either world (the build fails on such an import instead)
  expect(toCdktn("@cdktf/provider-google/lib/x")).toBeUndefined();
  expect(toCdktn("cdktf-local-exec")).toBeUndefined();
  expect(toCdktn("zod")).toBeUndefined();
});

test("JavaScript: require calls are rewritten; other strings, comments and names are not", () => {
  const js = [
    '"use strict";',
    'const cdktf_1 = require("cdktf");',
    "const codebuild_project_1 = require('@cdktf/provider-aws/lib/codebuild-project');",
    'const zod_1 = require("zod");',
    'const key = Symbol.for("cdktf/TerraformStack");',
    'const out = "cdktf.out"; // require("cdktf") in a comment',
    'const say = "cdktf";',
  ].join("\n");
  expect(rewriteForCdktn("x.js", js)).toBe(
    [
      '"use strict";',
      'const cdktf_1 = require("cdktn");',
      "const codebuild_project_1 = require('@cdktn/provider-aws/lib/codebuild-project');",
      'const zod_1 = require("zod");',
      'const key = Symbol.for("cdktf/TerraformStack");',
      'const out = "cdktf.out"; // require("cdktf") in a comment',
      'const say = "cdktf";',
    ].join("\n"),
  );
});

test("declarations: imports, type imports, re-exports and import() types are rewritten", () => {
  const dts = [
    'import { TerraformStack } from "cdktf";',
    'import type { CodebuildProject } from "@cdktf/provider-aws/lib/codebuild-project";',
    'export { Fn } from "cdktf";',
    'export type * from "./lib/props";',
    'export declare const x: import("@cdktf/provider-aws/lib/iam-role").IamRole;',
  ].join("\n");
  const out = rewriteForCdktn("x.d.ts", dts);
  expect(moduleSpecifiers("x.d.ts", out).map((s) => s.value)).toEqual(["cdktn", "@cdktn/provider-aws/lib/codebuild-project", "cdktn", "./lib/props", "@cdktn/provider-aws/lib/iam-role"]);
});

test("the edition's package.json: its name, the peers of the table, Node 22 or later, the root's dependencies and entry points", () => {
  const root = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8"));
  const edition = cdktnPackageJson(root);
  expect(edition.name).toBe("backlog-codecommit-mirror-cdktn");
  expect(edition.peerDependencies).toEqual({ cdktn: "^0.24.0", "@cdktn/provider-aws": "^25.0.0", constructs: ">=10.6.0 <10.8.0" });
  expect(edition.dependencies).toEqual(root.dependencies);
  expect(edition.exports).toEqual(root.exports);
  expect(edition.files).toEqual(root.files);
  expect(edition.version).toBe(root.version);
  expect(edition.engines).toEqual({ node: "^22.19.0 || >=24.0.0" });
  expect(edition.keywords).toContain("cdktn");
  expect(edition.devDependencies).toBeUndefined();
  expect(edition.scripts).toBeUndefined();
  // every peer of the CDKTF edition has a row, and every tested version is exact
  for (const name of Object.keys(root.peerDependencies)) expect(WORLDS.some((w) => w.cdktf === name && w.peer !== undefined)).toBe(true);
  for (const w of WORLDS) if (w.tested !== undefined) expect(w.tested).toMatch(/^\d+\.\d+\.\d+$/);
});

test("a peer dependency without a row in the table stops the build", () => {
  expect(() => cdktnPackageJson({ name: "x", peerDependencies: { "@cdktf/provider-null": "^11.0.0" } })).toThrow(/@cdktf\/provider-null has no row in WORLDS/);
});
