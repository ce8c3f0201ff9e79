/**
 * Who may call the webhook, and how often: the REST API resource policy (Backlog's sender addresses
 * by default), stage throttling, and an optional WAFv2 web ACL with a rate-based rule.
 */
import { ApiGatewayMethodSettings } from "@cdktf/provider-aws/lib/api-gateway-method-settings";
import { Wafv2WebAcl } from "@cdktf/provider-aws/lib/wafv2-web-acl";
import { Wafv2WebAclAssociation } from "@cdktf/provider-aws/lib/wafv2-web-acl-association";
import { Fn, Token } from "cdktf";
import { Construct } from "constructs";
import { type Switch, countOf, declared, optionalAttribute } from "./terraform-values";

/** Default stage throttling: far above a busy Backlog space, far below a flood. */
export const DEFAULT_THROTTLE = { rateLimit: 10, burstLimit: 40 } as const;

/** Where the API lives: the parts of its execute-api ARN. */
export interface SourceIpPolicyContext {
  readonly partition: string;
  readonly region: string;
  readonly accountId: string;
  readonly apiId: string;
}

/**
 * `arn:PARTITION:execute-api:REGION:ACCOUNT:API_ID/*`: every method of every stage of the API. The
 * short form `execute-api:/*` is accepted on input, but API Gateway stores and returns the expanded
 * ARN, which the provider does not treat as equal (every real plan would show a change); so the
 * policy is written in the stored form.
 */
export function executeApiArn(ctx: SourceIpPolicyContext): string {
  return `arn:${ctx.partition}:execute-api:${ctx.region}:${ctx.accountId}:${ctx.apiId}/*`;
}

/**
 * The resource policy that lets only `sourceIps` invoke the API: an allow for everyone, and a deny
 * for every address outside the list (API Gateway evaluates an explicit deny first). Written as
 * compact JSON: its length counts against the 8,192 characters a REST API resource policy may have
 * ("Length, in characters, of API Gateway resource policy", API Gateway Developer Guide, "Quotas for
 * configuring and running a REST API in API Gateway"); validation bounds the number of ranges by
 * {@link maxSourceCidrs}.
 */
export function sourceIpPolicy(sourceIps: readonly string[], ctx: SourceIpPolicyContext): string {
  return JSON.stringify(sourceIpPolicyDocument(sourceIps, ctx));
}

/** The document of {@link sourceIpPolicy}. */
export function sourceIpPolicyDocument(sourceIps: readonly string[], ctx: SourceIpPolicyContext): Record<string, unknown> {
  const resource = executeApiArn(ctx);
  return {
    Version: "2012-10-17",
    Statement: [
      { Sid: "AllowInvoke", Effect: "Allow", Principal: "*", Action: "execute-api:Invoke", Resource: resource },
      {
        Sid: "DenyOtherSources",
        Effect: "Deny",
        Principal: "*",
        Action: "execute-api:Invoke",
        Resource: resource,
        Condition: { NotIpAddress: { "aws:SourceIp": Token.isUnresolved(sourceIps) ? sourceIps : [...sourceIps] } },
      },
    ],
  };
}

/** The REST API resource policy quota, in characters. */
export const RESOURCE_POLICY_MAX_CHARS = 8192;

/**
 * The longest realistic API context: GovCloud's partition name with the longest region code in use
 * (14 characters, e.g. ap-southeast-2), a 12-digit account and a 10-character API id. Used to bound
 * the CIDR list so that the policy fits in every region.
 */
export const LONGEST_POLICY_CONTEXT: SourceIpPolicyContext = {
  partition: "aws-us-gov",
  region: "ap-southeast-2",
  accountId: "123456789012",
  apiId: "abcde12345",
};

/** The longest IPv4 CIDR block. */
const LONGEST_CIDR = "255.255.255.255/32";

/** Characters of the policy with `n` CIDR blocks of the longest form, in the longest context. */
export function worstCasePolicyLength(n: number): number {
  return sourceIpPolicy(Array.from({ length: n }, () => LONGEST_CIDR), LONGEST_POLICY_CONTEXT).length;
}

/** How many source address ranges the resource policy can hold within its quota, in every region. */
export function maxSourceCidrs(): number {
  const fixed = worstCasePolicyLength(0);
  const perCidr = worstCasePolicyLength(1) + 1 - fixed; // `"…",` per entry after the first
  return Math.floor((RESOURCE_POLICY_MAX_CHARS - fixed + 1) / perCidr);
}

/** Props of {@link WebhookProtection}. */
export interface WebhookProtectionProps {
  readonly name: string;
  readonly restApiId: string;
  readonly stageName: string;
  readonly stageArn: string;
  readonly throttleRateLimit: number;
  readonly throttleBurstLimit: number;
  /** @default - no web ACL */
  readonly wafRateLimitPer5Minutes?: number;
  /**
   * Whether the web ACL exists.
   * @default - when wafRateLimitPer5Minutes is given
   */
  readonly waf?: Switch;
}

/** Stage throttling and the optional web ACL. */
export class WebhookProtection extends Construct {
  public readonly webAcl?: Wafv2WebAcl;

  constructor(scope: Construct, id: string, props: WebhookProtectionProps) {
    super(scope, id);
    new ApiGatewayMethodSettings(this, "Throttling", {
      restApiId: props.restApiId,
      stageName: props.stageName,
      methodPath: "*/*",
      settings: {
        throttlingRateLimit: props.throttleRateLimit,
        throttlingBurstLimit: props.throttleBurstLimit,
        metricsEnabled: true,
      },
    });

    const waf = props.waf ?? props.wafRateLimitPer5Minutes !== undefined;
    if (declared(waf)) {
      const count = countOf(waf);
      const metric = `${props.name}-webhook`;
      const limit = props.wafRateLimitPer5Minutes ?? 0;
      const rules = [
        {
          Name: "rate-limit-per-source",
          Priority: 0,
          Action: { Block: {} },
          Statement: { RateBasedStatement: { Limit: limit, AggregateKeyType: "IP" } },
          VisibilityConfig: {
            CloudWatchMetricsEnabled: true,
            MetricName: `${metric}-rate-limit`,
            SampledRequestsEnabled: true,
          },
        },
      ];
      this.webAcl = new Wafv2WebAcl(this, "WebAcl", {
        count,
        name: `${props.name}-webhook`,
        description: "Rate limit per source address for the Backlog webhook",
        scope: "REGIONAL",
        defaultAction: { allow: {} },
        visibilityConfig: { cloudwatchMetricsEnabled: true, metricName: metric, sampledRequestsEnabled: true },
        // The typed binding of provider 5.x has no `statement` block; the rule is given as JSON.
        // A limit known at apply only (the module): Terraform encodes the same rules.
        ruleJson: Token.isUnresolved(limit) ? Fn.jsonencode(rules) : JSON.stringify(rules),
      });
      new Wafv2WebAclAssociation(this, "WebAclAssociation", {
        count,
        resourceArn: props.stageArn,
        webAclArn: optionalAttribute(this.webAcl, "arn"),
      });
    }
  }
}
