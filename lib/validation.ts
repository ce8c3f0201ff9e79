/**
 * Validation of the construct's props and of the stack's JSON configuration (zod schemas).
 *
 * Every value that ends up in a shell, an ARN, a resource name or a CloudWatch setting has a rule
 * here. A failure lists every bad field at once, each message naming the field, what is allowed and
 * what was given: `` `backlog.spaceKey` must be ..., got: "a b" ``.
 *
 * Values that are unresolved CDKTF tokens (ids of resources created elsewhere in the same app) are
 * accepted where a token makes sense (VPC and subnet ids) and refused where the value must be known
 * at synthesis time (anything rendered into the buildspec or a resource name).
 */
import { Token } from "cdktf";
import { z } from "zod";
import {
  buildLogGroupName,
  buildProjectName,
  codecommitRepositoryName,
  repositoryKey,
} from "./naming";
import { BACKLOG_DOMAINS, type BacklogCodeCommitMirrorProps } from "./props";
import { LIST_SIZES, RULES, type Rule, passes, ruleText } from "./rules";
import { BACKLOG_WEBHOOK_SOURCE_IPS } from "./backlog-ips";
import { ARM_CONTAINER_REGIONS_ALLOWED, ARM_CONTAINER_REGION_CODES } from "./regions";
import { INTEGRATION_RESPONSES } from "./webhook-api";
import { RESOURCE_POLICY_MAX_CHARS, maxSourceCidrs, worstCasePolicyLength } from "./webhook-protection";
import { MAPPING_TEMPLATE_MAX_BYTES, largestTemplateBytes } from "./webhook-routing";
import { DEFAULT_OUT_OF_SYNC_ALARM_HOURS, DEFAULT_RESYNC_SCHEDULE, MAX_OUT_OF_SYNC_ALARM_HOURS, MIN_OUT_OF_SYNC_ALARM_HOURS } from "./safety-net";

/** Thrown for an invalid configuration; `problems` holds one line per bad field. */
export class ConfigError extends Error {
  constructor(
    readonly problems: string[],
    source = "configuration",
  ) {
    super(`Invalid ${source}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

export { LOG_RETENTION_DAYS, quotedAlternatives } from "./rules";

/**
 * The largest number of repositories a stack accepts. Nothing in the design grows past an AWS quota
 * with it (no policy, pattern or API resource lists the repositories); 200 is the size the quota
 * test (__tests__/quotas.test.ts) proves to fit every default quota at the longest accepted names.
 */
export const MAX_REPOSITORIES = LIST_SIZES.repositories.max;

const REGION_RE = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$/;

/** A string field checked by its rule (lib/rules.ts); `token`: an unresolved CDKTF token passes. */
function pattern(field: keyof typeof RULES, opts: { token?: boolean } = {}) {
  const rule: Rule = RULES[field];
  const message = ruleText(rule);
  return z.string({ error: message }).refine((v) => (opts.token === true && Token.isUnresolved(v)) || passes(rule, v), message);
}

/** A field of the stack's configuration only (no module variable carries it, so no RE2 twin). */
function stackPattern(re: RegExp, allowed: string) {
  const message = `must be ${allowed}`;
  return z.string({ error: message }).refine((v) => re.test(v), message);
}

/** A whole-number field checked by its rule. */
function integer(field: keyof typeof RULES) {
  const rule: Rule = RULES[field];
  if (rule.kind !== "integer") throw new Error(`internal: ${field} is not a whole-number rule`);
  const message = ruleText(rule);
  return z.number({ error: message }).int(message).min(rule.min, message).max(rule.max, message);
}

type OneOfField = { [K in keyof typeof RULES]: (typeof RULES)[K] extends { kind: "oneOf" } ? K : never }[keyof typeof RULES];

/** A field whose value is one of a list (its rule's values). */
function oneOf<F extends OneOfField>(field: F) {
  const rule = RULES[field];
  const message = ruleText(rule);
  type V = (typeof RULES)[F]["values"][number];
  // Typed first, so that "30" for 30 gets the number-as-string hint (hintFor).
  const base = typeof rule.values[0] === "number" ? z.number({ error: message }) : z.string({ error: message });
  return (base as z.ZodType<unknown>).refine((v) => passes(rule, v), message) as unknown as z.ZodType<V>;
}


/**
 * Room for pinned host keys, which every build (the sync projects and the safety net) carries as its
 * environment variable BACKLOG_HOST_KEYS: enough for Backlog's RSA (4,096-bit), ECDSA and Ed25519
 * keys plus a second RSA key during a rotation. The quota test (__tests__/quotas.test.ts) renders the
 * largest configuration with keys of exactly this size.
 */
export const MAX_INLINE_HOST_KEYS_CHARS = 2_000;

const backlogSchema = z.strictObject(
  {
    spaceKey: pattern("backlog.spaceKey"),
    domain: oneOf("backlog.domain"),
    sshKeyParameter: pattern("backlog.sshKeyParameter"),
    hostKeys: z
      .array(pattern("backlog.hostKeys[]"), { error: "must be a list of SSH public keys" })
      .min(1, "must list at least one SSH public key")
      .refine((keys) => keys.join("\n").length <= MAX_INLINE_HOST_KEYS_CHARS, {
        error: (issue) =>
          `must hold at most ${MAX_INLINE_HOST_KEYS_CHARS} characters together, not ${(issue.input as string[]).join("\n").length} ` +
          `(they are an environment variable of every build project; ` +
          `put more keys, one per line, in an SSM parameter named by backlog.hostKeysParameter)`,
      })
      .optional(),
    hostKeysParameter: pattern("backlog.hostKeysParameter").optional(),
    scanHostKey: z.boolean({ error: "must be true or false" }).optional(),
  },
  { error: "must be an object" },
);

const networkSchema = z.strictObject(
  {
    vpcId: pattern("network.vpcId", { token: true }),
    subnetIds: z
      .array(pattern("network.subnetIds[]", { token: true }), { error: "must be a list of at least 2 private subnet ids" })
      .min(LIST_SIZES["network.subnetIds"].min, `must list at least ${LIST_SIZES["network.subnetIds"].min} private subnets (in different availability zones)`)
      .max(LIST_SIZES["network.subnetIds"].max, `must list at most ${LIST_SIZES["network.subnetIds"].max} subnets`),
  },
  { error: "must be an object" },
);

/** A list of ref patterns (`sync.refs`, `repositories[].refs`). */
function refPatterns(size: "sync.refs.include" | "sync.refs.exclude") {
  const { min, max } = LIST_SIZES[size];
  return z
    .array(pattern("sync.refs[]"), { error: "must be a list of ref patterns" })
    .min(min, `must list at least ${min} pattern`)
    .max(max, `must list at most ${max} patterns`);
}

const refsSchema = z.strictObject(
  {
    include: refPatterns("sync.refs.include")
      .refine((list) => list.some((p) => p.startsWith("refs/heads/")), "must include a pattern under refs/heads/ (Backlog's default branch must be mirrored)")
      .optional(),
    exclude: refPatterns("sync.refs.exclude")
      .refine((list) => !list.includes("refs/heads/*"), 'must not exclude every branch ("refs/heads/*"): Backlog\'s default branch must be mirrored')
      .optional(),
  },
  { error: "must be an object with include and/or exclude (lists of ref patterns)" },
);

const repositorySchema = z.strictObject(
  {
    projectKey: pattern("repositories[].projectKey"),
    repository: pattern("repositories[].repository").refine((v) => !/\.git$/i.test(v), 'must not end in ".git" (give the name without it)'),
    codecommitRepository: pattern("repositories[].codecommitRepository")
      .refine((v) => !/\.git$/i.test(v) && v !== "." && v !== "..", 'must not be "." or ".." or end in ".git"')
      .optional(),
    lfs: z.boolean({ error: "must be true or false" }).optional(),
    refs: refsSchema.optional(),
  },
  { error: "must be an object" },
);

const buildSchema = z.strictObject(
  {
    timeoutMinutes: integer("build.timeoutMinutes").optional(),
    queuedTimeoutMinutes: integer("build.queuedTimeoutMinutes").optional(),
    computeType: oneOf("build.computeType").optional(),
    concurrentBuildLimit: integer("build.concurrentBuildLimit").optional(),
    allowDebugSessions: z.boolean({ error: "must be true or false" }).optional(),
    fleet: z
      .strictObject(
        { baseCapacity: integer("build.fleet.baseCapacity"), overflow: oneOf("build.fleet.overflow").optional() },
        { error: "must be an object with baseCapacity (and optionally overflow)" },
      )
      .optional(),
  },
  { error: "must be an object" },
);

const cidrList = z
  .array(pattern("webhook.sourceIps[]"), { error: "must be a list of IPv4 CIDR blocks" })
  .max(maxSourceCidrs(), `must list at most ${maxSourceCidrs()} address ranges (REST API resource policy quota)`);

const webhookSchema = z.strictObject(
  {
    allowedSourceIps: cidrList.min(1, "must list at least one address range (use allowAnySource to open the API)").optional(),
    additionalSourceIps: cidrList.optional(),
    allowAnySource: z.boolean({ error: "must be true or false" }).optional(),
    throttleRateLimit: integer("webhook.throttleRateLimit").optional(),
    throttleBurstLimit: integer("webhook.throttleBurstLimit").optional(),
    wafRateLimitPer5Minutes: integer("webhook.wafRateLimitPer5Minutes").optional(),
  },
  { error: "must be an object" },
);

const resyncSchema = z.strictObject(
  {
    schedule: pattern("resync.schedule").optional(),
    enabled: z.boolean({ error: "must be true or false" }).optional(),
    outOfSyncAlarmHours: integer("resync.outOfSyncAlarmHours").optional(),
  },
  { error: "must be an object" },
);

const syncSchema = z.strictObject(
  { allowEmptySource: z.boolean({ error: "must be true or false" }).optional(), refs: refsSchema.optional() },
  { error: "must be an object" },
);

const lfsSchema = z.strictObject(
  { credentialsParameter: pattern("lfs.credentialsParameter") },
  { error: "must be an object with credentialsParameter" },
);

const backupsSchema = z.strictObject(
  { retentionDays: integer("backups.retentionDays").optional() },
  { error: "must be an object" },
);

/** Seconds between two runs of a `rate(...)` schedule; undefined for `cron(...)`. */
export function scheduleIntervalSeconds(schedule: string): number | undefined {
  const m = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(schedule);
  if (m === null) return undefined;
  return Number(m[1]) * { minute: 60, hour: 3600, day: 86400 }[m[2] as "minute" | "hour" | "day"];
}

const alertsSchema = z.strictObject(
  {
    emails: z
      .array(pattern("alerts.emails[]"), { error: "must be a list of e-mail addresses" })
      .max(LIST_SIZES["alerts.emails"].max, `must list at most ${LIST_SIZES["alerts.emails"].max} addresses`)
      .optional(),
  },
  { error: "must be an object" },
);

const encryptionSchema = z.strictObject(
  { customerManagedKey: z.boolean({ error: "must be true or false" }).optional() },
  { error: "must be an object" },
);

/** Fields shared by the construct props and the stack configuration. */
const mirrorShape = {
  name: pattern("name").refine(
    (v) => !v.includes("-mirror-"),
    // NAME-mirror-* scopes IAM and the failure alert: a name containing "-mirror-" would let the
    // prefix of a stack named by its start cover this stack's projects ("a" covers "a-mirror-b").
    // (A name ending in "-mirror", such as the example's "backlog-mirror", stays allowed: refusing it
    // would rename existing stacks. Its projects "backlog-mirror-mirror-*" are covered by a stack
    // named "backlog" in the same account and region; do not deploy both.)
    'must not contain "-mirror-" (the sync projects are named NAME-mirror-..., and IAM grants are scoped by that prefix)',
  ),
  logRetentionDays: oneOf("logRetentionDays").optional(),
  backlog: backlogSchema,
  network: networkSchema.optional(),
  webhook: webhookSchema.optional(),
  resync: resyncSchema.optional(),
  sync: syncSchema.optional(),
  lfs: lfsSchema.optional(),
  backups: backupsSchema.optional(),
  alerts: alertsSchema.optional(),
  encryption: encryptionSchema.optional(),
  repositories: z
    .array(repositorySchema, { error: "must be a list of repositories" })
    .min(1, "must list at least one repository")
    .max(MAX_REPOSITORIES, `must list at most ${MAX_REPOSITORIES} repositories (API Gateway resource quota)`),
  build: buildSchema.optional(),
};

type Ctx = z.core.$RefinementCtx<unknown>;

/** Rules across fields: host-key source, duplicates before and after name derivation. */
function crossFieldRules(v: BacklogCodeCommitMirrorProps, ctx: Ctx): void {
  const sources = [
    v.backlog.hostKeys !== undefined && "hostKeys",
    v.backlog.hostKeysParameter !== undefined && "hostKeysParameter",
    v.backlog.scanHostKey === true && "scanHostKey",
  ].filter(Boolean);
  if (sources.length !== 1) {
    ctx.addIssue({
      code: "custom",
      path: ["backlog"],
      message:
        "must name exactly one source of the Backlog host key: hostKeys (pinned keys), hostKeysParameter (pinned keys in SSM) or scanHostKey: true (trust on every build, not recommended)" +
        `, got: ${sources.length === 0 ? "none" : sources.join(", ")}`,
      params: { complete: true },
    });
  }

  const w = v.webhook;
  if (w?.allowAnySource === true && (w.allowedSourceIps !== undefined || w.additionalSourceIps !== undefined)) {
    ctx.addIssue({
      code: "custom",
      path: ["webhook", "allowAnySource"],
      message: "must not be true while allowedSourceIps or additionalSourceIps is set (an open API ignores them); remove one",
    });
  }
  if (w?.throttleRateLimit !== undefined && w.throttleBurstLimit !== undefined && w.throttleBurstLimit < w.throttleRateLimit) {
    ctx.addIssue({
      code: "custom",
      path: ["webhook", "throttleBurstLimit"],
      message: `must be at least throttleRateLimit (${w.throttleRateLimit})`,
    });
  }

  // The REST API resource policy lists every allowed range: bound it by the policy quota.
  if (w?.allowAnySource !== true) {
    const ranges = (w?.allowedSourceIps ?? BACKLOG_WEBHOOK_SOURCE_IPS).length + (w?.additionalSourceIps ?? []).length;
    if (ranges > maxSourceCidrs()) {
      ctx.addIssue({
        code: "custom",
        path: ["webhook"],
        message:
          `must allow at most ${maxSourceCidrs()} source address ranges in all (allowedSourceIps, or Backlog's ${BACKLOG_WEBHOOK_SOURCE_IPS.length} default ranges, plus additionalSourceIps), got ${ranges}: ` +
          `the REST API resource policy would need up to ${worstCasePolicyLength(ranges)} characters, over API Gateway's quota "Length, in characters, of API Gateway resource policy" (${RESOURCE_POLICY_MAX_CHARS}); merge ranges, or raise the quota and keep fewer ranges here`,
        params: { complete: true },
      });
    }
  }

  // The out-of-sync alarm counts an hour without a verifier run as breaching (lib/safety-net.ts):
  // a schedule slower than half the alarm's hours would raise it although every mirror is current.
  const resync = v.resync;
  const alarmHours = resync?.outOfSyncAlarmHours ?? DEFAULT_OUT_OF_SYNC_ALARM_HOURS;
  const interval = scheduleIntervalSeconds(resync?.schedule ?? DEFAULT_RESYNC_SCHEDULE);
  const hoursValid = Number.isInteger(alarmHours) && alarmHours >= MIN_OUT_OF_SYNC_ALARM_HOURS && alarmHours <= MAX_OUT_OF_SYNC_ALARM_HOURS;
  if (resync?.enabled !== false && hoursValid && interval !== undefined && interval * 2 > alarmHours * 3600) {
    ctx.addIssue({
      code: "custom",
      path: ["resync", "outOfSyncAlarmHours"],
      message: `must be at least twice the schedule's interval (${interval / 3600} hours for ${JSON.stringify(resync?.schedule ?? DEFAULT_RESYNC_SCHEDULE)}), got: ${alarmHours}`,
      params: { complete: true },
    });
  }

  // Each fleet instance runs one build, and each repository's syncs serialise on its mirror's lock.
  const capacity = v.build?.fleet?.baseCapacity;
  if (passes(RULES["build.fleet.baseCapacity"], capacity) && (capacity as number) > v.repositories.length) {
    ctx.addIssue({
      code: "custom",
      path: ["build", "fleet", "baseCapacity"],
      message: `must be a whole number from 1 to the number of repositories (${v.repositories.length}), got: ${capacity}`,
      params: { complete: true },
    });
  }

  const subnetSeen = new Set<string>();
  (v.network?.subnetIds ?? []).forEach((s, i) => {
    if (subnetSeen.has(s)) {
      ctx.addIssue({ code: "custom", path: ["network", "subnetIds", i], message: "must not repeat a subnet id" });
    }
    subnetSeen.add(s);
  });

  // Duplicates, reported once per repository: the Backlog coordinates first, then the names derived
  // from them (a CodeCommit name defaults to the Backlog name; a CodeBuild name turns "." into "_").
  const firstIndex = (label: string) => {
    const seen = new Map<string, number>();
    return (value: string, index: number): string | undefined => {
      const first = seen.get(value.toLowerCase());
      if (first === undefined) {
        seen.set(value.toLowerCase(), index);
        return undefined;
      }
      return `must be unique, but ${label} "${value}" is also used by repositories[${first}]`;
    };
  };
  const backlogDup = firstIndex("the Backlog repository");
  const codecommitDup = firstIndex("the CodeCommit repository name");
  const projectDup = firstIndex("the CodeBuild project name");
  v.repositories.forEach((r, i) => {
    const project = buildProjectName(v.name, r);
    const dupBacklog = backlogDup(repositoryKey(r), i);
    const dupCodecommit = codecommitDup(codecommitRepositoryName(r), i);
    const dupProject = projectDup(project, i);
    if (dupBacklog !== undefined) {
      ctx.addIssue({ code: "custom", path: ["repositories", i, "repository"], message: dupBacklog });
    } else if (dupCodecommit !== undefined || dupProject !== undefined) {
      const given = r.codecommitRepository === undefined ? `nothing (defaults to "${r.repository}")` : JSON.stringify(r.codecommitRepository);
      ctx.addIssue({
        code: "custom",
        path: ["repositories", i, "codecommitRepository"],
        message: `${dupCodecommit ?? dupProject}; set codecommitRepository to tell them apart, got: ${given}`,
        params: { complete: true },
      });
    }
    if (r.lfs === true && v.lfs === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["repositories", i, "lfs"],
        message: "must not be true while the stack has no `lfs` setting (set lfs.credentialsParameter to mirror LFS objects, or remove repositories[].lfs), got: true",
        params: { complete: true },
      });
    }
    if (buildLogGroupName(project).length > 512) {
      ctx.addIssue({ code: "custom", path: ["repositories", i], message: "gives a log group name over 512 characters" });
    }
  });

  // The webhook's mapping templates hold the table of every repository (lib/webhook-routing.ts).
  const refused = INTEGRATION_RESPONSES.find((r) => r.statusCode === "502")!.template;
  let templateBytes = 0;
  try {
    templateBytes = largestTemplateBytes(
      v.repositories.map((r) => ({ key: repositoryKey(r), projectName: buildProjectName(v.name, r) })),
      refused,
    );
  } catch {
    // a name the field rules refuse (reported there) cannot be put in a template
  }
  if (templateBytes > MAPPING_TEMPLATE_MAX_BYTES) {
    ctx.addIssue({
      code: "custom",
      path: ["repositories"],
      message: `give a webhook mapping template of ${templateBytes} bytes, over API Gateway's quota "Mapping template size" (${MAPPING_TEMPLATE_MAX_BYTES} bytes); mirror fewer repositories in this stack`,
      params: { complete: true },
    });
  }
}

/** Schema of {@link BacklogCodeCommitMirrorProps}. */
export const mirrorPropsSchema = z
  .strictObject(mirrorShape, { error: "must be an object" })
  .superRefine((v, ctx) => crossFieldRules(v as BacklogCodeCommitMirrorProps, ctx));

const tagKeyRe = /^(?!aws:)[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;
const tagValueRe = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;

/** Schema of the stack's JSON configuration: the construct's fields plus region, state and tags. */
export const stackConfigSchema = z
  .strictObject(
    {
      // The stack's region: one where its ARM builds can run (lib/regions.ts). The state bucket's
      // region below may be any.
      region: z
        .string({ error: `must be ${ARM_CONTAINER_REGIONS_ALLOWED}` })
        .refine((v) => ARM_CONTAINER_REGION_CODES.includes(v), `must be ${ARM_CONTAINER_REGIONS_ALLOWED}`),
      ...mirrorShape,
      state: z.strictObject(
        {
          bucket: stackPattern(
            /^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
            "an S3 bucket name: 3-63 lower-case letters, digits, . and -, starting and ending with a letter or digit",
          ),
          key: stackPattern(
            /^[A-Za-z0-9!_.*'()\-][A-Za-z0-9!_.*'()\-/]{0,1023}$/,
            "an S3 object key: 1-1024 letters, digits and !_.*'()-/, not starting with /",
          ),
          region: stackPattern(REGION_RE, 'an AWS region code such as "ap-northeast-1"'),
        },
        { error: "must be an object with bucket, key and region" },
      ),
      tags: z
        .record(
          z.string().regex(tagKeyRe, "must be a tag key of 1-128 letters, digits, spaces and _.:/=+-@, not starting with aws:"),
          z.string({ error: "must be a string" }).regex(tagValueRe, "must be a tag value of at most 256 letters, digits, spaces and _.:/=+-@"),
          { error: "must be an object of tag names to string values" },
        )
        .refine((t) => Object.keys(t).length <= LIST_SIZES.tags.max, `must have at most ${LIST_SIZES.tags.max} tags (AWS allows 50 per resource, leave room)`)
        .optional(),
    },
    { error: "must be an object" },
  )
  .superRefine((v, ctx) => crossFieldRules(v as unknown as BacklogCodeCommitMirrorProps, ctx));

export type StackConfig = z.infer<typeof stackConfigSchema>;

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let cur: unknown = input;
  for (const p of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur;
}

function formatPath(path: PropertyKey[]): string {
  return path.reduce<string>(
    (acc, p) => (typeof p === "number" ? `${acc}[${p}]` : acc === "" ? String(p) : `${acc}.${String(p)}`),
    "",
  );
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  const json = JSON.stringify(value);
  return json.length > 120 ? `${json.slice(0, 117)}...` : json;
}

/** The keys an object schema allows at `path` (for "unknown key" messages). */
function allowedKeys(schema: z.ZodType, path: PropertyKey[]): string[] {
  const unwrap = (t: any): any => (t?.def?.type === "optional" ? unwrap(t.def.innerType) : t);
  let node: any = unwrap(schema);
  for (const p of path) {
    node = unwrap(typeof p === "number" ? node?.def?.element : node?.shape?.[p]);
  }
  return Object.keys(node?.shape ?? {});
}

/** A Backlog URL, SSH address or host name on one of {@link BACKLOG_DOMAINS}: group 1 the space, 2 the domain. */
const BACKLOG_ADDRESS_RE = new RegExp(
  `^(?:https?://)?(?:[^@/]+@)?([0-9A-Za-z-]+)\\.(?:git\\.)?(${BACKLOG_DOMAINS.map((d) => d.replace(/\./g, "\\.")).join("|")})(?:[:/].*)?$`,
  "i",
);

/**
 * A hint for two common slips, appended to the message: a number written as a string
 * (`"logRetentionDays": "30"`), and a Backlog URL or host name given where the space key belongs.
 */
function givenHint(issue: z.core.$ZodIssue, given: unknown): string {
  if (issue.code === "invalid_type" && issue.expected === "number" && typeof given === "string" && given.trim() !== "" && Number.isFinite(Number(given))) {
    return ` (a number, not a string: write ${given.trim()} without quotes)`;
  }
  if (issue.path[issue.path.length - 1] === "spaceKey" && typeof given === "string") {
    const url = BACKLOG_ADDRESS_RE.exec(given.trim());
    if (url !== null) {
      return ` (that is a Backlog address: the space key is the first part of its host name, "${url[1]}", and \`backlog.domain\` is "${url[2].toLowerCase()}")`;
    }
  }
  return "";
}

/** Turns zod issues into `` `field` message, got: value `` lines. */
export function formatIssues(schema: z.ZodType, input: unknown, issues: z.core.$ZodIssue[]): string[] {
  const lines = new Set<string>();
  for (const issue of issues) {
    const field = formatPath(issue.path);
    if (issue.code === "unrecognized_keys") {
      const where = field === "" ? "the configuration" : `\`${field}\``;
      lines.add(
        `${where} has unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(", ")}; allowed: ${allowedKeys(schema, issue.path).join(", ")}`,
      );
      continue;
    }
    if (issue.code === "invalid_key") {
      const key = issue.path[issue.path.length - 1];
      lines.add(
        `\`${formatPath(issue.path.slice(0, -1))}\` key ${JSON.stringify(key)} ${issue.issues.map((i) => i.message).join("; ")}`,
      );
      continue;
    }
    const complete = issue.code === "custom" && (issue.params as { complete?: boolean } | undefined)?.complete === true;
    const given = valueAt(input, issue.path);
    const shown = complete ? "" : `, got: ${describe(given)}${givenHint(issue, given)}`;
    lines.add(`\`${field || "configuration"}\` ${issue.message}${shown}`);
  }
  return [...lines];
}

function check<T>(schema: z.ZodType<T>, input: unknown, source: string): T {
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(formatIssues(schema, input, result.error.issues), source);
  }
  return result.data;
}

/** Validates construct props; throws {@link ConfigError}. */
export function validateMirrorProps(props: BacklogCodeCommitMirrorProps): BacklogCodeCommitMirrorProps {
  check(mirrorPropsSchema, props, "BacklogCodeCommitMirror props");
  return props;
}

/** Validates a parsed JSON configuration; throws {@link ConfigError}. */
export function validateStackConfig(input: unknown, source = "configuration"): StackConfig {
  return check(stackConfigSchema, input, source);
}
