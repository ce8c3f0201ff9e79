/**
 * The construct against `@cdktf/provider-aws` 21.x (the bindings of hashicorp/aws 6.x), which the
 * package's peer range admits: only that package is installed, without a lockfile, into a scratch
 * directory; the product's sources (main.ts, lib/) are copied next to it, so every
 * `@cdktf/provider-aws/lib/...` import resolves to 21.x while cdktf, constructs, zod and the rest are
 * this repository's. Then: a strict type check, and a synthesis that must declare the same resources
 * with the same arguments as the synthesis against 20.1.0 (provider 5.100.0), apart from the
 * provider version the bindings pin.
 *
 * Terraform itself is not run against 6.x here: this machine has only the 5.100.0 provider binary
 * (docs/terraform-users.md says what was verified against which version).
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..", "..");
/** The 21.x release tested; it binds hashicorp/aws 6.25.0. */
const PROVIDER_21 = "21.22.0";
/** What the product's sources import besides the provider bindings (resolved from this repository). */
const SHARED = ["cdktf", "constructs", "zod", "yaml", "shell-quote", "jsonc-parser", "@types/node"];

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", env: { ...process.env, CHECKPOINT_DISABLE: "1", npm_config_update_notifier: "false", ...env } });
  if (r.error !== undefined) throw new Error(`${cmd} cannot be run: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}\n${r.stderr}\n${r.stdout}`.slice(0, 6000));
  return r.stdout;
}

type Synth = { terraform: { required_providers: { aws: { version: string } } }; resource: Record<string, Record<string, unknown>>; data: Record<string, Record<string, unknown>> };

/** Bundles `dir/main.ts` (resolving modules from `dir`) and synthesizes `config` with it. */
function synthesizeIn(dir: string, config: string): Synth {
  const bundle = path.join(dir, "dist", "main.js");
  run(path.join(ROOT, "node_modules", ".bin", "esbuild"), [path.join(dir, "main.ts"), "--bundle", "--platform=node", "--format=cjs", `--outfile=${bundle}`, "--log-level=warning", "--alias:jsonc-parser=jsonc-parser/lib/esm/main.js"], dir);
  mkdirSync(path.join(dir, "dist", "buildspec"), { recursive: true });
  for (const f of readdirSync(path.join(ROOT, "lib", "buildspec"))) cpSync(path.join(ROOT, "lib", "buildspec", f), path.join(dir, "dist", "buildspec", f));
  const out = path.join(dir, "out");
  run(process.execPath, [bundle], dir, { MIRROR_CONFIG: config, CDKTF_OUTDIR: out });
  return JSON.parse(readFileSync(path.join(out, "stacks", "backlog-codecommit-mirror", "cdk.tf.json"), "utf8")) as Synth;
}

describe("the construct with @cdktf/provider-aws 21.x (hashicorp/aws 6.x)", () => {
  const work = mkdtempSync(path.join(tmpdir(), "mirror-provider21-"));
  const v21 = path.join(work, "v21");
  const v20 = path.join(work, "v20");

  beforeAll(() => {
    // Only the provider bindings, no lockfile, no peer installation (cdktf and constructs are linked
    // afterwards: npm would prune links it did not make).
    mkdirSync(v21);
    writeFileSync(path.join(v21, "package.json"), JSON.stringify({ name: "provider21-check", private: true }));
    run("npm", ["install", "--no-package-lock", "--no-save", "--legacy-peer-deps", "--ignore-scripts", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", `@cdktf/provider-aws@${PROVIDER_21}`], v21);
    mkdirSync(path.join(v20, "node_modules", "@cdktf"), { recursive: true });
    symlinkSync(path.join(ROOT, "node_modules", "@cdktf", "provider-aws"), path.join(v20, "node_modules", "@cdktf", "provider-aws"));
    for (const dir of [v21, v20]) {
      mkdirSync(path.join(dir, "node_modules", "@types"), { recursive: true });
      cpSync(path.join(ROOT, "lib"), path.join(dir, "lib"), { recursive: true });
      cpSync(path.join(ROOT, "main.ts"), path.join(dir, "main.ts"));
      for (const name of SHARED) symlinkSync(path.join(ROOT, "node_modules", name), path.join(dir, "node_modules", name));
    }
  }, 300_000);

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  test("the scratch directory resolves the provider bindings to 21.x", () => {
    const pkg = JSON.parse(readFileSync(path.join(v21, "node_modules", "@cdktf", "provider-aws", "package.json"), "utf8")) as { version: string };
    expect(pkg.version).toBe(PROVIDER_21);
  });

  test("main.ts and lib/ type-check strictly against 21.x", () => {
    writeFileSync(
      path.join(v21, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { strict: true, noImplicitAny: true, noUnusedLocals: true, module: "commonjs", moduleResolution: "node", target: "ES2022", lib: ["es2022"], types: ["node"], skipLibCheck: true, esModuleInterop: true, resolveJsonModule: true, noEmit: true },
        files: ["main.ts"],
      }),
    );
    run(process.execPath, [path.join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"], v21);
  });

  test.each(["config/example.json", "examples/multi-repository/config.json", "examples/new-vpc/config.json"])(
    "%s synthesizes the same resources and arguments as with 20.1.0; only the pinned provider version differs",
    (config) => {
      const with21 = synthesizeIn(v21, path.join(ROOT, config));
      const with20 = synthesizeIn(v20, path.join(ROOT, config));
      expect(with20.terraform.required_providers.aws.version).toBe("5.100.0");
      expect(with21.terraform.required_providers.aws.version).toMatch(/^6\.\d+\.\d+$/);
      expect(Object.keys(with21.resource).length).toBeGreaterThan(20);
      expect(with21.resource).toEqual(with20.resource);
      expect(with21.data).toEqual(with20.data);
    },
  );
});
