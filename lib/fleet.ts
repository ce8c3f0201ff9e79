/**
 * The optional reserved-capacity fleet (setting `build.fleet`): one CodeBuild fleet `NAME-fleet` of
 * ARM instances in the stack's subnets and build security group, its service role, and where it
 * puts the builds: the sync projects and the safety net's `NAME-verify` take `environment.fleet`.
 *
 * What AWS documents, and what this file does with it:
 * - A fleet keeps `baseCapacity` instances running, each running one build at a time, billed while
 *   provisioned; `overflowBehavior` `QUEUE` makes further builds wait for an instance, `ON_DEMAND`
 *   runs them on on-demand compute (CodeBuild User Guide, "Run builds on reserved capacity fleets"
 *   and "Reserved capacity fleet properties", https://docs.aws.amazon.com/codebuild/latest/userguide/fleets.html).
 * - `environmentType` `ARM_CONTAINER` with `BUILD_GENERAL1_SMALL`/`_MEDIUM`/`_LARGE` is the sync
 *   builds' platform (CodeBuild API Reference, CreateFleet `environmentType` and `computeType`:
 *   "For environment type ARM_CONTAINER, you can use up to 4 GiB memory and 2 vCPUs on ARM-based
 *   processors" for SMALL; ARM_CONTAINER fleets exist in the regions of lib/regions.ts, the same list).
 * - A fleet in a VPC (`vpcConfig`) places its instances' network interfaces with its own service role,
 *   `fleetServiceRole` (CreateFleet: "For more information, see Allow a user to add a permission
 *   policy for a fleet service role in the CodeBuild User Guide"). Its EC2 grants are those of the
 *   User Guide's "Example policy statement to allow CodeBuild access to AWS services required to
 *   create a VPC network interface", which CreateFleet's `overflowBehavior` cites, with two changes
 *   that aws-cdk's `Fleet` made after its integration tests on AWS (aws/aws-cdk pull request 34572,
 *   `packages/aws-cdk-lib/aws-codebuild/lib/fleet.ts`): `ec2:ModifyNetworkInterfaceAttribute` added,
 *   and `ec2:CreateNetworkInterfacePermission` scoped by `ec2:Subnet` only, because the
 *   `ec2:AuthorizedService` condition of the example made AWS refuse the fleet ("The fleet service
 *   role is not authorized to perform ec2:CreateNetworkInterfacePermission"; also reported in
 *   aws-cloudformation/cloudformation-coverage-roadmap issue 2047). Unverified here on a real
 *   account (docs/real-account-checklist.md).
 * - A project on a fleet: CreateProject `vpcConfig`: "If you're using compute fleets during project
 *   creation, do not provide vpcConfig", and `environment.type` "will be ignored" (CodeBuild API
 *   Reference, CreateProject and ProjectEnvironment; the model of @aws-sdk/client-codebuild
 *   3.1142.0 has the same text). So a project on the fleet has `environment.fleet` and no
 *   `vpc_config`; its `computeType` is the fleet's (the documentation names no rule for it, and a
 *   project that agrees with its fleet needs none). With `ON_DEMAND` overflow, "make sure that you add
 *   the required VPC permissions to your project service role" (CreateFleet `overflowBehavior`): the
 *   build roles keep theirs (lib/iam.ts `vpcAccessStatements`).
 * - The fleets documentation lists no limitation for EFS file system locations: unverified with EFS
 *   on a real account (docs/real-account-checklist.md).
 */
import { CodebuildFleet } from "@cdktf/provider-aws/lib/codebuild-fleet";
import type { CodebuildProject, CodebuildProjectEnvironmentFleet, CodebuildProjectVpcConfig } from "@cdktf/provider-aws/lib/codebuild-project";
import { DataAwsIamPolicyDocument, type DataAwsIamPolicyDocumentStatement } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { Token, ref } from "cdktf";
import { Construct } from "constructs";
import { type ArnContext, BUILD_ACTIONS, arn, serviceTrustPolicy } from "./iam";
import type { FleetOverflow } from "./props";
import { type StringList, type Switch, countOf, hclTemplate, listValue, mapList, optionalAttribute } from "./terraform-values";

/** The fleet's environment type: the sync builds' (lib/mirror-build.ts). */
export const FLEET_ENVIRONMENT_TYPE = "ARM_CONTAINER";

/** Default of `build.fleet.overflow`: a build beyond the fleet runs as it would without one. */
export const DEFAULT_FLEET_OVERFLOW: FleetOverflow = "on-demand";

/** The setting's values as CodeBuild's `overflowBehavior`. */
export const FLEET_OVERFLOW_BEHAVIORS = { "on-demand": "ON_DEMAND", queue: "QUEUE" } as const satisfies Record<FleetOverflow, string>;

/** `NAME-fleet`. */
export function fleetName(name: string): string {
  return `${name}-fleet`;
}

/** Actions of the fleet's service role, by purpose (see the file's header for their source). */
export const FLEET_ACTIONS = {
  /** None of these is scoped in practice (aws-cdk's note): `*`. */
  networkInterfaces: [...BUILD_ACTIONS.vpcDescribe, "ec2:ModifyNetworkInterfaceAttribute"],
  /** Scoped to the stack's subnets. */
  networkInterfacePermission: [...BUILD_ACTIONS.vpcPermission],
} as const;

/** The fleet service role's statements: the instances' network interfaces in `subnetIds`. */
export function fleetServiceRoleStatements(ctx: ArnContext, subnetIds: StringList): DataAwsIamPolicyDocumentStatement[] {
  return [
    {
      sid: "FleetNetworkInterfaces",
      effect: "Allow",
      actions: [...FLEET_ACTIONS.networkInterfaces],
      // The Describe* actions support no resource-level permissions; aws-cdk found the other three
      // refused on AWS when scoped (the instances are in an account CodeBuild manages).
      resources: ["*"],
    },
    {
      sid: "FleetNetworkInterfacePermission",
      effect: "Allow",
      actions: [...FLEET_ACTIONS.networkInterfacePermission],
      resources: [arn(ctx, "ec2", "network-interface/*")],
      condition: [{ test: "StringEquals", variable: "ec2:Subnet", values: listValue(mapList(subnetIds, (s) => arn(ctx, "ec2", `subnet/${s}`))) }],
    },
  ];
}

/** The fleet setting as the construct takes it (lib/mirror-inputs.ts). */
export interface FleetInputs {
  /** Whether the fleet exists. */
  readonly when: Switch;
  readonly baseCapacity: number;
  /** CodeBuild's `overflowBehavior` ({@link FLEET_OVERFLOW_BEHAVIORS}). */
  readonly overflowBehavior: string;
}

/** Props of {@link MirrorFleet}. */
export interface MirrorFleetProps {
  readonly name: string;
  readonly arnContext: ArnContext;
  readonly fleet: FleetInputs;
  /** The sync builds' compute type, which the fleet's instances have. */
  readonly computeType: string;
  readonly vpcId: string;
  readonly subnetIds: StringList;
  /** The sync builds' security group (egress to Backlog, CodeCommit and EFS). */
  readonly securityGroupId: string;
}

/** How a project places its builds in the VPC: its own `vpc_config`, or the fleet. */
export interface BuildPlacement {
  readonly vpcConfig?: CodebuildProjectVpcConfig;
  readonly fleet?: CodebuildProjectEnvironmentFleet;
  readonly computeType: string;
  /** Adds what the project needs besides (the module's `dynamic` blocks when the fleet is a condition). */
  addTo(project: CodebuildProject): void;
}

/**
 * A project's placement: in the VPC by itself without a fleet; on the fleet when it exists. In the
 * module, where the fleet is a condition, both as `dynamic` blocks under it.
 */
export function buildPlacement(vpcConfig: CodebuildProjectVpcConfig, computeType: string, fleet?: MirrorFleet): BuildPlacement {
  const when = fleet?.when ?? false;
  if (fleet === undefined || when === false) return { vpcConfig, computeType, addTo: () => undefined };
  if (when === true) return { fleet: { fleetArn: fleet.arn }, computeType: fleet.computeType, addTo: () => undefined };
  const on = (xs: string) => Token.asAny(ref(`${when.hcl} ? ${xs} : []`));
  const off = (xs: string) => Token.asAny(ref(`${when.hcl} ? [] : ${xs}`));
  return {
    computeType: fleet.computeType === computeType ? computeType : Token.asString(ref(`${when.hcl} ? ${hclTemplate(fleet.computeType)} : ${hclTemplate(computeType)}`)),
    addTo: (project) => {
      project.addOverride("environment.dynamic.fleet", { for_each: on("[1]"), content: { fleet_arn: fleet.arn } });
      project.addOverride("dynamic.vpc_config", {
        for_each: off("[1]"),
        content: { vpc_id: vpcConfig.vpcId, subnets: vpcConfig.subnets, security_group_ids: vpcConfig.securityGroupIds },
      });
    },
  };
}

/** `NAME-fleet`, its service role and the role's policy. */
export class MirrorFleet extends Construct {
  public readonly fleet: CodebuildFleet;
  public readonly role: IamRole;
  public readonly rolePolicy: IamRolePolicy;
  /** The fleet's ARN (`one(...)` of the counted fleet in the module). */
  public readonly arn: string;
  /** Whether the fleet exists. */
  public readonly when: Switch;
  /** The compute type of the fleet's instances. */
  public readonly computeType: string;

  constructor(scope: Construct, id: string, props: MirrorFleetProps) {
    super(scope, id);
    const ctx = props.arnContext;
    this.when = props.fleet.when;
    this.computeType = props.computeType;
    const count = countOf(props.fleet.when);

    this.role = new IamRole(this, "Role", {
      count,
      name: `${props.name}-codebuild-fleet`,
      description: `Service role of the CodeBuild fleet ${fleetName(props.name)}: the instances' network interfaces in the mirror's subnets`,
      // The confused-deputy guard, as for the build roles (lib/iam.ts).
      assumeRolePolicy: serviceTrustPolicy(this, "Trust", "codebuild.amazonaws.com", ctx.accountId),
    });
    this.rolePolicy = new IamRolePolicy(this, "RolePolicy", {
      count,
      name: "fleet-network",
      role: optionalAttribute(this.role, "id"),
      policy: new DataAwsIamPolicyDocument(this, "Document", { statement: fleetServiceRoleStatements(ctx, props.subnetIds) }).json,
    });

    this.fleet = new CodebuildFleet(this, "Resource", {
      count,
      name: fleetName(props.name),
      baseCapacity: props.fleet.baseCapacity,
      environmentType: FLEET_ENVIRONMENT_TYPE,
      computeType: props.computeType,
      overflowBehavior: props.fleet.overflowBehavior,
      fleetServiceRole: optionalAttribute(this.role, "arn"),
      vpcConfig: [{ vpcId: props.vpcId, subnets: listValue(props.subnetIds), securityGroupIds: [props.securityGroupId] }],
      // The fleet places its instances' network interfaces as it is created.
      dependsOn: [this.rolePolicy],
    });
    this.arn = optionalAttribute(this.fleet, "arn");
  }
}
