/** Failed deliveries and refused webhooks are visible (issue 17 rows 3 and 5). */
import { WEBHOOK_REFUSED_ALARM } from "../lib/alerts";
import { alertsDeadLetterQueueName, alertsStateMachineName } from "../lib/naming";
import { exampleConfig, onlyResource, policyDocument, refOf, resources, synthStack, type Synth } from "../test/support/synth";

const synth = synthStack(exampleConfig());
const withKey = synthStack({ ...exampleConfig(), encryption: { customerManagedKey: true } });
const alarm = (s: Synth, name: string) => resources(s, "aws_cloudwatch_metric_alarm").find((a) => a.alarm_name === name)!;
const topicArn = (s: Synth) => refOf(s, "aws_sns_topic", onlyResource(s, "aws_sns_topic"), "arn");

describe("undelivered failure alerts", () => {
  const queue = onlyResource(synth, "aws_sqs_queue");
  const rule = resources(synth, "aws_cloudwatch_event_rule").find((r) => r.event_pattern !== undefined)!;

  test("the sync-ended rule's target (the alert state machine) sends what it cannot deliver to a dead-letter queue", () => {
    const machine = refOf(synth, "aws_sfn_state_machine", onlyResource(synth, "aws_sfn_state_machine"), "arn");
    const target = resources(synth, "aws_cloudwatch_event_target").find((t) => t.arn === machine)!;
    expect(target.dead_letter_config).toEqual({ arn: refOf(synth, "aws_sqs_queue", queue, "arn") });
    expect(target.depends_on).toContain(`aws_sqs_queue_policy.${Object.keys(synth.resource.aws_sqs_queue_policy)[0]}`);
  });

  test("the queue keeps them 14 days, encrypted with SQS-managed keys even when the customer key is on", () => {
    for (const s of [synth, withKey]) {
      const q = onlyResource(s, "aws_sqs_queue");
      expect(q).toMatchObject({ name: alertsDeadLetterQueueName("backlog-mirror"), message_retention_seconds: 1_209_600, sqs_managed_sse_enabled: true });
      expect(q.kms_master_key_id).toBeUndefined();
    }
  });

  test("only EventBridge, for the failure rule, may send to the queue", () => {
    const policy = onlyResource(synth, "aws_sqs_queue_policy");
    expect(policy.queue_url).toBe(refOf(synth, "aws_sqs_queue", queue, "url"));
    expect(policyDocument(synth, policy.policy).statement).toEqual([
      {
        sid: "FailureRuleDeadLetters",
        effect: "Allow",
        principals: [{ type: "Service", identifiers: ["events.amazonaws.com"] }],
        actions: ["sqs:SendMessage"],
        resources: [refOf(synth, "aws_sqs_queue", queue, "arn")],
        condition: [{ test: "ArnEquals", variable: "aws:SourceArn", values: [refOf(synth, "aws_cloudwatch_event_rule", rule, "arn")] }],
      },
    ]);
  });

  test("an alarm notifies the topic as soon as one waits in the queue", () => {
    expect(alarm(synth, "backlog-mirror-alerts-undelivered")).toMatchObject({
      namespace: "AWS/SQS",
      metric_name: "ApproximateNumberOfMessagesVisible",
      dimensions: { QueueName: refOf(synth, "aws_sqs_queue", queue, "name") },
      statistic: "Maximum",
      period: 300,
      evaluation_periods: 1,
      threshold: 1,
      comparison_operator: "GreaterThanOrEqualToThreshold",
      treat_missing_data: "notBreaching",
      alarm_actions: [topicArn(synth)],
    });
    expect(alarm(synth, "backlog-mirror-alerts-undelivered").alarm_description).toContain(alertsStateMachineName("backlog-mirror"));
  });
});

describe("refused webhooks", () => {
  const api = onlyResource(synth, "aws_api_gateway_rest_api");
  const stage = onlyResource(synth, "aws_api_gateway_stage");

  test("an alarm on the API's 4xx notifies the topic when requests keep being refused", () => {
    expect(alarm(synth, "backlog-mirror-webhook-4xx")).toMatchObject({
      namespace: "AWS/ApiGateway",
      metric_name: "4XXError",
      dimensions: { ApiName: refOf(synth, "aws_api_gateway_rest_api", api, "name"), Stage: refOf(synth, "aws_api_gateway_stage", stage, "stage_name") },
      statistic: "Sum",
      period: 3600,
      evaluation_periods: 3,
      datapoints_to_alarm: 2,
      threshold: 2,
      comparison_operator: "GreaterThanOrEqualToThreshold",
      treat_missing_data: "notBreaching",
      alarm_actions: [topicArn(synth)],
    });
  });

  // The threshold's intent, as arithmetic on hourly sums (CloudWatch's "M out of N": the alarm fires
  // when M of the last N periods breach).
  const fires = (hourlySums: number[]) => {
    const { evaluationPeriods: n, datapointsToAlarm: m, threshold } = WEBHOOK_REFUSED_ALARM;
    return hourlySums.some((_, i) => i + 1 >= n && hourlySums.slice(i + 1 - n, i + 1).filter((v) => v >= threshold).length >= m);
  };

  test.each([
    ["a scanner's single burst", false, [0, 40, 0, 0, 0, 0]],
    ["one mistyped delivery an hour", false, [1, 1, 1, 1, 1, 1]],
    ["every webhook refused for a team pushing twice an hour", true, [2, 2, 2]],
    ["every webhook refused, pushes in two of three hours", true, [5, 0, 3]],
  ])("%s: the alarm fires: %s", (_what, expected, sums) => {
    expect(fires(sums as number[])).toBe(expected);
  });
});

describe("the alert state machine (its behaviour: test/e2e/alerts.e2e.test.ts)", () => {
  const machine = onlyResource(synth, "aws_sfn_state_machine");
  const table = onlyResource(synth, "aws_dynamodb_table");
  const definition = JSON.parse(machine.definition);

  test("is an Express state machine that records in the stack's table and publishes to the stack's topic", () => {
    expect(machine).toMatchObject({ name: alertsStateMachineName("backlog-mirror"), type: "EXPRESS" });
    expect(table).toMatchObject({ name: "backlog-mirror-mirror-alert-state", billing_mode: "PAY_PER_REQUEST", hash_key: "project" });
    const tasks = Object.values(definition.States as Record<string, any>).filter((st) => st.Type === "Task");
    expect(new Set(tasks.map((t) => t.Resource))).toEqual(
      new Set(["arn:aws:states:::dynamodb:updateItem", "arn:aws:states:::sns:publish", "arn:aws:states:::aws-sdk:cloudwatchlogs:filterLogEvents"]),
    );
    for (const t of tasks.filter((x) => x.Resource.endsWith(":updateItem"))) {
      expect(t.Parameters.TableName).toBe(refOf(synth, "aws_dynamodb_table", table, "name"));
    }
    for (const t of tasks.filter((x) => x.Resource.endsWith(":publish"))) expect(t.Parameters.TopicArn).toBe(topicArn(synth));
  });

  test("an alarm notifies the topic when an execution fails (an alert that could not be recorded or sent)", () => {
    expect(alarm(synth, "backlog-mirror-alerts-failed")).toMatchObject({
      namespace: "AWS/States",
      metric_name: "ExecutionsFailed",
      dimensions: { StateMachineArn: refOf(synth, "aws_sfn_state_machine", machine, "arn") },
      threshold: 1,
      treat_missing_data: "notBreaching",
      alarm_actions: [topicArn(synth)],
    });
  });
});
