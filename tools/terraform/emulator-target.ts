/**
 * What points Terraform at the emulator, kept out of the synthesized production JSON: a provider
 * override file in the copy of the stack directory, and a `-backend-config` file for the S3 backend.
 */
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { EMULATOR_ENV } from "../emulator/moto";

/** Name of the override file written next to cdk.tf.json in the working copy. */
export const PROVIDER_OVERRIDE_FILE = "emulator_override.tf.json";

/** Name of the backend configuration file (outside the working copy). */
export const BACKEND_CONFIG_FILE = "emulator.s3.tfbackend";

/**
 * Provider `endpoints` keys (hashicorp/aws 5.x) by resource or data-source type prefix. A type the
 * table does not know fails the suite: every service the stack calls must be sent to the emulator.
 * `null`: computed locally, no API call.
 */
const ENDPOINT_BY_TYPE_PREFIX: ReadonlyArray<readonly [string, string | null]> = [
  ["aws_api_gateway_", "apigateway"],
  ["aws_cloudwatch_log_", "cloudwatchlogs"],
  ["aws_cloudwatch_metric_alarm", "cloudwatch"],
  ["aws_cloudwatch_event_", "events"],
  ["aws_codebuild_", "codebuild"],
  ["aws_codecommit_", "codecommit"],
  ["aws_dynamodb_", "dynamodb"],
  ["aws_efs_", "efs"],
  ["aws_iam_policy_document", null],
  ["aws_iam_", "iam"],
  ["aws_kms_", "kms"],
  ["aws_s3_", "s3"],
  ["aws_security_group", "ec2"],
  ["aws_vpc", "ec2"],
  ["aws_subnet", "ec2"],
  ["aws_internet_gateway", "ec2"],
  ["aws_nat_gateway", "ec2"],
  ["aws_eip", "ec2"],
  ["aws_route", "ec2"], // aws_route, aws_route_table, aws_route_table_association
  ["aws_availability_zones", "ec2"],
  ["aws_sfn_", "sfn"],
  ["aws_sns_", "sns"],
  ["aws_sqs_", "sqs"],
  ["aws_ssm_", "ssm"],
  ["aws_wafv2_", "wafv2"],
  ["aws_caller_identity", "sts"],
  ["aws_partition", null],
  ["aws_region", null],
];

/** Services every run needs whatever the resources: STS (the provider asks for the account id). */
const ALWAYS = ["sts"];

/** The endpoint keys the stack's resources and data sources need; throws on an unknown type. */
export function endpointServices(stack: { resource?: Record<string, unknown>; data?: Record<string, unknown> }): string[] {
  const services = new Set(ALWAYS);
  const types = [...Object.keys(stack.resource ?? {}), ...Object.keys(stack.data ?? {}).map((t) => t)];
  for (const type of types) {
    const entry = ENDPOINT_BY_TYPE_PREFIX.find(([prefix]) => type.startsWith(prefix));
    if (entry === undefined) {
      throw new Error(
        `the stack uses ${type}, whose service has no emulator endpoint in tools/terraform/emulator-target.ts: add it, or Terraform would call real AWS`,
      );
    }
    if (entry[1] !== null) services.add(entry[1]);
  }
  return [...services].sort();
}

/**
 * The provider override: endpoints for every service used, test credentials, few retries, and the
 * emulator's CA when it speaks HTTPS.
 */
export function providerOverride(endpoint: string, services: readonly string[], caBundle?: string): Record<string, unknown> {
  return {
    provider: {
      aws: {
        access_key: EMULATOR_ENV.AWS_ACCESS_KEY_ID,
        secret_key: EMULATOR_ENV.AWS_SECRET_ACCESS_KEY,
        max_retries: 2,
        skip_credentials_validation: true,
        skip_metadata_api_check: "true",
        skip_region_validation: true,
        s3_use_path_style: true,
        // skip_requesting_account_id stays false: see the shared notes (security-group rule diff).
        endpoints: [Object.fromEntries(services.map((s) => [s, endpoint]))],
        ...(caBundle === undefined ? {} : { custom_ca_bundle: caBundle }),
      },
    },
  };
}

/** The S3 backend settings that point it at the emulator (HCL for `-backend-config=FILE`). */
export function backendConfigText(endpoint: string, caBundle?: string): string {
  return [
    `endpoints = { s3 = ${JSON.stringify(endpoint)} }`,
    "use_path_style = true",
    `access_key = ${JSON.stringify(EMULATOR_ENV.AWS_ACCESS_KEY_ID)}`,
    `secret_key = ${JSON.stringify(EMULATOR_ENV.AWS_SECRET_ACCESS_KEY)}`,
    "skip_credentials_validation = true",
    "skip_requesting_account_id = true",
    "skip_metadata_api_check = true",
    "skip_region_validation = true",
    ...(caBundle === undefined ? [] : [`custom_ca_bundle = ${JSON.stringify(caBundle)}`]),
    "",
  ].join("\n");
}

/** Writes the override into the working copy and the backend file into `configDir`; returns the latter's path. */
export function pointAtEmulator(
  workDir: string,
  configDir: string,
  endpoint: string,
  services: readonly string[],
  caBundle?: string,
): string {
  writeFileSync(path.join(workDir, PROVIDER_OVERRIDE_FILE), `${JSON.stringify(providerOverride(endpoint, services, caBundle), null, 2)}\n`);
  const backendFile = path.join(configDir, BACKEND_CONFIG_FILE);
  writeFileSync(backendFile, backendConfigText(endpoint, caBundle));
  return backendFile;
}
