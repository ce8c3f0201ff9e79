/** The safety net: NAME-verify, its schedule, IAM, repository list, metrics and the out-of-sync alarm. */
import { execFileSync, spawnSync } from "node:child_process";
import * as path from "node:path";
import { parse } from "yaml";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { BACKLOG_SSH_SCRIPT_PATH } from "../lib/buildspec";
import { BUILD_TOOLS_PREFIX } from "../lib/build-scripts";
import { BUILD_IMAGE } from "../lib/mirror-build";
import { HOST_KEY_TYPE_PATTERN } from "../lib/rules";
import { REPOSITORY_LIST_KEY, VERIFY_BUILD_TIMEOUT_MINUTES, outOfSyncAlarmSettings } from "../lib/safety-net";
import { ConfigError, validateStackConfig } from "../lib/validation";
import { VERIFY_SCRIPT_PATH } from "../lib/verify-buildspec";
import {
  buildScriptsOf,
  configWithRepositories,
  dataRef,
  exampleConfig,
  onlyResourceOutsideSafetyNet,
  policyDocument,
  refOf,
  resourceAddressOf,
  resources,
  synthStack,
  terraformLiteral,
  type Synth,
} from "../test/support/synth";

const synth = synthStack(exampleConfig());
let bigSynth: Synth | undefined;
/** 200 repositories, the most validation accepts (synthesized once: it takes seconds). */
const big = (): Synth => (bigSynth ??= synthStack(configWithRepositories(200)));
const P = dataRef(synth, "aws_partition", "partition");
const R = dataRef(synth, "aws_region", "id");
const A = dataRef(synth, "aws_caller_identity", "account_id");
const arn = (service: string, resource: string) => `arn:${P}:${service}:${R}:${A}:${resource}`;

const verifyProject = (s: Synth) => resources(s, "aws_codebuild_project").find((p) => p.name === "backlog-mirror-verify");
const role = (s: Synth, name: string) => resources(s, "aws_iam_role").find((r) => r.name === name);
const policiesOf = (s: Synth, roleBody: Record<string, unknown>) =>
  resources(s, "aws_iam_role_policy").filter((p) => p.role === refOf(s, "aws_iam_role", roleBody));
const scheduleRules = (s: Synth) => resources(s, "aws_cloudwatch_event_rule").filter((r) => r.schedule_expression !== undefined);
const bucket = (s: Synth) => resources(s, "aws_s3_bucket")[0];
const verifyBuildspec = (s: Synth) => parse(terraformLiteral(verifyProject(s)!.source.buildspec));

describe("the verify project", () => {
  const project = verifyProject(synth)!;
  const build = onlyResourceOutsideSafetyNet(synth, "aws_codebuild_project");

  test("is one ARM project in the sync builds' VPC, subnets and security group, without EFS or privileged mode", () => {
    expect(project).toMatchObject({
      name: "backlog-mirror-verify",
      service_role: refOf(synth, "aws_iam_role", role(synth, "backlog-mirror-verify")!, "arn"),
      environment: { type: "ARM_CONTAINER", image: BUILD_IMAGE, compute_type: "BUILD_GENERAL1_SMALL", privileged_mode: false },
      vpc_config: build.vpc_config,
      artifacts: { type: "NO_ARTIFACTS" },
      build_timeout: 20,
      project_visibility: "PRIVATE",
    });
    expect(project.file_system_locations).toBeUndefined();
    expect(project.cache).toBeUndefined();
    expect(project.environment.environment_variable[0]).toEqual(
      { name: "REPOSITORY_LIST_URI", type: "PLAINTEXT", value: `s3://${refOf(synth, "aws_s3_bucket", bucket(synth), "bucket")}/${REPOSITORY_LIST_KEY}` },
    );
    const logGroup = resources(synth, "aws_cloudwatch_log_group").find((g) => g.name === "/aws/codebuild/backlog-mirror-verify")!;
    expect(project.logs_config.cloudwatch_logs.group_name).toBe(refOf(synth, "aws_cloudwatch_log_group", logGroup, "name"));
    expect(logGroup.retention_in_days).toBe(30);
  });

  test("runs the shared SSH functions and the verifier script of its source folder with its settings as project variables, reading the key from Parameter Store", () => {
    const spec = verifyBuildspec(synth);
    expect(spec.env).toEqual({
      shell: "bash",
      variables: { BACKLOG_SSH_KEY_TYPES: HOST_KEY_TYPE_PATTERN },
      "parameter-store": { SRC_GIT_CREDENTIAL: "/backlog-mirror/ssh-private-key", BACKLOG_HOST_KEYS: "/backlog-mirror/ssh-host-keys" },
    });
    expect(spec.phases.install.commands).toEqual([
      "git config --global credential.helper '!aws codecommit credential-helper $@'",
      "git config --global credential.UseHttpPath true",
    ]);
    const command: string = spec.phases.build.commands[0];
    const shipped = buildScriptsOf(synth, project);
    expect(shipped.files).toEqual(["backlog-ssh.sh", "verify-mirrors.sh"]);
    expect(command).toBe('(\n. "$CODEBUILD_SRC_DIR/backlog-ssh.sh"\n. "$CODEBUILD_SRC_DIR/verify-mirrors.sh"\n)\n');
    expect(shipped.text).toBe(readFileSync(BACKLOG_SSH_SCRIPT_PATH, "utf8") + readFileSync(VERIFY_SCRIPT_PATH, "utf8"));
    // The same folder as the sync projects'.
    expect(project.source.location).toBe(build.source.location);
    // The settings are the project's environment variables (a buildspec that is the same text whatever they are).
    expect(
      Object.fromEntries((project.environment.environment_variable as Array<{ name: string; value: string }>).slice(1).map((v) => [v.name, v.value])),
    ).toEqual({
      STACK_NAME: "backlog-mirror",
      BACKLOG_USER: "example-space",
      BACKLOG_HOST: "example-space.git.backlog.jp",
      HOST_KEY_MODE: "pinned",
      METRIC_NAMESPACE: "BacklogCodeCommitMirror",
      OLDEST_AGE_METRIC: "OldestInSyncAge",
      PARALLEL_CHECKS: "8",
      IN_SYNC_STATE_URI: `s3://${refOf(synth, "aws_s3_bucket", Object.values(synth.resource.aws_s3_bucket)[0], "bucket")}/verify/in-sync.txt`,
      ALERT_STATE_MACHINE_ARN: refOf(synth, "aws_sfn_state_machine", Object.values(synth.resource.aws_sfn_state_machine)[0], "arn"),
      OUT_OF_SYNC_ALERT_SECONDS: "90000",
    });
    // No wait for the syncs it starts: no wait or poll setting.
    expect(command).not.toMatch(/SYNC_WAIT_SECONDS|SYNC_POLL_SECONDS/);
    // The checks of 200 repositories (about 4 minutes projected, npm run bench:safety-net) fit in the build timeout.
    expect(4 * 60).toBeLessThanOrEqual(VERIFY_BUILD_TIMEOUT_MINUTES * 60 - 5 * 60);
    expect(project.build_timeout).toBe(VERIFY_BUILD_TIMEOUT_MINUTES);
  });

  test("has a buildspec that does not grow with the repositories and stays under CodeBuild's 25,600 characters", () => {
    // The inline buildspec limit is undocumented; CodeBuild answers "Max buildspec length is 25600"
    // (aws/aws-cdk#14974, #30326).
    expect(verifyProject(big())!.source.buildspec).toBe(project.source.buildspec);
    expect(terraformLiteral(project.source.buildspec).length).toBeLessThan(25_600);
  });

  test("passes pinned host keys given in the configuration as the project variable BACKLOG_HOST_KEYS", () => {
    const config = exampleConfig();
    delete config.backlog.hostKeysParameter;
    config.backlog.hostKeys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"];
    const s = synthStack(config);
    const spec = verifyBuildspec(s);
    expect(spec.env["parameter-store"]).toEqual({ SRC_GIT_CREDENTIAL: "/backlog-mirror/ssh-private-key" });
    const variables = verifyProject(s)!.environment.environment_variable as Array<{ name: string; value: string }>;
    expect(variables.find((v) => v.name === "BACKLOG_HOST_KEYS")?.value).toBe(config.backlog.hostKeys[0]);
  });
});

describe("the repository list", () => {
  test("is an S3 object in the stack's bucket with one line per repository: key, CodeCommit name, sync project, ref selection", () => {
    const config = exampleConfig();
    config.repositories = [
      { projectKey: "DEMO", repository: "web-app", codecommitRepository: "demo-web-app" },
      { projectKey: "OPS", repository: "tools", refs: { include: ["refs/heads/main", "refs/tags/v*"], exclude: ["refs/tags/v0*"] } },
      { projectKey: "OPS", repository: "site", codecommitRepository: "ops.site" },
    ];
    config.sync = { refs: { exclude: ["refs/heads/wip/*"] } };
    const s = synthStack(config);
    const lists = resources(s, "aws_s3_object").filter((o) => !String(o.key).startsWith(BUILD_TOOLS_PREFIX));
    expect(lists).toHaveLength(1);
    const [list] = lists;
    expect(list).toMatchObject({ bucket: refOf(s, "aws_s3_bucket", bucket(s), "bucket"), key: "verify/repositories.txt", content_type: "text/plain" });
    expect(list.content).toBe(
      "DEMO/web-app demo-web-app backlog-mirror-mirror-demo-web-app refs/heads/*,refs/tags/* refs/heads/wip/*\n" +
        // The repository's own selection replaces the stack's, exclude included.
        "OPS/tools tools backlog-mirror-mirror-tools refs/heads/main,refs/tags/v* refs/tags/v0*\n" +
        "OPS/site ops.site backlog-mirror-mirror-ops_site refs/heads/*,refs/tags/* refs/heads/wip/*\n",
    );
  });
});

describe("the schedule", () => {
  test("is ONE rule, hourly by default, whatever the number of repositories, and starts only NAME-verify", () => {
    const s = synthStack(configWithRepositories(7));
    const rules = scheduleRules(s);
    expect(rules.map((r) => [r.name, r.schedule_expression])).toEqual([["backlog-mirror-verify", "rate(1 hour)"]]);
    const targets = resources(s, "aws_cloudwatch_event_target").filter((t) => t.rule === refOf(s, "aws_cloudwatch_event_rule", rules[0], "name"));
    expect(targets).toEqual([
      {
        rule: refOf(s, "aws_cloudwatch_event_rule", rules[0], "name"),
        arn: arn("codebuild", "project/backlog-mirror-verify"),
        role_arn: refOf(s, "aws_iam_role", role(s, "backlog-mirror-verify-schedule")!, "arn"),
      },
    ]);
  });

  test("takes resync.schedule", () => {
    expect(scheduleRules(synthStack({ ...exampleConfig(), resync: { schedule: "rate(30 minutes)" } }))[0].schedule_expression).toBe("rate(30 minutes)");
  });

  test("its role is assumed by EventBridge for this account only and may start NAME-verify and nothing else", () => {
    const r = role(synth, "backlog-mirror-verify-schedule")!;
    expect(policyDocument(synth, r.assume_role_policy).statement).toEqual([
      {
        effect: "Allow",
        actions: ["sts:AssumeRole"],
        principals: [{ type: "Service", identifiers: ["events.amazonaws.com"] }],
        condition: [{ test: "StringEquals", variable: "aws:SourceAccount", values: [A] }],
      },
    ]);
    const policies = policiesOf(synth, r);
    expect(policies).toHaveLength(1);
    expect(policyDocument(synth, policies[0].policy).statement).toEqual([
      { sid: "StartVerify", effect: "Allow", actions: ["codebuild:StartBuild"], resources: [arn("codebuild", "project/backlog-mirror-verify")] },
    ]);
  });
});

describe("the verify role", () => {
  const r = role(synth, "backlog-mirror-verify")!;
  const policy = (name: string) => policyDocument(synth, policiesOf(synth, r).find((p) => p.name === name)!.policy).statement;

  test("is assumed by CodeBuild for this account only", () => {
    expect(policyDocument(synth, r.assume_role_policy).statement).toEqual([
      {
        effect: "Allow",
        actions: ["sts:AssumeRole"],
        principals: [{ type: "Service", identifiers: ["codebuild.amazonaws.com"] }],
        condition: [{ test: "StringEquals", variable: "aws:SourceAccount", values: [A] }],
      },
    ]);
  });

  test("grants patterns and conditions, never a list of repositories", () => {
    const bucketArn = refOf(synth, "aws_s3_bucket", bucket(synth), "arn");
    expect(policy("verify-mirrors")).toEqual([
      {
        sid: "WriteVerifyLogs",
        effect: "Allow",
        actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
        resources: [`${arn("logs", "log-group:/aws/codebuild/backlog-mirror-verify")}:*`],
      },
      { sid: "StartSyncBuilds", effect: "Allow", actions: ["codebuild:StartBuild"], resources: [arn("codebuild", "project/backlog-mirror-mirror-*")] },
      {
        sid: "ListMirrors",
        effect: "Allow",
        actions: ["codecommit:GitPull"],
        resources: [arn("codecommit", "*")],
        condition: [{ test: "StringEquals", variable: "aws:ResourceTag/backlog-mirror:stack", values: ["backlog-mirror"] }],
      },
      {
        sid: "ReadBacklogCredentials",
        effect: "Allow",
        actions: ["ssm:GetParameters"],
        resources: [arn("ssm", "parameter/backlog-mirror/ssh-private-key"), arn("ssm", "parameter/backlog-mirror/ssh-host-keys")],
      },
      {
        sid: "DecryptSecureStrings",
        effect: "Allow",
        actions: ["kms:Decrypt"],
        resources: ["*"],
        condition: [{ test: "StringEquals", variable: "kms:ViaService", values: [`ssm.${R}.amazonaws.com`] }],
      },
      { sid: "ReadRepositoryList", effect: "Allow", actions: ["s3:GetObject"], resources: [`${bucketArn}/verify/repositories.txt`] },
      // Its source: the build scripts' folder (lib/build-scripts.ts), as the sync builds' role.
      { sid: "DownloadBuildScripts", effect: "Allow", actions: ["s3:GetObject", "s3:GetObjectVersion"], resources: [`${bucketArn}/tools/*`] },
      { sid: "LocateBuildScriptsBucket", effect: "Allow", actions: ["s3:GetBucketAcl", "s3:GetBucketLocation"], resources: [bucketArn] },
      {
        sid: "ListBuildScripts",
        effect: "Allow",
        actions: ["s3:ListBucket"],
        resources: [bucketArn],
        condition: [{ test: "StringLike", variable: "s3:prefix", values: ["tools/*"] }],
      },
      { sid: "KeepInSyncTimes", effect: "Allow", actions: ["s3:GetObject", "s3:PutObject"], resources: [`${bucketArn}/verify/in-sync.txt`] },
      {
        sid: "ReportOutOfSync",
        effect: "Allow",
        actions: ["states:StartExecution"],
        resources: [refOf(synth, "aws_sfn_state_machine", Object.values(synth.resource.aws_sfn_state_machine)[0], "arn")],
      },
      {
        sid: "PublishHealthMetrics",
        effect: "Allow",
        actions: ["cloudwatch:PutMetricData"],
        resources: ["*"],
        condition: [{ test: "StringEquals", variable: "cloudwatch:namespace", values: ["BacklogCodeCommitMirror"] }],
      },
    ]);
    const bigRole = role(big(), "backlog-mirror-verify")!;
    const bigDoc = policyDocument(big(), policiesOf(big(), bigRole).find((p) => p.name === "verify-mirrors")!.policy);
    expect(JSON.stringify(bigDoc).length).toBe(JSON.stringify(policyDocument(synth, policiesOf(synth, r).find((p) => p.name === "verify-mirrors")!.policy)).length);
  });

  test("has the build role's VPC grants, and the project depends on them", () => {
    const buildVpc = resources(synth, "aws_iam_role_policy").find((p) => p.name === "vpc-access" && p.role !== refOf(synth, "aws_iam_role", r))!;
    expect(policy("vpc-access")).toEqual(policyDocument(synth, buildVpc.policy).statement);
    const vpcPolicy = policiesOf(synth, r).find((p) => p.name === "vpc-access")!;
    expect(verifyProject(synth)!.depends_on).toEqual([
      refOf(synth, "aws_iam_role_policy", vpcPolicy).replace(/^\$\{|\.id\}$/g, ""),
      // and the build scripts it runs (its source)
      ...resources(synth, "aws_s3_object").filter((o) => String(o.key).startsWith(BUILD_TOOLS_PREFIX)).map((o) => resourceAddressOf(synth, "aws_s3_object", o)),
      // and the repository list, rewritten before the project takes new scripts that read it
      resourceAddressOf(synth, "aws_s3_object", resources(synth, "aws_s3_object").find((o) => o.key === REPOSITORY_LIST_KEY)!),
    ]);
  });

  test("may use the customer-managed key when there is one", () => {
    const s = synthStack({ ...exampleConfig(), encryption: { customerManagedKey: true } });
    const vr = role(s, "backlog-mirror-verify")!;
    const doc = policyDocument(s, policiesOf(s, vr).find((p) => p.name === "verify-mirrors")!.policy);
    const keyArn = refOf(s, "aws_kms_key", resources(s, "aws_kms_key")[0], "arn");
    expect(doc.statement.find((st: any) => st.sid === "UseMirrorKey")).toEqual({ sid: "UseMirrorKey", effect: "Allow", actions: ["kms:Decrypt", "kms:GenerateDataKey"], resources: [keyArn] });
    expect(verifyProject(s)!.encryption_key).toBe(keyArn);
  });
});

describe("the out-of-sync alarm", () => {
  const alarms = (s: Synth) => resources(s, "aws_cloudwatch_metric_alarm").filter((a) => a.alarm_name.endsWith("-out-of-sync"));
  const topicArn = refOf(synth, "aws_sns_topic", resources(synth, "aws_sns_topic")[0], "arn");

  test("is ONE heartbeat alarm: no successful run of NAME-verify (CodeBuild's SucceededBuilds) for the window, missing data breaching", () => {
    expect(alarms(big())).toHaveLength(1);
    expect(alarms(synth)).toEqual([
      {
        alarm_name: "backlog-mirror-out-of-sync",
        alarm_description:
          "No run of the Backlog mirrors' safety net backlog-mirror-verify has succeeded for about 25 hours: nothing has checked the mirrors against Backlog for that long (a repository out of sync is reported by name by the alert state machine). Its log is in CloudWatch Logs group /aws/codebuild/backlog-mirror-verify.",
        namespace: "AWS/CodeBuild",
        metric_name: "SucceededBuilds",
        dimensions: { ProjectName: "backlog-mirror-verify" },
        statistic: "Sum",
        period: 3600,
        evaluation_periods: 25,
        datapoints_to_alarm: 25,
        threshold: 1,
        comparison_operator: "LessThanThreshold",
        treat_missing_data: "breaching",
        alarm_actions: [topicArn],
        ok_actions: [topicArn],
      },
    ]);
  });

  test("does not watch how far behind the mirrors are: an out-of-sync repository is the alert state machine's, once", () => {
    const watched = resources(synth, "aws_cloudwatch_metric_alarm").map((a) => a.metric_name);
    expect(watched).not.toContain("OldestInSyncAge");
  });

  test("evaluates resync.outOfSyncAlarmHours hourly periods", () => {
    const [a] = alarms(synthStack({ ...exampleConfig(), resync: { outOfSyncAlarmHours: 48 } }));
    expect([a.evaluation_periods, a.datapoints_to_alarm, a.period]).toEqual([48, 48, 3600]);
    // CloudWatch: Period x EvaluationPeriods <= 604,800 s for periods of an hour or more.
    expect(outOfSyncAlarmSettings(168).period * outOfSyncAlarmSettings(168).evaluationPeriods).toBeLessThanOrEqual(604_800);
  });
});

describe("resync.enabled: false", () => {
  test("removes the whole safety net: project, schedule, roles, repository list and alarm", () => {
    const s = synthStack({ ...exampleConfig(), resync: { enabled: false } });
    expect(verifyProject(s)).toBeUndefined();
    expect(scheduleRules(s)).toEqual([]);
    expect(resources(s, "aws_iam_role").map((x) => x.name).sort()).toEqual([
      "backlog-mirror-codebuild",
      "backlog-mirror-mirror-alerts",
      "backlog-mirror-mirror-alerts-events",
      "backlog-mirror-webhook",
    ]);
    // Only the build scripts, the sync projects' source, are left in the bucket.
    expect(resources(s, "aws_s3_object").map((o) => String(o.key).slice(BUILD_TOOLS_PREFIX.length + 65))).toEqual(["backlog-ssh.sh", "lfs-s3-agent.sh", "lfs-mirror.sh", "mirror-sync.sh", "ref-selection.sh", "verify-mirrors.sh"]);
    expect(resources(s, "aws_cloudwatch_metric_alarm").map((a) => a.alarm_name)).toEqual(["backlog-mirror-alerts-failed", "backlog-mirror-alerts-undelivered", "backlog-mirror-webhook-5xx", "backlog-mirror-webhook-4xx"]);
    expect(Object.keys(s.resource).flatMap((t) => Object.keys(s.resource[t])).filter((n) => /SafetyNet/.test(n))).toEqual([]);
  });
});

describe("the sync build publishes no metric", () => {
  test("its buildspec has no post_build and calls no CloudWatch API: the verifier publishes InSync (bench:sync: ~0.5 s of AWS CLI start-up per build saved)", () => {
    const text = terraformLiteral(onlyResourceOutsideSafetyNet(synth, "aws_codebuild_project").source.buildspec);
    expect(Object.keys(parse(text).phases)).toEqual(["install", "build"]);
    expect(text).not.toMatch(/cloudwatch|put-metric-data|CODEBUILD_BUILD_SUCCEEDING/);
  });
});

describe("validation of resync.outOfSyncAlarmHours", () => {
  const problems = (resync: Record<string, unknown>): string[] => {
    try {
      validateStackConfig({ ...exampleConfig(), resync });
      return [];
    } catch (e) {
      return (e as ConfigError).problems;
    }
  };

  test.each([
    [{ outOfSyncAlarmHours: 1 }, "`resync.outOfSyncAlarmHours` must be a whole number from 2 to 168, got: 1"],
    [{ outOfSyncAlarmHours: 169 }, "`resync.outOfSyncAlarmHours` must be a whole number from 2 to 168, got: 169"],
    [{ outOfSyncAlarmHours: 2.5 }, "`resync.outOfSyncAlarmHours` must be a whole number from 2 to 168, got: 2.5"],
    [
      { schedule: "rate(1 day)" },
      '`resync.outOfSyncAlarmHours` must be at least twice the schedule\'s interval (24 hours for "rate(1 day)"), got: 25',
    ],
    [
      { schedule: "rate(3 hours)", outOfSyncAlarmHours: 5 },
      '`resync.outOfSyncAlarmHours` must be at least twice the schedule\'s interval (3 hours for "rate(3 hours)"), got: 5',
    ],
  ])("%j is refused", (resync, message) => {
    expect(problems(resync)).toEqual([message]);
  });

  test.each([[{ outOfSyncAlarmHours: 2 }], [{ schedule: "rate(1 day)", outOfSyncAlarmHours: 48 }], [{ schedule: "cron(0 3 * * ? *)" }], [{ schedule: "rate(1 day)", enabled: false }]])(
    "%j is accepted",
    (resync) => {
      expect(problems(resync)).toEqual([]);
    },
  );
});

describe("verify-mirrors.sh", () => {
  /** Runs a function of the script (sourced without running it) with `input` on stdin. */
  const fn = (call: string, input: string): string =>
    execFileSync("bash", ["-c", `VERIFY_MIRRORS_FUNCTIONS_ONLY=1 . ${JSON.stringify(VERIFY_SCRIPT_PATH)}; ${call}`], {
      input,
      encoding: "utf8",
      cwd: path.dirname(VERIFY_SCRIPT_PATH),
    });

  test("keeps each repository's in-sync time: found in sync now, out of sync keeps its time, first seen starts now, unlisted dropped", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "in-sync-"));
    const file = (name: string, text: string) => {
      writeFileSync(path.join(dir, name), text);
      return JSON.stringify(path.join(dir, name));
    };
    const prev = file("prev", "P/in 100\nP/behind 200\nP/gone 300\n");
    const same = file("same", "P/in\n");
    const list = file("list", "P/in cc-in proj-in\nP/behind cc-b proj-b\nP/new cc-n proj-n\n");
    const notInSync = file("not", "P/behind\nP/new\n");
    expect(fn(`verify_next_in_sync_times ${prev} ${same} 1000 ${list}`, "")).toBe("P/in 1000\nP/behind 200\nP/new 1000\n");
    // Ages of the out-of-sync ones: since the last in-sync time; 0 for one seen for the first time.
    expect(fn(`verify_in_sync_ages ${prev} ${notInSync} 1000`, "")).toBe("P/behind 800\nP/new 0\n");
    rmSync(dir, { recursive: true, force: true });
  });

  test("refuses a repository list line without its ref selection, naming the repository, before checking anything", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "verify-list-"));
    writeFileSync(path.join(dir, "list"), "P/ok p-ok s-mirror-p-ok refs/heads/* -\nP/old p-old s-mirror-p-old\n");
    const env = "STACK_NAME=s BACKLOG_USER=u BACKLOG_HOST=h HOST_KEY_MODE=scan METRIC_NAMESPACE=n OLDEST_AGE_METRIC=o PARALLEL_CHECKS=1 IN_SYNC_STATE_URI=s3://b/k ALERT_STATE_MACHINE_ARN=a OUT_OF_SYNC_ALERT_SECONDS=1 AWS_REGION=r REPOSITORY_LIST_URI=s3://b/list";
    // `aws s3 cp --quiet URI FILE` copies the list; any other call would be a check begun.
    const aws = `aws() { if [ "$1 $2" = "s3 cp" ]; then cp ${JSON.stringify(path.join(dir, "list"))} "$5"; else echo "aws $*" >&2; fi; }`;
    // As the buildspec runs it: backlog-ssh.sh first (lib/verify-buildspec.ts).
    const ssh = JSON.stringify(path.join(path.dirname(VERIFY_SCRIPT_PATH), "backlog-ssh.sh"));
    const r = spawnSync("bash", ["-c", `. ${ssh}; VERIFY_MIRRORS_FUNCTIONS_ONLY=1 . ${JSON.stringify(VERIFY_SCRIPT_PATH)}; ${aws}; ${env} verify_main`], { encoding: "utf8" });
    expect(r.stderr).toBe("[verify] ERROR: the repository list s3://b/list has no ref selection for P/old (Terraform writes it; apply the configuration again)\n");
    expect(r.status).toBe(1);
    rmSync(dir, { recursive: true, force: true });
  });

  test("compares heads and tags only, without peeled tags or branch names CodeCommit refuses, in a stable order", () => {
    const hex40 = "0123456789abcdef0123456789abcdef01234567";
    const ls = [
      `${"b".repeat(40)}\trefs/tags/v1`,
      `${"c".repeat(40)}\trefs/tags/v1^{}`,
      `${"a".repeat(40)}\trefs/heads/main`,
      `${"d".repeat(40)}\tHEAD`,
      `${"e".repeat(40)}\trefs/pull/1/head`,
      `${"f".repeat(40)}\trefs/heads/${hex40}`,
      `${"1".repeat(40)}\trefs/heads/${"x".repeat(257)}`,
      `${"2".repeat(40)}\trefs/heads/${"y".repeat(256)}`,
      `${"3".repeat(40)}\trefs/heads/${hex40}0`,
    ].join("\n");
    expect(fn("verify_comparable_refs", `${ls}\n`)).toBe(
      [`${"2".repeat(40)} refs/heads/${"y".repeat(256)}`, `${"3".repeat(40)} refs/heads/${hex40}0`, `${"a".repeat(40)} refs/heads/main`, `${"b".repeat(40)} refs/tags/v1`, ""].join("\n"),
    );
  });

  test("writes one MetricDatum per repository and one per stack", () => {
    expect(fn('STACK_NAME=s verify_datum InSync Count 1 DEMO/web-app; STACK_NAME=s verify_datum OldestInSyncAge Seconds 7', "")).toBe(
      '{"MetricName":"InSync","Unit":"Count","Value":1,"Dimensions":[{"Name":"Stack","Value":"s"},{"Name":"Repository","Value":"DEMO/web-app"}]}\n' +
        '{"MetricName":"OldestInSyncAge","Unit":"Seconds","Value":7,"Dimensions":[{"Name":"Stack","Value":"s"}]}\n',
    );
  });
});

describe("verify-mirrors.sh and the syncs it starts", () => {
  // The syncs queue on the verifier's own platform and compute type (ARM), and CodeBuild drops a
  // queued build when its queued timeout ends (CodeBuild User Guide, "Builds in AWS CodeBuild"): a
  // verifier that waited for them would hold the slot they wait for at an ARM quota of 1. The
  // behaviour is proven end to end (test/e2e/safety-net.e2e.test.ts, room for one build at a time).
  test("never waits for them: no build status is read and no polling loop (the role's policy, above, grants no BatchGetBuilds)", () => {
    expect(buildScriptsOf(synth, verifyProject(synth)!).text).not.toMatch(/batch-get-builds|SYNC_WAIT_SECONDS|sleep "\$pause"/);
  });
});
