/**
 * The Terraform version every root module and the plain module of this project require.
 *
 * The S3 backend's S3-native locking (`use_lockfile = true`, a `.tflock` object next to the state)
 * came in Terraform 1.10 as "an opt-in, experimental feature" (Upgrading to Terraform v1.10,
 * https://developer.hashicorp.com/terraform/language/v1.10.x/upgrade-guides) and is "generally
 * available" from 1.11.0 (Upgrading to Terraform v1.11,
 * https://developer.hashicorp.com/terraform/language/v1.11.x/upgrade-guides; CHANGELOG 1.11.0,
 * hashicorp/terraform#36338, which also deprecates the DynamoDB lock arguments). So 1.11 is the
 * first version whose lock is not experimental.
 */
export const MIN_TERRAFORM_VERSION = "1.11";

/** `required_version` of the stack, the state stack and the plain module. */
export const REQUIRED_TERRAFORM_VERSION = `>= ${MIN_TERRAFORM_VERSION}`;
