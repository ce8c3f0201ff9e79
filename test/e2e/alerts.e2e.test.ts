/**
 * "Hear once when it breaks, once when it heals" (issue 18 item 1), end to end: real syncs run by the
 * CodeBuild stand-in end, their logs and state-change events go to the emulator (tools/e2e/build-events.ts),
 * and from there everything is the synthesized stack run by the emulator: the rule's pattern, the
 * target's input transformer, the state machine's definition (moto's ASL interpreter), the state
 * table and the topic. The notifications are counted on an SQS queue subscribed to the topic.
 *
 * Then the state machine alone, started as EventBridge would with crafted events: the orderings a
 * real account can produce and a sequence of real builds cannot (a duplicate delivery, an older
 * event arriving late, a build that faulted before writing a log, the safety net's out-of-sync).
 */
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { StartExecutionCommand, SFNClient, ListStateMachinesCommand } from "@aws-sdk/client-sfn";
import { ALERT_SUBJECTS, type AlertInput } from "../../lib/alert-states";
import { expectMirrored, expectSucceeded } from "../../tools/e2e/expect-mirror";
import { ACCOUNT_ID, Harness } from "../../tools/e2e/harness";
import { EMULATOR_ENV } from "../../tools/emulator/moto";

const KEY = "E2E/alerting";
let h: Harness;

beforeAll(async () => {
  h = await Harness.start({
    hostKeys: "config",
    repositories: [
      { projectKey: "E2E", repository: "alerting" },
      { projectKey: "E2E", repository: "crafted" },
      { projectKey: "E2E", repository: "behind" },
    ],
    alerts: true,
  });
  const src = h.source(KEY);
  src.commit("initial");
  src.push("main");
}, 90_000);

afterAll(async () => {
  await h?.stop();
});

const events = () => {
  if (h.buildEvents === undefined) throw new Error("the harness runs without alerts");
  return h.buildEvents;
};

describe("real syncs: fail, fail, fail, succeed", () => {
  test("notify twice: once when the repository starts failing (with its error line), once when it recovers", async () => {
    // Backlog refuses the key: every sync fails with the same error.
    h.ssh.authorize([]);
    for (let i = 0; i < 3; i++) {
      const r = await h.sync(KEY);
      expect(r.succeeded).toBe(false);
      expect(r.log).toContain("Permission denied (publickey)");
    }
    await events().settled();
    const failing = await events().notifications();
    expect(failing.map((n) => n.subject)).toEqual([ALERT_SUBJECTS.failing]);
    expect(failing[0].message).toContain(`Backlog mirror: ${h.projectOf(KEY)} is failing`);
    expect(failing[0].message).toContain("ended FAILED");
    // The build's own last error line, read from its log.
    expect(failing[0].message).toMatch(/Its last error: \[mirror\] ERROR: .*Permission denied \(publickey\)/);
    // One paragraph: the log line's own newline (CodeBuild's events end with one) ends the message.
    expect(failing[0].message.trimEnd()).not.toContain("\n");

    h.ssh.authorize([h.clientKey.publicKey]);
    const healed = await h.sync(KEY);
    expectSucceeded(healed);
    expectMirrored(h, KEY);
    await events().settled();
    const all = await events().notifications();
    expect(all.map((n) => n.subject)).toEqual([ALERT_SUBJECTS.failing, ALERT_SUBJECTS.recovered]);
    expect(all[1].message).toContain(`Backlog mirror: ${h.projectOf(KEY)} recovered`);
    expect(all[1].message).toContain(`(failing since `);
  }, 120_000);

  test("a healthy repository's successful syncs notify nothing", async () => {
    const before = (await events().notifications()).length;
    expectSucceeded(await h.sync(KEY));
    await events().settled();
    expect((await events().notifications()).length).toBe(before);
  }, 60_000);
});

describe("the state machine, with the events a real account can produce", () => {
  let client: SFNClient;
  let machineArn: string;
  let count = 0;
  beforeAll(async () => {
    client = new SFNClient({
      endpoint: h.emulator.endpoint,
      region: EMULATOR_ENV.AWS_REGION,
      credentials: { accessKeyId: EMULATOR_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: EMULATOR_ENV.AWS_SECRET_ACCESS_KEY },
    });
    const machines = (await client.send(new ListStateMachinesCommand({}))).stateMachines ?? [];
    machineArn = machines[0].stateMachineArn!;
  });

  /** Starts the machine with `input` as EventBridge or the safety net would, and waits for it to end. */
  const deliver = async (input: AlertInput) => {
    await client.send(new StartExecutionCommand({ stateMachineArn: machineArn, name: `crafted-${count++}`, input: JSON.stringify(input) }));
    await events().settled();
  };
  const project = () => h.projectOf("E2E/crafted");
  const at = (second: number) => `2030-01-01T00:00:${String(second).padStart(2, "0")}Z`;
  const newNotifications = async (before: number) => (await events().notifications()).slice(before);

  test("a fault without a log, a duplicate delivery, an older event and an out-of-sync report: one notification; the recovery: one", async () => {
    const before = (await events().notifications()).length;
    const fault: AlertInput = { project: project(), status: "FAULT", time: at(10), build: "b-10", reason: "its sync build b-10 ended FAULT", logGroup: null, logStream: null };
    await deliver(fault);
    await deliver(fault); // EventBridge delivers at least once
    await deliver({ ...fault, status: "SUCCEEDED", time: at(5), build: "b-5" }); // an older success, arriving late
    await deliver({
      project: project(),
      status: "OUT_OF_SYNC",
      time: at(20),
      build: "verify-1",
      reason: "out of sync with Backlog for 25 hours",
    });
    const failing = await newNotifications(before);
    expect(failing.map((n) => n.subject)).toEqual([ALERT_SUBJECTS.failing]);
    expect(failing[0].message).toContain("its sync build b-10 ended FAULT");
    expect(failing[0].message).not.toContain("Its last error");

    // Two builds ending within the same second are both recorded.
    await deliver({ ...fault, status: "SUCCEEDED", time: at(20), build: "b-20" });
    const all = await newNotifications(before);
    expect(all.map((n) => n.subject)).toEqual([ALERT_SUBJECTS.failing, ALERT_SUBJECTS.recovered]);
    expect(all[1].message).toContain(`(failing since ${at(10)})`);
  }, 60_000);
});

describe("the safety net reports a repository out of sync past the alarm window", () => {
  test("by name, once; the sync it starts heals it and says so; the next run finds it in sync and says nothing", async () => {
    const before = (await events().notifications()).length;
    const behind = h.source("E2E/behind");
    behind.commit("pushed while every webhook was lost");
    behind.push("main");
    // Its record: last found in sync 26 hours ago (the alarm window is 25).
    const variable = (h.stack.project(h.verifyProject()).environment.environment_variable as Array<{ name: string; value: string }>).find(
      (v) => v.name === "IN_SYNC_STATE_URI",
    )!;
    const [, bucket, key] = /^s3:\/\/([^/]+)\/(.+)$/.exec(h.stack.resolve(variable.value, { accountId: ACCOUNT_ID, region: EMULATOR_ENV.AWS_REGION }))!;
    const now = Math.floor(Date.now() / 1000);
    await h.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `E2E/alerting ${now}\nE2E/crafted ${now}\nE2E/behind ${now - 26 * 3600}\n` }));

    const first = await h.runBuildWithStarted(h.verifyProject());
    expect(first.result.succeeded).toBe(true);
    expect(first.result.log).toContain("1 reported out of sync");
    expect(first.started.map((b) => b.buildId.split(":")[0])).toEqual([h.projectOf("E2E/behind")]);
    expectSucceeded(await first.started[0].done);
    await events().settled();
    const notes = (await events().notifications()).slice(before);
    expect(notes.map((n) => n.subject)).toEqual([ALERT_SUBJECTS.failing, ALERT_SUBJECTS.recovered]);
    expect(notes[0].message).toContain(`Backlog mirror: ${h.projectOf("E2E/behind")} is failing`);
    expect(notes[0].message).toContain("the safety net found E2E/behind out of sync with Backlog for 26 hours or more");
    expect(notes[1].message).toContain(`Backlog mirror: ${h.projectOf("E2E/behind")} recovered`);

    const next = await h.runBuildWithStarted(h.verifyProject());
    expect(next.result.log).toContain("0 reported out of sync");
    expect(next.started).toEqual([]);
    await events().settled();
    expect((await events().notifications()).length).toBe(before + 2);
  }, 120_000);
});
