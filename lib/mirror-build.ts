/**
 * One repository's mirror: the CodeCommit repository, the CodeBuild project that syncs it, and the
 * project's log group.
 */
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { CodebuildProject } from "@cdktf/provider-aws/lib/codebuild-project";
import { CodecommitRepository } from "@cdktf/provider-aws/lib/codecommit-repository";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { BACKUP_BUCKET_ENV, renderBuildspec } from "./buildspec";
import {
  EFS_LOCATION_IDENTIFIER,
  EFS_MOUNT_POINT,
  backlogRemoteUrl,
  buildLogGroupName,
  buildProjectName,
  codecommitRepositoryName,
  MIRROR_STACK_TAG_KEY,
} from "./naming";
import type { BacklogSettings, BuildSettings, RepositoryMirrorSpec } from "./props";

/**
 * The current ARM standard image: Amazon Linux 2023 with git 2.53, the OpenSSH client, flock
 * (util-linux) and AWS CLI v2 (its Dockerfile, `al/aarch64/standard/4.0/Dockerfile` in the public
 * repository aws/aws-codebuild-docker-images, which CodeBuild's "Docker images provided by CodeBuild"
 * page links to). `3.0` is the previous generation of the same image with an older git; nothing in the
 * sync depends on a feature of either, the newer one only carries the current git fixes.
 */
export const BUILD_IMAGE = "aws/codebuild/amazonlinux-aarch64-standard:4.0";

/** Defaults of {@link BuildSettings}. */
export const BUILD_DEFAULTS = {
  timeoutMinutes: 5,
  queuedTimeoutMinutes: 10,
  computeType: "BUILD_GENERAL1_SMALL",
} as const;

/**
 * Seconds of a sync build's timeout assumed to be spent before the sync script starts: PROVISIONING
 * (CodeBuild attaches an elastic network interface in one of the configured subnets to the build
 * container and mounts the EFS file system), then the image's start, `env.parameter-store` and the
 * INSTALL phase. AWS documents no upper bound for provisioning a VPC-connected build; 120 s is an
 * ASSUMPTION (the same figure the safety net's cost projection uses), not measured on AWS.
 */
export const PRE_SCRIPT_BUDGET_SECONDS = 120;

/**
 * The sync's lock timeout (`LOCK_TIMEOUT_SECONDS`, the longest a build waits for another sync of the
 * same repository) for a build timeout of `timeoutMinutes`: L = floor((T - P) / 2), T the build
 * timeout in seconds, P = {@link PRE_SCRIPT_BUDGET_SECONDS}.
 *
 * Derivation. T counts from the build's start through every phase, PROVISIONING included
 * (CodeBuild API Reference, CreateProject `timeoutInMinutes`: "How long, in minutes, from 5 to 2160
 * (36 hours), for CodeBuild to wait before it times out any build that has not been marked as
 * completed"; the time in the queue is bounded separately by `queuedTimeoutInMinutes`). The
 * coalescing protocol (header of lib/buildspec/mirror-sync.sh) bounds the script's own time, with S
 * the duration of one fetch + push cycle (its maintenance and a stalled transfer's bounds included):
 *
 * - a waiter gives up after L, with one line;
 * - a holder starts another fetch only within L/2 of taking the lock, so it holds the lock for
 *   H <= L/2 + S;
 * - a waiter that becomes the holder had waited W <= H(previous holder) <= L/2 + S, then holds
 *   <= L/2 + S itself: its build lasts at most P + L + 2S;
 * - no waiter gives up on a healthy holder iff H <= L, i.e. S <= L/2.
 *
 * Every build must end on its own, with its own line, before CodeBuild times it out: P + L + 2S <= T
 * for every S the protocol is meant for (S <= L/2), i.e. P + 2L <= T. The largest such L is
 * floor((T - P) / 2): with the default 5 minutes, L = 90 s, and syncs of up to L/2 = 45 s coalesce
 * with no build failing on the lock and none timing out; 10 minutes give L = 240 s and syncs of up
 * to 2 minutes (in general (T - P) / 4). A waiter that gives up ends at P + L < T. A stalled
 * transfer ends with git's or ssh's one line (ssh: ConnectTimeout and ServerAlive*, in
 * lib/buildspec/backlog-ssh.sh; push: git's HTTP low-speed limit, in mirror-sync.sh), inside
 * P + L/2 + both bounds <= T (asserted for every accepted T in __tests__/buildspec.test.ts).
 *
 * The previous formula, L = T - 60 s (240 s at 5 minutes), left a waiter that waited its full L 60 s
 * for provisioning and the script: a build whose provisioning took longer was killed by the build
 * timeout without a line of its own, and a waiter that got the lock late had less time left than
 * one sync.
 */
export function lockTimeoutSeconds(timeoutMinutes: number): number {
  return Math.floor((timeoutMinutes * 60 - PRE_SCRIPT_BUDGET_SECONDS) / 2);
}

/**
 * Terraform reads every string of a configuration as a template: a literal text such as shell must
 * have its `${` written `$${` and its `%{` written `%%{` to reach the provider as written. (cdktf's
 * `Fn.rawString` targets HCL expressions and also re-escapes newlines and quotes, which a JSON string
 * must not have.)
 */
export function escapeTerraformTemplate(text: string): string {
  // (a replacer function, because "$$" in a replacement string means one "$")
  return text.replace(/\$\{/g, () => "$${").replace(/%\{/g, () => "%%{");
}

/**
 * The log group a CodeBuild project writes to (`/aws/codebuild/PROJECT`, construct id `LogGroup`),
 * made by the stack so that its retention and key are set: the sync projects and `NAME-verify`.
 */
export function projectLogGroup(scope: Construct, projectName: string, retentionDays: number, kmsKeyArn?: string): CloudwatchLogGroup {
  return new CloudwatchLogGroup(scope, "LogGroup", {
    name: buildLogGroupName(projectName),
    retentionInDays: retentionDays,
    kmsKeyId: kmsKeyArn,
  });
}

/** Props of {@link MirrorBuild}. */
export interface MirrorBuildProps {
  /** Prefix of the names. */
  readonly name: string;
  readonly backlog: BacklogSettings;
  readonly repository: RepositoryMirrorSpec;
  readonly build?: BuildSettings;
  readonly logRetentionDays: number;
  readonly serviceRoleArn: string;
  readonly vpcId: string;
  readonly subnetIds: string[];
  readonly securityGroupId: string;
  /** DNS name of the EFS file system holding the mirrors. */
  readonly fileSystemDnsName: string;
  /** Bucket the sync saves backup bundles to (project variable BACKUP_BUCKET). */
  readonly backupBucketName: string;
  /**
   * Let the sync empty CodeCommit when Backlog advertises no refs (setting `sync.allowEmptySource`).
   * @default false
   */
  readonly allowEmptySource?: boolean;
  /** Customer-managed key for the log group and the project. @default - AWS-managed */
  readonly kmsKeyArn?: string;
  /** Resources the project must be created after (IAM policy, mount targets). */
  readonly dependsOn: ITerraformDependable[];
}

/** CodeCommit repository + sync project + log group of one Backlog repository. */
export class MirrorBuild extends Construct {
  public readonly codecommitRepository: CodecommitRepository;
  public readonly project: CodebuildProject;
  public readonly logGroup: CloudwatchLogGroup;

  constructor(scope: Construct, id: string, props: MirrorBuildProps) {
    super(scope, id);
    const repo = props.repository;
    const ccName = codecommitRepositoryName(repo);
    const projectName = buildProjectName(props.name, repo);
    const build = { ...BUILD_DEFAULTS, ...props.build };

    this.codecommitRepository = new CodecommitRepository(this, "Repository", {
      repositoryName: ccName,
      description: `Mirror of Backlog ${backlogRemoteUrl(props.backlog, repo)}, written by the sync build ${projectName}. Do not push here.`,
      // The build role may push only to repositories with this tag (lib/iam.ts). Removing or changing
      // the tag by hand takes the mirror away from the sync.
      tags: { [MIRROR_STACK_TAG_KEY]: props.name },
    });

    this.logGroup = projectLogGroup(this, projectName, props.logRetentionDays, props.kmsKeyArn);

    this.project = new CodebuildProject(this, "Project", {
      name: projectName,
      // CodeBuild: a project description holds at most 255 characters (CreateProject, "description":
      // Length Constraints: Maximum length of 255; https://docs.aws.amazon.com/codebuild/latest/APIReference/API_CreateProject.html).
      // The longest names validation accepts (25 + 100 + 100) give 8 + 126 + 15 + 100 = 249 here.
      description: `Backlog ${repo.projectKey}/${repo.repository} -> CodeCommit ${ccName}`,
      serviceRole: props.serviceRoleArn,
      source: {
        type: "NO_SOURCE",
        buildspec: escapeTerraformTemplate(
          renderBuildspec({
            backlog: props.backlog,
            repository: repo,
            codecommitRepository: ccName,
            lockTimeoutSeconds: lockTimeoutSeconds(build.timeoutMinutes),
            allowEmptySource: props.allowEmptySource === true,
          }),
        ),
      },
      environment: {
        type: "ARM_CONTAINER",
        image: BUILD_IMAGE,
        computeType: build.computeType,
        imagePullCredentialsType: "CODEBUILD",
        // Off: CodeBuild mounts the project's `fileSystemLocations` itself, and its EFS documentation
        // ("Amazon Elastic File System sample for CodeBuild" and "Troubleshoot the Amazon EFS
        // integration") lists a VPC, a subnet in the mount target's AZ and NFS in the security group,
        // no privileged mode; privileged mode is for running a Docker daemon, which the sync does not.
        privilegedMode: false,
        // Where the sync saves bundles of history it is about to overwrite or delete.
        environmentVariable: [{ name: BACKUP_BUCKET_ENV, value: props.backupBucketName, type: "PLAINTEXT" }],
      },
      vpcConfig: {
        vpcId: props.vpcId,
        subnets: props.subnetIds,
        securityGroupIds: [props.securityGroupId],
      },
      fileSystemLocations: [
        {
          type: "EFS",
          identifier: EFS_LOCATION_IDENTIFIER,
          location: `${props.fileSystemDnsName}:/`,
          mountPoint: EFS_MOUNT_POINT,
        },
      ],
      // No `cache`: the buildspec declares no cache paths, so an S3 cache stored nothing; the mirror
      // itself is kept on EFS.
      artifacts: { type: "NO_ARTIFACTS" },
      logsConfig: { cloudwatchLogs: { status: "ENABLED", groupName: this.logGroup.name } },
      buildTimeout: build.timeoutMinutes,
      queuedTimeout: build.queuedTimeoutMinutes,
      concurrentBuildLimit: build.concurrentBuildLimit,
      projectVisibility: "PRIVATE",
      encryptionKey: props.kmsKeyArn,
      dependsOn: props.dependsOn,
    });
  }
}
