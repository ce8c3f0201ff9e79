/**
 * Optional customer-managed KMS key for the mirror's data at rest: build log groups, EFS, the cache
 * bucket and the alert topic. SSM SecureStrings encrypted with it can be read by the builds.
 */
import { DataAwsIamPolicyDocument } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { KmsAlias } from "@cdktf/provider-aws/lib/kms-alias";
import { KmsKey } from "@cdktf/provider-aws/lib/kms-key";
import { Construct } from "constructs";
import { type ArnContext, arn } from "./iam";
import { alertsTopicName, buildLogGroupName, buildProjectPrefix, verifyProjectName } from "./naming";

/** Props of {@link MirrorKey}. */
export interface MirrorKeyProps {
  readonly name: string;
  readonly arnContext: ArnContext;
}

/**
 * The log groups CloudWatch Logs may encrypt with the key: every sync project's
 * (`/aws/codebuild/NAME-mirror-*`) and the safety net's (`/aws/codebuild/NAME-verify`), both created
 * with the key (lib/mirror-build.ts `projectLogGroup`). A log group left out cannot be created: Logs
 * answers `AccessDeniedException: The specified KMS key does not exist or is not allowed to be used
 * with Arn ...` (terraform-provider-aws #29282).
 */
export function keyLogGroupNames(name: string): string[] {
  return [buildLogGroupName(`${buildProjectPrefix(name)}*`), buildLogGroupName(verifyProjectName(name))];
}

/**
 * A rotating symmetric key with a policy for CloudWatch Logs and CloudWatch alarms. The alert state
 * machine's role uses it through its own IAM policy (lib/alerts.ts), which the key policy's
 * account statement allows (AWS KMS Developer Guide, "Default key policy").
 */
export class MirrorKey extends Construct {
  public readonly key: KmsKey;
  public readonly alias: KmsAlias;

  constructor(scope: Construct, id: string, props: MirrorKeyProps) {
    super(scope, id);
    const ctx = props.arnContext;
    const alertsTopicArn = arn(ctx, "sns", alertsTopicName(props.name));
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
          // CloudWatch Logs User Guide, "Encrypt log data in CloudWatch Logs using AWS Key Management
          // Service": Logs (principal logs.REGION.amazonaws.com) uses the key with the encryption
          // context `kms:EncryptionContext:aws:logs:arn` = the log group's ARN, so the condition
          // names the groups. That page's example also grants kms:Describe*; it is left out here:
          // DescribeKey carries no encryption context (Service Authorization Reference, AWS KMS: no
          // kms:EncryptionContext key for DescribeKey), so under this condition it could never apply.
          sid: "BuildLogGroups",
          effect: "Allow",
          principals: [{ type: "Service", identifiers: [`logs.${ctx.region}.amazonaws.com`] }],
          actions: ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
          resources: ["*"],
          condition: [
            {
              test: "ArnLike",
              variable: "kms:EncryptionContext:aws:logs:arn",
              values: keyLogGroupNames(props.name).map((g) => arn(ctx, "logs", `log-group:${g}`)),
            },
          ],
        },
        // Publishers of the encrypted alert topic need kms:GenerateDataKey* and kms:Decrypt on its key
        // (SNS Developer Guide, "Enable compatibility between event sources from AWS services and
        // encrypted topics"). Both grants are limited to the alert topic by the encryption context
        // SNS sets, `aws:sns:topicArn`.
        {
          sid: "AlarmsPublishAlerts",
          effect: "Allow",
          principals: [{ type: "Service", identifiers: ["cloudwatch.amazonaws.com"] }],
          actions: ["kms:Decrypt", "kms:GenerateDataKey*"],
          resources: ["*"],
          condition: [
            { test: "StringEquals", variable: "aws:SourceAccount", values: [ctx.accountId] },
            { test: "StringEquals", variable: "kms:EncryptionContext:aws:sns:topicArn", values: [alertsTopicArn] },
          ],
        },
      ],
    });
    this.key = new KmsKey(this, "Key", {
      description: `Backlog mirror ${props.name}: logs, EFS, backups, alerts`,
      enableKeyRotation: true,
      deletionWindowInDays: 30,
      policy: policy.json,
    });
    this.alias = new KmsAlias(this, "Alias", { name: `alias/${props.name}-mirror`, targetKeyId: this.key.keyId });
  }
}
