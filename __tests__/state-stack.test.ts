import { readFileSync } from "node:fs";
import * as path from "node:path";
import { Testing } from "cdktf";
import { STATE_STACK_LOCAL_STATE, StateStack } from "../state/main";
import { exampleConfig, synthesizing } from "../test/support/synth";
import { BUCKET_CONFIGURATION_ORDER } from "../lib/storage";

type Json = Record<string, any>;

function synthState(): Json {
  const config = exampleConfig();
  return synthesizing(() => {
    const stack = new StateStack(Testing.app(), "state", { bucket: config.state.bucket, region: config.state.region, tags: config.tags });
    return JSON.parse(Testing.synth(stack)) as Json;
  });
}

function only(synth: Json, type: string): Json {
  const all = Object.values(synth.resource[type] ?? {}) as Json[];
  if (all.length !== 1) throw new Error(`expected one ${type}, found ${all.length}`);
  return all[0];
}

describe("state bootstrap stack", () => {
  const synth = synthState();
  const bucketRef = (attr: string) => `\${aws_s3_bucket.${Object.keys(synth.resource.aws_s3_bucket)[0]}.${attr}}`;

  test("requires Terraform 1.11, as the stack whose state it holds does (stable S3 lock files)", () => {
    expect(synth.terraform.required_version).toBe(">= 1.11");
  });

  test("creates the bucket the main stack's backend names, protected against destroy", () => {
    const bucket = only(synth, "aws_s3_bucket");
    expect(bucket.bucket).toBe(exampleConfig().state.bucket);
    expect(bucket.lifecycle).toEqual({ prevent_destroy: true });
    expect(bucket.force_destroy).toBe(false);
  });

  test("is configured one call at a time, in the main stack's order (S3 OperationAborted on concurrent calls)", () => {
    const chain = BUCKET_CONFIGURATION_ORDER;
    const address = (type: string) => `${type}.${Object.keys(synth.resource[type])[0]}`;
    chain.forEach((type, i) => {
      const r = only(synth, type);
      expect(r.bucket).toBe(bucketRef("id"));
      expect(r.depends_on).toEqual(i === 0 ? undefined : [address(chain[i - 1])]);
    });
  });

  test("keeps its own state in a local file, outside cdktf.out", () => {
    expect(synth.terraform.backend).toEqual({ local: { path: STATE_STACK_LOCAL_STATE } });
    const stackDir = path.join("/repo", "cdktf.out", "stacks", "x");
    expect(path.resolve(stackDir, STATE_STACK_LOCAL_STATE)).toBe(path.join("/repo", "state", "terraform.tfstate"));
  });

  test("turns versioning on", () => {
    const v = only(synth, "aws_s3_bucket_versioning");
    expect(v.bucket).toBe(bucketRef("id"));
    expect(v.versioning_configuration).toEqual({ status: "Enabled" });
  });

  test("encrypts objects by default", () => {
    const e = only(synth, "aws_s3_bucket_server_side_encryption_configuration");
    expect(e.bucket).toBe(bucketRef("id"));
    expect(e.rule).toEqual([{ apply_server_side_encryption_by_default: { sse_algorithm: "AES256" }, bucket_key_enabled: true }]);
  });

  test("blocks all public access and disables ACLs", () => {
    const pab = only(synth, "aws_s3_bucket_public_access_block");
    expect(pab).toMatchObject({
      bucket: bucketRef("id"),
      block_public_acls: true,
      block_public_policy: true,
      ignore_public_acls: true,
      restrict_public_buckets: true,
    });
    expect(only(synth, "aws_s3_bucket_ownership_controls").rule).toEqual({ object_ownership: "BucketOwnerEnforced" });
  });

  test("denies every request that is not over TLS", () => {
    const policy = only(synth, "aws_s3_bucket_policy");
    const doc = Object.values(synth.data.aws_iam_policy_document)[0] as Json;
    expect(policy.policy).toMatch(/^\$\{data\.aws_iam_policy_document\.[^.]+\.json\}$/);
    expect(doc.statement).toEqual([
      {
        sid: "DenyInsecureTransport",
        effect: "Deny",
        principals: [{ type: "*", identifiers: ["*"] }],
        actions: ["s3:*"],
        resources: [bucketRef("arn"), `${bucketRef("arn")}/*`],
        condition: [{ test: "Bool", variable: "aws:SecureTransport", values: ["false"] }],
      },
    ]);
  });

  test("expires only replaced state versions, never the current state", () => {
    const rule = only(synth, "aws_s3_bucket_lifecycle_configuration").rule[0];
    expect(rule.noncurrent_version_expiration).toEqual([{ noncurrent_days: 90 }]);
    expect(rule.expiration).toBeUndefined();
  });

  test("has the provider in the state region and outputs the bucket", () => {
    expect(synth.provider.aws[0].region).toBe(exampleConfig().state.region);
    expect(Object.keys(synth.output).sort()).toEqual(["state_bucket", "state_bucket_arn"]);
    expect(synth.output.state_bucket.value).toBe(bucketRef("bucket"));
  });

  test("docs/state-bootstrap.md has an import command for every resource, and nothing else", () => {
    const doc = readFileSync(path.join(__dirname, "..", "docs", "state-bootstrap.md"), "utf8");
    const imported = [...doc.matchAll(/^terraform import (\S+) BUCKET$/gm)].map((m) => m[1]).sort();
    const addresses = Object.entries(synth.resource as Record<string, Json>).flatMap(([type, byName]) => Object.keys(byName).map((n) => `${type}.${n}`));
    expect(imported).toEqual(addresses.sort());
    expect(doc).toContain(`(${addresses.length} resources)`);
  });
});
