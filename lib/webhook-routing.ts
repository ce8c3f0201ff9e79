/**
 * How a webhook path selects a repository: the mapping templates of the one webhook route.
 *
 * Every webhook URL is `…/prod/PROJECT/REPO` (users paste it into Backlog). It is served by ONE
 * resource pair `/{project}/{repo}` and one POST method, so the REST API has three resources whatever
 * the number of repositories (a REST API may have at most 300 resources; API Gateway Developer
 * Guide, "Quotas for configuring and running a REST API in API Gateway").
 *
 * What a path may and may not select:
 * - The request template holds a constant lookup table (a VTL map) from the request path
 *   `/prod/PROJECT/REPO` (`$context.path`) to the CodeBuild project of that configured repository.
 *   A path can only choose one of the configured repositories, and so one of this stack's projects.
 * - No character of the path or of the body is copied into the StartBuild request: the project name
 *   in the request is a literal of the table; the path is only compared with the table's keys. The
 *   webhook body is never read.
 * - A path that is not in the table (a repository that is not mirrored, another letter case, an
 *   encoded character) selects nothing: the request sent is `{"projectName":""}`, which CodeBuild
 *   refuses by input validation (StartBuild `projectName`: minimum length 1; CodeBuild API
 *   Reference, "StartBuild") so nothing can start, and the refusal's response template answers 404
 *   instead of 502 by `$context.responseOverride.status` (API Gateway Developer Guide, "Override your
 *   API's request and response parameters and status codes"). No documented way lets a request
 *   template stop the integration call itself, hence this one harmless, invalid StartBuild.
 * - Paths of any other shape (`/PROJECT`, `/A/B/C`, another method) have no method: API Gateway's
 *   MISSING_AUTHENTICATION_TOKEN gateway response, which the API answers 404.
 *
 * `$context.path` is "/{stage}/…" of the request (API Gateway Developer Guide, "Variables for data
 * transformations", `$context.path`); context variables are available in request and response
 * templates alike.
 */
import { STAGE_NAME } from "./naming";

/** One configured repository: its `PROJECT/REPO` key and the project a push starts. */
export interface WebhookRouteSpec {
  readonly key: string;
  readonly projectName: string;
}

/**
 * A mapping template may hold at most 300 KB ("Mapping template size", API Gateway Developer Guide,
 * "Quotas for configuring and running a REST API in API Gateway"; counted here as 300,000 bytes).
 */
export const MAPPING_TEMPLATE_MAX_BYTES = 300_000;

/** The value `$context.path` has for a repository's webhook: `/prod/PROJECT/REPO`. */
export function webhookRequestPath(key: string): string {
  return `/${STAGE_NAME}/${key}`;
}

/** Characters the table's keys and values may have: nothing VTL or JSON would interpret. */
const SAFE = /^[A-Za-z0-9_./-]+$/;

/** The VTL map literal `{"/prod/P/R": "NAME-mirror-R", …}`. */
export function routeTable(routes: readonly WebhookRouteSpec[]): string {
  const entries = routes.map((r) => {
    const path = webhookRequestPath(r.key);
    if (!SAFE.test(path) || !SAFE.test(r.projectName)) {
      // Validation allows only these characters; this guards the template against a future change.
      throw new Error(`internal: route ${JSON.stringify(r.key)} -> ${JSON.stringify(r.projectName)} has characters unsafe in a template`);
    }
    return `"${path}": "${r.projectName}"`;
  });
  return `{${entries.join(", ")}}`;
}

/** What is sent to StartBuild for a path that is not a configured repository. */
export const UNKNOWN_ROUTE_START_BUILD = `{"projectName": ""}`;

/** The request mapping template: the table, the lookup, one of two constant bodies. */
export function startBuildRequestTemplate(routes: readonly WebhookRouteSpec[]): string {
  return [
    `#set($routes = ${routeTable(routes)})`,
    `#set($selected = $routes.get($context.path))`,
    `#if($selected)`,
    `{"projectName": "$selected"}`,
    `#else`,
    UNKNOWN_ROUTE_START_BUILD,
    `#end`,
  ].join("\n");
}

/** The body of the answer to a path that is not a configured repository (status 404). */
export const UNKNOWN_ROUTE_BODY = `{"message": "No mirrored repository here: POST /PROJECT/REPO of a configured repository"}`;

/**
 * Response template of a refused StartBuild (CodeBuild 4xx): for a configured repository the refusal
 * (→ 502, Backlog retries); for a path that is not one, 404.
 */
export function refusedResponseTemplate(routes: readonly WebhookRouteSpec[], refusedBody: string): string {
  return [
    `#set($routes = ${routeTable(routes)})`,
    `#if($routes.get($context.path))`,
    refusedBody,
    `#else`,
    `#set($context.responseOverride.status = 404)`,
    UNKNOWN_ROUTE_BODY,
    `#end`,
  ].join("\n");
}

/** Size in bytes (UTF-8) of the largest mapping template the routes produce. */
export function largestTemplateBytes(routes: readonly WebhookRouteSpec[], refusedBody: string): number {
  return Math.max(
    Buffer.byteLength(startBuildRequestTemplate(routes), "utf8"),
    Buffer.byteLength(refusedResponseTemplate(routes, refusedBody), "utf8"),
  );
}
