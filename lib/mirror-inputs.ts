/**
 * What the construct tree is built from: {@link MirrorInputs}, every setting resolved to a value the
 * resources take as it is (lib/terraform-values.ts). {@link mirrorInputs} makes them from validated
 * props (the CDKTF stack: literal values, literal text escaped for Terraform); the HCL module makes
 * them from its variables (lib/terraform-module.ts), so that both are the same construct.
 */
import { Token, ref } from "cdktf";
import { BACKLOG_WEBHOOK_SOURCE_IPS } from "./backlog-ips";
import type { BuildScriptFile } from "./build-scripts";
import { DEFAULT_FLEET_OVERFLOW, FLEET_OVERFLOW_BEHAVIORS, type FleetInputs } from "./fleet";
import { BUILD_DEFAULTS, lockTimeoutSeconds } from "./mirror-build";
import { backlogGitHost, backlogLfsEndpoint, buildLogGroupName, buildProjectName, codecommitRepositoryName, mirrorRelativePath, repositoryKey, backlogRemoteUrl } from "./naming";
import type { BacklogCodeCommitMirrorProps, RefSelection, RepositoryMirrorSpec } from "./props";
import { DEFAULT_OUT_OF_SYNC_ALARM_HOURS, DEFAULT_RESYNC_SCHEDULE } from "./safety-net";
import { DEFAULT_BACKUP_RETENTION_DAYS } from "./storage";
import { escapeTerraformTemplate } from "./terraform-template";
import { type StringList, type Switch, hclTemplate } from "./terraform-values";
import { validateMirrorProps } from "./validation";
import { DEFAULT_THROTTLE } from "./webhook-protection";

/** Default retention of the build logs. */
export const DEFAULT_LOG_RETENTION_DAYS = 30;

/** The refs mirrored when no selection is set: every branch and tag (`RefSelection.include`). */
export const DEFAULT_REF_INCLUDE = ["refs/heads/*", "refs/tags/*"] as const;

/**
 * A list of ref patterns as the sync and the safety net read it (REF_INCLUDE, REF_EXCLUDE, the
 * repository list): joined by ",", "-" for none (lib/buildspec/mirror-sync.sh).
 */
export function refPatternList(patterns: readonly string[]): string {
  return patterns.length === 0 ? "-" : patterns.join(",");
}

/** The include and exclude lists of a repository: its own `refs`, else the stack's, else the default. */
export function refSelectionOf(spec: RepositoryMirrorSpec, stack: RefSelection | undefined): { include: string; exclude: string } {
  const refs = spec.refs ?? stack;
  return { include: refPatternList(refs?.include ?? DEFAULT_REF_INCLUDE), exclude: refPatternList(refs?.exclude ?? []) };
}

/** One repository's names, as text (literal, or `${r.FIELD}` in the module's `for` expressions). */
export interface RepositoryFields {
  /** `PROJECT/REPO`. */
  readonly key: string;
  readonly projectKey: string;
  readonly repository: string;
  readonly codecommitRepository: string;
  /** `NAME-mirror-CODECOMMIT` (lib/naming.ts buildProjectName). */
  readonly projectName: string;
  /**
   * When the stack mirrors Git LFS objects (setting `lfs`): the repository's LFS server, "" when it
   * opted out (`repositories[].lfs: false`).
   */
  readonly lfsEndpoint?: string;
  /** Its ref selection ({@link refPatternList}): the patterns included, and excluded ("-" for none). */
  readonly refInclude: string;
  readonly refExclude: string;
}

/**
 * What differs between two repositories' resources: one value of the `for_each` map, keyed
 * `PROJECT/REPO`. Written into the synthesized configuration, so snake case as Terraform writes it.
 */
export interface RepositoryInstance {
  readonly codecommit_repository: string;
  readonly codecommit_description: string;
  readonly project_name: string;
  readonly project_description: string;
  readonly log_group_name: string;
  readonly backlog_remote: string;
  readonly mirror_path: string;
  /** Only when the stack mirrors LFS objects: the repository's LFS server, "" when it opted out. */
  readonly lfs_endpoint?: string;
  readonly ref_include: string;
  readonly ref_exclude: string;
}

/** The `for_each` value of one repository, from its names (text or templates alike). */
export function repositoryInstance(backlog: { readonly spaceKey: string; readonly domain: string }, r: RepositoryFields): RepositoryInstance {
  const remote = backlogRemoteUrl(backlog, r);
  return {
    codecommit_repository: r.codecommitRepository,
    codecommit_description: `Mirror of Backlog ${remote}, written by the sync build ${r.projectName}. Do not push here.`,
    project_name: r.projectName,
    // CodeBuild: a project description holds at most 255 characters (CreateProject, "description":
    // Length Constraints: Maximum length of 255; https://docs.aws.amazon.com/codebuild/latest/APIReference/API_CreateProject.html).
    // The longest names validation accepts (25 + 100 + 100) give 8 + 126 + 15 + 100 = 249 here.
    project_description: `Backlog ${r.projectKey}/${r.repository} -> CodeCommit ${r.codecommitRepository}`,
    log_group_name: buildLogGroupName(r.projectName),
    backlog_remote: remote,
    mirror_path: mirrorRelativePath(r),
    ...(r.lfsEndpoint !== undefined ? { lfs_endpoint: r.lfsEndpoint } : {}),
    ref_include: r.refInclude,
    ref_exclude: r.refExclude,
  };
}

/**
 * The repositories of a stack: literally (the stack) or as the module's list of them. The
 * per-repository resources iterate {@link instances}; what else needs every repository (the
 * webhook's route table, the safety net's list) is made by {@link join}.
 */
export interface RepositorySet {
  /** The `for_each` map keyed `PROJECT/REPO`: literal values (escaped), or an HCL expression of it. */
  readonly instances: Record<string, RepositoryInstance> | { readonly hcl: string };
  /** `f` of every repository, joined by `sep`: text, or a `${join(...)}` template. */
  join(sep: string, f: (r: RepositoryFields) => string): string;
  /** The repositories, when known at synthesis (the stack). */
  readonly literal?: ReadonlyArray<RepositoryFields & { readonly spec: RepositoryMirrorSpec }>;
  /** The HCL list expression of the repositories, when they are known at apply only (the module). */
  readonly hcl?: string;
}

/** The repositories of validated props. */
export function literalRepositories(
  name: string,
  backlog: { readonly spaceKey: string; readonly domain: string },
  repositories: readonly RepositoryMirrorSpec[],
  lfs = false,
  refs?: RefSelection,
): RepositorySet {
  const literal = repositories.map((spec) => {
    const selection = refSelectionOf(spec, refs);
    return {
      spec,
      key: repositoryKey(spec),
      projectKey: spec.projectKey,
      repository: spec.repository,
      codecommitRepository: codecommitRepositoryName(spec),
      projectName: buildProjectName(name, spec),
      ...(lfs ? { lfsEndpoint: spec.lfs === false ? "" : backlogLfsEndpoint(backlog, spec) } : {}),
      refInclude: selection.include,
      refExclude: selection.exclude,
    };
  });
  const escape = (instance: RepositoryInstance) =>
    Object.fromEntries(Object.entries(instance).map(([k, v]) => [k, escapeTerraformTemplate(v)])) as unknown as RepositoryInstance;
  return {
    literal,
    instances: Object.fromEntries(literal.map((r) => [r.key, escape(repositoryInstance(backlog, r))])),
    join: (sep, f) => literal.map(f).join(sep),
  };
}

/**
 * The repositories of an HCL list expression whose elements carry `key`, `project_key`,
 * `repository`, `codecommit_repository` and `project_name` (the module's `local.repository_list`).
 */
export function repositoryListExpression(list: string, backlog: { readonly spaceKey: string; readonly domain: string }): RepositorySet {
  const fields: RepositoryFields = {
    key: "${r.key}",
    projectKey: "${r.project_key}",
    repository: "${r.repository}",
    codecommitRepository: "${r.codecommit_repository}",
    projectName: "${r.project_name}",
    lfsEndpoint: "${r.lfs_endpoint}",
    refInclude: "${r.ref_include}",
    refExclude: "${r.ref_exclude}",
  };
  const instance = repositoryInstance(backlog, fields);
  const entries = Object.entries(instance).map(([k, v]) => `${k} = ${hclTemplate(v)}`);
  return {
    hcl: list,
    instances: { hcl: `{ for r in ${list} : r.key => { ${entries.join(", ")} } }` },
    join: (sep, f) => Token.asString(ref(`join(${hclTemplate(sep)}, [for r in ${list} : ${hclTemplate(f(fields))}])`)),
  };
}

/** A setting of a build (a project environment variable), present as its {@link Switch} says. */
export interface BuildSetting {
  readonly name: string;
  readonly value: string;
  /** @default true */
  readonly when?: Switch;
}

/** Everything the construct tree is made of (see the file's header). */
export interface MirrorInputs {
  /** Tells inputs from props. */
  readonly kind: "mirror-inputs";
  readonly name: string;
  readonly logRetentionDays: number;
  readonly backlog: {
    readonly spaceKey: string;
    readonly domain: string;
    /** `SPACE.git.DOMAIN`. */
    readonly gitHost: string;
    readonly sshKeyParameter: string;
    /** The SSM parameter of pinned host keys, when that is their source. */
    readonly hostKeysParameter: { readonly value: string; readonly when: Switch };
    /** `pinned` or `scan` (HOST_KEY_MODE of the builds). */
    readonly hostKeyMode: string;
    /** The pinned host keys, one per line, when given inline (project variable BACKLOG_HOST_KEYS). */
    readonly hostKeys: { readonly value: string; readonly when: Switch };
    /** The SSM parameters the builds read. */
    readonly parameterNames: StringList;
  };
  /** The VPC to use; undefined: the construct creates one. */
  readonly network?: { readonly vpcId: string; readonly subnetIds: StringList };
  readonly repositories: RepositorySet;
  readonly build: {
    readonly timeoutMinutes: number;
    readonly queuedTimeoutMinutes: number;
    readonly computeType: string;
    readonly concurrentBuildLimit?: number;
    /** LOCK_TIMEOUT_SECONDS of the sync (lib/mirror-build.ts lockTimeoutSeconds). */
    readonly lockTimeoutSeconds: string;
    readonly allowDebugSessions: Switch;
    /** The reserved-capacity fleet (setting `build.fleet`, lib/fleet.ts). */
    readonly fleet: FleetInputs;
  };
  readonly webhook: {
    /** The resource policy admitting only {@link sourceIps}. */
    readonly restricted: Switch;
    readonly sourceIps: StringList;
    readonly throttleRateLimit: number;
    readonly throttleBurstLimit: number;
    readonly waf: Switch;
    readonly wafRateLimitPer5Minutes: number;
  };
  readonly resync: {
    readonly enabled: Switch;
    readonly schedule: string;
    readonly outOfSyncAlarmHours: number;
    /** The alarm's window in seconds: a repository out of sync this long is reported to the alerts. */
    readonly outOfSyncAlertSeconds: number;
  };
  /** Git LFS mirroring (setting `lfs`): the SSM parameter of the Backlog credentials, when on. */
  readonly lfs: { readonly credentialsParameter: string; readonly when: Switch };
  readonly alertEmails: StringList;
  /** ALLOW_EMPTY_SOURCE of the sync: `true` or `false`. */
  readonly allowEmptySource: string;
  readonly backupRetentionDays: number;
  readonly customerManagedKey: boolean;
  /**
   * The content of a build script's object (lib/build-scripts.ts).
   * @default - the script's text
   */
  readonly scriptContent?: (file: BuildScriptFile) => string;
}

/** Whether the construct was given inputs rather than props. */
export function isMirrorInputs(x: BacklogCodeCommitMirrorProps | MirrorInputs): x is MirrorInputs {
  return (x as MirrorInputs).kind === "mirror-inputs";
}

/** Validates the props (ConfigError naming the field) and resolves them into inputs. */
export function mirrorInputs(props: BacklogCodeCommitMirrorProps): MirrorInputs {
  validateMirrorProps(props);
  const { name, backlog } = props;
  const build = { ...BUILD_DEFAULTS, ...props.build };
  const webhook = props.webhook ?? {};
  const hostKeysParameter = backlog.hostKeysParameter;
  const hours = props.resync?.outOfSyncAlarmHours ?? DEFAULT_OUT_OF_SYNC_ALARM_HOURS;
  return {
    kind: "mirror-inputs",
    name,
    logRetentionDays: props.logRetentionDays ?? DEFAULT_LOG_RETENTION_DAYS,
    backlog: {
      spaceKey: backlog.spaceKey,
      domain: backlog.domain,
      gitHost: backlogGitHost(backlog),
      sshKeyParameter: backlog.sshKeyParameter,
      hostKeysParameter: { value: hostKeysParameter ?? "", when: hostKeysParameter !== undefined },
      hostKeyMode: backlog.scanHostKey === true ? "scan" : "pinned",
      hostKeys: { value: escapeTerraformTemplate((backlog.hostKeys ?? []).join("\n")), when: backlog.hostKeys !== undefined },
      parameterNames: [backlog.sshKeyParameter, ...(hostKeysParameter !== undefined ? [hostKeysParameter] : [])],
    },
    network: props.network === undefined ? undefined : { vpcId: props.network.vpcId, subnetIds: props.network.subnetIds },
    repositories: literalRepositories(name, backlog, props.repositories, props.lfs !== undefined, props.sync?.refs),
    lfs: { credentialsParameter: props.lfs?.credentialsParameter ?? "", when: props.lfs !== undefined },
    build: {
      timeoutMinutes: build.timeoutMinutes,
      queuedTimeoutMinutes: build.queuedTimeoutMinutes,
      computeType: build.computeType,
      concurrentBuildLimit: build.concurrentBuildLimit,
      lockTimeoutSeconds: String(lockTimeoutSeconds(build.timeoutMinutes)),
      allowDebugSessions: build.allowDebugSessions === true,
      fleet: {
        when: build.fleet !== undefined,
        baseCapacity: build.fleet?.baseCapacity ?? 0,
        overflowBehavior: FLEET_OVERFLOW_BEHAVIORS[build.fleet?.overflow ?? DEFAULT_FLEET_OVERFLOW],
      },
    },
    webhook: {
      restricted: webhook.allowAnySource !== true,
      sourceIps: webhook.allowAnySource === true ? [] : [...(webhook.allowedSourceIps ?? BACKLOG_WEBHOOK_SOURCE_IPS), ...(webhook.additionalSourceIps ?? [])],
      throttleRateLimit: webhook.throttleRateLimit ?? DEFAULT_THROTTLE.rateLimit,
      throttleBurstLimit: webhook.throttleBurstLimit ?? DEFAULT_THROTTLE.burstLimit,
      waf: webhook.wafRateLimitPer5Minutes !== undefined,
      wafRateLimitPer5Minutes: webhook.wafRateLimitPer5Minutes ?? 0,
    },
    resync: {
      enabled: props.resync?.enabled !== false,
      schedule: props.resync?.schedule ?? DEFAULT_RESYNC_SCHEDULE,
      outOfSyncAlarmHours: hours,
      outOfSyncAlertSeconds: hours * 3600,
    },
    alertEmails: props.alerts?.emails ?? [],
    allowEmptySource: props.sync?.allowEmptySource === true ? "true" : "false",
    backupRetentionDays: props.backups?.retentionDays ?? DEFAULT_BACKUP_RETENTION_DAYS,
    customerManagedKey: props.encryption?.customerManagedKey === true,
  };
}
