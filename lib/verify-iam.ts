/**
 * IAM of the safety net: the role the `NAME-verify` build runs as, and the role EventBridge uses to
 * start it. Every grant is bounded by a pattern or a tag, never by a list of repositories, so the
 * policies do not grow with the configuration.
 */
import { DataAwsIamPolicyDocument, type DataAwsIamPolicyDocumentStatement } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { Construct } from "constructs";
import {
  type ArnContext,
  START_BUILD_ACTIONS,
  arn,
  backlogCredentialStatements,
  buildScriptsSourceStatements,
  publishHealthMetricsStatement,
  serviceTrustPolicy,
  syncProjectsArnPattern,
  taggedMirrorsStatement,
  vpcAccessStatements,
} from "./iam";
import { buildLogGroupName, verifyProjectName } from "./naming";
import { type StringList, type Switch, countOf, optionalAttribute } from "./terraform-values";

/**
 * Actions of the verify role that only it has, by purpose. It shares the VPC and SSM credential
 * statements of the sync builds' role (lib/iam.ts); it alone publishes the health metrics.
 */
export const VERIFY_ACTIONS = {
  logs: ["logs:CreateLogStream", "logs:PutLogEvents"],
  /** It starts them and does not wait for them (no BatchGetBuilds: lib/buildspec/verify-mirrors.sh). */
  startSyncs: [...START_BUILD_ACTIONS],
  listMirrors: ["codecommit:GitPull"],
  /** With a customer-managed key: the bucket's objects (reading the lists, writing the in-sync times). */
  decrypt: ["kms:Decrypt", "kms:GenerateDataKey"],
  repositoryList: ["s3:GetObject"],
  /** Its record of when each repository was last in sync (lib/safety-net.ts IN_SYNC_STATE_KEY). */
  inSyncState: ["s3:GetObject", "s3:PutObject"],
  /** Reporting a repository out of sync past the alarm window (lib/alert-states.ts). */
  reportOutOfSync: ["states:StartExecution"],
} as const;

/** Props of {@link VerifyIam}. */
export interface VerifyIamProps {
  /** The stack's name: prefix of the sync projects and value of the mirrors' stack tag. */
  readonly name: string;
  readonly arnContext: ArnContext;
  /** SSM parameters the verifier reads (the SSH key, and the pinned host keys when kept in SSM). */
  readonly parameterNames: StringList;
  /** ARN of the repository list object (`arn:...:s3:::BUCKET/KEY`). */
  readonly repositoryListArn: string;
  /** ARN of the in-sync times object. */
  readonly inSyncStateArn: string;
  /** The alert state machine. */
  readonly alertStateMachineArn: string;
  /** ARN of the stack's bucket, which holds the build scripts (the project's source). */
  readonly bucketArn: string;
  /** Subnets the build's network interfaces may be created in. */
  readonly subnetIds: StringList;
  /** Customer-managed key of the stack (bucket objects, SSM SecureStrings). @default - none */
  readonly kmsKeyArn?: string;
  /** Whether the roles exist (the safety net's switch). @default true */
  readonly enabled?: Switch;
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
  /** ARNs of the two roles (`one(...)` of the counted roles in the module). */
  public readonly verifyRoleArn: string;
  public readonly scheduleRoleArn: string;

  constructor(scope: Construct, id: string, props: VerifyIamProps) {
    super(scope, id);
    const ctx = props.arnContext;
    const projectName = verifyProjectName(props.name);
    const count = countOf(props.enabled ?? true);
    this.verifyProjectArn = arn(ctx, "codebuild", `project/${projectName}`);

    // The confused-deputy guard: only the service acting for this account may assume the roles.
    const trust = (docId: string, service: string) => serviceTrustPolicy(this, docId, service, ctx.accountId);

    this.verifyRole = new IamRole(this, "VerifyRole", {
      count,
      name: projectName,
      description: "Safety net of the Backlog to CodeCommit mirror: compares refs and starts the syncs that are behind",
      assumeRolePolicy: trust("VerifyTrust", "codebuild.amazonaws.com"),
    });

    // The same VPC grants as the sync builds' role.
    const verifyRoleId = optionalAttribute(this.verifyRole, "id");
    this.verifyVpcPolicy = new IamRolePolicy(this, "VerifyVpcPolicy", {
      count,
      name: "vpc-access",
      role: verifyRoleId,
      policy: new DataAwsIamPolicyDocument(this, "VerifyVpcDocument", {
        statement: vpcAccessStatements(ctx, props.subnetIds),
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
      taggedMirrorsStatement(ctx, props.name, "ListMirrors", VERIFY_ACTIONS.listMirrors),
      ...backlogCredentialStatements(ctx, props.parameterNames),
      {
        sid: "ReadRepositoryList",
        effect: "Allow",
        actions: [...VERIFY_ACTIONS.repositoryList],
        resources: [props.repositoryListArn],
      },
      ...buildScriptsSourceStatements(props.bucketArn),
      { sid: "KeepInSyncTimes", effect: "Allow", actions: [...VERIFY_ACTIONS.inSyncState], resources: [props.inSyncStateArn] },
      { sid: "ReportOutOfSync", effect: "Allow", actions: [...VERIFY_ACTIONS.reportOutOfSync], resources: [props.alertStateMachineArn] },
      publishHealthMetricsStatement(),
    ];
    if (props.kmsKeyArn !== undefined) {
      statements.push({ sid: "UseMirrorKey", effect: "Allow", actions: [...VERIFY_ACTIONS.decrypt], resources: [props.kmsKeyArn] });
    }
    new IamRolePolicy(this, "VerifyPolicy", {
      count,
      name: "verify-mirrors",
      role: verifyRoleId,
      policy: new DataAwsIamPolicyDocument(this, "VerifyDocument", { statement: statements }).json,
    });

    this.scheduleRole = new IamRole(this, "ScheduleRole", {
      count,
      name: `${props.name}-verify-schedule`,
      description: `Schedule of the Backlog mirror's safety net: starts ${projectName} only`,
      assumeRolePolicy: trust("ScheduleTrust", "events.amazonaws.com"),
    });
    new IamRolePolicy(this, "SchedulePolicy", {
      count,
      name: "start-verify",
      role: optionalAttribute(this.scheduleRole, "id"),
      policy: new DataAwsIamPolicyDocument(this, "ScheduleDocument", {
        statement: [{ sid: "StartVerify", effect: "Allow", actions: [...START_BUILD_ACTIONS], resources: [this.verifyProjectArn] }],
      }).json,
    });
    this.verifyRoleArn = optionalAttribute(this.verifyRole, "arn");
    this.scheduleRoleArn = optionalAttribute(this.scheduleRole, "arn");
  }
}
