/**
 * The CDK Terrain edition (scripts/cdktn-edition.ts) used by a CDK Terrain app, on Node 22.
 *
 * The package is compiled here into a scratch directory (never over dist/, which package.test.ts
 * packs at the same time), the edition is made from that output and packed, and installed with
 * cdktn, @cdktn/provider-aws, cdktn-cli and a constructs in cdktn's range (the versions of WORLDS)
 * into a CDK Terrain copy of examples/cdktf-consumer that is generated, not kept: its main.ts and
 * package.json go through the same WORLDS table. Then: a strict type check of that app against the
 * packed declarations and of the construct's sources against cdktn, a synthesis, `cdktn synth`
 * through cdktn-cli once, and a comparison with the same app in the CDKTF world (the CDKTF
 * edition's output with this repository's cdktf 0.21 and @cdktf/provider-aws 20.1.0, AWS provider
 * 5.100.0): the same resources, data sources, outputs, provider and backend, apart from the
 * differences listed in DOCUMENTED (each one a difference the AWS provider's version 6 upgrade
 * guide documents) and the provider version the bindings pin.
 *
 * Terraform does not run here: this machine has no AWS provider 6.x binary
 * (docs/terraform-users.md#provider-versions says what was verified for each edition).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { CDKTN_PACKAGE, WORLDS, buildCdktnEdition, rewriteForCdktn } from "../../scripts/cdktn-edition";

const ROOT = path.resolve(__dirname, "..", "..");
const EXAMPLE = path.join(ROOT, "examples", "cdktf-consumer");
const STACK = "platform-mirror";
/** The CDKTF edition's package name (the root package.json's). */
const CDKTF_PACKAGE = "backlog-codecommit-mirror";
/** What the compiled package imports besides the two worlds' packages (its dependencies). */
const DEPENDENCIES = ["zod", "yaml", "shell-quote", "jsonc-parser"];

/**
 * The differences between the two editions' synthesis that the AWS provider's version 6 upgrade
 * guide documents, each as the path that differs and the guide's entry. Any other difference fails.
 * None today: every entry of the guide that touches what the construct declares is one the
 * construct already meets under 5.100.0 (REVIEWED), so both editions write the same arguments.
 */
const DOCUMENTED: ReadonlyArray<{ path: string; entry: string }> = [];

type Json = Record<string, any>;
const all = (s: Synth, type: string): Json[] => Object.values((s.resource[type] ?? {}) as Record<string, Json>);
/**
 * The entries of the AWS provider's version 6 upgrade guide ("Terraform AWS Provider Version 6
 * Upgrade Guide") about the provider arguments, resources and data sources the construct uses,
 * each with what makes it change nothing here, checked on both editions' synthesis.
 */
const REVIEWED: ReadonlyArray<{ entry: string; holds: (s: Synth, text: string) => boolean }> = [
  { entry: "Removed Provider Arguments: endpoints.opsworks, endpoints.simpledb/sdb, endpoints.worklink", holds: (s) => !JSON.stringify(s.provider).includes("endpoints") },
  { entry: "S3 Global Endpoint Deprecation: s3_us_east_1_regional_endpoint", holds: (s) => !JSON.stringify(s.provider).includes("s3_us_east_1_regional_endpoint") },
  { entry: "Enhanced Region Support: `region` on most resources", holds: (s) => Object.keys(s.resource).every((t) => all(s, t).every((r) => !("region" in r))) },
  { entry: "Data Source aws_region: `name` deprecated, use `region`", holds: (_s, text) => !/data\.aws_region\.[\w-]+\.name\b/.test(text) },
  { entry: "Resource aws_api_gateway_deployment: stage_name, stage_description, canary_settings removed (use aws_api_gateway_stage)", holds: (s) => all(s, "aws_api_gateway_deployment").every((d) => !("stage_name" in d || "stage_description" in d || "canary_settings" in d)) && all(s, "aws_api_gateway_stage").length > 0 },
  { entry: "Resource aws_api_gateway_deployment: invoke_url and execution_arn removed", holds: (_s, text) => !/aws_api_gateway_deployment\.[\w-]+\.(invoke_url|execution_arn)/.test(text) },
  { entry: "Resource aws_s3_bucket: `region` is Enhanced Region Support, `bucket_region` the bucket's", holds: (s, text) => all(s, "aws_s3_bucket").every((b) => !("region" in b)) && !/aws_s3_bucket\.[\w-]+\.region\b/.test(text) },
  { entry: "Resource aws_eip: `vpc` removed, use `domain`", holds: (s) => all(s, "aws_eip").every((e) => !("vpc" in e) && e.domain === "vpc") },
  { entry: "Resource aws_wafv2_web_acl: bot control's enable_machine_learning defaults to false", holds: (_s, text) => !text.includes("managed_rule_group_statement") },
];

/** Node 22 (scripts/node-lines.sh, the pinned release): cdktn 0.24 needs Node 22 or later. */
const NODE22_BIN = execFileSync("bash", [path.join(ROOT, "scripts", "node-lines.sh"), "22"], { encoding: "utf8" }).trim();
const ENV = { ...process.env, PATH: `${NODE22_BIN}${path.delimiter}${process.env.PATH ?? ""}`, CHECKPOINT_DISABLE: "1", npm_config_update_notifier: "false" };

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): { stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", env: { ...ENV, ...env } });
  if (r.error !== undefined) throw new Error(`${cmd} cannot be run: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}\n${r.stderr}\n${r.stdout}`.slice(0, 6000));
  return { stdout: r.stdout, stderr: r.stderr };
}

type Synth = { terraform: { required_providers: Record<string, { version: string; source: string }>; backend: unknown; required_version: string }; resource: Record<string, Record<string, unknown>>; data: Record<string, Record<string, unknown>>; output: Record<string, unknown>; provider: unknown; "//"?: unknown };
const readSynth = (outdir: string): Synth => JSON.parse(readFileSync(path.join(outdir, "stacks", STACK, "cdk.tf.json"), "utf8")) as Synth;

/** Every path where `a` and `b` differ (`resource.aws_x.name.field`), leaves compared as JSON. */
function differences(a: unknown, b: unknown, at = ""): string[] {
  if (a !== null && b !== null && typeof a === "object" && typeof b === "object" && Array.isArray(a) === Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a as object), ...Object.keys(b as object)])];
    return keys.flatMap((k) => differences((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], at === "" ? k : `${at}.${k}`));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [at];
}

/** The version of an installed package of `app`. */
const installed = (app: string, name: string): string => (JSON.parse(readFileSync(path.join(app, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
const tested = (cdktn: string): string => {
  const v = WORLDS.find((w) => w.cdktn === cdktn)?.tested;
  if (v === undefined) throw new Error(`WORLDS has no tested version of ${cdktn}`);
  return v;
};

describe("the CDK Terrain edition used by a cdktn app (Node 22)", () => {
  const work = mkdtempSync(path.join(tmpdir(), "mirror-cdktn-"));
  const compiled = path.join(work, "compiled");
  const cdktnApp = path.join(work, "cdktn-app");
  const cdktfApp = path.join(work, "cdktf-app");
  let packedFiles: string[] = [];

  beforeAll(() => {
    // the package, compiled once (as npm run build:package does, into a scratch directory)
    run(process.execPath, [path.join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.package.json", "--outDir", compiled], ROOT);
    mkdirSync(path.join(compiled, "lib", "buildspec"), { recursive: true });
    for (const f of readdirSync(path.join(ROOT, "lib", "buildspec"))) cpSync(path.join(ROOT, "lib", "buildspec", f), path.join(compiled, "lib", "buildspec", f));

    // the CDK Terrain edition, packed
    const edition = path.join(work, "edition");
    buildCdktnEdition(ROOT, edition, compiled);
    const packed = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", work, `.${path.sep}${path.relative(work, edition)}`], work).stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    packedFiles = packed[0].files.map((f) => f.path).sort();
    const tarball = path.join(work, packed[0].filename);

    // the CDK Terrain app: examples/cdktf-consumer through the WORLDS table
    cpSync(EXAMPLE, cdktnApp, { recursive: true, filter: (src) => !/node_modules|cdktf\.out/.test(src) });
    writeFileSync(path.join(cdktnApp, "main.ts"), rewriteForCdktn("main.ts", readFileSync(path.join(EXAMPLE, "main.ts"), "utf8")));
    const pkg = JSON.parse(readFileSync(path.join(EXAMPLE, "package.json"), "utf8")) as { name: string; dependencies: Record<string, string>; devDependencies: Record<string, string> };
    const dependencies: Record<string, string> = {};
    for (const name of Object.keys(pkg.dependencies)) {
      const row = WORLDS.find((w) => w.cdktf === name);
      if (row === undefined) throw new Error(`examples/cdktf-consumer depends on ${name}, which WORLDS does not map`);
      dependencies[row.cdktn] = row.cdktn === CDKTN_PACKAGE ? `file:${tarball}` : tested(row.cdktn);
    }
    const cli = WORLDS.find((w) => w.cdktf === "cdktf-cli");
    writeFileSync(
      path.join(cdktnApp, "package.json"),
      JSON.stringify({ ...pkg, name: "cdktn-consumer-example", dependencies, devDependencies: { ...pkg.devDependencies, [cli?.cdktn ?? "cdktn-cli"]: cli?.tested } }, null, 2),
    );
    run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], cdktnApp);

    // the same app in the CDKTF world: the CDKTF edition (the same compiled output, unchanged) with
    // this repository's cdktf, constructs and @cdktf/provider-aws 20.1.0
    const pkgDir = path.join(cdktfApp, "node_modules", CDKTF_PACKAGE);
    mkdirSync(pkgDir, { recursive: true });
    cpSync(compiled, path.join(pkgDir, "dist", "npm"), { recursive: true });
    cpSync(path.join(ROOT, "package.json"), path.join(pkgDir, "package.json"));
    mkdirSync(path.join(cdktfApp, "node_modules", "@cdktf"), { recursive: true });
    for (const name of ["cdktf", "constructs", "@cdktf/provider-aws", ...DEPENDENCIES]) symlinkSync(path.join(ROOT, "node_modules", name), path.join(cdktfApp, "node_modules", name));
    cpSync(path.join(EXAMPLE, "main.ts"), path.join(cdktfApp, "main.ts"));
  }, 600_000);

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  test("the app has the versions of WORLDS: cdktn, @cdktn/provider-aws, cdktn-cli and a constructs in cdktn's peer range", () => {
    for (const name of ["cdktn", "@cdktn/provider-aws", "constructs", "cdktn-cli"]) expect([name, installed(cdktnApp, name)]).toEqual([name, tested(name)]);
    expect(installed(cdktnApp, CDKTN_PACKAGE)).toBe("0.1.0");
  });

  test("the edition's tarball holds the compiled library and the sync script, importing nothing of the CDKTF world", () => {
    expect(packedFiles).toEqual(expect.arrayContaining(["package.json", "README.md", "dist/npm/index.js", "dist/npm/index.d.ts", "dist/npm/lib/mirror.js", "dist/npm/lib/buildspec/mirror-sync.sh"]));
    const dist = path.join(cdktnApp, "node_modules", CDKTN_PACKAGE, "dist", "npm");
    const files = readdirSync(dist, { recursive: true, encoding: "utf8" }).filter((f) => /\.(js|d\.ts)$/.test(f));
    expect(files.length).toBeGreaterThan(20);
    for (const f of files) expect([f, readFileSync(path.join(dist, f), "utf8").match(/["'](cdktf|@cdktf\/[^"']*)["']/g)]).toEqual([f, null]);
    const pkg = JSON.parse(readFileSync(path.join(cdktnApp, "node_modules", CDKTN_PACKAGE, "package.json"), "utf8")) as { peerDependencies: Record<string, string> };
    expect(pkg.peerDependencies).toEqual({ cdktn: "^0.24.0", "@cdktn/provider-aws": "^25.0.0", constructs: ">=10.6.0 <10.8.0" });
  });

  test("the generated app imports the CDK Terrain world only", () => {
    const main = readFileSync(path.join(cdktnApp, "main.ts"), "utf8");
    expect(main).toContain('from "@cdktn/provider-aws/lib/provider"');
    expect(main).toContain(`from "${CDKTN_PACKAGE}"`);
    expect(main).toContain('from "cdktn"');
    expect(main).not.toMatch(/from "(cdktf|@cdktf\/[^"]*|backlog-codecommit-mirror)"/);
  });

  test("the app type-checks strictly against the packed declarations", () => {
    expect((JSON.parse(readFileSync(path.join(cdktnApp, "tsconfig.json"), "utf8")) as { compilerOptions: { strict: boolean } }).compilerOptions.strict).toBe(true);
    run(path.join(cdktnApp, "node_modules", ".bin", "tsc"), ["-p", "."], cdktnApp);
  });

  test("the construct's sources and the repository's app, through the same table, type-check strictly against cdktn and @cdktn/provider-aws", () => {
    const src = path.join(cdktnApp, "source");
    const copy = (rel: string) => {
      mkdirSync(path.dirname(path.join(src, rel)), { recursive: true });
      writeFileSync(path.join(src, rel), rewriteForCdktn(rel, readFileSync(path.join(ROOT, rel), "utf8")));
    };
    copy("index.ts");
    copy("main.ts");
    for (const f of readdirSync(path.join(ROOT, "lib"), { recursive: true, encoding: "utf8" })) if (f.endsWith(".ts")) copy(path.join("lib", f));
    cpSync(path.join(ROOT, "lib", "buildspec"), path.join(src, "lib", "buildspec"), { recursive: true, filter: (f) => !f.endsWith(".ts") });
    expect(readFileSync(path.join(src, "lib", "mirror.ts"), "utf8")).not.toMatch(/from "(cdktf|@cdktf\/[^"]*)"/);
    writeFileSync(
      path.join(src, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { strict: true, noImplicitAny: true, noUnusedLocals: true, noUnusedParameters: true, module: "commonjs", moduleResolution: "node", target: "ES2022", lib: ["es2022"], types: ["node"], skipLibCheck: true, esModuleInterop: true, resolveJsonModule: true, noEmit: true },
        files: ["index.ts", "main.ts"],
      }),
    );
    run(path.join(cdktnApp, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.json"], src);
  });

  describe("synthesized, and compared with the CDKTF edition's", () => {
    let cdktn: Synth;
    let cdktf: Synth;
    let cdktnStderr = "";

    beforeAll(() => {
      const r = run(path.join(cdktnApp, "node_modules", ".bin", "tsx"), ["main.ts"], cdktnApp, { CDKTF_OUTDIR: path.join(work, "out-cdktn") });
      cdktnStderr = r.stderr;
      cdktn = readSynth(path.join(work, "out-cdktn"));
      run(path.join(ROOT, "node_modules", ".bin", "tsx"), ["main.ts"], cdktfApp, { CDKTF_OUTDIR: path.join(work, "out-cdktf") });
      cdktf = readSynth(path.join(work, "out-cdktf"));
    }, 120_000);

    test("on Node 22, with nothing on standard error", () => {
      const version = run("node", ["--version"], cdktnApp).stdout.trim();
      expect(version).toMatch(/^v22\./);
      expect(cdktnStderr).toBe("");
    });

    test("the bindings pin the AWS provider 6.x, the CDKTF edition's 5.100.0; the source is hashicorp/aws in both", () => {
      expect(cdktf.terraform.required_providers.aws).toEqual({ source: "aws", version: "5.100.0" });
      // Terraform reads a source without a namespace as hashicorp/...: the same provider
      expect(cdktn.terraform.required_providers.aws.source).toBe("hashicorp/aws");
      expect(cdktn.terraform.required_providers.aws.version).toMatch(/^6\.\d+\.\d+$/);
    });

    test("the same resources, data sources, outputs, provider and backend, apart from the documented differences", () => {
      expect(Object.keys(cdktn.resource).length).toBeGreaterThan(20);
      expect(Object.keys(cdktn.resource).sort()).toEqual(Object.keys(cdktf.resource).sort());
      const { "//": _a, terraform: tn, ...restN } = cdktn;
      const { "//": _b, terraform: tf, ...restF } = cdktf;
      const found = [
        ...differences(restF, restN),
        ...differences({ ...tf, required_providers: undefined }, { ...tn, required_providers: undefined }).map((p) => `terraform.${p}`),
      ].sort();
      expect(found).toEqual(DOCUMENTED.map((d) => d.path).sort());
    });

    test.each(["config/example.json", "examples/multi-repository/config.json", "examples/new-vpc/config.json"])(
      "the repository's app with %s: the same resources and arguments in both editions, and every reviewed upgrade-guide entry holds in both",
      (config) => {
        const source = path.join(cdktnApp, "source");
        const outN = path.join(work, `app-cdktn-${path.basename(path.dirname(config))}`);
        const outF = path.join(work, `app-cdktf-${path.basename(path.dirname(config))}`);
        run(path.join(cdktnApp, "node_modules", ".bin", "tsx"), ["main.ts"], source, { MIRROR_CONFIG: path.join(ROOT, config), CDKTF_OUTDIR: outN });
        run(path.join(ROOT, "node_modules", ".bin", "tsx"), ["main.ts"], ROOT, { MIRROR_CONFIG: path.join(ROOT, config), CDKTF_OUTDIR: outF });
        const read = (out: string) => readFileSync(path.join(out, "stacks", "backlog-codecommit-mirror", "cdk.tf.json"), "utf8");
        const [textN, textF] = [read(outN), read(outF)];
        const [n, f] = [JSON.parse(textN) as Synth, JSON.parse(textF) as Synth];
        expect(n.terraform.required_providers.aws.version).toMatch(/^6\./);
        const { "//": _a, terraform: tn, ...restN } = n;
        const { "//": _b, terraform: tf, ...restF } = f;
        expect([...differences(restF, restN), ...differences({ ...tf, required_providers: undefined }, { ...tn, required_providers: undefined })].sort()).toEqual(DOCUMENTED.map((d) => d.path).sort());
        for (const [s, text] of [[n, textN], [f, textF]] as const) expect(REVIEWED.filter((r) => !r.holds(s, text)).map((r) => r.entry)).toEqual([]);
      },
      60_000,
    );

    test("`cdktn synth` through cdktn-cli writes the same stack", () => {
      rmSync(path.join(cdktnApp, "cdktf.out"), { recursive: true, force: true });
      run(path.join(cdktnApp, "node_modules", ".bin", "cdktn"), ["synth"], cdktnApp);
      const viaCli = readSynth(path.join(cdktnApp, "cdktf.out"));
      expect(viaCli.resource).toEqual(cdktn.resource);
      expect(viaCli.output).toEqual(cdktn.output);
    });
  });
});
