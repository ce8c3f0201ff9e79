/**
 * The webhook path as synthesized: Backlog push request → API Gateway stand-in (the route's
 * integration from cdk.tf.json, VTL-rendered) → CodeBuild StartBuild in the emulator (signed) →
 * the started build runs the synthesized buildspec → refs compared. Plus the opt-in host-key mode
 * (`scanHostKey`), which needs its own synthesized stack.
 */
import { DeleteProjectCommand, ListBuildsForProjectCommand } from "@aws-sdk/client-codebuild";
import { Harness, refsDiff } from "../../tools/e2e/harness";
import { expectMirrored, expectSucceeded } from "../../tools/e2e/expect-mirror";
import { run } from "../../tools/e2e/proc";

const FORM = "application/x-www-form-urlencoded";

describe("pinned host key (hostKeys in the configuration)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({
      hostKeys: "config",
      repositories: [
        { projectKey: "WEB", repository: "app" },
        { projectKey: "WEB", repository: "api.v2", codecommitRepository: "web-api.v2" },
        { projectKey: "OPS", repository: "infra" },
      ],
    });
    for (const key of ["WEB/app", "WEB/api.v2", "OPS/infra"]) {
      h.source(key).commit(`initial ${key}`);
      h.source(key).push("main");
    }
  }, 90_000);
  afterAll(async () => {
    await h?.stop();
  });

  test("API Gateway stand-in: a Backlog push webhook calls the emulated StartBuild, signed, for the route's project", async () => {
    const res = await h.webhook("WEB/app");
    expect(res.status).toBe(200);
    const call = h.api.calls.at(-1)!;
    expect(call).toMatchObject({ route: "/prod/WEB/app", service: "codebuild", action: "StartBuild", status: 200 });
    expect(call.headers).toEqual({ "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "CodeBuild_20161006.StartBuild" });
    expect(JSON.parse(call.body)).toEqual({ projectName: h.projectOf("WEB/app") });
    // The emulator's StartBuild answer names the build; the client sees it mapped as synthesized.
    const build = JSON.parse(call.responseBody).build;
    expect(build.projectName).toBe(h.projectOf("WEB/app"));
    expect(res.body).toContain(build.id);
    const listed = await h.codebuild.send(new ListBuildsForProjectCommand({ projectName: h.projectOf("WEB/app") }));
    expect(listed.ids).toContain(build.id);
    const [started] = await h.startNewBuilds();
    expect(started.buildId).toBe(build.id);
    expectSucceeded(await started.done);
    expectMirrored(h, "WEB/app");
  });

  test("API Gateway stand-in: each repository's route starts only its own project", async () => {
    for (const key of ["WEB/api.v2", "OPS/infra"]) {
      const res = await h.webhook(key);
      expect(res.status).toBe(200);
      expect(JSON.parse(h.api.calls.at(-1)!.body)).toEqual({ projectName: h.projectOf(key) });
      const started = await h.startNewBuilds();
      expect(started.map((b) => b.buildId.split(":")[0])).toEqual([h.projectOf(key)]);
      expectSucceeded(await started[0].done);
      expectMirrored(h, key);
    }
    expect(h.codecommitRefs("WEB/app").get("refs/heads/main")).not.toBe(h.codecommitRefs("OPS/infra").get("refs/heads/main"));
  });

  test.each(["/hooks", "/git/webhooks", ""])(
    "API Gateway stand-in: through a custom domain with base path %j ($context.path without the stage) the webhook starts its own project; an unknown one is 404",
    async (basePath) => {
      const before = h.api.calls.length;
      const res = await h.api.postViaCustomDomain(basePath, "/OPS/infra", "payload=%7B%7D", FORM);
      expect(res.status).toBe(200);
      expect(h.api.calls[before]).toMatchObject({ route: `${basePath}/OPS/infra`, status: 200 });
      expect(JSON.parse(h.api.calls[before].body)).toEqual({ projectName: h.projectOf("OPS/infra") });
      const started = await h.startNewBuilds();
      expect(started.map((b) => b.buildId.split(":")[0])).toEqual([h.projectOf("OPS/infra")]);
      expectSucceeded(await started[0].done);
      const unknown = await h.api.postViaCustomDomain(basePath, "/OPS/app", "payload=%7B%7D", FORM);
      expect(unknown.status).toBe(404);
      expect(JSON.parse(h.api.calls.at(-1)!.body)).toEqual({ projectName: "" });
      expect(await h.startNewBuilds()).toEqual([]);
    },
  );

  test("API Gateway stand-in: the request template ignores the webhook body (a hostile payload changes nothing)", async () => {
    const hostile = `payload=${encodeURIComponent(JSON.stringify({ ref: "refs/heads/$(touch /tmp/pwned)", repository: { name: "../../x" } }))}&projectName=other`;
    const before = h.api.calls.length;
    const res = await h.api.post("/WEB/app", hostile, FORM);
    expect(res.status).toBe(200);
    expect(JSON.parse(h.api.calls[before].body)).toEqual({ projectName: h.projectOf("WEB/app") });
    const [started] = await h.startNewBuilds();
    expectSucceeded(await started.done);
    expectMirrored(h, "WEB/app");
  });

  test.each(["application/json", "text/plain", "multipart/form-data; boundary=x"])(
    "API Gateway stand-in: content type %s is answered 415 (passthrough NEVER) and starts no build",
    async (type) => {
      const before = h.api.calls.length;
      const res = await h.api.post("/WEB/app", '{"payload":"{}"}', type);
      expect(res.status).toBe(415);
      expect(h.api.calls.length).toBe(before);
      expect(await h.startNewBuilds()).toEqual([]);
    },
  );

  test("API Gateway stand-in: the form content type with a charset parameter is still mapped", async () => {
    const res = await h.api.post("/OPS/infra", "payload=%7B%7D", `${FORM}; charset=UTF-8`);
    expect(res.status).toBe(200);
    const started = await h.startNewBuilds();
    expect(started).toHaveLength(1);
    expectSucceeded(await started[0].done);
  });

  test.each(["/WEB/unknown", "/web/app", "/OPS/app", "/WEB/app.v2"])(
    "API Gateway stand-in: %s (not a mirrored repository) selects no project: an empty name CodeBuild refuses, answered 404, nothing started",
    async (path) => {
      const before = h.api.calls.length;
      const res = await h.api.post(path, "payload=%7B%7D", FORM);
      expect(res.status).toBe(404);
      expect(JSON.parse(res.body).message).toMatch(/No mirrored repository here/);
      expect(h.api.calls.length).toBe(before + 1);
      expect(JSON.parse(h.api.calls[before].body)).toEqual({ projectName: "" });
      expect(h.api.calls[before].status).toBeGreaterThanOrEqual(400);
      expect(h.api.calls[before].status).toBeLessThan(500);
      expect(await h.startNewBuilds()).toEqual([]);
    },
  );

  test.each(["/WEB", "/WEB/app/extra"])("API Gateway stand-in: %s has no method: the synthesized answer for unknown routes, no integration call", async (path) => {
    const before = h.api.calls.length;
    const res = await h.api.post(path, "payload=%7B%7D", FORM);
    const custom = h.stack.resources("aws_api_gateway_gateway_response").find(([, r]) => r.response_type === "MISSING_AUTHENTICATION_TOKEN");
    expect(custom).toBeDefined();
    expect(res.status).toBe(Number(custom![1].status_code));
    expect(res.status).toBe(404);
    expect(h.api.calls.length).toBe(before);
    expect(await h.startNewBuilds()).toEqual([]);
  });

  test("API Gateway stand-in: the API has 2 resources and 1 method for 3 repositories in 2 projects", () => {
    expect(h.stack.resources("aws_api_gateway_resource").map(([, r]) => r.path_part).sort()).toEqual(["{project}", "{repo}"]);
    expect(h.stack.apiRoutes().map((r) => `${r.httpMethod} ${r.path}`)).toEqual(["POST /{project}/{repo}"]);
  });

  test("API Gateway stand-in: a caller outside the synthesized source-IP allowlist is refused and starts no build", async () => {
    const hasPolicy = h.stack.resources("aws_api_gateway_rest_api_policy").length > 0;
    const res = await h.api.post("/WEB/app", "payload=%7B%7D", FORM, "203.0.113.9");
    expect(res.status).toBe(hasPolicy ? 403 : 200);
    expect(hasPolicy).toBe(true);
    expect(await h.startNewBuilds()).toEqual([]);
  });

  test("API Gateway stand-in: a failing StartBuild is mapped by the synthesized integration responses", async () => {
    // TEST SETUP: remove the project from the emulator, so StartBuild answers 400 ResourceNotFound.
    await h.codebuild.send(new DeleteProjectCommand({ name: h.projectOf("OPS/infra") }));
    const res = await h.webhook("OPS/infra");
    const call = h.api.calls.at(-1)!;
    expect(call.status).toBeGreaterThanOrEqual(400);
    // The status the synthesized responses select for the backend status (selection_pattern, else default).
    const route = h.stack.apiRoutes().find((r) => r.path === "/{project}/{repo}")!;
    const selected =
      route.integrationResponses.find((r) => r.selection_pattern && new RegExp(`^(?:${r.selection_pattern})$`).test(String(call.status))) ??
      route.integrationResponses.find((r) => !r.selection_pattern);
    expect(selected).toBeDefined();
    expect(res.status).toBe(Number(selected!.status_code));
    // Backlog retries only on 5xx: a refused StartBuild of a configured repository must not look like
    // success, nor like an unknown path (404).
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(await h.startNewBuilds()).toEqual([]);
  });

  test("CodeCommit stand-in: refuses refs outside heads/tags, as CodeCommit does (control for the filter)", () => {
    const src = h.source("WEB/app");
    const target = h.codecommit.repoPath("app");
    const res = run("git", ["-C", src.work, "push", target, "HEAD:refs/pull/9/head"], { allowFail: true });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain("refs/pull/9/head refused");
    expect(refsDiff(src.mirroredRefs(), h.codecommitRefs("WEB/app"))).toBe("");
  });
});

describe("scanHostKey: true (explicit opt-in, trust on first use)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ hostKeys: "scan", repositories: [{ projectKey: "SCAN", repository: "repo" }] });
  }, 90_000);
  afterAll(async () => {
    await h?.stop();
  });

  test("the sync trusts the presented host key, says so in the log, and mirrors exactly", async () => {
    const src = h.source("SCAN/repo");
    src.commit("one");
    src.git("tag", "v1");
    src.push("main", "v1");
    const result = await h.sync("SCAN/repo");
    expectSucceeded(result);
    expect(result.log).toContain("WARNING: trusting whatever host key");
    expectMirrored(h, "SCAN/repo");
    // Even after a host key change, opt-in mode keeps working (that is what the opt-in gives up).
    await h.ssh.rotateHostKey();
    src.commit("two");
    src.push("main");
    expectSucceeded(await h.sync("SCAN/repo"));
    expectMirrored(h, "SCAN/repo");
  });
});
