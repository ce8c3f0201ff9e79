/**
 * What happens after a build ends, as on AWS: CodeBuild writes the build's log to CloudWatch Logs
 * and sends a "CodeBuild Build State Change" event to EventBridge; the stack's rule and target take
 * it from there. CodeBuild cannot run here, so these two steps are this file's (a stand-in for
 * CodeBuild's side only); everything after them is the emulator running the synthesized resources:
 *
 * - the rule (`aws_cloudwatch_event_rule`, its event pattern matched by moto's EventBridge) and its
 *   target (`aws_cloudwatch_event_target`: the input transformer, then StartExecution of the state
 *   machine: tools/emulator/moto_launcher.py, patch_events_stepfunctions_target);
 * - the state machine (`aws_sfn_state_machine`, its definition run by moto's ASL interpreter),
 *   which records in the table (`aws_dynamodb_table`), reads the log (FilterLogEvents) and publishes
 *   to the topic (`aws_sns_topic`).
 *
 * TEST SETUP, not the product: an SQS queue subscribed to the topic, so that a test can count and
 * read the notifications (the stack's subscriptions are e-mail).
 *
 * The event follows the CodeBuild User Guide's "Build notifications input format reference":
 * `detail.build-status`, `project-name`, `build-id` (the build's ARN) and
 * `additional-information.logs.group-name` / `stream-name` (the build id after the project name).
 */
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient, PutEventsCommand, PutRuleCommand, PutTargetsCommand } from "@aws-sdk/client-eventbridge";
import { CreateStateMachineCommand, ListExecutionsCommand, SFNClient } from "@aws-sdk/client-sfn";
import { CreateTopicCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import { CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { Stack } from "./stack";
import { sleep } from "./proc";

/** A notification as the topic's subscribers get it. */
export interface Notification {
  readonly subject: string;
  readonly message: string;
}

interface ClientConfig {
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

type Json = Record<string, any>;

export class BuildEvents {
  private readonly received: Notification[] = [];

  private constructor(
    private readonly clients: {
      readonly logs: CloudWatchLogsClient;
      readonly events: EventBridgeClient;
      readonly sfn: SFNClient;
      readonly sqs: SQSClient;
    },
    private readonly region: string,
    private readonly accountId: string,
    private readonly stateMachineArn: string,
    private readonly queueUrl: string,
    private readonly logGroups: Set<string>,
  ) {}

  /** Creates the stack's alert resources in the emulator, as Terraform would, and the observer queue. */
  static async create(stack: Stack, config: ClientConfig, accountId: string): Promise<BuildEvents> {
    const ctx = { accountId, region: config.region };
    const only = (type: string): [string, Json] => {
      const found = stack.resources(type);
      if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
      return found[0];
    };
    const logs = new CloudWatchLogsClient(config);
    const events = new EventBridgeClient(config);
    const sfn = new SFNClient(config);
    const sqs = new SQSClient(config);
    const dynamodb = new DynamoDBClient(config);
    const sns = new SNSClient(config);

    const [, table] = only("aws_dynamodb_table");
    await dynamodb.send(
      new CreateTableCommand({
        TableName: table.name,
        KeySchema: [{ AttributeName: table.hash_key, KeyType: "HASH" }],
        AttributeDefinitions: (table.attribute as Json[]).map((a) => ({ AttributeName: a.name, AttributeType: a.type })),
        BillingMode: table.billing_mode,
      }),
    );
    const [, topic] = only("aws_sns_topic");
    const topicArn = (await sns.send(new CreateTopicCommand({ Name: topic.name }))).TopicArn!;

    // TEST SETUP: the queue that counts the notifications.
    const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${topic.name}-observer` }))).QueueUrl!;
    const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }))).Attributes!.QueueArn;
    await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: "sqs", Endpoint: queueArn, Attributes: { RawMessageDelivery: "false" } }));

    const roleArn = (ref: string): string => `arn:aws:iam::${accountId}:role/${stack.resolve(ref.replace(/\.arn\}$/, ".name}"), ctx)}`;
    const [machineName, machine] = only("aws_sfn_state_machine");
    // The topic's ARN as the emulator made it is the one AWS composes from its name.
    const definition = stack.resolve(String(machine.definition), ctx);
    const stateMachineArn = (
      await sfn.send(new CreateStateMachineCommand({ name: machine.name, type: machine.type, roleArn: roleArn(machine.role_arn), definition }))
    ).stateMachineArn!;

    const [ruleName, rule] = stack
      .resources("aws_cloudwatch_event_rule")
      .find(([, r]) => r.event_pattern !== undefined) ?? (() => { throw new Error("no event rule with a pattern"); })();
    await events.send(new PutRuleCommand({ Name: rule.name, EventPattern: rule.event_pattern, State: "ENABLED" }));
    const targets = stack.resources("aws_cloudwatch_event_target").filter(([, t]) => t.rule === `\${aws_cloudwatch_event_rule.${ruleName}.name}`);
    if (targets.length !== 1 || targets[0][1].arn !== `\${aws_sfn_state_machine.${machineName}.arn}`) {
      throw new Error("expected the rule's one target to be the alert state machine");
    }
    const target = targets[0][1];
    await events.send(
      new PutTargetsCommand({
        Rule: rule.name,
        Targets: [
          {
            Id: target.target_id ?? "alerts",
            Arn: stateMachineArn,
            RoleArn: roleArn(target.role_arn),
            InputTransformer: { InputPathsMap: target.input_transformer.input_paths, InputTemplate: target.input_transformer.input_template },
          },
        ],
      }),
    );

    const logGroups = new Set<string>();
    for (const [, group] of stack.resources("aws_cloudwatch_log_group")) {
      await logs.send(new CreateLogGroupCommand({ logGroupName: group.name }));
      logGroups.add(group.name);
    }
    return new BuildEvents({ logs, events, sfn, sqs }, config.region, accountId, stateMachineArn, queueUrl, logGroups);
  }

  /**
   * What CodeBuild does when a build of `projectName` ended with `status`: its log in the project's
   * log group (stream: the build id's part after the project name), then the state-change event.
   */
  async ended(projectName: string, buildId: string, status: string, log: string): Promise<void> {
    const group = `/aws/codebuild/${projectName}`;
    const stream = buildId.slice(buildId.indexOf(":") + 1);
    if (!this.logGroups.has(group)) throw new Error(`no log group ${group} in the stack`);
    await this.clients.logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: stream }));
    const now = Date.now();
    const lines = log.split("\n").filter((l) => l !== "");
    if (lines.length > 0) {
      await this.clients.logs.send(
        new PutLogEventsCommand({ logGroupName: group, logStreamName: stream, logEvents: lines.map((message, i) => ({ timestamp: now + i, message: `${message}\n` })) }),
      );
    }
    const buildArn = `arn:aws:codebuild:${this.region}:${this.accountId}:build/${buildId}`;
    const answer = await this.clients.events.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: "aws.codebuild",
            DetailType: "CodeBuild Build State Change",
            Resources: [buildArn],
            Time: new Date(now),
            Detail: JSON.stringify({
              "build-status": status,
              "project-name": projectName,
              "build-id": buildArn,
              "additional-information": { "build-complete": true, logs: { "group-name": group, "stream-name": stream } },
            }),
          },
        ],
      }),
    );
    if ((answer.FailedEntryCount ?? 0) > 0) throw new Error(`PutEvents refused the event of ${buildId}`);
  }

  /**
   * Waits until no execution of the state machine is running. Every execution exists by then: the
   * emulator's PutEvents starts the target's before it answers, and StartExecution creates one
   * before it answers.
   */
  async settled(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const page = await this.clients.sfn.send(new ListExecutionsCommand({ stateMachineArn: this.stateMachineArn, maxResults: 1000 }));
      const executions = page.executions ?? [];
      if (executions.every((e) => e.status !== "RUNNING")) return;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for the alert state machine: ${JSON.stringify(executions)}`);
      await sleep(50);
    }
  }

  /** Every notification published so far (after {@link settled}). */
  async notifications(): Promise<Notification[]> {
    for (;;) {
      const page = await this.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: this.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
      const messages = page.Messages ?? [];
      if (messages.length === 0) break;
      for (const m of messages) {
        const envelope = JSON.parse(m.Body!);
        this.received.push({ subject: envelope.Subject, message: envelope.Message });
        await this.clients.sqs.send(new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: m.ReceiptHandle }));
      }
    }
    return [...this.received];
  }

  /** The executions' outcomes, newest first (for a failing test's message). */
  async executions(): Promise<string[]> {
    const page = await this.clients.sfn.send(new ListExecutionsCommand({ stateMachineArn: this.stateMachineArn, maxResults: 1000 }));
    return (page.executions ?? []).map((e) => `${e.name}: ${e.status}`);
  }
}
