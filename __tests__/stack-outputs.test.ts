/**
 * How the operations commands find the repositories in `terraform output -json` (the stack's, or a
 * root module's that calls the HCL module), what they say when Terraform fails, and when they
 * refuse the default configuration.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { checkDefaultConfig, DEFAULT_STACK_DIR, OutputsError, parseOutputs, stackDir, terraformErrorLine } from "../scripts/ops/stack-outputs";

const repo = { webhook_url: "https://x/prod/P/r", codecommit_repository: "r", build_project: "m-mirror-r", log_group: "/aws/codebuild/m-mirror-r" };
const output = (value: unknown) => ({ sensitive: false, type: ["map", ["object", {}]], value });

describe("parseOutputs", () => {
  test("the stack's `repositories` output, among the others", () => {
    const doc = { webhook_base_url: { sensitive: false, type: "string", value: "https://x/prod" }, repositories: output({ "P/r": repo }) };
    expect(parseOutputs(JSON.stringify(doc), "f")).toEqual({ "P/r": repo });
  });

  test("a root module that passes the HCL module's `repositories` on under another name", () => {
    const doc = { vpc_id: { sensitive: false, type: "string", value: "vpc-1" }, mirror: output({ "P/r": repo, "P/s": repo }) };
    expect(Object.keys(parseOutputs(JSON.stringify(doc), "f"))).toEqual(["P/r", "P/s"]);
  });

  test("two such outputs: refused, naming both, with the way to pick one", () => {
    const doc = { a: output({ "P/r": repo }), b: output({ "Q/r": repo }) };
    expect(() => parseOutputs(JSON.stringify(doc), "f")).toThrow("f has 2 outputs that map repositories (a, b): give one, as `terraform output -json NAME` prints it");
  });

  test("no such output: refused with what is looked for", () => {
    const doc = { vpc_id: { sensitive: false, type: "string", value: "vpc-1" } };
    expect(() => parseOutputs(JSON.stringify(doc), "f")).toThrow(OutputsError);
    expect(() => parseOutputs(JSON.stringify(doc), "f")).toThrow(/^f has no output that maps PROJECT\/REPO to webhook_url, codecommit_repository and build_project/);
  });

  test("a single output's value (terraform output -json NAME)", () => {
    expect(parseOutputs(JSON.stringify({ "P/r": repo }), "stdin")).toEqual({ "P/r": repo });
    expect(() => parseOutputs(JSON.stringify({ "P/r": { webhook_url: "x" } }), "stdin")).toThrow('stdin: `repositories["P/r"]` lacks webhook_url');
  });
});

test("Terraform's failure is its Error: line, without colours or the diagnostic's box", () => {
  // As `terraform output -json` prints it on a terminal (colours on), after a warning.
  const stderr = [
    "\x1b[33m╷\x1b[0m\x1b[0m",
    "\x1b[33m│\x1b[0m \x1b[0m\x1b[1m\x1b[33mWarning: \x1b[0m\x1b[0m\x1b[1mSomething else\x1b[0m",
    "\x1b[33m╵\x1b[0m\x1b[0m",
    "\x1b[31m╷\x1b[0m\x1b[0m",
    '\x1b[31m│\x1b[0m \x1b[0m\x1b[1m\x1b[31mError: \x1b[0m\x1b[0m\x1b[1mBackend initialization required, please run "terraform init"\x1b[0m',
    "\x1b[31m│\x1b[0m \x1b[0m",
    '\x1b[31m│\x1b[0m \x1b[0m\x1b[0mReason: Initial configuration of the requested backend "s3"',
    "\x1b[31m╵\x1b[0m\x1b[0m",
    "",
  ].join("\n");
  expect(terraformErrorLine(stderr)).toBe('Error: Backend initialization required, please run "terraform init"');
  expect(terraformErrorLine("something odd\nlast words\n")).toBe("last words");
});

describe("checkDefaultConfig", () => {
  const file = `${process.cwd()}/config/example.json`;
  test("MIRROR_CONFIG unset and none of the example's repositories in the outputs: refused, naming the variable and what the outputs list", () => {
    expect(() => checkDefaultConfig({}, file, ["DEMO/web-app"], ["SHOP/api", "SHOP/web", "DATA/etl", "OPS/runbooks"])).toThrow(
      "MIRROR_CONFIG is not set, so the configuration is config/example.json, and the stack's outputs list none of its repositories (they list SHOP/api, SHOP/web, DATA/etl and 1 more): set MIRROR_CONFIG to the configuration the stack was made from",
    );
  });
  test("accepted when MIRROR_CONFIG is set, when one repository matches, or when the outputs list none", () => {
    expect(() => checkDefaultConfig({ MIRROR_CONFIG: "mine.json" }, file, ["DEMO/web-app"], ["SHOP/api"])).not.toThrow();
    expect(() => checkDefaultConfig({}, file, ["DEMO/web-app", "SHOP/api"], ["SHOP/api"])).not.toThrow();
    expect(() => checkDefaultConfig({}, file, ["DEMO/web-app"], [])).not.toThrow();
  });
});

describe("stackDir: where terraform output runs", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "mirror-sandbox-record-"));
  // A running sandbox: this test's own process stands for the emulator.
  writeFileSync(path.join(dir, "sandbox.json"), JSON.stringify({ pid: process.pid, endpoint: "https://127.0.0.1:4566", stackDir: "/tmp/sb/cdktf.out/stacks/s" }));
  const env = { SANDBOX_DIR: dir, AWS_ENDPOINT_URL: "https://127.0.0.1:4566/" };

  test("AWS_ENDPOINT_URL naming the running sandbox: the sandbox's stack, as sandbox:up says", () => {
    expect(stackDir(undefined, env)).toBe("/tmp/sb/cdktf.out/stacks/s");
  });

  test("--stack-dir wins; another endpoint, or none, is the default directory", () => {
    expect(stackDir("elsewhere", env)).toBe(path.resolve("elsewhere"));
    expect(stackDir(undefined, { ...env, AWS_ENDPOINT_URL: "https://127.0.0.1:9999" })).toBe(path.resolve(DEFAULT_STACK_DIR));
    expect(stackDir(undefined, { SANDBOX_DIR: dir })).toBe(path.resolve(DEFAULT_STACK_DIR));
  });
});
