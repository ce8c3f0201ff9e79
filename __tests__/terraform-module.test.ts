/** The plain Terraform module's files, as npm run build:module writes them (fast checks, no Terraform). */
import { MODULE_PROVIDER, moduleReadme, moduleScriptFiles, synthesizeModule } from "../lib/terraform-module";
import { BUILD_TOOLS_PREFIX, buildScriptsFolder } from "../lib/build-scripts";
import { exampleConfig, synthStack, synthesizing } from "../test/support/synth";

const files = synthesizing(synthesizeModule);
const main = files["main.tf.json"];
const variables = files["variables.tf.json"].variable;
const outputs = files["outputs.tf.json"].output;
const resources = (type: string): Record<string, any> => main.resource[type] ?? {};
/** The one resource of a type outside the safety net (which has its own project and log group). */
const only = (type: string): any => {
  const all = Object.entries(resources(type)).filter(([n]) => !/_SafetyNet_/.test(n)).map(([, r]) => r);
  if (all.length !== 1) throw new Error(`expected one ${type}, found ${all.length}`);
  return all[0];
};

describe("the Terraform module", () => {
  test("has no provider configuration and no backend, and pins Terraform and the provider", () => {
    for (const f of Object.values(files)) {
      expect(f.provider).toBeUndefined();
      expect(f.terraform?.backend).toBeUndefined();
    }
    expect(files["versions.tf.json"].terraform).toEqual({ required_version: ">= 1.11", required_providers: { aws: { ...MODULE_PROVIDER } } });
  });

  test("redeploys the API when the integration role or any API Gateway resource it snapshots is replaced, as the stack does", () => {
    const trigger: string = only("aws_api_gateway_deployment").triggers.redeployment;
    expect(trigger).toContain("jsonencode(local.repository_list), jsonencode(local.allowed_source_ips)");
    expect(only("aws_api_gateway_integration").credentials).toBe("${aws_iam_role.Mirror_Iam_ApiRole.arn}");
    expect(trigger).toContain(", aws_iam_role.Mirror_Iam_ApiRole.arn,");
    const snapshotted = ["aws_api_gateway_rest_api", "aws_api_gateway_resource", "aws_api_gateway_method", "aws_api_gateway_integration", "aws_api_gateway_method_response", "aws_api_gateway_integration_response", "aws_api_gateway_gateway_response"]
      .flatMap((type) => Object.keys(resources(type)).map((name) => `${type}.${name}.id`));
    expect(snapshotted.length).toBe(14);
    for (const ref of snapshotted) expect(trigger).toContain(ref);
  });

  test("creates every resource type of the construct with every optional part on, except the VPC and the key it cannot create", () => {
    const stack = synthStack({
      ...exampleConfig(),
      network: { vpcId: "vpc-0123456789abcdef0", subnetIds: ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"] },
      alerts: { emails: ["ops@example.com"] },
      webhook: { wafRateLimitPer5Minutes: 1000 },
      lfs: { credentialsParameter: "/backlog-mirror/lfs" },
      build: { fleet: { baseCapacity: 1 } },
    }) as any;
    expect(main.resource.aws_codebuild_fleet).toBeDefined();
    expect(Object.keys(main.resource).sort()).toEqual(Object.keys(stack.resource).sort());
    expect(Object.keys(main.data).sort()).toEqual(Object.keys(stack.data).sort());
  });

  test("is the construct synthesized with variables: no literal setting of a configuration is left", () => {
    expect(JSON.stringify(main)).not.toMatch(/example-space|backlog-mirror\/|DEMO|TfToken/);
  });

  test("every variable has a type and a description, and the rules of the configuration as validation blocks", () => {
    for (const [name, v] of Object.entries<any>(variables)) {
      expect([name, typeof v.type, typeof v.description]).toEqual([name, "string", "string"]);
      expect(v.validation?.length ?? 0).toBeGreaterThan(0);
      for (const rule of v.validation) expect(rule.condition).toMatch(new RegExp(`^\\$\\{.*var\\.${name}\\b.*\\}$`, "s"));
    }
    expect(Object.keys(variables)).toEqual(["name", "log_retention_days", "backlog", "vpc_id", "subnet_ids", "repositories", "build", "webhook", "resync", "sync", "backups", "lfs", "alert_emails"]);
  });

  test("every output has a description", () => {
    for (const o of Object.values<any>(outputs)) expect(o.description.length).toBeGreaterThan(20);
    expect(Object.keys(outputs).sort()).toEqual(["alerts_topic_arn", "fleet_arn", "lfs", "repositories", "webhook_base_url", "webhook_source_ips"]);
  });

  test("per-repository resources are one resource each with for_each over the repositories", () => {
    for (const type of ["aws_codebuild_project", "aws_codecommit_repository", "aws_cloudwatch_log_group"]) {
      expect(only(type).for_each).toBe("${local.Mirror_Repository_Instances}");
    }
    expect(only("aws_codecommit_repository").repository_name).toBe("${each.value.codecommit_repository}");
    expect(only("aws_codecommit_repository").tags).toEqual({ "backlog-mirror:stack": "${var.name}" });
    expect(only("aws_codebuild_project").name).toBe("${each.value.project_name}");
  });

  test("the webhook is one resource pair /{project}/{repo} whose templates hold a for expression over the repositories", () => {
    const paths = resources("aws_api_gateway_resource");
    expect(paths.Mirror_Webhook_ProjectPath).toMatchObject({ path_part: "{project}" });
    expect(paths.Mirror_Webhook_RepositoryPath).toMatchObject({ path_part: "{repo}", parent_id: "${aws_api_gateway_resource.Mirror_Webhook_ProjectPath.id}" });
    for (const r of Object.values(paths)) expect(r.for_each).toBeUndefined();
    expect(only("aws_api_gateway_method").for_each).toBeUndefined();
    const template: string = only("aws_api_gateway_integration").request_templates["application/x-www-form-urlencoded"];
    expect(template).toContain('#set($routes = {${join(", ", [for r in local.repository_list : "\\"${r.key}\\": \\"${r.project_name}\\""])}})');
    const refused = resources("aws_api_gateway_integration_response").Mirror_Webhook_IntegrationResponse502;
    expect(refused.response_templates["application/json"]).toContain("[for r in local.repository_list");
  });

  test("optional parts follow their variables", () => {
    expect(only("aws_wafv2_web_acl").count).toBe("${var.webhook.waf_rate_limit_per_5_minutes != null ? 1 : 0}");
    expect(only("aws_api_gateway_rest_api_policy").count).toBe("${!var.webhook.allow_any_source ? 1 : 0}");
    const safetyNet = Object.entries(main.resource).flatMap(([type, byName]) =>
      Object.entries<any>(byName as Record<string, any>).filter(([n]) => /_SafetyNet_/.test(n)).map(([n, r]) => [`${type}.${n}`, r.count]),
    );
    expect(safetyNet.length).toBeGreaterThanOrEqual(10);
    for (const [, count] of safetyNet) expect(count).toBe("${var.resync.enabled ? 1 : 0}");
    // References to a counted resource: one(...[*].ATTRIBUTE), null when the part is off.
    expect(resources("aws_codebuild_project").Mirror_SafetyNet_Project.service_role).toBe("${one(aws_iam_role.Mirror_SafetyNet_Iam_VerifyRole[*].arn)}");
    expect(only("aws_sns_topic_subscription").for_each).toBe("${toset(var.alert_emails)}");
    expect(only("aws_efs_mount_target")).toMatchObject({
      for_each: "${zipmap([for s in var.subnet_ids : data.aws_subnet.Mirror_Storage_Subnet[s].availability_zone], var.subnet_ids)}",
      subnet_id: "${each.value}",
    });
    expect(main.data.aws_subnet).toEqual({ Mirror_Storage_Subnet: { for_each: "${toset(var.subnet_ids)}", id: "${each.value}" } });
  });

  test("the fleet and its role exist when build.fleet is set, and the projects run on it instead of their own vpc_config", () => {
    const on = "${var.build.fleet != null ? 1 : 0}";
    expect(resources("aws_codebuild_fleet").Mirror_Fleet_Resource.count).toBe(on);
    expect(resources("aws_iam_role").Mirror_Fleet_Role.count).toBe(on);
    expect(resources("aws_iam_role_policy").Mirror_Fleet_RolePolicy.count).toBe(on);
    expect(resources("aws_codebuild_fleet").Mirror_Fleet_Resource.overflow_behavior).toBe('${lookup({ "on-demand" = "ON_DEMAND", "queue" = "QUEUE" }, var.build.fleet.overflow)}');
    for (const name of ["Mirror_Repository_Project", "Mirror_SafetyNet_Project"]) {
      const project = resources("aws_codebuild_project")[name];
      expect(project.vpc_config).toBeUndefined();
      expect(project.dynamic.vpc_config.for_each).toBe("${var.build.fleet != null ? [] : [1]}");
      expect(project.environment.dynamic.fleet).toEqual({
        for_each: "${var.build.fleet != null ? [1] : []}",
        content: { fleet_arn: "${one(aws_codebuild_fleet.Mirror_Fleet_Resource[*].arn)}" },
      });
    }
    expect(outputs.fleet_arn.value).toBe("${one(aws_codebuild_fleet.Mirror_Fleet_Resource[*].arn)}");
  });

  test("IAM grants are scoped by the stack's prefix and tag, not by lists of the repositories", () => {
    const doc = main.data.aws_iam_policy_document.Mirror_Iam_BuildSyncDocument;
    const push = doc.statement.find((s: any) => s.sid === "PushToMirrors");
    expect(push.resources).toEqual([expect.stringMatching(/^arn:.*:codecommit:.*:\*$/)]);
    expect(push.condition).toEqual([{ test: "StringEquals", variable: "aws:ResourceTag/backlog-mirror:stack", values: ["${var.name}"] }]);
    const logs = doc.statement.find((s: any) => s.sid === "WriteBuildLogs");
    expect(logs.resources).toEqual([expect.stringMatching(/:log-group:\/aws\/codebuild\/\$\{var\.name\}-mirror-\*:\*$/)]);
    // Optional grants: a dynamic block each, under the variable that turns them on.
    const dynamic = (doc.dynamic.statement as any[]).map((d) => [d.content.sid, d.for_each]);
    expect(dynamic).toEqual([
      ["ReadLfsCredentials", "${var.lfs != null ? [1] : []}"],
      ["StoreLfsObjects", "${var.lfs != null ? [1] : []}"],
      ["ListLfsObjects", "${var.lfs != null ? [1] : []}"],
      ["DebugSessions", "${var.build.allow_debug_sessions ? [1] : []}"],
    ]);
  });

  test("the buildspec template runs the module's script files; the settings are the project's environment variables", () => {
    const project = only("aws_codebuild_project");
    const spec: string = project.source.buildspec;
    expect(spec).toContain('. "$CODEBUILD_SRC_DIR/mirror-sync.sh"');
    expect(spec).not.toMatch(/(?<!\$)\$\{(?!var\.)/);
    // The scripts are files of the module (scripts/), read as they are, uploaded to the folder the
    // projects take as their source.
    expect(project.source.type).toBe("S3");
    expect(project.source.location).toBe(`\${aws_s3_bucket.Mirror_Storage_CacheBucket.bucket}/${buildScriptsFolder()}`);
    const objects = Object.values(resources("aws_s3_object")).filter((o) => String(o.key).startsWith(BUILD_TOOLS_PREFIX));
    expect(objects.map((o) => [o.key, o.content])).toEqual(
      Object.keys(moduleScriptFiles()).map((f) => [`${buildScriptsFolder()}${f.slice("scripts/".length)}`, `\${file("\${path.module}/${f}")}`]),
    );
    expect(moduleScriptFiles()["scripts/mirror-sync.sh"]).toContain("${BACKLOG_HOST:?}");
    expect(spec).toContain("%{ if var.backlog.host_keys_parameter != null }");
    expect(spec).not.toMatch(/each\.|LOCK_TIMEOUT_SECONDS=/);
    expect(project.environment.environment_variable).toBeUndefined();
    const env = project.environment.dynamic.environment_variable;
    expect(env.content).toEqual({ name: "${environment_variable.value.name}", value: "${environment_variable.value.value}", type: "PLAINTEXT" });
    expect(env.for_each).toContain('{ name = "LOCK_TIMEOUT_SECONDS", value = tostring(floor((var.build.timeout_minutes * 60 - 120) / 2)) }');
    expect(env.for_each).toContain('{ name = "HOST_KEY_MODE", value = var.backlog.scan_host_key ? "scan" : "pinned" }');
    expect(env.for_each).toContain('{ name = "MIRROR_PATH", value = each.value.mirror_path }');
    expect(env.for_each).toContain('var.backlog.host_keys != null ? [{ name = "BACKLOG_HOST_KEYS", value = join("\\n", var.backlog.host_keys) }] : []');
  });

  test("its README says which version of the repository it is and tables every input and output", () => {
    const readme = moduleReadme(files, "1.2.3");
    expect(readme).toContain("Version 1.2.3 of");
    expect(readme).toContain("?ref=v1.2.3");
    for (const name of [...Object.keys(variables), ...Object.keys(outputs)]) expect(readme).toContain(`| \`${name}\` |`);
  });
});
