/**
 * The plain Terraform module (`npm run build:module` → modules/backlog-codecommit-mirror/, committed,
 * rendered as HCL by tools/terraform/hcl.ts): the construct {@link BacklogCodeCommitMirror}
 * synthesized with the module's variables as its inputs.
 *
 * The construct is built from {@link MirrorInputs} (lib/mirror-inputs.ts), whose values may be
 * Terraform expressions (lib/terraform-values.ts): {@link moduleInputs} gives each of them as an
 * expression of the variables (`var.name`, `var.build.timeout_minutes`, ...), the repositories as
 * the list `local.repository_list`, and each optional part as a condition (its resources' `count`).
 * Nothing is rewritten after synthesis: the resources are the construct's, at the addresses
 * {@link ModuleStack} gives them.
 *
 * Not supported by the module (the CDKTF stack has them): creating the VPC (`network` is required:
 * pass `vpc_id` and `subnet_ids`) and the customer-managed KMS key (`encryption`).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { App, type TerraformElement, TerraformLocal, TerraformOutput, TerraformStack, Token, ref } from "cdktf";
import type { Construct, Node } from "constructs";
import { BACKLOG_WEBHOOK_SOURCE_IPS } from "./backlog-ips";
import { DEFAULT_FLEET_OVERFLOW, FLEET_OVERFLOW_BEHAVIORS } from "./fleet";
import { BUILD_DEFAULTS, PRE_SCRIPT_BUDGET_SECONDS } from "./mirror-build";
import { BacklogCodeCommitMirror, DEFAULT_LOG_RETENTION_DAYS } from "./mirror";
import { DEFAULT_REF_INCLUDE, type MirrorInputs, repositoryListExpression } from "./mirror-inputs";
import { BACKLOG_DOMAINS } from "./props";
import { DEFAULT_BACKUP_RETENTION_DAYS } from "./storage";
import { DEFAULT_OUT_OF_SYNC_ALARM_HOURS, DEFAULT_RESYNC_SCHEDULE } from "./safety-net";
import { buildScripts } from "./build-scripts";
import { OUTPUT_DESCRIPTIONS } from "./outputs";
import { REQUIRED_TERRAFORM_VERSION } from "./terraform-version";
import { LIST_SIZES, RULES, type Rule, hclCondition, ruleText } from "./rules";
import { hclTemplate, when } from "./terraform-values";
import { backlogLfsEndpoint } from "./naming";
import { MAX_INLINE_HOST_KEYS_CHARS, MAX_REPOSITORIES } from "./validation";
import { DEFAULT_THROTTLE, maxSourceCidrs } from "./webhook-protection";

type Json = any;

/**
 * Terraform and provider constraints of the module. The provider range takes hashicorp/aws 5.100+ and
 * 6.x (every resource and data source used was checked against the version 6 upgrade guide; see
 * docs/terraform-users.md for what was verified against which version).
 */
export const MODULE_REQUIRED_VERSION = REQUIRED_TERRAFORM_VERSION;
/** The oldest AWS provider the module supports: the one it is generated and tested with. */
export const MODULE_PROVIDER_MINIMUM = "5.100.0";
export const MODULE_PROVIDER = { source: "hashicorp/aws", version: `>= ${MODULE_PROVIDER_MINIMUM}, < 7.0.0` } as const;

// ---------------------------------------------------------------------------------------------------
// Variables: types, descriptions, defaults and validation blocks matching lib/validation.ts.

interface Validation {
  readonly condition: string;
  readonly error_message: string;
}
export interface VariableBlock {
  readonly type: string;
  readonly description: string;
  readonly default?: unknown;
  readonly nullable?: boolean;
  readonly validation?: Validation[];
}

const v = (condition: string, error_message: string): Validation => ({ condition: `\${${condition}}`, error_message });
/** A rule of lib/rules.ts as the validation block of the module's `field` (expression `x`). */
const rule = (r: Rule, x: string, field: string) => v(hclCondition(r, x), `${field} ${ruleText(r)}.`);
/** The same for every item of the list `list` (`field` names an item, e.g. `subnet_ids[*]`). */
const everyItem = (r: Rule, list: string, field: string) => v(`alltrue([for x in ${list} : ${hclCondition(r, "x")}])`, `${field} ${ruleText(r)}.`);

/** The type of a ref selection (`sync.refs`, `repositories[*].refs`). */
const REFS_TYPE = "optional(object({ include = optional(list(string)), exclude = optional(list(string)) }))";

/** The validation blocks of the ref selections `selections` (an HCL list of them, nulls allowed), named `field`. */
function refSelectionValidation(selections: string, field: string) {
  const include = LIST_SIZES["sync.refs.include"];
  const exclude = LIST_SIZES["sync.refs.exclude"];
  const each = (body: string) => `alltrue([for s in ${selections} : s == null ? true : ${body}])`;
  return [
    everyItem(RULES["sync.refs[]"], `flatten([for s in ${selections} : s == null ? [] : concat(coalesce(s.include, []), coalesce(s.exclude, []))])`, `${field}.include[*] and .exclude[*]`),
    v(
      each(`s.include == null ? true : length(s.include) >= ${include.min} && length(s.include) <= ${include.max} && anytrue([for p in s.include : startswith(p, "refs/heads/")])`),
      `${field}.include must list ${include.min} to ${include.max} patterns, one of them under refs/heads/ (Backlog's default branch must be mirrored).`,
    ),
    v(
      each(`s.exclude == null ? true : length(s.exclude) <= ${exclude.max} && !contains(s.exclude, "refs/heads/*")`),
      `${field}.exclude must list at most ${exclude.max} patterns and must not exclude every branch ("refs/heads/*").`,
    ),
  ];
}

/** The module's variables (Terraform JSON `variable` blocks). */
export function moduleVariables(): Record<string, VariableBlock> {
  return {
    name: {
      type: "string",
      description: "Prefix of every resource name: 2-24 lower-case letters, digits and hyphens, starting with a letter. Changing it replaces almost everything.",
      validation: [
        rule(RULES.name, "var.name", "name"),
        v('!strcontains(var.name, "-mirror-")', 'name must not contain "-mirror-" (the sync projects are named NAME-mirror-..., and IAM grants are scoped by that prefix).'),
      ],
    },
    log_retention_days: {
      type: "number",
      description: "Retention of the build logs, in days; a value CloudWatch Logs accepts.",
      default: DEFAULT_LOG_RETENTION_DAYS,
      nullable: false,
      validation: [
        rule(RULES.logRetentionDays, "var.log_retention_days", "log_retention_days"),
      ],
    },
    backlog: {
      type: "object({ space_key = string, domain = string, ssh_key_parameter = string, host_keys = optional(list(string)), host_keys_parameter = optional(string), scan_host_key = optional(bool, false) })",
      description:
        `The Backlog space: space_key (also the SSH user), domain (${BACKLOG_DOMAINS.join(", ")}), ssh_key_parameter (SSM SecureString with the SSH private key), and exactly one host-key source: host_keys (pinned "TYPE BASE64" keys, at most 2,000 characters together), host_keys_parameter (SSM parameter with one key per line) or scan_host_key = true (trust whatever key the host presents, at every build; not recommended).`,
      validation: [
        rule(RULES["backlog.spaceKey"], "var.backlog.space_key", "backlog.space_key"),
        rule(RULES["backlog.domain"], "var.backlog.domain", "backlog.domain"),
        rule(RULES["backlog.sshKeyParameter"], "var.backlog.ssh_key_parameter", "backlog.ssh_key_parameter"),
        rule(RULES["backlog.hostKeysParameter"], 'coalesce(var.backlog.host_keys_parameter, "/none")', "backlog.host_keys_parameter"),
        v("var.backlog.host_keys == null ? true : length(var.backlog.host_keys) > 0", "backlog.host_keys must list at least one SSH public key."),
        everyItem(RULES["backlog.hostKeys[]"], "coalesce(var.backlog.host_keys, [])", "backlog.host_keys[*]"),
        v(
          `var.backlog.host_keys == null ? true : length(join("\\n", var.backlog.host_keys)) <= ${MAX_INLINE_HOST_KEYS_CHARS}`,
          `backlog.host_keys must hold at most ${MAX_INLINE_HOST_KEYS_CHARS} characters together (they are an environment variable of every build project); put more keys, one per line, in an SSM parameter named by backlog.host_keys_parameter.`,
        ),
        v(
          "length([for s in [var.backlog.host_keys != null, var.backlog.host_keys_parameter != null, var.backlog.scan_host_key == true] : s if s]) == 1",
          "backlog must name exactly one source of the Backlog host key: host_keys (pinned keys), host_keys_parameter (pinned keys in SSM) or scan_host_key = true (trust on every build, not recommended).",
        ),
      ],
    },
    vpc_id: {
      type: "string",
      description: "VPC of the sync builds and the EFS mount targets. Changing it replaces the security groups and the mount targets.",
      validation: [rule(RULES["network.vpcId"], "var.vpc_id", "vpc_id")],
    },
    subnet_ids: {
      type: "list(string)",
      description: "2-16 private subnets with a NAT route, in at least 2 availability zones; one EFS mount target is created per availability zone among them.",
      validation: [
        v(
          `length(var.subnet_ids) >= ${LIST_SIZES["network.subnetIds"].min} && length(var.subnet_ids) <= ${LIST_SIZES["network.subnetIds"].max}`,
          `subnet_ids must list ${LIST_SIZES["network.subnetIds"].min} to ${LIST_SIZES["network.subnetIds"].max} private subnets (in different availability zones).`,
        ),
        everyItem(RULES["network.subnetIds[]"], "var.subnet_ids", "subnet_ids[*]"),
        v("length(distinct(var.subnet_ids)) == length(var.subnet_ids)", "subnet_ids must not repeat a subnet id."),
      ],
    },
    repositories: {
      type: `list(object({ project_key = string, repository = string, codecommit_repository = optional(string), lfs = optional(bool), refs = ${REFS_TYPE} }))`,
      description:
        "The Backlog repositories to mirror (1-200): project_key (upper case), repository (without .git), and optionally codecommit_repository (default: the Backlog name; changing it renames the CodeCommit repository and replaces its sync project and log group).",
      validation: [
        v(`length(var.repositories) >= 1 && length(var.repositories) <= ${MAX_REPOSITORIES}`, `repositories must list 1 to ${MAX_REPOSITORIES} repositories (the size the quota test proves to fit AWS's default quotas).`),
        everyItem(RULES["repositories[].projectKey"], "var.repositories[*].project_key", "repositories[*].project_key"),
        everyItem(RULES["repositories[].repository"], "var.repositories[*].repository", "repositories[*].repository"),
        v('alltrue([for r in var.repositories : !can(regex("(?i)[.]git$", r.repository))])', 'repositories[*].repository must not end in ".git" (give the name without it).'),
        everyItem(RULES["repositories[].codecommitRepository"], "[for r in var.repositories : r.codecommit_repository if r.codecommit_repository != null]", "repositories[*].codecommit_repository"),
        ...refSelectionValidation("var.repositories[*].refs", "repositories[*].refs"),
        v(
          'alltrue([for r in var.repositories : r.codecommit_repository == null ? true : (!can(regex("(?i)[.]git$", r.codecommit_repository)) && !contains([".", ".."], r.codecommit_repository))])',
          'repositories[*].codecommit_repository must not be "." or ".." or end in ".git".',
        ),
        v("length(distinct([for r in var.repositories : lower(\"${r.project_key}/${r.repository}\")])) == length(var.repositories)", "repositories must not list a Backlog repository twice."),
        v(
          "var.lfs != null || alltrue([for r in var.repositories : r.lfs != true])",
          "repositories[*].lfs must not be true while lfs is null (set lfs.credentials_parameter to mirror LFS objects, or remove repositories[*].lfs).",
        ),
        v(
          "length(distinct([for r in var.repositories : lower(coalesce(r.codecommit_repository, r.repository))])) == length(var.repositories) && length(distinct([for r in var.repositories : lower(replace(coalesce(r.codecommit_repository, r.repository), \".\", \"_\"))])) == length(var.repositories)",
          "repositories must give every repository its own CodeCommit name and CodeBuild project name (a CodeBuild name turns . into _); set codecommit_repository to tell them apart.",
        ),
      ],
    },
    build: {
      type: `object({ timeout_minutes = optional(number, ${BUILD_DEFAULTS.timeoutMinutes}), queued_timeout_minutes = optional(number, ${BUILD_DEFAULTS.queuedTimeoutMinutes}), compute_type = optional(string, "${BUILD_DEFAULTS.computeType}"), allow_debug_sessions = optional(bool, false), fleet = optional(object({ base_capacity = number, overflow = optional(string, "${DEFAULT_FLEET_OVERFLOW}") })) })`,
      description:
        "Sync builds: timeout_minutes (5-480), queued_timeout_minutes (5-480), compute_type (ARM: BUILD_GENERAL1_SMALL, _MEDIUM or _LARGE), allow_debug_sessions (grants the Session Manager channels of codebuild-breakpoint), fleet (a reserved-capacity fleet NAME-fleet for the syncs and the safety net: base_capacity instances, billed while provisioned, at most the number of repositories; overflow on-demand or queue; null: none).",
      default: {},
      nullable: false,
      validation: [
        rule(RULES["build.timeoutMinutes"], "var.build.timeout_minutes", "build.timeout_minutes"),
        rule(RULES["build.queuedTimeoutMinutes"], "var.build.queued_timeout_minutes", "build.queued_timeout_minutes"),
        rule(RULES["build.computeType"], "var.build.compute_type", "build.compute_type"),
        v(
          `var.build.fleet == null ? true : ${hclCondition(RULES["build.fleet.baseCapacity"], "var.build.fleet.base_capacity")}`,
          `build.fleet.base_capacity ${ruleText(RULES["build.fleet.baseCapacity"])}.`,
        ),
        v(
          "var.build.fleet == null ? true : var.build.fleet.base_capacity <= length(var.repositories)",
          "build.fleet.base_capacity must be a whole number from 1 to the number of repositories.",
        ),
        v(`var.build.fleet == null ? true : ${hclCondition(RULES["build.fleet.overflow"], "var.build.fleet.overflow")}`, `build.fleet.overflow ${ruleText(RULES["build.fleet.overflow"])}.`),
      ],
    },
    webhook: {
      type: `object({ allowed_source_ips = optional(list(string)), additional_source_ips = optional(list(string), []), allow_any_source = optional(bool, false), throttle_rate_limit = optional(number, ${DEFAULT_THROTTLE.rateLimit}), throttle_burst_limit = optional(number, ${DEFAULT_THROTTLE.burstLimit}), waf_rate_limit_per_5_minutes = optional(number) })`,
      description:
        "Who may call the webhook: allowed_source_ips (IPv4 CIDRs; default Backlog's published sender addresses), additional_source_ips, allow_any_source (no resource policy), stage throttling (requests/s and burst), and waf_rate_limit_per_5_minutes (a WAFv2 web ACL blocking a source above this many requests in 5 minutes; about USD 6 a month).",
      default: {},
      nullable: false,
      validation: [
        everyItem(RULES["webhook.sourceIps[]"], "coalesce(var.webhook.allowed_source_ips, [])", "webhook.allowed_source_ips[*]"),
        everyItem(RULES["webhook.sourceIps[]"], "var.webhook.additional_source_ips", "webhook.additional_source_ips[*]"),
        v("var.webhook.allowed_source_ips == null ? true : length(var.webhook.allowed_source_ips) >= 1", "webhook.allowed_source_ips must list at least one address range (use allow_any_source to open the API)."),
        v(
          `var.webhook.allow_any_source || (var.webhook.allowed_source_ips == null ? ${BACKLOG_WEBHOOK_SOURCE_IPS.length} : length(var.webhook.allowed_source_ips)) + length(var.webhook.additional_source_ips) <= ${maxSourceCidrs()}`,
          `webhook must allow at most ${maxSourceCidrs()} source address ranges in all (allowed_source_ips, or Backlog's default ranges, plus additional_source_ips): the REST API resource policy may hold at most 8192 characters (API Gateway quota "Length, in characters, of API Gateway resource policy").`,
        ),
        v(
          "!(var.webhook.allow_any_source && (var.webhook.allowed_source_ips != null || length(var.webhook.additional_source_ips) > 0))",
          "webhook.allow_any_source must not be true while allowed_source_ips or additional_source_ips is set (an open API ignores them); remove one.",
        ),
        rule(RULES["webhook.throttleRateLimit"], "var.webhook.throttle_rate_limit", "webhook.throttle_rate_limit"),
        rule(RULES["webhook.throttleBurstLimit"], "var.webhook.throttle_burst_limit", "webhook.throttle_burst_limit"),
        v("var.webhook.throttle_burst_limit >= var.webhook.throttle_rate_limit", "webhook.throttle_burst_limit must be at least throttle_rate_limit."),
        everyItem(RULES["webhook.wafRateLimitPer5Minutes"], "[for x in [var.webhook.waf_rate_limit_per_5_minutes] : x if x != null]", "webhook.waf_rate_limit_per_5_minutes"),
      ],
    },
    resync: {
      type: `object({ schedule = optional(string, "${DEFAULT_RESYNC_SCHEDULE}"), enabled = optional(bool, true), out_of_sync_alarm_hours = optional(number, ${DEFAULT_OUT_OF_SYNC_ALARM_HOURS}) })`,
      description:
        "The safety net that heals a missed webhook: one NAME-verify build on the EventBridge schedule compares every mirror with Backlog and starts the syncs of those that differ; a repository out of sync for out_of_sync_alarm_hours is reported once by the alert state machine, and the alarm NAME-out-of-sync notifies the alert topic when no run of the safety net has succeeded for that long. enabled = false removes all of it.",
      default: {},
      nullable: false,
      validation: [
        rule(RULES["resync.schedule"], "var.resync.schedule", "resync.schedule"),
        rule(RULES["resync.outOfSyncAlarmHours"], "var.resync.out_of_sync_alarm_hours", "resync.out_of_sync_alarm_hours"),
        v(
          // Seconds between runs of a rate(...) schedule (0 for cron, which is not checked).
          '!var.resync.enabled || try(tonumber(regex("^rate[(]([0-9]+) ", var.resync.schedule)[0]) * lookup({ minute = 60, hour = 3600, day = 86400 }, regex("^rate[(][0-9]+ (minute|hour|day)", var.resync.schedule)[0]), 0) * 2 <= var.resync.out_of_sync_alarm_hours * 3600',
          "resync.out_of_sync_alarm_hours must be at least twice the schedule's interval.",
        ),
      ],
    },
    sync: {
      type: `object({ allow_empty_source = optional(bool, false), refs = ${REFS_TYPE} })`,
      description:
        "allow_empty_source: let a sync delete every ref of a CodeCommit repository when Backlog advertises none (a repository emptied on purpose); off, such a sync fails and keeps CodeCommit as it is. Either way, history a sync deletes or overwrites is first saved as a git bundle in the bucket. refs: the refs mirrored, { include, exclude } lists of patterns such as refs/heads/release/* or refs/tags/v* (* matches any characters; default: every branch and tag); refs outside it are never pushed or deleted; repositories[*].refs replaces it for one repository.",
      default: {},
      nullable: false,
      validation: [
        v("var.sync.allow_empty_source == true || var.sync.allow_empty_source == false", "sync.allow_empty_source must be true or false."),
        ...refSelectionValidation("[var.sync.refs]", "sync.refs"),
      ],
    },
    backups: {
      type: `object({ retention_days = optional(number, ${DEFAULT_BACKUP_RETENTION_DAYS}) })`,
      description: "retention_days: days a backup bundle (backups/PROJECT/REPO/... in the bucket) is kept, from its upload, and an overwritten or deleted version from the day it became noncurrent.",
      default: {},
      nullable: false,
      validation: [
        rule(RULES["backups.retentionDays"], "var.backups.retention_days", "backups.retention_days"),
      ],
    },
    lfs: {
      type: "object({ credentials_parameter = string })",
      description:
        "Mirror the repositories' Git LFS objects into the bucket (docs/lfs.md): credentials_parameter, an SSM SecureString holding the Backlog user and its HTTPS password as USER:PASSWORD; a repository opts out with repositories[*].lfs = false. Null: not mirrored (a sync that pushes LFS pointers logs one warning).",
      default: null,
      validation: [
        v(`var.lfs == null ? true : ${hclCondition(RULES["lfs.credentialsParameter"], "var.lfs.credentials_parameter")}`, `lfs.credentials_parameter ${ruleText(RULES["lfs.credentialsParameter"])}.`),
      ],
    },
    alert_emails: {
      type: "list(string)",
      description: "E-mail addresses subscribed to the alert topic (each must confirm); at most 20.",
      default: [],
      nullable: false,
      validation: [
        v(`length(var.alert_emails) <= ${LIST_SIZES["alerts.emails"].max}`, `alert_emails must list at most ${LIST_SIZES["alerts.emails"].max} addresses.`),
        everyItem(RULES["alerts.emails[]"], "var.alert_emails", "alert_emails[*]"),
      ],
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// The construct, synthesized with the variables.

/** A string input: the HCL expression `hcl`. */
const str = (hcl: string): string => Token.asString(ref(hcl));
/** A number input: the HCL expression `hcl`. */
const num = (hcl: string): number => Token.asNumber(ref(hcl));

/**
 * The module's repositories, one object per entry of `var.repositories` with its derived names
 * (lib/naming.ts: the CodeCommit name defaults to the Backlog name, the project is
 * `NAME-mirror-CODECOMMIT` with `.` turned into `_`).
 */
export const REPOSITORY_LIST = `[for r in var.repositories : { key = "\${r.project_key}/\${r.repository}", project_key = r.project_key, repository = r.repository, codecommit_repository = coalesce(r.codecommit_repository, r.repository), project_name = "\${var.name}-mirror-\${replace(coalesce(r.codecommit_repository, r.repository), ".", "_")}", lfs_endpoint = var.lfs == null || r.lfs == false ? "" : ${hclTemplate(
  backlogLfsEndpoint({ spaceKey: "${var.backlog.space_key}", domain: "${var.backlog.domain}" }, { projectKey: "${r.project_key}", repository: "${r.repository}" }),
)}, ref_include = join(",", coalesce(try(coalesce(r.refs, var.sync.refs).include, null), ${JSON.stringify([...DEFAULT_REF_INCLUDE])})), ref_exclude = try(length(coalesce(r.refs, var.sync.refs).exclude) > 0, false) ? join(",", coalesce(r.refs, var.sync.refs).exclude) : "-" }]`;

/** The construct's inputs as expressions of the module's variables and locals. */
export function moduleInputs(): MirrorInputs {
  const backlog = { spaceKey: str("var.backlog.space_key"), domain: str("var.backlog.domain") };
  return {
    kind: "mirror-inputs",
    name: str("var.name"),
    logRetentionDays: num("var.log_retention_days"),
    backlog: {
      ...backlog,
      gitHost: "${var.backlog.space_key}.git.${var.backlog.domain}",
      sshKeyParameter: str("var.backlog.ssh_key_parameter"),
      hostKeysParameter: { value: str("var.backlog.host_keys_parameter"), when: when("var.backlog.host_keys_parameter != null") },
      hostKeyMode: str('var.backlog.scan_host_key ? "scan" : "pinned"'),
      hostKeys: { value: str('join("\\n", var.backlog.host_keys)'), when: when("var.backlog.host_keys != null") },
      parameterNames: { hcl: "compact([var.backlog.ssh_key_parameter, var.backlog.host_keys_parameter])" },
    },
    network: { vpcId: str("var.vpc_id"), subnetIds: { hcl: "var.subnet_ids" } },
    repositories: repositoryListExpression("local.repository_list", backlog),
    build: {
      timeoutMinutes: num("var.build.timeout_minutes"),
      queuedTimeoutMinutes: num("var.build.queued_timeout_minutes"),
      computeType: str("var.build.compute_type"),
      // lib/mirror-build.ts lockTimeoutSeconds
      lockTimeoutSeconds: str(`tostring(floor((var.build.timeout_minutes * 60 - ${PRE_SCRIPT_BUDGET_SECONDS}) / 2))`),
      allowDebugSessions: when("var.build.allow_debug_sessions"),
      fleet: {
        when: when("var.build.fleet != null"),
        baseCapacity: num("var.build.fleet.base_capacity"),
        overflowBehavior: str(`lookup({ ${Object.entries(FLEET_OVERFLOW_BEHAVIORS).map(([k, x]) => `${JSON.stringify(k)} = ${JSON.stringify(x)}`).join(", ")} }, var.build.fleet.overflow)`),
      },
    },
    webhook: {
      restricted: when("!var.webhook.allow_any_source"),
      sourceIps: { hcl: "local.allowed_source_ips" },
      throttleRateLimit: num("var.webhook.throttle_rate_limit"),
      throttleBurstLimit: num("var.webhook.throttle_burst_limit"),
      waf: when("var.webhook.waf_rate_limit_per_5_minutes != null"),
      wafRateLimitPer5Minutes: num("var.webhook.waf_rate_limit_per_5_minutes"),
    },
    resync: {
      enabled: when("var.resync.enabled"),
      schedule: str("var.resync.schedule"),
      outOfSyncAlarmHours: num("var.resync.out_of_sync_alarm_hours"),
      outOfSyncAlertSeconds: num("var.resync.out_of_sync_alarm_hours * 3600"),
    },
    lfs: { credentialsParameter: str("var.lfs.credentials_parameter"), when: when("var.lfs != null") },
    alertEmails: { hcl: "var.alert_emails" },
    allowEmptySource: str("tostring(var.sync.allow_empty_source)"),
    backupRetentionDays: num("var.backups.retention_days"),
    customerManagedKey: false,
    // The scripts are files of the module, so that a change to one is a readable diff of that file.
    scriptContent: (file) => str(`file("\${path.module}/${MODULE_SCRIPTS_DIR}/${file}")`),
  };
}

/**
 * Addresses the module has always given its resources, which its users' states hold: the construct
 * path joined by `_` without CDKTF's hash suffix; the per-repository resources (construct
 * `Repositories`) keep the name `Mirror_Repository_...` of the module's first release.
 */
const MODULE_ADDRESS_ALIASES: ReadonlyArray<readonly [string, string]> = [["Mirror_Repositories_", "Mirror_Repository_"]];

/** The stack the module is synthesized in: no provider, no backend, addresses without hashes. */
export class ModuleStack extends TerraformStack {
  public readonly mirror: BacklogCodeCommitMirror;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    // The variables (moduleVariables) are written beside: the inputs refer to them by name.
    new TerraformLocal(this, "repository_list", `\${${REPOSITORY_LIST}}`);
    new TerraformLocal(this, "backlog_webhook_source_ips", [...BACKLOG_WEBHOOK_SOURCE_IPS]);
    new TerraformLocal(
      this,
      "allowed_source_ips",
      "${var.webhook.allow_any_source ? [] : concat(coalesce(var.webhook.allowed_source_ips, local.backlog_webhook_source_ips), var.webhook.additional_source_ips)}",
    );
    this.mirror = new BacklogCodeCommitMirror(this, "Mirror", moduleInputs());
    const m = this.mirror;
    new TerraformOutput(this, "repositories", { description: OUTPUT_DESCRIPTIONS.repositories, value: m.repositoriesOutput });
    new TerraformOutput(this, "webhook_base_url", { description: OUTPUT_DESCRIPTIONS.webhookBaseUrl, value: m.webhookBaseUrl });
    new TerraformOutput(this, "alerts_topic_arn", { description: OUTPUT_DESCRIPTIONS.alertsTopicArn, value: m.alertsTopicArn });
    if (m.lfs !== undefined) {
      new TerraformOutput(this, "lfs", { description: OUTPUT_DESCRIPTIONS.lfs, value: m.lfs.consumersOutput });
    }
    if (m.fleet !== undefined) {
      new TerraformOutput(this, "fleet_arn", { description: OUTPUT_DESCRIPTIONS.fleetArn, value: m.fleet.arn });
    }
    new TerraformOutput(this, "webhook_source_ips", { description: OUTPUT_DESCRIPTIONS.webhookSourceIps, value: Token.asList(ref("local.allowed_source_ips")) });
  }

  /** The construct path joined by `_` (see {@link MODULE_ADDRESS_ALIASES}). */
  protected override allocateLogicalId(element: Node | TerraformElement): string {
    const node = "node" in element ? element.node : element;
    const id = node.scopes.slice(2).map((c) => c.node.id).join("_");
    return MODULE_ADDRESS_ALIASES.reduce((name, [from, to]) => (name.startsWith(from) ? to + name.slice(from.length) : name), id);
  }
}

/** Synthesizes the module; returns its Terraform JSON files (`main.tf.json`, ...). */
export function synthesizeModule(): Record<string, Json> {
  const outdir = mkdtempSync(path.join(tmpdir(), "mirror-module-"));
  try {
    // No provider construct: a module must not configure one (the check for it is skipped).
    const app = new App({ outdir, skipValidation: true });
    new ModuleStack(app, "module");
    app.synth();
    const synth = JSON.parse(readFileSync(path.join(outdir, "stacks", "module", "cdk.tf.json"), "utf8"));
    return moduleFiles(synth);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** Without CDKTF's metadata (`//`) at any depth. */
function withoutMetadata(value: Json): Json {
  if (Array.isArray(value)) return value.map(withoutMetadata);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).filter(([k]) => k !== "//").map(([k, x]) => [k, withoutMetadata(x)]));
  }
  return value;
}

/** The module's files from the synthesized stack: its blocks, split as terraform-aws-modules do. */
export function moduleFiles(synth: Json): Record<string, Json> {
  const s = withoutMetadata(synth);
  return {
    "main.tf.json": { locals: s.locals, data: s.data, resource: s.resource },
    "variables.tf.json": { variable: moduleVariables() },
    "outputs.tf.json": { output: s.output },
    "versions.tf.json": { terraform: { required_version: MODULE_REQUIRED_VERSION, required_providers: { aws: { ...MODULE_PROVIDER } } } },
  };
}

/** The module's folder of build scripts (files read by its `aws_s3_object`s). */
export const MODULE_SCRIPTS_DIR = "scripts";

/** The build scripts as files of the module: `scripts/NAME` → text (lib/build-scripts.ts). */
export function moduleScriptFiles(): Record<string, string> {
  return Object.fromEntries(buildScripts().map(({ file, text }) => [`${MODULE_SCRIPTS_DIR}/${file}`, text]));
}

/** A Markdown table cell. */
const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** The inputs and outputs tables of the module's README (kept in sync by a test). */
export function moduleReadmeTables(files: Record<string, Json>): string {
  const variables = files["variables.tf.json"].variable as Record<string, VariableBlock>;
  const outputs = files["outputs.tf.json"].output as Record<string, { description: string }>;
  const lines = ["## Inputs", "", "| name | type | default | description |", "|---|---|---|---|"];
  for (const [name, v] of Object.entries(variables)) {
    const def = v.default === undefined ? "required" : `\`${JSON.stringify(v.default)}\``;
    lines.push(`| \`${name}\` | \`${cell(v.type)}\` | ${def} | ${cell(v.description)} |`);
  }
  lines.push("", "## Outputs", "", "| name | description |", "|---|---|");
  for (const [name, o] of Object.entries(outputs)) lines.push(`| \`${name}\` | ${cell(o.description)} |`);
  return `${lines.join("\n")}\n`;
}

/** The README written next to the module (its version is the repository's, from package.json). */
export function moduleReadme(files: Record<string, Json>, version: string): string {
  return [
    "# backlog-codecommit-mirror (Terraform module)",
    "",
    `Version ${version} of [backlog-codecommit-mirror](../../README.md). Generated by \`npm run build:module\` from the`,
    "CDKTF construct `BacklogCodeCommitMirror`; do not edit (CI fails when these files differ from what the",
    "command writes). Mirrors Backlog Git repositories into AWS CodeCommit, driven by Backlog's push webhook.",
    "The module configures no provider and no backend: the caller does. An example root module:",
    "[examples/hcl-basic](../../examples/hcl-basic/); how the module is made and tested:",
    "[docs/terraform-module.md](../../docs/terraform-module.md).",
    "",
    "```hcl",
    'module "backlog_mirror" {',
    `  source = "git::https://example.com/your-org/backlog-codecommit-mirror.git//modules/backlog-codecommit-mirror?ref=v${version}"`,
    "",
    '  name         = "backlog-mirror"',
    '  backlog      = { space_key = "acme", domain = "backlog.jp", ssh_key_parameter = "/backlog-mirror/ssh-key", host_keys_parameter = "/backlog-mirror/host-keys" }',
    '  vpc_id       = "vpc-0123456789abcdef0"',
    '  subnet_ids   = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]',
    '  repositories = [{ project_key = "DEMO", repository = "web-app" }]',
    "}",
    "```",
    "",
    "Not in the module (the CDKTF stack has them): creating the VPC (`vpc_id` and `subnet_ids` are required)",
    "and the customer-managed KMS key. `terraform test` runs the tests in `tests/` offline (`mock_provider`).",
    "",
    "Check the mirrors from a clone of this repository: pass the module's `repositories` output on from your",
    'root module under any name (`output "mirror" { value = module.backlog_mirror.repositories }`), then run',
    "`MIRROR_CONFIG=FILE BACKLOG_API_KEY=... npm run status -- --stack-dir PATH_OF_YOUR_ROOT_MODULE` (or",
    "`--outputs FILE` with what `terraform output -json` printed there), with `FILE` a configuration of the",
    "same repositories ([docs/operations.md](../../docs/operations.md)). Any backend, or local state, will do.",
    "",
    moduleReadmeTables(files),
  ].join("\n");
}
