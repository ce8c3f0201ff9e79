/**
 * The state bootstrap: a second, separate stack that creates the S3 bucket the main stack's S3
 * backend keeps its state in. It is the chicken of the chicken-and-egg problem, so its own state is
 * local by design (`state/terraform.tfstate`, next to this file; git-ignored, see
 * docs/state-bootstrap.md for how to keep it and how to recover without it).
 *
 * It reads the same configuration file as the main stack (config/example.json or MIRROR_CONFIG) and
 * uses its `state.bucket` and `state.region`, so the two can never disagree on the bucket.
 *
 * The bucket: versioning on (every state write is kept), SSE with a bucket key, ACLs disabled, all
 * public access blocked, a TLS-only bucket policy, `prevent_destroy` and no `force_destroy`
 * (Terraform refuses to plan its destruction and AWS refuses to delete it while it holds objects),
 * and old state versions expire after NONCURRENT_VERSION_DAYS.
 *
 * Synthesize: npm run synth:state   (writes cdktf.out/stacks/backlog-codecommit-mirror-state/)
 */
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { App, LocalBackend, TerraformOutput, TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import { withoutCdktfDeprecations } from "../lib/cdktf-deprecations";
import { configPath, loadStackConfig } from "../lib/stack-config";
import { configurePrivateBucket } from "../lib/storage";
import { REQUIRED_TERRAFORM_VERSION } from "../lib/terraform-version";
import { ConfigError } from "../lib/validation";

/** The state stack's name: its directory under cdktf.out/stacks/. */
export const STATE_STACK_NAME = "backlog-codecommit-mirror-state";

/**
 * Where the state stack keeps its own state, relative to the directory Terraform runs in
 * (cdktf.out/stacks/STATE_STACK_NAME/): `state/terraform.tfstate` in the repository.
 */
export const STATE_STACK_LOCAL_STATE = "../../../state/terraform.tfstate";

/** Days a replaced state version is kept before it expires. */
export const NONCURRENT_VERSION_DAYS = 90;

/** What the state stack needs: the bucket, its region and optional tags. */
export interface StateBucketSettings {
  readonly bucket: string;
  readonly region: string;
  readonly tags?: Record<string, string>;
}

/** The S3 backend's bucket, with local state. */
export class StateStack extends TerraformStack {
  public readonly bucket: S3Bucket;

  constructor(scope: Construct, id: string, settings: StateBucketSettings) {
    super(scope, id);
    new AwsProvider(this, "aws", {
      region: settings.region,
      defaultTags: settings.tags !== undefined ? [{ tags: settings.tags }] : undefined,
    });
    new LocalBackend(this, { path: STATE_STACK_LOCAL_STATE });
    this.addOverride("terraform.required_version", REQUIRED_TERRAFORM_VERSION);

    this.bucket = new S3Bucket(this, "StateBucket", {
      bucket: settings.bucket,
      forceDestroy: false, // never delete state objects with the bucket
      lifecycle: { preventDestroy: true },
    });
    // Private, encrypted, TLS-only and versioned, configured one call at a time like the main stack's
    // bucket (lib/storage.ts); old state versions expire.
    configurePrivateBucket(
      this,
      this.bucket,
      {
        ownership: "Ownership",
        publicAccessBlock: "PublicAccessBlock",
        encryption: "Encryption",
        tlsOnlyDocument: "TlsOnlyDocument",
        tlsOnlyPolicy: "TlsOnlyPolicy",
        versioning: "Versioning",
        lifecycle: "Lifecycle",
      },
      {
        encryption: { applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true },
        lifecycleRules: [
          {
            id: "expire-old-state-versions",
            status: "Enabled",
            filter: [{ prefix: "" }],
            noncurrentVersionExpiration: [{ noncurrentDays: NONCURRENT_VERSION_DAYS }],
            abortIncompleteMultipartUpload: [{ daysAfterInitiation: 7 }],
          },
        ],
      },
    );

    new TerraformOutput(this, "state_bucket", {
      description: "Name of the state bucket: state.bucket of the main stack's configuration",
      value: this.bucket.bucket,
    });
    new TerraformOutput(this, "state_bucket_arn", {
      description: "ARN of the state bucket (for the IAM policies of whoever runs terraform plan/apply)",
      value: this.bucket.arn,
    });
  }
}

/** Synthesizes the state stack for a configuration file; throws ConfigError before writing anything. */
export function synthesizeState(configFile: string, outdir?: string): void {
  const config = loadStackConfig(configFile);
  withoutCdktfDeprecations();
  const app = new App(outdir !== undefined ? { outdir } : {});
  new StateStack(app, STATE_STACK_NAME, { bucket: config.state.bucket, region: config.state.region, tags: config.tags });
  app.synth();
}

if (require.main === module) {
  try {
    synthesizeState(configPath(process.env));
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      process.exit(1);
    }
    throw e;
  }
}
