/**
 * A local stand-in of the Backlog API v2, for the operations commands' tests (a test double: the
 * real Backlog cannot be reached here). It keeps to Nulab's documentation:
 *
 * - `GET /api/v2/space` ("Get Space") and `GET /api/v2/projects/:projectIdOrKey/git/repositories`
 *   ("Get List of Git Repositories"), with the documented response fields
 *   (developer.nulab.com/docs/backlog/api/2/get-space, .../get-list-of-git-repositories).
 * - The API key as the `apiKey` query parameter (developer.nulab.com/docs/backlog/auth) or the
 *   `Backlog-API-Key` header (what backlog-js 0.20.1 sends, src/request.ts).
 * - Errors as `{"errors":[{"message","code","moreInfo"}]}` with Backlog's codes
 *   (developer.nulab.com/docs/backlog/error-response): 401 code 11 AuthenticationError, 403 code 5
 *   UnauthorizedOperationError, 404 code 6 NoResourceError ("No project."), 429 code 13
 *   TooManyRequestsError.
 * - Rate limit (developer.nulab.com/docs/backlog/rate-limit): every answer carries
 *   `X-RateLimit-Limit` (requests per minute), `X-RateLimit-Remaining` and `X-RateLimit-Reset`
 *   (UTC epoch seconds of the window's end); a request over the limit gets 429.
 *
 * What the documentation leaves open and the stand-in assumes: a project the key's user may not
 * read answers 403 (UnauthorizedOperationError), an unknown project 404.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { BacklogDomain } from "../../lib/props";
import { closeServer, listenOnLoopback } from "../../tools/loopback-server";

export interface StandInRepository {
  name: string;
  hookUrl?: string | null;
  pushedAt?: string | null;
  description?: string;
}

export interface StandInProject {
  /** The key's user is not a member: 403. */
  forbidden?: boolean;
  repositories: StandInRepository[];
}

export interface BacklogStandInOptions {
  spaceKey: string;
  domain: BacklogDomain;
  apiKey: string;
  projects: Record<string, StandInProject>;
  /** Requests per one-minute window. @default 600 */
  rateLimit?: number;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** How the key came: query parameter, header, or not at all. */
  readonly keyIn: "query" | "header" | "none";
}

const USER = {
  id: 1,
  userId: "admin",
  name: "admin",
  roleType: 1,
  lang: "en",
  nulabAccount: { nulabId: "Prm9ZD9DQD5snNWcSYSwZiQoA9WFBUEa2ySznrSnSQRhdC2X8G", name: "admin", uniqueId: "admin" },
  mailAddress: "admin@example.com",
  lastLoginTime: "2026-01-01T00:00:00Z",
};

export class BacklogStandIn {
  readonly requests: RecordedRequest[] = [];
  private server: Server | undefined;
  private windowStart = 0;
  private used = 0;
  /** Answers queued for the next requests (fault injection), consumed first. */
  private readonly queued: { status: number; code: number; message: string; resetInSeconds?: number }[] = [];
  url = "";

  constructor(readonly options: BacklogStandInOptions) {}

  async start(): Promise<string> {
    const { server, port } = await listenOnLoopback((req, res) => this.handle(req, res));
    this.server = server;
    this.url = `http://127.0.0.1:${port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    if (this.server === undefined) return;
    await closeServer(this.server);
    this.server = undefined;
  }

  /** The next `count` requests get 429 with a window that resets in `resetInSeconds`. */
  rateLimitNext(count: number, resetInSeconds: number): void {
    for (let i = 0; i < count; i++) this.queued.push({ status: 429, code: 13, message: "Rate limit exceeded.", resetInSeconds });
  }

  /** Changes one repository (a push, a webhook set in Backlog's settings). */
  update(projectKey: string, name: string, change: Partial<StandInRepository>): void {
    const repo = this.options.projects[projectKey]?.repositories.find((r) => r.name === name);
    if (repo === undefined) throw new Error(`stand-in has no ${projectKey}/${name}`);
    Object.assign(repo, change);
  }

  private send(res: ServerResponse, status: number, body: unknown, resetInSeconds?: number): void {
    const now = Math.floor(Date.now() / 1000);
    const limit = this.options.rateLimit ?? 600;
    res.writeHead(status, {
      "Content-Type": "application/json;charset=utf-8",
      "X-RateLimit-Limit": String(limit),
      "X-RateLimit-Remaining": String(status === 429 ? 0 : Math.max(0, limit - this.used)),
      "X-RateLimit-Reset": String(resetInSeconds !== undefined ? now + resetInSeconds : this.windowStart + 60),
    });
    res.end(JSON.stringify(body));
  }

  private error(res: ServerResponse, status: number, code: number, message: string, resetInSeconds?: number): void {
    this.send(res, status, { errors: [{ message, code, moreInfo: "" }] }, resetInSeconds);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://stand-in");
    const queryKey = url.searchParams.get("apiKey");
    const headerKey = req.headers["backlog-api-key"];
    const key = queryKey ?? (typeof headerKey === "string" ? headerKey : undefined);
    const record = (status: number) =>
      this.requests.push({ method: req.method ?? "", path: url.pathname, status, keyIn: queryKey !== null ? "query" : key !== undefined ? "header" : "none" });

    const now = Math.floor(Date.now() / 1000);
    if (now >= this.windowStart + 60) {
      this.windowStart = now;
      this.used = 0;
    }
    this.used++;
    const fault = this.queued.shift();
    if (fault !== undefined) {
      record(fault.status);
      return this.error(res, fault.status, fault.code, fault.message, fault.resetInSeconds);
    }
    if (this.used > (this.options.rateLimit ?? 600)) {
      record(429);
      return this.error(res, 429, 13, "Rate limit exceeded.");
    }
    if (key !== this.options.apiKey) {
      record(401);
      return this.error(res, 401, 11, "Authentication failure.");
    }
    if (req.method !== "GET") {
      record(405);
      return this.error(res, 405, 7, "Method not allowed.");
    }
    if (url.pathname === "/api/v2/space") {
      record(200);
      return this.send(res, 200, {
        spaceKey: this.options.spaceKey,
        name: `${this.options.spaceKey} Inc.`,
        ownerId: 1,
        lang: "en",
        timezone: "Asia/Tokyo",
        reportSendTime: "08:00:00",
        textFormattingRule: "markdown",
        created: "2008-07-06T15:00:00Z",
        updated: "2013-06-18T07:55:37Z",
      });
    }
    const m = /^\/api\/v2\/projects\/([^/]+)\/git\/repositories$/.exec(url.pathname);
    if (m !== null) {
      const keys = Object.keys(this.options.projects);
      const wanted = decodeURIComponent(m[1]);
      const index = /^\d+$/.test(wanted) ? Number(wanted) - 100 : keys.indexOf(wanted);
      const projectKey = keys[index];
      const project = projectKey !== undefined ? this.options.projects[projectKey] : undefined;
      if (project === undefined || projectKey === undefined) {
        record(404);
        return this.error(res, 404, 6, "No project.");
      }
      if (project.forbidden === true) {
        record(403);
        return this.error(res, 403, 5, "You do not have permission to access this project.");
      }
      record(200);
      const host = `${this.options.spaceKey}.${this.options.domain}`;
      return this.send(
        res,
        200,
        project.repositories.map((r, i) => ({
          id: (index + 1) * 1000 + i,
          projectId: index + 100,
          name: r.name,
          description: r.description ?? "",
          hookUrl: r.hookUrl ?? null,
          httpUrl: `https://${host}/git/${projectKey}/${r.name}.git`,
          sshUrl: `${this.options.spaceKey}@${this.options.spaceKey}.git.${this.options.domain}:/${projectKey}/${r.name}.git`,
          displayOrder: i,
          pushedAt: r.pushedAt ?? null,
          createdUser: USER,
          created: "2024-05-30T09:11:36Z",
          updatedUser: USER,
          updated: "2024-05-30T09:11:36Z",
        })),
      );
    }
    record(404);
    return this.error(res, 404, 6, "No resource.");
  }
}
