/**
 * The top-level construct: everything that mirrors a set of Backlog repositories into CodeCommit.
 *
 * Shared by all repositories: the webhook REST API with its one route `POST /{project}/{repo}` (a
 * constant table selects the repository), the EFS file system (one bare mirror per repository under
 * `PROJECT/REPO.git`), the bucket, both security groups and the roles (scoped by the prefix
 * `NAME-mirror-` and the mirrors' stack tag, never by lists of repositories).
 * Per repository: an instance of the CodeCommit repository, of the CodeBuild project and of its log
 * group, three resources with `for_each` keyed `PROJECT/REPO` (lib/mirror-build.ts); every sync
 * project runs the same buildspec, with its repository's settings in its environment variables.
 *
 * Around them: the webhook's resource policy, throttling and optional WAF; the safety net (one
 * scheduled `NAME-verify` build that syncs only the mirrors that differ from Backlog, and the
 * out-of-sync alarm); failure alerts; and, optionally, a VPC with a NAT gateway and a customer-managed KMS key.
 */
import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import { DataAwsRegion } from "@cdktf/provider-aws/lib/data-aws-region";
import { Construct } from "constructs";
import { MirrorAlerts } from "./alerts";
import { BuildScripts } from "./build-scripts";
import { BACKLOG_WEBHOOK_SOURCE_IPS } from "./backlog-ips";
import { MirrorKey } from "./encryption";
import { type ArnContext, MirrorIam } from "./iam";
import { MirrorLfs, lfsRepositories } from "./lfs";
import { MirrorRepositories } from "./mirror-build";
import { buildProjectName, repositoryKey } from "./naming";
import { MirrorNetwork } from "./network";
import type { BacklogCodeCommitMirrorProps, NetworkSettings } from "./props";
import { armRegionPostcondition } from "./regions";
import { DEFAULT_OUT_OF_SYNC_ALARM_HOURS, DEFAULT_RESYNC_SCHEDULE, MirrorSafetyNet } from "./safety-net";
import { MirrorStorage } from "./storage";
import { validateMirrorProps } from "./validation";
import { MirrorVpc } from "./vpc";
import { WebhookApi } from "./webhook-api";
import { DEFAULT_THROTTLE, WebhookProtection } from "./webhook-protection";

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
  /** The build scripts in the stack's bucket: the source of every project (lib/build-scripts.ts). */
  public readonly scripts: BuildScripts;
  public readonly network: MirrorNetwork;
  public readonly iam: MirrorIam;
  /** The per-repository resources: one `for_each` set each, keyed `PROJECT/REPO`. */
  public readonly mirrors: MirrorRepositories;
  public readonly alerts: MirrorAlerts;
  /** The safety net (`NAME-verify`, its schedule and the out-of-sync alarm), unless `resync.enabled` is false. */
  public readonly safetyNet?: MirrorSafetyNet;
  /** Alert topic: subscribe to it for failed syncs, webhook 5xx and mirrors out of sync. */
  public readonly alertsTopicArn: string;
  /** The VPC created when no `network` was given. */
  public readonly vpc?: MirrorVpc;
  /** The address syncs leave from, when the VPC was created here. */
  public readonly natPublicIp?: string;
  /** The customer-managed key, when `encryption.customerManagedKey` is on. */
  public readonly key?: MirrorKey;
  /** Git LFS for consumers (read policies, agent, commands), when `lfs` is set and a repository mirrors LFS objects. */
  public readonly lfs?: MirrorLfs;
  /** The source addresses allowed to call the webhook; undefined when it is open to all. */
  public readonly webhookSourceIps?: readonly string[];

  constructor(scope: Construct, id: string, props: BacklogCodeCommitMirrorProps) {
    super(scope, id);
    validateMirrorProps(props);
    const { name, backlog } = props;

    const account = new DataAwsCallerIdentity(this, "Account");
    const partition = new DataAwsPartition(this, "Partition");
    // `id` is the region name in provider 5.x and 6.x alike (`name` is deprecated in 6.x). Its
    // postcondition refuses a region without ARM builds at plan time (lib/regions.ts).
    const region = new DataAwsRegion(this, "Region", { lifecycle: { postcondition: [armRegionPostcondition()] } });
    const arnContext: ArnContext = { partition: partition.partition, region: region.id, accountId: account.accountId };

    let network: NetworkSettings;
    let subnetAvailabilityZones: string[] | undefined;
    if (props.network !== undefined) {
      network = props.network;
    } else {
      this.vpc = new MirrorVpc(this, "Vpc", { name });
      this.natPublicIp = this.vpc.natEip.publicIp;
      network = { vpcId: this.vpc.vpc.id, subnetIds: this.vpc.privateSubnets.map((s) => s.id) };
      subnetAvailabilityZones = this.vpc.privateSubnets.map((s) => s.availabilityZone);
    }

    const projectNames = props.repositories.map((r) => buildProjectName(name, r));
    if (props.encryption?.customerManagedKey === true) {
      this.key = new MirrorKey(this, "Key", { name, arnContext });
    }
    const kmsKeyArn = this.key?.key.arn;

    this.network = new MirrorNetwork(this, "Network", { name, vpcId: network.vpcId });
    this.storage = new MirrorStorage(this, "Storage", {
      name,
      accountId: account.accountId,
      subnetIds: network.subnetIds,
      subnetAvailabilityZones,
      fileSystemSecurityGroupId: this.network.fileSystemSecurityGroup.id,
      kmsKeyArn,
      backupRetentionDays: props.backups?.retentionDays,
    });

    this.scripts = new BuildScripts(this, "Scripts", { bucketName: this.storage.cacheBucket.bucket });

    const resyncEnabled = props.resync?.enabled !== false;
    const parameterNames = [backlog.sshKeyParameter, ...(backlog.hostKeysParameter ? [backlog.hostKeysParameter] : [])];
    this.iam = new MirrorIam(this, "Iam", {
      name,
      arnContext,
      projectNames,
      parameterNames,
      subnetIds: network.subnetIds,
      backupBucketArn: this.storage.backupBucket.arn,
      allowDebugSessions: props.build?.allowDebugSessions,
      lfsCredentialsParameter: props.lfs?.credentialsParameter,
      kmsKeyArn,
    });

    // Each read of a resource attribute makes a new token (and CDKTF records a stack trace for each):
    // the shared ones are read once, not once per repository (synthesis time at 200 repositories).
    const shared = {
      serviceRoleArn: this.iam.buildRole.arn,
      securityGroupId: this.network.buildSecurityGroup.id,
      fileSystemDnsName: this.storage.fileSystem.dnsName,
      backupBucketName: this.storage.backupBucket.bucket,
      scriptsLocation: this.scripts.sourceLocation,
      allowEmptySource: props.sync?.allowEmptySource,
      lfs: props.lfs,
    };
    this.mirrors = new MirrorRepositories(this, "Repositories", {
      name,
      backlog,
      repositories: props.repositories,
      build: props.build,
      logRetentionDays: props.logRetentionDays ?? DEFAULT_LOG_RETENTION_DAYS,
      ...shared,
      vpcId: network.vpcId,
      subnetIds: network.subnetIds,
      kmsKeyArn,
      // CodeBuild checks the role's VPC permissions on creation; a build needs its mount target.
      dependsOn: [this.iam.buildVpcPolicy, this.storage.mountTargets, ...this.scripts.objects],
    });

    const lfsRepos = lfsRepositories(props.lfs !== undefined, props.repositories);
    if (lfsRepos.length > 0) {
      this.lfs = new MirrorLfs(this, "Lfs", { name, repositories: lfsRepos, bucketName: shared.backupBucketName, bucketArn: this.storage.backupBucket.arn, scriptsFolder: this.scripts.folder, kmsKeyArn, region: region.id });
    }

    const webhook = props.webhook ?? {};
    this.webhookSourceIps =
      webhook.allowAnySource === true
        ? undefined
        : [...(webhook.allowedSourceIps ?? BACKLOG_WEBHOOK_SOURCE_IPS), ...(webhook.additionalSourceIps ?? [])];
    this.webhook = new WebhookApi(this, "Webhook", {
      name,
      partition: partition.partition,
      region: region.id,
      accountId: account.accountId,
      credentialsRoleArn: this.iam.apiRole.arn,
      sourceIps: this.webhookSourceIps,
      routes: props.repositories.map((r, i) => ({ key: repositoryKey(r), projectName: projectNames[i] })),
    });
    this.webhookBaseUrl = this.webhook.stage.invokeUrl;
    new WebhookProtection(this, "WebhookProtection", {
      name,
      restApiId: this.webhook.api.id,
      stageName: this.webhook.stage.stageName,
      stageArn: this.webhook.stage.arn,
      throttleRateLimit: webhook.throttleRateLimit ?? DEFAULT_THROTTLE.rateLimit,
      throttleBurstLimit: webhook.throttleBurstLimit ?? DEFAULT_THROTTLE.burstLimit,
      wafRateLimitPer5Minutes: webhook.wafRateLimitPer5Minutes,
    });

    this.alerts = new MirrorAlerts(this, "Alerts", {
      name,
      accountId: account.accountId,
      apiName: this.webhook.api.name,
      stageName: this.webhook.stage.stageName,
      emails: props.alerts?.emails ?? [],
      kmsKeyArn,
    });
    this.alertsTopicArn = this.alerts.topic.arn;

    if (resyncEnabled) {
      this.safetyNet = new MirrorSafetyNet(this, "SafetyNet", {
        name,
        arnContext,
        backlog,
        repositories: props.repositories,
        schedule: props.resync?.schedule ?? DEFAULT_RESYNC_SCHEDULE,
        outOfSyncAlarmHours: props.resync?.outOfSyncAlarmHours ?? DEFAULT_OUT_OF_SYNC_ALARM_HOURS,
        bucketName: this.storage.cacheBucket.bucket,
        bucketArn: this.storage.cacheBucket.arn,
        scripts: this.scripts,
        vpcId: network.vpcId,
        subnetIds: network.subnetIds,
        securityGroupId: this.network.buildSecurityGroup.id,
        parameterNames,
        logRetentionDays: props.logRetentionDays ?? DEFAULT_LOG_RETENTION_DAYS,
        alertTopicArn: this.alerts.topic.arn,
        kmsKeyArn,
      });
    }

    this.repositories = props.repositories.map((r, i) => {
      const key = repositoryKey(r);
      const instance = this.mirrors.instances[key];
      const route = this.webhook.routes.get(key);
      if (route === undefined || instance === undefined) throw new Error(`internal: no webhook route or mirror for ${key}`);
      return {
        key,
        webhookUrl: route.url,
        codecommitRepositoryName: instance.codecommit_repository,
        cloneUrlHttp: this.mirrors.instanceAttribute("codecommitRepository", key, "clone_url_http"),
        cloneUrlSsh: this.mirrors.instanceAttribute("codecommitRepository", key, "clone_url_ssh"),
        codecommitArn: this.mirrors.instanceAttribute("codecommitRepository", key, "arn"),
        buildProjectName: projectNames[i],
        logGroupName: this.mirrors.instanceAttribute("logGroup", key, "name"),
      };
    });
  }
}
