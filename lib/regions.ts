/**
 * The AWS regions this stack can be deployed to: those where CodeBuild runs `ARM_CONTAINER` builds.
 * The sync projects and the safety net's verify project run
 * `aws/codebuild/amazonlinux-aarch64-standard:4.0` on `ARM_CONTAINER` with `BUILD_GENERAL1_SMALL`,
 * `_MEDIUM` or `_LARGE` (lib/mirror-build.ts, lib/safety-net.ts), so CreateProject fails in any
 * other region.
 *
 * Source: CodeBuild API Reference, `Fleet.environmentType` / `CreateFleet.environmentType`
 * (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_Fleet.html, the same text as the
 * model of @aws-sdk/client-codebuild 3.1142.0): "The environment type ARM_CONTAINER is available
 * only in regions US East (N. Virginia), US East (Ohio), US West (Oregon), EU (Ireland), Asia
 * Pacific (Mumbai), Asia Pacific (Tokyo), Asia Pacific (Singapore), Asia Pacific (Sydney), EU
 * (Frankfurt), and South America (São Paulo)." The User Guide's "Build environment compute modes
 * and types" (https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-compute-types.html#environment.types)
 * lists ARM Small, Medium and Large (4 GB/2 vCPUs, 8 GB/4 vCPUs, 16 GB/8 vCPUs) with a footnote on
 * regional availability; its older edition (awsdocs/aws-codebuild-user-guide,
 * build-env-ref-compute-types.md) named the same regions less Singapore and São Paulo. When AWS
 * adds a region, add it here: the configuration's rule, the construct's and the module's check on
 * `data.aws_region`, preflight and the README's configuration reference all derive from this list.
 */
export const ARM_CONTAINER_REGIONS = [
  { code: "us-east-1", name: "US East (N. Virginia)" },
  { code: "us-east-2", name: "US East (Ohio)" },
  { code: "us-west-2", name: "US West (Oregon)" },
  { code: "eu-west-1", name: "Europe (Ireland)" },
  { code: "eu-central-1", name: "Europe (Frankfurt)" },
  { code: "ap-south-1", name: "Asia Pacific (Mumbai)" },
  { code: "ap-northeast-1", name: "Asia Pacific (Tokyo)" },
  { code: "ap-southeast-1", name: "Asia Pacific (Singapore)" },
  { code: "ap-southeast-2", name: "Asia Pacific (Sydney)" },
  { code: "sa-east-1", name: "South America (São Paulo)" },
] as const;

/** The region codes of {@link ARM_CONTAINER_REGIONS}. */
export const ARM_CONTAINER_REGION_CODES: readonly string[] = ARM_CONTAINER_REGIONS.map((r) => r.code);

/** What a message says is allowed: `where CodeBuild runs ARM_CONTAINER builds: us-east-1, ...`. */
export const ARM_CONTAINER_REGIONS_ALLOWED = `a region where CodeBuild runs ARM_CONTAINER builds (the sync and verify builds use them): ${ARM_CONTAINER_REGION_CODES.join(", ")}`;

/**
 * The condition and message of the postcondition on `data.aws_region` (construct and module): the
 * provider's region is not an input, so no variable validation can check it; the data source's
 * postcondition stops the plan before CreateProject would fail. `self.id` is the region code in
 * provider 5.x and 6.x.
 */
export function armRegionPostcondition(): { condition: string; errorMessage: string } {
  return {
    condition: `\${contains(${JSON.stringify(ARM_CONTAINER_REGION_CODES).replace(/","/g, '", "')}, self.id)}`,
    errorMessage: `The AWS provider's region must be ${ARM_CONTAINER_REGIONS_ALLOWED}.`,
  };
}
