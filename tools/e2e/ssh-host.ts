/**
 * Backlog stand-in: a real OpenSSH server on a loopback port, public-key authentication only, that
 * serves bare repositories at Backlog's path layout (`SPACE@SPACE.git.DOMAIN:/PROJECT/REPO.git`).
 *
 * - Runs `/usr/sbin/sshd -D` as root with a generated sshd_config in a per-run directory; the host
 *   key is generated per run (and can be swapped to simulate a man in the middle).
 * - The SSH user is the space key, as on Backlog: a system user without a home or a password
 *   (created once with useradd; authentication is by the run's authorized_keys only).
 * - A ForceCommand wrapper accepts only `git-upload-pack '/PROJECT/REPO.git'`, maps it into the
 *   run's repository root, counts the bytes sent to the client (for the benchmark), can stall
 *   a transfer after N bytes (to kill a sync mid-fetch), and can send at a bounded rate (a large
 *   repository behind a slow path, whose first sync needs several builds).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { freePort } from "../emulator/moto";
import { run, sleep } from "./proc";

export const SSHD = "/usr/sbin/sshd";

/** Creates the space's SSH user if it does not exist yet (idempotent, serialised across processes). */
export function ensureSshUser(user: string): void {
  if (run("id", ["-u", user], { allowFail: true }).code === 0) return;
  run("flock", [
    "/tmp/backlog-e2e-useradd.lock",
    "sh",
    "-c",
    // '*' is "no password" without "locked" (sshd refuses locked accounts when PAM is off).
    `id -u "$1" >/dev/null 2>&1 || useradd --system --no-create-home --home-dir / --shell /bin/bash --password '*' "$1"`,
    "sh",
    user,
  ]);
}

/** One `ssh-keygen -t ed25519` key pair. */
export interface KeyPair {
  readonly privateKey: string;
  /** `ssh-ed25519 BASE64` (no comment). */
  readonly publicKey: string;
}

export function generateKeyPair(dir: string, name: string): KeyPair {
  const file = path.join(dir, name);
  rmSync(file, { force: true });
  rmSync(`${file}.pub`, { force: true });
  run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", file]);
  const [type, body] = readFileSync(`${file}.pub`, "utf8").trim().split(/\s+/);
  return { privateKey: readFileSync(file, "utf8"), publicKey: `${type} ${body}` };
}

const WRAPPER = `#!/bin/bash
# Backlog stand-in (e2e harness): the ForceCommand of every SSH session. Serves git-upload-pack only,
# for /PROJECT/REPO.git under the run's repository root; counts the bytes sent; may stall a transfer.
set -u
root=__ROOT__
state=__STATE__
re="^git-upload-pack '/([A-Z][A-Z0-9_]*)/([A-Za-z0-9_][A-Za-z0-9_.-]*\\.git)'\\$"
if ! [[ \${SSH_ORIGINAL_COMMAND:-} =~ $re ]]; then
  echo "backlog stand-in: only git-upload-pack '/PROJECT/REPO.git' is served" >&2
  exit 128
fi
repo="$root/\${BASH_REMATCH[1]}/\${BASH_REMATCH[2]}"
[ -d "$repo" ] || { echo "fatal: '/\${BASH_REMATCH[1]}/\${BASH_REMATCH[2]}' does not appear to be a git repository" >&2; exit 128; }
key="\${BASH_REMATCH[1]}/\${BASH_REMATCH[2]}"

# Forwards upload-pack's output as it comes (the protocol is interactive), counts the bytes, and,
# while state/stall-after-bytes holds N, stops forwarding after N bytes until state/stall-gate is gone;
# while state/bytes-per-second holds R, forwards at most R bytes a second (a slow network path).
relay='
  use Time::HiRes qw(time sleep);
  my ($state, $key) = @ARGV;
  my ($n, $rate) = (0, 0);
  if (open(my $f, "<", "$state/stall-after-bytes")) { $n = <$f> + 0; close $f; }
  if (open(my $f, "<", "$state/bytes-per-second")) { $rate = <$f> + 0; close $f; }
  my ($total, $held, $buf, $t0) = (0, 0, "", time);
  # A client that goes away (a build cut or killed mid-fetch) still has its bytes counted.
  $SIG{PIPE} = "IGNORE";
  sub counted { open(my $log, ">>", "$state/upload-pack.log"); print $log "$key $total\n"; close $log; exit 0; }
  while (my $r = sysread(STDIN, $buf, $rate > 0 ? 16384 : 65536)) {
    my $off = 0;
    while ($off < $r) { my $w = syswrite(STDOUT, $buf, $r - $off, $off); counted() unless defined $w; $total += $w; $off += $w; }
    if ($rate > 0) { my $ahead = $total / $rate - (time - $t0); sleep($ahead) if $ahead > 0; }
    if ($n > 0 && !$held && $total >= $n) {
      $held = 1;
      if (-e "$state/stall-freeze") {
        # A dead network path: the SSH server process of this session stops (SIGSTOP), so it no
        # longer answers anything, keepalives included. The test resumes it with SIGCONT.
        my $pid = getppid();
        while ($pid > 1) {
          open(my $st, "<", "/proc/$pid/stat") or last;
          my $line = <$st>; close $st;
          my ($comm, $ppid) = $line =~ /^\\d+ \\((.*)\\) \\S+ (\\d+)/;
          if ($comm =~ /^sshd/) {
            open(my $f, ">", "$state/frozen-pid"); print $f $pid; close $f;
            kill "STOP", $pid;
            last;
          }
          $pid = $ppid;
        }
      }
      open(my $s, ">", "$state/stalled"); close $s;
      select(undef, undef, undef, 0.05) while -e "$state/stall-gate";
    }
  }
  counted();
'
git -c safe.directory='*' upload-pack --strict "$repo" | perl -e "$relay" "$state" "$key"
`;

export interface SshHostOptions {
  /** Run directory (created if needed); holds config, keys, logs and the repository root. */
  readonly dir: string;
  /** The SSH user: Backlog's space key. */
  readonly user: string;
  /** Public keys allowed to log in (`TYPE BASE64`). */
  readonly authorizedKeys: readonly string[];
}

export class SshHost {
  readonly port: number;
  readonly repoRoot: string;
  readonly stateDir: string;
  private hostKeyFile: string;
  private child: ChildProcess | undefined;
  private stderr = "";

  private constructor(
    readonly opts: SshHostOptions,
    port: number,
    /** `ssh-ed25519 BASE64` of the key the server presents. */
    public hostKey: string,
  ) {
    this.port = port;
    this.repoRoot = path.join(opts.dir, "repos");
    this.stateDir = path.join(opts.dir, "state");
    this.hostKeyFile = path.join(opts.dir, "host", "ssh_host_ed25519_key");
  }

  /** Generates the host key, writes the configuration and starts sshd. */
  static async start(opts: SshHostOptions): Promise<SshHost> {
    ensureSshUser(opts.user);
    for (const d of ["host", "repos", "state"]) mkdirSync(path.join(opts.dir, d), { recursive: true });
    // The session runs as the space user: it must traverse the run dir, read the repositories and
    // write its byte counts.
    chmodSync(opts.dir, 0o755);
    chmodSync(path.join(opts.dir, "repos"), 0o755);
    chmodSync(path.join(opts.dir, "state"), 0o777);
    const hostKey = generateKeyPair(path.join(opts.dir, "host"), "ssh_host_ed25519_key").publicKey;
    const host = new SshHost(opts, await freePort(), hostKey);
    host.writeConfig();
    await host.launch();
    return host;
  }

  private writeConfig(): void {
    const { dir, user } = this.opts;
    const wrapper = path.join(dir, "git-serve.sh");
    writeFileSync(
      wrapper,
      WRAPPER.replace("__ROOT__", JSON.stringify(this.repoRoot)).replace("__STATE__", JSON.stringify(this.stateDir)),
      { mode: 0o755 },
    );
    writeFileSync(path.join(dir, "authorized_keys"), this.opts.authorizedKeys.map((k) => `${k}\n`).join(""), { mode: 0o644 });
    writeFileSync(
      path.join(dir, "sshd_config"),
      [
        `Port ${this.port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${this.hostKeyFile}`,
        `PidFile ${path.join(dir, "sshd.pid")}`,
        `AuthorizedKeysFile ${path.join(dir, "authorized_keys")}`,
        // The run dir lives under /tmp (world-writable), which StrictModes would refuse.
        "StrictModes no",
        "UsePAM no",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin no",
        `AllowUsers ${user}`,
        "AcceptEnv GIT_PROTOCOL",
        `ForceCommand ${wrapper}`,
        "DisableForwarding yes",
        "PermitTTY no",
        "PrintMotd no",
        "LogLevel ERROR",
        "",
      ].join("\n"),
    );
  }

  private async launch(): Promise<void> {
    // Debian's sshd refuses to start without its privilege-separation directory.
    mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
    run(SSHD, ["-t", "-f", path.join(this.opts.dir, "sshd_config")]);
    this.stderr = "";
    const child = spawn(SSHD, ["-D", "-e", "-f", path.join(this.opts.dir, "sshd_config")], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    child.stderr?.on("data", (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
    this.child = child;
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`sshd exited ${child.exitCode}: ${this.stderr}`);
      if (await canConnect(this.port)) return;
      if (Date.now() > deadline) throw new Error(`sshd did not listen on 127.0.0.1:${this.port}: ${this.stderr}`);
      await sleep(50);
    }
  }

  /** Stops sshd (the running sessions end with it). Safe to call twice. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined || child.exitCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
    await once(child, "exit").catch(() => undefined);
    clearTimeout(timer);
  }

  /**
   * Replaces the public keys allowed to log in (a Backlog user adding or deleting an SSH key in
   * Personal settings): sshd reads AuthorizedKeysFile at every connection, so no restart.
   */
  authorize(keys: readonly string[]): void {
    writeFileSync(path.join(this.opts.dir, "authorized_keys"), keys.map((k) => `${k}\n`).join(""), { mode: 0o644 });
  }

  /** Restarts sshd with a freshly generated host key (a different server at the same address). */
  async rotateHostKey(): Promise<string> {
    await this.stop();
    this.hostKey = generateKeyPair(path.dirname(this.hostKeyFile), path.basename(this.hostKeyFile)).publicKey;
    await this.launch();
    return this.hostKey;
  }

  /** Restarts sshd with a given host key pair (e.g. the original one again). */
  async useHostKey(pair: { privateKey: string; publicKey: string }): Promise<void> {
    await this.stop();
    writeFileSync(this.hostKeyFile, pair.privateKey, { mode: 0o600 });
    writeFileSync(`${this.hostKeyFile}.pub`, `${pair.publicKey}\n`);
    this.hostKey = pair.publicKey;
    await this.launch();
  }

  /** The current host key pair (to restore it later). */
  hostKeyPair(): { privateKey: string; publicKey: string } {
    return { privateKey: readFileSync(this.hostKeyFile, "utf8"), publicKey: this.hostKey };
  }

  /** Bare repository path of `PROJECT/REPO` (without `.git`). */
  repoPath(key: string): string {
    return path.join(this.repoRoot, `${key}.git`);
  }

  /** Bytes sent by git-upload-pack per session, in order, for one repository. */
  uploadPackBytes(key: string): number[] {
    const log = path.join(this.stateDir, "upload-pack.log");
    if (!existsSync(log)) return [];
    return readFileSync(log, "utf8")
      .split("\n")
      .filter((l) => l.startsWith(`${key}.git `))
      .map((l) => Number(l.split(" ")[1]));
  }

  /**
   * Makes the next transfers stall after `bytes` bytes until {@link releaseStall}; with `freeze`,
   * the session's SSH server process is stopped too (a dead network path: no keepalive answers).
   */
  stallAfter(bytes: number, freeze = false): void {
    if (freeze) writeFileSync(path.join(this.stateDir, "stall-freeze"), "");
    writeFileSync(path.join(this.stateDir, "stall-gate"), "");
    rmSync(path.join(this.stateDir, "stalled"), { force: true });
    writeFileSync(path.join(this.stateDir, "stall-after-bytes"), String(bytes), { mode: 0o644 });
  }

  /** Later transfers are sent at most `bytesPerSecond` bytes a second (undefined: at full speed). */
  throttle(bytesPerSecond: number | undefined): void {
    const file = path.join(this.stateDir, "bytes-per-second");
    if (bytesPerSecond === undefined) rmSync(file, { force: true });
    else writeFileSync(file, String(bytesPerSecond), { mode: 0o644 });
  }

  /** True once a transfer is held at the stall point. */
  isStalled(): boolean {
    return existsSync(path.join(this.stateDir, "stalled"));
  }

  releaseStall(): void {
    const frozen = path.join(this.stateDir, "frozen-pid");
    if (existsSync(frozen)) {
      try {
        process.kill(Number(readFileSync(frozen, "utf8")), "SIGCONT");
      } catch {
        // already gone
      }
      rmSync(frozen, { force: true });
    }
    rmSync(path.join(this.stateDir, "stall-freeze"), { force: true });
    rmSync(path.join(this.stateDir, "stall-after-bytes"), { force: true });
    rmSync(path.join(this.stateDir, "stall-gate"), { force: true });
    rmSync(path.join(this.stateDir, "stalled"), { force: true });
  }
}

async function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
