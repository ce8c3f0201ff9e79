/**
 * "No push left unmirrored" (docs/safety-net.md) through webhooks: a Backlog sender stand-in
 * (support/backlog-sender.ts; retries on 5xx with an ASSUMED count and back-off, Backlog documents
 * neither) delivers pushes through the API Gateway stand-in (synthesized templates, integration
 * responses, resource policy) to StartBuild on the emulator; the CodeBuild stand-in runs the started
 * builds; refs are compared exactly with the source.
 *
 * What the stand-ins cannot express, and so is not tested here:
 *   - API Gateway stage throttling (synthesized `aws_api_gateway_method_settings`) answers 429 on
 *     real API Gateway; the stand-in does not throttle. A 429 is a 4xx, which Backlog is only known
 *     to retry for 5xx (so modelled here as not retried): such a push would wait for the next push
 *     or the scheduled re-sync.
 *   - The optional WAFv2 rate rule (403 from WAF) is not emulated either; same consequence.
 *   - The scheduled re-sync (EventBridge → StartBuild) is not run here; the "all deliveries refused"
 *     scenario shows the next push healing the mirror instead.
 *   - Real CodeBuild's refusals (account concurrency limit, throttling) cannot be produced by moto; the
 *     refusal used here is a real one moto does produce: StartBuild for a project that does not exist
 *     at that moment (400 ResourceNotFoundException), which the synthesized integration responses map
 *     the same way (every CodeBuild 4xx → the same 5xx).
 */
import { render } from "velocityjs";
import { DeleteProjectCommand } from "@aws-sdk/client-codebuild";
import { ASSUMED_FIRST_BACKOFF_MS, ASSUMED_RETRIES, BacklogSender, type Push, ZERO_ID } from "../../tools/e2e/backlog-sender";
import { expectMirrored, expectSoundMirror, expectSucceeded } from "../../tools/e2e/expect-mirror";
import { createEmulatedProject, Harness, SPACE } from "../../tools/e2e/harness";
import { sleep, waitFor } from "../../tools/e2e/proc";
import { terraformLiteral } from "../../tools/terraform/template";

const PROJECT_KEY = "E2E";
const REPOS = ["retry", "burst", "given-up"];
let h: Harness;
let sender: BacklogSender;

beforeAll(async () => {
  h = await Harness.start({ hostKeys: "config", repositories: REPOS.map((repository) => ({ projectKey: PROJECT_KEY, repository })) });
  sender = new BacklogSender(h.api, { space: SPACE });
  for (const r of REPOS) {
    const src = h.source(`${PROJECT_KEY}/${r}`);
    src.commit(`initial ${r}`);
    src.push("main");
    expectSucceeded(await h.sync(`${PROJECT_KEY}/${r}`));
  }
}, 90_000);

afterAll(async () => {
  await h?.stop();
});

/** The Backlog push for `ref` of `repository`, `before` being what the mirror had. */
function pushOf(repository: string, ref: string, before: string, after: string): Push {
  return { projectKey: PROJECT_KEY, repository, ref, before, after };
}

/** The synthesized integration response selected for a back-end status, and its JSON template. */
function synthesizedResponseFor(repository: string, backendStatus: number): { status: number; template: string } {
  // One route serves every repository (lib/webhook-routing.ts); its table selects the project.
  const route = h.stack.apiRoutes().find((r) => r.path === "/{project}/{repo}");
  if (route === undefined) throw new Error(`no route for ${repository}`);
  const selected =
    route.integrationResponses.find((r) => r.selection_pattern && new RegExp(`^(?:${r.selection_pattern})$`).test(String(backendStatus))) ??
    route.integrationResponses.find((r) => !r.selection_pattern);
  if (selected === undefined) throw new Error(`no integration response for ${backendStatus}`);
  return { status: Number(selected.status_code), template: terraformLiteral(selected.response_templates["application/json"], "a response template") };
}

/**
 * The body API Gateway renders from a refusal template for CodeBuild's error type, for a request to
 * `repository`'s webhook URL: the synthesized template rendered by a VTL engine, with
 * `$input.path('$.__type')` answering that type; for a configured repository no status override.
 */
function refusalBody(template: string, repository: string, errorType: string): unknown {
  expect(template).toContain("$util.escapeJavaScript($input.path('$.__type'))");
  const context = { path: `/${h.stack.stageName()}/${PROJECT_KEY}/${repository}`, responseOverride: {} as Record<string, unknown> };
  const body = render(template, {
    input: {
      path: (p: string) => (p === "$.__type" ? errorType : undefined),
      // The route table is keyed on the path parameters (lib/webhook-routing.ts).
      params: () => ({ path: { project: PROJECT_KEY, repo: repository }, querystring: {}, header: {} }),
    },
    util: { escapeJavaScript: (v: unknown) => JSON.stringify(String(v)).slice(1, -1) },
    context,
  });
  expect(context.responseOverride).toEqual({});
  return JSON.parse(body);
}

test("a push whose first webhook delivery is refused by CodeBuild (5xx) is mirrored after Backlog's retry", async () => {
  const repository = "retry";
  const key = `${PROJECT_KEY}/${repository}`;
  const src = h.source(key);
  const project = h.projectOf(key);
  const before = h.codecommitRefs(key).get("refs/heads/main")!;
  src.commit("work pushed while CodeBuild refuses", { "app.txt": "v2\n" });
  src.git("tag", "-a", "v2", "-m", "release 2");
  src.git("branch", "hotfix", "HEAD~1");
  src.push("main", "hotfix", "v2");
  const after = src.git("rev-parse", "HEAD");

  // A REAL refusal on the emulator: at the first delivery the route's project does not exist, so
  // StartBuild answers 400 ResourceNotFoundException. It is back before Backlog's retry.
  await h.codebuild.send(new DeleteProjectCommand({ name: project }));
  const callsBefore = h.api.calls.length;
  let startedByRefusal: string[] | undefined;
  const delivery = await sender.deliver(pushOf(repository, "refs/heads/main", before, after), {
    onAnswer: async ({ attempt }) => {
      if (attempt !== 1) return;
      startedByRefusal = (await h.startNewBuilds()).map((b) => b.buildId);
      await createEmulatedProject(h.codebuild, h.stack, project);
    },
  });

  // What CodeBuild answered to each attempt (the route's own project both times).
  const calls = h.api.calls.slice(callsBefore);
  expect(calls.map((c) => c.status)).toEqual([400, 200]);
  for (const c of calls) expect(JSON.parse(c.body)).toEqual({ projectName: project });
  const errorType = JSON.parse(calls[0].responseBody).__type as string;
  expect(errorType).toBe("ResourceNotFoundException");

  // First answer: the synthesized 5xx with the synthesized body; nothing started.
  expect(delivery.attempts).toHaveLength(2);
  const [refused, retried] = delivery.attempts;
  const mapped = synthesizedResponseFor(repository, 400);
  expect(refused.response.status).toBe(mapped.status);
  expect(refused.response.status).toBeGreaterThanOrEqual(500);
  expect(JSON.parse(refused.response.body)).toEqual(refusalBody(mapped.template, repository, errorType));
  expect(JSON.parse(refused.response.body)).toMatchObject({ started: false, error: "ResourceNotFoundException" });
  expect(startedByRefusal).toEqual([]);

  // Backlog's retry, after the back-off: 200 with the id of the build it started.
  expect(retried.atMs).toBeGreaterThanOrEqual(ASSUMED_FIRST_BACKOFF_MS);
  expect(retried.response.status).toBe(200);
  expect(delivery.delivered).toBe(true);
  const { started, buildId } = JSON.parse(retried.response.body) as { started: boolean; buildId: string };
  expect(started).toBe(true);
  expect(buildId).toBe(JSON.parse(calls[1].responseBody).build.id);
  expect(buildId.startsWith(`${project}:`)).toBe(true);

  // The CodeBuild stand-in runs exactly that build, and it mirrors the push.
  const builds = await h.startNewBuilds();
  expect(builds.map((b) => b.buildId)).toEqual([buildId]);
  expectSucceeded(await builds[0].done);
  expect(h.codecommitRefs(key).get("refs/heads/main")).toBe(after);
  expectMirrored(h, key);
});

test("pushes that arrive while a sync runs each start a build; the running sync fetches once more for all of them and the last push is mirrored", async () => {
  const repository = "burst";
  const key = `${PROJECT_KEY}/${repository}`;
  const src = h.source(key);
  const project = h.projectOf(key);
  // No project concurrency limit is synthesized, so CodeBuild starts every build (none is refused).
  expect(h.stack.project(project).concurrent_build_limit).toBeUndefined();
  const ids = (): Map<string, string> => src.mirroredRefs();

  // Push 1 starts a sync, which is held at the CodeCommit gate while it holds the mirror lock.
  let mirrored = h.codecommitRefs(key);
  src.commit("push 1");
  src.push("main");
  h.codecommit.holdPushes(repository);
  const builds = [];
  const deliveries = [];
  try {
    deliveries.push(await sender.deliver(pushOf(repository, "refs/heads/main", mirrored.get("refs/heads/main")!, ids().get("refs/heads/main")!)));
    builds.push(...(await h.startNewBuilds()));
    expect(builds).toHaveLength(1);
    await waitFor("the first sync to hold its push", () => h.codecommit.isPushHeld(repository));
    mirrored = ids();

    // Pushes 2..5 land on Backlog in quick succession, each delivered at once, each build started at once.
    const pushes: Array<[string, () => void]> = [
      [
        "refs/heads/feature",
        () => {
          src.git("checkout", "--quiet", "-b", "feature");
          src.commit("push 2: a branch");
          src.push("feature");
          src.git("checkout", "--quiet", "main");
        },
      ],
      [
        "refs/tags/v2",
        () => {
          src.git("tag", "-a", "v2", "-m", "push 3: a tag", "main");
          src.push("v2");
        },
      ],
      [
        "refs/heads/main",
        () => {
          src.git("reset", "--quiet", "--hard", "HEAD~1");
          src.commit("push 4: history rewritten");
          src.push("main");
        },
      ],
      ["refs/heads/feature", () => src.push(":feature")],
    ];
    for (const [ref, push] of pushes) {
      push();
      const now = ids();
      deliveries.push(await sender.deliver(pushOf(repository, ref, mirrored.get(ref) ?? ZERO_ID, now.get(ref) ?? ZERO_ID)));
      mirrored = now;
      builds.push(...(await h.startNewBuilds()));
    }

    // Every delivery was answered 200 at the first attempt, each with its own build, each started.
    expect(deliveries.map((d) => d.attempts.map((a) => a.response.status))).toEqual(deliveries.map(() => [200]));
    const buildIds = deliveries.map((d) => JSON.parse(d.final.body).buildId as string);
    expect(new Set(buildIds).size).toBe(deliveries.length);
    expect(builds.map((b) => b.buildId)).toEqual(buildIds);

    // Coalesced on the mirror: while the first holds the lock, each other build asks it for one more fetch.
    for (const b of builds.slice(1)) await waitFor(`build ${b.buildId} to ask for a fetch`, () => b.log().includes("asked it for fetch #"));
    await sleep(500);
    expect(builds.map((b) => b.log().includes("lock acquired"))).toEqual(builds.map((_, i) => i === 0));
  } finally {
    h.codecommit.releasePushes(repository);
  }
  const results = await Promise.all(builds.map((b) => b.done));
  results.forEach(expectSucceeded);
  // The first build fetched once more after its push, for all four; they ended without work.
  expect(results[0].log).toContain("builds started during this sync asked for another fetch");
  // (each ends when the fetch it asked for starts: seen while waiting, or just after the holder ended)
  for (const r of results.slice(1)) expect(r.log).toMatch(/fetch #\d+ started in the (running sync|sync that just ended): it carr(ies|ied) this build's push; nothing left to do/);

  // The last push (main rewritten, feature deleted, tag v2 kept) is what CodeCommit holds.
  const last = src.mirroredRefs();
  expect(last.has("refs/heads/feature")).toBe(false);
  expect(h.codecommitRefs(key).get("refs/heads/main")).toBe(last.get("refs/heads/main"));
  expect(h.codecommitRefs(key).get("refs/tags/v2")).toBe(last.get("refs/tags/v2"));
  expectMirrored(h, key);
  expectSoundMirror(h, key);
});

test("a push whose every delivery is refused is not lost: the next push's delivery mirrors both", async () => {
  const repository = "given-up";
  const key = `${PROJECT_KEY}/${repository}`;
  const src = h.source(key);
  const project = h.projectOf(key);
  const mirroredBefore = h.codecommitRefs(key);
  const lost = src.commit("push whose webhook Backlog gives up on");
  src.git("tag", "lost-tag");
  src.push("main", "lost-tag");

  await h.codebuild.send(new DeleteProjectCommand({ name: project }));
  let given: Awaited<ReturnType<BacklogSender["deliver"]>>;
  try {
    given = await sender.deliver(pushOf(repository, "refs/heads/main", mirroredBefore.get("refs/heads/main")!, lost));
  } finally {
    await createEmulatedProject(h.codebuild, h.stack, project);
  }
  // Backlog (as assumed) tries 1 + ASSUMED_RETRIES times, gets the synthesized 5xx each time, and stops.
  expect(given.attempts.map((a) => a.response.status)).toEqual(Array(ASSUMED_RETRIES + 1).fill(synthesizedResponseFor(repository, 400).status));
  expect(given.delivered).toBe(false);
  expect(await h.startNewBuilds()).toEqual([]);
  expect(h.codecommitRefs(key)).toEqual(mirroredBefore);

  // The next push to any ref of the repository starts a sync, which fetches everything: both pushes.
  src.git("checkout", "--quiet", "-b", "next");
  const next = src.commit("the next push");
  src.push("next");
  const delivery = await sender.deliver(pushOf(repository, "refs/heads/next", ZERO_ID, next));
  expect(delivery.attempts.map((a) => a.response.status)).toEqual([200]);
  const builds = await h.startNewBuilds();
  expect(builds).toHaveLength(1);
  expectSucceeded(await builds[0].done);
  expect(h.codecommitRefs(key).get("refs/heads/main")).toBe(lost);
  expect(h.codecommitRefs(key).has("refs/tags/lost-tag")).toBe(true);
  expectMirrored(h, key);
});

test("Backlog stand-in: a 4xx answer is not retried (a delivery to a path with no route is sent once and starts nothing)", async () => {
  const delivery = await sender.deliver(pushOf("no-such-repo", "refs/heads/main", ZERO_ID, "1".repeat(40)));
  const custom = h.stack.resources("aws_api_gateway_gateway_response").find(([, r]) => r.response_type === "MISSING_AUTHENTICATION_TOKEN");
  expect(custom).toBeDefined();
  expect(delivery.attempts).toHaveLength(1);
  expect(delivery.final.status).toBe(Number(custom![1].status_code));
  expect(delivery.final.status).toBeLessThan(500);
  expect(await h.startNewBuilds()).toEqual([]);
});
