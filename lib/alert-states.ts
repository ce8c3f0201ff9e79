/**
 * "Tell once when it breaks, once when it heals": the alert state machine's definition (Amazon
 * States Language, JSONPath), the shape of its input, and the EventBridge input template that
 * turns a sync's "CodeBuild Build State Change" event into that input.
 *
 * Each repository (key: its sync project's name) has one item in a DynamoDB table: whether it is
 * failing, since when, and the time of the last outcome recorded. An outcome (a sync that ended,
 * or the safety net finding a mirror out of sync past the alarm window) is recorded with ONE
 * conditional UpdateItem that returns the previous item, and the transition decides:
 *
 * | previous        | outcome                          | notification                      |
 * |-----------------|----------------------------------|-----------------------------------|
 * | none or healthy | failed, faulted, timed out, stopped, out of sync | "PROJECT is failing: REASON" (+ the build's last `[mirror] ERROR:` line) |
 * | failing         | failure of any kind              | none                              |
 * | failing         | SUCCEEDED                        | "PROJECT recovered"               |
 * | none or healthy | SUCCEEDED                        | none                              |
 *
 * EventBridge delivers each event at least once and in no guaranteed order (EventBridge User Guide,
 * "Retrying events" and "Event delivery"; CodeBuild events are "best effort", EventBridge events
 * reference, "AWS CodeBuild events"). The condition (ISO 8601 UTC strings compare in time order)
 * makes a duplicate (the same build again) or an older event change nothing and notify nothing
 * (`DynamoDB.ConditionalCheckFailedException`, caught: Step Functions Developer Guide, "Handling
 * errors in Step Functions workflows", optimized integrations' errors are `SERVICE.NAME`). Events
 * carry whole seconds: two builds of one repository that end within the same second (a waiting
 * sync right after the one it waited for, lib/buildspec/mirror-sync.sh's lock) are both recorded,
 * in the order they arrive.
 *
 * The failure message names the build's last `[mirror] ERROR:` line, read from its log stream
 * with CloudWatch Logs FilterLogEvents (an AWS SDK integration) only on a transition to failing;
 * a log that cannot be read (or has no such line) leaves the line out, never the notification.
 *
 * If the notification cannot be published after its retries the execution fails, which the
 * state machine's own alarm reports (lib/alerts.ts, published by CloudWatch, not by this role).
 */

import { buildLogGroupName } from "./naming";

/** What the state machine is started with (by EventBridge for a sync's end, or by the safety net). */
export interface AlertInput {
  /** The sync project's name: the repository's key in the state table. */
  readonly project: string;
  /** The build's status (`SUCCEEDED`, `FAILED`, `FAULT`, `TIMED_OUT`, `STOPPED`) or {@link OUT_OF_SYNC_STATUS}. */
  readonly status: string;
  /** When it happened, ISO 8601 UTC (`2026-12-03T10:00:00Z`). */
  readonly time: string;
  /** The build that reports it (the sync's, or the safety net's run). */
  readonly build: string;
  /** One sentence for the message: what failed. */
  readonly reason: string;
  /** The build's log group and stream, where its last error line is looked up. @default - none */
  readonly logGroup?: string | null;
  readonly logStream?: string | null;
}

/** The status the safety net reports for a mirror that stayed out of sync past the alarm window. */
export const OUT_OF_SYNC_STATUS = "OUT_OF_SYNC";

/** The state table's partition key (a string: the sync project's name). */
export const ALERT_STATE_KEY = "project";

/** The marker of the sync script's error lines (lib/buildspec/mirror-sync.sh `fail`). */
export const SYNC_ERROR_MARKER = "[mirror] ERROR:";

/** Subjects of the two notifications (fixed: an SNS subject holds at most 100 characters, SNS API Reference, Publish). */
export const ALERT_SUBJECTS = { failing: "Backlog mirror failing", recovered: "Backlog mirror recovered" } as const;

/**
 * The EventBridge target's input transformer: a "CodeBuild Build State Change" event (CodeBuild
 * User Guide, "Build notifications input format reference") as an {@link AlertInput}. A variable
 * inside a quoted string is inserted without quotes (EventBridge User Guide, "Amazon EventBridge
 * input transformation").
 */
export const BUILD_EVENT_INPUT = {
  inputPaths: {
    project: "$.detail.project-name",
    status: "$.detail.build-status",
    build: "$.detail.build-id",
    time: "$.time",
    group: "$.detail.additional-information.logs.group-name",
    stream: "$.detail.additional-information.logs.stream-name",
  },
  inputTemplate:
    '{"project": <project>, "status": <status>, "time": <time>, "build": <build>, "reason": "its sync build <build> ended <status>", ' +
    '"logGroup": <group>, "logStream": <stream>}',
} as const;

/** Retries of a notification: SNS throttling or a transient error (three tries over about 14 s). */
const PUBLISH_RETRY = [{ ErrorEquals: ["States.ALL"], IntervalSeconds: 2, MaxAttempts: 3, BackoffRate: 2 }];

const WAS_FAILING = [
  { Variable: "$.previous.Attributes.failing.BOOL", IsPresent: true },
  { Variable: "$.previous.Attributes.failing.BOOL", BooleanEquals: true },
];

/** The recording step: one conditional UpdateItem returning the previous item. */
function record(tableName: string, failing: boolean, next: string): Record<string, unknown> {
  return {
    Type: "Task",
    Resource: "arn:aws:states:::dynamodb:updateItem",
    Parameters: {
      TableName: tableName,
      Key: { [ALERT_STATE_KEY]: { "S.$": "$.project" } },
      UpdateExpression: failing
        ? "SET failing = :failing, eventTime = :time, lastBuild = :build, lastStatus = :status, failingSince = if_not_exists(failingSince, :time)"
        : "SET failing = :failing, eventTime = :time, lastBuild = :build, lastStatus = :status REMOVE failingSince",
      ConditionExpression: "attribute_not_exists(eventTime) OR eventTime < :time OR (eventTime = :time AND lastBuild <> :build)",
      ExpressionAttributeValues: {
        ":failing": { BOOL: failing },
        ":time": { "S.$": "$.time" },
        ":build": { "S.$": "$.build" },
        ":status": { "S.$": "$.status" },
      },
      ReturnValues: "ALL_OLD",
    },
    // The whole answer: `Attributes` is absent when there was no item (a selector would fail on it).
    ResultPath: "$.previous",
    Catch: [{ ErrorEquals: ["DynamoDB.ConditionalCheckFailedException"], ResultPath: null, Next: "Stale" }],
    Next: next,
  };
}

function publish(topicArn: string, subject: string, message: string): Record<string, unknown> {
  return {
    Type: "Task",
    Resource: "arn:aws:states:::sns:publish",
    Parameters: { TopicArn: topicArn, Subject: subject, "Message.$": message },
    Retry: PUBLISH_RETRY,
    ResultPath: null,
    End: true,
  };
}

// The build's error line comes last: CodeBuild's log events end with a newline, which would
// otherwise break the sentence that follows it.
const FAILING_TEXT =
  `Backlog mirror: {} is failing (since {}): {}. Its log: CloudWatch Logs group ${buildLogGroupName("{}")}. ` +
  "No further alert for it until a sync of it succeeds; npm run status shows every repository.{}";

/** The state machine's definition for the stack's table and topic (names or references). */
export function alertStateMachineDefinition(props: { readonly tableName: string; readonly topicArn: string }): Record<string, unknown> {
  const { tableName, topicArn } = props;
  const failingMessage = (errorLine: string) =>
    `States.Format('${FAILING_TEXT}', $.project, $.time, $.reason, $.project, ${errorLine})`;
  return {
    Comment: "Backlog mirror alerts: one notification when a repository starts failing, one when it recovers (lib/alert-states.ts)",
    StartAt: "Outcome",
    States: {
      Outcome: {
        Type: "Choice",
        Choices: [{ Variable: "$.status", StringEquals: "SUCCEEDED", Next: "RecordHealthy" }],
        Default: "RecordFailing",
      },
      RecordFailing: record(tableName, true, "WasFailing"),
      WasFailing: { Type: "Choice", Choices: [{ And: WAS_FAILING, Next: "Quiet" }], Default: "HasLog" },
      HasLog: {
        Type: "Choice",
        Choices: [
          {
            And: [
              { Variable: "$.logGroup", IsPresent: true },
              { Variable: "$.logGroup", IsString: true },
              { Variable: "$.logStream", IsPresent: true },
              { Variable: "$.logStream", IsString: true },
            ],
            Next: "FindErrorLine",
          },
        ],
        Default: "NotifyFailing",
      },
      FindErrorLine: {
        Type: "Task",
        Resource: "arn:aws:states:::aws-sdk:cloudwatchlogs:filterLogEvents",
        Parameters: {
          "LogGroupName.$": "$.logGroup",
          "LogStreamNames.$": "States.Array($.logStream)",
          FilterPattern: JSON.stringify(SYNC_ERROR_MARKER),
        },
        ResultSelector: { "lines.$": "$.Events[*].Message" },
        ResultPath: "$.log",
        // An unreadable log costs the line, never the notification.
        Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: null, Next: "NotifyFailing" }],
        Next: "HasErrorLine",
      },
      HasErrorLine: {
        Type: "Choice",
        Choices: [{ Variable: "$.log.lines[0]", IsPresent: true, Next: "NotifyFailingWithErrorLine" }],
        Default: "NotifyFailing",
      },
      NotifyFailingWithErrorLine: publish(
        topicArn,
        ALERT_SUBJECTS.failing,
        failingMessage("States.Format(' Its last error: {}', States.ArrayGetItem($.log.lines, States.MathAdd(States.ArrayLength($.log.lines), -1)))"),
      ),
      NotifyFailing: publish(topicArn, ALERT_SUBJECTS.failing, failingMessage("''")),
      RecordHealthy: record(tableName, false, "WasHealthy"),
      WasHealthy: { Type: "Choice", Choices: [{ And: WAS_FAILING, Next: "NotifyRecovered" }], Default: "Quiet" },
      NotifyRecovered: publish(
        topicArn,
        ALERT_SUBJECTS.recovered,
        "States.Format('Backlog mirror: {} recovered: a sync of it succeeded at {} (failing since {}).', $.project, $.time, $.previous.Attributes.failingSince.S)",
      ),
      Quiet: { Type: "Succeed", Comment: "Still failing, or still healthy: nothing to say" },
      Stale: { Type: "Succeed", Comment: "A duplicate or older outcome than the one recorded" },
    },
  };
}
