/**
 * Typed inputs of the {@link BacklogCodeCommitMirror} construct.
 *
 * The JSON configuration read by `main.ts` has the same shape (see `lib/stack-config.ts`), and both
 * are validated by `lib/validation.ts` before anything is created.
 */

/**
 * The domains Backlog spaces live on, each hosting Git over SSH at `SPACE.git.DOMAIN`: `backlog.jp`,
 * `backlog.com`, and `backlogtool.com` (Backlog API reference, "Get List of Git Repositories",
 * https://developer.nulab.com/docs/backlog/api/2/get-list-of-git-repositories/ shows
 * `"sshUrl":"xx@xx.git.backlogtool.com:/BLG/app.git"`). The zod schema, the Terraform module's
 * validation and the messages are derived from this list.
 */
export const BACKLOG_DOMAINS = ["backlog.jp", "backlog.com", "backlogtool.com"] as const;

/** Backlog top-level domains that host Git over SSH ({@link BACKLOG_DOMAINS}). */
export type BacklogDomain = (typeof BACKLOG_DOMAINS)[number];

/**
 * What a build does when every instance of the reserved-capacity fleet is busy (`build.fleet.overflow`):
 * `on-demand` runs it on CodeBuild's on-demand compute (billed as without a fleet), `queue` waits
 * for an instance (up to the project's queued timeout). The zod schema, the Terraform module's
 * validation and the messages are derived from this list (lib/rules.ts).
 */
export const FLEET_OVERFLOWS = ["on-demand", "queue"] as const;

/** A value of {@link FLEET_OVERFLOWS}. */
export type FleetOverflow = (typeof FLEET_OVERFLOWS)[number];

/** Where the sync build learns the Backlog Git host's SSH public key(s). */
export interface BacklogSettings {
  /**
   * Backlog space key: the `SPACE` of `SPACE.backlog.jp`. It is also the SSH user.
   * Changing it changes the buildspec only (no replacement).
   */
  readonly spaceKey: string;

  /**
   * Backlog domain of the space: `backlog.jp`, `backlog.com` or `backlogtool.com` (the part after
   * `SPACE.` in the space's URL). Changing it updates the build projects in place (no replacement).
   */
  readonly domain: BacklogDomain;

  /**
   * Name of an SSM Parameter Store SecureString holding the SSH private key (OpenSSH format,
   * Ed25519 or ECDSA) of a Backlog user with read access to the repositories. It must start with `/`.
   * The key is read by CodeBuild at build time; it never enters Terraform state.
   */
  readonly sshKeyParameter: string;

  /**
   * The Backlog Git host's SSH public keys, pinned: each entry is `TYPE BASE64` (the output of
   * `ssh-keyscan SPACE.git.DOMAIN | cut -d' ' -f2-`, checked out of band). A sync fails closed when
   * the host presents another key. The keys are an environment variable of every build project
   * (BACKLOG_HOST_KEYS), so together (joined by newlines) they may hold at most 2,000 characters;
   * more go in `hostKeysParameter`.
   *
   * Exactly one of `hostKeys`, `hostKeysParameter` and `scanHostKey: true` must be given.
   * @default - none
   */
  readonly hostKeys?: string[];

  /**
   * Name of an SSM parameter (String or SecureString) holding the pinned host keys, one `TYPE BASE64`
   * per line. Lets the operator rotate the pin without a Terraform change.
   * @default - none
   */
  readonly hostKeysParameter?: string;

  /**
   * Trust whatever host key the Backlog host presents, at every build (what the seed template's
   * `ssh-keyscan` did). This is open to a man-in-the-middle and is an explicit opt-in.
   * @default false
   */
  readonly scanHostKey?: boolean;
}

/** The VPC the sync builds and the EFS mount targets live in. */
export interface NetworkSettings {
  /** VPC id (`vpc-...`). Changing it replaces the security groups and the mount targets. */
  readonly vpcId: string;

  /**
   * At least two private subnets (`subnet-...`) in different availability zones, with a route to
   * the internet through a NAT gateway (Backlog over SSH, CodeCommit over HTTPS). One EFS mount
   * target is created in each. Changing the list replaces mount targets.
   */
  readonly subnetIds: string[];
}

/** One Backlog repository to mirror. */
export interface RepositoryMirrorSpec {
  /** Backlog project key (`PROJECT` in `/PROJECT/REPO.git`), upper case. */
  readonly projectKey: string;

  /** Backlog repository name (`REPO` in `/PROJECT/REPO.git`), without `.git`. */
  readonly repository: string;

  /**
   * Name of the CodeCommit repository to create and push to.
   * Changing it replaces the CodeCommit repository (its content is re-pushed by the next sync).
   * @default - the Backlog repository name
   */
  readonly codecommitRepository?: string;

  /**
   * Mirror this repository's Git LFS objects when the stack's `lfs` setting is on; `false` opts
   * this repository out (its sync then only warns about LFS pointers, as without `lfs`).
   * `true` is refused when the stack has no `lfs` setting. Changing it updates the repository's
   * sync project and adds or removes its consumer read policy (no replacement).
   * @default - true when the stack's `lfs` is set, else false
   */
  readonly lfs?: boolean;

  /**
   * The refs of this repository that are mirrored; replaces the stack's `sync.refs` for it.
   * @default - the stack's `sync.refs`
   */
  readonly refs?: RefSelection;
}

/**
 * Which refs are mirrored: a ref is mirrored when it matches one `include` pattern and no `exclude`
 * pattern. A pattern is a full ref name under `refs/heads/` or `refs/tags/` in which `*` matches
 * any characters, `/` included (`refs/heads/release/*`, `refs/tags/v*`). Refs outside the
 * selection are never pushed and never deleted from CodeCommit (what CodeCommit holds of them stays
 * as it is), and the safety net compares only the selected refs. Backlog's default branch must be
 * selected: a sync refuses, with one line, when it is not.
 */
export interface RefSelection {
  /**
   * Patterns of the refs to mirror (at least one under `refs/heads/`). Allowed: a ref pattern (`RULES["sync.refs[]"]`).
   * @default ["refs/heads/*", "refs/tags/*"]
   */
  readonly include?: string[];
  /**
   * Patterns of refs not to mirror, even when included. Allowed: a ref pattern (`RULES["sync.refs[]"]`).
   * @default - none
   */
  readonly exclude?: string[];
}

/**
 * Opt-in mirroring of Git LFS objects (docs/lfs.md): after each sync the build downloads the LFS
 * objects of the mirrored refs from Backlog's LFS server over HTTPS and stores each once in the
 * stack's bucket, `lfs/PROJECT/REPO/objects/OID[0:2]/OID[2:4]/OID`, never overwritten.
 */
export interface LfsSettings {
  /**
   * Name of an SSM Parameter Store SecureString holding `USER:PASSWORD`: the Backlog user ID and
   * the password Backlog's Git over HTTPS accepts (with two-step verification on, the special
   * password generated in Backlog's personal settings). The value is split at the first `:`, so the
   * password may contain `:`. It must start with `/`. Read by the build at run time
   * (`ssm:GetParameter`), handed to curl through a pipe: never in Terraform state, logs, a process
   * environment, an argument list or a file. Changing it updates the sync projects in place.
   */
  readonly credentialsParameter: string;
}

/** Who may call the webhook API, and how often. */
export interface WebhookSettings {
  /**
   * Source addresses (IPv4 CIDR) allowed to call the API, replacing Backlog's published list.
   * A change redeploys the API.
   * @default - Backlog's published webhook sender addresses (`BACKLOG_WEBHOOK_SOURCE_IPS`)
   */
  readonly allowedSourceIps?: string[];

  /**
   * Source addresses (IPv4 CIDR) allowed in addition to `allowedSourceIps`.
   * @default - none
   */
  readonly additionalSourceIps?: string[];

  /**
   * Open the API to every source address (no resource policy). Anyone who knows the URL can then
   * start the configured syncs.
   * @default false
   */
  readonly allowAnySource?: boolean;

  /**
   * Stage-wide throttling: steady requests per second.
   * @default 10
   */
  readonly throttleRateLimit?: number;

  /**
   * Stage-wide throttling: burst size.
   * @default 40
   */
  readonly throttleBurstLimit?: number;

  /**
   * Attach a WAFv2 web ACL with a rate-based rule that blocks a source address sending more than this
   * many requests in 5 minutes. Costs about USD 6 a month plus requests.
   * Allowed: 100-2,000,000,000 (`RULES["webhook.wafRateLimitPer5Minutes"]`).
   * @default - no web ACL
   */
  readonly wafRateLimitPer5Minutes?: number;
}

/**
 * The safety net that heals a missed webhook: one `NAME-verify` build on a schedule compares every
 * mirror with Backlog and starts the syncs of the repositories that differ only.
 */
export interface ResyncSettings {
  /**
   * When the safety net runs: an EventBridge schedule expression.
   * @default "rate(1 hour)"
   */
  readonly schedule?: string;

  /**
   * Turn the safety net off (no `NAME-verify` project, schedule, roles, repository list or
   * heartbeat alarm `NAME-out-of-sync`). The syncs' own failures are still reported (lib/alert-states.ts).
   * @default true
   */
  readonly enabled?: boolean;

  /**
   * Hours a repository may stay out of sync before the alert state machine reports it (once, by
   * name); the alarm `NAME-out-of-sync` fires when no run of the safety net has succeeded for that
   * long. A `rate(...)` schedule must run at least twice within this time.
   * Allowed: 2-168 (`RULES["resync.outOfSyncAlarmHours"]`).
   * @default 25
   */
  readonly outOfSyncAlarmHours?: number;
}

/** How a sync treats what it would destroy in CodeCommit. */
export interface SyncSettings {
  /**
   * Let a sync delete every ref of a CodeCommit repository when Backlog advertises none (a Backlog
   * repository emptied or re-created empty on purpose). Off, such a sync fails and keeps CodeCommit
   * as it is. Either way, history a sync deletes or overwrites is first saved as a git bundle in the
   * stack's bucket, and CodeCommit's default branch is never deleted (CodeCommit refuses it).
   * @default false
   */
  readonly allowEmptySource?: boolean;

  /**
   * The refs mirrored, for every repository without `refs` of its own.
   * @default - every branch and tag
   */
  readonly refs?: RefSelection;
}

/** The git bundles a sync saves before it force-updates or deletes a ref. */
export interface BackupSettings {
  /**
   * Days a backup bundle is kept in the stack's bucket (`backups/PROJECT/REPO/...`), counted from
   * its upload for current objects and from the day it became noncurrent for earlier versions.
   * @default 90
   */
  readonly retentionDays?: number;
}

/** Where failures are reported. */
export interface AlertSettings {
  /**
   * E-mail addresses subscribed to the alert topic (each must confirm the subscription).
   * @default - none (subscribe to the `alerts_topic_arn` output yourself)
   */
  readonly emails?: string[];
}

/** Optional customer-managed encryption. */
export interface EncryptionSettings {
  /**
   * Create a customer-managed KMS key (rotation on) and use it for the log groups, EFS, the cache
   * bucket and the alert topic; the build role may decrypt SSM parameters encrypted with it.
   * Turning it on or off replaces the EFS file system (the mirrors are re-cloned).
   * @default false
   */
  readonly customerManagedKey?: boolean;
}

/** Settings of the CodeBuild projects that run the sync. */
export interface BuildSettings {
  /**
   * Build timeout in minutes.
   * Allowed: 5-480 (`RULES["build.timeoutMinutes"]`).
   * @default 5
   */
  readonly timeoutMinutes?: number;

  /**
   * Minutes a build may wait in the queue.
   * Allowed: 5-480 (`RULES["build.queuedTimeoutMinutes"]`).
   * @default 10
   */
  readonly queuedTimeoutMinutes?: number;

  /**
   * CodeBuild ARM compute type.
   * @default "BUILD_GENERAL1_SMALL"
   */
  readonly computeType?: "BUILD_GENERAL1_SMALL" | "BUILD_GENERAL1_MEDIUM" | "BUILD_GENERAL1_LARGE";

  /**
   * Builds of one repository that may run at once; a StartBuild beyond it is refused by CodeBuild
   * (the webhook then answers 5xx and Backlog retries). Without a limit, builds queue and serialise on
   * the mirror's lock, each fetching after it gets the lock, so no push is left unmirrored.
   * @default - no project limit (the account's concurrency applies)
   */
  readonly concurrentBuildLimit?: number;

  /**
   * Allow Session Manager connections into a paused build (`codebuild-breakpoint`), which adds the
   * `ssmmessages:*Channel` actions to the build role.
   * @default false
   */
  readonly allowDebugSessions?: boolean;

  /**
   * Run the sync builds and the safety net's `NAME-verify` on a reserved-capacity fleet
   * (`NAME-fleet`, lib/fleet.ts): instances kept running in the stack's subnets and build security
   * group, so a build starts without the on-demand provisioning of a VPC build. Billed for every
   * minute the instances are provisioned, used or not (README, "Optional parts and what they cost").
   * Adding or removing it updates the projects in place; it adds the fleet and its service role.
   * @default - no fleet: every build runs on on-demand compute
   */
  readonly fleet?: FleetSettings;
}

/** A reserved-capacity fleet for the builds (`build.fleet`). */
export interface FleetSettings {
  /**
   * Instances the fleet keeps running, each running one build at a time: at most the number of
   * repositories (each repository's syncs serialise on its mirror's lock, so more would mostly idle).
   * Allowed: 1-200 (`RULES["build.fleet.baseCapacity"]`).
   */
  readonly baseCapacity: number;

  /**
   * What a build does when every instance is busy: `on-demand` runs it on on-demand compute (as
   * without a fleet, billed per build minute), `queue` waits for an instance, within the project's
   * queued timeout (`build.queuedTimeoutMinutes` for the syncs; with one instance, a sync also waits
   * while `NAME-verify` runs).
   * Allowed: `on-demand` or `queue` (`RULES["build.fleet.overflow"]`).
   * @default "on-demand"
   */
  readonly overflow?: FleetOverflow;
}

/** Props of {@link BacklogCodeCommitMirror}. */
export interface BacklogCodeCommitMirrorProps {
  /**
   * Prefix of every resource name. Changing it replaces almost everything.
   * Allowed: 2-24 characters: lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen (`RULES["name"]`).
   */
  readonly name: string;

  /**
   * Retention of the build logs, in days; one of the values CloudWatch Logs accepts.
   * @default 30
   */
  readonly logRetentionDays?: number;

  /** The Backlog space and how to authenticate to it. */
  readonly backlog: BacklogSettings;

  /**
   * Where the builds run.
   * @default - a new VPC with two private subnets and a NAT gateway with an Elastic IP (a fixed
   * egress address that a Backlog space with an IP allowlist can admit)
   */
  readonly network?: NetworkSettings;

  /**
   * Who may call the webhook.
   * @default - Backlog's sender addresses only, 10 requests/s (burst 40), no WAF
   */
  readonly webhook?: WebhookSettings;

  /**
   * The safety net: a scheduled comparison of every mirror with Backlog, and its heartbeat alarm.
   * @default - hourly, alarm after 25 hours
   */
  readonly resync?: ResyncSettings;

  /**
   * How a sync treats a source that advertises no refs.
   * @default - { allowEmptySource: false }
   */
  readonly sync?: SyncSettings;

  /**
   * Retention of the backup bundles of overwritten or deleted history.
   * @default - { retentionDays: 90 }
   */
  readonly backups?: BackupSettings;

  /**
   * Failure alerts.
   * @default - an SNS topic with no subscription
   */
  readonly alerts?: AlertSettings;

  /**
   * Customer-managed encryption.
   * @default - AWS-managed keys
   */
  readonly encryption?: EncryptionSettings;

  /**
   * Mirror the repositories' Git LFS objects into the stack's bucket (each repository may opt out
   * with `repositories[].lfs: false`).
   * @default - LFS objects are not mirrored; a sync that pushes LFS pointers logs one warning
   */
  readonly lfs?: LfsSettings;

  /** The repositories to mirror: at least one, no duplicates. */
  readonly repositories: RepositoryMirrorSpec[];

  /**
   * Build settings.
   * @default - see {@link BuildSettings}
   */
  readonly build?: BuildSettings;
}
