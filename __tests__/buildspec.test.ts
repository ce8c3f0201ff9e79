import { execFileSync } from "node:child_process";
import { parse } from "yaml";
import { readFileSync } from "node:fs";
import { BACKLOG_SSH_SCRIPT_PATH, SYNC_SCRIPT_PATH } from "../lib/buildspec";
import { PRE_SCRIPT_BUDGET_SECONDS, lockTimeoutSeconds } from "../lib/mirror-build";
import { HOST_KEY_TYPE_PATTERN } from "../lib/rules";
import { buildScriptsOf, exampleConfig, resources, synthStack, configWithRepositories, terraformLiteral, onlyResourceOutsideSafetyNet } from "../test/support/synth";

const synth = synthStack(exampleConfig());
const project = onlyResourceOutsideSafetyNet(synth, "aws_codebuild_project");
const buildspecText = terraformLiteral(project.source.buildspec);
const buildspec = parse(buildspecText);
const syncCommand: string = buildspec.phases.build.commands[0];

/** What the build command runs, as the stack uploads it (lib/build-scripts.ts): SSH functions, then the sync. */
const shipped = buildScriptsOf(synth, project);
const scriptBody = shipped.text;

/**
 * The variables a sync project's build sees, as bash reads them: the project's environment variables
 * (values as Terraform hands them to CodeBuild) given to bash, which prints the named ones.
 */
function settingsOf(p: Record<string, any>, names: string[]): Record<string, string> {
  const env = Object.fromEntries((p.environment.environment_variable as Array<{ name: string; value: string }>).map((v) => [v.name, terraformLiteral(v.value)]));
  // --norc: with this bare environment (no SHLVL) and a socket for stdin (Node's pipes), bash takes
  // itself for a remote shell and would source ~/.bashrc, adding its PATH and its time to every call.
  const out = execFileSync("bash", ["--norc", "-c", names.map((n) => `printf '%s\\0' "$${n}"`).join("\n")], { encoding: "utf8", env: { PATH: process.env.PATH, ...env } }).split("\0");
  return Object.fromEntries(names.map((n, i) => [n, out[i]]));
}

describe("buildspec", () => {
  test("is version 0.2, runs in bash, and reads the SSH key and pinned host keys from Parameter Store", () => {
    expect(buildspec.version).toBe(0.2);
    expect(buildspec.env.shell).toBe("bash");
    expect(buildspec.env["parameter-store"]).toEqual({
      SRC_GIT_CREDENTIAL: "/backlog-mirror/ssh-private-key",
      BACKLOG_HOST_KEYS: "/backlog-mirror/ssh-host-keys",
    });
    // The host-key types the build accepts, the configuration's rule (lib/rules.ts).
    expect(buildspec.env.variables).toEqual({ BACKLOG_SSH_KEY_TYPES: HOST_KEY_TYPE_PATTERN });
  });

  test("installs nothing: the install phase only points git at the AWS CLI credential helper", () => {
    expect(buildspec.phases.install.commands).toEqual([
      "git config --global credential.helper '!aws codecommit credential-helper $@'",
      "git config --global credential.UseHttpPath true",
    ]);
    expect(buildspecText).not.toMatch(/pip3? install|git-remote-codecommit|codecommit::/);
  });

  test("has install and build phases only (no post_build: no AWS CLI start after the push), the build being one subshell that runs the SSH functions and the sync script of the project's source folder, as written", () => {
    expect(Object.keys(buildspec.phases)).toEqual(["install", "build"]);
    expect(buildspec.phases.build.commands).toHaveLength(1);
    expect(syncCommand).toBe('(\n. "$CODEBUILD_SRC_DIR/backlog-ssh.sh"\n. "$CODEBUILD_SRC_DIR/mirror-sync.sh"\n)\n');
    expect(shipped.files).toEqual(["backlog-ssh.sh", "mirror-sync.sh"]);
    expect(scriptBody).toBe(readFileSync(BACKLOG_SSH_SCRIPT_PATH, "utf8") + readFileSync(SYNC_SCRIPT_PATH, "utf8"));
  });

  test("sets the repository's Backlog remote, CodeCommit name and mirror path, exactly as the shell will see them", () => {
    expect(
      settingsOf(project, ["BACKLOG_HOST", "BACKLOG_REMOTE", "CODECOMMIT_REPOSITORY", "MIRROR_PATH", "HOST_KEY_MODE"]),
    ).toEqual({
      BACKLOG_HOST: "example-space.git.backlog.jp",
      BACKLOG_REMOTE: "example-space@example-space.git.backlog.jp:/DEMO/web-app.git",
      CODECOMMIT_REPOSITORY: "demo-web-app",
      MIRROR_PATH: "DEMO/web-app.git",
      HOST_KEY_MODE: "pinned",
    });
  });

  test("hands pinned host keys given in the configuration to the build, newlines and all", () => {
    const config = exampleConfig();
    const keys = [
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
      "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg=",
    ];
    config.backlog = { ...config.backlog, hostKeysParameter: undefined, hostKeys: keys };
    const p = onlyResourceOutsideSafetyNet(synthStack(config), "aws_codebuild_project");
    const spec = parse(terraformLiteral(p.source.buildspec));
    expect(spec.env["parameter-store"]).toEqual({ SRC_GIT_CREDENTIAL: "/backlog-mirror/ssh-private-key" });
    expect(settingsOf(p, ["BACKLOG_HOST_KEYS", "HOST_KEY_MODE"])).toEqual({
      BACKLOG_HOST_KEYS: keys.join("\n"),
      HOST_KEY_MODE: "pinned",
    });
  });

  test("scans the host key only when scanHostKey is explicitly on", () => {
    const config = exampleConfig();
    config.backlog = { ...config.backlog, hostKeysParameter: undefined, scanHostKey: true };
    expect(settingsOf(onlyResourceOutsideSafetyNet(synthStack(config), "aws_codebuild_project"), ["HOST_KEY_MODE"])).toEqual({ HOST_KEY_MODE: "scan" });
    // Scan mode is trust on first use through ssh itself (accept-new); pinned mode is strict.
    expect(scriptBody).toContain("strict=accept-new");
    expect(scriptBody).toContain("-o StrictHostKeyChecking=$strict ");
    expect(scriptBody).toContain("local known_hosts strict=yes");
  });

  test("reaches CodeBuild and S3 as written: every ${ of the shell is escaped from Terraform's interpolation", () => {
    expect(project.source.buildspec).not.toMatch(/(?<!\$)\$\{/);
    const sync = resources(synth, "aws_s3_object").find((o) => String(o.key).endsWith("/mirror-sync.sh"));
    expect(sync?.content).not.toMatch(/(?<!\$)\$\{/);
    expect(sync?.content).toContain('"$${CODEBUILD_REPO_DIR}/$${MIRROR_PATH}"');
  });

  test("is valid bash", () => {
    expect(() => execFileSync("bash", ["-n", "-c", syncCommand])).not.toThrow();
    expect(() => execFileSync("bash", ["-n", "-c", scriptBody])).not.toThrow();
  });

  test("fetches only heads and tags (pruning what the source deleted) and pushes within CodeCommit's quota", () => {
    expect(scriptBody).toContain("'+refs/heads/*:refs/backlog/heads/*' '+refs/tags/*:refs/backlog/tags/*'");
    expect(scriptBody).toContain("fetch --quiet --prune --no-tags --no-auto-maintenance");
    expect(scriptBody).toContain("readonly MAX_REFS_PER_PUSH=4000");
    expect(scriptBody).toMatch(/push --porcelain "\$CODECOMMIT_URL" "\$@"/);
    expect(scriptBody).toContain(
      'readonly CODECOMMIT_URL="https://git-codecommit.${AWS_REGION}.amazonaws.com/v1/repos/${CODECOMMIT_REPOSITORY}"',
    );
    expect(scriptBody).not.toMatch(/push --mirror/);
  });

  test("is the same text for every repository, which differ only in their projects' environment variables", () => {
    const three = resources(synthStack(configWithRepositories(3)), "aws_codebuild_project").filter((p) => !p.name.endsWith("-verify"));
    expect(new Set(three.map((p) => p.source.buildspec)).size).toBe(1);
    expect(new Set(three.map((p) => p.source.location)).size).toBe(1);
    expect(three.map((p) => settingsOf(p, ["BACKLOG_REMOTE"]).BACKLOG_REMOTE).sort()).toEqual([
      "example-space@example-space.git.backlog.jp:/DEMO/repo-1.git",
      "example-space@example-space.git.backlog.jp:/DEMO/repo-3.git",
      "example-space@example-space.git.backlog.jp:/OPS/repo-2.git",
    ]);
  });
});

describe("lock timeout, build timeout and provisioning (derivation at lockTimeoutSeconds, lib/mirror-build.ts)", () => {
  /** A number the shipped shell sets, read from the file so that the test follows the script. */
  const shellNumber = (file: string, pattern: RegExp): number => {
    const m = pattern.exec(readFileSync(file, "utf8"));
    if (m === null) throw new Error(`${pattern} not found in ${file}`);
    return Number(m[1]);
  };
  const sshConnect = shellNumber(BACKLOG_SSH_SCRIPT_PATH, /^BACKLOG_SSH_CONNECT_TIMEOUT=(\d+)$/m);
  const sshSilence =
    shellNumber(BACKLOG_SSH_SCRIPT_PATH, /^BACKLOG_SSH_ALIVE_INTERVAL=(\d+)$/m) * shellNumber(BACKLOG_SSH_SCRIPT_PATH, /^BACKLOG_SSH_ALIVE_COUNT_MAX=(\d+)$/m);
  const pushStall = shellNumber(SYNC_SCRIPT_PATH, /PUSH_LOW_SPEED_TIME=(\d+)/);
  const accepted = Array.from({ length: 480 - 5 + 1 }, (_, i) => 5 + i); // build.timeoutMinutes, lib/validation.ts

  test("for every accepted build timeout T: P + 2L <= T, so a waiter that becomes the holder ends on its own before T for every sync of up to L/2", () => {
    const violations = accepted.filter((t) => {
      const l = lockTimeoutSeconds(t);
      const s = l / 2; // the longest sync the protocol is meant for
      return !(PRE_SCRIPT_BUDGET_SECONDS + l + 2 * s <= t * 60 && PRE_SCRIPT_BUDGET_SECONDS + 2 * l <= t * 60);
    });
    expect(violations).toEqual([]);
    // L is the largest such value: one second more breaks the relation.
    for (const t of accepted) expect(PRE_SCRIPT_BUDGET_SECONDS + 2 * (lockTimeoutSeconds(t) + 1)).toBeGreaterThan(t * 60);
  });

  test("for every accepted T, a holder whose fetch and push both stall ends with its own line before T, and a waiter gives up before T", () => {
    const late = accepted.filter((t) => {
      const l = lockTimeoutSeconds(t);
      return !(PRE_SCRIPT_BUDGET_SECONDS + l / 2 + sshConnect + sshSilence + pushStall < t * 60 && PRE_SCRIPT_BUDGET_SECONDS + l < t * 60);
    });
    expect([sshConnect, sshSilence, pushStall]).toEqual([20, 30, 60]);
    expect(late).toEqual([]);
  });

  test("the default 5 minutes give a 90 s lock timeout (syncs of up to 45 s coalesce), and the sync project carries it", () => {
    expect(lockTimeoutSeconds(5)).toBe(90);
    expect(lockTimeoutSeconds(10)).toBe(240);
    expect(settingsOf(project, ["LOCK_TIMEOUT_SECONDS"])).toEqual({ LOCK_TIMEOUT_SECONDS: "90" });
    const config = exampleConfig();
    config.build = { timeoutMinutes: 480 };
    expect(settingsOf(onlyResourceOutsideSafetyNet(synthStack(config), "aws_codebuild_project"), ["LOCK_TIMEOUT_SECONDS"])).toEqual({ LOCK_TIMEOUT_SECONDS: String((480 * 60 - 120) / 2) });
  });
});
