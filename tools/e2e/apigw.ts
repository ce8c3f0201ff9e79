/**
 * API Gateway stand-in (API Gateway itself cannot run here). A loopback HTTP server that serves
 * `POST /STAGE/PROJECT/REPO` by applying exactly what the synthesized cdk.tf.json says:
 *   - the request path is matched against the API's resource paths, `{name}` segments matching one
 *     non-empty segment (a path parameter), literal segments exactly; the method must exist (other
 *     paths/methods: API Gateway's 403 "Missing Authentication Token", or the synthesized gateway
 *     response of that type);
 *   - the request template is chosen by the request's media type and rendered with a real VTL engine
 *     (velocityjs) with `$input` (`$input.params()` holds the path, query string and header
 *     parameters; `$input.params(x)` searches them in that order), `$util` and `$context`
 *     (`$context.path` is `/STAGE/…` of the request, `$context.resourcePath` the resource's
 *     template); with `passthrough_behavior` NEVER (or
 *     WHEN_NO_TEMPLATES with templates) another content type is answered 415;
 *   - `request_parameters` become the integration request's headers ('literal' or method.request.*);
 *   - an `AWS` integration with URI `arn:PARTITION:apigateway:REGION:SERVICE:action/ACTION` is a POST
 *     to that service's endpoint (here: the emulator), signed with SigV4 like API Gateway's call;
 *   - integration responses are selected with `selection_pattern` against the backend status code
 *     (the one without a pattern is the default; no match and no default → 500), then
 *     `response_templates` (VTL) or passthrough; a response template's
 *     `$context.responseOverride.status` replaces the status (API Gateway applies overrides after
 *     the whole template is rendered); a request template's `$context.requestOverride` is not
 *     emulated and fails the request.
 *   - the REST API resource policy is evaluated for the caller address (source-IP allowlists only;
 *     the address is simulated, see `post`); a denied call gets the ACCESS_DENIED answer.
 * Not emulated (and so not tested here): the integration role (the emulator's credentials are used),
 * WAF, throttling, API keys and authorizers (a route that needs one is refused).
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";
import { render } from "velocityjs";
import { closeServer, listenOnLoopback } from "../loopback-server";
import { terraformLiteral } from "../terraform/template";
import type { ApiRoute, Stack } from "./stack";

export interface AwsTarget {
  /** Where every AWS service of the emulator answers, e.g. http://127.0.0.1:PORT */
  readonly endpoint: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** One request as the backend (the emulated AWS service) saw it, for the tests. */
export interface IntegrationCall {
  readonly route: string;
  readonly service: string;
  readonly action: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly status: number;
  readonly responseBody: string;
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** A published Backlog webhook sender (platform-facts.md): the default caller address. */
export const BACKLOG_SENDER_IP = "54.248.107.22";
/** Stand-in only: the caller address the resource policy evaluates. */
const SOURCE_IP_HEADER = "x-e2e-source-ip";
/** Stand-in only: the request came through a custom domain name whose base-path mapping is this ("" = root). */
const BASE_PATH_HEADER = "x-e2e-custom-domain-base-path";

function ipv4(ip: string): number {
  const parts = ip.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`not an IPv4 address: ${ip}`);
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bits = "32"] = cidr.split("/");
  const n = Number(bits);
  const mask = n === 0 ? 0 : (~0 << (32 - n)) >>> 0;
  return ((ipv4(ip) & mask) >>> 0) === ((ipv4(base) & mask) >>> 0);
}

const urlDecode = (s: string): string => decodeURIComponent(String(s).replace(/\+/g, " "));

/** Minimal JSONPath for `$input.path`/`$input.json`: `$`, `$.a.b`, `$['a']`. */
function jsonPath(doc: unknown, expr: string): unknown {
  if (expr === "$") return doc;
  const parts = expr.replace(/^\$\.?/, "").match(/[^.[\]'"]+/g) ?? [];
  let cur: any = doc;
  for (const p of parts) cur = cur?.[p];
  return cur;
}

interface VtlRequest {
  headers: Record<string, string>;
  pathParams: Record<string, string>;
  query: Record<string, string>;
  /** `/STAGE/…` as requested. */
  path: string;
  /** The matched resource's path template, e.g. `/{project}/{repo}`. */
  resourcePath: string;
  stage: string;
  requestId: string;
}

function vtlContext(body: string, request: VtlRequest) {
  const parsed = (): unknown => {
    try {
      return JSON.parse(body);
    } catch {
      return undefined;
    }
  };
  return {
    input: {
      body,
      path: (p: string) => jsonPath(parsed(), p),
      json: (p: string) => JSON.stringify(jsonPath(parsed(), p) ?? null),
      params: (name?: string) =>
        name === undefined
          ? { path: request.pathParams, querystring: request.query, header: request.headers }
          : (request.pathParams[name] ?? request.query[name] ?? request.headers[name.toLowerCase()] ?? ""),
    },
    util: {
      urlDecode,
      urlEncode: (s: string) => encodeURIComponent(String(s)),
      parseJson: (s: string) => JSON.parse(String(s)),
      escapeJavaScript: (s: unknown) => (s === undefined || s === null ? "" : JSON.stringify(String(s)).slice(1, -1).replace(/'/g, "\\'")),
      base64Encode: (s: string) => Buffer.from(String(s)).toString("base64"),
      base64Decode: (s: string) => Buffer.from(String(s), "base64").toString(),
    },
    context: {
      requestId: request.requestId,
      httpMethod: "POST",
      path: request.path,
      resourcePath: request.resourcePath,
      stage: request.stage,
      requestOverride: {} as Record<string, unknown>,
      responseOverride: {} as Record<string, unknown>,
    },
  };
}

function mediaType(contentType: string | undefined): string {
  return (contentType ?? "").split(";")[0].trim().toLowerCase();
}

export class ApiGatewayStandIn {
  readonly calls: IntegrationCall[] = [];
  private server: Server | undefined;
  private baseUrl = "";
  private readonly routes: ApiRoute[];
  private readonly stage: string;
  private readonly gatewayResponses: Map<string, Record<string, any>>;
  private readonly policy: Record<string, any> | undefined;

  constructor(
    stack: Stack,
    private readonly aws: AwsTarget,
  ) {
    this.stage = stack.stageName();
    this.routes = stack.apiRoutes();
    this.gatewayResponses = new Map(stack.resources("aws_api_gateway_gateway_response").map(([, r]) => [r.response_type as string, r]));
    const policies = stack.resources("aws_api_gateway_rest_api_policy");
    if (policies.length > 1) throw new Error("more than one REST API policy");
    // The policy's Resource holds references (`${data.aws_partition…}`, the API id): only the ARN's
    // shape is checked (allowedBy), so the references are read as opaque text here.
    this.policy = policies.length === 1 ? JSON.parse(policies[0][1].policy as string) : undefined;
  }

  /**
   * The resource policy's verdict for a caller address: an explicit Deny wins, then an Allow is
   * needed. Only what a source-IP allowlist uses is emulated (Principal "*", execute-api:Invoke on
   * execute-api:/*, IpAddress/NotIpAddress on aws:SourceIp with IPv4 CIDRs); anything else throws.
   */
  private allowedBy(sourceIp: string): boolean {
    if (this.policy === undefined) return true;
    let allowed = false;
    for (const st of this.policy.Statement as Array<Record<string, any>>) {
      // The resource: the API's expanded ARN `arn:P:execute-api:R:A:API_ID/*` as synthesized (account,
      // region and API id are references until deployed), or the short form `execute-api:/*`.
      const everyMethod = st.Resource === "execute-api:/*" || /^arn:[^:]+:execute-api:[^:]+:[^:]+:[^/]+\/\*$/.test(String(st.Resource));
      if (st.Principal !== "*" || st.Action !== "execute-api:Invoke" || !everyMethod) {
        throw new Error(`policy statement not emulated: ${JSON.stringify(st)}`);
      }
      let applies = true;
      for (const [op, cond] of Object.entries((st.Condition ?? {}) as Record<string, Record<string, string[] | string>>)) {
        const keys = Object.keys(cond);
        if (keys.length !== 1 || keys[0] !== "aws:SourceIp" || !["IpAddress", "NotIpAddress"].includes(op)) {
          throw new Error(`policy condition not emulated: ${op} ${JSON.stringify(cond)}`);
        }
        const cidrs = ([] as string[]).concat(cond["aws:SourceIp"]);
        const inside = cidrs.some((c) => inCidr(sourceIp, c));
        applies &&= op === "IpAddress" ? inside : !inside;
      }
      if (!applies) continue;
      if (st.Effect === "Deny") return false;
      if (st.Effect === "Allow") allowed = true;
    }
    return allowed;
  }

  /**
   * API Gateway's own answers (no route, unsupported media type): the synthesized
   * aws_api_gateway_gateway_response of that type, else DEFAULT_4XX, else API Gateway's default.
   */
  private gatewayResponse(type: string, status: number, message: string): ApiResponse {
    const custom = this.gatewayResponses.get(type) ?? this.gatewayResponses.get("DEFAULT_4XX");
    const template = (custom?.response_templates ?? {})["application/json"] as string | undefined;
    return {
      status: custom?.status_code !== undefined ? Number(custom.status_code) : status,
      headers: { "content-type": "application/json" },
      body: template !== undefined ? render(terraformLiteral(template, `gateway response ${type}`), { context: { error: { message } } }) : JSON.stringify({ message }),
    };
  }

  /**
   * The method for `METHOD /STAGE/…` (or `BASE/…` through a custom domain): resource paths are templates whose `{name}` segments match one
   * non-empty segment. API Gateway prefers a literal segment over a parameter at the same level;
   * with one route per depth here, the first match is the only one.
   */
  private match(method: string, urlPath: string, prefix = `/${this.stage}/`): { route: ApiRoute; params: Record<string, string> } | undefined {
    if (!urlPath.startsWith(prefix)) return undefined;
    const segments = urlPath.slice(prefix.length).split("/");
    for (const route of this.routes) {
      if (route.httpMethod !== method) continue;
      const parts = route.path.split("/").slice(1);
      if (parts.length !== segments.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      parts.forEach((part, i) => {
        const param = /^\{([A-Za-z0-9_]+)\}$/.exec(part);
        if (/^\{.*\+\}$/.test(part)) throw new Error(`greedy path parameter ${part} is not emulated`);
        if (param !== null && segments[i] !== "") params[param[1]] = decodeURIComponent(segments[i]);
        else if (part !== segments[i]) ok = false;
      });
      if (ok) return { route, params };
    }
    return undefined;
  }

  /** `http://127.0.0.1:PORT/STAGE` */
  get url(): string {
    return this.baseUrl;
  }

  async start(): Promise<void> {
    const { server, port } = await listenOnLoopback((req, res) => {
      this.handle(req, res).catch((e: Error) => {
        res.writeHead(500, { "content-type": "text/plain" });
        res.end(`API Gateway stand-in failed: ${e.message}`);
      });
    });
    this.server = server;
    this.baseUrl = `http://127.0.0.1:${port}/${this.stage}`;
  }

  async stop(): Promise<void> {
    if (this.server === undefined) return;
    await closeServer(this.server);
    this.server = undefined;
  }

  /**
   * Sends a POST to `/STAGE/PROJECT/REPO` of the stand-in. Every request really comes from
   * 127.0.0.1: `sourceIp` is the address the resource policy sees (`aws:SourceIp`), by default one
   * of Backlog's published webhook senders.
   */
  async post(routePath: string, body: string, contentType: string, sourceIp = BACKLOG_SENDER_IP): Promise<ApiResponse> {
    const res = await fetch(`${this.baseUrl}${routePath}`, {
      method: "POST",
      body,
      headers: { "content-type": contentType, [SOURCE_IP_HEADER]: sourceIp },
    });
    return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.text() };
  }

  /**
   * Sends a POST as it would arrive through a custom domain name mapped to the stage with base path
   * `basePath` (`/hooks`, or "" for the domain's root): the URL has the base path instead of the
   * stage, and `$context.path` is that whole path (`/hooks/PROJECT/REPO`).
   */
  async postViaCustomDomain(basePath: string, routePath: string, body: string, contentType: string): Promise<ApiResponse> {
    const res = await fetch(`${new URL(this.baseUrl).origin}${basePath}${routePath}`, {
      method: "POST",
      body,
      headers: { "content-type": contentType, [SOURCE_IP_HEADER]: BACKLOG_SENDER_IP, [BASE_PATH_HEADER]: basePath },
    });
    return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.text() };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const url = new URL(req.url ?? "/", "http://x");
    const urlPath = url.pathname;
    const basePath = req.headers[BASE_PATH_HEADER];
    const matched = this.match(req.method ?? "", urlPath, typeof basePath === "string" ? `${basePath}/` : undefined);
    const route = matched?.route;
    const send = (status: number, headers: Record<string, string>, text: string): void => {
      res.writeHead(status, headers);
      res.end(text);
    };
    const sourceIp = String(req.headers[SOURCE_IP_HEADER] ?? req.socket.remoteAddress ?? "");
    if (!this.allowedBy(sourceIp)) {
      const r = this.gatewayResponse("ACCESS_DENIED", 403, `User: anonymous is not authorized to perform: execute-api:Invoke`);
      send(r.status, r.headers, r.body);
      return;
    }
    if (route === undefined) {
      const r = this.gatewayResponse("MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token");
      send(r.status, r.headers, r.body);
      return;
    }
    const { method, integration } = route;
    if (method.authorization !== "NONE" || method.api_key_required === true) {
      throw new Error(`route ${urlPath} needs an authorizer or API key, which the stand-in does not emulate`);
    }
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
    const requestId = randomUUID();
    const templates = (integration.request_templates ?? {}) as Record<string, string>;
    const type = mediaType(headers["content-type"]) || "application/json";
    const template = Object.entries(templates).find(([t]) => t.toLowerCase() === type)?.[1];
    const vtlRequest: VtlRequest = {
      headers,
      pathParams: matched!.params,
      query: Object.fromEntries(url.searchParams),
      path: urlPath,
      resourcePath: route.path,
      stage: this.stage,
      requestId,
    };
    let integrationBody: string;
    if (template !== undefined) {
      const ctx = vtlContext(body, vtlRequest);
      integrationBody = render(terraformLiteral(template, `the request template of ${route.path}`), ctx);
      if (Object.keys(ctx.context.requestOverride).length > 0) throw new Error("$context.requestOverride is not emulated");
    } else {
      const behavior = integration.passthrough_behavior ?? "WHEN_NO_MATCH";
      const hasTemplates = Object.keys(templates).length > 0;
      if (behavior === "NEVER" || (behavior === "WHEN_NO_TEMPLATES" && hasTemplates)) {
        const r = this.gatewayResponse("UNSUPPORTED_MEDIA_TYPE", 415, "Unsupported Media Type");
        send(r.status, r.headers, r.body);
        return;
      }
      integrationBody = body;
    }

    if (integration.type !== "AWS") throw new Error(`integration type ${integration.type} is not emulated`);
    const uri = /^arn:[^:]+:apigateway:[^:]+:([a-z0-9-]+):action\/([A-Za-z0-9]+)$/.exec(integration.uri);
    if (uri === null) throw new Error(`integration URI not emulated: ${integration.uri}`);
    const [, service, action] = uri;
    if (integration.integration_http_method !== "POST") throw new Error("only POST action integrations are emulated");

    const backendHeaders: Record<string, string> = {};
    for (const [target, source] of Object.entries((integration.request_parameters ?? {}) as Record<string, string>)) {
      const name = /^integration\.request\.header\.(.+)$/.exec(target)?.[1];
      if (name === undefined) throw new Error(`request parameter ${target} not emulated`);
      const literal = /^'(.*)'$/.exec(source);
      const fromHeader = /^method\.request\.header\.(.+)$/.exec(source);
      if (literal !== null) backendHeaders[name] = literal[1];
      else if (fromHeader !== null) backendHeaders[name] = headers[fromHeader[1].toLowerCase()] ?? "";
      else throw new Error(`request parameter source ${source} not emulated`);
    }

    const endpoint = new URL(this.aws.endpoint);
    const signer = new SignatureV4({
      service,
      region: this.aws.region,
      credentials: { accessKeyId: this.aws.accessKeyId, secretAccessKey: this.aws.secretAccessKey },
      sha256: Sha256,
    });
    const signed = await signer.sign({
      method: "POST",
      protocol: endpoint.protocol,
      hostname: endpoint.hostname,
      port: Number(endpoint.port),
      path: "/",
      headers: { ...backendHeaders, host: endpoint.host },
      body: integrationBody,
    });
    const backend = await fetch(`${this.aws.endpoint}/`, {
      method: "POST",
      headers: signed.headers as Record<string, string>,
      body: integrationBody,
    });
    const backendBody = await backend.text();
    this.calls.push({
      route: urlPath,
      service,
      action,
      headers: backendHeaders,
      body: integrationBody,
      status: backend.status,
      responseBody: backendBody,
    });

    // Integration response selection: selection_pattern against the backend's status code.
    const status = String(backend.status);
    const responses = route.integrationResponses;
    const selected =
      responses.find((r) => typeof r.selection_pattern === "string" && r.selection_pattern !== "" && new RegExp(`^(?:${r.selection_pattern})$`).test(status)) ??
      responses.find((r) => r.selection_pattern === undefined || r.selection_pattern === "");
    if (selected === undefined) {
      send(500, { "content-type": "application/json" }, JSON.stringify({ message: "Internal server error" }));
      return;
    }
    const methodStatus = String(selected.status_code);
    const outHeaders: Record<string, string> = { "content-type": "application/json" };
    for (const [target, source] of Object.entries((selected.response_parameters ?? {}) as Record<string, string>)) {
      const name = /^method\.response\.header\.(.+)$/.exec(target)?.[1];
      const literal = /^'(.*)'$/.exec(source);
      if (name === undefined || literal === null) throw new Error(`response parameter ${target}=${source} not emulated`);
      outHeaders[name.toLowerCase()] = literal[1];
    }
    const responseTemplate = (selected.response_templates ?? {})["application/json"] as string | undefined;
    let answerStatus = Number(methodStatus);
    let outBody = backendBody;
    if (responseTemplate !== undefined) {
      const ctx = vtlContext(backendBody, vtlRequest);
      outBody = render(terraformLiteral(responseTemplate, `a response template of ${route.path}`), ctx);
      const override = ctx.context.responseOverride as { status?: unknown; header?: unknown };
      if (override.header !== undefined) throw new Error("$context.responseOverride.header is not emulated");
      if (override.status !== undefined) answerStatus = Number(override.status);
    }
    send(answerStatus, outHeaders, outBody);
  }
}

/** A Backlog Git webhook body: form field `payload` holding URL-encoded JSON (platform-facts.md). */
export function backlogPushBody(p: {
  space: string;
  projectKey: string;
  repository: string;
  ref: string;
  before: string;
  after: string;
}): string {
  const payload = {
    before: p.before,
    after: p.after,
    ref: p.ref,
    repository: { url: `https://${p.space}.backlog.jp/git/${p.projectKey}/${p.repository}`, name: p.repository, description: "" },
    revisions: [
      {
        id: p.after,
        url: `https://${p.space}.backlog.jp/git/${p.projectKey}/${p.repository}/commit/${p.after}`,
        author: { name: "e2e", email: "e2e@example.com" },
        message: "e2e push",
        timestamp: new Date().toISOString(),
        added: [],
        modified: ["README.md"],
        removed: [],
      },
    ],
  };
  return `payload=${encodeURIComponent(JSON.stringify(payload))}`;
}
