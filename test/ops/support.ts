/**
 * Shared by the operations suite: runs a command of `scripts/` (`discover.ts`, `status.ts`, `sync.ts`,
 * `preflight.ts`, `sandbox.ts`) in a child process exactly as `npm run` does (node --import tsx), writes configurations,
 * and prepares the emulator's CodeBuild projects, builds and CodeCommit branches.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { CodeBuildClient, CreateProjectCommand } from "@aws-sdk/client-codebuild";
import { CodeCommitClient, CreateBranchCommand, CreateRepositoryCommand, UpdateDefaultBranchCommand } from "@aws-sdk/client-codecommit";
import { EMULATOR_ENV } from "../../tools/emulator/moto";

export const ROOT = path.resolve(__dirname, "../..");
/** The API key the stand-in accepts: distinctive, so a leak is found by a plain search. */
export const API_KEY = "bk-TEST-KEY-7f3a9c1e2d4b6a8f0e1c3b5d7a9f2e4c6b8d0a1f3e5c7b9d";
export const REGION = EMULATOR_ENV.AWS_REGION;

export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs `scripts/<command>.ts` (what `npm run <command>` runs) with `args` and `env` added to a clean environment. */
export function runCommand(command: string, args: string[], env: Record<string, string | undefined>, stdin?: string): Promise<Run> {
  const started = Date.now();
  const base: Record<string, string> = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", NODE_NO_WARNINGS: "1" };
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ["--import", "tsx", path.join(ROOT, "scripts", `${command}.ts`), ...args],
      { cwd: ROOT, env: { ...base, ...env }, maxBuffer: 32 * 1024 * 1024 },
      (_err, stdout, stderr) => resolve({ code: child.exitCode ?? -1, stdout, stderr, ms: Date.now() - started }),
    );
    if (stdin !== undefined) child.stdin?.end(stdin);
  });
}

export function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), "mirror-ops-"));
}

export interface Repo {
  projectKey: string;
  repository: string;
  codecommitRepository?: string;
}

/** A valid configuration (config/example.json's settings) with `repositories`. */
export function configText(repositories: readonly Repo[], spaceKey = "acme"): string {
  const example = JSON.parse(readFileSync(path.join(ROOT, "config/example.json"), "utf8"));
  return `${JSON.stringify({ ...example, backlog: { ...example.backlog, spaceKey, domain: "backlog.com" }, repositories }, null, 2)}\n`;
}

export function writeConfig(dir: string, repositories: readonly Repo[], name = "mirror.json"): string {
  const file = path.join(dir, name);
  writeFileSync(file, configText(repositories));
  return file;
}

/** Every file under `dir`, recursively, with its text. */
export function filesUnder(dir: string): { file: string; text: string }[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    return statSync(file).isDirectory() ? filesUnder(file) : [{ file, text: readFileSync(file, "utf8") }];
  });
}

/** `PROJECT/REPO`'s webhook URL on the test stack. */
export const webhookUrl = (key: string) => `https://a1b2c3d4e5.execute-api.${REGION}.amazonaws.com/prod/${key}`;

/** What `terraform output -json` prints for these repositories (stack name "backlog-mirror"). */
export function outputsJson(keys: readonly Repo[]): string {
  const value = Object.fromEntries(
    keys.map((r) => {
      const cc = r.codecommitRepository ?? r.repository;
      const project = `backlog-mirror-mirror-${cc.replace(/\./g, "_")}`;
      return [
        `${r.projectKey}/${r.repository}`,
        {
          webhook_url: webhookUrl(`${r.projectKey}/${r.repository}`),
          codecommit_repository: cc,
          clone_url_http: `https://git-codecommit.${REGION}.amazonaws.com/v1/repos/${cc}`,
          clone_url_ssh: `ssh://git-codecommit.${REGION}.amazonaws.com/v1/repos/${cc}`,
          build_project: project,
          log_group: `/aws/codebuild/${project}`,
        },
      ];
    }),
  );
  return JSON.stringify({
    webhook_base_url: { sensitive: false, type: "string", value: `https://a1b2c3d4e5.execute-api.${REGION}.amazonaws.com/prod` },
    repositories: { sensitive: false, type: ["map", ["object", {}]], value },
  });
}

/** A finished (or running) sync build to record on the emulator. */
export interface BuildSpec {
  readonly status: "SUCCEEDED" | "FAILED" | "FAULT" | "TIMED_OUT" | "STOPPED" | "IN_PROGRESS";
  /** Minutes before now. */
  readonly startedMinutesAgo: number;
  readonly seconds: number;
  /** Its QUEUED, PROVISIONING and BUILD phases, in seconds, as BatchGetBuilds reports them. */
  readonly phases?: { readonly queued: number; readonly provisioning: number; readonly build: number };
  /** CodeBuild's message for a failed BUILD phase (`phases[].contexts`). */
  readonly phaseError?: { readonly statusCode: string; readonly message: string };
  /** Lines of its log, written to CloudWatch Logs (/aws/codebuild/PROJECT, one stream per build). */
  readonly log?: readonly string[];
}

/** Creates the CodeCommit repository (with `main` at `commit`) and the sync project with `builds` (oldest first). */
export async function deployRepository(endpoint: string, repo: Repo, builds: readonly BuildSpec[], commit: string | null): Promise<void> {
  await deployMany(endpoint, [{ repo, builds, commit }]);
}

export async function deployMany(
  endpoint: string,
  items: readonly { repo: Repo; builds: readonly BuildSpec[]; commit: string | null }[],
): Promise<void> {
  const clients = { region: REGION, endpoint, credentials: { accessKeyId: "testing", secretAccessKey: "testing" } };
  const cc = new CodeCommitClient(clients);
  const cb = new CodeBuildClient(clients);
  const logs = new CloudWatchLogsClient(clients);
  const groups = new Set<string>();
  const now = Date.now() / 1000;
  const builds: object[] = [];
  for (const { repo, builds: specs, commit } of items) {
    const name = repo.codecommitRepository ?? repo.repository;
    const project = `backlog-mirror-mirror-${name.replace(/\./g, "_")}`;
    await cc.send(new CreateRepositoryCommand({ repositoryName: name }));
    if (commit !== null) {
      await cc.send(new CreateBranchCommand({ repositoryName: name, branchName: "main", commitId: commit }));
      await cc.send(new UpdateDefaultBranchCommand({ repositoryName: name, defaultBranchName: "main" }));
    }
    await cb.send(
      new CreateProjectCommand({
        name: project,
        source: { type: "NO_SOURCE", buildspec: "version: 0.2" },
        artifacts: { type: "NO_ARTIFACTS" },
        environment: { type: "ARM_CONTAINER", image: "aws/codebuild/amazonlinux-aarch64-standard:3.0", computeType: "BUILD_GENERAL1_SMALL" },
        serviceRole: "arn:aws:iam::123456789012:role/backlog-mirror-build",
      }),
    );
    for (const [i, b] of specs.entries()) {
      const start = now - b.startedMinutesAgo * 60;
      const recorded: Record<string, unknown> = { projectName: project, buildStatus: b.status, startTime: start, endTime: start + b.seconds };
      if (b.phases !== undefined) {
        const failed = b.status !== "SUCCEEDED" && b.status !== "IN_PROGRESS";
        recorded.phases = [
          { phaseType: "QUEUED", durationInSeconds: b.phases.queued },
          { phaseType: "PROVISIONING", durationInSeconds: b.phases.provisioning },
          {
            phaseType: "BUILD",
            durationInSeconds: b.phases.build,
            phaseStatus: failed ? b.status : "SUCCEEDED",
            ...(failed && b.phaseError !== undefined ? { contexts: [b.phaseError] } : {}),
          },
        ];
      }
      if (b.log !== undefined) {
        const group = `/aws/codebuild/${project}`;
        const stream = `build-${i}`;
        if (!groups.has(group)) await logs.send(new CreateLogGroupCommand({ logGroupName: group }));
        groups.add(group);
        await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: stream }));
        const at = Math.round(start * 1000);
        await logs.send(new PutLogEventsCommand({ logGroupName: group, logStreamName: stream, logEvents: b.log.map((message, n) => ({ timestamp: at + n, message })) }));
        recorded.logs = { groupName: group, streamName: stream };
      }
      builds.push(recorded);
    }
  }
  if (builds.length > 0) {
    const res = await fetch(`${endpoint}/moto-api/static/codebuild/build-results`, {
      method: "POST",
      body: JSON.stringify({ region: REGION, builds }),
    });
    if (res.status !== 201) throw new Error(`recording builds failed: ${res.status} ${await res.text()}`);
  }
}

/** ISO time `minutes` ago. */
export const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString().replace(/\.\d{3}Z$/, "Z");
