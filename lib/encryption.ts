/**
 * Optional customer-managed KMS key for the mirror's data at rest: build log groups, EFS, the cache
 * bucket and the alert topic. SSM SecureStrings encrypted with it can be read by the builds.
 */
import { DataAwsIamPolicyDocument } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { KmsAlias } from "@cdktf/provider-aws/lib/kms-alias";
import { KmsKey } from "@cdktf/provider-aws/lib/kms-key";
import { Construct } from "constructs";
import { type ArnContext, arn } from "./iam";

/** Props of {@link MirrorKey}. */
export interface MirrorKeyProps {
  readonly name: string;
  readonly arnContext: ArnContext;
  /** Log groups (names) that may use the key; a trailing `*` is allowed. */
  readonly logGroupPattern: string;
}

/** A rotating symmetric key with a policy for CloudWatch Logs, EventBridge and CloudWatch alarms. */
export class MirrorKey extends Construct {
  public readonly key: KmsKey;
  public readonly alias: KmsAlias;

  constructor(scope: Construct, id: string, props: MirrorKeyProps) {
    super(scope, id);
    const ctx = props.arnContext;
    const policy = new DataAwsIamPolicyDocument(this, "Policy", {
      statement: [
        {
          sid: "AccountAdministers",
          effect: "Allow",
          principals: [{ type: "AWS", identifiers: [`arn:${ctx.partition}:iam::${ctx.accountId}:root`] }],
          actions: ["kms:*"],
          resources: ["*"], // in a key policy, "*" is this key
        },
        {
          sid: "BuildLogGroups",
          effect: "Allow",
          principals: [{ type: "Service", identifiers: [`logs.${ctx.region}.amazonaws.com`] }],
          actions: ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
          resources: ["*"],
          condition: [
            {
              test: "ArnLike",
              variable: "kms:EncryptionContext:aws:logs:arn",
              values: [arn(ctx, "logs", `log-group:${props.logGroupPattern}`)],
            },
          ],
        },
        {
          sid: "AlertPublishers",
          effect: "Allow",
          principals: [{ type: "Service", identifiers: ["events.amazonaws.com", "cloudwatch.amazonaws.com"] }],
          actions: ["kms:Decrypt", "kms:GenerateDataKey*"],
          resources: ["*"],
          condition: [{ test: "StringEquals", variable: "aws:SourceAccount", values: [ctx.accountId] }],
        },
      ],
    });
    this.key = new KmsKey(this, "Key", {
      description: `Backlog mirror ${props.name}: logs, EFS, build cache, alerts`,
      enableKeyRotation: true,
      deletionWindowInDays: 30,
      policy: policy.json,
    });
    this.alias = new KmsAlias(this, "Alias", { name: `alias/${props.name}-mirror`, targetKeyId: this.key.keyId });
  }
}
