/**
 * The app: reads the JSON configuration (config/example.json, or the file MIRROR_CONFIG names),
 * validates it before anything is written, and synthesizes one stack: AWS provider, S3 backend,
 * the mirror construct and its outputs.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { App, S3Backend, TerraformOutput, TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import { withoutCdktfDeprecations } from "./lib/cdktf-deprecations";
import { BacklogCodeCommitMirror } from "./lib/mirror";
import { OUTPUT_DESCRIPTIONS } from "./lib/outputs";
import { configPath, loadStackConfig } from "./lib/stack-config";
import { withShortStackTraces } from "./lib/stack-traces";
import { REQUIRED_TERRAFORM_VERSION } from "./lib/terraform-version";
import { ConfigError, type StackConfig } from "./lib/validation";

/** The configuration synthesized when MIRROR_CONFIG is not set (relative to the working directory). */
export { DEFAULT_CONFIG } from "./lib/stack-config";

/** The stack's name: its directory under cdktf.out/stacks/. */
export const STACK_NAME = "backlog-codecommit-mirror";

/** Terraform ≥ 1.11: S3-native state locking (`use_lockfile`) is stable from there (lib/terraform-version.ts). */
export { REQUIRED_TERRAFORM_VERSION };

export class MirrorStack extends TerraformStack {
  public readonly mirror: BacklogCodeCommitMirror;

  constructor(scope: Construct, id: string, config: StackConfig) {
    super(scope, id);

    new AwsProvider(this, "aws", {
      region: config.region,
      defaultTags: config.tags !== undefined ? [{ tags: config.tags }] : undefined,
    });
    new S3Backend(this, {
      bucket: config.state.bucket,
      key: config.state.key,
      region: config.state.region,
      encrypt: true,
    });
    this.addOverride("terraform.backend.s3.use_lockfile", true);
    this.addOverride("terraform.required_version", REQUIRED_TERRAFORM_VERSION);

    const { region: _region, state: _state, tags: _tags, ...props } = config;
    this.mirror = new BacklogCodeCommitMirror(this, "Mirror", props);

    new TerraformOutput(this, "webhook_base_url", {
      description: OUTPUT_DESCRIPTIONS.webhookBaseUrl,
      value: this.mirror.webhookBaseUrl,
    });
    new TerraformOutput(this, "alerts_topic_arn", {
      description: OUTPUT_DESCRIPTIONS.alertsTopicArn,
      value: this.mirror.alertsTopicArn,
    });
    if (this.mirror.natPublicIp !== undefined) {
      new TerraformOutput(this, "sync_egress_ip", {
        description: "The fixed address syncs leave from (NAT gateway): admit it in Backlog's IP allowlist",
        value: this.mirror.natPublicIp,
      });
    }
    if (this.mirror.key !== undefined) {
      new TerraformOutput(this, "kms_key_arn", {
        description: "Customer-managed key; encrypt the SSH key parameter with it (aws ssm put-parameter --key-id)",
        value: this.mirror.key.key.arn,
      });
    }
    if (this.mirror.lfs !== undefined) {
      new TerraformOutput(this, "lfs", {
        description: OUTPUT_DESCRIPTIONS.lfs,
        value: Object.fromEntries(
          [...this.mirror.lfs.consumers].map(([key, c]) => [key, { read_policy_arn: c.readPolicyArn, objects_uri: c.objectsUri, agent_uri: c.agentUri, commands: c.commands }]),
        ),
      });
    }
    if (this.mirror.fleet !== undefined) {
      new TerraformOutput(this, "fleet_arn", { description: OUTPUT_DESCRIPTIONS.fleetArn, value: this.mirror.fleet.arn });
    }
    new TerraformOutput(this, "repositories", {
      description: OUTPUT_DESCRIPTIONS.repositories,
      value: this.mirror.repositoriesOutput,
    });
  }
}

/** What {@link synthesize} wrote: the stack's JSON file and how many resources it declares. */
export interface SynthesisResult {
  readonly file: string;
  readonly resources: number;
}

/** Synthesizes the app for a configuration file; throws ConfigError before writing anything. */
export function synthesize(configFile: string, outdir?: string): SynthesisResult {
  const config = loadStackConfig(configFile);
  withoutCdktfDeprecations();
  const app = new App(outdir !== undefined ? { outdir } : {});
  withShortStackTraces(() => {
    new MirrorStack(app, STACK_NAME, config);
    app.synth();
  });
  const file = path.join(app.outdir, "stacks", STACK_NAME, "cdk.tf.json");
  const json = JSON.parse(readFileSync(file, "utf8")) as { resource?: Record<string, Record<string, unknown>> };
  const resources = Object.values(json.resource ?? {}).reduce((n, byName) => n + Object.keys(byName).length, 0);
  return { file, resources };
}

if (require.main === module) {
  try {
    const configFile = configPath(process.env);
    const { file, resources } = synthesize(configFile);
    console.log(`${path.relative(process.cwd(), configFile)} -> ${path.relative(process.cwd(), file)}: ${resources} resources`);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      process.exit(1);
    }
    throw e;
  }
}
