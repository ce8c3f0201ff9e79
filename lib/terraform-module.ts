/**
 * The plain Terraform module (`npm run build:module` → modules/backlog-codecommit-mirror/, committed,
 * rendered as HCL by tools/terraform/hcl.ts), synthesized from the same construct as the CDKTF stack.
 *
 * The construct renders names and the buildspec at synthesis and loops over the repositories in
 * TypeScript, so it cannot take Terraform variables directly. The module is therefore made in two
 * steps:
 *
 * 1. {@link BacklogCodeCommitMirror} is synthesized once with *placeholder* props: one repository,
 *    two subnets, every optional part switched on, and distinctive values (`zqnamezq`, `ZQPROJZQ`,
 *    `1234567`, ...) that pass its validation.
 * 2. {@link toModule} rewrites that JSON into a module: each placeholder becomes a reference to a
 *    variable or to `each.value`; the per-repository resources get `for_each` over
 *    `var.repositories` (keyed `PROJECT/REPO`), the webhook's route table (in its mapping templates)
 *    a `for` expression over the repositories, the mount targets `for_each` over the subnets'
 *    availability zones; lists of per-repository ARNs become `for` expressions; optional parts get
 *    `count` / `for_each` driven by their variables.
 *    Any placeholder left over fails the build, so a change to the construct that the rewrite does
 *    not know about cannot ship silently.
 *
 * Not supported by the module (the CDKTF stack has them): creating the VPC (`network` is required:
 * pass `vpc_id` and `subnet_ids`) and the customer-managed KMS key (`encryption`).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { App, TerraformStack } from "cdktf";
import { BACKLOG_WEBHOOK_SOURCE_IPS } from "./backlog-ips";
import { BUILD_DEFAULTS, PRE_SCRIPT_BUDGET_SECONDS, lockTimeoutSeconds } from "./mirror-build";
import { BacklogCodeCommitMirror, DEFAULT_LOG_RETENTION_DAYS } from "./mirror";
import { BACKLOG_DOMAINS, type BacklogCodeCommitMirrorProps } from "./props";
import { DEFAULT_BACKUP_RETENTION_DAYS } from "./storage";
import { DEFAULT_OUT_OF_SYNC_ALARM_HOURS, DEFAULT_RESYNC_SCHEDULE, repositoryListLine } from "./safety-net";
import { INLINE_BUILDSPEC_MAX_CHARS } from "./buildspec";
import { BUILD_TOOLS_PREFIX, buildScripts } from "./build-scripts";
import { escapeTerraformTemplate } from "./terraform-template";
import { REQUIRED_TERRAFORM_VERSION } from "./terraform-version";
import { RULES, type Rule, hclCondition, ruleText } from "./rules";
import { MAX_INLINE_HOST_KEYS_CHARS, MAX_REPOSITORIES } from "./validation";
import { DEFAULT_THROTTLE, maxSourceCidrs } from "./webhook-protection";
import { routeEntry, routeTable } from "./webhook-routing";

type Json = any;

/**
 * The references of the construct's deployment trigger (lib/webhook-api.ts): it is
 * `sha256(join(",", ["FINGERPRINT", ref, ...]))`, the fingerprint hashing the literal route
 * definitions and the references the inputs known only at apply (the API role's ARN, the id of each
 * API Gateway resource). The module keeps the references and replaces the fingerprint with its own.
 */
function deploymentTriggerRefs(trigger: string): string {
  const m = /^\$\{sha256\(join\(",", \["[0-9a-f]{64}", (.+)\]\)\)\}$/.exec(trigger);
  if (m === null) throw new Error(`the deployment trigger is not sha256(join(",", ["FINGERPRINT", references...])): update lib/terraform-module.ts (got ${trigger.slice(0, 120)})`);
  return m[1];
}

/** The module's deployment trigger: its route definitions and lists, plus the construct's references. */
function moduleDeploymentTrigger(routesHash: string, refs: string): string {
  return `\${sha256(join(",", [sha256(jsonencode([${JSON.stringify(routesHash)}, local.repository_list, local.webhook_source_ips])), ${refs}]))}`;
}

/**
 * Terraform and provider constraints of the module. The provider range takes hashicorp/aws 5.100+ and
 * 6.x (every resource and data source used was checked against the version 6 upgrade guide; see
 * docs/terraform-users.md for what was verified against which version).
 */
export const MODULE_REQUIRED_VERSION = REQUIRED_TERRAFORM_VERSION;
/** The oldest AWS provider the module supports: the one it is generated and tested with. */
export const MODULE_PROVIDER_MINIMUM = "5.100.0";
export const MODULE_PROVIDER = { source: "hashicorp/aws", version: `>= ${MODULE_PROVIDER_MINIMUM}, < 7.0.0` } as const;

/** The placeholder values the construct is synthesized with (each unique in the synthesized JSON). */
export const PLACEHOLDER = {
  name: "zqnamezq",
  spaceKey: "zqspacezq",
  domain: "backlog.jp",
  sshKeyParameter: "/zqsshzq",
  hostKeysParameter: "/zqhostzq",
  vpcId: "vpc-0badc0de0badc0de0",
  subnetIds: ["subnet-0badc0de0badc0de1", "subnet-0badc0de0badc0de2"],
  projectKey: "ZQPROJZQ",
  repository: "zqrepozq",
  codecommitRepository: "zqcczq",
  sourceIp: "192.0.2.123/32",
  email: "zqmailzq@example.com",
  schedule: "rate(7 hours)",
  /** resync.outOfSyncAlarmHours (the verifier's look-back is one more: 158). */
  outOfSyncAlarmHours: 157,
  logRetentionDays: 3653,
  timeoutMinutes: 479,
  queuedTimeoutMinutes: 478,
  computeType: "BUILD_GENERAL1_LARGE",
  throttleRateLimit: 4321,
  throttleBurstLimit: 4987,
  wafRateLimit: 1234567,
  /** backups.retentionDays */
  backupRetentionDays: 3187,
} as const;

/** The props of the placeholder synthesis: every optional part on. */
export function placeholderProps(): BacklogCodeCommitMirrorProps {
  const p = PLACEHOLDER;
  return {
    name: p.name,
    logRetentionDays: p.logRetentionDays,
    backlog: { spaceKey: p.spaceKey, domain: p.domain, sshKeyParameter: p.sshKeyParameter, hostKeysParameter: p.hostKeysParameter },
    network: { vpcId: p.vpcId, subnetIds: [...p.subnetIds] },
    repositories: [{ projectKey: p.projectKey, repository: p.repository, codecommitRepository: p.codecommitRepository }],
    build: { timeoutMinutes: p.timeoutMinutes, queuedTimeoutMinutes: p.queuedTimeoutMinutes, computeType: p.computeType },
    webhook: {
      allowedSourceIps: [p.sourceIp],
      throttleRateLimit: p.throttleRateLimit,
      throttleBurstLimit: p.throttleBurstLimit,
      wafRateLimitPer5Minutes: p.wafRateLimit,
    },
    resync: { schedule: p.schedule, enabled: true, outOfSyncAlarmHours: p.outOfSyncAlarmHours },
    alerts: { emails: [p.email] },
    sync: { allowEmptySource: true },
    backups: { retentionDays: p.backupRetentionDays },
  };
}

/** Synthesizes the construct with the placeholder props; returns the parsed cdk.tf.json. */
export function synthesizePlaceholderStack(): Json {
  const outdir = mkdtempSync(path.join(tmpdir(), "mirror-module-"));
  try {
    // No provider construct: a module must not configure one (the check for it is skipped).
    const app = new App({ outdir, skipValidation: true });
    const stack = new TerraformStack(app, "module");
    new BacklogCodeCommitMirror(stack, "Mirror", placeholderProps());
    app.synth();
    return JSON.parse(readFileSync(path.join(outdir, "stacks", "module", "cdk.tf.json"), "utf8"));
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

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
          `backlog.host_keys must hold at most ${MAX_INLINE_HOST_KEYS_CHARS} characters together (they are written into the safety net's buildspec, which CodeBuild limits to ${INLINE_BUILDSPEC_MAX_CHARS} characters, and every sync project's environment); put more keys, one per line, in an SSM parameter named by backlog.host_keys_parameter.`,
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
        v("length(var.subnet_ids) >= 2 && length(var.subnet_ids) <= 16", "subnet_ids must list 2 to 16 private subnets (in different availability zones)."),
        everyItem(RULES["network.subnetIds[]"], "var.subnet_ids", "subnet_ids[*]"),
        v("length(distinct(var.subnet_ids)) == length(var.subnet_ids)", "subnet_ids must not repeat a subnet id."),
      ],
    },
    repositories: {
      type: "list(object({ project_key = string, repository = string, codecommit_repository = optional(string) }))",
      description:
        "The Backlog repositories to mirror (1-200): project_key (upper case), repository (without .git), and optionally codecommit_repository (default: the Backlog name; changing it renames the CodeCommit repository and replaces its sync project and log group).",
      validation: [
        v(`length(var.repositories) >= 1 && length(var.repositories) <= ${MAX_REPOSITORIES}`, `repositories must list 1 to ${MAX_REPOSITORIES} repositories (the size the quota test proves to fit AWS's default quotas).`),
        everyItem(RULES["repositories[].projectKey"], "var.repositories[*].project_key", "repositories[*].project_key"),
        everyItem(RULES["repositories[].repository"], "var.repositories[*].repository", "repositories[*].repository"),
        v('alltrue([for r in var.repositories : !can(regex("(?i)[.]git$", r.repository))])', 'repositories[*].repository must not end in ".git" (give the name without it).'),
        everyItem(RULES["repositories[].codecommitRepository"], "[for r in var.repositories : r.codecommit_repository if r.codecommit_repository != null]", "repositories[*].codecommit_repository"),
        v(
          'alltrue([for r in var.repositories : r.codecommit_repository == null ? true : (!can(regex("(?i)[.]git$", r.codecommit_repository)) && !contains([".", ".."], r.codecommit_repository))])',
          'repositories[*].codecommit_repository must not be "." or ".." or end in ".git".',
        ),
        v("length(distinct([for r in var.repositories : lower(\"${r.project_key}/${r.repository}\")])) == length(var.repositories)", "repositories must not list a Backlog repository twice."),
        v(
          "length(distinct([for r in var.repositories : lower(coalesce(r.codecommit_repository, r.repository))])) == length(var.repositories) && length(distinct([for r in var.repositories : lower(replace(coalesce(r.codecommit_repository, r.repository), \".\", \"_\"))])) == length(var.repositories)",
          "repositories must give every repository its own CodeCommit name and CodeBuild project name (a CodeBuild name turns . into _); set codecommit_repository to tell them apart.",
        ),
      ],
    },
    build: {
      type: `object({ timeout_minutes = optional(number, ${BUILD_DEFAULTS.timeoutMinutes}), queued_timeout_minutes = optional(number, ${BUILD_DEFAULTS.queuedTimeoutMinutes}), compute_type = optional(string, "${BUILD_DEFAULTS.computeType}"), allow_debug_sessions = optional(bool, false) })`,
      description:
        "Sync builds: timeout_minutes (5-480), queued_timeout_minutes (5-480), compute_type (ARM: BUILD_GENERAL1_SMALL, _MEDIUM or _LARGE), allow_debug_sessions (grants the Session Manager channels of codebuild-breakpoint).",
      default: {},
      nullable: false,
      validation: [
        rule(RULES["build.timeoutMinutes"], "var.build.timeout_minutes", "build.timeout_minutes"),
        rule(RULES["build.queuedTimeoutMinutes"], "var.build.queued_timeout_minutes", "build.queued_timeout_minutes"),
        rule(RULES["build.computeType"], "var.build.compute_type", "build.compute_type"),
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
        "The safety net that heals a missed webhook: one NAME-verify build on the EventBridge schedule compares every mirror with Backlog and starts the syncs of those that differ; the alarm NAME-out-of-sync notifies the alert topic when a repository stays out of sync (or the safety net silent) for out_of_sync_alarm_hours. enabled = false removes all of it.",
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
      type: "object({ allow_empty_source = optional(bool, false) })",
      description:
        "allow_empty_source: let a sync delete every ref of a CodeCommit repository when Backlog advertises none (a repository emptied on purpose); off, such a sync fails and keeps CodeCommit as it is. Either way, history a sync deletes or overwrites is first saved as a git bundle in the bucket.",
      default: {},
      nullable: false,
      validation: [v("var.sync.allow_empty_source == true || var.sync.allow_empty_source == false", "sync.allow_empty_source must be true or false.")],
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
    alert_emails: {
      type: "list(string)",
      description: "E-mail addresses subscribed to the alert topic (each must confirm); at most 20.",
      default: [],
      nullable: false,
      validation: [
        v("length(var.alert_emails) <= 20", "alert_emails must list at most 20 addresses."),
        everyItem(RULES["alerts.emails[]"], "var.alert_emails", "alert_emails[*]"),
      ],
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// The rewrite.

/** What an instance of a rewritten resource is keyed by. */
type Scope = "shared" | "repository" | "project" | "subnet" | "count" | "email";

interface Renamed {
  readonly type: string;
  readonly oldName: string;
  readonly newName: string;
  readonly scope: Scope;
}

/** Escapes literal text for a Terraform template (`${` and `%{` not already escaped). */
export function escapeTemplate(text: string): string {
  return text.replace(/(?<!\$)\$\{/g, () => "$${").replace(/(?<!%)%\{/g, () => "%%{");
}

/** An HCL string literal (for inside `${ ... }`) whose template parts are kept. */
function hclString(template: string): string {
  return `"${template.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

/** A JSON value as an HCL expression (for jsonencode(...)); `list` replaces marked arrays. */
function hclValue(value: unknown, replace: (arr: unknown[]) => string | undefined): string {
  if (Array.isArray(value)) return replace(value) ?? `[${value.map((x) => hclValue(x, replace)).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    return `{${Object.entries(value).map(([k, x]) => `${JSON.stringify(k)} = ${hclValue(x, replace)}`).join(", ")}}`;
  }
  if (typeof value === "string") return JSON.stringify(escapeTemplate(value));
  return JSON.stringify(value);
}

/** Replaces per-repository and shared placeholders in a string; `e` is the repository object expression. */
function substitute(s: string, e: string): string {
  const p = PLACEHOLDER;
  return s
    .split(`${p.name}-mirror-${p.codecommitRepository}`).join(`\${${e}.project_name}`)
    .split(`${p.spaceKey}.git.${p.domain}`).join("${local.backlog_git_host}")
    .split(p.projectKey).join(`\${${e}.project_key}`)
    .split(p.repository).join(`\${${e}.repository}`)
    .split(p.codecommitRepository).join(`\${${e}.codecommit_repository}`)
    .split(p.name).join("${var.name}")
    .split(p.spaceKey).join("${var.backlog.space_key}")
    .split(p.sshKeyParameter).join("${var.backlog.ssh_key_parameter}");
}

const hasRepoPlaceholder = (s: string) =>
  s.includes(PLACEHOLDER.projectKey) || s.includes(PLACEHOLDER.repository) || s.includes(PLACEHOLDER.codecommitRepository);

/**
 * The sync buildspec as a template: the literal YAML escaped, the host-key parameter conditional. The
 * text is the same for every repository (their settings are the projects' environment variables,
 * {@link syncEnvironmentTemplate}).
 */
export function buildspecTemplate(buildspec: string): string {
  let t = escapeTemplate(buildspec);
  // env.parameter-store: the host-key parameter only when it is used.
  const paramLine = /^( +)BACKLOG_HOST_KEYS: \/zqhostzq\n/m.exec(t);
  if (paramLine === null) throw new Error("the buildspec has no BACKLOG_HOST_KEYS parameter-store line: update lib/terraform-module.ts");
  t = t.replace(paramLine[0], `%{ if var.backlog.host_keys_parameter != null }${paramLine[1]}BACKLOG_HOST_KEYS: \${var.backlog.host_keys_parameter}\n%{ endif }`);
  return substitute(t, "each.value");
}

/**
 * The sync project's environment variables (lib/mirror-build.ts) as a `dynamic` block over a list
 * whose settings are Terraform expressions: the shared settings from the module's variables, the
 * pinned host keys only when given (a project variable would override the buildspec's
 * parameter-store value of the same name), the per-repository ones from `each.value`.
 */
export function syncEnvironmentTemplate(variables: ReadonlyArray<{ name: string; value: string; type?: string }>, rewrite: (s: string) => string): Json {
  const p = PLACEHOLDER;
  const expressions: Record<string, string> = {
    BACKLOG_HOST: "local.backlog_git_host",
    HOST_KEY_MODE: 'var.backlog.scan_host_key ? "scan" : "pinned"',
    LOCK_TIMEOUT_SECONDS: `tostring(floor((var.build.timeout_minutes * 60 - ${PRE_SCRIPT_BUDGET_SECONDS}) / 2))`,
    ALLOW_EMPTY_SOURCE: "tostring(var.sync.allow_empty_source)",
  };
  const expected: Record<string, string> = {
    BACKLOG_HOST: `${p.spaceKey}.git.${p.domain}`,
    HOST_KEY_MODE: "pinned",
    LOCK_TIMEOUT_SECONDS: String(lockTimeoutSeconds(p.timeoutMinutes)),
    ALLOW_EMPTY_SOURCE: "true",
  };
  const entries = variables.map((v) => {
    if ((v.type ?? "PLAINTEXT") !== "PLAINTEXT") throw new Error(`internal: environment variable ${v.name} is not PLAINTEXT`);
    const expression = expressions[v.name];
    if (expression !== undefined) {
      if (v.value !== expected[v.name]) throw new Error(`the sync project's ${v.name} is ${JSON.stringify(v.value)}, not the placeholder's ${JSON.stringify(expected[v.name])}: update lib/terraform-module.ts`);
      return `{ name = ${JSON.stringify(v.name)}, value = ${expression} }`;
    }
    return `{ name = ${JSON.stringify(v.name)}, value = ${hclString(rewrite(v.value))} }`;
  });
  for (const name of Object.keys(expressions)) {
    if (!variables.some((v) => v.name === name)) throw new Error(`the sync project has no ${name} variable: update lib/terraform-module.ts`);
  }
  return {
    environment_variable: {
      for_each: `\${concat([${entries.join(", ")}], var.backlog.host_keys == null ? [] : [{ name = "BACKLOG_HOST_KEYS", value = join("\\n", var.backlog.host_keys) }])}`,
      content: { name: "${environment_variable.value.name}", value: "${environment_variable.value.value}", type: "PLAINTEXT" },
    },
  };
}

/** The verify project's buildspec as a template (lib/verify-buildspec.ts): only its settings change. */
export function verifyBuildspecTemplate(buildspec: string): string {
  const p = PLACEHOLDER;
  let t = escapeTemplate(buildspec);
  const paramLine = /^( +)BACKLOG_HOST_KEYS: \/zqhostzq\n/m.exec(t);
  if (paramLine === null) throw new Error("the verify buildspec has no BACKLOG_HOST_KEYS parameter-store line: update lib/terraform-module.ts");
  t = t.replace(paramLine[0], `%{ if var.backlog.host_keys_parameter != null }${paramLine[1]}BACKLOG_HOST_KEYS: \${var.backlog.host_keys_parameter}\n%{ endif }`);
  const lookback = new RegExp(`^( +)LOOKBACK_HOURS=${p.outOfSyncAlarmHours + 1}\\n`, "m").exec(t);
  if (lookback === null) throw new Error("the verify buildspec has no LOOKBACK_HOURS line: update lib/terraform-module.ts");
  const indent = lookback[1];
  t = t.replace(
    lookback[0],
    `${indent}LOOKBACK_HOURS=\${var.resync.out_of_sync_alarm_hours + 1}\n` +
      `%{ if var.backlog.host_keys != null }${indent}BACKLOG_HOST_KEYS='\${join("\\n${indent}", var.backlog.host_keys)}'\n%{ endif }`,
  );
  if (!t.includes("HOST_KEY_MODE=pinned")) throw new Error("the verify buildspec has no HOST_KEY_MODE line: update lib/terraform-module.ts");
  t = t.split("HOST_KEY_MODE=pinned").join('HOST_KEY_MODE=${var.backlog.scan_host_key ? "scan" : "pinned"}');
  return substitute(t, "each.value");
}

/** Placeholder strings and numbers left in a JSON value (must be none). */
export function leftoverPlaceholders(value: unknown): string[] {
  const found = new Set<string>();
  const strings = Object.values(PLACEHOLDER).flatMap((x) => (Array.isArray(x) ? x : [x])).filter((x) => typeof x === "string" && x !== PLACEHOLDER.domain && x !== PLACEHOLDER.computeType) as string[];
  const numbers = [PLACEHOLDER.outOfSyncAlarmHours, PLACEHOLDER.outOfSyncAlarmHours + 1, PLACEHOLDER.timeoutMinutes, PLACEHOLDER.queuedTimeoutMinutes, PLACEHOLDER.throttleRateLimit, PLACEHOLDER.throttleBurstLimit, PLACEHOLDER.wafRateLimit, PLACEHOLDER.logRetentionDays, PLACEHOLDER.backupRetentionDays];
  const walk = (x: unknown) => {
    if (typeof x === "string") {
      for (const s of strings) if (x.includes(s)) found.add(s);
      for (const n of numbers) if (new RegExp(`\\b${n}\\b`).test(x)) found.add(String(n));
    } else if (typeof x === "number") {
      if ((numbers as number[]).includes(x)) found.add(String(x));
    } else if (Array.isArray(x)) x.forEach(walk);
    else if (x !== null && typeof x === "object") for (const [k, y] of Object.entries(x)) if (k !== "//") walk(y);
  };
  walk(value);
  return [...found].sort();
}

/** The one value of the construct's per-repository for_each map (MirrorRepositories' local value). */
function placeholderInstance(synth: Json): Record<string, string> {
  const locals = Object.entries((synth.locals ?? {}) as Record<string, Record<string, Record<string, string>>>).filter(([name]) => /^Mirror_Repositories_Instances_/.test(name));
  if (locals.length !== 1) throw new Error(`internal: expected one Mirror_Repositories_Instances local value, found ${locals.length}`);
  const entries = Object.entries(locals[0][1]);
  if (entries.length !== 1 || entries[0][0] !== `${PLACEHOLDER.projectKey}/${PLACEHOLDER.repository}`) throw new Error("internal: the for_each map is not the placeholder repository");
  return entries[0][1];
}

const ARN_PREFIX = /^arn:\$\{data\.aws_partition\.[^}]+\}:[a-z0-9-]+:\$\{data\.aws_region\.[^}]+\}:\$\{data\.aws_caller_identity\.[^}]+\}:/;

/** The module's Terraform JSON files, from the placeholder synthesis. */
export function toModule(synth: Json): Record<string, Json> {
  const p = PLACEHOLDER;
  const resource: Record<string, Record<string, Json>> = JSON.parse(JSON.stringify(synth.resource));
  const data: Record<string, Record<string, Json>> = JSON.parse(JSON.stringify(synth.data ?? {}));

  // 1. Classify and rename. Per-repository resources: the for_each resources of MirrorRepositories
  //    (construct id "Repositories") and the webhook's path of the repository (construct id with
  //    "ZQPROJZQ-zqrepozq"); the webhook's other resources are shared.
  const renamed: Renamed[] = [];
  const scopeOf = (type: string, name: string): Scope => {
    if (name.includes(`${p.projectKey}-${p.repository}`) || /^Mirror_Repositories_/.test(name)) return "repository";
    if (type === "aws_efs_mount_target") return "subnet";
    if (type === "aws_sns_topic_subscription") return "email";
    if (/^aws_wafv2_/.test(type) || /_SafetyNet_/.test(name) || type === "aws_api_gateway_rest_api_policy") return "count";
    return "shared";
  };
  const newNameOf = (name: string, scope: Scope): string => {
    const base = name.replace(/_[0-9A-F]{8}$/, "");
    switch (scope) {
      case "repository":
        // (Mirror_Repositories_X, lib/mirror-build.ts, keeps the module's earlier address Mirror_Repository_X.)
        return base
          .replace(`Path-${p.projectKey}-${p.repository}`, "RepositoryPath")
          .replace(`${p.projectKey}-${p.repository}`, "Repository")
          .replace(/^Mirror_Repositories_/, "Mirror_Repository_");
      case "project":
        return base.replace(`Path-${p.projectKey}`, "ProjectPath");
      case "subnet":
        return base.replace(/MountTarget\d+$/, "MountTarget");
      case "email":
        return base.replace(/Email\d+$/, "Email");
      default:
        return base;
    }
  };
  for (const [type, byName] of Object.entries(resource)) {
    for (const name of Object.keys(byName)) {
      const scope = scopeOf(type, name);
      renamed.push({ type, oldName: name, newName: newNameOf(name, scope), scope });
    }
  }
  const byOld = new Map(renamed.map((r) => [`${r.type}.${r.oldName}`, r]));
  const dataRenamed = new Map<string, string>();
  for (const [type, byName] of Object.entries(data)) {
    for (const name of Object.keys(byName)) dataRenamed.set(`data.${type}.${name}`, `data.${type}.${name.replace(/_[0-9A-F]{8}$/, "")}`);
  }

  /** Rewrites references in a string, as seen from a resource of scope `from`. */
  const rewriteRefs = (s: string, from: Scope): string =>
    s
      .replace(/\bdata\.(aws_[a-z0-9_]+)\.([A-Za-z0-9_-]+)/g, (m) => dataRenamed.get(m) ?? m)
      .replace(/(?<![.\w])(aws_[a-z0-9_]+)\.([A-Za-z0-9_-]+)(\.)?/g, (m, type: string, name: string, dot: string | undefined) => {
        const r = byOld.get(`${type}.${name}`);
        if (r === undefined) return m;
        if (dot === undefined) return `${type}.${r.newName}`; // depends_on: the whole resource
        let index = "";
        if (r.scope === "repository") index = from === "repository" ? "[each.key]" : "";
        else if (r.scope === "project") index = from === "repository" ? "[each.value.project_key]" : "";
        else if (r.scope === "count") index = "[0]";
        if (index === "" && r.scope !== "shared") {
          throw new Error(`internal: reference to ${type}.${name} (${r.scope}) from a ${from} resource`);
        }
        return `${type}.${r.newName}${index}.`;
      });

  const mapStrings = (value: Json, f: (s: string) => string): Json => {
    if (typeof value === "string") return f(value);
    if (Array.isArray(value)) return value.map((x) => mapStrings(x, f));
    if (value !== null && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).filter(([k]) => k !== "//").map(([k, x]) => [k, mapStrings(x, f)]));
    }
    return value;
  };

  /** Per-repository lists in shared blocks become `for` expressions over the repositories. */
  const listsToFor = (value: Json): Json => {
    if (Array.isArray(value)) {
      const strs = value.filter((x): x is string => typeof x === "string");
      if (strs.length === value.length && strs.some(hasRepoPlaceholder)) {
        if (value.length !== 1) throw new Error(`internal: a per-repository list with ${value.length} entries`);
        return `\${[for r in local.repository_list : ${hclString(substitute(strs[0], "r"))}]}`;
      }
      if (strs.length === value.length && strs.some((x) => x.includes(p.subnetIds[0]))) {
        const first = strs[0];
        if (value.length !== 2 || !strs[1].includes(p.subnetIds[1])) throw new Error("internal: unexpected subnet list");
        if (first === p.subnetIds[0]) return "${var.subnet_ids}";
        return `\${[for s in var.subnet_ids : ${hclString(first.split(p.subnetIds[0]).join("${s}"))}]}`;
      }
      if (strs.length === value.length && strs.some((x) => x.endsWith(p.sshKeyParameter)) && strs.some((x) => x.endsWith(p.hostKeysParameter))) {
        const first = strs.find((x) => x.endsWith(p.sshKeyParameter)) as string;
        if (!ARN_PREFIX.test(first)) throw new Error("internal: unexpected SSM parameter list");
        return `\${[for n in local.ssm_parameters : ${hclString(first.slice(0, -p.sshKeyParameter.length) + "${n}")}]}`;
      }
      return value.map(listsToFor);
    }
    if (value !== null && typeof value === "object") {
      // depends_on lists addresses, rewritten by rewriteRefs (a for_each resource is one address).
      return Object.fromEntries(Object.entries(value).map(([k, x]) => [k, k === "depends_on" ? x : listsToFor(x)]));
    }
    return value;
  };

  // 2. Rewrite every resource.
  const outResources: Record<string, Record<string, Json>> = {};
  const routeContent: Json[] = [];
  let deploymentRefs = "";
  for (const r of renamed) {
    let body: Json = JSON.parse(JSON.stringify(resource[r.type][r.oldName]));
    delete body["//"];
    const isVerify = r.scope === "count" && /_SafetyNet_/.test(r.oldName);
    const buildspec: string | undefined =
      r.type === "aws_codebuild_project" ? (isVerify ? verifyBuildspecTemplate : buildspecTemplate)(body.source.buildspec) : undefined;
    if (buildspec !== undefined) body.source.buildspec = buildspec;
    if (r.type === "aws_cloudwatch_event_rule" && typeof body.event_pattern === "string") {
      const pattern = JSON.parse(body.event_pattern);
      body.event_pattern = `\${jsonencode(${hclValue(pattern, (arr) =>
        arr.length === 1 && typeof arr[0] === "string" && hasRepoPlaceholder(arr[0]) ? `[for r in local.repository_list : ${hclString(substitute(arr[0], "r"))}]` : undefined,
      )})}`;
    }
    if (r.type === "aws_api_gateway_integration" || r.type === "aws_api_gateway_integration_response") {
      // The route table of the mapping templates: one entry per repository (lib/webhook-routing.ts).
      const table = routeTable([{ key: `${p.projectKey}/${p.repository}`, projectName: `${p.name}-mirror-${p.codecommitRepository}` }]);
      const entry = hclString(routeEntry({ key: "PROJECT/REPO", projectName: "PROJECT_NAME" }).replace("PROJECT/REPO", "${r.key}").replace("PROJECT_NAME", "${r.project_name}"));
      const forTable = `{\${join(", ", [for r in local.repository_list : ${entry}])}}`;
      for (const field of ["request_templates", "response_templates"]) {
        for (const [type, template] of Object.entries((body[field] ?? {}) as Record<string, string>)) {
          body[field][type] = template.split(table).join(forTable);
        }
      }
    }
    if (r.type === "aws_api_gateway_rest_api_policy") {
      const policy = JSON.parse(body.policy);
      // The policy's only interpolations are the references of its execute-api ARN: kept as such.
      body.policy = `\${jsonencode(${hclValue(policy, (arr) => (arr.length === 1 && arr[0] === p.sourceIp ? "local.webhook_source_ips" : undefined)).replace(/\$\$\{/g, "${")})}`;
    }
    if (r.type === "aws_wafv2_web_acl") {
      const rules = JSON.parse(body.rule_json);
      body.rule_json = `\${jsonencode(${hclValue(rules, () => undefined).replace(String(p.wafRateLimit), "var.webhook.waf_rate_limit_per_5_minutes")})}`;
    }
    if (r.type === "aws_api_gateway_method_settings") {
      body.settings.throttling_rate_limit = "${var.webhook.throttle_rate_limit}";
      body.settings.throttling_burst_limit = "${var.webhook.throttle_burst_limit}";
    }
    if (r.type === "aws_cloudwatch_log_group") body.retention_in_days = "${var.log_retention_days}";
    if (r.type === "aws_s3_bucket_lifecycle_configuration") {
      const text = JSON.stringify(body);
      const days = `:${p.backupRetentionDays}`;
      if (text.split(days).length !== 3) throw new Error("the backup lifecycle does not hold backupRetentionDays twice: update lib/terraform-module.ts");
      body = JSON.parse(text.split(days).join(':"${var.backups.retention_days}"'));
    }
    if (r.type === "aws_s3_object" && isVerify) {
      // The repository list: one line per repository (lib/safety-net.ts repositoryListLine).
      const line = repositoryListLine(p.name, { projectKey: p.projectKey, repository: p.repository, codecommitRepository: p.codecommitRepository });
      if (body.content !== line) throw new Error("the repository list is not one placeholder line: update lib/terraform-module.ts");
      body.content = `\${join("", [for r in local.repository_list : ${hclString(substitute(line, "r"))}])}`;
    }
    if (r.type === "aws_s3_object" && typeof body.key === "string" && body.key.startsWith(BUILD_TOOLS_PREFIX)) {
      // A build script (lib/build-scripts.ts): a file of the module, read by `file()`, so a change to
      // it is a readable diff of that file.
      const file = path.posix.basename(body.key);
      const script = buildScripts().find((x) => x.file === file);
      if (script === undefined || body.content !== escapeTerraformTemplate(script.text)) throw new Error(`the object ${body.key} is not the build script ${file}: update lib/terraform-module.ts`);
      body.content = `\${file("\${path.module}/${MODULE_SCRIPTS_DIR}/${file}")}`;
    }
    if (r.type === "aws_cloudwatch_metric_alarm" && isVerify) {
      const hours = String(p.outOfSyncAlarmHours);
      if (String(body.evaluation_periods) !== hours || String(body.datapoints_to_alarm) !== hours) {
        throw new Error("the out-of-sync alarm does not evaluate outOfSyncAlarmHours periods: update lib/terraform-module.ts");
      }
      body.evaluation_periods = "${var.resync.out_of_sync_alarm_hours}";
      body.datapoints_to_alarm = "${var.resync.out_of_sync_alarm_hours}";
      body.alarm_description = String(body.alarm_description).split(` ${hours} hours`).join(" ${var.resync.out_of_sync_alarm_hours} hours");
    }
    if (r.type === "aws_codebuild_project" && !isVerify) {
      body.build_timeout = "${var.build.timeout_minutes}";
      body.queued_timeout = "${var.build.queued_timeout_minutes}";
      body.environment.compute_type = "${var.build.compute_type}";
      body.environment.dynamic = syncEnvironmentTemplate(body.environment.environment_variable, (s) => substitute(rewriteRefs(s, "repository"), "each.value"));
      delete body.environment.environment_variable;
    }
    if (r.type.startsWith("aws_api_gateway_") && !/_(deployment|stage)$/.test(r.type)) routeContent.push({ type: r.type, name: r.newName, body: resource[r.type][r.oldName] });

    body = listsToFor(body);
    body = mapStrings(body, (s) => {
      let out = s;
      if (out === p.vpcId) return "${var.vpc_id}";
      if (out === p.subnetIds[0] || out === p.subnetIds[1]) return "${each.value}";
      if (out === p.email) return "${each.value}";
      if (out === p.schedule) return "${var.resync.schedule}";
      // References first (old addresses contain the placeholders), then the placeholders.
      out = rewriteRefs(out, r.scope);
      return r.type === "aws_codebuild_project" && s === buildspec ? out : substitute(out, "each.value");
    });

    switch (r.scope) {
      case "repository":
        body.for_each = "${local.repositories}";
        break;
      case "project":
        body.for_each = "${local.project_keys}";
        body.path_part = "${each.value}";
        break;
      case "subnet":
        // One mount target per Availability Zone of the subnets (lib/storage.ts).
        body.for_each = "${zipmap([for s in var.subnet_ids : data.aws_subnet.Mirror_Storage_Subnet[s].availability_zone], var.subnet_ids)}";
        body.subnet_id = "${each.value}";
        break;
      case "email":
        body.for_each = "${toset(var.alert_emails)}";
        break;
      case "count":
        body.count = r.type.startsWith("aws_wafv2_")
          ? "${var.webhook.waf_rate_limit_per_5_minutes == null ? 0 : 1}"
          : r.type === "aws_api_gateway_rest_api_policy"
            ? "${var.webhook.allow_any_source ? 0 : 1}"
            : "${var.resync.enabled ? 1 : 0}";
        break;
      default:
        break;
    }
    if (r.type === "aws_api_gateway_deployment") {
      // Redeploy when a route, the source addresses or the module's route definitions change, and
      // (the construct's references, renamed above) when an input known only at apply changes.
      deploymentRefs = deploymentTriggerRefs(String(body.triggers?.redeployment));
      const routes = createHash("sha256").update(JSON.stringify(routeContent.length > 0 ? routeContent : renamed.map((x) => x.newName))).digest("hex");
      body.triggers = { redeployment: moduleDeploymentTrigger(routes, deploymentRefs) };
    }
    outResources[r.type] ??= {};
    if (outResources[r.type][r.newName] === undefined) outResources[r.type][r.newName] = body;
  }
  // The deployment trigger must also cover the route definitions found after it was written.
  const deployment = Object.values(outResources.aws_api_gateway_deployment ?? {})[0];
  if (deployment !== undefined) {
    const routes = createHash("sha256").update(JSON.stringify(routeContent)).digest("hex");
    deployment.triggers = { redeployment: moduleDeploymentTrigger(routes, deploymentRefs) };
  }

  // 3. Data sources: renamed, per-repository and parameter lists rewritten, debug statement dynamic.
  const outData: Record<string, Record<string, Json>> = {};
  for (const [type, byName] of Object.entries(data)) {
    for (const [name, original] of Object.entries(byName)) {
      if (type === "aws_subnet") {
        // The subnets' Availability Zones, one data source per subnet (lib/storage.ts).
        if (!/_Storage_Subnet\d+_/.test(name)) throw new Error(`internal: unexpected aws_subnet data source ${name}`);
        outData[type] ??= {};
        outData[type].Mirror_Storage_Subnet = { for_each: "${toset(var.subnet_ids)}", id: "${each.value}" };
        continue;
      }
      let body: Json = listsToFor(JSON.parse(JSON.stringify(original)));
      body = mapStrings(body, (s) => substitute(rewriteRefs(s, "shared"), "each.value"));
      const newName = (dataRenamed.get(`data.${type}.${name}`) as string).split(".")[2];
      if (type === "aws_iam_policy_document" && /BuildSyncDocument/.test(name)) {
        body.dynamic = {
          statement: {
            for_each: "${var.build.allow_debug_sessions ? [1] : []}",
            content: {
              sid: "DebugSessions",
              effect: "Allow",
              actions: ["ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"],
              resources: ["*"],
            },
          },
        };
      }
      outData[type] ??= {};
      outData[type][newName] = body;
    }
  }

  const find = (type: string, pattern: RegExp): string => {
    const name = Object.keys(outResources[type] ?? {}).find((n) => pattern.test(n));
    if (name === undefined) throw new Error(`internal: no ${type} matching ${pattern}`);
    return `${type}.${name}`;
  };
  const stage = find("aws_api_gateway_stage", /_Webhook_Stage$/);
  const codecommit = find("aws_codecommit_repository", /_Repository_Repository$/);
  const logGroup = find("aws_cloudwatch_log_group", /_Repository_LogGroup$/);
  const topic = find("aws_sns_topic", /_Alerts_Topic$/);

  const locals = {
    repository_names:
      '${{ for r in var.repositories : "${r.project_key}/${r.repository}" => { key = "${r.project_key}/${r.repository}", project_key = r.project_key, repository = r.repository, codecommit_repository = coalesce(r.codecommit_repository, r.repository), project_name = "${var.name}-mirror-${replace(coalesce(r.codecommit_repository, r.repository), ".", "_")}" } }}',
    // The construct's for_each values (lib/mirror-build.ts RepositoryInstance), each field written as
    // the construct wrote it for the placeholder repository, its placeholders now the repository's.
    repositories: `\${{ for k, r in local.repository_names : k => merge(r, { ${Object.entries(placeholderInstance(synth))
      .filter(([field]) => !["codecommit_repository", "project_name"].includes(field))
      .map(([field, value]) => `${field} = ${hclString(substitute(value, "r"))}`)
      .join(", ")} }) }}`,
    repository_list: '${[for r in var.repositories : local.repositories["${r.project_key}/${r.repository}"]]}',
    project_keys: "${toset([for r in var.repositories : r.project_key])}",
    backlog_git_host: "${var.backlog.space_key}.git.${var.backlog.domain}",
    ssm_parameters: "${compact([var.backlog.ssh_key_parameter, var.backlog.host_keys_parameter])}",
    backlog_webhook_source_ips: [...BACKLOG_WEBHOOK_SOURCE_IPS],
    webhook_source_ips: "${var.webhook.allow_any_source ? [] : concat(coalesce(var.webhook.allowed_source_ips, local.backlog_webhook_source_ips), var.webhook.additional_source_ips)}",
  };

  const outputs = {
    repositories: {
      description:
        "Per Backlog repository (PROJECT/REPO): webhook_url to paste into Backlog, the CodeCommit repository and its clone URLs, the sync project and its log group",
      value: `\${{ for k, r in local.repositories : k => { webhook_url = "\${${stage}.invoke_url}/\${r.project_key}/\${r.repository}", codecommit_repository = ${codecommit}[k].repository_name, clone_url_http = ${codecommit}[k].clone_url_http, clone_url_ssh = ${codecommit}[k].clone_url_ssh, build_project = r.project_name, log_group = ${logGroup}[k].name } }}`,
    },
    webhook_base_url: {
      description: "Base URL of the webhook stage; each repository's webhook is this URL plus /PROJECT/REPO",
      value: `\${${stage}.invoke_url}`,
    },
    alerts_topic_arn: {
      description: "SNS topic that receives failed syncs and webhook 5xx alarms; subscribe to it",
      value: `\${${topic}.arn}`,
    },
    webhook_source_ips: {
      description: "Source addresses the webhook API admits (empty: any source)",
      value: "${local.webhook_source_ips}",
    },
  };

  const main = { locals, data: outData, resource: outResources };
  const left = leftoverPlaceholders(main);
  if (left.length > 0) throw new Error(`placeholders left in the module: ${left.join(", ")}; update lib/terraform-module.ts`);
  return {
    "main.tf.json": main,
    "variables.tf.json": { variable: moduleVariables() },
    "outputs.tf.json": { output: outputs },
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
