/**
 * The configuration's single-field rules, written once. Each is the rule of one field of the props
 * (and of the stack's JSON configuration) and of the Terraform module's variable that carries it:
 * lib/validation.ts builds the zod schema from it, lib/terraform-module.ts the module's validation
 * blocks (`can(regex(...))`, ranges, `contains(...)`), both with the same "must be ..." text, and
 * preflight reads the host-key types from it. Rules across fields (one host-key source, burst ≥
 * rate, duplicates after name derivation, the resource-policy quota) stay beside each consumer.
 *
 * Patterns are written for both engines: JavaScript's RegExp and RE2 (Terraform's `regex`), so no
 * lookaround and no backreference.
 */
import { BACKLOG_DOMAINS, FLEET_OVERFLOWS } from "./props";
import { MAX_OUT_OF_SYNC_ALARM_HOURS, MIN_OUT_OF_SYNC_ALARM_HOURS } from "./safety-net";

/** A string matched by a pattern (and at most `maxLength` characters). */
export interface PatternRule {
  readonly kind: "pattern";
  readonly pattern: RegExp;
  /** What is allowed, as the messages say it after "must be". */
  readonly allowed: string;
  readonly maxLength?: number;
  /** A prefix the value must not match (RE2 has no lookahead, so it is a second pattern); `i` is the only flag. */
  readonly reserved?: RegExp;
}

/** A whole number in a range. */
export interface IntegerRule {
  readonly kind: "integer";
  readonly min: number;
  readonly max: number;
}

/** One of a list of values. */
export interface OneOfRule {
  readonly kind: "oneOf";
  readonly values: readonly (string | number)[];
  /** What is allowed, after "must be"; default: the values. */
  readonly allowed: string;
}

export type Rule = PatternRule | IntegerRule | OneOfRule;

const pattern = (re: RegExp, allowed: string, maxLength?: number, reserved?: RegExp): PatternRule => ({ kind: "pattern", pattern: re, allowed, maxLength, reserved });
const integer = (min: number, max: number): IntegerRule => ({ kind: "integer", min, max });
const oneOf = <const V extends readonly (string | number)[]>(values: V, allowed: string) => ({ kind: "oneOf", values, allowed }) as const;

/** `"a", "b" or "c"`: the allowed values of an enumerated field, as messages name them. */
export function quotedAlternatives(values: readonly string[]): string {
  const quoted = values.map((v) => JSON.stringify(v));
  return quoted.length <= 1 ? quoted.join("") : `${quoted.slice(0, -1).join(", ")} or ${quoted[quoted.length - 1]}`;
}

/** Retention values CloudWatch Logs accepts (`PutRetentionPolicy`). */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

export { HOST_KEY_TYPES, HOST_KEY_TYPE_PATTERN } from "./host-key-types";
import { HOST_KEY_TYPE_PATTERN } from "./host-key-types";

/** The ARM compute types of the sync builds. */
export const COMPUTE_TYPES = ["BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_MEDIUM", "BUILD_GENERAL1_LARGE"] as const;

const SSM_PARAMETER = (what: string) =>
  pattern(
    /^\/[A-Za-z0-9_.\-/]+$/,
    `the name of an SSM parameter holding ${what}: it starts with "/" and has only letters, digits and _ . - / (at most 1011 characters), and does not start with /aws or /ssm`,
    1011,
    // Reserved by AWS, in any case (Systems Manager User Guide, "Creating Parameter Store
    // parameters": names can't be prefixed with "aws" or "ssm", case-insensitive).
    /^\/(aws|ssm)/i,
  );

/** The most repositories a stack accepts ({@link LIST_SIZES}, and the fleet's largest capacity). */
const MAX_REPOSITORIES = 200;

/** The rules, by the props' field path (`[]` marks a list's items). */
export const RULES = {
  name: pattern(/^[a-z][a-z0-9-]{0,22}[a-z0-9]$/, "2-24 characters: lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen"),
  logRetentionDays: oneOf(LOG_RETENTION_DAYS, `one of the retention periods CloudWatch Logs accepts (${LOG_RETENTION_DAYS.join(", ")})`),
  "backlog.spaceKey": pattern(/^[0-9A-Za-z](?:[0-9A-Za-z-]{0,61}[0-9A-Za-z])?$/, "a Backlog space key: 1-63 letters, digits and hyphens, not starting or ending with a hyphen"),
  "backlog.domain": oneOf(BACKLOG_DOMAINS, quotedAlternatives(BACKLOG_DOMAINS)),
  "backlog.sshKeyParameter": SSM_PARAMETER("the SSH private key"),
  "backlog.hostKeysParameter": SSM_PARAMETER("the pinned host keys"),
  "lfs.credentialsParameter": SSM_PARAMETER("the Backlog user and password for Git LFS over HTTPS (USER:PASSWORD)"),
  "backlog.hostKeys[]": pattern(
    new RegExp(`${HOST_KEY_TYPE_PATTERN.slice(0, -1)} [A-Za-z0-9+/]+={0,3}$`),
    `an SSH public key "TYPE BASE64" with TYPE one of ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa (no host name, no comment)`,
  ),
  "network.vpcId": pattern(/^vpc-(?:[0-9a-f]{8}|[0-9a-f]{17})$/, `a VPC id "vpc-" followed by 8 or 17 hex digits`),
  "network.subnetIds[]": pattern(/^subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})$/, `a subnet id "subnet-" followed by 8 or 17 hex digits`),
  "repositories[].projectKey": pattern(/^[A-Z][A-Z0-9_]{0,24}$/, "a Backlog project key: an upper-case letter, then upper-case letters, digits or _ (at most 25 characters)"),
  "repositories[].repository": pattern(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/, "a Backlog repository name: 1-100 letters, digits, _ . and -, not starting with . or -"),
  "repositories[].codecommitRepository": pattern(/^[A-Za-z0-9_.-]{1,100}$/, "a CodeCommit repository name: 1-100 letters, digits, _ . and -"),
  "build.timeoutMinutes": integer(5, 480),
  "build.queuedTimeoutMinutes": integer(5, 480),
  "build.computeType": oneOf(COMPUTE_TYPES, `one of ${COMPUTE_TYPES.join(", ")}`),
  "build.concurrentBuildLimit": integer(1, 100),
  // At most the number of repositories too: a check across fields (lib/validation.ts).
  "build.fleet.baseCapacity": integer(1, MAX_REPOSITORIES),
  "build.fleet.overflow": oneOf(FLEET_OVERFLOWS, quotedAlternatives(FLEET_OVERFLOWS)),
  "webhook.sourceIps[]": pattern(
    /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}\/([0-9]|[12][0-9]|3[0-2])$/,
    "an IPv4 CIDR block such as 203.0.113.0/24",
  ),
  "webhook.throttleRateLimit": integer(1, 10000),
  "webhook.throttleBurstLimit": integer(1, 5000),
  "webhook.wafRateLimitPer5Minutes": integer(100, 2_000_000_000),
  "resync.schedule": pattern(
    /^(rate\((1 (minute|hour|day)|([2-9]|[1-9][0-9]{1,4}) (minutes|hours|days))\)|cron\([0-9A-Za-z*?,/#L\- ]{11,100}\))$/,
    'an EventBridge schedule expression such as "rate(1 hour)", "rate(30 minutes)" or "cron(0 * * * ? *)"',
  ),
  "resync.outOfSyncAlarmHours": integer(MIN_OUT_OF_SYNC_ALARM_HOURS, MAX_OUT_OF_SYNC_ALARM_HOURS),
  "backups.retentionDays": integer(1, 3650),
  "alerts.emails[]": pattern(/^[^\s@"'`$\\]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$/, "an e-mail address"),
  // The characters a ref name may hold, and `*` (git check-ref-format forbids `..`, `//`, a trailing
  // `/` or `.lock`, and these characters cover the rest); no space: the sync splits lists on `,`.
  "sync.refs[]": pattern(
    /^refs\/(heads|tags)\/[A-Za-z0-9._*\/+#@=-]+$/,
    'a ref pattern under refs/heads/ or refs/tags/ such as "refs/heads/main", "refs/heads/release/*" or "refs/tags/v*" (letters, digits and . _ / + # @ = - and *, where * matches any characters; no "..", "//", trailing "/" or ".lock")',
    255,
    /\.\.|\/\/|\/$|\.lock$|@\{/,
  ),
} as const satisfies Record<string, Rule>;

export type RuleField = keyof typeof RULES;

/**
 * How many entries a list setting may hold (validation, the module's validation blocks and the
 * configuration reference read these).
 */
export const LIST_SIZES = {
  "network.subnetIds": { min: 2, max: 16 },
  /** The quota test (__tests__/quotas.test.ts) proves 200 repositories fit AWS's default quotas. */
  repositories: { min: 1, max: MAX_REPOSITORIES },
  "alerts.emails": { min: 0, max: 20 },
  /** Patterns per list of a ref selection: a build setting holds them all (one environment variable). */
  "sync.refs.include": { min: 1, max: 20 },
  "sync.refs.exclude": { min: 0, max: 20 },
  /** AWS allows 50 tags per resource; 10 are left for the stack's own. */
  tags: { min: 0, max: 40 },
} as const;

/** "must be ...": the text of a rule, the same in the configuration's errors and the module's. */
export function ruleText(rule: Rule): string {
  switch (rule.kind) {
    case "pattern":
    case "oneOf":
      return `must be ${rule.allowed}`;
    case "integer":
      return `must be a whole number from ${rule.min} to ${rule.max}`;
  }
}

/** Whether a value passes a rule (what the zod schema and the module's condition both test). */
export function passes(rule: Rule, value: unknown): boolean {
  switch (rule.kind) {
    case "pattern":
      return typeof value === "string" && rule.pattern.test(value) && value.length <= (rule.maxLength ?? Infinity) && !(rule.reserved?.test(value) ?? false);
    case "integer":
      return typeof value === "number" && Number.isInteger(value) && value >= rule.min && value <= rule.max;
    case "oneOf":
      return (rule.values as readonly unknown[]).includes(value);
  }
}

/** The rule as a Terraform condition on the expression `x` (RE2 `regex`, ranges, `contains`). */
export function hclCondition(rule: Rule, x: string): string {
  switch (rule.kind) {
    case "pattern": {
      const parts = [`can(regex(${JSON.stringify(rule.pattern.source)}, ${x}))`];
      if (rule.maxLength !== undefined) parts.push(`length(${x}) <= ${rule.maxLength}`);
      if (rule.reserved !== undefined) parts.push(`!can(regex(${JSON.stringify(re2(rule.reserved))}, ${x}))`);
      return parts.join(" && ");
    }
    case "integer":
      return `${x} >= ${rule.min} && ${x} <= ${rule.max} && floor(${x}) == ${x}`;
    case "oneOf":
      return `contains([${rule.values.map((v) => JSON.stringify(v)).join(", ")}], ${x})`;
  }
}

/** A JavaScript pattern as RE2 source: the `i` flag becomes `(?i)`; any other flag is refused. */
export function re2(re: RegExp): string {
  if (re.flags !== "" && re.flags !== "i") throw new Error(`internal: /${re.source}/${re.flags}: only the i flag has an RE2 form here`);
  return re.flags === "i" ? `(?i)${re.source}` : re.source;
}
