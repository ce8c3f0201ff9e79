/**
 * The largest configuration validation accepts fits AWS's default quotas.
 *
 * The configuration: 200 repositories in 200 Backlog projects, every name at the longest length
 * validation accepts (name 24, project key 25, repository and CodeCommit name 100, SSM parameter
 * names 1,011), 16 subnets, as many webhook source ranges as validation allows, and every option on
 * (customer-managed key, WAF, e-mail alerts, debug sessions, re-sync, project concurrency limit).
 * It is synthesized, the Terraform references are replaced with values of their real length (a
 * 12-digit account, the partition `aws-us-gov` with the 14-character region `ap-southeast-2` as an
 * upper bound of every real pair, full ARNs, a 10-character API id), and every policy is rendered
 * as the provider sends it (compact JSON; IAM does not count whitespace).
 *
 * The checks walk the synthesized JSON rather than naming resources, so policies, rules and
 * templates added later are covered without a change here: every role's inline policies (and trust
 * policy), every managed policy, every event pattern, every resource policy, the REST API's
 * resources and every mapping template.
 */
import { MAX_INLINE_HOST_KEYS_CHARS, validateStackConfig } from "../lib/validation";
import { maxSourceCidrs } from "../lib/webhook-protection";
import { exampleConfig, instances, synthStack, terraformLiteral, type Synth } from "../test/support/synth";
import { INLINE_BUILDSPEC_MAX_CHARS } from "../lib/buildspec";

const PARTITION = "aws-us-gov";
const REGION = "ap-southeast-2";
const ACCOUNT = "123456789012";
const API_ID = "a1b2c3d4e5";

/**
 * The largest accepted configuration; `ownVpc` switches `network` off (the VPC is created);
 * `inlineHostKeys` pins host keys in the configuration (as many characters as validation accepts)
 * instead of naming an SSM parameter.
 */
function largestConfig(ownVpc: boolean, inlineHostKeys = false): any {
  const config: any = exampleConfig();
  const n = 200;
  config.region = REGION;
  config.name = `m${"x".repeat(22)}9`; // 24 characters
  config.logRetentionDays = 3653;
  config.backlog = {
    spaceKey: `s${"p".repeat(61)}1`,
    domain: "backlog.com",
    sshKeyParameter: `/${"k".repeat(1010)}`,
    hostKeysParameter: `/${"h".repeat(1010)}`,
  };
  if (inlineHostKeys) {
    delete config.backlog.hostKeysParameter;
    // Three RSA-sized keys and one more, filling MAX_INLINE_HOST_KEYS_CHARS exactly with the newlines.
    const body = (n: number) => `ssh-rsa ${"A".repeat(n - 8)}`;
    const sizes = [724, 724, 400];
    config.backlog.hostKeys = [...sizes.map(body), body(MAX_INLINE_HOST_KEYS_CHARS - sizes.reduce((a, b) => a + b, 0) - sizes.length)];
  }
  if (ownVpc) delete config.network;
  else config.network = { vpcId: "vpc-0123456789abcdef0", subnetIds: Array.from({ length: 16 }, (_, i) => `subnet-${i.toString(16).padStart(17, "0")}`) };
  config.repositories = Array.from({ length: n }, (_, i) => ({
    projectKey: `P${String(i).padStart(24, "0")}`,
    repository: `r${String(i).padStart(99, "0")}`,
    codecommitRepository: `c${String(i).padStart(99, "0")}`,
  }));
  config.webhook = {
    allowedSourceIps: Array.from({ length: maxSourceCidrs() }, (_, i) => `100.${100 + (i % 150)}.${100 + Math.floor(i / 150)}.128/32`), // 18 characters each
    throttleRateLimit: 5000,
    throttleBurstLimit: 5000,
    wafRateLimitPer5Minutes: 2_000_000_000,
  };
  config.resync = { schedule: "cron(0/15 * * * ? *)", enabled: true };
  config.alerts = { emails: Array.from({ length: 20 }, (_, i) => `alerts-${i}@${"e".repeat(40)}.example.com`) };
  config.encryption = { customerManagedKey: true };
  config.build = { timeoutMinutes: 480, queuedTimeoutMinutes: 480, computeType: "BUILD_GENERAL1_LARGE", concurrentBuildLimit: 100, allowDebugSessions: true };
  config.tags = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`tag-${i}`, "v".repeat(256)]));
  return config;
}

/** A realistic value for a reference `${[data.]TYPE.NAME.ATTR}` of the synthesized stack. */
function realistic(synth: Synth, data: boolean, type: string, name: string, attr: string): string {
  const body: any = data ? (synth as any).data?.[type]?.[name] : synth.resource[type]?.[name];
  const literalName = typeof body?.name === "string" && !body.name.includes("${") ? body.name : undefined;
  if (data && type === "aws_partition" && attr === "partition") return PARTITION;
  if (data && type === "aws_region" && (attr === "name" || attr === "id")) return REGION;
  if (data && type === "aws_caller_identity" && attr === "account_id") return ACCOUNT;
  if (type === "aws_api_gateway_rest_api" && attr === "id") return API_ID;
  if (attr === "arn") {
    switch (type) {
      case "aws_s3_bucket":
        return `arn:${PARTITION}:s3:::${"b".repeat(63)}`;
      case "aws_kms_key":
        return `arn:${PARTITION}:kms:${REGION}:${ACCOUNT}:key/0123abcd-45ef-67ab-89cd-0123456789ab`;
      case "aws_iam_role":
        return `arn:${PARTITION}:iam::${ACCOUNT}:role/${literalName ?? "r".repeat(64)}`;
      case "aws_sns_topic":
        return `arn:${PARTITION}:sns:${REGION}:${ACCOUNT}:${literalName ?? "t".repeat(256)}`;
      default:
        return `arn:${PARTITION}:${type.replace(/^aws_/, "").split("_")[0]}:${REGION}:${ACCOUNT}:${literalName ?? "x".repeat(128)}`;
    }
  }
  if (attr === "name" && literalName !== undefined) return literalName;
  if (attr === "bucket") return "b".repeat(63);
  return "i".repeat(32); // ids of other resources (subnets, security groups, keys): longer than real ones
}

const REF = /\$\{(data\.)?([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z0-9_]+)\}/g;

/** The string with every plain reference replaced; anything else left as `${…}` fails the caller. */
function resolve(synth: Synth, s: string): string {
  return s.replace(REF, (_m, d: string | undefined, type: string, name: string, attr: string) => realistic(synth, d !== undefined, type, name, attr));
}

/** Renders a `data.aws_iam_policy_document` as the provider's policy JSON (compact). */
function renderDocument(synth: Synth, doc: any): string {
  const one = (xs: string[]) => (xs.length === 1 ? xs[0] : xs);
  const statements = (doc.statement ?? []).map((st: any) => {
    const out: Record<string, unknown> = {};
    if (st.sid !== undefined) out.Sid = st.sid;
    out.Effect = st.effect ?? "Allow";
    if (st.principals !== undefined) {
      out.Principal = Object.fromEntries(st.principals.map((p: any) => [p.type === "*" ? "AWS" : p.type, one(p.identifiers)]));
      if (st.principals.length === 1 && st.principals[0].type === "*") out.Principal = "*";
    }
    if (st.actions !== undefined) out.Action = one(st.actions);
    if (st.not_actions !== undefined) out.NotAction = one(st.not_actions);
    if (st.resources !== undefined) out.Resource = one(st.resources);
    if (st.condition !== undefined) {
      const condition: Record<string, Record<string, unknown>> = {};
      for (const c of st.condition) (condition[c.test] ??= {})[c.variable] = one(c.values);
      out.Condition = condition;
    }
    return out;
  });
  return resolve(synth, JSON.stringify({ Version: "2012-10-17", Statement: statements }));
}

/** The policy JSON a resource attribute holds: a document reference, or literal JSON. */
function policyText(synth: Synth, value: string): string {
  const m = /^\$\{data\.aws_iam_policy_document\.([A-Za-z0-9_-]+)\.json\}$/.exec(value);
  const text = m !== null ? renderDocument(synth, (synth as any).data.aws_iam_policy_document[m[1]]) : resolve(synth, value);
  if (text.includes("${")) throw new Error(`unresolved reference left in a policy: ${text.slice(text.indexOf("${"), text.indexOf("${") + 80)}`);
  return JSON.stringify(JSON.parse(text)); // compact, and it must be JSON
}

const byType = (synth: Synth, type: string): Array<[string, any]> => Object.entries(synth.resource[type] ?? {});

// Two syntheses cover the three extremes: the given network of 16 subnets with the host keys in SSM
// (the longest policies: every subnet ARN and both 1,011-character parameter ARNs), and the stack's
// own VPC with the longest pinned host keys (the most resources, and the longest safety-net buildspec;
// pinned keys change no policy and no resource count, the network no buildspec).
describe.each([
  ["given network of 16 subnets, host keys in SSM", false, false],
  [`VPC created by the stack, host keys pinned in the configuration (${MAX_INLINE_HOST_KEYS_CHARS} characters)`, true, true],
])("the largest accepted configuration (%s) within AWS's default quotas", (_label, ownVpc, inlineHostKeys) => {
  const config = largestConfig(ownVpc as boolean, inlineHostKeys as boolean);
  validateStackConfig(config); // accepted, or the test fails here
  const synth = synthStack(config);

  test("is the largest configuration: 200 repositories in 200 projects at the longest names", () => {
    expect(config.repositories).toHaveLength(200);
    expect(new Set(config.repositories.map((r: any) => r.projectKey)).size).toBe(200);
    expect(instances(synth, "aws_codebuild_project").filter((i) => !/_SafetyNet_/.test(i.address))).toHaveLength(200);
    const more = largestConfig(ownVpc as boolean, inlineHostKeys as boolean);
    more.repositories.push({ projectKey: "EXTRA", repository: "one-more" });
    expect(() => validateStackConfig(more)).toThrow("must list at most 200 repositories");
  });

  // IAM User Guide, "IAM and AWS STS quotas": "Role policy size: 10,240 characters" (the sum of a
  // role's inline policies; IAM does not count white space), "Managed policy size: 6,144
  // characters", "Role trust policy length: 2,048 characters" (default).
  test("every role's inline policies together hold at most 10,240 characters, its trust policy at most 2,048 (IAM and AWS STS quotas)", () => {
    const roles = byType(synth, "aws_iam_role");
    expect(roles.length).toBeGreaterThanOrEqual(2);
    const sums = new Map<string, number>();
    for (const [, p] of byType(synth, "aws_iam_role_policy")) {
      const role = String(p.role);
      sums.set(role, (sums.get(role) ?? 0) + policyText(synth, p.policy).length);
    }
    for (const [name, role] of roles) {
      for (const inline of role.inline_policy ?? []) {
        const key = `\${aws_iam_role.${name}.id}`;
        sums.set(key, (sums.get(key) ?? 0) + policyText(synth, inline.policy).length);
      }
      expect([name, policyText(synth, role.assume_role_policy).length <= 2048]).toEqual([name, true]);
    }
    expect(sums.size).toBeGreaterThanOrEqual(2);
    for (const [role, sum] of sums) expect([role, sum, sum <= 10240]).toEqual([role, sum, true]);
    // eslint-disable-next-line no-console
    console.log(`inline policies per role: ${[...sums].map(([role, sum]) => `${role.replace(/^\$\{aws_iam_role\.|_[0-9A-F]{8}\.id\}$/g, "")} ${sum}`).join(", ")}`);
  });

  test("every managed policy holds at most 6,144 characters (IAM and AWS STS quotas)", () => {
    for (const [name, p] of byType(synth, "aws_iam_policy")) {
      const length = policyText(synth, p.policy).length;
      expect([name, length, length <= 6144]).toEqual([name, length, true]);
    }
  });

  // Amazon EventBridge User Guide, "Amazon EventBridge quotas": "Event pattern size: 2048 characters"
  // (default), "Rules: 300 per event bus", "Targets per rule: 5".
  test("every event pattern holds at most 2,048 characters, the default bus at most 300 rules, a rule at most 5 targets (EventBridge quotas)", () => {
    const rules = byType(synth, "aws_cloudwatch_event_rule");
    expect(rules.length).toBeLessThanOrEqual(300);
    const patterns = rules.filter(([, r]) => r.event_pattern !== undefined);
    expect(patterns.length).toBeGreaterThanOrEqual(1);
    for (const [name, r] of patterns) {
      const length = JSON.stringify(JSON.parse(resolve(synth, r.event_pattern))).length;
      expect([name, length, length <= 2048]).toEqual([name, length, true]);
    }
    const perRule = new Map<string, number>();
    for (const [, t] of byType(synth, "aws_cloudwatch_event_target")) perRule.set(String(t.rule), (perRule.get(String(t.rule)) ?? 0) + 1);
    for (const [rule, count] of perRule) expect([rule, count <= 5]).toEqual([rule, true]);
  });

  // API Gateway Developer Guide, "Quotas for configuring and running a REST API in API Gateway":
  // "Length, in characters, of API Gateway resource policy: 8192", "Resources per API: 300",
  // "Mapping template size: 300 KB".
  test("the REST API resource policy holds at most 8,192 characters, in the expanded-ARN form API Gateway stores", () => {
    const policies = byType(synth, "aws_api_gateway_rest_api_policy");
    expect(policies).toHaveLength(1);
    const text = policyText(synth, policies[0][1].policy);
    expect(text).toContain(`"Resource":"arn:${PARTITION}:execute-api:${REGION}:${ACCOUNT}:${API_ID}/*"`);
    expect(text.length).toBeLessThanOrEqual(8192);
    expect(text.length).toBeGreaterThan(8192 - 21); // the bound is tight: one more range would not fit
  });

  test("the REST API has at most 300 resources (root included)", () => {
    const count = byType(synth, "aws_api_gateway_resource").length + 1;
    expect(count).toBeLessThanOrEqual(300);
    expect(count).toBe(3);
  });

  test("every mapping template holds at most 300 KB", () => {
    const templates: Array<[string, string]> = [];
    for (const type of ["aws_api_gateway_integration", "aws_api_gateway_integration_response", "aws_api_gateway_gateway_response"]) {
      for (const [name, r] of byType(synth, type)) {
        for (const t of Object.values<string>({ ...(r.request_templates ?? {}), ...(r.response_templates ?? {}) })) templates.push([name, t]);
      }
    }
    expect(templates.length).toBeGreaterThanOrEqual(4);
    for (const [name, t] of templates) {
      const bytes = Buffer.byteLength(t, "utf8");
      expect([name, bytes, bytes <= 300_000]).toEqual([name, bytes, true]);
    }
  });

  // CodeBuild refuses an inline buildspec over 25,600 characters ("Max buildspec length is 25600";
  // not in CodeBuild's documentation, met by aws-cdk: aws/aws-cdk#14974). The scripts are the
  // projects' S3 source (lib/build-scripts.ts), so the buildspecs hold settings and two lines of
  // shell. (The sync projects share one text: a repository's settings are its project's
  // environment variables.)
  test(`every CodeBuild project's inline buildspec holds at most ${INLINE_BUILDSPEC_MAX_CHARS} characters`, () => {
    const lengths = instances(synth, "aws_codebuild_project").map(({ address, body }) => {
      const text = terraformLiteral(resolve(synth, body.source.buildspec));
      return [address, text.length, text.length <= INLINE_BUILDSPEC_MAX_CHARS] as const;
    });
    expect(lengths).toHaveLength(201);
    for (const [name, length, within] of lengths) expect([name, length, within]).toEqual([name, length, true]);
    // eslint-disable-next-line no-console
    console.log(`longest buildspec: ${Math.max(...lengths.map(([, l]) => l))} characters`);
  });

  // Other resource policies: AWS KMS Developer Guide, "Quotas": "Key policy document size: 32 KB";
  // Amazon SNS, "Amazon SNS quotas" (topic policy: 30 KB); Amazon S3 User Guide, "Bucket policy
  // examples"/bucket policy size limit of 20 KB.
  test("the key, topic and bucket policies stay within their size limits (KMS 32 KB, SNS 30 KB, S3 20 KB)", () => {
    const limits: Array<[string, string, number]> = [
      ["aws_kms_key", "policy", 32_768],
      ["aws_sns_topic_policy", "policy", 30_720],
      ["aws_s3_bucket_policy", "policy", 20_480],
    ];
    for (const [type, attr, limit] of limits) {
      const all = byType(synth, type).filter(([, r]) => r[attr] !== undefined);
      expect([type, all.length > 0]).toEqual([type, true]);
      for (const [name, r] of all) {
        const length = Buffer.byteLength(policyText(synth, r[attr]), "utf8");
        expect([name, length, length <= limit]).toEqual([name, length, true]);
      }
    }
  });
});
