/**
 * The configuration reference (the README's table, between `<!-- config-reference:begin -->` and
 * `<!-- config-reference:end -->`, written by `npm run build:docs`): one row per key, whose allowed
 * values come from the rule table (lib/rules.ts) and whose defaults come from the constants the
 * construct uses, so that neither is written twice.
 */
import { BACKLOG_WEBHOOK_SOURCE_IPS } from "./backlog-ips";
import { DEFAULT_FLEET_OVERFLOW } from "./fleet";
import { BUILD_DEFAULTS } from "./mirror-build";
import { DEFAULT_LOG_RETENTION_DAYS, DEFAULT_REF_INCLUDE } from "./mirror-inputs";
import { LIST_SIZES, RULES, type Rule, type RuleField } from "./rules";
import { DEFAULT_OUT_OF_SYNC_ALARM_HOURS, DEFAULT_RESYNC_SCHEDULE } from "./safety-net";
import { DEFAULT_BACKUP_RETENTION_DAYS } from "./storage";
import { MAX_INLINE_HOST_KEYS_CHARS } from "./validation";
import { DEFAULT_THROTTLE, maxSourceCidrs } from "./webhook-protection";

/** One row of the reference. */
export interface ReferenceRow {
  readonly key: string;
  readonly required: string;
  /** The default, as the reference shows it (empty: none to show). */
  readonly default?: string;
  /** The rule whose allowed values lead the row's text. */
  readonly rule?: RuleField;
  /** What else the row says. */
  readonly notes?: string;
}

const n = (x: number) => x.toLocaleString("en-US");
const code = (x: string | number | boolean) => `\`${x}\``;

/** A rule's allowed values, short: a range, the values, or the pattern's description. */
export function ruleSummary(rule: Rule): string {
  switch (rule.kind) {
    case "integer":
      return `${n(rule.min)}-${n(rule.max)}`;
    case "oneOf": {
      const values = rule.values.map((v) => (typeof v === "number" ? String(v) : code(v)));
      if (values.length > 8) return `${values.slice(0, 8).join(", ")}, …, ${values[values.length - 1]}`;
      return values.length <= 2 ? values.join(" or ") : `${values.slice(0, -1).join(", ")} or ${values[values.length - 1]}`;
    }
    case "pattern":
      return rule.allowed;
  }
}

const size = (key: keyof typeof LIST_SIZES) => LIST_SIZES[key];

/** The rows, in the order the reference shows them. */
export const REFERENCE_ROWS: readonly ReferenceRow[] = [
  {
    key: "region",
    required: "yes",
    notes: "a region where CodeBuild runs ARM builds (`lib/regions.ts`); others are refused at validation, preflight and plan",
  },
  {
    key: "name",
    required: "yes",
    rule: "name",
    notes: ", without `-mirror-` (IAM is scoped by `NAME-mirror-`); the prefix of every name",
  },
  { key: "logRetentionDays", required: "no", default: code(DEFAULT_LOG_RETENTION_DAYS), rule: "logRetentionDays", notes: " (days CloudWatch Logs accepts)" },
  { key: "backlog.spaceKey", required: "yes", rule: "backlog.spaceKey", notes: "; also the SSH user" },
  { key: "backlog.domain", required: "yes", rule: "backlog.domain", notes: ": the part after `SPACE.` in the space's URL" },
  { key: "backlog.sshKeyParameter", required: "yes", rule: "backlog.sshKeyParameter", notes: " (a SecureString)" },
  { key: "backlog.hostKeys", required: "one of three", notes: `pinned keys, each ${RULES["backlog.hostKeys[]"].allowed}; at most ${n(MAX_INLINE_HOST_KEYS_CHARS)} characters together` },
  { key: "backlog.hostKeysParameter", required: "one of three", notes: "an SSM parameter named as `sshKeyParameter` is, one key per line" },
  { key: "backlog.scanHostKey", required: "one of three", default: code(false), notes: "`true` trusts whatever key the host presents, at every build (not recommended)" },
  { key: "network", required: "no", default: "a new VPC", notes: "omitted: a VPC with 2 private subnets and a NAT gateway" },
  { key: "network.vpcId", required: "with `network`", rule: "network.vpcId", notes: ", with DNS resolution and hostnames on (preflight checks)" },
  {
    key: "network.subnetIds",
    required: "with `network`",
    notes: `${size("network.subnetIds").min}-${size("network.subnetIds").max} private subnets with a NAT route, in at least 2 AZs, each ${RULES["network.subnetIds[]"].allowed}; one EFS mount target per AZ`,
  },
  { key: "webhook.allowedSourceIps", required: "no", default: `Backlog's ${BACKLOG_WEBHOOK_SOURCE_IPS.length} sender ranges`, notes: `who may call the API (replaces the list), each ${RULES["webhook.sourceIps[]"].allowed}` },
  {
    key: "webhook.additionalSourceIps",
    required: "no",
    default: "none",
    notes: `IPv4 CIDRs added to the list; with the list, at most ${maxSourceCidrs()} ranges in all (the resource policy's 8,192-character quota)`,
  },
  { key: "webhook.allowAnySource", required: "no", default: code(false), notes: "`true` removes the resource policy (conflicts with the two lists)" },
  {
    key: "webhook.throttleRateLimit` / `throttleBurstLimit",
    required: "no",
    default: `${code(DEFAULT_THROTTLE.rateLimit)} / ${code(DEFAULT_THROTTLE.burstLimit)}`,
    notes: `${ruleSummary(RULES["webhook.throttleRateLimit"])} / ${ruleSummary(RULES["webhook.throttleBurstLimit"])} requests per second / burst, stage-wide; burst ≥ rate`,
  },
  { key: "webhook.wafRateLimitPer5Minutes", required: "no", default: "no WAF", rule: "webhook.wafRateLimitPer5Minutes", notes: ": attach a WAFv2 ACL blocking a source above it" },
  { key: "resync.schedule", required: "no", default: code(DEFAULT_RESYNC_SCHEDULE), rule: "resync.schedule", notes: ": when the safety net runs" },
  {
    key: "resync.enabled",
    required: "no",
    default: code(true),
    notes: "`false` drops the safety net (`NAME-verify`, its schedule, roles, repository list and alarm)",
  },
  {
    key: "resync.outOfSyncAlarmHours",
    required: "no",
    default: code(DEFAULT_OUT_OF_SYNC_ALARM_HOURS),
    rule: "resync.outOfSyncAlarmHours",
    notes: ": hours out of sync before a repository is reported (once); no successful safety-net run that long fires `NAME-out-of-sync`; at least twice a `rate(...)` schedule's interval",
  },
  {
    key: "sync.allowEmptySource",
    required: "no",
    default: code(false),
    notes: "`true` lets a sync delete CodeCommit's refs when Backlog advertises none (backed up first)",
  },
  {
    key: "sync.refs, repositories[].refs",
    required: "no",
    default: DEFAULT_REF_INCLUDE.map((p) => code(p)).join(", "),
    notes: `\`{ include, exclude }\` (≤ ${size("sync.refs.include").max} each), each a ref pattern (\`*\`: any characters); the default branch must be included; other refs are never pushed or deleted ([details](docs/how-it-works.md#ref-selection))`,
  },
  { key: "backups.retentionDays", required: "no", default: code(DEFAULT_BACKUP_RETENTION_DAYS), rule: "backups.retentionDays", notes: ": days the backup bundles (and their noncurrent versions) are kept" },
  { key: "alerts.emails", required: "no", default: "none", notes: `e-mail subscriptions of the alert topic (≤ ${size("alerts.emails").max}), each ${RULES["alerts.emails[]"].allowed}` },
  { key: "lfs.credentialsParameter", required: "no", default: "not mirrored", notes: "mirror Git LFS objects; an SSM SecureString `USER:PASSWORD`" },
  { key: "encryption.customerManagedKey", required: "no", default: code(false), notes: "create and use a KMS key (replaces EFS when toggled)" },
  { key: "repositories[]", required: "yes", notes: `${size("repositories").min}-${size("repositories").max} entries, no duplicates` },
  { key: "repositories[].projectKey", required: "yes", rule: "repositories[].projectKey" },
  { key: "repositories[].repository", required: "yes", rule: "repositories[].repository", notes: ", without `.git`" },
  { key: "repositories[].codecommitRepository", required: "no", default: "the Backlog name", rule: "repositories[].codecommitRepository", notes: ", unique across the list" },
  { key: "repositories[].lfs", required: "no", default: "with `lfs`", notes: "`false` opts a repository out" },
  { key: "build.timeoutMinutes", required: "no", default: code(BUILD_DEFAULTS.timeoutMinutes), rule: "build.timeoutMinutes" },
  { key: "build.queuedTimeoutMinutes", required: "no", default: code(BUILD_DEFAULTS.queuedTimeoutMinutes), rule: "build.queuedTimeoutMinutes" },
  { key: "build.computeType", required: "no", default: code(BUILD_DEFAULTS.computeType), rule: "build.computeType", notes: " (ARM)" },
  {
    key: "build.concurrentBuildLimit",
    required: "no",
    default: "no limit",
    rule: "build.concurrentBuildLimit",
    notes: "; extra builds are refused (→ 502, Backlog retries)",
  },
  { key: "build.allowDebugSessions", required: "no", default: code(false), notes: "grants Session Manager channels for `codebuild-breakpoint`" },
  {
    key: "build.fleet.baseCapacity",
    required: "for a fleet",
    default: "no fleet",
    rule: "build.fleet.baseCapacity",
    notes: ", ≤ the repositories: a reserved-capacity fleet for every build, billed while provisioned",
  },
  { key: "build.fleet.overflow", required: "no", default: code(DEFAULT_FLEET_OVERFLOW), rule: "build.fleet.overflow", notes: ": when every instance is busy" },
  { key: "state.bucket`, `state.key`, `state.region", required: "yes", notes: "S3 backend; `encrypt = true` and `use_lockfile = true` are always set" },
  { key: "tags", required: "no", default: "none", notes: `provider default tags (≤ ${size("tags").max})` },
];

/** A Markdown table cell. */
const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** The reference as the README's Markdown table. */
export function configurationReference(rows: readonly ReferenceRow[] = REFERENCE_ROWS): string {
  const lines = ["| key | required | default | rules |", "|---|---|---|---|"];
  for (const r of rows) {
    const text = `${r.rule !== undefined ? ruleSummary(RULES[r.rule]) : ""}${r.notes ?? ""}`;
    lines.push(`| \`${r.key}\` | ${r.required} | ${r.default ?? ""} | ${cell(text)} |`);
  }
  return `${lines.join("\n")}\n`;
}

/** The README's markers around the generated reference. */
export const REFERENCE_MARKERS = { begin: "<!-- config-reference:begin -->", end: "<!-- config-reference:end -->" } as const;

/** `readme` with the text between the markers replaced by the reference; throws when a marker is missing. */
export function withConfigurationReference(readme: string, reference: string = configurationReference()): string {
  const begin = readme.indexOf(REFERENCE_MARKERS.begin);
  const end = readme.indexOf(REFERENCE_MARKERS.end);
  if (begin < 0 || end < begin) throw new Error(`README.md has no ${REFERENCE_MARKERS.begin} ... ${REFERENCE_MARKERS.end} section`);
  return `${readme.slice(0, begin + REFERENCE_MARKERS.begin.length)}\n${reference}${readme.slice(end)}`;
}

/**
 * A props TSDoc line that documents a rule: ` * Allowed: TEXT (\`RULES["FIELD"]\`).`, TEXT written
 * by `npm run build:docs` from the rule ({@link ruleSummary}).
 */
const DOCUMENTED_RULE = /^(\s*\* Allowed: ).*( \(`RULES\["([^"]+)"\]`\)\.)$/gm;

/** `source` (lib/props.ts) with every documented rule's text written from the rule table. */
export function withDocumentedRules(source: string): string {
  return source.replace(DOCUMENTED_RULE, (_line, head: string, tail: string, field: string) => {
    const rule = (RULES as Record<string, Rule>)[field];
    if (rule === undefined) throw new Error(`lib/props.ts documents the rule ${JSON.stringify(field)}, which lib/rules.ts does not have`);
    return `${head}${ruleSummary(rule)}${tail}`;
  });
}
