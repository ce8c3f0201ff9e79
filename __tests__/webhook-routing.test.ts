/**
 * The webhook route table (lib/webhook-routing.ts) rendered with a real VTL engine (velocityjs) the
 * way API Gateway renders it: `$input.params()` holds the method request's parameters by location
 * (`path`, `querystring`, `header`), `$context.path` is the whole request path, which depends on the
 * URL the caller used (execute-api `/prod/…`, or a custom domain's base path). API Gateway itself
 * cannot run here; `gateway()` below is the stand-in and says what it assumes.
 */
import { render } from "velocityjs";
import { INTEGRATION_RESPONSES } from "../lib/webhook-api";
import {
  MAPPING_TEMPLATE_MAX_BYTES,
  UNKNOWN_ROUTE_START_BUILD,
  largestTemplateBytes,
  refusedResponseTemplate,
  routeEntry,
  startBuildRequestTemplate,
} from "../lib/webhook-routing";
import { configWithRepositories, exampleConfig, onlyResource, resources, synthStack } from "../test/support/synth";

const FORM = "application/x-www-form-urlencoded";

interface Request {
  /** The URL path as the caller sent it, e.g. `/prod/DEMO/web-app` or `/hooks/DEMO/web-app`. */
  readonly urlPath: string;
  /**
   * What the URL has before the API's resource path: `/prod` (execute-api URL: the stage), a
   * custom domain's base path (`/hooks`, `/a/b`), or `""` (custom domain mapped at its root).
   */
  readonly base: string;
  /** Whether the stand-in URL-decodes path parameters (API Gateway does not document it: both are tried). */
  readonly decode: boolean;
  readonly query?: Record<string, string>;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

/**
 * Stand-in for API Gateway's matching and template variables (test double: API Gateway cannot run
 * here). The resource `/{project}/{repo}` matches exactly two non-empty segments after the base
 * path; anything else has no method (undefined: the MISSING_AUTHENTICATION_TOKEN gateway response,
 * no template is rendered).
 */
function gateway(req: Request) {
  if (!req.urlPath.startsWith(`${req.base}/`)) return undefined;
  const segments = req.urlPath.slice(req.base.length + 1).split("/");
  if (segments.length !== 2 || segments.some((s) => s === "")) return undefined;
  const [project, repo] = segments.map((s) => (req.decode ? decodeURIComponent(s) : s));
  const all = { path: { project, repo }, querystring: { ...req.query }, header: { ...req.headers } };
  return {
    input: {
      body: req.body ?? "payload=%7B%7D",
      params: (name?: string) =>
        name === undefined ? all : ((all.path as Record<string, string>)[name] ?? all.querystring[name] ?? all.header[name] ?? ""),
      path: () => {
        throw new Error("the request template must not read the body");
      },
      json: () => {
        throw new Error("the request template must not read the body");
      },
    },
    context: { path: req.urlPath, stage: "prod", responseOverride: {} as Record<string, unknown> },
  };
}

/** The project name the request template sends for a request, or undefined when no method matches. */
function selectedProject(template: string, req: Request): string | undefined {
  const vars = gateway(req);
  if (vars === undefined) return undefined;
  const sent = JSON.parse(render(template, vars));
  expect(Object.keys(sent)).toEqual(["projectName"]);
  return sent.projectName;
}

const synth = synthStack(exampleConfig());
const requestTemplate: string = onlyResource(synth, "aws_api_gateway_integration").request_templates[FORM];
const refusedTemplate: string = resources(synth, "aws_api_gateway_integration_response").find((r) => r.selection_pattern === "4\\d{2}")!
  .response_templates["application/json"];
const PROJECT = "backlog-mirror-mirror-demo-web-app";
const BASES = [
  ["the execute-api URL (stage in the path)", "/prod"],
  ["a custom domain with base path hooks", "/hooks"],
  ["a custom domain with a two-level base path", "/git/webhooks"],
  ["a custom domain mapped at its root (no base path, no stage)", ""],
] as const;

describe("webhook routing: the table is keyed on the path parameters, not on $context.path", () => {
  test("the templates read neither $context.path nor the body: only the path parameters select", () => {
    for (const t of [requestTemplate, refusedTemplate]) {
      expect(t).not.toContain("$context.path");
      expect(t).toContain("$input.params().path");
    }
    expect(requestTemplate).not.toMatch(/\$input\.(body|json|path)|\$util|\$method|\$input\.params\(['"]/);
  });

  test.each(BASES)("a push through %s selects the repository's project", (_what, base) => {
    for (const decode of [false, true]) {
      expect(selectedProject(requestTemplate, { urlPath: `${base}/DEMO/web-app`, base, decode })).toBe(PROJECT);
    }
  });

  test.each(BASES)("through %s, every configured repository selects its own project and only it", (_what, base) => {
    const three = synthStack(configWithRepositories(3));
    const template: string = onlyResource(three, "aws_api_gateway_integration").request_templates[FORM];
    const selected = ["DEMO/repo-1", "OPS/repo-2", "DEMO/repo-3", "OPS/repo-1", "DEMO/repo-2"].map((key) =>
      selectedProject(template, { urlPath: `${base}/${key}`, base, decode: true }),
    );
    expect(selected).toEqual(["backlog-mirror-mirror-repo-1", "backlog-mirror-mirror-repo-2", "backlog-mirror-mirror-repo-3", "", ""]);
  });

  test.each(BASES)("through %s, a refused StartBuild of a configured repository stays 502; an unknown path is answered 404", (_what, base) => {
    const known = gateway({ urlPath: `${base}/DEMO/web-app`, base, decode: true })!;
    const refusal = { __type: "AccountLimitExceededException" };
    const withBackendBody = (vars: NonNullable<ReturnType<typeof gateway>>) => ({
      ...vars,
      input: { ...vars.input, path: (p: string) => (refusal as Record<string, string>)[p.replace("$.", "")] },
      util: { escapeJavaScript: (v: string) => JSON.stringify(String(v)).slice(1, -1) },
    });
    expect(JSON.parse(render(refusedTemplate, withBackendBody(known)))).toMatchObject({ started: false, error: "AccountLimitExceededException" });
    expect(known.context.responseOverride).toEqual({});
    const unknown = gateway({ urlPath: `${base}/DEMO/other`, base, decode: true })!;
    expect(JSON.parse(render(refusedTemplate, withBackendBody(unknown))).message).toMatch(/No mirrored repository here/);
    expect(unknown.context.responseOverride).toEqual({ status: 404 });
  });

  // Paths a caller may try. Each either has no method (undefined), or selects nothing (""), or —
  // only where API Gateway decodes and the encoding spells the very name — the same repository.
  const HOSTILE: Array<[string, { raw: string | undefined; decoded: string | undefined }]> = [
    ["/DEMO/other", { raw: "", decoded: "" }],
    ["/demo/web-app", { raw: "", decoded: "" }], // letter case is exact
    ["/DEMO/Web-App", { raw: "", decoded: "" }],
    ["/DEMO/web-app.git", { raw: "", decoded: "" }],
    ["/DEMO/web%2Dapp", { raw: "", decoded: PROJECT }], // %2D is "-": the same repository, or nothing
    ["/DEMO/web-app%2E", { raw: "", decoded: "" }],
    ["/DEMO/%2e%2e", { raw: "", decoded: "" }],
    ["/%2e%2e/web-app", { raw: "", decoded: "" }],
    ["/DEMO%2Fweb-app/x", { raw: "", decoded: "" }], // a decoded %2F: two separators, no table key
    ["/DEMO/web-app%2Fx", { raw: "", decoded: "" }],
    ["/DEMO%2F/web-app", { raw: "", decoded: "" }],
    ["/DEMO/web-app%00", { raw: "", decoded: "" }],
    ["/DEMO/web-app%20", { raw: "", decoded: "" }],
    ["/DEMO/$input.body", { raw: "", decoded: "" }],
    ["/DEMO/%22%7D%2C%22projectName%22%3A%22evil", { raw: "", decoded: "" }],
    ["/%23set(%24selected%3D'x')/web-app", { raw: "", decoded: "" }],
    ["/DEMO/web-app/", { raw: undefined, decoded: undefined }], // trailing slash: no method
    ["/DEMO/web-app/x", { raw: undefined, decoded: undefined }],
    ["/DEMO", { raw: undefined, decoded: undefined }],
    ["//web-app", { raw: undefined, decoded: undefined }],
  ];

  test.each(BASES)("through %s, unknown, encoded and malicious paths select nothing but the table's own entry", (_what, base) => {
    for (const [path, expected] of HOSTILE) {
      for (const decode of [false, true]) {
        const got = selectedProject(requestTemplate, { urlPath: `${base}${path}`, base, decode });
        expect([path, decode, got]).toEqual([path, decode, decode ? expected.decoded : expected.raw]);
      }
    }
    expect(JSON.parse(UNKNOWN_ROUTE_START_BUILD)).toEqual({ projectName: "" });
  });

  test("a query string or header named project/repo, and the body, cannot choose: only the path parameters count", () => {
    const hostileBody = `payload=${encodeURIComponent(JSON.stringify({ repository: { name: 'x"}, {"projectName": "evil' } }))}&projectName=evil`;
    const fromElsewhere = { project: "DEMO", repo: "web-app" };
    const req = { urlPath: "/prod/DEMO/nope", base: "/prod", decode: true, query: fromElsewhere, headers: fromElsewhere, body: hostileBody };
    expect(selectedProject(requestTemplate, req)).toBe("");
    expect(selectedProject(requestTemplate, { ...req, urlPath: "/prod/DEMO/web-app" })).toBe(PROJECT);
  });

  test("a request of the old $context.path shape no longer matters: the stage-less custom-domain path of a configured repository selects it", () => {
    // The defect this replaces: keyed on `$context.path`, `/hooks/DEMO/web-app` matched no `/prod/…` key.
    const vars = gateway({ urlPath: "/hooks/DEMO/web-app", base: "/hooks", decode: false })!;
    expect(vars.context.path).toBe("/hooks/DEMO/web-app");
    expect(JSON.parse(render(requestTemplate, vars)).projectName).toBe(PROJECT);
  });
});

describe("webhook routing: table keys are unambiguous PROJECT/REPO", () => {
  test("a key is a project key and a repository name joined by the one separator neither may contain", () => {
    expect(routeEntry({ key: "DEMO/web-app", projectName: "x-mirror-web-app" })).toBe('"DEMO/web-app": "x-mirror-web-app"');
    expect(routeEntry({ key: "P_1/a.b-c_d", projectName: "x-mirror-a_b-c_d" })).toBe('"P_1/a.b-c_d": "x-mirror-a_b-c_d"');
    for (const key of ["DEMO/web/app", "DEMO", "demo/web-app", "DEMO/.x", "DEMO/-x", "DEMO/a b", 'DEMO/a"b', "DEMO/$x", "DEMO/a#b", "/web-app", "DEMO/"]) {
      expect(() => routeEntry({ key, projectName: "x-mirror-y" })).toThrow(/internal: route/);
    }
    for (const projectName of ['a"b', "a$b", "a b", "a/b", ""]) {
      expect(() => routeEntry({ key: "DEMO/web-app", projectName })).toThrow(/internal: route/);
    }
  });

  test("two repositories whose names would run together with another separator stay apart", () => {
    // With no separator, A1 + "2x" and A12 + "x" would both be "A12x"; with "/" they cannot collide.
    const routes = [
      { key: "A1/2x", projectName: "n-mirror-first" },
      { key: "A12/x", projectName: "n-mirror-second" },
    ];
    const template = startBuildRequestTemplate(routes);
    const pick = (urlPath: string) => selectedProject(template, { urlPath, base: "/prod", decode: true });
    expect([pick("/prod/A1/2x"), pick("/prod/A12/x"), pick("/prod/A1%2F2/x"), pick("/prod/A12x/x")]).toEqual([
      "n-mirror-first",
      "n-mirror-second",
      "",
      "",
    ]);
    const refused = refusedResponseTemplate(routes, "{}");
    expect(refused).toContain('"A1/2x": "n-mirror-first", "A12/x": "n-mirror-second"');
  });

  test("the largest table (200 repositories, names at their longest) stays well within the mapping template size quota", () => {
    // Longest accepted: project key 25 characters, repository 100, stack name 24 (lib/validation.ts).
    const routes = Array.from({ length: 200 }, (_, i) => ({
      key: `P${String(i).padStart(24, "X")}/${String(i).padStart(100, "r")}`,
      projectName: `${"n".repeat(24)}-mirror-${String(i).padStart(100, "r")}`,
    }));
    const refused = INTEGRATION_RESPONSES.find((r) => r.statusCode === "502")!.template;
    const bytes = largestTemplateBytes(routes, refused);
    expect(bytes).toBeGreaterThan(50_000);
    expect(bytes).toBeLessThanOrEqual(MAPPING_TEMPLATE_MAX_BYTES / 5);
    // The table itself is one entry per repository: "KEY": "PROJECT", plus separators.
    expect(Buffer.byteLength(startBuildRequestTemplate(routes))).toBeLessThan(200 * (126 + 132 + 8) + 500);
  });
});

describe("webhook routing: the refusal answer fails safe", () => {
  test("where a response template could not read the path parameters, a refusal stays 502 (retried), never 404", () => {
    const refusal = { __type: "AccountLimitExceededException" };
    for (const params of [undefined, () => ({ path: {}, querystring: {}, header: {} })]) {
      const vars = {
        input: { path: (p: string) => (refusal as Record<string, string>)[p.replace("$.", "")], ...(params === undefined ? {} : { params }) },
        util: { escapeJavaScript: (v: string) => JSON.stringify(String(v)).slice(1, -1) },
        context: { path: "/hooks/DEMO/web-app", responseOverride: {} as Record<string, unknown> },
      };
      expect(JSON.parse(render(refusedTemplate, vars))).toMatchObject({ started: false, error: "AccountLimitExceededException" });
      expect(vars.context.responseOverride).toEqual({});
    }
  });
});
