/**
 * Who may call the webhook, and how often: the REST API resource policy (Backlog's sender addresses
 * by default), stage throttling, and an optional WAFv2 web ACL with a rate-based rule.
 */
import { ApiGatewayMethodSettings } from "@cdktf/provider-aws/lib/api-gateway-method-settings";
import { Wafv2WebAcl } from "@cdktf/provider-aws/lib/wafv2-web-acl";
import { Wafv2WebAclAssociation } from "@cdktf/provider-aws/lib/wafv2-web-acl-association";
import { Construct } from "constructs";

/** Default stage throttling: far above a busy Backlog space, far below a flood. */
export const DEFAULT_THROTTLE = { rateLimit: 10, burstLimit: 40 } as const;

/**
 * The resource policy that lets only `sourceIps` invoke the API: an allow for everyone, and a deny
 * for every address outside the list (API Gateway evaluates an explicit deny first).
 */
export function sourceIpPolicy(sourceIps: readonly string[]): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      { Sid: "AllowInvoke", Effect: "Allow", Principal: "*", Action: "execute-api:Invoke", Resource: "execute-api:/*" },
      {
        Sid: "DenyOtherSources",
        Effect: "Deny",
        Principal: "*",
        Action: "execute-api:Invoke",
        Resource: "execute-api:/*",
        Condition: { NotIpAddress: { "aws:SourceIp": [...sourceIps] } },
      },
    ],
  });
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

    if (props.wafRateLimitPer5Minutes !== undefined) {
      const metric = `${props.name}-webhook`;
      this.webAcl = new Wafv2WebAcl(this, "WebAcl", {
        name: `${props.name}-webhook`,
        description: "Rate limit per source address for the Backlog webhook",
        scope: "REGIONAL",
        defaultAction: { allow: {} },
        visibilityConfig: { cloudwatchMetricsEnabled: true, metricName: metric, sampledRequestsEnabled: true },
        // The typed binding of provider 5.x has no `statement` block; the rule is given as JSON.
        ruleJson: JSON.stringify([
          {
            Name: "rate-limit-per-source",
            Priority: 0,
            Action: { Block: {} },
            Statement: { RateBasedStatement: { Limit: props.wafRateLimitPer5Minutes, AggregateKeyType: "IP" } },
            VisibilityConfig: {
              CloudWatchMetricsEnabled: true,
              MetricName: `${metric}-rate-limit`,
              SampledRequestsEnabled: true,
            },
          },
        ]),
      });
      new Wafv2WebAclAssociation(this, "WebAclAssociation", {
        resourceArn: props.stageArn,
        webAclArn: this.webAcl.arn,
      });
    }
  }
}
