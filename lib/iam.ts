/**
 * IAM: the role the sync builds run as, and the role API Gateway uses to call StartBuild.
 *
 * ARNs are composed from names (known at synthesis) and the account, region and partition, rather
 * than read from the resources, so the roles and their policies exist before the projects that use
 * them (CodeBuild checks its service role when a project is created) and there is no cycle.
 *
 * No policy lists the repositories: a role's inline policies together may hold at most 10,240
 * characters (whitespace not counted; IAM User Guide, "IAM and AWS STS quotas"), which per-repository
 * ARN lists passed at about 48 repositories. Instead:
 * - projects and log groups are matched by the stack's prefix `NAME-mirror-*` (validation refuses a
 *   `name` with a `-mirror` segment, so no other stack's projects share the prefix);
 * - CodeCommit repositories (user-chosen names, no common prefix) are matched by the tag
 *   `backlog-mirror:stack = NAME` that every mirror carries: CodeCommit's `repository` resource type
 *   supports the `aws:ResourceTag/${TagKey}` condition key and GitPush requires that resource type
 *   (Service Authorization Reference, "Actions, resources, and condition keys for AWS CodeCommit";
 *   CodeCommit User Guide, "Customer managed policy examples", Example 5: "Deny or allow actions on
 *   repositories with tags").
 */
import {
  DataAwsIamPolicyDocument,
  type DataAwsIamPolicyDocumentStatement,
} from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { Token, ref } from "cdktf";
import { Construct } from "constructs";
import { BUILD_TOOLS_PREFIX } from "./build-scripts";
import { type StringList, type Switch, listValue, mapList } from "./terraform-values";
import { METRIC_NAMESPACE, MIRROR_STACK_TAG_KEY, buildLogGroupName, buildProjectPrefix } from "./naming";

/** Actions of the build role, by purpose: named lists, asserted by the tests. */
export const BUILD_ACTIONS = {
  logs: ["logs:CreateLogStream", "logs:PutLogEvents"],
  /**
   * On the mirrors (tag-scoped): push; read what CodeCommit holds (a re-created mirror learns it
   * before deleting anything); read and move the default branch (it follows Backlog's HEAD and
   * must move before the branch it names is deleted).
   */
  push: ["codecommit:GitPull", "codecommit:GitPush", "codecommit:GetRepository", "codecommit:UpdateDefaultBranch"],
  /**
   * A sync stopped at its time budget with work left (a first sync larger than one build) starts
   * the next build of its own project (lib/buildspec/mirror-sync.sh, header). Granted on the
   * stack's sync projects (`NAME-mirror-*`): one role serves them all, and no policy lists them.
   */
  continueSync: ["codebuild:StartBuild"],
  /** Download of the build scripts, the projects' S3 source (lib/build-scripts.ts): {@link buildScriptsSourceStatements}. */
  scriptsSource: ["s3:GetObject", "s3:GetObjectVersion"],
  scriptsBucket: ["s3:GetBucketAcl", "s3:GetBucketLocation"],
  scriptsList: ["s3:ListBucket"],
  /** Upload of the backup bundles, under backups/ only. */
  backups: ["s3:PutObject"],
  parameters: ["ssm:GetParameters"],
  /** Git LFS mirroring (setting `lfs`): the build reads the credentials itself, {@link lfsSyncStatements}. */
  lfsCredentials: ["ssm:GetParameter"],
  lfsObjects: ["s3:PutObject"],
  lfsList: ["s3:ListBucket"],
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

/** `arn:…:codebuild:…:project/NAME-mirror-*`: every sync project of the stack, and nothing else. */
export function syncProjectsArnPattern(ctx: ArnContext, name: string): string {
  return arn(ctx, "codebuild", `project/${buildProjectPrefix(name)}*`);
}

/** `arn:…:logs:…:log-group:/aws/codebuild/NAME-mirror-*:*`: the sync projects' log groups and streams. */
export function syncLogStreamsArnPattern(ctx: ArnContext, name: string): string {
  return `${arn(ctx, "logs", `log-group:${buildLogGroupName(`${buildProjectPrefix(name)}*`)}`)}:*`;
}

/**
 * The trust policy (JSON) of a role `service` assumes, as data source `id` of `scope`. With
 * `sourceAccount`, the confused-deputy guard: only the service acting for that account may assume
 * it (API Gateway does not send aws:SourceAccount for integration credentials, so its role has no
 * such condition).
 */
export function serviceTrustPolicy(scope: Construct, id: string, service: string, sourceAccount?: string): string {
  return new DataAwsIamPolicyDocument(scope, id, {
    statement: [
      {
        effect: "Allow",
        actions: ["sts:AssumeRole"],
        principals: [{ type: "Service", identifiers: [service] }],
        condition: sourceAccount === undefined ? undefined : [{ test: "StringEquals", variable: "aws:SourceAccount", values: [sourceAccount] }],
      },
    ],
  }).json;
}

/**
 * The two VPC statements every build role needs: CodeBuild places the build's network interface in
 * one of `subnetIds`. Shared by the sync builds' role and the verify role (lib/verify-iam.ts).
 */
export function vpcAccessStatements(ctx: ArnContext, subnetIds: StringList): DataAwsIamPolicyDocumentStatement[] {
  return [
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
        { test: "StringEquals", variable: "ec2:Subnet", values: listValue(mapList(subnetIds, (s) => arn(ctx, "ec2", `subnet/${s}`))) },
        { test: "StringEquals", variable: "ec2:AuthorizedService", values: ["codebuild.amazonaws.com"] },
      ],
    },
  ];
}

/**
 * `actions` on every CodeCommit repository of this account and region that carries the stack's tag
 * (MirrorRepositories, lib/mirror-build.ts, sets it on every mirror; see the file header for the condition key's documentation).
 */
export function taggedMirrorsStatement(
  ctx: ArnContext,
  name: string,
  sid: string,
  actions: readonly string[],
): DataAwsIamPolicyDocumentStatement {
  return {
    sid,
    effect: "Allow",
    actions: [...actions],
    resources: [arn(ctx, "codecommit", "*")],
    condition: [{ test: "StringEquals", variable: `aws:ResourceTag/${MIRROR_STACK_TAG_KEY}`, values: [name] }],
  };
}

/**
 * Reading the Backlog credentials from SSM: the parameters by name, and decryption of SecureStrings.
 * The key of a SecureString (aws/ssm or a customer key) is not known here; the condition limits the
 * decryption grant to requests made by SSM in this region.
 */
export function backlogCredentialStatements(
  ctx: ArnContext,
  parameterNames: StringList,
): DataAwsIamPolicyDocumentStatement[] {
  return [
    {
      sid: "ReadBacklogCredentials",
      effect: "Allow",
      actions: [...BUILD_ACTIONS.parameters],
      resources: listValue(mapList(parameterNames, (p) => arn(ctx, "ssm", `parameter${p}`))),
    },
    {
      sid: "DecryptSecureStrings",
      effect: "Allow",
      actions: [...BUILD_ACTIONS.decrypt],
      resources: ["*"],
      condition: [{ test: "StringEquals", variable: "kms:ViaService", values: [`ssm.${ctx.region}.amazonaws.com`] }],
    },
  ];
}

/**
 * What CodeBuild needs, with the project's service role, to download a project's S3 source: the
 * objects (`s3:GetObject`, `s3:GetObjectVersion`) and the bucket's identity (`s3:GetBucketAcl`,
 * `s3:GetBucketLocation`), the statements of the service-role policy in the CodeBuild User Guide
 * ("Allow CodeBuild to interact with other AWS services"), scoped here to the scripts' prefix; and,
 * for a folder source, listing the folder (`s3:ListBucket`, limited by `s3:prefix` to the prefix: the
 * guide does not say which listing call CodeBuild makes, so this grant is in
 * docs/real-account-checklist.md). Shared by the sync builds' role and the verify role.
 */
export function buildScriptsSourceStatements(bucketArn: string): DataAwsIamPolicyDocumentStatement[] {
  return [
    { sid: "DownloadBuildScripts", effect: "Allow", actions: [...BUILD_ACTIONS.scriptsSource], resources: [`${bucketArn}/${BUILD_TOOLS_PREFIX}*`] },
    { sid: "LocateBuildScriptsBucket", effect: "Allow", actions: [...BUILD_ACTIONS.scriptsBucket], resources: [bucketArn] },
    {
      sid: "ListBuildScripts",
      effect: "Allow",
      actions: [...BUILD_ACTIONS.scriptsList],
      resources: [bucketArn],
      condition: [{ test: "StringLike", variable: "s3:prefix", values: [`${BUILD_TOOLS_PREFIX}*`] }],
    },
  ];
}

/** Key prefix of the mirrored LFS objects in the stack's bucket (lib/naming.ts `lfsObjectsPrefix`). */
export const LFS_PREFIX = "lfs/";

/**
 * What a sync that mirrors Git LFS objects needs (lib/buildspec/mirror-sync.sh, mirror_lfs): read
 * the credentials parameter (`ssm:GetParameter`, the build calls it itself; decryption is the
 * `DecryptSecureStrings` grant), write objects under `lfs/` (`s3:PutObject`, with `If-None-Match: *`
 * so nothing is overwritten), and list `lfs/` once when its record of stored objects is new
 * (`s3:ListBucket` limited by `s3:prefix`). It never reads an object back.
 */
export function lfsSyncStatements(ctx: ArnContext, bucketArn: string, credentialsParameter: string): DataAwsIamPolicyDocumentStatement[] {
  return [
    { sid: "ReadLfsCredentials", effect: "Allow", actions: [...BUILD_ACTIONS.lfsCredentials], resources: [arn(ctx, "ssm", `parameter${credentialsParameter}`)] },
    { sid: "StoreLfsObjects", effect: "Allow", actions: [...BUILD_ACTIONS.lfsObjects], resources: [`${bucketArn}/${LFS_PREFIX}*`] },
    {
      sid: "ListLfsObjects",
      effect: "Allow",
      actions: [...BUILD_ACTIONS.lfsList],
      resources: [bucketArn],
      condition: [{ test: "StringLike", variable: "s3:prefix", values: [`${LFS_PREFIX}*`] }],
    },
  ];
}

/**
 * Publishing the mirror-health metrics (only the safety net's role does: lib/verify-iam.ts; the sync
 * builds publish nothing, so they start no AWS CLI after the push). PutMetricData has no resource type: the namespace condition
 * key bounds it (CloudWatch User Guide, "Using condition keys to limit access to CloudWatch
 * namespaces").
 */
export function publishHealthMetricsStatement(): DataAwsIamPolicyDocumentStatement {
  return {
    sid: "PublishHealthMetrics",
    effect: "Allow",
    actions: ["cloudwatch:PutMetricData"],
    resources: ["*"],
    condition: [{ test: "StringEquals", variable: "cloudwatch:namespace", values: [METRIC_NAMESPACE] }],
  };
}

/** Props of {@link MirrorIam}. */
/** A statement as Terraform JSON writes it (snake case), for a `dynamic` block's content. */
function statementJson(st: DataAwsIamPolicyDocumentStatement): Record<string, unknown> {
  const out: Record<string, unknown> = { sid: st.sid, effect: st.effect, actions: st.actions, resources: st.resources };
  if (st.condition !== undefined) out.condition = (st.condition as Array<{ test: string; variable: string; values: string[] }>).map((c) => ({ test: c.test, variable: c.variable, values: c.values }));
  return out;
}

export interface MirrorIamProps {
  /** The stack's name: the prefix of the sync projects and the value of the mirrors' stack tag. */
  readonly name: string;
  readonly arnContext: ArnContext;
  /** Names of the CodeBuild projects (one per repository), for {@link MirrorIam.projectArns}, when known. */
  readonly projectNames?: readonly string[];
  /** SSM parameters the builds read (the SSH key, and the pinned host keys when kept in SSM). */
  readonly parameterNames: StringList;
  /** Subnets the builds' network interfaces may be created in. */
  readonly subnetIds: StringList;
  /** ARN of the stack's bucket: the sync saves backup bundles to it (under `backups/`) and downloads its scripts from it (under `tools/`). */
  readonly backupBucketArn: string;
  /**
   * Grant the Session Manager channel actions used by `codebuild-breakpoint` debugging.
   * @default false
   */
  readonly allowDebugSessions?: Switch;
  /**
   * SSM parameter of the Backlog credentials for Git LFS (setting `lfs`): adds {@link lfsSyncStatements}.
   * @default - LFS objects are not mirrored
   */
  readonly lfs?: { readonly credentialsParameter: string; readonly when: Switch };
  /**
   * Customer-managed key the builds may use (SSM SecureStrings, objects of the stack's bucket).
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
  /** ARNs of the sync projects, in the order of `projectNames` (empty when the names are not known). */
  public readonly projectArns: string[];

  constructor(scope: Construct, id: string, props: MirrorIamProps) {
    super(scope, id);
    const ctx = props.arnContext;

    /** A role a service assumes (with `sourceAccount`, only for this account: {@link serviceTrustPolicy}). */
    const serviceRole = (roleId: string, roleName: string, description: string, service: string, sourceAccount?: string) =>
      new IamRole(this, roleId, {
        name: roleName,
        description,
        assumeRolePolicy: serviceTrustPolicy(this, `${roleId}Trust`, service, sourceAccount),
      });

    this.buildRole = serviceRole(
      "BuildRole",
      `${props.name}-codebuild`,
      "Sync builds of the Backlog to CodeCommit mirror",
      "codebuild.amazonaws.com",
      ctx.accountId,
    );

    const vpcDocument = new DataAwsIamPolicyDocument(this, "BuildVpcDocument", {
      statement: vpcAccessStatements(ctx, props.subnetIds),
    });
    this.buildVpcPolicy = new IamRolePolicy(this, "BuildVpcPolicy", {
      name: "vpc-access",
      role: this.buildRole.id,
      policy: vpcDocument.json,
    });

    const statements: DataAwsIamPolicyDocumentStatement[] = [
      {
        sid: "WriteBuildLogs",
        effect: "Allow",
        actions: [...BUILD_ACTIONS.logs],
        resources: [syncLogStreamsArnPattern(ctx, props.name)],
      },
      taggedMirrorsStatement(ctx, props.name, "PushToMirrors", BUILD_ACTIONS.push),
      {
        sid: "ContinueIncompleteSync",
        effect: "Allow",
        actions: [...BUILD_ACTIONS.continueSync],
        resources: [syncProjectsArnPattern(ctx, props.name)],
      },
      {
        sid: "SaveBackupBundles",
        effect: "Allow",
        actions: [...BUILD_ACTIONS.backups],
        resources: [`${props.backupBucketArn}/backups/*`],
      },
      ...buildScriptsSourceStatements(props.backupBucketArn),
      ...backlogCredentialStatements(ctx, props.parameterNames),
    ];
    if (props.kmsKeyArn !== undefined) {
      statements.push({
        sid: "UseMirrorKey",
        effect: "Allow",
        actions: [...BUILD_ACTIONS.mirrorKey],
        resources: [props.kmsKeyArn],
      });
    }
    // Optional grants: present, absent, or (the module) `dynamic "statement"` blocks under their condition.
    const optional: Array<{ when: Switch; statements: DataAwsIamPolicyDocumentStatement[] }> = [
      {
        when: props.lfs?.when ?? false,
        statements: props.lfs === undefined ? [] : lfsSyncStatements(ctx, props.backupBucketArn, props.lfs.credentialsParameter),
      },
      // Session Manager channel actions have no resource type.
      { when: props.allowDebugSessions ?? false, statements: [{ sid: "DebugSessions", effect: "Allow", actions: [...BUILD_ACTIONS.debugSessions], resources: ["*"] }] },
    ];
    for (const o of optional) if (o.when === true) statements.push(...o.statements);
    const syncDocument = new DataAwsIamPolicyDocument(this, "BuildSyncDocument", { statement: statements });
    const dynamic = optional.flatMap((o) =>
      typeof o.when === "boolean" ? [] : o.statements.map((st) => ({ for_each: Token.asAny(ref(`${(o.when as { hcl: string }).hcl} ? [1] : []`)), content: statementJson(st) })),
    );
    if (dynamic.length > 0) syncDocument.addOverride("dynamic.statement", dynamic.length === 1 ? dynamic[0] : dynamic);
    new IamRolePolicy(this, "BuildSyncPolicy", {
      name: "mirror-sync",
      role: this.buildRole.id,
      policy: syncDocument.json,
    });

    const projectArns = (props.projectNames ?? []).map((n) => arn(ctx, "codebuild", `project/${n}`));
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
          // The stack's sync projects only: `NAME-verify` and other stacks' projects are outside.
          resources: [syncProjectsArnPattern(ctx, props.name)],
        },
      ],
    });
    new IamRolePolicy(this, "ApiStartBuildPolicy", {
      name: "start-build",
      role: this.apiRole.id,
      policy: startBuild.json,
    });
  }
}
