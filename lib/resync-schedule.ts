/**
 * The safety net for a missed webhook: EventBridge starts every repository's sync on a schedule.
 * A rule takes at most 5 targets, so repositories are spread over rules of 5.
 */
import { CloudwatchEventRule } from "@cdktf/provider-aws/lib/cloudwatch-event-rule";
import { CloudwatchEventTarget } from "@cdktf/provider-aws/lib/cloudwatch-event-target";
import { Construct } from "constructs";

/** EventBridge's limit of targets per rule. */
export const TARGETS_PER_RULE = 5;

/** Default schedule of the re-sync. */
export const DEFAULT_RESYNC_SCHEDULE = "rate(1 hour)";

/** Props of {@link ResyncSchedule}. */
export interface ResyncScheduleProps {
  readonly name: string;
  readonly schedule: string;
  /** ARNs of the sync projects, in order. */
  readonly projectArns: string[];
  /** Role EventBridge assumes to call StartBuild. */
  readonly roleArn: string;
}

/** Scheduled rules that start the sync projects. */
export class ResyncSchedule extends Construct {
  public readonly rules: CloudwatchEventRule[] = [];

  constructor(scope: Construct, id: string, props: ResyncScheduleProps) {
    super(scope, id);
    for (let start = 0; start < props.projectArns.length; start += TARGETS_PER_RULE) {
      const n = start / TARGETS_PER_RULE + 1;
      const rule = new CloudwatchEventRule(this, `Rule${n}`, {
        name: `${props.name}-resync-${n}`,
        description: "Re-syncs Backlog mirrors so that a missed webhook heals by itself",
        scheduleExpression: props.schedule,
      });
      this.rules.push(rule);
      props.projectArns.slice(start, start + TARGETS_PER_RULE).forEach((projectArn, i) => {
        new CloudwatchEventTarget(this, `Rule${n}Target${i + 1}`, {
          rule: rule.name,
          arn: projectArn,
          roleArn: props.roleArn,
        });
      });
    }
  }
}
