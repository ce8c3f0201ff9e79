/**
 * The decisions of `npm run discover` and `npm run status`, without I/O (the commands themselves
 * run end to end in `npm run test:ops`): which entries discover adds or refuses, how --write edits
 * the file's text, and which verdict status gives.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import type { BuildSummary } from "../scripts/ops/aws";
import { appendRepositories } from "../scripts/ops/config-file";
import { planDiscovery } from "../scripts/ops/discovery-plan";
import { exitCode, FAILED_BUILD_STATES, judge, lagSummary, median, renderTable, type StatusInputs } from "../scripts/ops/verdicts";
import { validateStackConfig } from "../lib/validation";

const example = JSON.parse(readFileSync(path.join(__dirname, "../config/example.json"), "utf8"));
const config = (repositories: object[]) => validateStackConfig({ ...example, repositories });

describe("discover's plan", () => {
  test("a name taken by an earlier new entry is refused, citing that entry's future index", () => {
    const plan = planDiscovery(config([{ projectKey: "DEMO", repository: "web-app", codecommitRepository: "demo-web-app" }]), [
      { projectKey: "SHOP", repositories: ["api", "web-app"] },
      { projectKey: "DATA", repositories: ["api"] },
    ]);
    expect(plan.added).toEqual([
      { projectKey: "SHOP", repository: "api" },
      { projectKey: "SHOP", repository: "web-app" },
    ]);
    expect(plan.added).not.toContainEqual({ projectKey: "DEMO", repository: "web-app" });
    expect(plan.refused).toEqual([
      {
        projectKey: "DATA",
        repository: "api",
        reasons: [
          '`codecommitRepository` must be unique, but the CodeCommit repository name "api" is also used by repositories[1]; set codecommitRepository to tell them apart, got: nothing (defaults to "api")',
        ],
      },
    ]);
  });

  test("entries past the 200-repository limit are refused with the count, not the list", () => {
    const full = config(Array.from({ length: 199 }, (_, i) => ({ projectKey: "A", repository: `r${i}` })));
    const plan = planDiscovery(full, [{ projectKey: "B", repositories: ["x", "y"] }]);
    expect(plan.added).toEqual([{ projectKey: "B", repository: "x" }]);
    expect(plan.refused).toEqual([
      { projectKey: "B", repository: "y", reasons: ["`repositories` must list at most 200 repositories (API Gateway resource quota), and this entry would be number 201"] },
    ]);
  });

  test("a project key the rules refuse is reported with its rule", () => {
    const plan = planDiscovery(config([{ projectKey: "DEMO", repository: "web-app" }]), [{ projectKey: "shop", repositories: ["x"] }]);
    expect(plan.refused[0].reasons[0]).toMatch(/^`projectKey` must be a Backlog project key: .*, got: "shop"$/);
  });
});

describe("--write's text edit", () => {
  const entries = [{ projectKey: "A", repository: "b" }];

  test("CRLF line endings and tab indentation are kept", () => {
    const text = '{\r\n\t"repositories": [\r\n\t\t{\r\n\t\t\t"projectKey": "X",\r\n\t\t\t"repository": "y"\r\n\t\t}\r\n\t]\r\n}\r\n';
    expect(appendRepositories(text, entries)).toBe(
      '{\r\n\t"repositories": [\r\n\t\t{\r\n\t\t\t"projectKey": "X",\r\n\t\t\t"repository": "y"\r\n\t\t},\r\n\t\t{\r\n\t\t\t"projectKey": "A",\r\n\t\t\t"repository": "b"\r\n\t\t}\r\n\t]\r\n}\r\n',
    );
  });

  test("a list written on one line stays on one line, in its spacing", () => {
    expect(appendRepositories('{"repositories":[{"projectKey":"X","repository":"y"}],"name":"n"}', entries)).toBe(
      '{"repositories":[{"projectKey":"X","repository":"y"}, {"projectKey":"A","repository":"b"}],"name":"n"}',
    );
    expect(appendRepositories('{ "repositories": [{ "projectKey": "X", "repository": "y" }, { "projectKey": "Z", "repository": "w" }] }', entries)).toBe(
      '{ "repositories": [{ "projectKey": "X", "repository": "y" }, { "projectKey": "Z", "repository": "w" }, { "projectKey": "A", "repository": "b" }] }',
    );
  });

  test("a nested `repositories` key elsewhere is not touched", () => {
    const text = '{\n  "tags": { "repositories": "x" },\n  "repositories": [\n    { "projectKey": "X", "repository": "y" }\n  ]\n}\n';
    expect(appendRepositories(text, entries)).toBe(
      '{\n  "tags": { "repositories": "x" },\n  "repositories": [\n    { "projectKey": "X", "repository": "y" },\n    { "projectKey": "A", "repository": "b" }\n  ]\n}\n',
    );
  });
});

describe("status's verdict", () => {
  const now = new Date("2026-11-29T12:00:00Z");
  const at = (minutesAgo: number) => new Date(now.getTime() - minutesAgo * 60_000);
  const build = (status: string, startedMinutesAgo: number): BuildSummary => ({
    id: `p:${status}-${startedMinutesAgo}`,
    status,
    startTime: at(startedMinutesAgo),
    endTime: status === "IN_PROGRESS" ? null : at(startedMinutesAgo - 1),
    durationSeconds: status === "IN_PROGRESS" ? null : 60,
    phases: { queued: 2, provisioning: 41, build: 15 },
    phaseError: (FAILED_BUILD_STATES as readonly string[]).includes(status) ? "BUILD: COMMAND_EXECUTION_ERROR: exit status 1" : null,
    log: { group: "/aws/codebuild/n-mirror-r", stream: `${status}-${startedMinutesAgo}` },
  });
  const output = { webhook_url: "https://api/prod/P/r", codecommit_repository: "r", build_project: "n-mirror-r" };
  const base = (over: Partial<StatusInputs>): StatusInputs => ({
    key: "P/r",
    output,
    backlog: { name: "r", sshUrl: "s@s.git.backlog.com:/P/r.git", hookUrl: output.webhook_url, pushedAt: at(120).toISOString() },
    builds: { builds: [build("SUCCEEDED", 100)] },
    head: { defaultBranch: "main", commitId: "c".repeat(40) },
    now,
    graceMinutes: 15,
    ...over,
  });

  test.each([
    ["a sync started after the last push", "current", {}],
    ["never pushed, never synced", "current", { backlog: { name: "r", sshUrl: "", hookUrl: output.webhook_url, pushedAt: null }, builds: { builds: [] } }],
    ["pushed within the grace period", "current", { builds: { builds: [build("SUCCEEDED", 130)] }, backlog: { name: "r", sshUrl: "", hookUrl: output.webhook_url, pushedAt: at(10).toISOString() } }],
    ["pushed, a sync running since", "current", { builds: { builds: [build("IN_PROGRESS", 60), build("SUCCEEDED", 300)] } }],
    ["pushed, the last successful sync older", "behind", { builds: { builds: [build("SUCCEEDED", 130)] } }],
    ["pushed, never synced", "behind", { builds: { builds: [] } }],
    ["a FAULT sync, then one running", "failing", { builds: { builds: [build("IN_PROGRESS", 5), build("FAULT", 50)] } }],
    ["a TIMED_OUT sync, webhook missing too", "failing", { builds: { builds: [build("TIMED_OUT", 50)] }, backlog: { name: "r", sshUrl: "", hookUrl: null, pushedAt: null } }],
    ["an old failure, a success since", "current", { builds: { builds: [build("SUCCEEDED", 50), build("FAILED", 100)] } }],
    ["webhook elsewhere", "not wired", { backlog: { name: "r", sshUrl: "", hookUrl: "https://other/P/r", pushedAt: null } }],
    ["sync project gone", "not wired", { builds: { missing: true as const } }],
    ["CodeCommit repository gone", "not wired", { head: { missing: true as const } }],
    ["Backlog has no such repository", "not wired", { backlog: null }],
    ["Backlog could not be read", "unknown", { backlog: { error: "Backlog answered 403" } }],
    ["CodeBuild could not be read", "unknown", { builds: { error: "AccessDeniedException: no" } }],
  ] as [string, string, Partial<StatusInputs>][])("%s: %s", (_name, verdict, over) => {
    expect(judge(base(over)).verdict).toBe(verdict);
  });

  test("exit code: 0 only when all current, 2 when any is unknown", () => {
    const current = judge(base({}));
    const behind = judge(base({ builds: { builds: [] } }));
    const unknown = judge(base({ backlog: { error: "x" } }));
    expect(exitCode([current, current])).toBe(0);
    expect(exitCode([current, behind])).toBe(1);
    expect(exitCode([behind, unknown])).toBe(2);
  });

  test("the table has one row per repository and the reasons of those not current", () => {
    const lines = renderTable([judge(base({})), judge(base({ key: "P/s", builds: { builds: [] } }))]);
    expect(lines[0].split(/\s{2,}/)).toEqual(["REPOSITORY", "PUSHED (BACKLOG)", "WEBHOOK", "LAST SYNC", "ENDED", "TOOK", "QUEUED/PROV/BUILD", "LAG", "DEFAULT BRANCH HEAD", "VERDICT"]);
    expect(lines[1].split(/\s{2,}/)).toEqual(["P/r", "2026-11-29 10:00", "right", "SUCCEEDED", "2026-11-29 10:21", "1m00s", "2s/41s/15s", "21m00s", "main cccccccccccc", "current"]);
    expect(lines[2].split(/\s{2,}/)).toEqual(["P/s", "2026-11-29 10:00", "right", "-", "-", "-", "-", ">120m00s", "main cccccccccccc", "behind"]);
    expect(lines.slice(3)).toEqual([
      "",
      "2 repositories (times in UTC): 1 current, 1 behind",
      "lag (last push to mirrored): median 21m00s, max 21m00s over 1 repository; 1 not mirrored yet (oldest push 120m00s ago)",
      "  P/s: pushed at 2026-11-29T10:00:00Z (120 min ago), no successful sync since",
    ]);
  });

  test("lag: from the push to the end of the first successful sync that started after it, not the newest", () => {
    // Pushed 120 min ago; syncs started 100 (ended 99) and 50 min ago: the first one counts.
    const s = judge(base({ builds: { builds: [build("SUCCEEDED", 50), build("FAILED", 70), build("SUCCEEDED", 100), build("SUCCEEDED", 130)] } }));
    expect(s).toMatchObject({ lagSeconds: 21 * 60, behindSeconds: null });
    // A sync running since the push: not mirrored yet, behind by the push's age.
    expect(judge(base({ builds: { builds: [build("IN_PROGRESS", 60), build("SUCCEEDED", 300)] } }))).toMatchObject({ lagSeconds: null, behindSeconds: 120 * 60 });
    // Never pushed: neither.
    expect(judge(base({ backlog: { name: "r", sshUrl: "", hookUrl: output.webhook_url, pushedAt: null } }))).toMatchObject({ lagSeconds: null, behindSeconds: null });
  });

  test("the median of the lags and the summary line", () => {
    expect([median([5]), median([9, 1, 5]), median([1, 2, 3, 10])]).toEqual([5, 5, 3]);
    const lags = [30, 90, 600].map((l) => ({ ...judge(base({})), lagSeconds: l }));
    expect(lagSummary(lags)).toBe("lag (last push to mirrored): median 1m30s, max 10m00s over 3 repositories");
    expect(lagSummary([judge(base({ builds: { builds: [] } }))])).toBe("lag (last push to mirrored): no repository's last push is mirrored yet; 1 not mirrored yet (oldest push 120m00s ago)");
  });

  test("a failed last sync: its reason carries the script's error line from the log, else CodeBuild's phase message", () => {
    const failedBuilds = { builds: { builds: [build("FAILED", 30), build("SUCCEEDED", 100)] } };
    const fromPhase = judge(base(failedBuilds));
    expect(fromPhase.lastErrorLine).toBe("BUILD: COMMAND_EXECUTION_ERROR: exit status 1");
    expect(fromPhase.reasons[0]).toBe("the last sync FAILED at 2026-11-29T11:31:00Z (build p:FAILED-30): BUILD: COMMAND_EXECUTION_ERROR: exit status 1");
    const fromLog = judge(base({ ...failedBuilds, logs: { errorLine: "[mirror] ERROR: cannot reach Backlog", lfs: null } }));
    expect(fromLog.lastErrorLine).toBe("[mirror] ERROR: cannot reach Backlog");
    expect(judge(base({})).lastErrorLine).toBeNull();
  });

  test("a repository whose last sync reported Git LFS objects gets one line, current or not", () => {
    const lines = renderTable([judge(base({ logs: { errorLine: null, lfs: { objects: 2, atLeast: false } } }))]);
    expect(lines.at(-1)).toBe("  P/r: uses Git LFS: 2 LFS object(s) not mirrored, CodeCommit holds their pointer files (README, What it does not do)");
  });
});
