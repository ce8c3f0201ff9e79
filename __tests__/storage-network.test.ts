import { addressOf, exampleConfig, onlyResource, policyDocument, refOf, resources, synthStack } from "../test/support/synth";
import { BUCKET_CONFIGURATION_ORDER } from "../lib/storage";

const synth = synthStack(exampleConfig());
const fs = onlyResource(synth, "aws_efs_file_system");
const bucket = onlyResource(synth, "aws_s3_bucket");
const bucketRef = refOf(synth, "aws_s3_bucket", bucket);
const buildSg = resources(synth, "aws_security_group").find((g) => g.name === "backlog-mirror-codebuild")!;
const efsSg = resources(synth, "aws_security_group").find((g) => g.name === "backlog-mirror-efs")!;

describe("EFS", () => {
  // Bursting gives 50 KiB/s per GiB stored, which a small mirror store's repacks exhaust; elastic
  // scales with the load (EFS User Guide, "Throughput modes").
  test("is encrypted, general purpose and in elastic throughput mode", () => {
    expect(fs).toMatchObject({ encrypted: true, performance_mode: "generalPurpose", throughput_mode: "elastic" });
  });

  test("has automatic backups disabled (the mirrors are rebuilt from Backlog)", () => {
    expect(onlyResource(synth, "aws_efs_backup_policy")).toEqual({
      file_system_id: refOf(synth, "aws_efs_file_system", fs),
      backup_policy: { status: "DISABLED" },
    });
  });

  test("has one mount target per Availability Zone of the configured subnets (looked up), behind the EFS security group", () => {
    const target = onlyResource(synth, "aws_efs_mount_target");
    const lookups = Object.entries<any>(synth.data.aws_subnet);
    expect(lookups.map(([, d]) => d.id)).toEqual(["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]);
    const zones = lookups.map(([name]) => `data.aws_subnet.${name}.availability_zone`);
    // zipmap keeps one subnet per AZ (the last one given): two subnets in one AZ are not an error.
    expect(target.for_each).toBe(`\${zipmap([${zones.join(", ")}], ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"])}`);
    expect(target.subnet_id).toBe("${each.value}");
    expect(target.file_system_id).toBe(refOf(synth, "aws_efs_file_system", fs));
    expect(target.security_groups).toEqual([refOf(synth, "aws_security_group", efsSg)]);
  });

  test("in the VPC it creates, keys the mount targets by the private subnets' Availability Zones (no lookup)", () => {
    const config: any = exampleConfig();
    delete config.network;
    const own = synthStack(config);
    const target = onlyResource(own, "aws_efs_mount_target");
    expect(target.for_each).toMatch(/^\$\{zipmap\(\[aws_subnet\.[^.]+\.availability_zone, aws_subnet\.[^.]+\.availability_zone\], \[aws_subnet\.[^.]+\.id, aws_subnet\.[^.]+\.id\]\)\}$/);
    expect(own.data.aws_subnet).toBeUndefined();
  });
});

describe("the stack's bucket", () => {
  test("is configured one call at a time: ownership, public access block, encryption, policy, versioning, lifecycle (S3 OperationAborted on concurrent calls)", () => {
    const chain = BUCKET_CONFIGURATION_ORDER;
    chain.forEach((type, i) => {
      const r = onlyResource(synth, type);
      expect(r.bucket).toBe(refOf(synth, "aws_s3_bucket", bucket));
      expect(r.depends_on).toEqual(i === 0 ? undefined : [addressOf(synth, chain[i - 1], onlyResource(synth, chain[i - 1]))]);
    });
  });
});

describe("security groups", () => {
  test("are both in the configured VPC and have no inline rules", () => {
    for (const g of [buildSg, efsSg]) {
      expect(g.vpc_id).toBe("vpc-0123456789abcdef0");
      expect(g.ingress).toBeUndefined();
      expect(g.egress).toBeUndefined();
    }
  });

  test("let builds out only on SSH and HTTPS to the internet and NFS to the EFS group", () => {
    const egress = resources(synth, "aws_vpc_security_group_egress_rule")
      .filter((r) => r.security_group_id === refOf(synth, "aws_security_group", buildSg))
      .map(({ ip_protocol, from_port, to_port, cidr_ipv4, referenced_security_group_id }) => ({
        ip_protocol,
        from_port,
        to_port,
        to: cidr_ipv4 ?? referenced_security_group_id,
      }))
      .sort((a, b) => a.from_port - b.from_port);
    expect(egress).toEqual([
      { ip_protocol: "tcp", from_port: 22, to_port: 22, to: "0.0.0.0/0" },
      { ip_protocol: "tcp", from_port: 443, to_port: 443, to: "0.0.0.0/0" },
      { ip_protocol: "tcp", from_port: 2049, to_port: 2049, to: refOf(synth, "aws_security_group", efsSg) },
    ]);
    expect(resources(synth, "aws_vpc_security_group_egress_rule")).toHaveLength(3);
  });

  test("admit NFS to EFS from the build group only, and nothing into the builds", () => {
    expect(resources(synth, "aws_vpc_security_group_ingress_rule")).toEqual([
      expect.objectContaining({
        security_group_id: refOf(synth, "aws_security_group", efsSg),
        ip_protocol: "tcp",
        from_port: 2049,
        to_port: 2049,
        referenced_security_group_id: refOf(synth, "aws_security_group", buildSg),
      }),
    ]);
    expect(resources(synth, "aws_vpc_security_group_ingress_rule")[0].cidr_ipv4).toBeUndefined();
  });
});

describe("cache bucket", () => {
  test("is named PREFIX-build-cache-ACCOUNT", () => {
    const account = Object.keys(synth.data.aws_caller_identity)[0];
    expect(bucket.bucket).toBe(`backlog-mirror-build-cache-\${data.aws_caller_identity.${account}.account_id}`);
  });

  test("encrypts with AES256", () => {
    expect(onlyResource(synth, "aws_s3_bucket_server_side_encryption_configuration")).toMatchObject({
      bucket: bucketRef,
      rule: [{ apply_server_side_encryption_by_default: { sse_algorithm: "AES256" } }],
    });
  });

  test("blocks all public access and disables ACLs", () => {
    expect(onlyResource(synth, "aws_s3_bucket_public_access_block")).toMatchObject({
      bucket: bucketRef,
      block_public_acls: true,
      block_public_policy: true,
      ignore_public_acls: true,
      restrict_public_buckets: true,
    });
    expect(onlyResource(synth, "aws_s3_bucket_ownership_controls")).toEqual({
      bucket: bucketRef,
      rule: { object_ownership: "BucketOwnerEnforced" },
    });
  });

  test("keeps backup bundles (current and noncurrent versions) 90 days by default, aborts multipart uploads after 7, keeps the current build scripts, after versioning is on", () => {
    const lifecycle = onlyResource(synth, "aws_s3_bucket_lifecycle_configuration");
    expect(lifecycle).toEqual({
      bucket: bucketRef,
      depends_on: [expect.stringMatching(/^aws_s3_bucket_versioning\./)],
      rule: [
        {
          id: "expire-backups",
          status: "Enabled",
          filter: [{ prefix: "backups/" }],
          expiration: [{ days: 90 }],
          noncurrent_version_expiration: [{ noncurrent_days: 90 }],
          abort_incomplete_multipart_upload: [{ days_after_initiation: 7 }],
        },
        {
          // The build scripts (lib/build-scripts.ts): the current ones never expire, replaced ones
          // are kept 14 days as noncurrent versions.
          id: "expire-replaced-tools",
          status: "Enabled",
          filter: [{ prefix: "tools/" }],
          noncurrent_version_expiration: [{ noncurrent_days: 14 }],
          expiration: [{ expired_object_delete_marker: true }],
        },
      ],
    });
    expect(onlyResource(synth, "aws_s3_bucket_versioning")).toMatchObject({
      bucket: bucketRef,
      versioning_configuration: { status: "Enabled" },
    });
  });

  test("backups.retentionDays sets the retention of the backup bundles", () => {
    const lifecycle = onlyResource(synthStack({ ...exampleConfig(), backups: { retentionDays: 30 } }), "aws_s3_bucket_lifecycle_configuration");
    expect(lifecycle.rule[0].expiration).toEqual([{ days: 30 }]);
    expect(lifecycle.rule[0].noncurrent_version_expiration).toEqual([{ noncurrent_days: 30 }]);
  });

  test("denies every request that is not over TLS", () => {
    const policy = onlyResource(synth, "aws_s3_bucket_policy");
    expect(policy.bucket).toBe(bucketRef);
    expect(policyDocument(synth, policy.policy).statement).toEqual([
      {
        sid: "DenyInsecureTransport",
        effect: "Deny",
        principals: [{ type: "*", identifiers: ["*"] }],
        actions: ["s3:*"],
        resources: [refOf(synth, "aws_s3_bucket", bucket, "arn"), `${refOf(synth, "aws_s3_bucket", bucket, "arn")}/*`],
        condition: [{ test: "Bool", variable: "aws:SecureTransport", values: ["false"] }],
      },
    ]);
  });
});
