/**
 * Backlog API v2, read through Nulab's client `backlog-js`: the space (`GET /api/v2/space`) and a
 * project's Git repositories (`GET /api/v2/projects/:projectIdOrKey/git/repositories`).
 *
 * - The API key comes from `BACKLOG_API_KEY` only. backlog-js 0.20.1 sends it in the
 *   `Backlog-API-Key` request header, never in the URL, so it cannot appear in a URL we print.
 * - The host is `SPACE.DOMAIN` from the configuration (backlog-js always speaks HTTPS to it).
 *   `BACKLOG_API_BASE_URL` replaces `https://SPACE.DOMAIN` (the test stand-in); plain `http:` is
 *   accepted only for a loopback address, so the key never crosses a network unencrypted.
 * - Rate limit (developer.nulab.com/docs/backlog/rate-limit): a 429 answer carries
 *   `X-RateLimit-Reset`, "the time at which the current rate limit window resets in UTC epoch
 *   seconds"; Backlog asks to wait for it (one minute when in doubt). We wait until the reset,
 *   at most `maxRateLimitWaitSeconds` per wait and `maxRateLimitRetries` times, then give up with
 *   one line. Backlog also asks not to send requests concurrently: callers go one at a time.
 * - Errors (developer.nulab.com/docs/backlog/error-response): the body is
 *   `{"errors":[{"message","code","moreInfo"}]}`; each failure becomes one {@link BacklogCallError}
 *   with one line that says what to check.
 */
import { Backlog, Error as BacklogErrors } from "backlog-js";

/** The environment variable holding the API key. */
export const API_KEY_ENV = "BACKLOG_API_KEY";
/** The environment variable that replaces `https://SPACE.DOMAIN` (e.g. a local stand-in). */
export const BASE_URL_ENV = "BACKLOG_API_BASE_URL";

/** What we read of a Backlog Git repository ("Get List of Git Repositories"). */
export interface BacklogRepository {
  readonly name: string;
  readonly sshUrl: string;
  /** The webhook URL set in Backlog, or null. */
  readonly hookUrl: string | null;
  /** The last push (ISO 8601, UTC), or null when never pushed. */
  readonly pushedAt: string | null;
}

export type BacklogErrorKind = "auth" | "forbidden" | "not-found" | "rate-limited" | "network" | "other";

/** A failed call, with one line for the user. */
export class BacklogCallError extends Error {
  constructor(
    readonly kind: BacklogErrorKind,
    message: string,
  ) {
    super(message);
    this.name = "BacklogCallError";
  }
}

export interface BacklogClientOptions {
  readonly spaceKey: string;
  readonly domain: string;
  readonly apiKey: string;
  /** Replaces `https://SPACE.DOMAIN`. @default - Backlog itself */
  readonly baseUrl?: string;
  /** Longest wait for a rate-limit reset. @default 60 */
  readonly maxRateLimitWaitSeconds?: number;
  /** Retries after 429 answers, per call. @default 3 */
  readonly maxRateLimitRetries?: number;
  /** Time limit of one request. @default 30000 */
  readonly timeoutMs?: number;
  /** Where notices go (waiting for a rate-limit reset). */
  readonly notice: (line: string) => void;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface BacklogApi {
  /** `SPACE.DOMAIN` or the base URL in use, for messages. */
  readonly where: string;
  /** Checks the key and that the space is the configured one. */
  checkSpace(): Promise<void>;
  listRepositories(projectKey: string): Promise<BacklogRepository[]>;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/;

/** Validates `BACKLOG_API_BASE_URL`; returns it without a trailing slash. */
export function checkBaseUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new BacklogCallError("other", `${BASE_URL_ENV} must be a URL such as https://example.backlog.com, got: ${JSON.stringify(value)}`);
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && LOOPBACK.test(url.hostname))) {
    throw new BacklogCallError("other", `${BASE_URL_ENV} must be https (plain http only on a loopback address, so the API key never travels unencrypted), got: ${url.origin}`);
  }
  if (url.search !== "" || url.username !== "" || url.password !== "") {
    throw new BacklogCallError("other", `${BASE_URL_ENV} must not carry a query or credentials`);
  }
  return url.href.replace(/\/+$/, "");
}

function backlogMessage(e: InstanceType<typeof BacklogErrors.BacklogError>): string {
  const first = e.body?.errors?.[0];
  return first !== undefined ? `"${first.message}", Backlog error code ${first.code}` : "no error body";
}

function networkReason(e: unknown): string | undefined {
  if (!(e instanceof Error)) return undefined;
  if (e.name === "TimeoutError" || e.name === "AbortError") return "no answer in time";
  if (e instanceof TypeError && e.message === "fetch failed") {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ?? cause?.message ?? "connection failed";
  }
  return undefined;
}

export function createBacklogClient(options: BacklogClientOptions): BacklogApi {
  const host = `${options.spaceKey}.${options.domain}`;
  const origin = `https://${host}`;
  const base = options.baseUrl !== undefined ? checkBaseUrl(options.baseUrl) : undefined;
  const where = base ?? origin;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxWait = options.maxRateLimitWaitSeconds ?? 60;
  const maxRetries = options.maxRateLimitRetries ?? 3;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));

  const client = new Backlog({
    host,
    apiKey: options.apiKey,
    userAgent: "backlog-codecommit-mirror-ops",
    fetch: ((input: string, init?: RequestInit) => {
      const url = base !== undefined && input.startsWith(origin) ? base + input.slice(origin.length) : input;
      return fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    }) as typeof fetch,
  });

  async function call<T>(what: string, subject: string, run: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await run();
      } catch (e) {
        if (e instanceof BacklogErrors.BacklogAuthError) {
          throw new BacklogCallError("auth", `Backlog refused the API key (401, ${backlogMessage(e)}): check that ${API_KEY_ENV} is a key of a user of ${host}`);
        }
        if (e instanceof BacklogErrors.BacklogError && e.status === 429) {
          const reset = Number(e.response.headers.get("X-RateLimit-Reset"));
          const waitS = Number.isFinite(reset) && reset > 0 ? Math.max(1, Math.ceil(reset - Date.now() / 1000)) : 60;
          const resetAt = Number.isFinite(reset) && reset > 0 ? new Date(reset * 1000).toISOString() : "in about a minute";
          if (waitS > maxWait || attempt >= maxRetries) {
            throw new BacklogCallError(
              "rate-limited",
              `Backlog rate limit reached (429) ${what} ${subject}; the limit resets at ${resetAt}` +
                (waitS > maxWait ? `, later than this command waits (${maxWait} s)` : ` and ${attempt} waits did not help`) +
                ": run again after the reset",
            );
          }
          options.notice(`Backlog rate limit reached ${what} ${subject}; waiting ${waitS} s until it resets at ${resetAt} (retry ${attempt + 1} of ${maxRetries})`);
          await sleep(waitS * 1000);
          continue;
        }
        if (e instanceof BacklogErrors.BacklogError && (e.status === 403 || e.status === 404)) {
          throw new BacklogCallError(
            e.status === 403 ? "forbidden" : "not-found",
            `Backlog answered ${e.status} ${what} ${subject} (${backlogMessage(e)}): ` +
              (subject === "the space" ? `check that ${API_KEY_ENV} is a key of a user of ${host}` : "check the project key and that the key's user is a member of the project with access to Git"),
          );
        }
        if (e instanceof BacklogErrors.BacklogError) {
          throw new BacklogCallError("other", `Backlog answered HTTP ${e.status} ${what} ${subject} (${backlogMessage(e)})`);
        }
        const reason = networkReason(e);
        if (reason !== undefined) {
          throw new BacklogCallError("network", `cannot reach Backlog at ${where} ${what} ${subject} (${reason}): check the network${base !== undefined ? ` and ${BASE_URL_ENV}` : ""}`);
        }
        throw e;
      }
    }
  }

  return {
    where,
    async checkSpace() {
      const space = await call("reading", "the space", () => client.getSpace());
      if (space.spaceKey.toLowerCase() !== options.spaceKey.toLowerCase()) {
        throw new BacklogCallError("other", `the API key belongs to space "${space.spaceKey}", but the configuration names "${options.spaceKey}"`);
      }
    },
    async listRepositories(projectKey) {
      const repos = await call("listing the Git repositories of project", projectKey, () => client.getGitRepositories(projectKey));
      return repos.map((r) => ({ name: r.name, sshUrl: r.sshUrl, hookUrl: r.hookUrl ?? null, pushedAt: r.pushedAt ?? null }));
    },
  };
}
