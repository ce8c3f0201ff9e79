/**
 * Failures reach a human: an SNS topic (optionally with e-mail subscriptions) that receives
 * - one notification when a repository starts failing (its sync ended FAILED, FAULT, TIMED_OUT or
 *   STOPPED, or the safety net found it out of sync past the alarm window) and one when it recovers
 *   (a sync succeeded): every end of a sync goes to the alert state machine (lib/alert-states.ts),
 *   which keeps each repository's state in a DynamoDB table and notifies on transitions only,
 * - a CloudWatch alarm when the webhook API answers 5xx (CodeBuild refused or failed a StartBuild),
 * - a CloudWatch alarm when the webhook API keeps refusing requests (4xx: every webhook refused,
 *   e.g. after Backlog changed its sender addresses), and
 * - a CloudWatch alarm when a failure alert could not be delivered to the topic and waits in the
 *   dead-letter queue (see {@link MirrorAlerts}).
 */
import { CloudwatchEventRule } from "@cdktf/provider-aws/lib/cloudwatch-event-rule";
import { CloudwatchEventTarget } from "@cdktf/provider-aws/lib/cloudwatch-event-target";
import { CloudwatchMetricAlarm } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm";
import { DataAwsIamPolicyDocument, type DataAwsIamPolicyDocumentStatement } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { DynamodbTable } from "@cdktf/provider-aws/lib/dynamodb-table";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { SfnStateMachine } from "@cdktf/provider-aws/lib/sfn-state-machine";
import { SnsTopic } from "@cdktf/provider-aws/lib/sns-topic";
import { SnsTopicPolicy } from "@cdktf/provider-aws/lib/sns-topic-policy";
import { SnsTopicSubscription } from "@cdktf/provider-aws/lib/sns-topic-subscription";
import { SqsQueue } from "@cdktf/provider-aws/lib/sqs-queue";
import { SqsQueuePolicy } from "@cdktf/provider-aws/lib/sqs-queue-policy";
import { TerraformIterator } from "cdktf";
import { Construct } from "constructs";
import { ALERT_STATE_KEY, BUILD_EVENT_INPUT, alertStateMachineDefinition } from "./alert-states";
import { FAILED_BUILD_STATES } from "./build-states";
import { type ArnContext, arn, serviceTrustPolicy } from "./iam";
import { type StringList, isListExpression, listValue } from "./terraform-values";
import {
  alertStateTableName,
  alertsDeadLetterQueueName,
  alertsEventsRoleName,
  alertsStateMachineName,
  alertsTopicName,
  buildLogGroupName,
  buildProjectPrefix,
} from "./naming";

export { FAILED_BUILD_STATES };

/**
 * The sync-ended rule's event pattern: every end of a sync build, failed or not (the state machine
 * needs the successes to tell a recovery). The projects are matched by the stack's prefix (`prefix`
 * matching, EventBridge User Guide, "Content filtering in Amazon EventBridge event patterns"), so the
 * pattern has the same size for 1 or 200 repositories: a pattern may hold at most 2,048 characters by
 * default (EventBridge User Guide, "Amazon EventBridge quotas", "Event pattern size").
 */
export function syncEndedEventPattern(name: string): string {
  return JSON.stringify({
    source: ["aws.codebuild"],
    "detail-type": ["CodeBuild Build State Change"],
    detail: { "build-status": ["SUCCEEDED", ...FAILED_BUILD_STATES], "project-name": [{ prefix: buildProjectPrefix(name) }] },
  });
}

/** The actions of the alert state machine's role (lib/alert-states.ts), by purpose. */
export const ALERT_STATE_MACHINE_ACTIONS = {
  record: ["dynamodb:UpdateItem"],
  publish: ["sns:Publish"],
  readErrorLines: ["logs:FilterLogEvents"],
  /** Publishing to a topic encrypted with a customer-managed key (SNS Developer Guide, "Encryption at rest"). */
  topicKey: ["kms:GenerateDataKey*", "kms:Decrypt"],
} as const;

/**
 * The webhook-refused alarm (`NAME-webhook-4xx`, AWS/ApiGateway `4XXError`, Sum per hour): it fires
 * when at least `threshold` requests were refused in each of `datapointsToAlarm` of the last
 * `evaluationPeriods` hours.
 *
 * Backlog sends one delivery per push and does not retry a 4xx (it retries 5xx only; Backlog's Git
 * webhook help), so "every webhook refused" (the resource policy's 403 after Backlog changed its
 * sender addresses, a webhook URL pasted wrong: 404) shows as a steady trickle of 4xx for as long as
 * people push. A stray scanner, or one mistyped delivery, makes one burst: it breaches one hour at
 * most and never two of three. A team pushing at least twice an hour is reported within three
 * hours; meanwhile the safety net (`NAME-verify`, hourly by default) keeps the mirrors in sync, so
 * the delay costs latency, not pushes. The API's throttled answers are 503 (lib/webhook-api.ts) and
 * do not count here.
 */
export const WEBHOOK_REFUSED_ALARM = { period: 3600, evaluationPeriods: 3, datapointsToAlarm: 2, threshold: 2 } as const;

/**
 * Days an undelivered alert stays in the dead-letter queue: SQS's maximum, 14 days (1,209,600 s;
 * SQS API Reference, SetQueueAttributes, `MessageRetentionPeriod`).
 */
export const DEAD_LETTER_RETENTION_SECONDS = 1_209_600;

/**
 * The alarms that fire on a single occurrence: one data point of at least 1 in a 5-minute period.
 * No data (nothing happened, or an idle resource publishes nothing) is not a breach.
 */
const ON_ANY_IN_5_MINUTES = {
  period: 300,
  evaluationPeriods: 1,
  threshold: 1,
  comparisonOperator: "GreaterThanOrEqualToThreshold",
  treatMissingData: "notBreaching",
} as const;

/** Props of {@link MirrorAlerts}. */
export interface MirrorAlertsProps {
  readonly name: string;
  readonly arnContext: ArnContext;
  /** Name and stage of the webhook API, for the 5xx alarm. */
  readonly apiName: string;
  readonly stageName: string;
  /** E-mail subscriptions (a list known at apply only: one resource with `for_each`). */
  readonly emails: StringList;
  /** KMS key (ARN) for the topic. @default - not encrypted with a customer key */
  readonly kmsKeyArn?: string;
}

/**
 * Topic, subscriptions, failure rule (with its dead-letter queue and the alarm on it), 5xx and 4xx
 * alarms.
 *
 * Undelivered alerts are never silent, whatever the topic policy's shape (whether EventBridge's
 * delivery to SNS carries `aws:SourceAccount` is unsettled: issue 17 row 3). The failure rule's target
 * has a dead-letter queue: EventBridge sends an event it could not deliver there, at once for a
 * missing permission ("no retry attempts will happen ... EventBridge sends these events directly to
 * the target DLQ"), after its retries for other errors (EventBridge User Guide, "Using dead-letter
 * queues to process undelivered events"). A queue rather than an alarm on `FailedInvocations`:
 * - the event (which sync failed, its build id) is kept 14 days with the error code and message
 *   EventBridge attaches, instead of only a count;
 * - the alarm on the queue stays in ALARM while a message waits, however long ago it failed;
 * - the alarm's own notification is published by CloudWatch (`cloudwatch.amazonaws.com`, its own
 *   statement of the topic policy), not by EventBridge, so a topic that refuses EventBridge still
 *   delivers it; if the topic refuses everything, the alarm state (CloudWatch console,
 *   `aws cloudwatch describe-alarms --state-value ALARM`) and the queue are where it shows.
 *
 * The queue is encrypted with SQS-managed keys (SSE-SQS), never with the customer-managed key: a key
 * policy mistake that keeps EventBridge from the encrypted topic must not also keep it from the
 * queue. Its policy admits EventBridge for this rule only (`aws:SourceArn`, the same page's
 * "Granting permissions to the dead-letter queue").
 */
export class MirrorAlerts extends Construct {
  public readonly topic: SnsTopic;
  /** Each repository's alert state (lib/alert-states.ts). */
  public readonly stateTable: DynamodbTable;
  /** Decides and sends the notifications (lib/alert-states.ts). */
  public readonly stateMachine: SfnStateMachine;
  public readonly stateMachineAlarm: CloudwatchMetricAlarm;
  public readonly failureRule: CloudwatchEventRule;
  public readonly deadLetterQueue: SqsQueue;
  public readonly apiErrorAlarm: CloudwatchMetricAlarm;
  public readonly apiRefusedAlarm: CloudwatchMetricAlarm;
  public readonly undeliveredAlarm: CloudwatchMetricAlarm;

  constructor(scope: Construct, id: string, props: MirrorAlertsProps) {
    super(scope, id);
    const ctx = props.arnContext;
    this.topic = new SnsTopic(this, "Topic", {
      name: alertsTopicName(props.name),
      displayName: "Backlog mirror alerts",
      kmsMasterKeyId: props.kmsKeyArn,
    });
    const publishers = new DataAwsIamPolicyDocument(this, "TopicPolicyDocument", {
      statement: [
        {
          sid: "AlertPublishers",
          effect: "Allow",
          // The alarms. The state machine publishes with its role (same account: its identity policy
          // is enough, IAM User Guide, "Policy evaluation logic").
          principals: [{ type: "Service", identifiers: ["cloudwatch.amazonaws.com"] }],
          actions: ["sns:Publish"],
          resources: [this.topic.arn],
          condition: [{ test: "StringEquals", variable: "aws:SourceAccount", values: [ctx.accountId] }],
        },
      ],
    });
    new SnsTopicPolicy(this, "TopicPolicy", { arn: this.topic.arn, policy: publishers.json });
    const emails = props.emails;
    if (isListExpression(emails)) {
      const each = TerraformIterator.fromList(listValue(emails));
      new SnsTopicSubscription(this, "Email", { forEach: each, topicArn: this.topic.arn, protocol: "email", endpoint: each.value });
    } else {
      emails.forEach(
        (email, i) =>
          new SnsTopicSubscription(this, `Email${i + 1}`, { topicArn: this.topic.arn, protocol: "email", endpoint: email }),
      );
    }

    this.stateTable = new DynamodbTable(this, "State", {
      name: alertStateTableName(props.name),
      // A few writes per sync; nothing to provision.
      billingMode: "PAY_PER_REQUEST",
      hashKey: ALERT_STATE_KEY,
      attribute: [{ name: ALERT_STATE_KEY, type: "S" }],
      // Encrypted at rest with DynamoDB's default key: the items (project names, build statuses,
      // times) are no secret, and a customer-managed key would add a KMS call to every record.
    });

    const trust = (docId: string, service: string) => serviceTrustPolicy(this, docId, service, ctx.accountId);
    const machineRole = new IamRole(this, "StateMachineRole", {
      name: alertsStateMachineName(props.name),
      description: "Alert state machine of the Backlog mirror: records each repository's state, notifies on changes",
      assumeRolePolicy: trust("StateMachineTrust", "states.amazonaws.com"),
    });
    const machineStatements: DataAwsIamPolicyDocumentStatement[] = [
      { sid: "RecordAlertState", effect: "Allow", actions: [...ALERT_STATE_MACHINE_ACTIONS.record], resources: [this.stateTable.arn] },
      { sid: "PublishAlerts", effect: "Allow", actions: [...ALERT_STATE_MACHINE_ACTIONS.publish], resources: [this.topic.arn] },
      {
        sid: "ReadSyncErrorLines",
        effect: "Allow",
        actions: [...ALERT_STATE_MACHINE_ACTIONS.readErrorLines],
        resources: [arn(ctx, "logs", `log-group:${buildLogGroupName(`${buildProjectPrefix(props.name)}*`)}`)],
      },
    ];
    if (props.kmsKeyArn !== undefined) {
      machineStatements.push({
        sid: "UseAlertTopicKey",
        effect: "Allow",
        actions: [...ALERT_STATE_MACHINE_ACTIONS.topicKey],
        resources: [props.kmsKeyArn],
        condition: [{ test: "StringEquals", variable: "kms:EncryptionContext:aws:sns:topicArn", values: [this.topic.arn] }],
      });
    }
    const machinePolicy = new IamRolePolicy(this, "StateMachinePolicy", {
      name: "alert-state",
      role: machineRole.id,
      policy: new DataAwsIamPolicyDocument(this, "StateMachineDocument", { statement: machineStatements }).json,
    });

    this.stateMachine = new SfnStateMachine(this, "StateMachine", {
      name: alertsStateMachineName(props.name),
      // Express: priced per request and duration (a few hundred milliseconds), not per transition.
      type: "EXPRESS",
      roleArn: machineRole.arn,
      // Indented: the HCL module shows it as a heredoc, reviewable line by line (the provider
      // compares definitions as JSON, whitespace aside).
      definition: `${JSON.stringify(alertStateMachineDefinition({ tableName: this.stateTable.name, topicArn: this.topic.arn }), null, 2)}\n`,
      dependsOn: [machinePolicy],
    });

    this.stateMachineAlarm = new CloudwatchMetricAlarm(this, "StateMachineFailures", {
      alarmName: `${props.name}-alerts-failed`,
      alarmDescription:
        `The alert state machine ${alertsStateMachineName(props.name)} failed to record or send an alert: a repository's ` +
        "failure or recovery may have gone unreported (npm run status shows every repository)",
      namespace: "AWS/States",
      metricName: "ExecutionsFailed",
      dimensions: { StateMachineArn: this.stateMachine.arn },
      statistic: "Sum",
      ...ON_ANY_IN_5_MINUTES,
      alarmActions: [this.topic.arn],
    });

    // The name predates the recoveries: the rule matches every end of a sync.
    this.failureRule = new CloudwatchEventRule(this, "SyncFailed", {
      name: `${props.name}-sync-failed`,
      description: "A Backlog mirror sync build ended (succeeded, failed, faulted, timed out or stopped): the alert state machine decides",
      eventPattern: syncEndedEventPattern(props.name),
    });

    const eventsRole = new IamRole(this, "EventsRole", {
      name: alertsEventsRoleName(props.name),
      description: `Starts the Backlog mirror's alert state machine ${alertsStateMachineName(props.name)} only`,
      assumeRolePolicy: trust("EventsTrust", "events.amazonaws.com"),
    });
    const eventsPolicy = new IamRolePolicy(this, "EventsPolicy", {
      name: "start-alert-state-machine",
      role: eventsRole.id,
      policy: new DataAwsIamPolicyDocument(this, "EventsDocument", {
        statement: [{ sid: "StartAlertStateMachine", effect: "Allow", actions: ["states:StartExecution"], resources: [this.stateMachine.arn] }],
      }).json,
    });

    this.deadLetterQueue = new SqsQueue(this, "UndeliveredAlerts", {
      name: alertsDeadLetterQueueName(props.name),
      messageRetentionSeconds: DEAD_LETTER_RETENTION_SECONDS,
      sqsManagedSseEnabled: true,
    });
    const deadLetterSenders = new DataAwsIamPolicyDocument(this, "UndeliveredAlertsPolicyDocument", {
      statement: [
        {
          sid: "FailureRuleDeadLetters",
          effect: "Allow",
          principals: [{ type: "Service", identifiers: ["events.amazonaws.com"] }],
          actions: ["sqs:SendMessage"],
          resources: [this.deadLetterQueue.arn],
          condition: [{ test: "ArnEquals", variable: "aws:SourceArn", values: [this.failureRule.arn] }],
        },
      ],
    });
    const deadLetterPolicy = new SqsQueuePolicy(this, "UndeliveredAlertsPolicy", {
      queueUrl: this.deadLetterQueue.url,
      policy: deadLetterSenders.json,
    });

    // (Its id predates the state machine: kept, so that an upgrade updates the target in place.)
    new CloudwatchEventTarget(this, "SyncFailedToTopic", {
      rule: this.failureRule.name,
      arn: this.stateMachine.arn,
      roleArn: eventsRole.arn,
      deadLetterConfig: { arn: this.deadLetterQueue.arn },
      inputTransformer: { inputPaths: { ...BUILD_EVENT_INPUT.inputPaths }, inputTemplate: BUILD_EVENT_INPUT.inputTemplate },
      // EventBridge may send to the queue as soon as the target exists, and start the machine.
      dependsOn: [deadLetterPolicy, eventsPolicy],
    });

    this.undeliveredAlarm = new CloudwatchMetricAlarm(this, "UndeliveredAlertsAlarm", {
      alarmName: `${props.name}-alerts-undelivered`,
      alarmDescription:
        `The end of a sync could not be delivered to the alert state machine ${alertsStateMachineName(props.name)}; it waits, ` +
        `with EventBridge's error, in the SQS queue ${alertsDeadLetterQueueName(props.name)} (kept 14 days)`,
      namespace: "AWS/SQS",
      metricName: "ApproximateNumberOfMessagesVisible",
      dimensions: { QueueName: this.deadLetterQueue.name },
      statistic: "Maximum",
      // An empty, idle queue may publish no data points at all (SQS Developer Guide, "Available
      // CloudWatch metrics for Amazon SQS": inactive queues): not a breach.
      ...ON_ANY_IN_5_MINUTES,
      alarmActions: [this.topic.arn],
    });

    this.apiErrorAlarm = new CloudwatchMetricAlarm(this, "WebhookErrors", {
      alarmName: `${props.name}-webhook-5xx`,
      alarmDescription: "The Backlog webhook answered 5xx: CodeBuild refused or failed to start a sync (Backlog retries)",
      namespace: "AWS/ApiGateway",
      metricName: "5XXError",
      dimensions: { ApiName: props.apiName, Stage: props.stageName },
      statistic: "Sum",
      ...ON_ANY_IN_5_MINUTES,
      alarmActions: [this.topic.arn],
    });

    this.apiRefusedAlarm = new CloudwatchMetricAlarm(this, "WebhookRefused", {
      alarmName: `${props.name}-webhook-4xx`,
      alarmDescription:
        "The Backlog webhook keeps refusing requests (4xx; Backlog does not retry them): if Backlog changed its sender " +
        "addresses, update webhook.allowedSourceIps / additionalSourceIps; if a webhook URL is wrong, fix it in Backlog",
      namespace: "AWS/ApiGateway",
      metricName: "4XXError",
      dimensions: { ApiName: props.apiName, Stage: props.stageName },
      statistic: "Sum",
      period: WEBHOOK_REFUSED_ALARM.period,
      evaluationPeriods: WEBHOOK_REFUSED_ALARM.evaluationPeriods,
      datapointsToAlarm: WEBHOOK_REFUSED_ALARM.datapointsToAlarm,
      threshold: WEBHOOK_REFUSED_ALARM.threshold,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      treatMissingData: "notBreaching",
      alarmActions: [this.topic.arn],
    });
  }
}
