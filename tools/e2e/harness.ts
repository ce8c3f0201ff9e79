/**
 * The end-to-end harness: Backlog stand-in (real sshd) → API Gateway stand-in → emulated CodeBuild
 * StartBuild (moto) → CodeBuild stand-in running the synthesized buildspec → CodeCommit stand-in.
 * Used by the e2e suite, the demo and the sync benchmark.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { CodeBuildClient, CreateProjectCommand, ListBuildsCommand } from "@aws-sdk/client-codebuild";
import { DeleteParameterCommand, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutBucketVersioningCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { EMULATOR_ENV, type Emulator, startEmulator } from "../emulator/moto";
import { ApiGatewayStandIn, type ApiResponse, backlogPushBody } from "./apigw";
import { BuildEvents } from "./build-events";
import { type BuildStatus, CodeBuildStatusStandIn } from "./codebuild-status";
import { CodeCommitStandIn, forEachRef } from "./codecommit";
import { run } from "./proc";
import { type BuildHandle, type BuildOptions, type BuildResult, startBuild } from "./runner";
import { generateKeyPair, type KeyPair, SshHost } from "./ssh-host";
import { terraformLiteral } from "../terraform/template";
import { type Stack, synthesizeStack } from "./stack";
import { LfsServerStandIn } from "./lfs-server";

/** Backlog's SSH user is the space key. */
export const SPACE = "e2e-space";
export const DOMAIN = "backlog.jp";
export const BACKLOG_HOST = `${SPACE}.git.${DOMAIN}`;
export const SSH_KEY_PARAMETER = "/backlog-e2e/ssh-private-key";
export const HOST_KEYS_PARAMETER = "/backlog-e2e/ssh-host-keys";
/** The Git LFS credentials parameter (setting lfs.credentialsParameter) and what it holds. */
export const LFS_CREDENTIALS_PARAMETER = "/backlog-e2e/lfs-credentials";
export const LFS_USER = "e2e-user";
/** A password with a colon: the value is split at the first one. */
export const LFS_PASSWORD = "pass:word-e2e";
/** The space's HTTPS host, where Backlog serves Git over HTTPS and LFS. */
export const BACKLOG_WEB_HOST = `${SPACE}.${DOMAIN}`;
export const HEADS_AND_TAGS = ["refs/heads/", "refs/tags/"];
/** The emulator's account id (moto's default). */
export const ACCOUNT_ID = "123456789012";

export interface RepoSpec {
  readonly projectKey: string;
  readonly repository: string;
  readonly codecommitRepository?: string;
  /** `repositories[].lfs` of the config. */
  readonly lfs?: boolean;
  /** `repositories[].refs` of the config. */
  readonly refs?: { readonly include?: readonly string[]; readonly exclude?: readonly string[] };
}

export interface HarnessOptions {
  /**
   * Mirror Git LFS objects (setting `lfs`): the harness serves Backlog's LFS Batch API
   * (tools/e2e/lfs-server.ts) on SPACE.backlog.jp, reached by the build's curl through its
   * ~/.curlrc (`connect-to`, `cacert`), and puts the credentials in SSM. @default false
   */
  readonly lfs?: boolean;
  /**
   * The alert path as on AWS (tools/e2e/build-events.ts): each build's end is written to CloudWatch
   * Logs and sent to EventBridge, which runs the stack's rule, target and state machine.
   * @default false
   */
  readonly alerts?: boolean;
  readonly repositories: readonly RepoSpec[];
  /** How the build learns the host key: `hostKeys` in the config, `hostKeysParameter` in SSM, or `scanHostKey`. */
  readonly hostKeys: "config" | "ssm" | "scan";
  /** Extra `build` settings of the config (e.g. timeoutMinutes). */
  readonly build?: Record<string, unknown>;
  /** Root of the run directory. */
  readonly tmpRoot?: string;
  /** Extra `sync` settings of the config (e.g. allowEmptySource). */
  readonly sync?: Record<string, unknown>;
  /** `resync` settings of the config (the safety net). */
  readonly resync?: Record<string, unknown>;
  /**
   * The account's concurrency quota for each platform and compute type (e.g. "Concurrently running
   * builds for ARM/Small environment", which can be 1: CodeBuild User Guide, "Quotas for AWS
   * CodeBuild"). Enforced as CodeBuild does for projects without a concurrent build limit (User
   * Guide, "Builds in AWS CodeBuild"): "builds are queued if the number of running builds reaches
   * the concurrent build limit for the platform and compute type", and "a build in a queue that does
   * not start after the number of minutes specified in its time out value is removed from the
   * queue" (the project's `queued_timeout`; the build then reports TIMED_OUT). Queued builds start
   * in the order they were queued (CodeBuild does not guarantee any order). @default no limit
   */
  readonly concurrentBuilds?: number;
  /** TEST DOUBLE: a smaller build timeout and lock timeout for every build ({@link BuildOptions.buildClock}). */
  readonly buildClock?: BuildOptions["buildClock"];
}

/** A build waiting for room in its platform and compute type (see {@link HarnessOptions.concurrentBuilds}). */
interface QueuedBuild {
  readonly pool: string;
  readonly projectName: string;
  readonly buildId: string;
  /** Called when the build leaves the queue: with a handle when it starts, without when it is dropped. */
  readonly leave: (started: BuildHandle | undefined, why: string) => void;
  timer?: NodeJS.Timeout;
}

/** A Backlog repository of the stand-in, with a work tree to make pushes from. */
export class SourceRepo {
  constructor(
    readonly key: string,
    readonly bare: string,
    readonly work: string,
  ) {}

  git(...args: string[]): string {
    return run("git", ["-C", this.work, ...args]).stdout.trim();
  }

  /** Commits `files` (path → content) on the current branch; returns the commit id. */
  commit(message: string, files: Record<string, string | Buffer> = { "README.md": `${message}\n` }): string {
    for (const [file, content] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(this.work, file)), { recursive: true });
      writeFileSync(path.join(this.work, file), content);
    }
    this.git("add", "-A");
    this.git("commit", "--quiet", "-m", message);
    return this.git("rev-parse", "HEAD");
  }

  /** `git push --force origin REFSPEC...` into the stand-in's bare repository. */
  push(...refspecs: string[]): void {
    this.git("push", "--quiet", "--force", "origin", ...refspecs);
  }

  /** Every ref of the source (refs/pull/* included). */
  refs(): Map<string, string> {
    return forEachRef(this.bare);
  }

  /** What the mirror must carry: refs/heads/* and refs/tags/*. */
  mirroredRefs(): Map<string, string> {
    return forEachRef(this.bare, "refs/heads/", "refs/tags/");
  }
}

/**
 * TEST SETUP, not the product: creates in the emulator the synthesized project `name` that StartBuild
 * must find (stock moto wants a source location even for NO_SOURCE). Also used to bring a project
 * back after a test deleted it to make StartBuild fail.
 */
export async function createEmulatedProject(codebuild: CodeBuildClient, stack: Stack, name: string): Promise<void> {
  const project = stack.project(name);
  await codebuild.send(
    new CreateProjectCommand({
      name,
      source: { type: "NO_SOURCE", location: "e2e-not-used", buildspec: terraformLiteral(project.source.buildspec, name) },
      artifacts: { type: "NO_ARTIFACTS" },
      environment: { type: project.environment.type, image: project.environment.image, computeType: project.environment.compute_type },
      serviceRole: "arn:aws:iam::123456789012:role/e2e-build",
    }),
  );
}

/**
 * TEST SETUP, not the product: what `terraform apply` would write into the emulator's S3: each
 * `aws_s3_object` of the stack (the build scripts, the safety net's repository list) in its bucket.
 */
async function writeStackObjects(s3: S3Client, stack: Stack): Promise<void> {
  for (const [, object] of stack.resources("aws_s3_object")) {
    const bucket = stack.resolve(object.bucket, { accountId: ACCOUNT_ID, region: EMULATOR_ENV.AWS_REGION });
    await s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: EMULATOR_ENV.AWS_REGION } })).catch((e) => {
      if ((e as Error).name !== "BucketAlreadyOwnedByYou") throw e;
    });
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: object.key, Body: terraformLiteral(object.content, `the content of ${object.key}`), ContentType: object.content_type }));
  }
}

export class Harness {
  readonly builds: BuildResult[] = [];
  private readonly seenBuilds = new Set<string>();
  private buildCounter = 0;
  private directCounter = 0;
  private readonly running = new Set<BuildHandle>();
  /** Running builds per platform and compute type, and the most that ever ran at once. */
  private readonly runningIn = new Map<string, number>();
  readonly mostRunningAtOnce = new Map<string, number>();
  /** Builds waiting for room (only with {@link HarnessOptions.concurrentBuilds}). */
  private readonly queue: QueuedBuild[] = [];
  /** Status of every build the harness ran or runs, for the CodeBuild status stand-in. */
  private readonly buildStatus = new Map<string, BuildStatus>();
  /** Answers the builds' BatchGetBuilds from {@link buildStatus}; forwards StartBuild to the emulator. */
  readonly codebuildApi: CodeBuildStatusStandIn;
  /** With {@link HarnessOptions.alerts}: the builds' logs and events, and the notifications. */
  buildEvents?: BuildEvents;

  private constructor(
    readonly dir: string,
    readonly opts: HarnessOptions,
    readonly ssh: SshHost,
    readonly clientKey: KeyPair,
    readonly emulator: Emulator,
    readonly stack: Stack,
    readonly api: ApiGatewayStandIn,
    readonly codecommit: CodeCommitStandIn,
    readonly ssm: SSMClient,
    readonly codebuild: CodeBuildClient,
    readonly efsRoot: string,
    readonly sources: Map<string, SourceRepo>,
    readonly s3: S3Client,
    /** The stack's backup bucket (created in the emulator as Terraform would). */
    readonly backupBucket: string,
    /** Backlog's LFS server, with {@link HarnessOptions.lfs}. */
    readonly lfsServer?: LfsServerStandIn,
  ) {
    this.codebuildApi = new CodeBuildStatusStandIn(emulator.endpoint, (id) => this.statusOf(id));
  }

  /** A build's status as CodeBuild reports it: IN_PROGRESS while queued (started, not yet run) or running. */
  private async statusOf(buildId: string): Promise<BuildStatus | undefined> {
    const known = this.buildStatus.get(buildId);
    if (known !== undefined) return known;
    let nextToken: string | undefined;
    do {
      const page = await this.codebuild.send(new ListBuildsCommand({ nextToken }));
      if ((page.ids ?? []).includes(buildId)) return "IN_PROGRESS";
      nextToken = page.nextToken;
    } while (nextToken !== undefined);
    return undefined;
  }

  static async start(opts: HarnessOptions): Promise<Harness> {
    const dir = mkdtempSync(path.join(opts.tmpRoot ?? "/tmp", "backlog-e2e-"));
    const cleanup: Array<() => Promise<void> | void> = [() => rmSync(dir, { recursive: true, force: true })];
    // The SSH sessions run as the space user, which must traverse the run dir to the served repositories.
    chmodSync(dir, 0o711);
    try {
      mkdirSync(path.join(dir, "keys"));
      const clientKey = generateKeyPair(path.join(dir, "keys"), "id_ed25519");
      const ssh = await SshHost.start({ dir: path.join(dir, "ssh"), user: SPACE, authorizedKeys: [clientKey.publicKey] });
      cleanup.push(() => ssh.stop());
      const emulator = await startEmulator();
      cleanup.push(() => emulator.stop());

      const backlog: Record<string, unknown> = { spaceKey: SPACE, domain: DOMAIN, sshKeyParameter: SSH_KEY_PARAMETER };
      if (opts.hostKeys === "config") backlog.hostKeys = [ssh.hostKey];
      if (opts.hostKeys === "ssm") backlog.hostKeysParameter = HOST_KEYS_PARAMETER;
      if (opts.hostKeys === "scan") backlog.scanHostKey = true;
      mkdirSync(path.join(dir, "synth"));
      const stack = synthesizeStack(path.join(dir, "synth"), {
        region: EMULATOR_ENV.AWS_REGION,
        name: "e2e",
        backlog,
        network: { vpcId: "vpc-0123456789abcdef0", subnetIds: ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"] },
        repositories: opts.repositories,
        ...(opts.build !== undefined ? { build: opts.build } : {}),
        ...(opts.sync !== undefined ? { sync: opts.sync } : {}),
        ...(opts.resync !== undefined ? { resync: opts.resync } : {}),
        ...(opts.lfs === true ? { lfs: { credentialsParameter: LFS_CREDENTIALS_PARAMETER } } : {}),
        state: { bucket: "e2e-state-bucket", key: "e2e/terraform.tfstate", region: EMULATOR_ENV.AWS_REGION },
      });

      const clientConfig = {
        endpoint: emulator.endpoint,
        region: EMULATOR_ENV.AWS_REGION,
        credentials: { accessKeyId: EMULATOR_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: EMULATOR_ENV.AWS_SECRET_ACCESS_KEY },
      };
      const ssm = new SSMClient(clientConfig);
      const codebuild = new CodeBuildClient(clientConfig);
      await ssm.send(new PutParameterCommand({ Name: SSH_KEY_PARAMETER, Type: "SecureString", Value: clientKey.privateKey }));
      if (opts.hostKeys === "ssm") {
        await ssm.send(new PutParameterCommand({ Name: HOST_KEYS_PARAMETER, Type: "String", Value: `${ssh.hostKey}\n` }));
      }
      for (const name of stack.projectNames()) await createEmulatedProject(codebuild, stack, name);
      let lfsServer: LfsServerStandIn | undefined;
      if (opts.lfs === true) {
        lfsServer = new LfsServerStandIn(path.join(dir, "lfs"), [BACKLOG_WEB_HOST], LFS_USER, LFS_PASSWORD);
        await lfsServer.start();
        cleanup.push(() => lfsServer?.stop());
        await ssm.send(new PutParameterCommand({ Name: LFS_CREDENTIALS_PARAMETER, Type: "SecureString", Value: `${LFS_USER}:${LFS_PASSWORD}` }));
      }

      // TEST SETUP, not the product: the backup bucket Terraform would create, versioned as the stack makes it.
      const s3 = new S3Client({ ...clientConfig, forcePathStyle: true });
      const backupBucket = stack.backupBucketName(ACCOUNT_ID);
      await s3.send(new CreateBucketCommand({ Bucket: backupBucket, CreateBucketConfiguration: { LocationConstraint: EMULATOR_ENV.AWS_REGION } }));
      await s3.send(new PutBucketVersioningCommand({ Bucket: backupBucket, VersioningConfiguration: { Status: "Enabled" } }));
      await writeStackObjects(s3, stack);

      const codecommit = new CodeCommitStandIn(path.join(dir, "codecommit"));
      await codecommit.start();
      cleanup.push(() => codecommit.stop());
      const sources = new Map<string, SourceRepo>();
      for (const r of opts.repositories) {
        const key = `${r.projectKey}/${r.repository}`;
        const bare = ssh.repoPath(key);
        run("git", ["init", "--quiet", "--bare", "--initial-branch=main", bare]);
        const work = path.join(dir, "work", key);
        run("git", ["clone", "--quiet", bare, work], { stderr: "ignore" } as never);
        run("git", ["-C", work, "config", "user.name", "Backlog E2E"]);
        run("git", ["-C", work, "config", "user.email", "e2e@example.com"]);
        run("git", ["-C", work, "checkout", "--quiet", "-B", "main"]);
        // A machine with git-lfs installed system-wide (Debian's package runs `git lfs install
        // --system`) would pass every `filter=lfs` file through git-lfs and push through its hooks:
        // a work tree commits files as written, as a Backlog user's without LFS, until enableLfs.
        for (const [name, value] of [["filter.lfs.clean", "cat"], ["filter.lfs.smudge", "cat"], ["filter.lfs.process", ""], ["filter.lfs.required", "false"]]) {
          run("git", ["-C", work, "config", name, value]);
        }
        sources.set(key, new SourceRepo(key, bare, work));
        codecommit.create(r.codecommitRepository ?? r.repository);
      }

      const api = new ApiGatewayStandIn(stack, {
        endpoint: emulator.endpoint,
        region: EMULATOR_ENV.AWS_REGION,
        accessKeyId: EMULATOR_ENV.AWS_ACCESS_KEY_ID,
        secretAccessKey: EMULATOR_ENV.AWS_SECRET_ACCESS_KEY,
      });
      await api.start();
      const harness = new Harness(dir, opts, ssh, clientKey, emulator, stack, api, codecommit, ssm, codebuild, path.join(dir, "efs"), sources, s3, backupBucket, lfsServer);
      await harness.codebuildApi.start();
      if (opts.alerts === true) harness.buildEvents = await BuildEvents.create(stack, clientConfig, ACCOUNT_ID);
      return harness;
    } catch (e) {
      for (const c of cleanup.reverse()) await c();
      throw e;
    }
  }

  async stop(): Promise<void> {
    for (const q of this.queue.splice(0)) {
      clearTimeout(q.timer);
      q.leave(undefined, `[harness] ${q.buildId} was killed while queued`);
    }
    for (const b of this.running) b.kill();
    await Promise.all([...this.running].map((b) => b.done));
    await this.codebuildApi.stop();
    await this.api.stop();
    await this.codecommit.stop();
    await this.lfsServer?.stop();
    await this.emulator.stop();
    await this.ssh.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  source(key: string): SourceRepo {
    const s = this.sources.get(key);
    if (s === undefined) throw new Error(`no source repository ${key}`);
    return s;
  }

  spec(key: string): RepoSpec {
    const r = this.opts.repositories.find((x) => `${x.projectKey}/${x.repository}` === key);
    if (r === undefined) throw new Error(`no repository ${key}`);
    return r;
  }

  codecommitName(key: string): string {
    const r = this.spec(key);
    return r.codecommitRepository ?? r.repository;
  }

  /** The build project the synthesized stack has for a repository (by its route's template). */
  projectOf(key: string): string {
    const name = this.stack.projectNames().find((n) => n.endsWith(`-mirror-${this.codecommitName(key).replace(/\./g, "_")}`));
    if (name === undefined) throw new Error(`no build project for ${key}`);
    return name;
  }

  /** The safety net's project (`NAME-verify`). */
  verifyProject(): string {
    const name = this.stack.projectNames().find((n) => n.endsWith("-verify"));
    if (name === undefined) throw new Error("the stack has no verify project (resync.enabled is false?)");
    return name;
  }

  /** Every ref of the CodeCommit stand-in's repository. */
  codecommitRefs(key: string): Map<string, string> {
    return this.codecommit.refs(this.codecommitName(key));
  }

  /** The bare mirror on the EFS stand-in. */
  mirrorPath(key: string): string {
    return path.join(this.efsRoot, `${key}.git`);
  }

  /** Backlog's push webhook for `key`, through the API Gateway stand-in. */
  async webhook(key: string, contentType = "application/x-www-form-urlencoded"): Promise<ApiResponse> {
    const r = this.spec(key);
    const src = this.source(key);
    const after = src.mirroredRefs().get("refs/heads/main") ?? "0".repeat(40);
    const body = backlogPushBody({ space: SPACE, projectKey: r.projectKey, repository: r.repository, ref: "refs/heads/main", before: "0".repeat(40), after });
    return this.api.post(`/${r.projectKey}/${r.repository}`, body, contentType);
  }

  /** Runs, in the CodeBuild stand-in, every build StartBuild created in the emulator since the last call. */
  async startNewBuilds(): Promise<BuildHandle[]> {
    const ids: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.codebuild.send(new ListBuildsCommand({ nextToken }));
      ids.push(...(page.ids ?? []));
      nextToken = page.nextToken;
    } while (nextToken !== undefined);
    const handles: BuildHandle[] = [];
    for (const id of ids.filter((i) => !this.seenBuilds.has(i))) {
      this.seenBuilds.add(id);
      handles.push(await this.runBuild(id.split(":")[0], id));
    }
    return handles;
  }

  /**
   * The id of a build the harness starts itself. Unique across harnesses (the run directory's name):
   * a build's end SIGKILLs every process carrying its id (runner.ts, killMarked), and other harnesses
   * on the same machine (parallel suite files, other checkouts) start `NAME-verify` builds too.
   */
  private directBuildId(projectName: string): string {
    return `${projectName}:direct-${path.basename(this.dir)}-${this.directCounter++}`;
  }

  /** The platform and compute type of a project ("ARM_CONTAINER/BUILD_GENERAL1_SMALL"): CodeBuild's unit of concurrency. */
  private poolOf(projectName: string): string {
    const env = this.stack.project(projectName).environment;
    return `${env.type}/${env.compute_type}`;
  }

  /**
   * Runs a build of `projectName` in the CodeBuild stand-in, or, when its platform and compute type
   * already run {@link HarnessOptions.concurrentBuilds} builds, queues it: the handle's `done`
   * then resolves after it ran, or with a TIMED_OUT result when it was dropped from the queue.
   */
  async runBuild(projectName: string, buildId = this.directBuildId(projectName)): Promise<BuildHandle> {
    const limit = this.opts.concurrentBuilds;
    const pool = this.poolOf(projectName);
    if (limit === undefined || (this.runningIn.get(pool) ?? 0) < limit) return this.launch(projectName, buildId, pool);
    this.buildStatus.set(buildId, "IN_PROGRESS"); // CodeBuild reports a queued build IN_PROGRESS (phase QUEUED)
    let started: BuildHandle | undefined;
    let dropped = false;
    let resolveDone: (r: BuildResult) => void = () => undefined;
    const done = new Promise<BuildResult>((resolve) => (resolveDone = resolve));
    const entry: QueuedBuild = {
      pool,
      projectName,
      buildId,
      leave: (handle, why) => {
        if (handle !== undefined) {
          started = handle;
          void handle.done.then(resolveDone);
          return;
        }
        dropped = true;
        const result: BuildResult = { buildId, projectName, exitCode: 1, succeeded: false, log: why, killed: why.includes("killed"), seconds: 0 };
        this.buildStatus.set(buildId, "TIMED_OUT");
        this.builds.push(result);
        resolveDone(result);
      },
    };
    const queuedMinutes = Number(this.stack.project(projectName).queued_timeout ?? 480);
    entry.timer = setTimeout(() => {
      this.queue.splice(this.queue.indexOf(entry), 1);
      entry.leave(undefined, `[harness] ${buildId} was removed from the queue after its queued timeout (${queuedMinutes} minutes): it never started`);
    }, queuedMinutes * 60_000);
    this.queue.push(entry);
    return {
      buildId,
      done,
      log: () => started?.log() ?? "",
      kill: () => {
        if (started !== undefined) return started.kill();
        if (dropped) return;
        clearTimeout(entry.timer);
        this.queue.splice(this.queue.indexOf(entry), 1);
        entry.leave(undefined, `[harness] ${buildId} was killed while queued`);
      },
    };
  }

  /** Starts the oldest queued build of `pool` when it has room. */
  private async admit(pool: string): Promise<void> {
    const limit = this.opts.concurrentBuilds ?? Infinity;
    const next = this.queue.find((q) => q.pool === pool);
    if (next === undefined || (this.runningIn.get(pool) ?? 0) >= limit) return;
    this.queue.splice(this.queue.indexOf(next), 1);
    clearTimeout(next.timer);
    next.leave(await this.launch(next.projectName, next.buildId, pool), "");
  }

  private async launch(projectName: string, buildId: string, pool: string): Promise<BuildHandle> {
    const running = (this.runningIn.get(pool) ?? 0) + 1;
    this.runningIn.set(pool, running);
    this.mostRunningAtOnce.set(pool, Math.max(running, this.mostRunningAtOnce.get(pool) ?? 0));
    const n = this.buildCounter++;
    const buildDir = path.join(this.dir, "builds", String(n));
    // OpenSSH reads ~/.ssh/config from the passwd entry's home, not from $HOME: a shim in front of
    // PATH passes the build's HOME config with -F (the system-wide config is then not read). It only
    // maps the Backlog host name to the stand-in; the buildspec's own ssh options stay as they are.
    const bin = path.join(buildDir, "bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(path.join(bin, "ssh"), `#!/bin/sh\nexec /usr/bin/ssh -F "$HOME/.ssh/config" "$@"\n`, { mode: 0o755 });
    const handle = await startBuild({
      stack: this.stack,
      projectName,
      buildId,
      efsRoot: this.efsRoot,
      buildDir,
      pathPrepend: [bin],
      region: EMULATOR_ENV.AWS_REGION,
      // Whole or partial references (the safety net's s3://BUCKET/KEY), as an apply would resolve them.
      resolveValue: (value) => this.stack.resolve(value, { accountId: ACCOUNT_ID, region: EMULATOR_ENV.AWS_REGION }),
      // The container's role and endpoints: emulator credentials, S3 in the emulator, the CodeCommit
      // API of the CodeCommit stand-in (the product calls the AWS CLI unchanged).
      platformEnv: {
        AWS_ACCESS_KEY_ID: EMULATOR_ENV.AWS_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY: EMULATOR_ENV.AWS_SECRET_ACCESS_KEY,
        AWS_ENDPOINT_URL: this.emulator.endpoint,
        AWS_ENDPOINT_URL_CODECOMMIT: this.codecommit.endpoint,
        // The build's CodeBuild calls: BatchGetBuilds answered with the real outcome of the builds
        // run here, StartBuild forwarded to the emulator.
        AWS_ENDPOINT_URL_CODEBUILD: this.codebuildApi.endpoint,
        // botocore gzips PutMetricData bodies over 10 KB (request compression); moto 5.2.1 answers
        // such a request with HTTP 500 (BadGzipFile), CloudWatch accepts it. Emulator gap only.
        AWS_DISABLE_REQUEST_COMPRESSION: "true",
      },
      ssm: this.ssm,
      s3: this.s3,
      buildClock: this.opts.buildClock,
      prepareHome: (home) => {
        mkdirSync(path.join(home, ".ssh"), { recursive: true, mode: 0o700 });
        // The Backlog host name reaches the stand-in; HostKeyAlias keeps the pinned name's entry in use.
        writeFileSync(
          path.join(home, ".ssh", "config"),
          `Host ${BACKLOG_HOST}\n  HostName 127.0.0.1\n  Port ${this.ssh.port}\n  HostKeyAlias ${BACKLOG_HOST}\n`,
          { mode: 0o600 },
        );
        writeFileSync(path.join(home, ".gitconfig"), this.codecommit.gitConfig(EMULATOR_ENV.AWS_REGION));
        // The same for HTTPS to the space (Git LFS): curl reads ~/.curlrc before the script's own config.
        if (this.lfsServer !== undefined) {
          writeFileSync(path.join(home, ".curlrc"), `connect-to = ${BACKLOG_WEB_HOST}:443:127.0.0.1:${this.lfsServer.listenPort}\ncacert = "${this.lfsServer.caFile}"\n`);
        }
      },
    });
    this.running.add(handle);
    this.buildStatus.set(buildId, "IN_PROGRESS");
    const done = handle.done.then(async (r) => {
      this.running.delete(handle);
      this.runningIn.set(pool, (this.runningIn.get(pool) ?? 1) - 1);
      this.builds.push(r);
      const status = r.timedOut === true ? "TIMED_OUT" : r.succeeded ? "SUCCEEDED" : "FAILED";
      this.buildStatus.set(buildId, status);
      void this.admit(pool);
      // CodeBuild's log and state-change event, before the build counts as done (with `alerts`).
      await this.buildEvents?.ended(projectName, buildId, status, r.log);
      return r;
    });
    return { buildId: handle.buildId, done, log: () => handle.log(), kill: () => handle.kill() };
  }

  /**
   * Runs a build of `projectName` and, while it runs, every build it starts (as CodeBuild would run
   * them meanwhile); returns its result and the builds it started.
   */
  async runBuildWithStarted(projectName: string): Promise<{ result: BuildResult; started: BuildHandle[] }> {
    const handle = await this.runBuild(projectName);
    const started: BuildHandle[] = [];
    let finished = false;
    void handle.done.then(() => (finished = true));
    while (!finished) {
      started.push(...(await this.startNewBuilds()));
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const result = await handle.done;
    started.push(...(await this.startNewBuilds()));
    return { result, started };
  }

  /** Push webhook → StartBuild → run the started build(s) to the end. Throws if the webhook failed. */
  async sync(key: string): Promise<BuildResult> {
    const res = await this.webhook(key);
    if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${res.body}`);
    const handles = await this.startNewBuilds();
    if (handles.length !== 1) throw new Error(`expected one started build, got ${handles.length}`);
    return handles[0].done;
  }

  /**
   * Gives `key`'s source `commits` commits (commit I adds `fI.txt`, both named after the repository
   * and I), tags the last with each of `tags`, pushes main and the tags, and mirrors it once: the
   * history a scenario starts from.
   * Throws with the build's log if that first sync fails.
   */
  async seed(key: string, commits: number, tags: string[] = []): Promise<void> {
    const src = this.source(key);
    const name = key.split("/")[1];
    for (let i = 0; i < commits; i++) src.commit(`${name} ${i}`, { [`f${i}.txt`]: `${name} ${i}\n` });
    for (const tag of tags) src.git("tag", tag);
    src.push("main", ...tags);
    const result = await this.sync(key);
    if (!result.succeeded) throw new Error(`the build failed:\n${result.log}`);
  }

  /** Keys of the backup bundles of `key` in the backup bucket. */
  async backupKeys(key: string): Promise<string[]> {
    const out = await this.s3.send(new ListObjectsV2Command({ Bucket: this.backupBucket, Prefix: `backups/${key}/` }));
    return (out.Contents ?? []).map((o) => o.Key as string).sort();
  }

  /** Downloads an object of the backup bucket to `file`. */
  async downloadBackup(objectKey: string, file: string): Promise<void> {
    const out = await this.s3.send(new GetObjectCommand({ Bucket: this.backupBucket, Key: objectKey }));
    writeFileSync(file, Buffer.from(await (out.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()));
  }

  /**
   * Makes `key`'s work tree push its LFS objects to the LFS stand-in, as a Backlog user's clone
   * does (the stand-in's own address; the user's credentials from a credential helper).
   */
  enableLfs(key: string): void {
    const server = this.lfsServer;
    if (server === undefined) throw new Error("the harness runs without lfs");
    const src = this.source(key);
    src.git("lfs", "install", "--local", "--force");
    src.git("config", "lfs.url", `${server.endpoint}/git/${key}.git/info/lfs`);
    src.git("config", "lfs.locksverify", "false");
    src.git("config", "credential.helper", `!f() { test "$1" = get && printf 'username=%s\\npassword=%s\\n' '${LFS_USER}' '${LFS_PASSWORD}'; }; f`);
  }

  /** Keys of the LFS objects of `key` in the bucket. */
  async lfsKeys(key: string): Promise<string[]> {
    const out = await this.s3.send(new ListObjectsV2Command({ Bucket: this.backupBucket, Prefix: `lfs/${key}/` }));
    return (out.Contents ?? []).map((o) => o.Key as string).sort();
  }

  /** An object of the bucket. */
  async bucketObject(objectKey: string): Promise<Buffer> {
    const out = await this.s3.send(new GetObjectCommand({ Bucket: this.backupBucket, Key: objectKey }));
    return Buffer.from(await (out.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
  }

  async putParameter(name: string, value: string, type: "String" | "SecureString" = "String"): Promise<void> {
    await this.ssm.send(new PutParameterCommand({ Name: name, Value: value, Type: type, Overwrite: true }));
  }

  async deleteParameter(name: string): Promise<void> {
    await this.ssm.send(new DeleteParameterCommand({ Name: name }));
  }
}

/** A readable diff of two ref maps ("" when equal). */
export function refsDiff(expected: Map<string, string>, actual: Map<string, string>): string {
  const lines: string[] = [];
  for (const [ref, id] of expected) if (actual.get(ref) !== id) lines.push(`${ref}: expected ${id}, got ${actual.get(ref) ?? "(missing)"}`);
  for (const [ref, id] of actual) if (!expected.has(ref)) lines.push(`${ref}: unexpected (${id})`);
  return lines.join("\n");
}
