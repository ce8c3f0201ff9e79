/**
 * Fault scenarios: concurrency, killed builds, damaged mirrors, a changed host key, missing SSM
 * parameters, secrets in the log. The host key is pinned through SSM (`backlog.hostKeysParameter`).
 * Every scenario that ends in a sync compares refs exactly.
 */
import { chmodSync, existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { BACKLOG_HOST, HOST_KEYS_PARAMETER, Harness, SSH_KEY_PARAMETER } from "../../tools/e2e/harness";
import { expectMirrored, expectSoundMirror, expectSucceeded } from "../../tools/e2e/expect-mirror";
import { sleep, waitFor } from "../../tools/e2e/proc";

const REPOS = ["concurrent", "during", "killed", "damaged", "hostkey", "params"];
let h: Harness;

beforeAll(async () => {
  h = await Harness.start({ hostKeys: "ssm", repositories: REPOS.map((repository) => ({ projectKey: "E2E", repository })) });
  // Each repository starts with some history, mirrored once.
  for (const r of REPOS) await h.seed(`E2E/${r}`, 5, ["v1"]);
}, 120_000);

afterAll(async () => {
  await h?.stop();
});

/** Files under the mirror matching a predicate (lock files, partial packs). */
function filesIn(dir: string, match: (name: string) => boolean): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (match(e.name)) out.push(path.relative(dir, p));
    }
  };
  if (existsSync(dir)) walk(dir);
  return out.sort();
}

test("two syncs of the same repository at once run one after the other and do not corrupt the mirror", async () => {
  const key = "E2E/concurrent";
  const src = h.source(key);
  src.commit("big change", { "data.bin": randomBytes(512 * 1024) });
  src.push("main");
  h.codecommit.holdPushes("concurrent");
  expect((await h.webhook(key)).status).toBe(200);
  expect((await h.webhook(key)).status).toBe(200);
  const builds = await h.startNewBuilds();
  expect(builds).toHaveLength(2);
  // One build holds the mirror (its push is held); the other must still be waiting for the lock.
  await waitFor("a push to be held", () => h.codecommit.isPushHeld("concurrent"));
  // The other build's own line: it found the lock held and asked the holder for a fetch.
  await waitFor("the other build to find the lock held", () => builds.some((b) => b.log().includes("another build is syncing")));
  const acquired = builds.filter((b) => b.log().includes("lock acquired"));
  expect(acquired).toHaveLength(1);
  expect(builds.filter((b) => b.log().includes("another build is syncing"))).toHaveLength(1);
  h.codecommit.releasePushes("concurrent");
  const results = await Promise.all(builds.map((b) => b.done));
  results.forEach(expectSucceeded);
  expectMirrored(h, key);
  expectSoundMirror(h, key);
});

test("a push that lands while a sync is running is mirrored once the syncs finish", async () => {
  const key = "E2E/during";
  const src = h.source(key);
  src.commit("first push");
  src.push("main");
  h.codecommit.holdPushes("during");
  expect((await h.webhook(key)).status).toBe(200);
  const [first] = await h.startNewBuilds();
  // The first sync has fetched and is pushing: the next push to Backlog lands now.
  await waitFor("the first sync to push", () => h.codecommit.isPushHeld("during"));
  const late = src.commit("second push, during the sync");
  src.push("main");
  expect((await h.webhook(key)).status).toBe(200);
  const [second] = await h.startNewBuilds();
  // Released once the second build has found the lock held (its own line), not after a fixed pause.
  await waitFor("the second build to find the lock held", () => second.log().includes("another build is syncing"));
  h.codecommit.releasePushes("during");
  expectSucceeded(await first.done);
  expectSucceeded(await second.done);
  expect(h.codecommitRefs(key).get("refs/heads/main")).toBe(late);
  expectMirrored(h, key);
});

test("a sync killed with SIGKILL during the pack transfer leaves a partial fetch, and the next sync succeeds", async () => {
  const key = "E2E/killed";
  const src = h.source(key);
  // More objects than fetch.unpackLimit (100), so the fetch streams into a temporary pack file.
  const files: Record<string, Buffer> = { "large.bin": randomBytes(4 * 1024 * 1024) };
  for (let i = 0; i < 150; i++) files[`many/${i}.txt`] = randomBytes(256);
  src.commit("many files and a large one", files);
  src.push("main");
  h.ssh.stallAfter(128 * 1024);
  expect((await h.webhook(key)).status).toBe(200);
  const [build] = await h.startNewBuilds();
  try {
    await waitFor("the fetch to stall mid-transfer", () => h.ssh.isStalled());
    await sleep(200);
    build.kill();
  } finally {
    h.ssh.releaseStall();
  }
  const killed = await build.done;
  expect(killed.killed).toBe(true);
  expect(killed.succeeded).toBe(false);
  const leftovers = filesIn(h.mirrorPath(key), (n) => n.startsWith("tmp_") || n.endsWith(".lock"));
  expect(leftovers).toEqual([expect.stringMatching(/^objects\/pack\/tmp_pack_/)]);
  const next = await h.sync(key);
  expectSucceeded(next);
  expect(next.log).toMatch(/removed stale \S*objects\/pack\/tmp_pack_/);
  expect(filesIn(h.mirrorPath(key), (n) => n.startsWith("tmp_"))).toEqual([]);
  expectMirrored(h, key);
  expectSoundMirror(h, key);
});

test("a sync killed with SIGKILL while its fetch holds ref locks leaves lock files, and the next sync succeeds", async () => {
  const key = "E2E/killed";
  const src = h.source(key);
  const mirror = h.mirrorPath(key);
  // Test instrumentation inside the mirror: git's reference-transaction hook pauses the fetch at the
  // moment its ref lock files exist, so the kill lands exactly there.
  const gate = path.join(h.dir, "ref-gate");
  const arrived = path.join(h.dir, "ref-arrived");
  const hook = path.join(mirror, "hooks", "reference-transaction");
  writeFileSync(gate, "");
  writeFileSync(
    hook,
    `#!/bin/bash\ncat >/dev/null\nif [ "$1" = prepared ] && [ -e ${gate} ]; then : >${arrived}; while [ -e ${gate} ]; do sleep 0.05; done; fi\nexit 0\n`,
  );
  chmodSync(hook, 0o755);
  src.commit("while locked");
  src.git("checkout", "--quiet", "-b", "topic");
  src.commit("topic work");
  src.git("checkout", "--quiet", "main");
  src.push("main", "topic");
  expect((await h.webhook(key)).status).toBe(200);
  const [build] = await h.startNewBuilds();
  try {
    await waitFor("the fetch to hold its ref locks", () => existsSync(arrived));
    build.kill();
  } finally {
    rmSync(gate, { force: true });
  }
  expect((await build.done).succeeded).toBe(false);
  rmSync(hook);
  const locks = filesIn(mirror, (n) => n.endsWith(".lock"));
  expect(locks).toEqual(expect.arrayContaining(["refs/backlog/heads/main.lock"]));
  const next = await h.sync(key);
  expectSucceeded(next);
  expect(next.log).toMatch(/removed stale \S*refs\/backlog\/heads\/main\.lock/);
  expectMirrored(h, key);
  expectSoundMirror(h, key);
});

test("a deleted mirror directory is re-cloned automatically", async () => {
  const key = "E2E/damaged";
  rmSync(h.mirrorPath(key), { recursive: true, force: true });
  h.source(key).commit("after the mirror was deleted");
  h.source(key).push("main");
  const result = await h.sync(key);
  expectSucceeded(result);
  expect(result.log).toContain("creating the mirror");
  expectMirrored(h, key);
  expectSoundMirror(h, key);
});

test("a corrupted mirror (objects lost) is detected and re-cloned automatically", async () => {
  const key = "E2E/damaged";
  const mirror = h.mirrorPath(key);
  for (const f of filesIn(path.join(mirror, "objects"), (n) => n.endsWith(".pack") || /^[0-9a-f]{38}$/.test(n))) {
    rmSync(path.join(mirror, "objects", f));
  }
  h.source(key).commit("after the corruption");
  h.source(key).push("main");
  const result = await h.sync(key);
  expectSucceeded(result);
  expect(result.log).toContain("damaged");
  expectMirrored(h, key);
  expectSoundMirror(h, key);
});

test("a mirror directory that is no longer a git repository is re-cloned automatically", async () => {
  const key = "E2E/damaged";
  const mirror = h.mirrorPath(key);
  writeFileSync(path.join(mirror, "HEAD"), "garbage\n");
  rmSync(path.join(mirror, "config"));
  const result = await h.sync(key);
  expectSucceeded(result);
  expect(result.log).toContain("damaged");
  expectMirrored(h, key);
  expectSoundMirror(h, key);
});

test("a host key that differs from the pinned one makes the sync fail closed, with a clear log line and nothing pushed", async () => {
  const key = "E2E/hostkey";
  const src = h.source(key);
  const original = h.ssh.hostKeyPair();
  const mirroredBefore = h.codecommitRefs(key);
  const pushesBefore = h.codecommit.pushCount("hostkey");
  src.commit("must not reach CodeCommit through an impostor");
  src.push("main");
  await h.ssh.rotateHostKey();
  try {
    const result = await h.sync(key);
    expect(result.succeeded).toBe(false);
    expect(result.log).toContain(`[mirror] ERROR: host key verification failed for ${BACKLOG_HOST}`);
    expect(h.codecommitRefs(key)).toEqual(mirroredBefore);
    expect(h.codecommit.pushCount("hostkey")).toBe(pushesBefore);
  } finally {
    await h.ssh.useHostKey(original);
  }
  expectSucceeded(await h.sync(key));
  expectMirrored(h, key);
});

test("the pinned host key comes from SSM: rotating the parameter follows a new host key without a Terraform change", async () => {
  const key = "E2E/hostkey";
  const original = h.ssh.hostKeyPair();
  const rotated = await h.ssh.rotateHostKey();
  try {
    await h.putParameter(HOST_KEYS_PARAMETER, `${original.publicKey}\n${rotated}\n`);
    h.source(key).commit("after the host key rotation");
    h.source(key).push("main");
    const result = await h.sync(key);
    expectSucceeded(result);
    expect(result.log).toContain("pinned (2 key(s))");
    expectMirrored(h, key);
  } finally {
    await h.ssh.useHostKey(original);
    await h.putParameter(HOST_KEYS_PARAMETER, `${original.publicKey}\n`);
  }
});

test.each([
  ["the SSH private key", SSH_KEY_PARAMETER],
  ["the pinned host keys", HOST_KEYS_PARAMETER],
])("a missing SSM parameter (%s) fails the build with a clear message and pushes nothing", async (_what, parameter) => {
  const key = "E2E/params";
  const pushesBefore = h.codecommit.pushCount("params");
  const saved = parameter === SSH_KEY_PARAMETER ? h.clientKey.privateKey : `${h.ssh.hostKey}\n`;
  h.source(key).commit(`while ${parameter} is missing`);
  h.source(key).push("main");
  await h.deleteParameter(parameter);
  try {
    const result = await h.sync(key);
    expect(result.succeeded).toBe(false);
    expect(result.log).toContain(`parameter does not exist: ${parameter}`);
    expect(h.codecommit.pushCount("params")).toBe(pushesBefore);
  } finally {
    await h.putParameter(parameter, saved, parameter === SSH_KEY_PARAMETER ? "SecureString" : "String");
  }
  expectSucceeded(await h.sync(key));
  expectMirrored(h, key);
});

test("an SSH key that Backlog refuses fails the sync with a clear message and pushes nothing", async () => {
  const key = "E2E/params";
  const pushesBefore = h.codecommit.pushCount("params");
  const { generateKeyPair } = await import("../../tools/e2e/ssh-host");
  const stranger = generateKeyPair(path.join(h.dir, "keys"), "stranger");
  h.source(key).commit("with a refused key");
  h.source(key).push("main");
  await h.putParameter(SSH_KEY_PARAMETER, stranger.privateKey, "SecureString");
  try {
    const result = await h.sync(key);
    expect(result.succeeded).toBe(false);
    expect(result.log).toMatch(/\[mirror\] ERROR: cannot read .*Permission denied/s);
    expect(h.codecommit.pushCount("params")).toBe(pushesBefore);
  } finally {
    await h.putParameter(SSH_KEY_PARAMETER, h.clientKey.privateKey, "SecureString");
  }
  expectSucceeded(await h.sync(key));
  expectMirrored(h, key);
});

test("rotating the SSH key (docs/rotate-credentials.md) needs no Terraform change: the next sync uses the new key, and works with the old one removed", async () => {
  const key = "E2E/params";
  const old = h.clientKey;
  const { generateKeyPair } = await import("../../tools/e2e/ssh-host");
  const rotated = generateKeyPair(path.join(h.dir, "keys"), "rotated");
  try {
    // 1. Register the new public key with the Backlog user, next to the old one.
    h.ssh.authorize([old.publicKey, rotated.publicKey]);
    // 2. Overwrite the parameter; nothing else changes.
    await h.putParameter(SSH_KEY_PARAMETER, rotated.privateKey, "SecureString");
    expectSucceeded(await h.sync(key));
    expectMirrored(h, key);
    // 3. Delete the old public key at Backlog: the mirror keeps working with the new key alone.
    h.ssh.authorize([rotated.publicKey]);
    h.source(key).commit("after the key rotation");
    h.source(key).push("main");
    expectSucceeded(await h.sync(key));
    expectMirrored(h, key);
    // ...and the old key is really gone: a build holding it is refused.
    await h.putParameter(SSH_KEY_PARAMETER, old.privateKey, "SecureString");
    const refused = await h.sync(key);
    expect(refused.succeeded).toBe(false);
    expect(refused.log).toMatch(/Permission denied/);
    const rotatedLines = rotated.privateKey.split("\n").filter((l) => l.length >= 16 && !l.startsWith("-----"));
    for (const build of h.builds) for (const line of rotatedLines) expect(build.log).not.toContain(line);
  } finally {
    h.ssh.authorize([old.publicKey]);
    await h.putParameter(SSH_KEY_PARAMETER, old.privateKey, "SecureString");
  }
  expectSucceeded(await h.sync(key));
});

test("the SSH private key never appears in any build log of this suite", () => {
  const keyLines = h.clientKey.privateKey
    .split("\n")
    .filter((l) => l.length >= 16 && !l.startsWith("-----"));
  expect(keyLines.length).toBeGreaterThan(0);
  expect(h.builds.length).toBeGreaterThanOrEqual(REPOS.length + 10);
  for (const build of h.builds) {
    expect(build.log).not.toContain("PRIVATE KEY");
    for (const line of keyLines) expect(build.log).not.toContain(line);
  }
});
