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
            stackName: props.name,
            // Leave a minute of the build timeout for the sync itself.
            lockTimeoutSeconds: Math.max(60, (build.timeoutMinutes - 1) * 60),
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
