/**
 * Storage: the EFS file system that keeps the bare mirrors between builds, its mount targets (one
 * per Availability Zone of the build subnets), and the stack's S3 bucket (no longer a build cache:
 * kept for the sync's backups and the build scripts).
 */
import { DataAwsIamPolicyDocument } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { DataAwsSubnet } from "@cdktf/provider-aws/lib/data-aws-subnet";
import { EfsBackupPolicy } from "@cdktf/provider-aws/lib/efs-backup-policy";
import { EfsFileSystem } from "@cdktf/provider-aws/lib/efs-file-system";
import { EfsMountTarget } from "@cdktf/provider-aws/lib/efs-mount-target";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketLifecycleConfiguration, type S3BucketLifecycleConfigurationRule } from "@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls";
import { S3BucketPolicy } from "@cdktf/provider-aws/lib/s3-bucket-policy";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import {
  S3BucketServerSideEncryptionConfigurationA,
  type S3BucketServerSideEncryptionConfigurationRuleA,
} from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import { S3BucketVersioningA } from "@cdktf/provider-aws/lib/s3-bucket-versioning";
import { Fn, type ITerraformDependable, TerraformIterator, Token, ref } from "cdktf";
import { Construct } from "constructs";
import { BUILD_TOOLS_PREFIX } from "./build-scripts";
import { type StringList, isListExpression, listValue } from "./terraform-values";

/** Days after which cache objects expire. */
export const CACHE_EXPIRATION_DAYS = 30;
/** Default days a backup bundle is kept (setting `backups.retentionDays`). */
export const DEFAULT_BACKUP_RETENTION_DAYS = 90;
/** Key prefix of the sync's backup bundles: `backups/PROJECT/REPO/<UTC time>-<ref>.bundle`. */
export const BACKUP_PREFIX = "backups/";
/** Days after which incomplete multipart uploads are aborted. */
export const ABORT_MULTIPART_DAYS = 7;
/**
 * Days a replaced build tool (an object under `tools/` that Terraform deleted when the scripts
 * changed: lib/build-scripts.ts) is kept as a noncurrent version. Current tools never expire.
 */
export const REPLACED_TOOLS_DAYS = 14;

/**
 * Attaches a bucket policy that denies every request made without TLS (`aws:SecureTransport`
 * false), on the bucket and its objects. Shared by the cache bucket and the state bucket.
 */
export function denyInsecureTransport(
  scope: Construct,
  bucket: S3Bucket,
  ids: { readonly documentId: string; readonly policyId: string },
  dependsOn?: ITerraformDependable[],
): S3BucketPolicy {
  const document = new DataAwsIamPolicyDocument(scope, ids.documentId, {
    statement: [
      {
        sid: "DenyInsecureTransport",
        effect: "Deny",
        principals: [{ type: "*", identifiers: ["*"] }],
        actions: ["s3:*"],
        resources: [bucket.arn, `${bucket.arn}/*`],
        condition: [{ test: "Bool", variable: "aws:SecureTransport", values: ["false"] }],
      },
    ],
  });
  return new S3BucketPolicy(scope, ids.policyId, { bucket: bucket.id, policy: document.json, dependsOn });
}

/**
 * The configuration resources of a bucket, in the order they are applied: one call at a time, since
 * S3 answers OperationAborted ("A conflicting conditional operation is currently in progress") to
 * concurrent configuration calls on a freshly created bucket (terraform-provider-aws issues #7628
 * and #36873). Versioning comes before the lifecycle, whose noncurrent-version rules apply to a
 * versioned bucket.
 */
export const BUCKET_CONFIGURATION_ORDER = [
  "aws_s3_bucket_ownership_controls",
  "aws_s3_bucket_public_access_block",
  "aws_s3_bucket_server_side_encryption_configuration",
  "aws_s3_bucket_policy",
  "aws_s3_bucket_versioning",
  "aws_s3_bucket_lifecycle_configuration",
] as const;

/** Construct ids of the resources {@link configurePrivateBucket} adds (kept per bucket: they are Terraform addresses). */
export interface PrivateBucketIds {
  readonly ownership: string;
  readonly publicAccessBlock: string;
  readonly encryption: string;
  readonly tlsOnlyDocument: string;
  readonly tlsOnlyPolicy: string;
  readonly versioning: string;
  readonly lifecycle: string;
}

/**
 * Makes a bucket private and durable, in {@link BUCKET_CONFIGURATION_ORDER}: ACLs disabled, public
 * access blocked, encrypted by default (`encryption`), TLS only ({@link denyInsecureTransport}),
 * versioned, and expired by `lifecycleRules`. Shared by the stack's bucket and the state bucket.
 */
export function configurePrivateBucket(
  scope: Construct,
  bucket: S3Bucket,
  ids: PrivateBucketIds,
  settings: { readonly encryption: S3BucketServerSideEncryptionConfigurationRuleA; readonly lifecycleRules: S3BucketLifecycleConfigurationRule[] },
): void {
  const ownership = new S3BucketOwnershipControls(scope, ids.ownership, {
    bucket: bucket.id,
    rule: { objectOwnership: "BucketOwnerEnforced" }, // ACLs disabled
  });
  const publicAccessBlock = new S3BucketPublicAccessBlock(scope, ids.publicAccessBlock, {
    bucket: bucket.id,
    blockPublicAcls: true,
    blockPublicPolicy: true,
    ignorePublicAcls: true,
    restrictPublicBuckets: true,
    dependsOn: [ownership],
  });
  const encryption = new S3BucketServerSideEncryptionConfigurationA(scope, ids.encryption, {
    bucket: bucket.id,
    dependsOn: [publicAccessBlock],
    rule: [settings.encryption],
  });
  const policy = denyInsecureTransport(scope, bucket, { documentId: ids.tlsOnlyDocument, policyId: ids.tlsOnlyPolicy }, [encryption]);
  const versioning = new S3BucketVersioningA(scope, ids.versioning, {
    bucket: bucket.id,
    versioningConfiguration: { status: "Enabled" },
    dependsOn: [policy],
  });
  new S3BucketLifecycleConfiguration(scope, ids.lifecycle, {
    bucket: bucket.id,
    dependsOn: [versioning],
    rule: settings.lifecycleRules,
  });
}

/** Props of {@link MirrorStorage}. */
export interface MirrorStorageProps {
  /** Prefix of the names. */
  readonly name: string;
  /** AWS account id, part of the globally unique bucket name. */
  readonly accountId: string;
  /**
   * The build subnets. One mount target is created per Availability Zone among them (EFS allows one
   * per AZ; a second subnet in the same AZ gets none and uses the AZ's mount target).
   */
  readonly subnetIds: StringList;
  /**
   * The subnets' Availability Zones, in the order of `subnetIds`, when this module knows them (the
   * VPC it creates).
   * @default - looked up with one `aws_subnet` data source per subnet; for subnet ids that are
   *   references to subnets created in the same apply (unknown until then), one mount target per
   *   subnet, keyed by position: such subnets must be in different AZs
   */
  readonly subnetAvailabilityZones?: string[];
  /** Security group of the mount targets. */
  readonly fileSystemSecurityGroupId: string;
  /**
   * Customer-managed key for EFS and the bucket. Adding or removing it replaces the file system.
   * @default - AWS-managed encryption (EFS: aws/elasticfilesystem, S3: SSE-S3 AES256)
   */
  readonly kmsKeyArn?: string;
  /**
   * Days the sync's backup bundles (and their noncurrent versions) are kept.
   * @default 90
   */
  readonly backupRetentionDays?: number;
}

/** EFS for the mirrors, S3 for the sync's backup bundles (the former build cache). */
export class MirrorStorage extends Construct {
  public readonly fileSystem: EfsFileSystem;
  /** The mount targets: one resource with `for_each`, keyed by Availability Zone. */
  public readonly mountTargets: EfsMountTarget;
  public readonly cacheBucket: S3Bucket;
  /** Bucket of the sync's backup bundles (the same bucket; it held the build cache before). */
  public readonly backupBucket: S3Bucket;

  constructor(scope: Construct, id: string, props: MirrorStorageProps) {
    super(scope, id);

    // Elastic throughput, not bursting. In bursting mode the baseline is 50 KiB/s per GiB stored
    // (about 0.25 MiB/s for a 5 GiB mirror store) and anything above it spends burst credits, which
    // a series of fetches and repacks drains, after which every sync crawls at the baseline. Elastic
    // throughput "automatically scales up or down to meet the needs of your workload activity" and
    // is recommended for spiky workloads with a low average-to-peak ratio (5% or less), which is what
    // webhook-driven syncs are (EFS User Guide, "Throughput modes",
    // https://docs.aws.amazon.com/efs/latest/ug/performance.html#throughput-modes, and "Managing file
    // system throughput", https://docs.aws.amazon.com/efs/latest/ug/managing-throughput.html).
    // Cost model: elastic bills the data read and written per GB on top of storage, where bursting's
    // throughput came with the storage price (https://aws.amazon.com/efs/pricing/).
    this.fileSystem = new EfsFileSystem(this, "FileSystem", {
      performanceMode: "generalPurpose",
      throughputMode: "elastic",
      encrypted: true,
      kmsKeyId: props.kmsKeyArn,
      tags: { Name: `${props.name}-mirrors` },
    });
    // The mirrors are a cache of Backlog: rebuilt by the next sync, not worth backing up.
    new EfsBackupPolicy(this, "BackupPolicy", {
      fileSystemId: this.fileSystem.id,
      backupPolicy: { status: "DISABLED" },
    });
    // One mount target per Availability Zone: a second mount target in an AZ that has one fails
    // with MountTargetConflict (EFS API Reference, "CreateMountTarget": "You can create only one
    // mount target for an EFS file system per Availability Zone"). `zipmap` keeps the last subnet
    // of each AZ ("If the same value appears multiple times in keys then the value with the highest
    // index is used", Terraform language documentation, "zipmap Function"); the keys are the AZ
    // names, known at plan time from the data sources.
    // A list known only at apply (the module's variable): one data source with `for_each` over it.
    const subnets = props.subnetIds;
    let keys: string[];
    if (props.subnetAvailabilityZones !== undefined) keys = props.subnetAvailabilityZones;
    else if (isListExpression(subnets)) {
      const each = TerraformIterator.fromList(listValue(subnets));
      const lookup = new DataAwsSubnet(this, "Subnet", { forEach: each, id: each.value });
      keys = Token.asList(ref(`[for s in ${subnets.hcl} : data.${lookup.terraformResourceType}.${lookup.friendlyUniqueId}[s].availability_zone]`));
    } else if (subnets.some((id) => Token.isUnresolved(id))) keys = subnets.map((_, i) => String(i + 1));
    else keys = subnets.map((id, i) => new DataAwsSubnet(this, `Subnet${i + 1}`, { id }).availabilityZone);
    const byZone = TerraformIterator.fromMap(Fn.zipmap(keys, listValue(subnets)));
    this.mountTargets = new EfsMountTarget(this, "MountTarget", {
      forEach: byZone,
      fileSystemId: this.fileSystem.id,
      subnetId: byZone.value,
      securityGroups: [props.fileSystemSecurityGroupId],
    });

    // The name and the construct id keep "cache" (what the bucket held first): a new name would make
    // Terraform replace the bucket, and the replacement would delete every backup in it.
    this.cacheBucket = new S3Bucket(this, "CacheBucket", {
      bucket: `${props.name}-build-cache-${props.accountId}`,
      // Destroying the stack deletes the backups with it, as it deletes the CodeCommit repositories
      // they protect (docs/restore.md says so); without it, destroy would stop at a versioned bucket
      // that is never empty.
      forceDestroy: true,
    });
    this.backupBucket = this.cacheBucket;
    // Versioned: an overwritten or deleted backup stays recoverable for the retention period.
    const retentionDays = props.backupRetentionDays ?? DEFAULT_BACKUP_RETENTION_DAYS;
    configurePrivateBucket(
      this,
      this.cacheBucket,
      {
        ownership: "CacheOwnership",
        publicAccessBlock: "CachePublicAccessBlock",
        encryption: "CacheEncryption",
        tlsOnlyDocument: "CacheTlsOnlyDocument",
        tlsOnlyPolicy: "CachePolicy",
        versioning: "BackupVersioning",
        lifecycle: "CacheLifecycle",
      },
      {
        encryption:
          props.kmsKeyArn === undefined
            ? { applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }
            : { applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: props.kmsKeyArn }, bucketKeyEnabled: true },
        lifecycleRules: [
          {
            id: "expire-backups",
            status: "Enabled",
            filter: [{ prefix: BACKUP_PREFIX }],
            expiration: [{ days: retentionDays }],
            noncurrentVersionExpiration: [{ noncurrentDays: retentionDays }],
            abortIncompleteMultipartUpload: [{ daysAfterInitiation: ABORT_MULTIPART_DAYS }],
          },
          {
            // Only what Terraform replaced: the current scripts (and their delete markers' targets)
            // stay as long as the stack does.
            id: "expire-replaced-tools",
            status: "Enabled",
            filter: [{ prefix: BUILD_TOOLS_PREFIX }],
            noncurrentVersionExpiration: [{ noncurrentDays: REPLACED_TOOLS_DAYS }],
            expiration: [{ expiredObjectDeleteMarker: true }],
          },
        ],
      },
    );
  }
}
