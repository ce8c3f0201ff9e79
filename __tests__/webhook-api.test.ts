import { render } from "velocityjs";
import { configWithRepositories, dataRef, exampleConfig, refOf, resources, onlyResource, synthStack } from "../test/support/synth";

const synth = synthStack(exampleConfig());
const integration = onlyResource(synth, "aws_api_gateway_integration");

describe("webhook integration", () => {
  test("is an AWS-service integration that POSTs to CodeBuild StartBuild in the stack's region", () => {
    expect(integration.type).toBe("AWS");
    expect(integration.integration_http_method).toBe("POST");
    const method = onlyResource(synth, "aws_api_gateway_method");
    expect(integration.http_method).toBe(refOf(synth, "aws_api_gateway_method", method, "http_method"));
    expect(integration.uri).toBe(
      `arn:${dataRef(synth, "aws_partition", "partition")}:apigateway:${dataRef(synth, "aws_region", "name")}:codebuild:action/StartBuild`,
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
    const body = render(template, { input: { body: "payload=%7B%7D" } });
    expect(JSON.parse(body)).toEqual({ projectName: "backlog-mirror-mirror-demo-web-app" });
  });

  test("refuses other content types instead of passing the body through", () => {
    expect(integration.passthrough_behavior).toBe("NEVER");
  });

  test("calls CodeBuild with the API Gateway role", () => {
    const apiRole = Object.entries(synth.resource.aws_iam_role).find(([, r]) => r.name === "backlog-mirror-webhook");
    expect(apiRole).toBeDefined();
    expect(integration.credentials).toBe(`\${aws_iam_role.${apiRole![0]}.arn}`);
  });

  test("is on POST /DEMO/web-app, with no authorization or API key (Backlog cannot send either)", () => {
    const method = onlyResource(synth, "aws_api_gateway_method");
    expect(method).toMatchObject({ http_method: "POST", authorization: "NONE", api_key_required: false });
    const parts = resources(synth, "aws_api_gateway_resource").map((r) => r.path_part);
    expect(parts.sort()).toEqual(["DEMO", "web-app"]);
    const repoResource = resources(synth, "aws_api_gateway_resource").find((r) => r.path_part === "web-app")!;
    const projectResource = resources(synth, "aws_api_gateway_resource").find((r) => r.path_part === "DEMO")!;
    expect(repoResource.parent_id).toBe(refOf(synth, "aws_api_gateway_resource", projectResource));
    expect(projectResource.parent_id).toMatch(/^\$\{aws_api_gateway_rest_api\.[^.]+\.root_resource_id\}$/);
    expect(integration.resource_id).toBe(refOf(synth, "aws_api_gateway_resource", repoResource));
  });

  test("answers 200 only for a started build, and 502/503 when CodeBuild refuses or fails (so Backlog retries)", () => {
    const methodResponses = resources(synth, "aws_api_gateway_method_response");
    expect(methodResponses.map((r) => [r.status_code, r.response_models])).toEqual([
      ["200", { "application/json": "Empty" }],
      ["502", { "application/json": "Empty" }],
      ["503", { "application/json": "Empty" }],
    ]);
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
    const context = (body: Record<string, unknown>) => ({
      input: { path: (p: string) => (p === "$.build.id" ? (body.build as any)?.id : body[p.replace("$.", "")]) },
      util: { escapeJavaScript: (v: string) => JSON.stringify(String(v)).slice(1, -1) },
    });
    expect(JSON.parse(render(ok, context({ build: { id: "backlog-mirror-mirror-demo-web-app:1234" } })))).toEqual({
      started: true,
      buildId: "backlog-mirror-mirror-demo-web-app:1234",
    });
    expect(JSON.parse(render(refused, context({ __type: "AccountLimitExceededException", message: "x" })))).toEqual({
      started: false,
      reason: "CodeBuild refused to start the sync",
      error: "AccountLimitExceededException",
    });
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

  test("gives each of 3 repositories its own fixed route and template; shared path parts are created once", () => {
    const three = synthStack(configWithRepositories(3));
    const templates = resources(three, "aws_api_gateway_integration")
      .map((i) => JSON.parse(i.request_templates["application/x-www-form-urlencoded"]))
      .sort((a, b) => a.projectName.localeCompare(b.projectName));
    expect(templates).toEqual([
      { projectName: "backlog-mirror-mirror-repo-1" },
      { projectName: "backlog-mirror-mirror-repo-2" },
      { projectName: "backlog-mirror-mirror-repo-3" },
    ]);
    expect(resources(three, "aws_api_gateway_resource").map((r) => r.path_part).sort()).toEqual(
      ["DEMO", "OPS", "repo-1", "repo-2", "repo-3"],
    );
    expect(resources(three, "aws_api_gateway_rest_api")).toHaveLength(1);
    expect(resources(three, "aws_api_gateway_stage")).toHaveLength(1);
  });
});
