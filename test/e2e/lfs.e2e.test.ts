/**
 * Git LFS mirroring (issue 19, setting `lfs`): real git-lfs pushes files to the Backlog stand-in's
 * LFS server (tools/e2e/lfs-server.ts, the Batch API with basic auth), the synthesized sync copies
 * the objects into the bucket (the emulator's S3), and real git-lfs on the consumer's side gets them
 * back through the shipped transfer agent (lib/buildspec/lfs-s3-agent.sh, downloaded from the
 * bucket as the stack's `lfs` output says). `E2E/assets` mirrors its LFS objects; `E2E/plain` opts
 * out (`lfs: false`) and only gets the detection warning.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { EMULATOR_ENV } from "../../tools/emulator/moto";
import { expectMirrored, expectSucceeded } from "../../tools/e2e/expect-mirror";
import { ACCOUNT_ID, Harness, LFS_CREDENTIALS_PARAMETER, LFS_PASSWORD, LFS_USER, type SourceRepo } from "../../tools/e2e/harness";
import { run, runAsync } from "../../tools/e2e/proc";

const KEY = "E2E/assets";
const PLAIN = "E2E/plain";
let h: Harness;

beforeAll(async () => {
  h = await Harness.start({
    hostKeys: "config",
    lfs: true,
    alerts: true,
    repositories: [
      { projectKey: "E2E", repository: "assets" },
      { projectKey: "E2E", repository: "plain", lfs: false },
    ],
  });
  h.enableLfs(KEY);
}, 90_000);

afterAll(async () => {
  await h?.stop();
});

const sha256 = (b: Buffer): string => createHash("sha256").update(b).digest("hex");
const objectKey = (oid: string): string => `lfs/${KEY}/objects/${oid.slice(0, 2)}/${oid.slice(2, 4)}/${oid}`;
/** Files of each commit, by path, as pushed (what a consumer must get back). */
const pushed = new Map<string, Buffer>();

/** Commits `files` (LFS-tracked *.bin) and pushes main; git-lfs's pre-push hook uploads to the stand-in. */
async function pushLfs(src: SourceRepo, message: string, files: Record<string, Buffer>): Promise<void> {
  src.commit(message, { ".gitattributes": "*.bin filter=lfs diff=lfs merge=lfs -text\n", ...files });
  for (const [f, b] of Object.entries(files)) pushed.set(f, b);
  // Asynchronous: the LFS stand-in runs in this process and must answer the push's uploads.
  // git-lfs reads the CA from GIT_SSL_CAINFO (it did not take http.sslCAInfo for this server).
  await runAsync("git", ["-C", src.work, "push", "--quiet", "--force", "origin", "main"], { env: { ...process.env, GIT_SSL_CAINFO: h.lfsServer!.caFile } });
}

/** The LFS summary line of a sync. */
const summary = (log: string): string[] => log.split("\n").filter((l) => l.startsWith("[mirror] LFS: stored "));

test("a first sync stores each LFS object of the mirrored history once in the bucket; CodeCommit holds the pointers", async () => {
  const src = h.source(KEY);
  const a = randomBytes(300_000);
  const b = randomBytes(2_000);
  await pushLfs(src, "large files through LFS", { "assets/a.bin": a, "assets/b.bin": b, "assets/copy-of-a.bin": a, "notes.txt": Buffer.from("not LFS\n") });
  expect(h.lfsServer!.has(KEY, sha256(a))).toBe(true); // the push went through git-lfs

  const result = await h.sync(KEY);
  expectSucceeded(result);
  expectMirrored(h, KEY);
  // (a) CodeCommit holds the pointer files, not the content.
  const cc = h.codecommit.repoPath(h.codecommitName(KEY));
  const pointer = run("git", ["--git-dir", cc, "cat-file", "-p", "main:assets/a.bin"]).stdout;
  expect(pointer).toBe(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(a)}\nsize ${a.length}\n`);
  // (b) Each object once, at its content address, byte for byte.
  expect(await h.lfsKeys(KEY)).toEqual([objectKey(sha256(a)), objectKey(sha256(b))].sort());
  expect(sha256(await h.bucketObject(objectKey(sha256(a))))).toBe(sha256(a));
  expect(h.lfsServer!.downloads.map((d) => d.oid).sort()).toEqual([sha256(a), sha256(b)].sort());
  expect(summary(result.log)).toEqual([`[mirror] LFS: stored 2 new object(s), ${a.length + b.length} bytes, in s3://${h.backupBucket}/lfs/${KEY}/objects/; 0 left`]);
  // The credentials are in no log line.
  expect(result.log).not.toContain(LFS_PASSWORD);
});

test("a clone of the CodeCommit copy with the shipped transfer agent gets byte-identical files", async () => {
  const output = h.stack.json.output.lfs.value[KEY] as { commands: string[] };
  const clone = path.join(h.dir, "consumer");
  const agent = path.join(h.dir, "consumer-agent.sh");
  run("git", ["clone", "--quiet", h.codecommit.repoPath(h.codecommitName(KEY)), clone], { env: { ...process.env, GIT_LFS_SKIP_SMUDGE: "1" } });
  expect(readFileSync(path.join(clone, "assets/a.bin"), "utf8")).toMatch(/^version https:\/\/git-lfs/);
  // The consumer's AWS access: the emulator's (a build role with the stack's read policy, on AWS).
  const env = { ...process.env, ...EMULATOR_ENV, AWS_ENDPOINT_URL: h.emulator.endpoint };
  run("git", ["-C", clone, "lfs", "install", "--local"]);
  // The output's commands, as the consumer's buildspec runs them (the agent kept in this run's directory).
  for (const command of output.commands) {
    const line = h.stack.resolve(command, { accountId: ACCOUNT_ID, region: EMULATOR_ENV.AWS_REGION }).replaceAll("/tmp/backlog-mirror-lfs-agent.sh", agent);
    run("bash", ["-c", line], { cwd: clone, env });
  }
  await runAsync("git", ["-C", clone, "lfs", "pull"], { env });
  for (const [file, content] of pushed) expect(sha256(readFileSync(path.join(clone, file)))).toBe(sha256(content));
});

test("a second sync after one more LFS commit uploads only the new object", async () => {
  const src = h.source(KEY);
  const c = randomBytes(50_000);
  const before = h.lfsServer!.downloads.length;
  await pushLfs(src, "one more", { "assets/c.bin": c });
  const result = await h.sync(KEY);
  expectSucceeded(result);
  expectMirrored(h, KEY);
  expect(h.lfsServer!.downloads.slice(before).map((d) => d.oid)).toEqual([sha256(c)]);
  expect(summary(result.log)).toEqual([`[mirror] LFS: stored 1 new object(s), ${c.length} bytes, in s3://${h.backupBucket}/lfs/${KEY}/objects/; 0 left`]);
  expect(await h.lfsKeys(KEY)).toHaveLength(3);
  // Nothing new: no LFS request at all.
  const again = await h.sync(KEY);
  expectSucceeded(again);
  expect(summary(again.log)).toEqual([]);
  expect(h.lfsServer!.downloads.length).toBe(before + 1);
});

test("wrong credentials fail the LFS step with one line naming the parameter; the refs are still pushed, and the next sync with good ones catches up", async () => {
  const src = h.source(KEY);
  const d = randomBytes(10_000);
  await pushLfs(src, "while the password is wrong", { "assets/d.bin": d });
  await h.putParameter(LFS_CREDENTIALS_PARAMETER, `${LFS_USER}:not-the-password`, "SecureString");
  const refused = await h.sync(KEY);
  expect(refused.succeeded).toBe(false);
  expectMirrored(h, KEY);
  expect(refused.log.split("\n").filter((l) => l.includes("ERROR"))).toEqual([
    `[mirror] ERROR: Backlog refused the Git LFS credentials of SSM parameter ${LFS_CREDENTIALS_PARAMETER} (HTTP 401 from https://e2e-space.backlog.jp/git/${KEY}.git/info/lfs; setting lfs.credentialsParameter); the refs were pushed, no LFS object was mirrored`,
  ]);
  expect(await h.lfsKeys(KEY)).not.toContain(objectKey(sha256(d)));

  await h.putParameter(LFS_CREDENTIALS_PARAMETER, `${LFS_USER}:${LFS_PASSWORD}`, "SecureString");
  const fixed = await h.sync(KEY);
  expectSucceeded(fixed);
  expect(await h.lfsKeys(KEY)).toContain(objectKey(sha256(d)));
});

test("an object missing at Backlog fails the build once, naming it; the refs and the other objects are mirrored", async () => {
  const src = h.source(KEY);
  const lost = randomBytes(5_000);
  const kept = randomBytes(6_000);
  await pushLfs(src, "one object will be lost", { "assets/lost.bin": lost, "assets/kept.bin": kept });
  h.lfsServer!.remove(KEY, sha256(lost));
  await h.buildEvents!.settled();
  const alerted = (await h.buildEvents!.notifications()).length;
  const first = await h.sync(KEY);
  expect(first.succeeded).toBe(false);
  expectMirrored(h, KEY);
  expect(first.log.split("\n").filter((l) => l.includes("ERROR"))).toEqual([
    `[mirror] ERROR: LFS object(s) of ${KEY} missing at Backlog (the refs were pushed; CodeCommit holds their pointers): ${sha256(lost)} (assets/lost.bin)`,
  ]);
  // The alert names the object too (its last error line: tools/e2e/build-events.ts, lib/alert-states.ts).
  await h.buildEvents!.settled();
  const [alert] = (await h.buildEvents!.notifications()).slice(alerted);
  expect(alert.subject).toBe("Backlog mirror failing");
  expect(alert.message).toContain(`missing at Backlog (the refs were pushed; CodeCommit holds their pointers): ${sha256(lost)} (assets/lost.bin)`);
  expect(await h.lfsKeys(KEY)).toContain(objectKey(sha256(kept)));
  // Reported once: the next sync warns and succeeds.
  const second = await h.sync(KEY);
  expectSucceeded(second);
  expect(second.log).toContain(`[mirror] WARNING: LFS object(s) of ${KEY} still missing at Backlog (reported before): ${sha256(lost)} (assets/lost.bin)`);
});

test("a repository that opts out (lfs: false) is not mirrored and gets the detection warning", async () => {
  const src = h.source(PLAIN);
  const pointer = (content: string) => `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(Buffer.from(content))}\nsize ${content.length}\n`;
  src.commit("pointers", { ".gitattributes": "*.bin filter=lfs\n", "x.bin": pointer("x"), "y.bin": pointer("y") });
  src.push("main");
  const result = await h.sync(PLAIN);
  expectSucceeded(result);
  expect(result.log).toContain("[mirror] WARNING: E2E/plain uses Git LFS: 2 LFS object(s) of the mirrored refs are not mirrored");
  expect(summary(result.log)).toEqual([]);
  expect(await h.lfsKeys(PLAIN)).toEqual([]);
});
