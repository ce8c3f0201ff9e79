/**
 * IAM of the safety net: the role the `NAME-verify` build runs as, and the role EventBridge uses to
 * start it. Every grant is bounded by a pattern or a tag, never by a list of repositories, so the
 * policies do not grow with the configuration.
 */
import { DataAwsIamPolicyDocument, type DataAwsIamPolicyDocumentStatement } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { Construct } from "constructs";
import { type ArnContext, BUILD_ACTIONS, START_BUILD_ACTIONS, arn, syncProjectsArnPattern } from "./iam";
import { METRIC_NAMESPACE, MIRROR_STACK_TAG_KEY, buildLogGroupName, verifyProjectName } from "./naming";

/** Actions of the verify role, by purpose: named lists, asserted by the tests. */
export const VERIFY_ACTIONS = {
  logs: ["logs:CreateLogStream", "logs:PutLogEvents"],
  startSyncs: [...START_BUILD_ACTIONS],
  listMirrors: ["codecommit:GitPull"],
  parameters: ["ssm:GetParameters"],
  decrypt: ["kms:Decrypt"],
  repositoryList: ["s3:GetObject"],
  publishMetrics: ["cloudwatch:PutMetricData"],
  readMetrics: ["cloudwatch:GetMetricData"],
} as const;

/** Props of {@link VerifyIam}. */
export interface VerifyIamProps {
  /** The stack's name: prefix of the sync projects and value of the mirrors' stack tag. */
  readonly name: string;
  readonly arnContext: ArnContext;
  /** SSM parameters the verifier reads (the SSH key, and the pinned host keys when kept in SSM). */
  readonly parameterNames: string[];
  /** ARN of the repository list object (`arn:...:s3:::BUCKET/KEY`). */
  readonly repositoryListArn: string;
  /** Subnets the build's network interfaces may be created in. */
  readonly subnetIds: string[];
  /** Customer-managed key of the stack (bucket objects, SSM SecureStrings). @default - none */
  readonly kmsKeyArn?: string;
}

/** The verify build's role and the schedule's role. */
export class VerifyIam extends Construct {
  /** Service role of `NAME-verify`. */
  public readonly verifyRole: IamRole;
  /** The verify role's VPC policy: the project depends on it (CodeBuild checks it on creation). */
  public readonly verifyVpcPolicy: IamRolePolicy;
  /** Role EventBridge assumes to start `NAME-verify`. */
  public readonly scheduleRole: IamRole;
  /** ARN of the `NAME-verify` project. */
  public readonly verifyProjectArn: string;

  constructor(scope: Construct, id: string, props: VerifyIamProps) {
    super(scope, id);
    const ctx = props.arnContext;
    const projectName = verifyProjectName(props.name);
    this.verifyProjectArn = arn(ctx, "codebuild", `project/${projectName}`);

    // The confused-deputy guard: only the service acting for this account may assume the roles.
    const trust = (docId: string, service: string) =>
      new DataAwsIamPolicyDocument(this, docId, {
        statement: [
          {
            effect: "Allow",
            actions: ["sts:AssumeRole"],
            principals: [{ type: "Service", identifiers: [service] }],
            condition: [{ test: "StringEquals", variable: "aws:SourceAccount", values: [ctx.accountId] }],
          },
        ],
      }).json;

    this.verifyRole = new IamRole(this, "VerifyRole", {
      name: projectName,
      description: "Safety net of the Backlog to CodeCommit mirror: compares refs and starts the syncs that are behind",
      assumeRolePolicy: trust("VerifyTrust", "codebuild.amazonaws.com"),
    });

    // The same VPC grants as the sync builds' role (lib/iam.ts).
    const subnetArns = props.subnetIds.map((s) => arn(ctx, "ec2", `subnet/${s}`));
    this.verifyVpcPolicy = new IamRolePolicy(this, "VerifyVpcPolicy", {
      name: "vpc-access",
      role: this.verifyRole.id,
      policy: new DataAwsIamPolicyDocument(this, "VerifyVpcDocument", {
        statement: [
          {
            sid: "VpcNetworkInterfaces",
            effect: "Allow",
            actions: [...BUILD_ACTIONS.vpcDescribe],
            resources: ["*"], // these EC2 actions do not support resource-level permissions
          },
          {
            sid: "VpcNetworkInterfacePermission",
            effect: "Allow",
            actions: [...BUILD_ACTIONS.vpcPermission],
            resources: [arn(ctx, "ec2", "network-interface/*")],
            condition: [
              { test: "StringEquals", variable: "ec2:Subnet", values: subnetArns },
              { test: "StringEquals", variable: "ec2:AuthorizedService", values: ["codebuild.amazonaws.com"] },
            ],
          },
        ],
      }).json,
    });

    const statements: DataAwsIamPolicyDocumentStatement[] = [
      {
        sid: "WriteVerifyLogs",
        effect: "Allow",
        actions: [...VERIFY_ACTIONS.logs],
        resources: [`${arn(ctx, "logs", `log-group:${buildLogGroupName(projectName)}`)}:*`],
      },
      {
        // Every sync project of this stack (the prefix), and nothing else: not NAME-verify itself.
        sid: "StartSyncBuilds",
        effect: "Allow",
        actions: [...VERIFY_ACTIONS.startSyncs],
        resources: [syncProjectsArnPattern(ctx, props.name)],
      },
      {
        // The mirrors carry the stack's tag (lib/mirror-build.ts); see lib/iam.ts for the condition key.
        sid: "ListMirrors",
        effect: "Allow",
        actions: [...VERIFY_ACTIONS.listMirrors],
        resources: [arn(ctx, "codecommit", "*")],
        condition: [{ test: "StringEquals", variable: `aws:ResourceTag/${MIRROR_STACK_TAG_KEY}`, values: [props.name] }],
      },
      {
        sid: "ReadBacklogCredentials",
        effect: "Allow",
        actions: [...VERIFY_ACTIONS.parameters],
        resources: props.parameterNames.map((p) => arn(ctx, "ssm", `parameter${p}`)),
      },
      {
        sid: "DecryptSecureStrings",
        effect: "Allow",
        actions: [...VERIFY_ACTIONS.decrypt],
        // As for the sync builds: the SecureString's key is not known here; SSM in this region only.
        resources: ["*"],
        condition: [{ test: "StringEquals", variable: "kms:ViaService", values: [`ssm.${ctx.region}.amazonaws.com`] }],
      },
      {
        sid: "ReadRepositoryList",
        effect: "Allow",
        actions: [...VERIFY_ACTIONS.repositoryList],
        resources: [props.repositoryListArn],
      },
      {
        // PutMetricData has no resource type: the namespace condition key bounds it (CloudWatch User
        // Guide, "Using condition keys to limit access to CloudWatch namespaces").
        sid: "PublishHealthMetrics",
        effect: "Allow",
        actions: [...VERIFY_ACTIONS.publishMetrics],
        resources: ["*"],
        condition: [{ test: "StringEquals", variable: "cloudwatch:namespace", values: [METRIC_NAMESPACE] }],
      },
      {
        sid: "ReadHealthMetrics",
        effect: "Allow",
        actions: [...VERIFY_ACTIONS.readMetrics],
        resources: ["*"], // GetMetricData supports no resource-level permissions
      },
    ];
    if (props.kmsKeyArn !== undefined) {
      statements.push({ sid: "UseMirrorKey", effect: "Allow", actions: [...VERIFY_ACTIONS.decrypt], resources: [props.kmsKeyArn] });
    }
    new IamRolePolicy(this, "VerifyPolicy", {
      name: "verify-mirrors",
      role: this.verifyRole.id,
      policy: new DataAwsIamPolicyDocument(this, "VerifyDocument", { statement: statements }).json,
    });

    this.scheduleRole = new IamRole(this, "ScheduleRole", {
      name: `${props.name}-verify-schedule`,
      description: `Schedule of the Backlog mirror's safety net: starts ${projectName} only`,
      assumeRolePolicy: trust("ScheduleTrust", "events.amazonaws.com"),
    });
    new IamRolePolicy(this, "SchedulePolicy", {
      name: "start-verify",
      role: this.scheduleRole.id,
      policy: new DataAwsIamPolicyDocument(this, "ScheduleDocument", {
        statement: [{ sid: "StartVerify", effect: "Allow", actions: [...START_BUILD_ACTIONS], resources: [this.verifyProjectArn] }],
      }).json,
    });
  }
}
