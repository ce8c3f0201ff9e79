/**
 * The mirrors: every repository's CodeCommit repository, the CodeBuild project that syncs it, and the
 * project's log group, as three `for_each` resources keyed `PROJECT/REPO`; the sync build's image,
 * defaults and lock timeout.
 */
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { CodebuildProject } from "@cdktf/provider-aws/lib/codebuild-project";
import { CodecommitRepository } from "@cdktf/provider-aws/lib/codecommit-repository";
import { type ITerraformDependable, TerraformElement, TerraformIterator, TerraformLocal, TerraformStack, Token, propertyAccess, ref } from "cdktf";
import { Construct, type Node } from "constructs";
import { BACKUP_BUCKET_ENV, LFS_ENDPOINT_ENV, repositorySyncSettings } from "./buildspec";
import { type MirrorFleet, buildPlacement } from "./fleet";
import type { BuildSetting, MirrorInputs, RepositoryInstance, RepositorySet } from "./mirror-inputs";
import { EFS_LOCATION_IDENTIFIER, EFS_MOUNT_POINT, buildLogGroupName, MIRROR_STACK_TAG_KEY, repositoryConstructId, repositoryKey } from "./naming";
import type { RepositoryMirrorSpec } from "./props";
import { escapeTerraformTemplate } from "./terraform-template";
import { type Switch, hclTemplate } from "./terraform-values";

export { escapeTerraformTemplate };

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
 * The log group a CodeBuild project writes to (`/aws/codebuild/PROJECT`, construct id `LogGroup`),
 * made by the stack so that its retention and key are set: `NAME-verify` here, and the sync projects'
 * groups (one `for_each` resource) in {@link MirrorRepositories}.
 */
export function projectLogGroup(scope: Construct, projectName: string, retentionDays: number, kmsKeyArn?: string, count?: number): CloudwatchLogGroup {
  return new CloudwatchLogGroup(scope, "LogGroup", {
    count,
    name: buildLogGroupName(projectName),
    retentionInDays: retentionDays,
    kmsKeyId: kmsKeyArn,
  });
}

export type { RepositoryInstance };

/**
 * A project's environment variables from its settings: a literal list when every setting's presence
 * is known (the stack), else (the module) a `dynamic` block over a `concat` of the settings, each
 * conditional one in `COND ? [...] : []` ({@link addDynamicEnvironment}). CodeBuild takes them as
 * PLAINTEXT variables; none is secret (the SSH key comes from Parameter Store through the buildspec).
 */
export function environmentVariables(settings: readonly BuildSetting[]): Array<{ name: string; value: string; type: string }> | undefined {
  if (!settings.every((s) => typeof (s.when ?? true) === "boolean")) return undefined;
  return settings.filter((s) => s.when !== false).map((s) => ({ name: s.name, value: s.value, type: "PLAINTEXT" }));
}

/** The `dynamic "environment_variable"` block of a project whose settings {@link environmentVariables} cannot list. */
export function addDynamicEnvironment(project: CodebuildProject, settings: readonly BuildSetting[]): void {
  if (environmentVariables(settings) !== undefined) return;
  const entry = (s: BuildSetting) => `{ name = ${hclTemplate(s.name)}, value = ${hclTemplate(s.value)} }`;
  // Consecutive settings that are always present share one list.
  const parts: string[] = [];
  let always: string[] = [];
  for (const s of settings) {
    const w = s.when ?? true;
    if (w === true) always.push(entry(s));
    else if (w !== false) {
      if (always.length > 0) parts.push(`[${always.join(", ")}]`);
      always = [];
      parts.push(`${w.hcl} ? [${entry(s)}] : []`);
    }
  }
  if (always.length > 0) parts.push(`[${always.join(", ")}]`);
  project.addOverride("environment.dynamic.environment_variable", {
    for_each: Token.asAny(ref(`concat(${parts.join(", ")})`)),
    content: { name: "${environment_variable.value.name}", value: "${environment_variable.value.value}", type: "PLAINTEXT" },
  });
}

/** Props of {@link MirrorRepositories}. */
export interface MirrorRepositoriesProps {
  /** Prefix of the names. */
  readonly name: string;
  readonly repositories: RepositorySet;
  /** The sync buildspec, the same for every project (lib/buildspec.ts renderBuildspec). */
  readonly buildspec: string;
  /** The settings every project shares (lib/buildspec.ts syncSettings). */
  readonly settings: readonly BuildSetting[];
  readonly build: MirrorInputs["build"];
  /** Whether the syncs mirror Git LFS objects (project variable LFS_ENDPOINT per repository). */
  readonly lfs: Switch;
  readonly logRetentionDays: number;
  readonly serviceRoleArn: string;
  readonly vpcId: string;
  readonly subnetIds: string[];
  readonly securityGroupId: string;
  /** DNS name of the EFS file system holding the mirrors. */
  readonly fileSystemDnsName: string;
  /** Bucket the sync saves backup bundles to (project variable BACKUP_BUCKET). */
  readonly backupBucketName: string;
  /** `BUCKET/tools/SHA256/`: the folder of the build scripts, the projects' source (lib/build-scripts.ts). */
  readonly scriptsLocation: string;
  /** Customer-managed key for the log groups and the projects. @default - AWS-managed */
  readonly kmsKeyArn?: string;
  /** The reserved-capacity fleet the builds run on, when `build.fleet` is set. @default - none */
  readonly fleet?: MirrorFleet;
  /** Resources the projects must be created after (IAM policy, mount targets, the scripts' objects). */
  readonly dependsOn: ITerraformDependable[];
}

/** The construct ids of the per-repository resources (one `for_each` set each). */
export const REPOSITORY_RESOURCE_IDS = { codecommitRepository: "Repository", logGroup: "LogGroup", project: "Project" } as const;

/**
 * Every repository's CodeCommit repository, sync project and log group: three resources, each with
 * `for_each` over the repositories keyed `PROJECT/REPO` ({@link repositoryInstances}). Adding or
 * removing a repository adds or removes that key's instances only; every sync project carries the
 * same buildspec and reads its repository's settings from its environment variables.
 */
export class MirrorRepositories extends Construct {
  public readonly codecommitRepository: CodecommitRepository;
  public readonly project: CodebuildProject;
  public readonly logGroup: CloudwatchLogGroup;
  /** The `for_each` map, keyed `PROJECT/REPO` (escaped for Terraform); undefined in the module. */
  public readonly instances?: Record<string, RepositoryInstance>;
  /** The local value holding {@link instances}, which the three resources iterate. */
  public readonly instancesLocal: TerraformLocal;

  constructor(scope: Construct, id: string, props: MirrorRepositoriesProps) {
    super(scope, id);
    const { build, repositories } = props;
    const instances = repositories.instances;
    // (Keys of the literal map are PROJECT/REPO: never `hcl`.)
    const expression = typeof instances.hcl === "string" ? (instances.hcl as string) : undefined;
    this.instances = expression === undefined ? (instances as Record<string, RepositoryInstance>) : undefined;
    // Written once, as a local value, and iterated by the three resources.
    this.instancesLocal = new TerraformLocal(this, "Instances", expression === undefined ? instances : Token.asAny(ref(expression)));
    const each = TerraformIterator.fromMap(this.instancesLocal.asAnyMap);
    const value = (field: keyof RepositoryInstance): string => each.getString(field);

    this.codecommitRepository = new CodecommitRepository(this, REPOSITORY_RESOURCE_IDS.codecommitRepository, {
      forEach: each,
      repositoryName: value("codecommit_repository"),
      description: value("codecommit_description"),
      // The build role may push only to repositories with this tag (lib/iam.ts). Removing or changing
      // the tag by hand takes the mirror away from the sync.
      tags: { [MIRROR_STACK_TAG_KEY]: props.name },
    });

    this.logGroup = new CloudwatchLogGroup(this, REPOSITORY_RESOURCE_IDS.logGroup, {
      forEach: each,
      name: value("log_group_name"),
      retentionInDays: props.logRetentionDays,
      kmsKeyId: props.kmsKeyArn,
    });

    const perRepository = {
      BACKLOG_REMOTE: value("backlog_remote"),
      CODECOMMIT_REPOSITORY: value("codecommit_repository"),
      MIRROR_PATH: value("mirror_path"),
      REF_INCLUDE: value("ref_include"),
      REF_EXCLUDE: value("ref_exclude"),
    } satisfies ReturnType<typeof repositorySyncSettings>;
    const settings: BuildSetting[] = [
      // Where the sync saves bundles of history it is about to overwrite or delete.
      { name: BACKUP_BUCKET_ENV, value: props.backupBucketName },
      ...props.settings,
      ...Object.entries(perRepository).map(([name, value]) => ({ name, value })),
      { name: LFS_ENDPOINT_ENV, value: value("lfs_endpoint"), when: props.lfs },
    ];

    // In the VPC by itself, or on the fleet (lib/fleet.ts).
    const placement = buildPlacement(
      { vpcId: props.vpcId, subnets: props.subnetIds, securityGroupIds: [props.securityGroupId] },
      build.computeType,
      props.fleet,
    );
    this.project = new CodebuildProject(this, REPOSITORY_RESOURCE_IDS.project, {
      forEach: each,
      name: value("project_name"),
      description: value("project_description"),
      serviceRole: props.serviceRoleArn,
      // The scripts are the project's source (lib/build-scripts.ts); the buildspec runs them.
      source: {
        type: "S3",
        location: props.scriptsLocation,
        buildspec: props.buildspec,
      },
      environment: {
        type: "ARM_CONTAINER",
        image: BUILD_IMAGE,
        computeType: placement.computeType,
        fleet: placement.fleet,
        imagePullCredentialsType: "CODEBUILD",
        // Off: CodeBuild mounts the project's `fileSystemLocations` itself, and its EFS documentation
        // ("Amazon Elastic File System sample for CodeBuild" and "Troubleshoot the Amazon EFS
        // integration") lists a VPC, a subnet in the mount target's AZ and NFS in the security group,
        // no privileged mode; privileged mode is for running a Docker daemon, which the sync does not.
        privilegedMode: false,
        // The repository's settings (lib/buildspec/mirror-sync.sh's header lists them).
        environmentVariable: environmentVariables(settings),
      },
      vpcConfig: placement.vpcConfig,
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
      // The same key's log group: a reference, so that Terraform creates the group first (a build
      // started before would create it without its retention and key).
      logsConfig: { cloudwatchLogs: { status: "ENABLED", groupName: Token.asString(propertyAccess(this.logGroup, [each.key, "name"])) } },
      buildTimeout: build.timeoutMinutes,
      queuedTimeout: build.queuedTimeoutMinutes,
      concurrentBuildLimit: build.concurrentBuildLimit,
      projectVisibility: "PRIVATE",
      encryptionKey: props.kmsKeyArn,
      dependsOn: props.dependsOn,
    });

    addDynamicEnvironment(this.project, settings);
    placement.addTo(this.project);

    if (repositories.literal !== undefined) {
      new MovedRepositoryResources(this, "MovedFromRepositoryConstructs", this, repositories.literal.map((r) => r.spec));
    }
  }

  /** A reference to an attribute of one repository's instance: `${aws_T.N["PROJECT/REPO"].ATTRIBUTE}`. */
  public instanceAttribute(resource: "codecommitRepository" | "logGroup" | "project", key: string, attribute: string): string {
    return Token.asString(propertyAccess(this[resource], [key, attribute]));
  }
}

/**
 * `moved` blocks from the addresses of the construct's earlier shape, in which each repository had a
 * construct of its own (id `PROJECT-REPO`, lib/naming.ts `repositoryConstructId`) holding its three
 * resources, to the instances of the `for_each` resources: a stack applied with that shape plans
 * no destroy after the upgrade (test/integration/terraform-cycle.test.ts applies the old shape and
 * re-plans). The addresses are computed when the configuration is written, by the stack's own
 * logical-id scheme. Terraform ignores a `moved` block whose source is not in the state.
 */
class MovedRepositoryResources extends TerraformElement {
  constructor(
    scope: Construct,
    id: string,
    private readonly target: MirrorRepositories,
    private readonly repositories: readonly RepositoryMirrorSpec[],
  ) {
    super(scope, id);
  }

  private blocks(): Array<{ from: string; to: string }> {
    const stack = TerraformStack.of(this.target);
    const parentScopes = this.target.node.scopes.slice(0, -1);
    const resources = [this.target.codecommitRepository, this.target.logGroup, this.target.project];
    return this.repositories.flatMap((repo) =>
      resources.map((resource) => {
        const oldPath = [...parentScopes, { node: { id: repositoryConstructId(repo) } }, { node: { id: resource.node.id } }];
        const oldId = stack.getLogicalId({ scopes: oldPath } as unknown as Node);
        const type = resource.terraformResourceType;
        return { from: `${type}.${oldId}`, to: `${type}.${resource.friendlyUniqueId}[${JSON.stringify(repositoryKey(repo))}]` };
      }),
    );
  }

  public override toTerraform(): Record<string, unknown> {
    return { moved: this.blocks() };
  }

  public override toHclTerraform(): Record<string, unknown> {
    return { moved: this.blocks() };
  }
}
