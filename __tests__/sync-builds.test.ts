/**
 * `npm run sync`'s decisions without I/O (the command runs end to end on the emulator in
 * test/ops/sync.test.ts): how `--wait` paces its polls and gives up, which line a failed build
 * reports, and which names are refused. The clock and the pauses are the test's: nothing sleeps.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { BatchGetBuildsCommand, type Build, type CodeBuildClient } from "@aws-sdk/client-codebuild";
import { lastErrorLine } from "../scripts/ops/build-logs";
import { resolveNames, type SyncBuild, summaryLine, waitForBuilds } from "../scripts/ops/sync-builds";
import { validateStackConfig } from "../lib/validation";

const example = JSON.parse(readFileSync(path.join(__dirname, "../config/example.json"), "utf8"));

const started = (n: number): SyncBuild[] =>
  Array.from({ length: n }, (_, i) => ({ key: `P/r${i}`, buildProject: `x-mirror-r${i}`, buildId: `x-mirror-r${i}:id`, status: "IN_PROGRESS", error: null, startTime: null, endTime: null }));

/** A CodeBuild client whose builds end at the `polls`-th poll; records each BatchGetBuilds call's ids. */
function fakeCodeBuild(polls: number, end: Partial<Build> = { buildStatus: "SUCCEEDED" }) {
  const calls: string[][] = [];
  let poll = 0;
  const client = {
    send: async (command: unknown) => {
      if (!(command instanceof BatchGetBuildsCommand)) throw new Error("unexpected call");
      const ids = command.input.ids ?? [];
      calls.push(ids);
      if (ids[0] === "x-mirror-r0:id") poll++; // a poll's first call starts with the first build
      return { builds: ids.map((id) => ({ id, ...(poll >= polls ? end : { buildStatus: "IN_PROGRESS" }) })), buildsNotFound: [] };
    },
  };
  return { client: client as unknown as CodeBuildClient, calls };
}

test("--wait polls at once, then pauses 5, 10, 20, 30, 30 ... seconds (the first pause doubling up to 30)", async () => {
  const pauses: number[] = [];
  let clock = 0;
  const { client, calls } = fakeCodeBuild(6);
  const result = await waitForBuilds(client, started(2), {
    firstPauseSeconds: 5,
    timeoutSeconds: 3600,
    sleep: async (ms) => {
      pauses.push(ms / 1000);
      clock += ms;
    },
    now: () => clock,
  });
  expect(pauses).toEqual([5, 10, 20, 30, 30]);
  expect(calls).toHaveLength(6);
  expect(result.timedOut).toBe(false);
  expect(result.builds.map((b) => b.status)).toEqual(["SUCCEEDED", "SUCCEEDED"]);
});

test("--wait gives up at the timeout, the last pause cut to what is left, and says which builds still run", async () => {
  const pauses: number[] = [];
  let clock = 0;
  const { client } = fakeCodeBuild(Number.POSITIVE_INFINITY);
  const running: number[] = [];
  const result = await waitForBuilds(client, started(1), {
    firstPauseSeconds: 5,
    timeoutSeconds: 60,
    onPoll: (r) => running.push(r.length),
    sleep: async (ms) => {
      pauses.push(ms / 1000);
      clock += ms;
    },
    now: () => clock,
  });
  expect(pauses).toEqual([5, 10, 20, 25]);
  expect(result.timedOut).toBe(true);
  expect(result.builds[0].status).toBe("IN_PROGRESS");
  expect(summaryLine(result.builds)).toBe("1 build: 0 succeeded, 1 still running");
});

test("at most 100 build ids per BatchGetBuilds call (CodeBuild's limit)", async () => {
  const { client, calls } = fakeCodeBuild(1);
  await waitForBuilds(client, started(250), { firstPauseSeconds: 0, timeoutSeconds: 60, sleep: async () => {} });
  expect(calls.map((c) => c.length)).toEqual([100, 100, 50]);
});

test("a build that did not succeed reports the last phase that did not, with its status code and message", () => {
  const build: Build = {
    buildStatus: "FAILED",
    phases: [
      { phaseType: "PROVISIONING", phaseStatus: "SUCCEEDED", contexts: [{ statusCode: "", message: "" }] },
      { phaseType: "BUILD", phaseStatus: "FAILED", contexts: [{ statusCode: "COMMAND_EXECUTION_ERROR", message: "Error while executing command: bash x.sh.\nReason: exit status 1" }] },
      { phaseType: "POST_BUILD", phaseStatus: "SUCCEEDED", contexts: [{ statusCode: "", message: "" }] },
      { phaseType: "COMPLETED" },
    ],
  };
  expect(lastErrorLine(build)).toBe("BUILD: COMMAND_EXECUTION_ERROR: Error while executing command: bash x.sh. Reason: exit status 1");
  expect(lastErrorLine({ buildStatus: "STOPPED", phases: [{ phaseType: "BUILD", phaseStatus: "STOPPED" }] })).toBeNull();
});

test("names: unknown ones first (with a case-insensitive suggestion), then unapplied ones; --all is every configured one", () => {
  const config = validateStackConfig({ ...example, repositories: [{ projectKey: "SHOP", repository: "api" }, { projectKey: "SHOP", repository: "web" }] });
  const outputs = { "SHOP/api": { webhook_url: "u", codecommit_repository: "api", build_project: "m-mirror-api" } };
  expect(() => resolveNames(["shop/API", "X/y"], false, config, "c.json", outputs)).toThrow(
    "not repositories of the configuration c.json: shop/API (did you mean SHOP/api?), X/y; its `repositories` list the known ones as PROJECT/REPO (npm run sync -- --all starts them all); nothing was started",
  );
  expect(() => resolveNames([], true, config, "c.json", outputs)).toThrow("SHOP/web is in the configuration but not in the stack's outputs (apply first); nothing was started");
  expect(resolveNames(["SHOP/api", "SHOP/api"], false, config, "c.json", outputs)).toEqual([{ key: "SHOP/api", buildProject: "m-mirror-api", logGroup: null }]);
});
