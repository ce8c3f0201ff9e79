/**
 * One repository's mirror: the CodeCommit repository, the CodeBuild project that syncs it, and the
 * project's log group.
 */
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { CodebuildProject } from "@cdktf/provider-aws/lib/codebuild-project";
import { CodecommitRepository } from "@cdktf/provider-aws/lib/codecommit-repository";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { renderBuildspec } from "./buildspec";
import {
  EFS_LOCATION_IDENTIFIER,
  EFS_MOUNT_POINT,
  backlogRemoteUrl,
  buildLogGroupName,
  buildProjectName,
  codecommitRepositoryName,
} from "./naming";
import type { BacklogSettings, BuildSettings, RepositoryMirrorSpec } from "./props";

/** A current ARM standard image (Amazon Linux 2023): git, OpenSSH client, flock, AWS CLI v2. */
export const BUILD_IMAGE = "aws/codebuild/amazonlinux-aarch64-standard:3.0";

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
  /** Name of the build-cache bucket. */
  readonly cacheBucketName: string;
  /** Customer-managed key for the log group and the project's cache. @default - AWS-managed */
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
    });

    this.logGroup = new CloudwatchLogGroup(this, "LogGroup", {
      name: buildLogGroupName(projectName),
      retentionInDays: props.logRetentionDays,
      kmsKeyId: props.kmsKeyArn,
    });

    this.project = new CodebuildProject(this, "Project", {
      name: projectName,
      description: `Mirrors Backlog ${repo.projectKey}/${repo.repository} into CodeCommit ${ccName}`,
      serviceRole: props.serviceRoleArn,
      source: {
        type: "NO_SOURCE",
        buildspec: escapeTerraformTemplate(
          renderBuildspec({
            backlog: props.backlog,
            repository: repo,
            codecommitRepository: ccName,
            // Leave a minute of the build timeout for the sync itself.
            lockTimeoutSeconds: Math.max(60, (build.timeoutMinutes - 1) * 60),
          }),
        ),
      },
      environment: {
        type: "ARM_CONTAINER",
        image: BUILD_IMAGE,
        computeType: build.computeType,
        imagePullCredentialsType: "CODEBUILD",
        // Mounting EFS from the build container needs privileged mode (as in the seed template).
        privilegedMode: true,
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
      artifacts: { type: "NO_ARTIFACTS" },
      cache: { type: "S3", location: `${props.cacheBucketName}/${projectName}` },
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
