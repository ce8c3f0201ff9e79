/**
 * The npm package: `npm pack` of this repository, installed by name into a copy of
 * examples/cdktf-consumer (outside the repository, so nothing resolves from our node_modules), which
 * then type-checks against the packed declarations and synthesizes.
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { REQUIRED_TERRAFORM_VERSION } from "../../lib/terraform-version";
import { instances } from "../../tools/terraform/instances";

const ROOT = path.resolve(__dirname, "..", "..");
const EXAMPLE = path.join(ROOT, "examples", "cdktf-consumer");

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", env: { ...process.env, CHECKPOINT_DISABLE: "1", npm_config_update_notifier: "false" } });
  if (r.error !== undefined) throw new Error(`${cmd} cannot be run: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}\n${r.stderr}\n${r.stdout}`.slice(0, 6000));
  return r.stdout;
}

describe("the npm package used by another CDKTF app", () => {
  const work = mkdtempSync(path.join(tmpdir(), "mirror-pkg-"));
  let files: string[] = [];
  let tarball = "";
  const app = path.join(work, "app");

  beforeAll(() => {
    const packed = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", work], ROOT)) as Array<{ filename: string; files: Array<{ path: string }> }>;
    tarball = path.join(work, packed[0].filename);
    files = packed[0].files.map((f) => f.path).sort();

    cpSync(EXAMPLE, app, { recursive: true, filter: (src) => !/node_modules|cdktf\.out/.test(src) });
    const pkg = JSON.parse(readFileSync(path.join(app, "package.json"), "utf8"));
    expect(pkg.dependencies["backlog-codecommit-mirror"]).toBe("file:../../backlog-codecommit-mirror-0.1.0.tgz");
    pkg.dependencies["backlog-codecommit-mirror"] = `file:${tarball}`;
    writeFileSync(path.join(app, "package.json"), JSON.stringify(pkg, null, 2));
    run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], app);
  }, 240_000);

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  test("the tarball holds the compiled library, its declarations and the sync script, and no sources or tests", () => {
    expect(files).toEqual(expect.arrayContaining(["package.json", "README.md", "dist/npm/index.js", "dist/npm/index.d.ts", "dist/npm/lib/mirror.js", "dist/npm/lib/buildspec/mirror-sync.sh"]));
    expect(files.filter((f) => /\.ts$/.test(f) && !/\.d\.ts$/.test(f))).toEqual([]);
    expect(files.filter((f) => /^(__tests__|test|config|examples|scripts|state)\//.test(f) || f === "main.ts")).toEqual([]);
  });

  test("the public API is the construct, its props types and the validation error", () => {
    const dts = readFileSync(path.join(app, "node_modules", "backlog-codecommit-mirror", "dist", "npm", "index.d.ts"), "utf8");
    expect(dts).toContain("BacklogCodeCommitMirror");
    expect(dts).toContain('export type * from "./lib/props"');
    const exported = Object.keys(require(path.join(app, "node_modules", "backlog-codecommit-mirror"))).sort();
    expect(exported).toEqual(["BacklogCodeCommitMirror", "ConfigError", "DEFAULT_LOG_RETENTION_DAYS"]);
  });

  test("internal modules cannot be imported from the package", () => {
    const r = spawnSync("node", ["-e", 'require("backlog-codecommit-mirror/dist/npm/lib/naming")'], { cwd: app, encoding: "utf8" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("ERR_PACKAGE_PATH_NOT_EXPORTED");
  });

  test("the consumer type-checks against the packed declarations", () => {
    run(path.join(app, "node_modules", ".bin", "tsc"), ["-p", "."], app);
  });

  test("the consumer synthesizes a stack with the construct's resources for both repositories", () => {
    run(path.join(app, "node_modules", ".bin", "tsx"), ["main.ts"], app);
    const stackDir = path.join(app, "cdktf.out", "stacks", "platform-mirror");
    expect(readdirSync(stackDir)).toContain("cdk.tf.json");
    const synth = JSON.parse(readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8"));
    const projects = instances(synth, "aws_codebuild_project").map((i) => i.body.name).sort();
    expect(projects).toEqual(["platform-mirror-platform-runbooks", "platform-mirror-service-catalog", "platform-verify"]);
    // the sync script travelled inside the package and reached its S3 object, the projects' source
    const syncScript = Object.values(synth.resource.aws_s3_object as Record<string, { key?: string; content?: string }>).find((o) => String(o.key).endsWith("/mirror-sync.sh"));
    expect(syncScript?.content).toContain("set -euo pipefail");
    expect(Object.keys(synth.output)).toContain("webhook_urls");
    // its state is locked, as the stack of this repository's is
    expect(synth.terraform.backend.s3).toMatchObject({ encrypt: true, use_lockfile: true });
    expect(synth.terraform.required_version).toBe(REQUIRED_TERRAFORM_VERSION);
  });

  test("installing the example leaves no lockfile behind (its .npmrc turns it off)", () => {
    expect(readdirSync(app)).not.toContain("package-lock.json");
  });
});
