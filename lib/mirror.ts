/**
 * The top-level construct: everything that mirrors a set of Backlog repositories into CodeCommit.
 *
 * Shared by all repositories: the webhook REST API, the EFS file system (one bare mirror per
 * repository under `PROJECT/REPO.git`), the cache bucket, both security groups and both roles.
 * Per repository: the CodeCommit repository, the CodeBuild project (its buildspec names that
 * repository only), its log group, and its webhook route `POST /PROJECT/REPO`.
 */
import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import { DataAwsRegion } from "@cdktf/provider-aws/lib/data-aws-region";
import { Construct } from "constructs";
import { MirrorIam } from "./iam";
import { MirrorBuild } from "./mirror-build";
import {
  buildLogGroupName,
  buildProjectName,
  codecommitRepositoryName,
  repositoryConstructId,
  repositoryKey,
  webhookPathParts,
} from "./naming";
import { MirrorNetwork } from "./network";
import type { BacklogCodeCommitMirrorProps } from "./props";
import { MirrorStorage } from "./storage";
import { validateMirrorProps } from "./validation";
import { WebhookApi } from "./webhook-api";

/** Default retention of the build logs. */
export const DEFAULT_LOG_RETENTION_DAYS = 30;

/** What a consumer needs to know about one mirrored repository. */
export interface MirroredRepository {
  /** `PROJECT/REPO`. */
  readonly key: string;
  /** Paste into Backlog: Project settings → Git → repository → Webhook URL. */
  readonly webhookUrl: string;
  readonly codecommitRepositoryName: string;
  readonly cloneUrlHttp: string;
  readonly cloneUrlSsh: string;
  readonly codecommitArn: string;
  readonly buildProjectName: string;
  readonly logGroupName: string;
}

/** Mirrors Backlog Git repositories into CodeCommit on every push. */
export class BacklogCodeCommitMirror extends Construct {
  /** Per repository, in the order of `props.repositories`. */
  public readonly repositories: MirroredRepository[];
  /** Base URL of the webhook stage (`https://ID.execute-api.REGION.amazonaws.com/prod`). */
  public readonly webhookBaseUrl: string;
  public readonly webhook: WebhookApi;
  public readonly storage: MirrorStorage;
  public readonly network: MirrorNetwork;
  public readonly iam: MirrorIam;
  public readonly builds: MirrorBuild[];

  constructor(scope: Construct, id: string, props: BacklogCodeCommitMirrorProps) {
    super(scope, id);
    validateMirrorProps(props);
    const { name, backlog, network } = props;

    const account = new DataAwsCallerIdentity(this, "Account");
    const partition = new DataAwsPartition(this, "Partition");
    const region = new DataAwsRegion(this, "Region");
    const arnContext = { partition: partition.partition, region: region.name, accountId: account.accountId };

    this.network = new MirrorNetwork(this, "Network", { name, vpcId: network.vpcId });
    this.storage = new MirrorStorage(this, "Storage", {
      name,
      accountId: account.accountId,
      subnetIds: network.subnetIds,
      fileSystemSecurityGroupId: this.network.fileSystemSecurityGroup.id,
    });

    const projectNames = props.repositories.map((r) => buildProjectName(name, r));
    this.iam = new MirrorIam(this, "Iam", {
      name,
      arnContext,
      projectNames,
      logGroupNames: projectNames.map(buildLogGroupName),
      codecommitRepositoryNames: props.repositories.map(codecommitRepositoryName),
      parameterNames: [backlog.sshKeyParameter, ...(backlog.hostKeysParameter ? [backlog.hostKeysParameter] : [])],
      cacheBucketArn: this.storage.cacheBucket.arn,
      subnetIds: network.subnetIds,
      allowDebugSessions: props.build?.allowDebugSessions,
    });

    this.builds = props.repositories.map(
      (repository) =>
        new MirrorBuild(this, repositoryConstructId(repository), {
          name,
          backlog,
          repository,
          build: props.build,
          logRetentionDays: props.logRetentionDays ?? DEFAULT_LOG_RETENTION_DAYS,
          serviceRoleArn: this.iam.buildRole.arn,
          vpcId: network.vpcId,
          subnetIds: network.subnetIds,
          securityGroupId: this.network.buildSecurityGroup.id,
          fileSystemDnsName: this.storage.fileSystem.dnsName,
          cacheBucketName: this.storage.cacheBucket.bucket,
          // CodeBuild checks the role's VPC permissions on creation; a build needs its mount target.
          dependsOn: [this.iam.buildVpcPolicy, ...this.storage.mountTargets],
        }),
    );

    this.webhook = new WebhookApi(this, "Webhook", {
      name,
      partition: partition.partition,
      region: region.name,
      credentialsRoleArn: this.iam.apiRole.arn,
      routes: props.repositories.map((r, i) => ({
        key: repositoryKey(r),
        pathParts: webhookPathParts(r),
        projectName: projectNames[i],
      })),
    });
    this.webhookBaseUrl = this.webhook.stage.invokeUrl;

    this.repositories = props.repositories.map((r, i) => {
      const build = this.builds[i];
      const route = this.webhook.routes.get(repositoryKey(r));
      if (route === undefined) throw new Error(`internal: no webhook route for ${repositoryKey(r)}`);
      return {
        key: repositoryKey(r),
        webhookUrl: route.url,
        codecommitRepositoryName: codecommitRepositoryName(r),
        cloneUrlHttp: build.codecommitRepository.cloneUrlHttp,
        cloneUrlSsh: build.codecommitRepository.cloneUrlSsh,
        codecommitArn: build.codecommitRepository.arn,
        buildProjectName: projectNames[i],
        logGroupName: build.logGroup.name,
      };
    });
  }
}
