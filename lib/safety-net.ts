/**
 * The safety net for a missed webhook, whose cost does not grow with repositories × runs:
 *
 * - one CodeBuild project `NAME-verify` (ARM, in the builds' VPC, subnets and security group; no
 *   EFS), started by one EventBridge schedule, compares every mirror's heads and tags with Backlog's
 *   (`lib/buildspec/verify-mirrors.sh`) and starts the sync of the repositories that differ only;
 * - the repository list it reads is an S3 object in the stack's bucket, written by Terraform (the
 *   buildspec could not hold it: see lib/verify-buildspec.ts);
 * - it starts those syncs and does NOT wait for them. They run on the same platform and compute
 *   type (ARM), CodeBuild runs at most the account's quota of those at once, queues the rest, and
 *   removes a queued build whose queued timeout ends (CodeBuild User Guide, "Builds in AWS
 *   CodeBuild"); "Concurrently running builds for ARM/Small environment" defaults to 1 ("Quotas for
 *   AWS CodeBuild"). A verifier that waited for its syncs would hold the very slot they queue for:
 *   at a quota of 1 nothing would ever be repaired. The run ends right after its StartBuild calls
 *   and its metrics, so its syncs queue behind it for seconds only;
 * - the verifier keeps, in one object of the stack's bucket ({@link IN_SYNC_STATE_KEY}), when each
 *   repository was last found in sync (or first seen), and publishes one metric per stack per run,
 *   `OldestInSyncAge` (namespace `BacklogCodeCommitMirror`): the longest such age, a graph of how
 *   far behind the mirrors are (no alarm reads it). A repository
 *   whose sync the run started is not in sync in that run; the next run finds it in sync, or
 *   starts it again; a sync that fails raises its own alert (lib/alerts.ts). A repository out of
 *   sync for `resync.outOfSyncAlarmHours` is reported, by name, to the alert state machine, which
 *   notifies once until it recovers (lib/alert-states.ts). The syncs publish nothing: an AWS CLI
 *   start in each sync's `post_build` cost about 0.5 s per build (`npm run bench:sync`);
 * - ONE alarm on the alert topic, the safety net's heartbeat: it fires when no run of the verifier
 *   has succeeded for `resync.outOfSyncAlarmHours` (it stopped running, or cannot check every
 *   repository), so that nothing has checked the mirrors for that long. A repository out of sync is
 *   not its business: the alert state machine names that one, once. See {@link outOfSyncAlarmSettings}.
 */
import { CloudwatchEventRule } from "@cdktf/provider-aws/lib/cloudwatch-event-rule";
import { CloudwatchEventTarget } from "@cdktf/provider-aws/lib/cloudwatch-event-target";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { CloudwatchMetricAlarm } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm";
import { CodebuildProject } from "@cdktf/provider-aws/lib/codebuild-project";
import { S3Object } from "@cdktf/provider-aws/lib/s3-object";
import { Construct } from "constructs";
import type { BuildScripts } from "./build-scripts";
import type { ArnContext } from "./iam";
import { type MirrorFleet, buildPlacement } from "./fleet";
import { BUILD_IMAGE, addDynamicEnvironment, environmentVariables, projectLogGroup } from "./mirror-build";
import type { MirrorInputs, RepositoryFields, RepositorySet } from "./mirror-inputs";
import { buildLogGroupName, verifyProjectName } from "./naming";
import { type StringList, type Switch, countOf, listValue, numberText, optionalAttribute } from "./terraform-values";
import { REPOSITORY_LIST_ENV, renderVerifyBuildspec, verifySettings } from "./verify-buildspec";
import { VerifyIam } from "./verify-iam";

/** Default schedule of the verifier. */
export const DEFAULT_RESYNC_SCHEDULE = "rate(1 hour)";

/** Default of `resync.outOfSyncAlarmHours`. */
export const DEFAULT_OUT_OF_SYNC_ALARM_HOURS = 25;

/**
 * Largest `resync.outOfSyncAlarmHours`: the alarm evaluates that many one-hour periods, and
 * CloudWatch allows at most 7 days (604,800 s) of Period × EvaluationPeriods for periods of an hour
 * or more (CloudWatch API Reference, PutMetricAlarm, `Period`).
 */
export const MAX_OUT_OF_SYNC_ALARM_HOURS = 168;

/** Smallest `resync.outOfSyncAlarmHours` (the alarm needs at least two hourly periods). */
export const MIN_OUT_OF_SYNC_ALARM_HOURS = 2;

/** Key of the repository list in the stack's bucket. */
export const REPOSITORY_LIST_KEY = "verify/repositories.txt";

/**
 * Key of the verifier's own record, in the stack's bucket, of when each repository was last found
 * in sync (lib/buildspec/verify-mirrors.sh): one object read and written per run, instead of a
 * custom metric per repository (USD 0.30 a month each, Amazon CloudWatch pricing).
 */
export const IN_SYNC_STATE_KEY = "verify/in-sync.txt";

/**
 * Build timeout of `NAME-verify`. A check that hangs is bounded by ssh's connect timeout and
 * keepalives (lib/buildspec/backlog-ssh.sh); the timeout bounds the cost of a run in which Backlog
 * is unreachable. The checks of 200 repositories (about 4 minutes projected, `npm run
 * bench:safety-net`) fit in it with room to spare; the run does not wait for the syncs it starts.
 */
export const VERIFY_BUILD_TIMEOUT_MINUTES = 20;

/** One line of the repository list: `PROJECT/REPO CODECOMMIT_NAME SYNC_PROJECT INCLUDE EXCLUDE`. */
export function repositoryListLine(r: RepositoryFields): string {
  return `${r.key} ${r.codecommitRepository} ${r.projectName} ${r.refInclude} ${r.refExclude}\n`;
}

/**
 * The safety net's heartbeat alarm for a window of `hours` (T):
 *
 * - the metric is CodeBuild's own `SucceededBuilds` of the verify project (namespace `AWS/CodeBuild`,
 *   dimension `ProjectName`, Sum per one-hour period: CodeBuild User Guide, "CodeBuild CloudWatch
 *   metrics" and "CodeBuild CloudWatch dimensions"), free: no custom metric;
 * - a period breaches when no run succeeded in it: a value under 1, or no value at all
 *   (`treatMissingData: breaching`: CodeBuild publishes nothing for an hour without a build);
 * - the alarm fires when all of the last T periods breach (`datapointsToAlarm = evaluationPeriods =
 *   T`, CloudWatch's "M out of N" with M = N), and one successful run clears it.
 *
 * A run fails (exit 1) when a repository could not be checked, a sync could not be started or an
 * out-of-sync report could not be delivered (lib/buildspec/verify-mirrors.sh), so the alarm also
 * says "the safety net cannot do its whole job". A repository out of sync for T is reported by name
 * to the alert state machine, which notifies once until it recovers (lib/alert-states.ts): this
 * alarm does not fire for it, so one episode is one message, not two. Missing periods between runs
 * of a schedule slower than hourly breach too, so validation requires a `rate(...)` schedule to run
 * at least twice within T hours.
 */
export function outOfSyncAlarmSettings(hours: number): {
  period: number;
  evaluationPeriods: number;
  datapointsToAlarm: number;
  threshold: number;
} {
  return { period: 3600, evaluationPeriods: hours, datapointsToAlarm: hours, threshold: 1 };
}

/** Props of {@link MirrorSafetyNet}. */
export interface MirrorSafetyNetProps {
  readonly name: string;
  readonly arnContext: ArnContext;
  readonly backlog: MirrorInputs["backlog"];
  readonly repositories: RepositorySet;
  /** Whether the safety net exists (`resync.enabled`). @default true */
  readonly enabled?: Switch;
  /** EventBridge schedule expression of the verifier. */
  readonly schedule: string;
  /** Hours a repository may stay out of sync before the alarm fires. */
  readonly outOfSyncAlarmHours: number;
  /** {@link outOfSyncAlarmHours} in seconds: a repository out of sync this long is reported to the alerts. */
  readonly outOfSyncAlertSeconds: number;
  /** The alert state machine the verifier reports out-of-sync repositories to (lib/alert-states.ts). */
  readonly alertStateMachineArn: string;
  /** The stack's bucket (name and ARN), which holds the repository list. */
  readonly bucketName: string;
  readonly bucketArn: string;
  /** The build scripts' folder, the project's source (lib/build-scripts.ts). */
  readonly scripts: BuildScripts;
  readonly vpcId: string;
  readonly subnetIds: StringList;
  /** The sync builds' security group (egress to Backlog and CodeCommit). */
  readonly securityGroupId: string;
  /** SSM parameters with the SSH key and, when kept in SSM, the pinned host keys. */
  readonly parameterNames: StringList;
  readonly logRetentionDays: number;
  /** The alert topic the alarm notifies. */
  readonly alertTopicArn: string;
  /** Customer-managed key (log group, project, bucket objects). @default - AWS-managed */
  readonly kmsKeyArn?: string;
  /** The reserved-capacity fleet the verify build runs on, when `build.fleet` is set. @default - none */
  readonly fleet?: MirrorFleet;
}

/** `NAME-verify`, its schedule, its IAM, the repository list and the out-of-sync alarm. */
export class MirrorSafetyNet extends Construct {
  public readonly project: CodebuildProject;
  public readonly logGroup: CloudwatchLogGroup;
  public readonly schedule: CloudwatchEventRule;
  public readonly repositoryList: S3Object;
  public readonly alarm: CloudwatchMetricAlarm;
  public readonly iam: VerifyIam;

  constructor(scope: Construct, id: string, props: MirrorSafetyNetProps) {
    super(scope, id);
    const projectName = verifyProjectName(props.name);
    const enabled = props.enabled ?? true;
    const count = countOf(enabled);

    this.repositoryList = new S3Object(this, "RepositoryList", {
      count,
      bucket: props.bucketName,
      key: REPOSITORY_LIST_KEY,
      content: props.repositories.join("", repositoryListLine),
      contentType: "text/plain",
    });

    this.iam = new VerifyIam(this, "Iam", {
      name: props.name,
      arnContext: props.arnContext,
      parameterNames: props.parameterNames,
      repositoryListArn: `${props.bucketArn}/${REPOSITORY_LIST_KEY}`,
      inSyncStateArn: `${props.bucketArn}/${IN_SYNC_STATE_KEY}`,
      alertStateMachineArn: props.alertStateMachineArn,
      bucketArn: props.bucketArn,
      subnetIds: props.subnetIds,
      kmsKeyArn: props.kmsKeyArn,
      enabled,
    });

    this.logGroup = projectLogGroup(this, projectName, props.logRetentionDays, props.kmsKeyArn, count);

    const settings = [
      { name: REPOSITORY_LIST_ENV, value: `s3://${props.bucketName}/${REPOSITORY_LIST_KEY}` },
      ...verifySettings({
        stackName: props.name,
        backlog: props.backlog,
        outOfSyncAlertSeconds: props.outOfSyncAlertSeconds,
        alertStateMachineArn: props.alertStateMachineArn,
        inSyncStateUri: `s3://${props.bucketName}/${IN_SYNC_STATE_KEY}`,
      }),
    ];
    // In the VPC by itself, or on the fleet (lib/fleet.ts).
    const placement = buildPlacement(
      { vpcId: props.vpcId, subnets: listValue(props.subnetIds), securityGroupIds: [props.securityGroupId] },
      "BUILD_GENERAL1_SMALL",
      props.fleet,
    );
    this.project = new CodebuildProject(this, "Project", {
      count,
      name: projectName,
      description: "Safety net: compares every Backlog mirror with Backlog and starts the syncs of those that differ",
      serviceRole: this.iam.verifyRoleArn,
      // The scripts are the project's source (lib/build-scripts.ts); the buildspec runs them.
      source: {
        type: "S3",
        location: props.scripts.sourceLocation,
        buildspec: renderVerifyBuildspec({ sshKeyParameter: props.backlog.sshKeyParameter, hostKeysParameter: props.backlog.hostKeysParameter }),
      },
      environment: {
        type: "ARM_CONTAINER",
        image: BUILD_IMAGE,
        computeType: placement.computeType,
        fleet: placement.fleet,
        imagePullCredentialsType: "CODEBUILD",
        privilegedMode: false,
        environmentVariable: environmentVariables(settings),
      },
      vpcConfig: placement.vpcConfig,
      artifacts: { type: "NO_ARTIFACTS" },
      logsConfig: { cloudwatchLogs: { status: "ENABLED", groupName: optionalAttribute(this.logGroup, "name") } },
      buildTimeout: VERIFY_BUILD_TIMEOUT_MINUTES,
      queuedTimeout: 60,
      projectVisibility: "PRIVATE",
      encryptionKey: props.kmsKeyArn,
      // CodeBuild checks the role's VPC permissions when the project is created; a build needs its scripts.
      // The list too: an apply rewrites it (in the form these scripts read) before the project
      // takes the new scripts.
      dependsOn: [this.iam.verifyVpcPolicy, ...props.scripts.objects, this.repositoryList],
    });

    addDynamicEnvironment(this.project, settings);
    placement.addTo(this.project);

    this.schedule = new CloudwatchEventRule(this, "Schedule", {
      count,
      name: projectName,
      description: "Starts the Backlog mirrors' safety net, which syncs the mirrors that differ from Backlog",
      scheduleExpression: props.schedule,
    });
    new CloudwatchEventTarget(this, "ScheduleTarget", {
      count,
      rule: optionalAttribute(this.schedule, "name"),
      arn: this.iam.verifyProjectArn,
      roleArn: this.iam.scheduleRoleArn,
    });

    const alarm = outOfSyncAlarmSettings(props.outOfSyncAlarmHours);
    // The name predates the heartbeat (it was the out-of-sync alarm of every repository): kept, so
    // that an upgrade updates the alarm in place.
    this.alarm = new CloudwatchMetricAlarm(this, "OutOfSyncAlarm", {
      count,
      alarmName: `${props.name}-out-of-sync`,
      alarmDescription:
        `No run of the Backlog mirrors' safety net ${projectName} has succeeded for about ${numberText(props.outOfSyncAlarmHours)} hours: ` +
        "nothing has checked the mirrors against Backlog for that long (a repository out of sync is reported by name by the alert " +
        `state machine). Its log is in CloudWatch Logs group ${buildLogGroupName(projectName)}.`,
      namespace: "AWS/CodeBuild",
      metricName: "SucceededBuilds",
      dimensions: { ProjectName: projectName },
      statistic: "Sum",
      period: alarm.period,
      evaluationPeriods: alarm.evaluationPeriods,
      datapointsToAlarm: alarm.datapointsToAlarm,
      threshold: alarm.threshold,
      comparisonOperator: "LessThanThreshold",
      treatMissingData: "breaching",
      alarmActions: [props.alertTopicArn],
      okActions: [props.alertTopicArn],
    });
  }
}
