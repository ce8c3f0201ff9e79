/**
 * Failures reach a human: an SNS topic (optionally with e-mail subscriptions) that receives
 * - CodeBuild state changes of the sync projects that end FAILED, FAULT, TIMED_OUT or STOPPED, and
 * - a CloudWatch alarm when the webhook API answers 5xx (CodeBuild refused or failed a StartBuild).
 */
import { CloudwatchEventRule } from "@cdktf/provider-aws/lib/cloudwatch-event-rule";
import { CloudwatchEventTarget } from "@cdktf/provider-aws/lib/cloudwatch-event-target";
import { CloudwatchMetricAlarm } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm";
import { DataAwsIamPolicyDocument } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { SnsTopic } from "@cdktf/provider-aws/lib/sns-topic";
import { SnsTopicPolicy } from "@cdktf/provider-aws/lib/sns-topic-policy";
import { SnsTopicSubscription } from "@cdktf/provider-aws/lib/sns-topic-subscription";
import { Construct } from "constructs";
import { alertsTopicName, buildProjectPrefix } from "./naming";

/**
 * Build states that raise an alert: every final state but SUCCEEDED (CodeBuild API Reference,
 * `Build.buildStatus`: SUCCEEDED, FAILED, FAULT, TIMED_OUT, IN_PROGRESS, STOPPED).
 */
export const FAILED_BUILD_STATES = ["FAILED", "FAULT", "TIMED_OUT", "STOPPED"] as const;

/**
 * The failure rule's event pattern. The projects are matched by the stack's prefix (`prefix`
 * matching, EventBridge User Guide, "Content filtering in Amazon EventBridge event patterns"), so the
 * pattern has the same size for 1 or 200 repositories: a pattern may hold at most 2,048 characters by
 * default (EventBridge User Guide, "Amazon EventBridge quotas", "Event pattern size").
 */
export function failedSyncEventPattern(name: string): string {
  return JSON.stringify({
    source: ["aws.codebuild"],
    "detail-type": ["CodeBuild Build State Change"],
    detail: { "build-status": [...FAILED_BUILD_STATES], "project-name": [{ prefix: buildProjectPrefix(name) }] },
  });
}

/** Props of {@link MirrorAlerts}. */
export interface MirrorAlertsProps {
  readonly name: string;
  readonly accountId: string;
  /** Name and stage of the webhook API, for the 5xx alarm. */
  readonly apiName: string;
  readonly stageName: string;
  /** E-mail subscriptions. */
  readonly emails: string[];
  /** KMS key (ARN) for the topic. @default - not encrypted with a customer key */
  readonly kmsKeyArn?: string;
}

/** Topic, subscriptions, failure rule, 5xx alarm. */
export class MirrorAlerts extends Construct {
  public readonly topic: SnsTopic;
  public readonly failureRule: CloudwatchEventRule;
  public readonly apiErrorAlarm: CloudwatchMetricAlarm;

  constructor(scope: Construct, id: string, props: MirrorAlertsProps) {
    super(scope, id);
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
          principals: [{ type: "Service", identifiers: ["events.amazonaws.com", "cloudwatch.amazonaws.com"] }],
          actions: ["sns:Publish"],
          resources: [this.topic.arn],
          condition: [{ test: "StringEquals", variable: "aws:SourceAccount", values: [props.accountId] }],
        },
      ],
    });
    new SnsTopicPolicy(this, "TopicPolicy", { arn: this.topic.arn, policy: publishers.json });
    props.emails.forEach(
      (email, i) =>
        new SnsTopicSubscription(this, `Email${i + 1}`, { topicArn: this.topic.arn, protocol: "email", endpoint: email }),
    );

    this.failureRule = new CloudwatchEventRule(this, "SyncFailed", {
      name: `${props.name}-sync-failed`,
      description: "A Backlog mirror sync build failed, faulted, timed out or was stopped",
      eventPattern: failedSyncEventPattern(props.name),
    });
    new CloudwatchEventTarget(this, "SyncFailedToTopic", {
      rule: this.failureRule.name,
      arn: this.topic.arn,
      inputTransformer: {
        inputPaths: { project: "$.detail.project-name", status: "$.detail.build-status", build: "$.detail.build-id" },
        inputTemplate:
          '"Backlog mirror sync <project> ended <status>. Build: <build>. Its log is in CloudWatch Logs group /aws/codebuild/<project>."',
      },
    });

    this.apiErrorAlarm = new CloudwatchMetricAlarm(this, "WebhookErrors", {
      alarmName: `${props.name}-webhook-5xx`,
      alarmDescription: "The Backlog webhook answered 5xx: CodeBuild refused or failed to start a sync (Backlog retries)",
      namespace: "AWS/ApiGateway",
      metricName: "5XXError",
      dimensions: { ApiName: props.apiName, Stage: props.stageName },
      statistic: "Sum",
      period: 300,
      evaluationPeriods: 1,
      threshold: 1,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      treatMissingData: "notBreaching",
      alarmActions: [this.topic.arn],
    });
  }
}
