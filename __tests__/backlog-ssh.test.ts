/**
 * The SSH functions of the build (lib/buildspec/backlog-ssh.sh), run for real in bash with real
 * ssh-agent, ssh-add and ssh-keygen.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { BACKLOG_SSH_SCRIPT_PATH, sshKeyTypesVariables } from "../lib/buildspec";

const HOST = "space.git.backlog.jp";
let dir: string;
let privateKey: string;
let hostKey: string;
let otherHostKey: string;
let dsaHostKey: string;

function keyPair(name: string, keyType = "ed25519"): { privateKey: string; publicKey: string } {
  const file = path.join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", keyType, "-N", "", "-C", name, "-f", file]);
  const [type, body] = readFileSync(`${file}.pub`, "utf8").trim().split(/\s+/);
  return { privateKey: readFileSync(file, "utf8"), publicKey: `${type} ${body}` };
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "backlog-ssh-test-"));
  privateKey = keyPair("client").privateKey;
  hostKey = keyPair("host").publicKey;
  otherHostKey = keyPair("other-host").publicKey;
  dsaHostKey = keyPair("dsa-host", "dsa").publicKey;
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `body` after sourcing the functions, with log/fail as the sync defines them. */
function shell(body: string, env: Record<string, string>): { code: number; stdout: string; stderr: string } {
  const script = [
    "set -euo pipefail",
    `log() { printf '[t] %s\\n' "$*"; }`,
    `fail() { printf '[t] ERROR: %s\\n' "$*" >&2; exit 1; }`,
    `. ${JSON.stringify(BACKLOG_SSH_SCRIPT_PATH)}`,
    "trap backlog_ssh_cleanup EXIT",
    body,
  ].join("\n");
  const res = spawnSync("bash", ["-c", script], {
    encoding: "utf8",
    // The buildspec's variables, as CodeBuild exports them (lib/buildspec.ts).
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, TMPDIR: dir, BACKLOG_HOST: HOST, HOST_KEY_MODE: "pinned", ...sshKeyTypesVariables(), ...env },
  });
  return { code: res.status ?? 128, stdout: res.stdout, stderr: res.stderr };
}

const pinned = (keys: string) => shell(`backlog_ssh_pinned_known_hosts "$TMPDIR/kh"; cat "$TMPDIR/kh"`, { BACKLOG_HOST_KEYS: keys });

describe("pinned host keys are read line by line", () => {
  test("comments, blank lines, CRLF ends and a trailing comment field are ignored", () => {
    const res = pinned(`# Backlog's host key, pinned 2026-11-29\n\n  ${hostKey} backlog\r\n# end\n`);
    expect(res.stderr).toBe("");
    expect(res.stdout).toBe(`[t] host key of ${HOST} pinned (1 key(s))\n${HOST} ${hostKey}\n`);
  });

  test("an ssh-keyscan line whose host column names the configured host is accepted (also in a list or as [host]:22)", () => {
    const res = pinned(`${HOST} ${hostKey}\nexample.org,[${HOST}]:22 ${otherHostKey}\n`);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("pinned (2 key(s))");
    expect(res.stdout).toContain(`${HOST} ${otherHostKey}\n`);
  });

  test.each([
    ["another host in the host column", () => `${hostKey}\nevil.example.org ${otherHostKey}\n`, `line 2 of the pinned host keys is for host evil.example.org, not ${HOST}`],
    ["a hashed host column", () => `|1|abc=|def= ${hostKey}\n`, "line 1 of the pinned host keys has a hashed host name"],
    ["a marker", () => `@cert-authority ${HOST} ${hostKey}\n`, "line 1 of the pinned host keys has a marker (@cert-authority)"],
    ["free text", () => `# keys\nnot a key at all\n`, "line 2 of the pinned host keys is not 'TYPE BASE64' or 'HOST TYPE BASE64': not a key at all"],
    ["a type without a key", () => `ssh-ed25519\n`, "line 1 of the pinned host keys has no base64 key after ssh-ed25519"],
    ["a key that does not decode", () => `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMq\n`, "line 1 of the pinned host keys is not a valid ssh-ed25519 key"],
    ["only comments", () => `# nothing here\n\n`, `no pinned host key for ${HOST} (BACKLOG_HOST_KEYS has only comments or blank lines)`],
    // The configuration's host-key types (lib/rules.ts), not every type OpenSSH knows: a DSA key,
    // which OpenSSH 9.8 dropped, is refused by the build as by validation and preflight.
    ["a type outside the configuration's rule (ssh-dss)", () => `${dsaHostKey}\n`, "line 1 of the pinned host keys is not 'TYPE BASE64' or 'HOST TYPE BASE64': ssh-dss"],
  ])("a bad line fails naming the line: %s", (_what, keys, message) => {
    const res = pinned(keys());
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`[t] ERROR: ${message}`);
  });
});

describe("the private key reaches ssh-add only", () => {
  test("the agent holds the key, and neither the agent's nor the shell's environment carries it", () => {
    const res = shell(
      [
        "backlog_ssh_setup",
        'ssh-add -l | sed "s/^/[agent] /"',
        'tr "\\0" "\\n" </proc/$SSH_AGENT_PID/environ | grep -c PRIVATE || true',
        'env | grep -c PRIVATE || true',
        'printf "%s\\n" "$GIT_SSH_COMMAND"',
      ].join("\n"),
      { SRC_GIT_CREDENTIAL: privateKey, BACKLOG_HOST_KEYS: hostKey },
    );
    expect(res.stderr).toBe("");
    const lines = res.stdout.trim().split("\n");
    expect(lines[1]).toMatch(/^\[agent\] 256 SHA256:\S+ client \(ED25519\)$/);
    expect(lines.slice(2, 4)).toEqual(["0", "0"]);
    expect(lines[4]).toMatch(/-o StrictHostKeyChecking=yes -o UserKnownHostsFile=\S+ -o GlobalKnownHostsFile=\/dev\/null/);
    expect(lines[4]).toContain("-o ConnectTimeout=20 -o ServerAliveInterval=10 -o ServerAliveCountMax=3");
  });

  test("a key ssh-add refuses (here: the public key stored by mistake) fails with ssh-add's own reason, never the key", () => {
    const res = shell("backlog_ssh_setup", { SRC_GIT_CREDENTIAL: `${hostKey} stored-by-mistake\n`, BACKLOG_HOST_KEYS: hostKey });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^\[t\] ERROR: the SSH private key from SSM could not be loaded by ssh-add: Error loading key "\(stdin\)": \S/);
    expect(res.stderr).not.toContain("stored-by-mistake");
  });

  test("a key with a passphrase fails at once instead of prompting", () => {
    const file = path.join(dir, "with-passphrase");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "secret", "-f", file]);
    const res = shell("backlog_ssh_setup", { SRC_GIT_CREDENTIAL: readFileSync(file, "utf8"), BACKLOG_HOST_KEYS: hostKey });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("could not be loaded by ssh-add: the key is protected by a passphrase, which a build cannot enter");
  });

  test("an empty key variable fails naming the variable", () => {
    const res = shell("backlog_ssh_setup", { SRC_GIT_CREDENTIAL: "", BACKLOG_HOST_KEYS: hostKey });
    expect(res.stderr).toContain("[t] ERROR: SRC_GIT_CREDENTIAL is empty");
  });

  test("scan mode trusts on first use through ssh itself (accept-new), with the same connection bounds", () => {
    const res = shell('backlog_ssh_setup; printf "%s\\n" "$GIT_SSH_COMMAND"', { SRC_GIT_CREDENTIAL: privateKey, HOST_KEY_MODE: "scan" });
    expect(res.stdout).toContain("WARNING: trusting whatever host key");
    expect(res.stdout).toMatch(/-o StrictHostKeyChecking=accept-new .*-o ServerAliveInterval=10/);
  });
});
