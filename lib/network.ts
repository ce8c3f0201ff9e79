/**
 * Network rules: one security group for the sync builds, one for the EFS mount targets.
 *
 * Builds may only open SSH (Backlog) and HTTPS (CodeCommit, SSM, S3, CloudWatch Logs) to the internet
 * and NFS to the EFS group; the EFS group admits NFS from the build group only and has no egress at
 * all (Terraform removes the default allow-all egress rule of a new group).
 */
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VpcSecurityGroupEgressRule } from "@cdktf/provider-aws/lib/vpc-security-group-egress-rule";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { Construct } from "constructs";

/** NFS, as used by EFS. */
export const NFS_PORT = 2049;

/** Props of {@link MirrorNetwork}. */
export interface MirrorNetworkProps {
  /** Prefix of the security-group names. */
  readonly name: string;
  /** The VPC of the builds and the mount targets. Changing it replaces both groups. */
  readonly vpcId: string;
}

/** The two security groups and their rules. */
export class MirrorNetwork extends Construct {
  /** Attached to the CodeBuild projects' VPC config. */
  public readonly buildSecurityGroup: SecurityGroup;
  /** Attached to the EFS mount targets. */
  public readonly fileSystemSecurityGroup: SecurityGroup;

  constructor(scope: Construct, id: string, props: MirrorNetworkProps) {
    super(scope, id);

    this.buildSecurityGroup = new SecurityGroup(this, "Build", {
      name: `${props.name}-codebuild`,
      description: "Backlog mirror sync builds: SSH and HTTPS out, NFS to EFS",
      vpcId: props.vpcId,
      tags: { Name: `${props.name}-codebuild` },
    });
    this.fileSystemSecurityGroup = new SecurityGroup(this, "FileSystem", {
      name: `${props.name}-efs`,
      description: "Backlog mirror EFS: NFS from the sync builds only",
      vpcId: props.vpcId,
      tags: { Name: `${props.name}-efs` },
    });

    const internetEgress: Array<[string, number, string]> = [
      ["SshEgress", 22, "SSH to the Backlog Git host"],
      ["HttpsEgress", 443, "HTTPS to CodeCommit and AWS APIs"],
    ];
    for (const [id, port, description] of internetEgress) {
      new VpcSecurityGroupEgressRule(this, id, {
        securityGroupId: this.buildSecurityGroup.id,
        description,
        ipProtocol: "tcp",
        fromPort: port,
        toPort: port,
        cidrIpv4: "0.0.0.0/0",
      });
    }
    new VpcSecurityGroupEgressRule(this, "NfsEgress", {
      securityGroupId: this.buildSecurityGroup.id,
      description: "NFS to the mirror file system",
      ipProtocol: "tcp",
      fromPort: NFS_PORT,
      toPort: NFS_PORT,
      referencedSecurityGroupId: this.fileSystemSecurityGroup.id,
    });
    new VpcSecurityGroupIngressRule(this, "NfsIngress", {
      securityGroupId: this.fileSystemSecurityGroup.id,
      description: "NFS from the sync builds",
      ipProtocol: "tcp",
      fromPort: NFS_PORT,
      toPort: NFS_PORT,
      referencedSecurityGroupId: this.buildSecurityGroup.id,
    });
  }
}
