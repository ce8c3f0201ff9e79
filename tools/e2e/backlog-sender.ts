/**
 * Backlog webhook sender stand-in (Backlog's delivery service cannot run here). It delivers a Git
 * push webhook the way Backlog does (platform-facts.md): a form POST whose single field `payload`
 * holds the URL-encoded JSON of the push, from one of Backlog's published sender addresses, to the
 * repository's webhook URL — here through the API Gateway stand-in.
 *
 * Retries: Backlog retries a delivery "a few times" when the receiver answers HTTP 5xx. The count and
 * the back-off are NOT documented, so the defaults below are ASSUMPTIONS, chosen small so the suite
 * stays fast: up to {@link ASSUMED_RETRIES} retries after the first attempt, waiting
 * {@link ASSUMED_FIRST_BACKOFF_MS} ms and doubling before each. Real Backlog probably waits far
 * longer; nothing in the product depends on the timing, only on "a 5xx is delivered again".
 * A 2xx answer ends the delivery; so does a 4xx (Backlog does not retry a client error, which is why
 * the product maps a refused StartBuild to 5xx). A connection failure is not modelled (the stand-in
 * API always answers); it is thrown.
 */
import { type ApiGatewayStandIn, type ApiResponse, BACKLOG_SENDER_IP, backlogPushBody } from "./apigw";
import { sleep } from "./proc";

/** ASSUMPTION (undocumented by Backlog): retries after the first attempt when the answer is 5xx. */
export const ASSUMED_RETRIES = 3;
/** ASSUMPTION (undocumented by Backlog): wait before the first retry; doubled before each later one. */
export const ASSUMED_FIRST_BACKOFF_MS = 200;

const WEBHOOK_CONTENT_TYPE = "application/x-www-form-urlencoded";

/** What Backlog knows about a push when it sends the webhook. */
export interface Push {
  readonly projectKey: string;
  readonly repository: string;
  /** e.g. refs/heads/main, refs/tags/v1 */
  readonly ref: string;
  readonly before: string;
  readonly after: string;
}

export interface DeliveryAttempt {
  /** 1 for the first delivery, 2 for the first retry, ... */
  readonly attempt: number;
  readonly response: ApiResponse;
  /** ms since the delivery began */
  readonly atMs: number;
}

export interface Delivery {
  readonly push: Push;
  readonly attempts: DeliveryAttempt[];
  /** The answer Backlog ended with (the last attempt's). */
  readonly final: ApiResponse;
  /** true when the last answer was 2xx */
  readonly delivered: boolean;
}

export interface SenderOptions {
  readonly space: string;
  readonly retries?: number;
  readonly firstBackoffMs?: number;
  /** The caller address the API's resource policy sees; default: a published Backlog sender. */
  readonly sourceIp?: string;
}

export interface DeliverOptions {
  /**
   * Awaited after every answer, before the back-off: lets a test change the world between two
   * attempts at a known moment (e.g. bring a deleted CodeBuild project back), instead of racing
   * the back-off timer.
   */
  readonly onAnswer?: (attempt: DeliveryAttempt) => void | Promise<void>;
}

export const ZERO_ID = "0".repeat(40);

export class BacklogSender {
  readonly deliveries: Delivery[] = [];
  private readonly retries: number;
  private readonly firstBackoffMs: number;

  constructor(
    private readonly api: ApiGatewayStandIn,
    private readonly opts: SenderOptions,
  ) {
    this.retries = opts.retries ?? ASSUMED_RETRIES;
    this.firstBackoffMs = opts.firstBackoffMs ?? ASSUMED_FIRST_BACKOFF_MS;
  }

  /** The webhook body Backlog sends for `push`. */
  body(push: Push): string {
    return backlogPushBody({ space: this.opts.space, ...push });
  }

  /** Delivers `push` to its repository's webhook, retrying on 5xx as Backlog does (see the header). */
  async deliver(push: Push, options: DeliverOptions = {}): Promise<Delivery> {
    const started = Date.now();
    const body = this.body(push);
    const attempts: DeliveryAttempt[] = [];
    for (let attempt = 1; ; attempt++) {
      const response = await this.api.post(`/${push.projectKey}/${push.repository}`, body, WEBHOOK_CONTENT_TYPE, this.opts.sourceIp ?? BACKLOG_SENDER_IP);
      const record = { attempt, response, atMs: Date.now() - started };
      attempts.push(record);
      await options.onAnswer?.(record);
      const retryable = response.status >= 500 && response.status <= 599;
      if (!retryable || attempt > this.retries) break;
      await sleep(this.firstBackoffMs * 2 ** (attempt - 1));
    }
    const final = attempts[attempts.length - 1].response;
    const delivery = { push, attempts, final, delivered: final.status >= 200 && final.status <= 299 };
    this.deliveries.push(delivery);
    return delivery;
  }
}
