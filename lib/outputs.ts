/**
 * The descriptions of the outputs the CDKTF stack (main.ts) and the HCL module
 * (lib/terraform-module.ts) both declare, written once.
 */
export const OUTPUT_DESCRIPTIONS = {
  repositories:
    "Per Backlog repository (PROJECT/REPO): webhook_url to paste into Backlog, the CodeCommit repository and its clone URLs, the sync project and its log group",
  webhookBaseUrl: "Base URL of the webhook stage; each repository's webhook is this URL plus /PROJECT/REPO",
  alertsTopicArn: "SNS topic that says once when a repository starts failing and once when it recovers, and receives the alarms; subscribe to it",
  lfs: "Per Backlog repository that mirrors Git LFS objects (PROJECT/REPO): the IAM policy to attach to a consumer's build role, where the objects are, and the commands to run in a clone of the CodeCommit copy before `git lfs pull` (docs/lfs.md)",
  webhookSourceIps: "Source addresses the webhook API admits (empty: any source)",
  fleetArn: "The reserved-capacity fleet the sync and verify builds run on (setting build.fleet; null or absent without one)",
} as const;
