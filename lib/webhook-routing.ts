/**
 * How a webhook path selects a repository: the mapping templates of the one webhook route.
 *
 * Every webhook URL is `…/prod/PROJECT/REPO` (users paste it into Backlog). It is served by ONE
 * resource pair `/{project}/{repo}` and one POST method, so the REST API has three resources whatever
 * the number of repositories (a REST API may have at most 300 resources; API Gateway Developer
 * Guide, "Quotas for configuring and running a REST API in API Gateway").
 *
 * The lookup key is made of the two PATH PARAMETERS, not of the request path:
 * `$input.params().path` is "a map of all the request parameters" of the method request, by
 * location (`path`, `querystring`, `header`; API Gateway Developer Guide, "Variables for data
 * transformations", `$input.params()`, and its example "Pass all request parameters"). The path
 * parameters are the segments that matched `{project}` and `{repo}` of the resource, so they are the
 * same whichever URL reached the method: the execute-api URL (`/prod/PROJECT/REPO`) or a custom
 * domain name with a base-path mapping (`/hooks/PROJECT/REPO`, or `/PROJECT/REPO` with no base path).
 * `$context.path`, used before, is the whole request path ("for a non-proxy request URL of
 * https://{rest-api-id}.execute-api.{region}.amazonaws.com/{stage}/root/child, the $context.path
 * value is /{stage}/root/child", same page): behind a custom domain it carries the base path instead
 * of the stage, and every webhook would have answered 404. The parameters are read from the `path`
 * map explicitly: `$input.params('project')` would fall back to a query string or header of that
 * name (it searches "the path, query string, or header value ... in that order"), which cannot
 * happen for a required path parameter but need not be relied on.
 *
 * What a path segment may and may not select:
 * - The request template holds a constant lookup table (a VTL map) from `PROJECT/REPO` to the
 *   CodeBuild project of that configured repository. The key looked up is
 *   `<project parameter>/<repo parameter>`. A path can only choose one of the configured
 *   repositories, and so one of this stack's projects.
 * - The key is never ambiguous: `/` is the separator, and neither a project key (`[A-Z][A-Z0-9_]*`)
 *   nor a repository name (`[A-Za-z0-9_.-]`) may contain it (lib/validation.ts), so every table key
 *   has exactly one `/`. If a parameter did contain a `/` (a decoded `%2F`), the looked-up key would
 *   have two and equal no table key; otherwise the `/` splits both at the same place, and the key
 *   equals a table key only when the project AND the repository each equal that entry's.
 * - The comparison is exact (a Java map's `get`): another letter case selects nothing. API Gateway
 *   does not document whether it URL-decodes a path parameter before a template sees it; the
 *   guarantee holds either way. Undecoded, an encoded segment (`web%2Dapp`, `%2e%2e`) keeps its `%`,
 *   which no table key has; decoded, it is the name it spells (`web%2Dapp` is `web-app`, the
 *   repository the plain URL names), `%2F` gives a `/` (see above) and `%2e%2e` gives `..`, which
 *   is not a repository name (names may not start with `.`).
 * - A trailing slash or any extra segment (`/PROJECT/REPO/`, `/A/B/C`), a path of another depth
 *   (`/PROJECT`) and another method have no method, or match `{repo}` as the same REPO: API Gateway
 *   answers its MISSING_AUTHENTICATION_TOKEN gateway response, which the API answers 404, or the
 *   route of that same repository.
 * - No character of the path or of the body is copied into the StartBuild request: the project name
 *   in the request is a literal of the table; the parameters are only compared with the table's
 *   keys. The webhook body is never read.
 * - A key that is not in the table (a repository that is not mirrored, another letter case, an
 *   encoded character) selects nothing: the request sent is `{"projectName":""}`, which CodeBuild
 *   refuses by input validation (StartBuild `projectName`: minimum length 1; CodeBuild API
 *   Reference, "StartBuild") so nothing can start, and the refusal's response template answers 404
 *   instead of 502 by `$context.responseOverride.status` (API Gateway Developer Guide, "Override your
 *   API's request and response parameters and status codes"). No documented way lets a request
 *   template stop the integration call itself, hence this one harmless, invalid StartBuild. The
 *   response template makes the same lookup: `$input` "represents the method request payload and
 *   parameters to be processed by a mapping template" (same page), and the parameters are those of
 *   the method request in an integration response template too. (Not verified on AWS here: should
 *   they be unreadable there, the refusal template keeps the 502 rather than answer 404.)
 */
import type { RepositorySet } from "./mirror-inputs";

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

/** The separator of the table's keys `PROJECT/REPO`: in neither a project key nor a repository name. */
export const ROUTE_KEY_SEPARATOR = "/";

/** A project key and a repository name as validation accepts them (lib/validation.ts). */
const PROJECT_PART = /^[A-Z][A-Z0-9_]*$/;
const REPO_PART = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
/** Characters a project name may have: nothing VTL or JSON would interpret. */
const SAFE_VALUE = /^[A-Za-z0-9_.-]+$/;

/** The table entry `"PROJECT/REPO": "NAME-mirror-REPO"`, checked to be unambiguous and inert. */
export function routeEntry(route: WebhookRouteSpec): string {
  const parts = route.key.split(ROUTE_KEY_SEPARATOR);
  if (parts.length !== 2 || !PROJECT_PART.test(parts[0]) || !REPO_PART.test(parts[1]) || !SAFE_VALUE.test(route.projectName)) {
    // Validation allows only these characters; this guards the template against a future change.
    throw new Error(`internal: route ${JSON.stringify(route.key)} -> ${JSON.stringify(route.projectName)} is not PROJECT/REPO -> a plain name`);
  }
  return formatRouteEntry(route);
}

/** `"KEY": "PROJECT"`, unchecked: {@link routeEntry} checks literal routes; the module's are templates. */
function formatRouteEntry(route: WebhookRouteSpec): string {
  return `"${route.key}": "${route.projectName}"`;
}

/** The routes: a literal list, or the repositories of a stack (whose entries may be templates). */
export type WebhookRoutes = readonly WebhookRouteSpec[] | RepositorySet;

/** The VTL map literal `{"P/R": "NAME-mirror-R", …}`. */
export function routeTable(routes: WebhookRoutes): string {
  if (!Array.isArray(routes)) {
    const set = routes as RepositorySet;
    if (set.literal !== undefined) return routeTable(set.literal);
    return `{${set.join(", ", formatRouteEntry)}}`;
  }
  return `{${routes.map(routeEntry).join(", ")}}`;
}

/**
 * The lookup: `$selected` is the table's project for the two path parameters, or stays unset. The
 * parameters are only interpolated into the key (VTL does not evaluate an interpolated value again)
 * and never written out. No `${…}` (Terraform would read it as an interpolation): the `/` after
 * `$pathParameters.project` ends that reference.
 */
function lookup(routes: WebhookRoutes): string[] {
  return [
    `#set($routes = ${routeTable(routes)})`,
    `#set($pathParameters = $input.params().path)`,
    `#set($selected = $routes.get("$pathParameters.project${ROUTE_KEY_SEPARATOR}$pathParameters.repo"))`,
  ];
}

/** What is sent to StartBuild for a path that is not a configured repository. */
export const UNKNOWN_ROUTE_START_BUILD = `{"projectName": ""}`;

/** The request mapping template: the table, the lookup, one of two constant bodies. */
export function startBuildRequestTemplate(routes: WebhookRoutes): string {
  return [
    ...lookup(routes),
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
 * (→ 502, Backlog retries); for a path that is not one, 404. Fail-safe: should the path parameters
 * not be readable in a response template (no project parameter), the answer stays the refusal, so
 * a configured repository's refused push is never answered 404 (which Backlog would not retry); an
 * unknown path would then get 502 and its harmless retries.
 */
export function refusedResponseTemplate(routes: WebhookRoutes, refusedBody: string): string {
  return [
    ...lookup(routes),
    `#if($selected || "$!pathParameters.project" == "")`,
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
