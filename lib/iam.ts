/**
 * IAM: the role the sync builds run as, and the role API Gateway uses to call StartBuild.
 *
 * ARNs are composed from names (known at synthesis) and the account, region and partition, rather
 * than read from the resources, so the roles and their policies exist before the projects that use
 * them (CodeBuild checks its service role when a project is created) and there is no cycle.
 */
import {
  DataAwsIamPolicyDocument,
  type DataAwsIamPolicyDocumentStatement,
} from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { Construct } from "constructs";

/** Actions of the build role, by purpose: named lists, asserted by the tests. */
export const BUILD_ACTIONS = {
  logs: ["logs:CreateLogStream", "logs:PutLogEvents"],
  cacheObjects: ["s3:GetObject", "s3:PutObject"],
  cacheBucket: ["s3:GetBucketAcl", "s3:GetBucketLocation"],
  push: ["codecommit:GitPush"],
  parameters: ["ssm:GetParameters"],
  decrypt: ["kms:Decrypt"],
  mirrorKey: ["kms:Decrypt", "kms:GenerateDataKey"],
  /** EC2 actions CodeBuild needs to place a build in a VPC; none supports resource-level permissions. */
  vpcDescribe: [
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
  ],
  vpcPermission: ["ec2:CreateNetworkInterfacePermission"],
  debugSessions: [
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
  ],
} as const;

/** The only action of the API Gateway role. */
export const START_BUILD_ACTIONS = ["codebuild:StartBuild"] as const;

/** The account, region and partition ARNs are composed in. */
export interface ArnContext {
  readonly partition: string;
  readonly region: string;
  readonly accountId: string;
}

/** `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`. */
export function arn(ctx: ArnContext, service: string, resource: string): string {
  return `arn:${ctx.partition}:${service}:${ctx.region}:${ctx.accountId}:${resource}`;
}

/** Props of {@link MirrorIam}. */
export interface MirrorIamProps {
  readonly name: string;
  readonly arnContext: ArnContext;
  /** Names of the CodeBuild projects (one per repository). */
  readonly projectNames: string[];
  /** Log groups the projects write to. */
  readonly logGroupNames: string[];
  /** CodeCommit repositories the builds push to. */
  readonly codecommitRepositoryNames: string[];
  /** SSM parameters the builds read (the SSH key, and the pinned host keys when kept in SSM). */
  readonly parameterNames: string[];
  /** ARN of the build-cache bucket. */
  readonly cacheBucketArn: string;
  /** Subnets the builds' network interfaces may be created in. */
  readonly subnetIds: string[];
  /**
   * Grant the Session Manager channel actions used by `codebuild-breakpoint` debugging.
   * @default false
   */
  readonly allowDebugSessions?: boolean;
  /**
   * Create the role EventBridge uses to start the scheduled re-syncs.
   * @default false
   */
  readonly scheduledResync?: boolean;
  /**
   * Customer-managed key the builds may use (cache objects, SSM SecureStrings).
   * @default - none
   */
  readonly kmsKeyArn?: string;
}

/** Both roles and their inline policies. */
export class MirrorIam extends Construct {
  /** Service role of the sync projects. */
  public readonly buildRole: IamRole;
  /** Credentials role of the webhook integration. */
  public readonly apiRole: IamRole;
  /** The build role's VPC policy: projects depend on it (CodeBuild checks it on creation). */
  public readonly buildVpcPolicy: IamRolePolicy;
  /** Role of the scheduled re-sync rules, when enabled. */
  public readonly resyncRole?: IamRole;
  /** ARNs of the sync projects, in the order of `projectNames` (what StartBuild is granted on). */
  public readonly projectArns: string[];

  constructor(scope: Construct, id: string, props: MirrorIamProps) {
    super(scope, id);
    const ctx = props.arnContext;

    /**
     * A role a service assumes. With `sourceAccount`, the confused-deputy guard: only the service
     * acting for this account may assume it (API Gateway does not send aws:SourceAccount for
     * integration credentials, so its role has no such condition).
     */
    const serviceRole = (roleId: string, roleName: string, description: string, service: string, sourceAccount?: string) =>
      new IamRole(this, roleId, {
        name: roleName,
        description,
        assumeRolePolicy: new DataAwsIamPolicyDocument(this, `${roleId}Trust`, {
          statement: [
            {
              effect: "Allow",
              actions: ["sts:AssumeRole"],
              principals: [{ type: "Service", identifiers: [service] }],
              condition:
                sourceAccount === undefined
                  ? undefined
                  : [{ test: "StringEquals", variable: "aws:SourceAccount", values: [sourceAccount] }],
            },
          ],
        }).json,
      });

    this.buildRole = serviceRole(
      "BuildRole",
      `${props.name}-codebuild`,
      "Sync builds of the Backlog to CodeCommit mirror",
      "codebuild.amazonaws.com",
      ctx.accountId,
    );

    const subnetArns = props.subnetIds.map((s) => arn(ctx, "ec2", `subnet/${s}`));
    const vpcDocument = new DataAwsIamPolicyDocument(this, "BuildVpcDocument", {
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
    });
    this.buildVpcPolicy = new IamRolePolicy(this, "BuildVpcPolicy", {
      name: "vpc-access",
      role: this.buildRole.id,
      policy: vpcDocument.json,
    });

    const logStreams = props.logGroupNames.map((g) => `${arn(ctx, "logs", `log-group:${g}`)}:*`);
    const statements: DataAwsIamPolicyDocumentStatement[] = [
      { sid: "WriteBuildLogs", effect: "Allow", actions: [...BUILD_ACTIONS.logs], resources: logStreams },
      {
        sid: "BuildCacheObjects",
        effect: "Allow",
        actions: [...BUILD_ACTIONS.cacheObjects],
        resources: [`${props.cacheBucketArn}/*`],
      },
      {
        sid: "BuildCacheBucket",
        effect: "Allow",
        actions: [...BUILD_ACTIONS.cacheBucket],
        resources: [props.cacheBucketArn],
      },
      {
        sid: "PushToMirrors",
        effect: "Allow",
        actions: [...BUILD_ACTIONS.push],
        resources: props.codecommitRepositoryNames.map((n) => arn(ctx, "codecommit", n)),
      },
      {
        sid: "ReadBacklogCredentials",
        effect: "Allow",
        actions: [...BUILD_ACTIONS.parameters],
        resources: props.parameterNames.map((p) => arn(ctx, "ssm", `parameter${p}`)),
      },
      {
        sid: "DecryptSecureStrings",
        effect: "Allow",
        actions: [...BUILD_ACTIONS.decrypt],
        // The key of a SecureString (aws/ssm or a customer key) is not known here; the condition
        // limits the grant to decryption requested by SSM in this region.
        resources: ["*"],
        condition: [{ test: "StringEquals", variable: "kms:ViaService", values: [`ssm.${ctx.region}.amazonaws.com`] }],
      },
    ];
    if (props.kmsKeyArn !== undefined) {
      statements.push({
        sid: "UseMirrorKey",
        effect: "Allow",
        actions: [...BUILD_ACTIONS.mirrorKey],
        resources: [props.kmsKeyArn],
      });
    }
    if (props.allowDebugSessions === true) {
      statements.push({
        sid: "DebugSessions",
        effect: "Allow",
        actions: [...BUILD_ACTIONS.debugSessions],
        resources: ["*"], // Session Manager channel actions have no resource type
      });
    }
    const syncDocument = new DataAwsIamPolicyDocument(this, "BuildSyncDocument", { statement: statements });
    new IamRolePolicy(this, "BuildSyncPolicy", {
      name: "mirror-sync",
      role: this.buildRole.id,
      policy: syncDocument.json,
    });

    const projectArns = props.projectNames.map((n) => arn(ctx, "codebuild", `project/${n}`));
    this.projectArns = projectArns;
    this.apiRole = serviceRole(
      "ApiRole",
      `${props.name}-webhook`,
      "Webhook API of the Backlog to CodeCommit mirror: starts sync builds",
      "apigateway.amazonaws.com",
    );
    const startBuild = new DataAwsIamPolicyDocument(this, "ApiStartBuildDocument", {
      statement: [
        {
          sid: "StartSyncBuilds",
          effect: "Allow",
          actions: [...START_BUILD_ACTIONS],
          resources: projectArns,
        },
      ],
    });
    new IamRolePolicy(this, "ApiStartBuildPolicy", {
      name: "start-build",
      role: this.apiRole.id,
      policy: startBuild.json,
    });

    if (props.scheduledResync === true) {
      this.resyncRole = serviceRole(
        "ResyncRole",
        `${props.name}-resync`,
        "Scheduled re-sync of the Backlog mirrors: starts sync builds",
        "events.amazonaws.com",
        ctx.accountId,
      );
      new IamRolePolicy(this, "ResyncStartBuildPolicy", {
        name: "start-build",
        role: this.resyncRole.id,
        policy: startBuild.json,
      });
    }
  }
}
