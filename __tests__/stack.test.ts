import { exampleConfig, onlyResource, refOf, synthStack, onlyResourceOutsideSafetyNet } from "../test/support/synth";

const synth = synthStack(exampleConfig());

describe("stack", () => {
  test("keeps state in the configured S3 bucket, encrypted, locked with an S3 lock object", () => {
    expect(synth.terraform.backend).toEqual({
      s3: {
        bucket: "example-terraform-state-123456789012",
        key: "backlog-mirror/terraform.tfstate",
        region: "ap-northeast-1",
        encrypt: true,
        use_lockfile: true,
      },
    });
  });

  // S3-native locking is experimental in Terraform 1.10 and generally available from 1.11
  // (Terraform's upgrade guides for v1.10 and v1.11; CHANGELOG 1.11.0).
  test("requires Terraform 1.11 or later (stable S3 lock files) and pins the AWS provider 5.100.0", () => {
    expect(synth.terraform.required_version).toBe(">= 1.11");
    expect(synth.terraform.required_providers).toEqual({ aws: { source: "aws", version: "5.100.0" } });
  });

  test("configures the provider's region and the configured tags as default tags", () => {
    expect(synth.provider.aws).toEqual([
      { region: "ap-northeast-1", default_tags: [{ tags: { Project: "backlog-mirror", ManagedBy: "terraform" } }] },
    ]);
  });

  test("sets no default tags when none are configured", () => {
    const { tags: _tags, ...rest } = exampleConfig();
    expect(synthStack(rest).provider.aws).toEqual([{ region: "ap-northeast-1" }]);
  });

  test("outputs each repository's webhook URL, clone URLs, project and log group", () => {
    const stage = onlyResource(synth, "aws_api_gateway_stage");
    const repo = onlyResource(synth, "aws_codecommit_repository");
    const logGroup = onlyResourceOutsideSafetyNet(synth, "aws_cloudwatch_log_group");
    // One `for` expression over the per-repository instances (the same as the HCL module's output).
    const instances = Object.keys(synth.locals ?? {}).find((n) => n.startsWith("Mirror_Repositories_Instances"));
    const at = (ref: string) => ref.replace(/^\$\{/, "").replace(/\}$/, "");
    expect(synth.output.repositories.value).toBe(
      `\${{ for k, r in local.${instances} : k => { webhook_url = "${refOf(synth, "aws_api_gateway_stage", stage, "invoke_url")}/\${k}", codecommit_repository = r.codecommit_repository, ` +
        `clone_url_http = ${at(refOf(synth, "aws_codecommit_repository", repo, "clone_url_http")).replace(/\[[^\]]*\]/, "[k]")}, ` +
        `clone_url_ssh = ${at(refOf(synth, "aws_codecommit_repository", repo, "clone_url_ssh")).replace(/\[[^\]]*\]/, "[k]")}, build_project = r.project_name, ` +
        `log_group = ${at(refOf(synth, "aws_cloudwatch_log_group", logGroup, "name")).replace(/\[[^\]]*\]/, "[k]")} } }}`,
    );
    expect((synth.locals as any)[instances!]["DEMO/web-app"]).toMatchObject({ codecommit_repository: "demo-web-app", project_name: "backlog-mirror-mirror-demo-web-app" });
    expect(synth.output.repositories.description).toMatch(/webhook_url to paste into Backlog/);
    expect(synth.output.webhook_base_url.value).toBe(refOf(synth, "aws_api_gateway_stage", stage, "invoke_url"));
  });

  test("puts no secret, no key material and no loopback address into the configuration", () => {
    const text = JSON.stringify(synth);
    expect(text).not.toMatch(/PRIVATE KEY|127\.0\.0\.1|localhost/);
    expect(synth.resource.aws_ssm_parameter).toBeUndefined();
  });
});
