/**
 * The contract every operations command keeps (scripts/ops/command.ts, the one runner): `--help`
 * prints the usage and exits 0 without doing anything; a usage error or an invalid configuration is
 * one line (no stack trace) and exit code 2. Each command runs in its own process, as `npm run`
 * runs it (`node --import tsx`).
 *
 * Nothing here reaches AWS, Backlog or a tool: the endpoint refuses connections and the Terraform
 * and moto commands do not exist, so a command that ignored `--help` fails (or finishes) visibly
 * instead of deploying.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { API_KEY, type Run, runCommand, tempDir } from "./support";

const dir = tempDir();
const sandboxDir = path.join(dir, "sandbox");
const env = {
  MIRROR_CONFIG: path.join(dir, "good.json"),
  AWS_ENDPOINT_URL: "http://127.0.0.1:9",
  AWS_ACCESS_KEY_ID: "x",
  AWS_SECRET_ACCESS_KEY: "x",
  BACKLOG_API_KEY: API_KEY,
  BACKLOG_API_BASE_URL: "http://127.0.0.1:9",
  SANDBOX_DIR: sandboxDir,
  TERRAFORM_BIN: path.join(dir, "no-terraform"),
  MOTO_PYTHON: path.join(dir, "no-python"),
};

beforeAll(() => {
  const sample = JSON.parse(readFileSync(path.join(__dirname, "../../config/sandbox.json"), "utf8"));
  writeFileSync(env.MIRROR_CONFIG, JSON.stringify(sample));
  writeFileSync(path.join(dir, "bad.json"), JSON.stringify({ ...sample, region: "mars-1" }));
});

/** `npm run NAME` as [script file, leading arguments]. */
const COMMANDS: Record<string, [string, string[]]> = {
  preflight: ["preflight", []],
  status: ["status", []],
  discover: ["discover", ["--project", "SHOP"]],
  sync: ["sync", ["--all"]],
  "sandbox:up": ["sandbox", ["up"]],
  "sandbox:down": ["sandbox", ["down"]],
};

function run(name: string, args: string[], extra: Record<string, string | undefined> = {}): Promise<Run> {
  const [script, lead] = COMMANDS[name];
  return runCommand(script, [...lead, ...args], { ...env, ...extra });
}

const NAMES = Object.keys(COMMANDS);

test.each(NAMES)("npm run %s -- --help prints its usage on standard output and exits 0, doing nothing", async (name) => {
  for (const flag of ["--help", "-h"]) {
    const r = await run(name, [flag]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    expect(r.stdout).toMatch(new RegExp(`^usage: .*npm run ${name}\\b`));
    // The usage says where the configuration comes from and what the exit codes mean.
    expect(r.stdout).toContain("MIRROR_CONFIG");
    expect(r.stdout).toMatch(/exit codes?: 0 /i);
  }
  expect(existsSync(sandboxDir)).toBe(false);
});

test.each(NAMES)("npm run %s with an unknown option is one line on standard error, exit 2", async (name) => {
  const r = await run(name, ["--bogus"]);
  expect(r.stdout).toBe("");
  expect(r.stderr).toBe(`error: unknown option --bogus (npm run ${name} -- --help prints the usage)\n`);
  expect(r.code).toBe(2);
});

test.each(NAMES.filter((n) => n !== "sandbox:down"))(
  "npm run %s with an invalid configuration names the field, what is allowed and what was given, without a stack trace, exit 2",
  async (name) => {
    const r = await run(name, [], { MIRROR_CONFIG: path.join(dir, "bad.json") });
    expect(r.stdout).not.toMatch(/^preflight of|^- /m);
    expect(r.stderr).toContain('  - `region` must be ');
    expect(r.stderr).toContain('got: "mars-1"');
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.code).toBe(2);
    expect(existsSync(sandboxDir)).toBe(false);
  },
);

test("a usage error of discover and status that is not an unknown option is one line too, exit 2", async () => {
  const noProject = await runCommand("discover", [], env);
  expect(noProject.stderr).toBe("error: name at least one --project (npm run discover -- --help prints the usage)\n");
  expect(noProject.code).toBe(2);
  const both = await runCommand("status", ["--outputs", "x.json", "--stack-dir", "y"], env);
  expect(both.stderr).toBe("error: give --outputs or --stack-dir, not both (npm run status -- --help prints the usage)\n");
  expect(both.code).toBe(2);
  const noKey = await runCommand("status", ["--outputs", "x.json"], { ...env, BACKLOG_API_KEY: undefined });
  expect(noKey.stderr).toBe("error: BACKLOG_API_KEY is not set: export the API key of a Backlog user (Personal settings > API) in it\n");
  expect(noKey.code).toBe(2);
  const sandbox = await runCommand("sandbox", ["sideways"], env);
  expect(sandbox.stderr).toBe("error: unknown sandbox command sideways: give up or down (npm run sandbox:up -- --help prints the usage)\n");
  expect(sandbox.code).toBe(2);
});

// The other user-facing commands of scripts/ run on the same runner.
const TOOLS: Record<string, string> = { "plan-summary": "plan-summary", diagram: "diagram" };

test.each(Object.keys(TOOLS))("npm run %s -- --help prints its usage and exits 0; an unknown option is one line, exit 2", async (name) => {
  const help = await runCommand(TOOLS[name], ["--help"], env);
  expect({ code: help.code, stderr: help.stderr }).toEqual({ code: 0, stderr: "" });
  expect(help.stdout).toMatch(new RegExp(`^usage: .*npm run ${name}\\b`));
  expect(help.stdout).toMatch(/exit codes?: 0 /i);
  const bogus = await runCommand(TOOLS[name], ["--bogus"], env);
  expect(bogus.stdout).toBe("");
  expect(bogus.stderr).toBe(`error: unknown option --bogus (npm run ${name} -- --help prints the usage)\n`);
  expect(bogus.code).toBe(2);
});

test("plan-summary without --json is a usage error naming what --json takes, exit 2", async () => {
  const r = await runCommand("plan-summary", ["--title", "x"], env);
  expect(r.stderr).toBe("error: --json is required: give it the output of terraform show -json PLANFILE (npm run plan-summary -- --help prints the usage)\n");
  expect(r.code).toBe(2);
});
