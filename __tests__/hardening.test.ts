import { BUILD_EVENT_INPUT } from "../lib/alert-states";
import { BACKLOG_WEBHOOK_SOURCE_IPS } from "../lib/backlog-ips";
import { ConfigError, validateStackConfig } from "../lib/validation";
import { dataRef, exampleConfig, onlyResource, policyDocument, refOf, resources, synthStack, type Synth, onlyResourceOutsideSafetyNet } from "../test/support/synth";

const synth = synthStack(exampleConfig());
const api = onlyResource(synth, "aws_api_gateway_rest_api");
const stage = onlyResource(synth, "aws_api_gateway_stage");
const project = onlyResourceOutsideSafetyNet(synth, "aws_codebuild_project");
const trigger = (s: Synth) => onlyResource(s, "aws_api_gateway_deployment").triggers.redeployment;

describe("who may call the webhook", () => {
  test("a resource policy denies every source outside Backlog's published sender addresses", () => {
    const policy = onlyResource(synth, "aws_api_gateway_rest_api_policy");
    expect(policy.rest_api_id).toBe(refOf(synth, "aws_api_gateway_rest_api", api));
    // The expanded ARN API Gateway stores (the short `execute-api:/*` would show a change on every plan).
    const executeApi = `arn:${dataRef(synth, "aws_partition", "partition")}:execute-api:${dataRef(synth, "aws_region", "id")}:${dataRef(synth, "aws_caller_identity", "account_id")}:${refOf(synth, "aws_api_gateway_rest_api", api)}/*`;
    expect(JSON.parse(policy.policy)).toEqual({
      Version: "2012-10-17",
      Statement: [
        { Sid: "AllowInvoke", Effect: "Allow", Principal: "*", Action: "execute-api:Invoke", Resource: executeApi },
        {
          Sid: "DenyOtherSources",
          Effect: "Deny",
          Principal: "*",
          Action: "execute-api:Invoke",
          Resource: executeApi,
          Condition: { NotIpAddress: { "aws:SourceIp": [...BACKLOG_WEBHOOK_SOURCE_IPS] } },
        },
      ],
    });
    expect(BACKLOG_WEBHOOK_SOURCE_IPS).toHaveLength(19);
    expect(BACKLOG_WEBHOOK_SOURCE_IPS).toContain("163.135.155.0/24");
  });

  const sourceIps = (s: Synth) =>
    JSON.parse(onlyResource(s, "aws_api_gateway_rest_api_policy").policy).Statement[1].Condition.NotIpAddress["aws:SourceIp"];

  test("the configuration can extend the list", () => {
    const s = synthStack({ ...exampleConfig(), webhook: { additionalSourceIps: ["203.0.113.0/24"] } });
    expect(sourceIps(s)).toEqual([...BACKLOG_WEBHOOK_SOURCE_IPS, "203.0.113.0/24"]);
  });

  test("the configuration can replace the list", () => {
    const s = synthStack({ ...exampleConfig(), webhook: { allowedSourceIps: ["198.51.100.7/32"] } });
    expect(sourceIps(s)).toEqual(["198.51.100.7/32"]);
  });

  test("opening the API to everyone takes an explicit switch and removes the policy", () => {
    const s = synthStack({ ...exampleConfig(), webhook: { allowAnySource: true } });
    expect(s.resource.aws_api_gateway_rest_api_policy).toBeUndefined();
  });

  test("a policy change redeploys the API, and the deployment waits for the policy", () => {
    const changed = synthStack({ ...exampleConfig(), webhook: { additionalSourceIps: ["203.0.113.0/24"] } });
    expect(trigger(changed)).not.toBe(trigger(synth));
    const open = synthStack({ ...exampleConfig(), webhook: { allowAnySource: true } });
    expect(trigger(open)).not.toBe(trigger(synth));
    const policyAddress = `aws_api_gateway_rest_api_policy.${Object.keys(synth.resource.aws_api_gateway_rest_api_policy)[0]}`;
    expect(onlyResource(synth, "aws_api_gateway_deployment").depends_on).toContain(policyAddress);
  });

  const gatewayResponse = (type: string) =>
    resources(synth, "aws_api_gateway_gateway_response").find((r) => r.response_type === type);

  test("requests to unknown paths get 404, never a build", () => {
    expect(gatewayResponse("MISSING_AUTHENTICATION_TOKEN")).toEqual({
      rest_api_id: refOf(synth, "aws_api_gateway_rest_api", api),
      response_type: "MISSING_AUTHENTICATION_TOKEN",
      status_code: "404",
      response_templates: { "application/json": '{"message": "No webhook route here: POST /PROJECT/REPO"}' },
    });
  });

  test("throttled deliveries get 503 with Retry-After, not 429, so that Backlog (which retries 5xx only) delivers them again", () => {
    expect(gatewayResponse("THROTTLED")).toEqual({
      rest_api_id: refOf(synth, "aws_api_gateway_rest_api", api),
      response_type: "THROTTLED",
      status_code: "503",
      response_parameters: { "gatewayresponse.header.Retry-After": "'10'" },
      response_templates: { "application/json": '{"message": "Too many webhook deliveries; retry later"}' },
    });
    expect(resources(synth, "aws_api_gateway_gateway_response")).toHaveLength(2);
  });

  test("the stage is throttled to 10 requests/s with bursts of 40 by default, configurable", () => {
    const settings = onlyResource(synth, "aws_api_gateway_method_settings");
    expect(settings).toEqual({
      rest_api_id: refOf(synth, "aws_api_gateway_rest_api", api),
      stage_name: refOf(synth, "aws_api_gateway_stage", stage, "stage_name"),
      method_path: "*/*",
      settings: { throttling_rate_limit: 10, throttling_burst_limit: 40, metrics_enabled: true },
    });
    const s = synthStack({ ...exampleConfig(), webhook: { throttleRateLimit: 2, throttleBurstLimit: 5 } });
    expect(onlyResource(s, "aws_api_gateway_method_settings").settings).toMatchObject({
      throttling_rate_limit: 2,
      throttling_burst_limit: 5,
    });
  });

  test("has no web ACL unless asked for; then a rate-based rule per source address on the stage", () => {
    expect(synth.resource.aws_wafv2_web_acl).toBeUndefined();
    const s = synthStack({ ...exampleConfig(), webhook: { wafRateLimitPer5Minutes: 300 } });
    const acl = onlyResource(s, "aws_wafv2_web_acl");
    expect(acl).toMatchObject({ name: "backlog-mirror-webhook", scope: "REGIONAL", default_action: { allow: {} } });
    expect(JSON.parse(acl.rule_json)).toEqual([
      {
        Name: "rate-limit-per-source",
        Priority: 0,
        Action: { Block: {} },
        Statement: { RateBasedStatement: { Limit: 300, AggregateKeyType: "IP" } },
        VisibilityConfig: { CloudWatchMetricsEnabled: true, MetricName: "backlog-mirror-webhook-rate-limit", SampledRequestsEnabled: true },
      },
    ]);
    expect(onlyResource(s, "aws_wafv2_web_acl_association")).toEqual({
      resource_arn: refOf(s, "aws_api_gateway_stage", onlyResource(s, "aws_api_gateway_stage"), "arn"),
      web_acl_arn: refOf(s, "aws_wafv2_web_acl", acl, "arn"),
    });
  });
});

const targetsOf = (s: Synth, rule: Record<string, unknown>) =>
  resources(s, "aws_cloudwatch_event_target").filter((t) => t.rule === refOf(s, "aws_cloudwatch_event_rule", rule, "name"));

describe("failure alerts", () => {
  const topic = onlyResource(synth, "aws_sns_topic");
  const topicArn = refOf(synth, "aws_sns_topic", topic, "arn");

  test("every end of a sync of the stack's projects (by prefix) goes to the alert state machine as its input", () => {
    const rule = resources(synth, "aws_cloudwatch_event_rule").find((r) => r.event_pattern !== undefined)!;
    expect(rule.name).toBe("backlog-mirror-sync-failed");
    expect(JSON.parse(rule.event_pattern)).toEqual({
      source: ["aws.codebuild"],
      "detail-type": ["CodeBuild Build State Change"],
      detail: { "build-status": ["SUCCEEDED", "FAILED", "FAULT", "TIMED_OUT", "STOPPED"], "project-name": [{ prefix: "backlog-mirror-mirror-" }] },
    });
    const [target] = targetsOf(synth, rule);
    expect(target.arn).toBe(refOf(synth, "aws_sfn_state_machine", onlyResource(synth, "aws_sfn_state_machine"), "arn"));
    expect(target.input_transformer).toEqual({ input_paths: BUILD_EVENT_INPUT.inputPaths, input_template: BUILD_EVENT_INPUT.inputTemplate });
    // The template with every variable filled in is the JSON the state machine reads.
    const filled = target.input_transformer.input_template.replace(/"([^"]*)"|<(\w+)>/g, (_m: string, quoted?: string, bare?: string) =>
      quoted !== undefined ? `"${quoted.replace(/<(\w+)>/g, "X")}"` : JSON.stringify(bare),
    );
    expect(Object.keys(JSON.parse(filled))).toEqual(["project", "status", "time", "build", "reason", "logGroup", "logStream"]);
  });

  test("only CloudWatch alarms of this account may publish to the topic through its policy (the state machine publishes with its role)", () => {
    const policy = onlyResource(synth, "aws_sns_topic_policy");
    expect(policy.arn).toBe(topicArn);
    expect(policyDocument(synth, policy.policy).statement).toEqual([
      {
        sid: "AlertPublishers",
        effect: "Allow",
        principals: [{ type: "Service", identifiers: ["cloudwatch.amazonaws.com"] }],
        actions: ["sns:Publish"],
        resources: [topicArn],
        condition: [{ test: "StringEquals", variable: "aws:SourceAccount", values: [dataRef(synth, "aws_caller_identity", "account_id")] }],
      },
    ]);
  });

  test("an alarm fires on any webhook 5xx in 5 minutes", () => {
    expect(resources(synth, "aws_cloudwatch_metric_alarm").find((a) => a.alarm_name === "backlog-mirror-webhook-5xx")).toEqual({
      alarm_name: "backlog-mirror-webhook-5xx",
      alarm_description: "The Backlog webhook answered 5xx: CodeBuild refused or failed to start a sync (Backlog retries)",
      namespace: "AWS/ApiGateway",
      metric_name: "5XXError",
      dimensions: { ApiName: refOf(synth, "aws_api_gateway_rest_api", api, "name"), Stage: refOf(synth, "aws_api_gateway_stage", stage, "stage_name") },
      statistic: "Sum",
      period: 300,
      evaluation_periods: 1,
      threshold: 1,
      comparison_operator: "GreaterThanOrEqualToThreshold",
      treat_missing_data: "notBreaching",
      alarm_actions: [topicArn],
    });
  });

  test("configured e-mail addresses are subscribed; none by default", () => {
    expect(synth.resource.aws_sns_topic_subscription).toBeUndefined();
    const s = synthStack({ ...exampleConfig(), alerts: { emails: ["ops@example.com", "dev@example.com"] } });
    expect(resources(s, "aws_sns_topic_subscription").map((r) => [r.protocol, r.endpoint])).toEqual([
      ["email", "ops@example.com"],
      ["email", "dev@example.com"],
    ]);
  });

  test("the topic ARN is a stack output", () => {
    expect(synth.output.alerts_topic_arn.value).toBe(topicArn);
  });
});

describe("VPC created when none is given", () => {
  const { network: _n, ...noNetwork } = exampleConfig();
  const s = synthStack(noNetwork);
  const vpc = onlyResource(s, "aws_vpc");
  const subnets = resources(s, "aws_subnet");
  const privateSubnets = subnets.filter((n) => n.tags.Name.includes("private"));

  // The builds mount EFS by its DNS name, which resolves only in a VPC with DNS resolution and DNS
  // hostnames on (EFS User Guide, "Mounting on Amazon EC2 with a DNS name"); preflight checks the same
  // two attributes of a given VPC (scripts/preflight.ts VPC_DNS_ATTRIBUTES).
  test("resolves the EFS DNS name: DNS support and DNS hostnames are on", () => {
    expect(vpc.enable_dns_support).toBe(true);
    expect(vpc.enable_dns_hostnames).toBe(true);
  });

  test("has two private subnets in two zones, routed through one NAT gateway with an Elastic IP", () => {
    expect(vpc).toMatchObject({ cidr_block: "10.64.0.0/16", enable_dns_hostnames: true, enable_dns_support: true });
    expect(privateSubnets.map((n) => n.cidr_block)).toEqual(["10.64.0.0/20", "10.64.16.0/20"]);
    const zones = `data.aws_availability_zones.${Object.keys(s.data.aws_availability_zones)[0]}.names`;
    expect(privateSubnets.map((n) => n.availability_zone)).toEqual([`\${element(${zones}, 0)}`, `\${element(${zones}, 1)}`]);
    const nat = onlyResource(s, "aws_nat_gateway");
    expect(nat.allocation_id).toBe(refOf(s, "aws_eip", onlyResource(s, "aws_eip"), "allocation_id"));
    const privateRoutes = resources(s, "aws_route_table").find((r) => r.tags.Name.endsWith("private"))!;
    expect(resources(s, "aws_route").filter((r) => r.route_table_id === refOf(s, "aws_route_table", privateRoutes))).toEqual([
      { route_table_id: refOf(s, "aws_route_table", privateRoutes), destination_cidr_block: "0.0.0.0/0", nat_gateway_id: refOf(s, "aws_nat_gateway", nat) },
    ]);
    expect(privateSubnets.map((n) => resources(s, "aws_route_table_association").find((a) => a.subnet_id === refOf(s, "aws_subnet", n))?.route_table_id)).toEqual([
      refOf(s, "aws_route_table", privateRoutes),
      refOf(s, "aws_route_table", privateRoutes),
    ]);
  });

  test("the builds and mount targets use it, and the NAT address is an output", () => {
    const p = onlyResourceOutsideSafetyNet(s, "aws_codebuild_project");
    expect(p.vpc_config.vpc_id).toBe(refOf(s, "aws_vpc", vpc));
    expect(p.vpc_config.subnets).toEqual(privateSubnets.map((n) => refOf(s, "aws_subnet", n)));
    const mountTargets = onlyResource(s, "aws_efs_mount_target");
    expect(mountTargets.for_each).toBe(
      `\${zipmap([${privateSubnets.map((n) => refOf(s, "aws_subnet", n, "availability_zone").slice(2, -1)).join(", ")}], [${privateSubnets.map((n) => refOf(s, "aws_subnet", n).slice(2, -1)).join(", ")}])}`,
    );
    expect(mountTargets.subnet_id).toBe("${each.value}");
    expect(s.output.sync_egress_ip.value).toBe(refOf(s, "aws_eip", onlyResource(s, "aws_eip"), "public_ip"));
  });

  test("is not created when a network is given", () => {
    expect(synth.resource.aws_vpc).toBeUndefined();
    expect(synth.output.sync_egress_ip).toBeUndefined();
    expect(project.vpc_config.vpc_id).toBe("vpc-0123456789abcdef0");
  });
});

describe("customer-managed key", () => {
  const s = synthStack({ ...exampleConfig(), encryption: { customerManagedKey: true } });
  const key = onlyResource(s, "aws_kms_key");
  const keyArn = refOf(s, "aws_kms_key", key, "arn");

  test("rotates, and is used by EFS, the cache bucket, the log groups, the project and the alert topic", () => {
    expect(key).toMatchObject({ enable_key_rotation: true, deletion_window_in_days: 30 });
    expect(onlyResource(s, "aws_kms_alias").name).toBe("alias/backlog-mirror-mirror");
    expect(onlyResource(s, "aws_efs_file_system").kms_key_id).toBe(keyArn);
    expect(onlyResource(s, "aws_s3_bucket_server_side_encryption_configuration").rule).toEqual([
      { apply_server_side_encryption_by_default: { sse_algorithm: "aws:kms", kms_master_key_id: keyArn }, bucket_key_enabled: true },
    ]);
    expect(onlyResourceOutsideSafetyNet(s, "aws_cloudwatch_log_group").kms_key_id).toBe(keyArn);
    expect(onlyResourceOutsideSafetyNet(s, "aws_codebuild_project").encryption_key).toBe(keyArn);
    expect(onlyResource(s, "aws_sns_topic").kms_master_key_id).toBe(keyArn);
    expect(s.output.kms_key_arn.value).toBe(keyArn);
  });

  test("the build role may use it; without it nothing refers to a customer key", () => {
    const sync = resources(s, "aws_iam_role_policy").find((p) => p.name === "mirror-sync")!;
    expect(policyDocument(s, sync.policy).statement).toContainEqual({
      sid: "UseMirrorKey",
      effect: "Allow",
      actions: ["kms:Decrypt", "kms:GenerateDataKey"],
      resources: [keyArn],
    });
    expect(synth.resource.aws_kms_key).toBeUndefined();
    expect(JSON.stringify(synth.resource)).not.toMatch(/kms_key_id|kms_master_key_id|encryption_key/);
  });

  test("lets CloudWatch Logs use it only for this mirror's build log groups and the safety net's", () => {
    const statements = policyDocument(s, key.policy).statement;
    expect(statements.map((st: any) => st.sid)).toEqual(["AccountAdministers", "BuildLogGroups", "AlarmsPublishAlerts"]);
    const logGroup = (n: string) =>
      `arn:${dataRef(s, "aws_partition", "partition")}:logs:${dataRef(s, "aws_region", "id")}:${dataRef(s, "aws_caller_identity", "account_id")}:log-group:${n}`;
    expect(statements[1].actions).toEqual(["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*"]);
    expect(statements[1].condition).toEqual([
      {
        test: "ArnLike",
        variable: "kms:EncryptionContext:aws:logs:arn",
        values: [logGroup("/aws/codebuild/backlog-mirror-mirror-*"), logGroup("/aws/codebuild/backlog-mirror-verify")],
      },
    ]);
  });
});

describe("customer-managed key and the encrypted alert topic", () => {
  const s = synthStack({ ...exampleConfig(), encryption: { customerManagedKey: true } });
  const key = onlyResource(s, "aws_kms_key");
  const topicArn = `arn:${dataRef(s, "aws_partition", "partition")}:sns:${dataRef(s, "aws_region", "id")}:${dataRef(s, "aws_caller_identity", "account_id")}:backlog-mirror-mirror-alerts`;

  test("EventBridge has no grant on the key: it no longer publishes to the topic", () => {
    const principals = policyDocument(s, key.policy).statement.flatMap((x: any) => x.principals.flatMap((p: any) => p.identifiers));
    expect(principals).not.toContain("events.amazonaws.com");
    expect(onlyResource(s, "aws_sns_topic").name).toBe("backlog-mirror-mirror-alerts");
  });

  test("CloudWatch alarms may use the key only for the alert topic, acting for this account", () => {
    const st = policyDocument(s, key.policy).statement.find((x: any) => x.sid === "AlarmsPublishAlerts");
    expect(st.principals).toEqual([{ type: "Service", identifiers: ["cloudwatch.amazonaws.com"] }]);
    expect(st.condition).toEqual([
      { test: "StringEquals", variable: "aws:SourceAccount", values: [dataRef(s, "aws_caller_identity", "account_id")] },
      { test: "StringEquals", variable: "kms:EncryptionContext:aws:sns:topicArn", values: [topicArn] },
    ]);
  });
});

describe("validation of the hardening settings", () => {
  const problems = (patch: Record<string, unknown>) => {
    try {
      validateStackConfig({ ...exampleConfig(), ...patch });
    } catch (e) {
      if (e instanceof ConfigError) return e.problems;
      throw e;
    }
    throw new Error("accepted");
  };

  test.each<[string, Record<string, unknown>, string]>([
    ["a source address without a prefix length", { webhook: { additionalSourceIps: ["203.0.113.7"] } }, '`webhook.additionalSourceIps[0]` must be an IPv4 CIDR block such as 203.0.113.0/24, got: "203.0.113.7"'],
    ["an octet over 255", { webhook: { allowedSourceIps: ["256.0.0.0/8"] } }, '`webhook.allowedSourceIps[0]` must be an IPv4 CIDR block such as 203.0.113.0/24, got: "256.0.0.0/8"'],
    [
      "an open API with an address list",
      { webhook: { allowAnySource: true, additionalSourceIps: ["203.0.113.0/24"] } },
      "`webhook.allowAnySource` must not be true while allowedSourceIps or additionalSourceIps is set (an open API ignores them); remove one, got: true",
    ],
    ["a burst below the rate", { webhook: { throttleRateLimit: 20, throttleBurstLimit: 5 } }, "`webhook.throttleBurstLimit` must be at least throttleRateLimit (20), got: 5"],
    ["a WAF limit under 100", { webhook: { wafRateLimitPer5Minutes: 10 } }, "`webhook.wafRateLimitPer5Minutes` must be a whole number from 100 to 2000000000, got: 10"],
    [
      "a schedule that is not an EventBridge expression",
      { resync: { schedule: "every hour" } },
      '`resync.schedule` must be an EventBridge schedule expression such as "rate(1 hour)", "rate(30 minutes)" or "cron(0 * * * ? *)", got: "every hour"',
    ],
    ["a singular rate with a plural unit", { resync: { schedule: "rate(1 hours)" } }, '`resync.schedule` must be an EventBridge schedule expression such as "rate(1 hour)", "rate(30 minutes)" or "cron(0 * * * ? *)", got: "rate(1 hours)"'],
    ["an e-mail address without a domain", { alerts: { emails: ["ops"] } }, '`alerts.emails[0]` must be an e-mail address, got: "ops"'],
  ])("rejects %s", (_label, patch, message) => {
    expect(problems(patch)).toEqual([message]);
  });
});
