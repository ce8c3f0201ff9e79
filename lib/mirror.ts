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
import { Token, ref } from "cdktf";
import { Construct } from "constructs";
import { MirrorAlerts } from "./alerts";
import { BuildScripts } from "./build-scripts";
import { renderBuildspec, syncSettings } from "./buildspec";
import { MirrorKey } from "./encryption";
import { type ArnContext, MirrorIam } from "./iam";
import { MirrorFleet } from "./fleet";
import { MirrorLfs } from "./lfs";
import { MirrorRepositories } from "./mirror-build";
import { DEFAULT_LOG_RETENTION_DAYS, type MirrorInputs, isMirrorInputs, mirrorInputs } from "./mirror-inputs";
import { MirrorNetwork } from "./network";
import type { BacklogCodeCommitMirrorProps } from "./props";
import { armRegionPostcondition } from "./regions";
import { MirrorSafetyNet } from "./safety-net";
import { MirrorStorage } from "./storage";
import { type StringList, declared, isListExpression, listValue } from "./terraform-values";
import { MirrorVpc } from "./vpc";
import { WebhookApi } from "./webhook-api";
import { WebhookProtection } from "./webhook-protection";

export { DEFAULT_LOG_RETENTION_DAYS };

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
  /**
   * The value of the `repositories` output (main.ts, the HCL module): per `PROJECT/REPO`, webhook_url,
   * codecommit_repository, clone_url_http, clone_url_ssh, build_project and log_group, as one `for`
   * expression over the per-repository resources.
   */
  public readonly repositoriesOutput: unknown;
  /** Per repository, in the order of `props.repositories` (empty when they are module variables). */
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
  /** The reserved-capacity fleet of the builds, when `build.fleet` is set. */
  public readonly fleet?: MirrorFleet;
  /** The source addresses allowed to call the webhook; undefined when it is open to all. */
  public readonly webhookSourceIps?: readonly string[];

  /**
   * @param props the configuration (validated first: a ConfigError names a bad field), or the
   *   resolved {@link MirrorInputs} (lib/mirror-inputs.ts): the HCL module passes its variables so.
   */
  constructor(scope: Construct, id: string, props: BacklogCodeCommitMirrorProps | MirrorInputs) {
    super(scope, id);
    const inputs = isMirrorInputs(props) ? props : mirrorInputs(props);
    const { name, backlog, repositories } = inputs;

    const account = new DataAwsCallerIdentity(this, "Account");
    const partition = new DataAwsPartition(this, "Partition");
    // `id` is the region name in provider 5.x and 6.x alike (`name` is deprecated in 6.x). Its
    // postcondition refuses a region without ARM builds at plan time (lib/regions.ts).
    const region = new DataAwsRegion(this, "Region", { lifecycle: { postcondition: [armRegionPostcondition()] } });
    const arnContext: ArnContext = { partition: partition.partition, region: region.id, accountId: account.accountId };

    let network: { vpcId: string; subnetIds: StringList };
    let subnetAvailabilityZones: string[] | undefined;
    if (inputs.network !== undefined) {
      network = inputs.network;
    } else {
      this.vpc = new MirrorVpc(this, "Vpc", { name });
      this.natPublicIp = this.vpc.natEip.publicIp;
      network = { vpcId: this.vpc.vpc.id, subnetIds: this.vpc.privateSubnets.map((s) => s.id) };
      subnetAvailabilityZones = this.vpc.privateSubnets.map((s) => s.availabilityZone);
    }
    const subnetIds = listValue(network.subnetIds);

    if (inputs.customerManagedKey) {
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
      backupRetentionDays: inputs.backupRetentionDays,
    });

    this.scripts = new BuildScripts(this, "Scripts", { bucketName: this.storage.cacheBucket.bucket, content: inputs.scriptContent });

    this.iam = new MirrorIam(this, "Iam", {
      name,
      arnContext,
      projectNames: repositories.literal?.map((r) => r.projectName),
      parameterNames: backlog.parameterNames,
      subnetIds: network.subnetIds,
      backupBucketArn: this.storage.backupBucket.arn,
      allowDebugSessions: inputs.build.allowDebugSessions,
      lfs: inputs.lfs,
      kmsKeyArn,
    });

    if (declared(inputs.build.fleet.when)) {
      this.fleet = new MirrorFleet(this, "Fleet", {
        name,
        arnContext,
        fleet: inputs.build.fleet,
        computeType: inputs.build.computeType,
        vpcId: network.vpcId,
        subnetIds: network.subnetIds,
        securityGroupId: this.network.buildSecurityGroup.id,
      });
    }

    // Each read of a resource attribute makes a new token (and CDKTF records a stack trace for each):
    // the shared ones are read once, not once per repository (synthesis time at 200 repositories).
    const buildspecInputs = { sshKeyParameter: backlog.sshKeyParameter, hostKeysParameter: backlog.hostKeysParameter };
    this.mirrors = new MirrorRepositories(this, "Repositories", {
      name,
      repositories,
      buildspec: renderBuildspec(buildspecInputs),
      settings: syncSettings({ backlog, lockTimeoutSeconds: inputs.build.lockTimeoutSeconds, allowEmptySource: inputs.allowEmptySource, lfs: inputs.lfs }),
      build: inputs.build,
      lfs: inputs.lfs.when,
      logRetentionDays: inputs.logRetentionDays,
      serviceRoleArn: this.iam.buildRole.arn,
      securityGroupId: this.network.buildSecurityGroup.id,
      fileSystemDnsName: this.storage.fileSystem.dnsName,
      backupBucketName: this.storage.backupBucket.bucket,
      scriptsLocation: this.scripts.sourceLocation,
      vpcId: network.vpcId,
      subnetIds,
      kmsKeyArn,
      fleet: this.fleet,
      // CodeBuild checks the role's VPC permissions on creation; a build needs its mount target.
      dependsOn: [this.iam.buildVpcPolicy, this.storage.mountTargets, ...this.scripts.objects],
    });

    // Git LFS for consumers: a read policy per repository that mirrors its LFS objects.
    const lfsRepos =
      repositories.hcl !== undefined
        ? { hcl: repositories.hcl }
        : inputs.lfs.when === true
          ? (repositories.literal ?? []).filter((r) => r.lfsEndpoint !== "").map((r) => r.spec)
          : [];
    if (declared(inputs.lfs.when) && (!Array.isArray(lfsRepos) || lfsRepos.length > 0)) {
      this.lfs = new MirrorLfs(this, "Lfs", {
        name,
        repositories: lfsRepos,
        bucketName: this.storage.backupBucket.bucket,
        bucketArn: this.storage.backupBucket.arn,
        scriptsFolder: this.scripts.folder,
        kmsKeyArn,
        region: region.id,
      });
    }

    const webhook = inputs.webhook;
    this.webhookSourceIps = webhook.restricted === true && !isListExpression(webhook.sourceIps) ? webhook.sourceIps : undefined;
    this.webhook = new WebhookApi(this, "Webhook", {
      name,
      partition: partition.partition,
      region: region.id,
      accountId: account.accountId,
      credentialsRoleArn: this.iam.apiRole.arn,
      sourceIps: webhook.sourceIps,
      restricted: webhook.restricted,
      routes: repositories,
    });
    this.webhookBaseUrl = this.webhook.stage.invokeUrl;
    new WebhookProtection(this, "WebhookProtection", {
      name,
      restApiId: this.webhook.api.id,
      stageName: this.webhook.stage.stageName,
      stageArn: this.webhook.stage.arn,
      throttleRateLimit: webhook.throttleRateLimit,
      throttleBurstLimit: webhook.throttleBurstLimit,
      waf: webhook.waf,
      wafRateLimitPer5Minutes: webhook.waf === false ? undefined : webhook.wafRateLimitPer5Minutes,
    });

    this.alerts = new MirrorAlerts(this, "Alerts", {
      name,
      arnContext,
      apiName: this.webhook.api.name,
      stageName: this.webhook.stage.stageName,
      emails: inputs.alertEmails,
      kmsKeyArn,
    });
    this.alertsTopicArn = this.alerts.topic.arn;

    if (declared(inputs.resync.enabled)) {
      this.safetyNet = new MirrorSafetyNet(this, "SafetyNet", {
        name,
        arnContext,
        backlog,
        repositories,
        enabled: inputs.resync.enabled,
        schedule: inputs.resync.schedule,
        outOfSyncAlarmHours: inputs.resync.outOfSyncAlarmHours,
        outOfSyncAlertSeconds: inputs.resync.outOfSyncAlertSeconds,
        alertStateMachineArn: this.alerts.stateMachine.arn,
        bucketName: this.storage.cacheBucket.bucket,
        bucketArn: this.storage.cacheBucket.arn,
        scripts: this.scripts,
        vpcId: network.vpcId,
        subnetIds: network.subnetIds,
        securityGroupId: this.network.buildSecurityGroup.id,
        parameterNames: backlog.parameterNames,
        logRetentionDays: inputs.logRetentionDays,
        alertTopicArn: this.alerts.topic.arn,
        kmsKeyArn,
        fleet: this.fleet,
      });
    }

    // The attributes that are references are made when read (each is a token, with a stack trace):
    // the stack's output reads none of them (repositoriesOutput).
    const mirrors = this.mirrors;
    this.repositories = (repositories.literal ?? []).map((r) => {
      const instance = mirrors.instances?.[r.key];
      const route = this.webhook.routes.get(r.key);
      if (route === undefined || instance === undefined) throw new Error(`internal: no webhook route or mirror for ${r.key}`);
      return {
        key: r.key,
        webhookUrl: route.url,
        codecommitRepositoryName: instance.codecommit_repository,
        get cloneUrlHttp() {
          return mirrors.instanceAttribute("codecommitRepository", r.key, "clone_url_http");
        },
        get cloneUrlSsh() {
          return mirrors.instanceAttribute("codecommitRepository", r.key, "clone_url_ssh");
        },
        get codecommitArn() {
          return mirrors.instanceAttribute("codecommitRepository", r.key, "arn");
        },
        buildProjectName: r.projectName,
        get logGroupName() {
          return mirrors.instanceAttribute("logGroup", r.key, "name");
        },
      };
    });
    const stage = this.webhook.stage.fqn;
    const codecommit = mirrors.codecommitRepository.fqn;
    const logGroup = mirrors.logGroup.fqn;
    this.repositoriesOutput = Token.asAny(
      ref(
        `{ for k, r in ${mirrors.instancesLocal.fqn} : k => { webhook_url = "\${${stage}.invoke_url}/\${k}", codecommit_repository = r.codecommit_repository, clone_url_http = ${codecommit}[k].clone_url_http, clone_url_ssh = ${codecommit}[k].clone_url_ssh, build_project = r.project_name, log_group = ${logGroup}[k].name } }`,
      ),
    );
  }
}
