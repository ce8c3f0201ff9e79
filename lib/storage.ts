/**
 * Storage: the EFS file system that keeps the bare mirrors between builds, and the S3 build-cache
 * bucket.
 */
import { DataAwsIamPolicyDocument } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { EfsBackupPolicy } from "@cdktf/provider-aws/lib/efs-backup-policy";
import { EfsFileSystem } from "@cdktf/provider-aws/lib/efs-file-system";
import { EfsMountTarget } from "@cdktf/provider-aws/lib/efs-mount-target";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketLifecycleConfiguration } from "@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls";
import { S3BucketPolicy } from "@cdktf/provider-aws/lib/s3-bucket-policy";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import { Construct } from "constructs";

/** Days after which cache objects expire. */
export const CACHE_EXPIRATION_DAYS = 30;
/** Days after which incomplete multipart uploads are aborted. */
export const ABORT_MULTIPART_DAYS = 7;

/**
 * Attaches a bucket policy that denies every request made without TLS (`aws:SecureTransport`
 * false), on the bucket and its objects. Shared by the cache bucket and the state bucket.
 */
export function denyInsecureTransport(
  scope: Construct,
  bucket: S3Bucket,
  ids: { readonly documentId: string; readonly policyId: string },
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
  return new S3BucketPolicy(scope, ids.policyId, { bucket: bucket.id, policy: document.json });
}

/** Props of {@link MirrorStorage}. */
export interface MirrorStorageProps {
  /** Prefix of the names. */
  readonly name: string;
  /** AWS account id, part of the globally unique bucket name. */
  readonly accountId: string;
  /** One mount target is created in each subnet. Changing the list replaces mount targets. */
  readonly subnetIds: string[];
  /** Security group of the mount targets. */
  readonly fileSystemSecurityGroupId: string;
  /**
   * Customer-managed key for EFS and the bucket. Adding or removing it replaces the file system.
   * @default - AWS-managed encryption (EFS: aws/elasticfilesystem, S3: SSE-S3 AES256)
   */
  readonly kmsKeyArn?: string;
}

/** EFS for the mirrors, S3 for the build cache. */
export class MirrorStorage extends Construct {
  public readonly fileSystem: EfsFileSystem;
  public readonly mountTargets: EfsMountTarget[];
  public readonly cacheBucket: S3Bucket;

  constructor(scope: Construct, id: string, props: MirrorStorageProps) {
    super(scope, id);

    this.fileSystem = new EfsFileSystem(this, "FileSystem", {
      performanceMode: "generalPurpose",
      throughputMode: "bursting",
      encrypted: true,
      kmsKeyId: props.kmsKeyArn,
      tags: { Name: `${props.name}-mirrors` },
    });
    // The mirrors are a cache of Backlog: rebuilt by the next sync, not worth backing up.
    new EfsBackupPolicy(this, "BackupPolicy", {
      fileSystemId: this.fileSystem.id,
      backupPolicy: { status: "DISABLED" },
    });
    this.mountTargets = props.subnetIds.map(
      (subnetId, i) =>
        new EfsMountTarget(this, `MountTarget${i + 1}`, {
          fileSystemId: this.fileSystem.id,
          subnetId,
          securityGroups: [props.fileSystemSecurityGroupId],
        }),
    );

    this.cacheBucket = new S3Bucket(this, "CacheBucket", {
      bucket: `${props.name}-build-cache-${props.accountId}`,
      forceDestroy: true, // a cache: deleting the stack deletes its objects
    });
    new S3BucketOwnershipControls(this, "CacheOwnership", {
      bucket: this.cacheBucket.id,
      rule: { objectOwnership: "BucketOwnerEnforced" }, // ACLs disabled
    });
    new S3BucketServerSideEncryptionConfigurationA(this, "CacheEncryption", {
      bucket: this.cacheBucket.id,
      rule: [
        props.kmsKeyArn === undefined
          ? { applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }
          : {
              applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: props.kmsKeyArn },
              bucketKeyEnabled: true,
            },
      ],
    });
    new S3BucketPublicAccessBlock(this, "CachePublicAccessBlock", {
      bucket: this.cacheBucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    new S3BucketLifecycleConfiguration(this, "CacheLifecycle", {
      bucket: this.cacheBucket.id,
      rule: [
        {
          id: "expire-cache",
          status: "Enabled",
          filter: [{ prefix: "" }],
          expiration: [{ days: CACHE_EXPIRATION_DAYS }],
          abortIncompleteMultipartUpload: [{ daysAfterInitiation: ABORT_MULTIPART_DAYS }],
        },
      ],
    });
    denyInsecureTransport(this, this.cacheBucket, { documentId: "CacheTlsOnlyDocument", policyId: "CachePolicy" });
  }
}
