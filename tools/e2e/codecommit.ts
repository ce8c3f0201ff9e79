/**
 * CodeCommit stand-in (CodeCommit cannot run here): one local bare repository per CodeCommit
 * repository name, served over git's smart HTTP protocol by `git http-backend` behind a small Node
 * HTTP server on a loopback port. The build reaches it through git's `url.<base>.insteadOf`, so the
 * synthesized `https://git-codecommit.REGION.amazonaws.com/v1/repos/NAME` stays unchanged. The same
 * server answers the two CodeCommit API actions the sync calls (GetRepository, UpdateDefaultBranch,
 * JSON 1.1 protocol as the AWS CLI sends it): the harness points the CLI's CodeCommit endpoint
 * (AWS_ENDPOINT_URL_CODECOMMIT) here, so the default branch the API sets is the HEAD git serves.
 * Not emulated: authentication (the stand-in asks for none, so git never calls the credential helper).
 *
 * Hooks enforce CodeCommit's documented rules that a mirror meets (AWS CodeCommit User Guide,
 * "Quotas in AWS CodeCommit", https://docs.aws.amazon.com/codecommit/latest/userguide/limits.html;
 * API Reference, DeleteBranch / UpdateDefaultBranch):
 *   - pre-receive: at most 4,000 reference updates (creates, updates and deletes) in one push; the
 *     whole push is refused otherwise;
 *   - update (per ref, the others land): only refs/heads/* and refs/tags/*; branch names neither
 *     exactly 40 hexadecimal characters nor longer than 256 characters; the default branch cannot
 *     be deleted (DefaultBranchCannotBeDeletedException);
 *   - post-receive: the first push that creates a branch sets the default branch (the first branch
 *     of that push, in the order git sends them), unless UpdateDefaultBranch changed it.
 * It records every push (and the ref updates it carried), can hold a push at a gate (to keep a
 * sync running while the test acts), and can stall a push mid-receive: the server stops reading the
 * pack after a number of bytes and answers nothing (a network path or server that stops moving).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { closeServer, listenOnLoopback } from "../loopback-server";
import { run } from "./proc";

const DOCS = "https://docs.aws.amazon.com/codecommit/latest/userguide/limits.html";

const PRE_RECEIVE = `#!/bin/bash
# CodeCommit stand-in (e2e harness): records the push, may hold it, enforces the per-push quota.
state="$GIT_DIR/e2e-state"
updates=$(cat)
n=$(printf '%s\\n' "$updates" | grep -c . || true)
echo "push $$ $n" >>"$state/pushes.log"
index=$(wc -l <"$state/pushes.log")
printf '%s\n' "$updates" | sed "/^$/d; s/^/$index /" >>"$state/updates.log"
if [ -e "$state/push-gate" ]; then
  : >"$state/push-held"
  while [ -e "$state/push-gate" ]; do sleep 0.05; done
fi
if [ "$n" -gt 4000 ]; then
  echo "CodeCommit stand-in: $n reference updates in one push; the maximum is 4,000, including create, delete, and update (${DOCS})" >&2
  exit 1
fi
`;

const UPDATE = `#!/bin/sh
# CodeCommit stand-in (e2e harness): the per-ref rules; a refused ref does not stop the others.
# (POSIX sh without forks on the common path: git runs this once per ref, 5,000 times for 5,000 tags.)
ref=$1 new=$3
case "$ref" in
  refs/heads/*)
    name=\${ref#refs/heads/}
    case "$name" in
      *[!0-9a-fA-F]*) ;;
      *) if [ \${#name} -eq 40 ]; then
           echo "CodeCommit stand-in: $ref refused: a branch name cannot be exactly 40 hexadecimal characters (${DOCS})" >&2; exit 1
         fi ;;
    esac
    if [ \${#name} -gt 256 ]; then
      echo "CodeCommit stand-in: $ref refused: a branch name is at most 256 characters (${DOCS})" >&2; exit 1
    fi
    if [ "$new" = 0000000000000000000000000000000000000000 ] && [ -e "$GIT_DIR/e2e-state/default-set" ] && [ "$(git symbolic-ref HEAD)" = "$ref" ]; then
      echo "CodeCommit stand-in: $ref refused: DefaultBranchCannotBeDeletedException, the default branch cannot be deleted (API Reference, DeleteBranch)" >&2; exit 1
    fi
    ;;
  refs/tags/*) ;;
  *) echo "CodeCommit stand-in: $ref refused (only refs/heads/* and refs/tags/* are accepted)" >&2; exit 1 ;;
esac
`;

const POST_RECEIVE = `#!/bin/bash
# CodeCommit stand-in (e2e harness): the first push that creates a branch sets the default branch.
state="$GIT_DIR/e2e-state"
[ -e "$state/default-set" ] && exit 0
while read -r _old new ref; do
  case "$ref" in
    refs/heads/*)
      if git show-ref --verify --quiet "$ref"; then
        git symbolic-ref HEAD "$ref"
        : >"$state/default-set"
        exit 0
      fi
      ;;
  esac
done
`;

export class CodeCommitStandIn {
  private server: http.Server | undefined;
  private port = 0;
  /** API calls received, in order (`Action repositoryName [branch]`). */
  readonly apiCalls: string[] = [];
  /** Kills the processes of each stalled push still open. */
  private readonly stalled = new Set<() => void>();

  constructor(readonly root: string) {
    mkdirSync(root, { recursive: true });
  }

  async start(): Promise<void> {
    ({ server: this.server, port: this.port } = await listenOnLoopback((req, res) => this.handle(req, res)));
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const kill of [...this.stalled]) kill();
    if (server !== undefined) await closeServer(server);
  }

  /** Base URL of the stand-in (git and API). */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The url.<base>.insteadOf section that sends the CodeCommit HTTPS URLs of `region` here. */
  gitConfig(region: string): string {
    return `[url "${this.endpoint}/v1/repos/"]\n\tinsteadOf = https://git-codecommit.${region}.amazonaws.com/v1/repos/\n`;
  }

  repoPath(name: string): string {
    return path.join(this.root, name);
  }

  create(name: string): void {
    const dir = this.repoPath(name);
    run("git", ["init", "--quiet", "--bare", dir]);
    run("git", ["--git-dir", dir, "config", "http.receivepack", "true"]);
    mkdirSync(path.join(dir, "e2e-state"), { recursive: true });
    writeFileSync(path.join(dir, "hooks", "pre-receive"), PRE_RECEIVE, { mode: 0o755 });
    writeFileSync(path.join(dir, "hooks", "update"), UPDATE, { mode: 0o755 });
    writeFileSync(path.join(dir, "hooks", "post-receive"), POST_RECEIVE, { mode: 0o755 });
  }

  /** Every ref of the repository: `refname → object id`. */
  refs(name: string): Map<string, string> {
    return forEachRef(this.repoPath(name));
  }

  /** The default branch ("" before the first push created one). */
  defaultBranch(name: string): string {
    if (!existsSync(path.join(this.repoPath(name), "e2e-state", "default-set"))) return "";
    return run("git", ["--git-dir", this.repoPath(name), "symbolic-ref", "--short", "HEAD"]).stdout.trim();
  }

  /** How many pushes reached the repository (accepted or not). */
  pushCount(name: string): number {
    return this.pushSizes(name).length;
  }

  /** Reference updates carried by each push, in order. */
  pushSizes(name: string): number[] {
    const log = path.join(this.repoPath(name), "e2e-state", "pushes.log");
    if (!existsSync(log)) return [];
    return readFileSync(log, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => Number(l.split(" ")[2]));
  }

  /** The reference updates of every push, in order: push number (from 1), old and new object ids, ref. */
  pushedUpdates(name: string): Array<{ push: number; old: string; new: string; ref: string }> {
    const log = path.join(this.repoPath(name), "e2e-state", "updates.log");
    if (!existsSync(log)) return [];
    return readFileSync(log, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => {
        const [push, old, next, ref] = l.split(" ");
        return { push: Number(push), old, new: next, ref };
      });
  }

  holdPushes(name: string): void {
    const state = path.join(this.repoPath(name), "e2e-state");
    rmSync(path.join(state, "push-held"), { force: true });
    writeFileSync(path.join(state, "push-gate"), "");
  }

  /** The next pushes to `name` stall once `afterBytes` bytes of their request body have been read. */
  stallPushes(name: string, afterBytes: number): void {
    writeFileSync(path.join(this.repoPath(name), "e2e-state", "push-stall"), String(afterBytes));
    rmSync(path.join(this.repoPath(name), "e2e-state", "push-stalled"), { force: true });
  }

  /** Whether a push to `name` is stalled right now (mid-receive, nothing read any more). */
  isPushStalled(name: string): boolean {
    return existsSync(path.join(this.repoPath(name), "e2e-state", "push-stalled"));
  }

  /** Later pushes are received normally again. */
  releasePushStall(name: string): void {
    rmSync(path.join(this.repoPath(name), "e2e-state", "push-stall"), { force: true });
    rmSync(path.join(this.repoPath(name), "e2e-state", "push-stalled"), { force: true });
  }

  isPushHeld(name: string): boolean {
    return existsSync(path.join(this.repoPath(name), "e2e-state", "push-held"));
  }

  releasePushes(name: string): void {
    const state = path.join(this.repoPath(name), "e2e-state");
    rmSync(path.join(state, "push-gate"), { force: true });
    rmSync(path.join(state, "push-held"), { force: true });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", this.endpoint);
    const git = /^\/v1\/repos\/([^/]+)(\/.*)$/.exec(url.pathname);
    if (git !== null) {
      this.gitHttpBackend(req, res, git[1], git[2], url.search.slice(1));
      return;
    }
    const target = String(req.headers["x-amz-target"] ?? "");
    if (req.method === "POST" && target.startsWith("CodeCommit_20150413.")) {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString()));
      req.on("end", () => this.api(target.slice("CodeCommit_20150413.".length), body, res));
      return;
    }
    res.writeHead(404).end();
  }

  /** CodeCommit API actions the sync uses, on the repositories of the stand-in. */
  private api(action: string, body: string, res: http.ServerResponse): void {
    const input = JSON.parse(body || "{}") as { repositoryName?: string; defaultBranchName?: string };
    const name = input.repositoryName ?? "";
    const reply = (status: number, payload: unknown): void => {
      res.writeHead(status, { "content-type": "application/x-amz-json-1.1" }).end(JSON.stringify(payload));
    };
    const error = (type: string, message: string): void => reply(400, { __type: type, message });
    this.apiCalls.push(`${action} ${name}${input.defaultBranchName !== undefined ? ` ${input.defaultBranchName}` : ""}`);
    if (!existsSync(path.join(this.repoPath(name), "e2e-state"))) return error("RepositoryDoesNotExistException", `${name} does not exist`);
    if (action === "GetRepository") {
      const defaultBranch = this.defaultBranch(name);
      return reply(200, {
        repositoryMetadata: {
          repositoryName: name,
          accountId: "123456789012",
          ...(defaultBranch !== "" ? { defaultBranch } : {}),
          cloneUrlHttp: `https://git-codecommit.example/v1/repos/${name}`,
        },
      });
    }
    if (action === "UpdateDefaultBranch") {
      const branch = input.defaultBranchName ?? "";
      const exists = run("git", ["--git-dir", this.repoPath(name), "show-ref", "--verify", "--quiet", `refs/heads/${branch}`], { allowFail: true }).code === 0;
      if (!exists) return error("BranchDoesNotExistException", `branch ${branch} does not exist in ${name}`);
      run("git", ["--git-dir", this.repoPath(name), "symbolic-ref", "HEAD", `refs/heads/${branch}`]);
      writeFileSync(path.join(this.repoPath(name), "e2e-state", "default-set"), "");
      return reply(200, {});
    }
    error("InvalidParameterException", `the stand-in does not emulate ${action}`);
  }

  /** `git http-backend` as a CGI program for one request. */
  private gitHttpBackend(req: http.IncomingMessage, res: http.ServerResponse, repo: string, rest: string, query: string): void {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: this.root,
      GIT_HTTP_EXPORT_ALL: "1",
      PATH_INFO: `/${repo}${rest}`,
      QUERY_STRING: query,
      REQUEST_METHOD: req.method ?? "GET",
      CONTENT_TYPE: String(req.headers["content-type"] ?? ""),
      REMOTE_USER: "e2e",
      REMOTE_ADDR: "127.0.0.1",
      GIT_CONFIG_NOSYSTEM: "1",
      HOME: this.root,
    };
    if (req.headers["content-length"] !== undefined) env.CONTENT_LENGTH = String(req.headers["content-length"]);
    if (req.headers["content-encoding"] !== undefined) env.HTTP_CONTENT_ENCODING = String(req.headers["content-encoding"]);
    if (req.headers["git-protocol"] !== undefined) env.GIT_PROTOCOL = String(req.headers["git-protocol"]);
    const state = path.join(this.root, repo, "e2e-state");
    const stallFile = path.join(state, "push-stall");
    const stall = req.method === "POST" && rest === "/git-receive-pack" && existsSync(stallFile);
    // A stalled request's processes get their own group: `git http-backend` runs git-http-backend
    // and git-receive-pack as children, which must all end with the request.
    const child = spawn("git", ["http-backend"], { env, stdio: ["pipe", "pipe", "pipe"], detached: stall });
    child.stdin.on("error", () => undefined);
    if (stall) {
      // Stall mid-receive: forward the first bytes of the pack, then read nothing more and answer
      // nothing, until the client gives up (its connection closes and the receive-pack is killed).
      const limit = Number(readFileSync(stallFile, "utf8"));
      let sent = 0;
      req.on("data", (d: Buffer) => {
        if (sent >= limit) return;
        const part = d.subarray(0, limit - sent);
        sent += part.length;
        child.stdin.write(part);
        if (sent >= limit) {
          writeFileSync(path.join(state, "push-stalled"), "");
          req.pause();
        }
      });
      req.on("end", () => child.stdin.end());
      const killGroup = (): void => {
        this.stalled.delete(killGroup);
        try {
          if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      };
      this.stalled.add(killGroup);
      res.on("close", killGroup);
    } else {
      req.pipe(child.stdin);
    }
    let head = Buffer.alloc(0);
    let headersDone = false;
    child.stdout.on("data", (d: Buffer) => {
      if (headersDone) {
        res.write(d);
        return;
      }
      head = Buffer.concat([head, d]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      headersDone = true;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString().split("\r\n")) {
        const i = line.indexOf(":");
        const key = line.slice(0, i).trim();
        const value = line.slice(i + 1).trim();
        if (key.toLowerCase() === "status") status = Number(value.split(" ")[0]);
        else headers[key] = value;
      }
      res.writeHead(status, headers);
      res.write(head.subarray(end + 4));
    });
    child.stderr.on("data", () => undefined);
    child.on("close", () => {
      if (!headersDone) res.writeHead(500);
      res.end();
    });
  }
}

/** `refname → object id` of a repository, optionally limited to ref prefixes. */
export function forEachRef(gitDir: string, ...prefixes: string[]): Map<string, string> {
  const out = run("git", ["--git-dir", gitDir, "for-each-ref", "--format=%(objectname) %(refname)", ...prefixes]).stdout;
  return new Map(
    out
      .split("\n")
      .filter(Boolean)
      .map((l) => {
        const [id, ref] = l.split(" ");
        return [ref, id] as [string, string];
      }),
  );
}
