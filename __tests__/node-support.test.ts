/**
 * The AWS SDK's Node version warning on Node 20 (scripts/ops/node-support.ts): one line instead of
 * nine, at most once per command, never inside a line of the command's output.
 */
import { spawnSync } from "node:child_process";
import { EventEmitter } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { type NodeProcess, README_NODE_SECTION, SDK_SWITCH, installNodeSupportNotice, nodeSupportLine } from "../scripts/ops/node-support";
import { builtScript } from "../test/support/built-script";

const ROOT = path.join(__dirname, "..");
/** What @aws-sdk/core emits on Node before 22 (emitWarningIfUnsupportedVersion), first line. */
const SDK_TEXT = "NodeVersionSupportWarning: The AWS SDK for JavaScript (v3)\nversions published after the first week of January 2027\nwill require node >=22.";

/** A stand-in process: what reaches the terminal, in order, and what Node would print as warnings. */
function standIn(version = "v20.19.0") {
  const screen: string[] = [];
  const passed: unknown[] = [];
  const events = new EventEmitter();
  const proc: NodeProcess = {
    version,
    env: {},
    stdout: { write: (chunk: string) => (screen.push(chunk), true) },
    stderr: { write: (chunk: string) => (screen.push(chunk), true) },
    emitWarning: (w: unknown) => void passed.push(w),
    once: (event, listener) => events.once(event, listener),
  };
  installNodeSupportNotice(proc);
  return { proc, screen, passed, exit: () => events.emit("exit") };
}

test("the SDK's warning becomes one line pointing at the README's Node.js section, once, and the SDK's switch is set for child processes", () => {
  const { proc, screen, passed } = standIn();
  proc.emitWarning(SDK_TEXT);
  proc.emitWarning(SDK_TEXT);
  proc.emitWarning(Object.assign(new Error(SDK_TEXT), { name: "Warning" }));
  expect(screen).toEqual([`${nodeSupportLine("v20.19.0")}\n`]);
  expect(screen[0].split("\n")).toHaveLength(2);
  expect(screen[0]).toContain(README_NODE_SECTION);
  expect(screen[0]).not.toContain("NodeVersionSupportWarning");
  expect(passed).toEqual([]);
  expect(proc.env[SDK_SWITCH]).toBe("true");
});

test("other warnings pass unchanged", () => {
  const { proc, screen, passed } = standIn();
  proc.emitWarning("something else", "DeprecationWarning");
  expect(passed).toEqual(["something else"]);
  expect(screen).toEqual([]);
});

test("in the middle of a line of output (a sandbox:up step) the line is held until that line ends", () => {
  const { proc, screen } = standIn();
  proc.stdout.write("- SSH and host keys in Parameter Store ...");
  proc.emitWarning(SDK_TEXT);
  expect(screen).toEqual(["- SSH and host keys in Parameter Store ..."]);
  proc.stdout.write(Buffer.from(" 0.3 s\n"));
  proc.stdout.write("- next step ...");
  expect(screen).toEqual(["- SSH and host keys in Parameter Store ...", Buffer.from(" 0.3 s\n"), `${nodeSupportLine("v20.19.0")}\n`, "- next step ..."]);
});

test("a command that exits in the middle of a line still says it, on a line of its own", () => {
  const { proc, screen, exit } = standIn();
  proc.stdout.write("- a step ...");
  proc.emitWarning(SDK_TEXT);
  exit();
  expect(screen).toEqual(["- a step ...", `\n${nodeSupportLine("v20.19.0")}\n`]);
});

test("preflight, with the SDK believing it runs on Node 20: one notice line on stderr, none of the SDK's nine", async () => {
  // a closed loopback port: every call is refused at once
  const port = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const p = (server.address() as { port: number }).port;
      server.close(() => resolve(p));
    });
  });
  const dir = mkdtempSync(path.join(tmpdir(), "mirror-node-support-"));
  const fake = path.join(dir, "node20.js");
  writeFileSync(fake, 'Object.defineProperty(process, "version", { value: "v20.19.0" });\n');
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, MIRROR_CONFIG: path.join(ROOT, "config", "example.json"), AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`, AWS_MAX_ATTEMPTS: "1", AWS_ACCESS_KEY_ID: "testing", AWS_SECRET_ACCESS_KEY: "testing", SANDBOX_DIR: dir };
    delete env[SDK_SWITCH];
    delete env.AWS_PROFILE;
    const r = spawnSync(process.execPath, ["--require", fake, builtScript("scripts/preflight.ts")], { cwd: ROOT, env, encoding: "utf8", timeout: 60_000 });
    expect(r.stdout).toContain("could not be checked");
    expect(r.stderr).not.toContain("NodeVersionSupportWarning");
    expect(r.stderr.split("\n").filter((l) => l.includes("AWS SDK"))).toEqual([nodeSupportLine("v20.19.0")]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);

test("every command that may build an AWS SDK client runs through the runner, which installs the notice first", () => {
  const runner = readFileSync(path.join(ROOT, "scripts", "ops", "command.ts"), "utf8");
  expect(runner).toMatch(/export function main[^{]*\{\n(\s*\/\/.*\n)*\s+installNodeSupportNotice\(\);/);
  for (const command of ["preflight", "status", "discover", "sandbox"]) {
    const text = readFileSync(path.join(ROOT, "scripts", `${command}.ts`), "utf8");
    expect([command, /if \(require\.main === module\) main\(/.test(text)]).toEqual([command, true]);
  }
});

/** The lowest release of each Node line the engines field admits. */
const LINES = ["20.19.0", "22.12.0", "24.0.0"];
const admits = (range: string, version: string): boolean => {
  const m = /^>=\s*(\d+)\.(\d+)\.(\d+)$/.exec(range.trim());
  if (m === null) throw new Error(`engines range "${range}" is not of the form >=X.Y.Z: extend the check`);
  const [a, b] = [m.slice(1).map(Number), version.split(".").map(Number)];
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return b[i] > a[i];
  return true;
};

test("the lockfile pins AWS SDK and Smithy releases that run on every Node line the engines field admits", () => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { engines: { node: string } };
  expect(pkg.engines.node).toBe("^20.19.0 || ^22.12.0 || >=24.0.0");
  const lock = JSON.parse(readFileSync(path.join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { version: string; engines?: { node?: string } }> };
  const sdk = Object.entries(lock.packages).filter(([k]) => /node_modules\/@(aws-sdk|smithy|aws-crypto)\//.test(k));
  expect(sdk.length).toBeGreaterThan(30);
  const refusing = sdk.filter(([, v]) => v.engines?.node !== undefined && LINES.some((line) => !admits(v.engines?.node ?? "", line))).map(([k, v]) => `${k}@${v.version} (${v.engines?.node})`);
  expect(refusing).toEqual([]);
  expect(admits(">=22.0.0", "20.19.0")).toBe(false);
});
