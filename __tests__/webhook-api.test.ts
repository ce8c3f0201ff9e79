import { render } from "velocityjs";
import { configWithRepositories, dataRef, exampleConfig, refOf, resources, onlyResource, synthStack } from "../test/support/synth";
import { MAPPING_TEMPLATE_MAX_BYTES, UNKNOWN_ROUTE_START_BUILD, startBuildRequestTemplate } from "../lib/webhook-routing";

/**
 * The template variables API Gateway gives a request to `/STAGE/PROJECT/REPO` (test double: API
 * Gateway cannot run here): `$context.path` is the request path, `$input.params().path` holds the
 * segments that matched `{project}` and `{repo}`. Custom-domain paths: __tests__/webhook-routing.test.ts.
 */
function gatewayVariables(path: string, body = "payload=%7B%7D") {
  const segments = path.split("/").slice(2);
  const params = { path: segments.length === 2 ? { project: segments[0], repo: segments[1] } : {}, querystring: {}, header: {} };
  return { input: { body, params: () => params }, context: { path, responseOverride: {} as Record<string, unknown> } };
}

/** Renders a template with velocityjs as API Gateway would for a request to `path`. */
function renderAt(template: string, path: string) {
  const vars = gatewayVariables(path);
  const body = render(template, vars);
  return { body, override: vars.context.responseOverride };
}

const synth = synthStack(exampleConfig());
const integration = onlyResource(synth, "aws_api_gateway_integration");

describe("webhook integration", () => {
  test("is an AWS-service integration that POSTs to CodeBuild StartBuild in the stack's region", () => {
    expect(integration.type).toBe("AWS");
    expect(integration.integration_http_method).toBe("POST");
    const method = onlyResource(synth, "aws_api_gateway_method");
    expect(integration.http_method).toBe(refOf(synth, "aws_api_gateway_method", method, "http_method"));
    expect(integration.uri).toBe(
      `arn:${dataRef(synth, "aws_partition", "partition")}:apigateway:${dataRef(synth, "aws_region", "id")}:codebuild:action/StartBuild`,
    );
  });

  test("sends CodeBuild's JSON content type and the StartBuild target as static headers", () => {
    expect(integration.request_parameters).toEqual({
      "integration.request.header.Content-Type": "'application/x-amz-json-1.1'",
      "integration.request.header.X-Amz-Target": "'CodeBuild_20161006.StartBuild'",
    });
  });

  test("maps only Backlog's form content type, with a template that renders to JSON naming the repository's project", () => {
    expect(Object.keys(integration.request_templates)).toEqual(["application/x-www-form-urlencoded"]);
    const template = integration.request_templates["application/x-www-form-urlencoded"];
    expect(JSON.parse(renderAt(template, "/prod/DEMO/web-app").body)).toEqual({ projectName: "backlog-mirror-mirror-demo-web-app" });
  });

  test.each(["/prod/DEMO/other", "/prod/demo/web-app", "/prod/DEMO/web-app%2E", "/prod/DEMO/web-app/x", "/prod/DEMO"])(
    "a path that is not a configured repository (%s) selects no project: StartBuild gets an empty, invalid project name",
    (path) => {
      const template = integration.request_templates["application/x-www-form-urlencoded"];
      expect(JSON.parse(renderAt(template, path).body)).toEqual(JSON.parse(UNKNOWN_ROUTE_START_BUILD));
      expect(JSON.parse(UNKNOWN_ROUTE_START_BUILD)).toEqual({ projectName: "" });
    },
  );

  test("no character of the body or the path reaches the StartBuild request: every rendering is one of the table's constant bodies", () => {
    const template = integration.request_templates["application/x-www-form-urlencoded"];
    const hostile = `payload=${encodeURIComponent(JSON.stringify({ repository: { name: "x\"}, {\"projectName\": \"evil" } }))}`;
    for (const path of ["/prod/DEMO/web-app", "/prod/DEMO/evil\"name", "/prod/$input.body/x"]) {
      const body = render(template, gatewayVariables(path, hostile));
      expect(Object.keys(JSON.parse(body))).toEqual(["projectName"]);
      expect(["backlog-mirror-mirror-demo-web-app", ""]).toContain(JSON.parse(body).projectName);
    }
    // The path parameters are the template's only input: no body, no utility, no other parameter.
    expect(template.replace("$input.params().path", "")).not.toMatch(/\$input|\$util|\$method|params/);
  });

  test("refuses other content types instead of passing the body through", () => {
    expect(integration.passthrough_behavior).toBe("NEVER");
  });

  test("calls CodeBuild with the API Gateway role", () => {
    const apiRole = Object.entries(synth.resource.aws_iam_role).find(([, r]) => r.name === "backlog-mirror-webhook");
    expect(apiRole).toBeDefined();
    expect(integration.credentials).toBe(`\${aws_iam_role.${apiRole![0]}.arn}`);
  });

  test("is on POST /{project}/{repo}, with no authorization or API key (Backlog cannot send either)", () => {
    const method = onlyResource(synth, "aws_api_gateway_method");
    expect(method).toMatchObject({ http_method: "POST", authorization: "NONE", api_key_required: false });
    const parts = resources(synth, "aws_api_gateway_resource").map((r) => r.path_part);
    expect(parts.sort()).toEqual(["{project}", "{repo}"]);
    const repoResource = resources(synth, "aws_api_gateway_resource").find((r) => r.path_part === "{repo}")!;
    const projectResource = resources(synth, "aws_api_gateway_resource").find((r) => r.path_part === "{project}")!;
    expect(repoResource.parent_id).toBe(refOf(synth, "aws_api_gateway_resource", projectResource));
    expect(projectResource.parent_id).toMatch(/^\$\{aws_api_gateway_rest_api\.[^.]+\.root_resource_id\}$/);
    expect(integration.resource_id).toBe(refOf(synth, "aws_api_gateway_resource", repoResource));
  });

  test("answers 200 only for a started build, and 502/503 when CodeBuild refuses or fails (so Backlog retries); 404 is declared", () => {
    const methodResponses = resources(synth, "aws_api_gateway_method_response").filter((r) => r.status_code !== "404");
    expect(methodResponses.map((r) => [r.status_code, r.response_models])).toEqual([
      ["200", { "application/json": "Empty" }],
      ["502", { "application/json": "Empty" }],
      ["503", { "application/json": "Empty" }],
    ]);
    expect(resources(synth, "aws_api_gateway_method_response").filter((r) => r.status_code === "404")).toHaveLength(1);
    const integrationResponses = resources(synth, "aws_api_gateway_integration_response");
    expect(integrationResponses.map((r) => [r.status_code, r.selection_pattern])).toEqual([
      [refOf(synth, "aws_api_gateway_method_response", methodResponses[0], "status_code"), undefined],
      [refOf(synth, "aws_api_gateway_method_response", methodResponses[1], "status_code"), "4\\d{2}"],
      [refOf(synth, "aws_api_gateway_method_response", methodResponses[2], "status_code"), "5\\d{2}"],
    ]);
  });

  test("renders CodeBuild's answers into JSON bodies with a real VTL engine", () => {
    const [ok, refused] = resources(synth, "aws_api_gateway_integration_response").map(
      (r) => r.response_templates["application/json"] as string,
    );
    const context = (body: Record<string, unknown>, path = "/prod/DEMO/web-app") => {
      const vars = gatewayVariables(path);
      return {
        input: { ...vars.input, path: (p: string) => (p === "$.build.id" ? (body.build as any)?.id : body[p.replace("$.", "")]) },
        util: { escapeJavaScript: (v: string) => JSON.stringify(String(v)).slice(1, -1) },
        context: vars.context,
      };
    };
    expect(JSON.parse(render(ok, context({ build: { id: "backlog-mirror-mirror-demo-web-app:1234" } })))).toEqual({
      started: true,
      buildId: "backlog-mirror-mirror-demo-web-app:1234",
    });
    const known = context({ __type: "AccountLimitExceededException", message: "x" });
    expect(JSON.parse(render(refused, known))).toEqual({
      started: false,
      reason: "CodeBuild refused to start the sync",
      error: "AccountLimitExceededException",
    });
    expect(known.context.responseOverride).toEqual({});
    // A path that is not a configured repository: CodeBuild refused the empty name; the answer is 404.
    const unknown = context({ __type: "InvalidInputException", message: "x" }, "/prod/DEMO/other");
    expect(JSON.parse(render(refused, unknown)).message).toMatch(/No mirrored repository here/);
    expect(unknown.context.responseOverride).toEqual({ status: 404 });
  });
});

describe("webhook API", () => {
  test("is a regional REST API deployed to the prod stage", () => {
    expect(onlyResource(synth, "aws_api_gateway_rest_api")).toMatchObject({
      name: "backlog-mirror-webhook",
      endpoint_configuration: { types: ["REGIONAL"] },
    });
    expect(onlyResource(synth, "aws_api_gateway_stage").stage_name).toBe("prod");
  });

  test("redeploys when a route's mapping changes, and only then", () => {
    const trigger = (s: ReturnType<typeof synthStack>) => onlyResource(s, "aws_api_gateway_deployment").triggers.redeployment;
    const base = exampleConfig();
    const renamed = { ...base, name: "other-mirror" };
    expect(trigger(synthStack(base))).toBe(trigger(synth));
    expect(trigger(synthStack(renamed))).not.toBe(trigger(synth));
    expect(onlyResource(synth, "aws_api_gateway_deployment").lifecycle).toEqual({ create_before_destroy: true });
  });

  // A replaced integration role (its ARN changes with `name`) or any replaced API Gateway resource
  // is no literal: the trigger must reference them so Terraform recomputes it at apply (the
  // provider's aws_api_gateway_deployment documentation: redeployment = sha1(jsonencode([
  // aws_api_gateway_resource.example.id, aws_api_gateway_method.example.id, ...]))).
  test("the redeployment trigger references the integration role's ARN and every API Gateway resource the deployment snapshots", () => {
    const trigger: string = onlyResource(synth, "aws_api_gateway_deployment").triggers.redeployment;
    expect(trigger).toMatch(/^\$\{sha256\(join\(",", \["[0-9a-f]{64}", .+\]\)\)\}$/);
    const credentials: string = onlyResource(synth, "aws_api_gateway_integration").credentials;
    expect(credentials).toMatch(/^\$\{aws_iam_role\.[A-Za-z0-9_]+\.arn\}$/);
    expect(trigger).toContain(`, ${credentials.slice(2, -1)},`);
    const snapshotted = [
      "aws_api_gateway_rest_api",
      "aws_api_gateway_resource",
      "aws_api_gateway_method",
      "aws_api_gateway_integration",
      "aws_api_gateway_method_response",
      "aws_api_gateway_integration_response",
      "aws_api_gateway_gateway_response",
    ].flatMap((type) => Object.keys(synth.resource[type]).map((name) => `${type}.${name}.id`));
    expect(snapshotted.length).toBe(14);
    for (const ref of snapshotted) expect(trigger).toContain(ref);
  });

  test("serves 3 repositories with the same 2 resources and one method; each path selects only its own project", () => {
    const three = synthStack(configWithRepositories(3));
    const [integration3] = resources(three, "aws_api_gateway_integration");
    const template = integration3.request_templates["application/x-www-form-urlencoded"];
    const selected = ["/prod/DEMO/repo-1", "/prod/OPS/repo-2", "/prod/DEMO/repo-3", "/prod/OPS/repo-1"].map(
      (path) => JSON.parse(renderAt(template, path).body).projectName,
    );
    expect(selected).toEqual(["backlog-mirror-mirror-repo-1", "backlog-mirror-mirror-repo-2", "backlog-mirror-mirror-repo-3", ""]);
    expect(resources(three, "aws_api_gateway_resource").map((r) => r.path_part).sort()).toEqual(["{project}", "{repo}"]);
    expect(resources(three, "aws_api_gateway_method")).toHaveLength(1);
    expect(resources(three, "aws_api_gateway_rest_api")).toHaveLength(1);
    expect(resources(three, "aws_api_gateway_stage")).toHaveLength(1);
  });

  test("the route table of 200 repositories with names at their longest stays within the mapping template size quota", () => {
    const routes = Array.from({ length: 200 }, (_, i) => ({
      key: `P${String(i).padStart(24, "X")}/${String(i).padStart(100, "r")}`,
      projectName: `${"n".repeat(24)}-mirror-${String(i).padStart(100, "r")}`,
    }));
    const bytes = Buffer.byteLength(startBuildRequestTemplate(routes), "utf8");
    expect(bytes).toBeGreaterThan(50_000);
    expect(bytes).toBeLessThanOrEqual(MAPPING_TEMPLATE_MAX_BYTES);
  });
});
