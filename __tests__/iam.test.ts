import { configWithRepositories, dataRef, exampleConfig, policyDocument, resources, synthStack, type Synth } from "../test/support/synth";

const synth = synthStack(exampleConfig());
const role = (s: Synth, name: string) => resources(s, "aws_iam_role").find((r) => r.name === name)!;
const policy = (s: Synth, name: string) => resources(s, "aws_iam_role_policy").find((p) => p.name === name)!;
const statements = (s: Synth, name: string) => policyDocument(s, policy(s, name).policy).statement;

const P = dataRef(synth, "aws_partition", "partition");
const R = dataRef(synth, "aws_region", "id");
const A = dataRef(synth, "aws_caller_identity", "account_id");
const arn = (service: string, resource: string) => `arn:${P}:${service}:${R}:${A}:${resource}`;

describe("build role", () => {
  test("can be assumed only by CodeBuild acting for this account", () => {
    expect(policyDocument(synth, role(synth, "backlog-mirror-codebuild").assume_role_policy).statement).toEqual([
      {
        effect: "Allow",
        actions: ["sts:AssumeRole"],
        principals: [{ type: "Service", identifiers: ["codebuild.amazonaws.com"] }],
        condition: [{ test: "StringEquals", variable: "aws:SourceAccount", values: [A] }],
      },
    ]);
  });

  test("writes logs to the stack's sync log groups only, pushes to repositories with the stack's tag only, reads only the configured parameters", () => {
    expect(statements(synth, "mirror-sync")).toEqual([
      {
        sid: "WriteBuildLogs",
        effect: "Allow",
        actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
        resources: [`${arn("logs", "log-group:/aws/codebuild/backlog-mirror-mirror-*")}:*`],
      },
      {
        sid: "PushToMirrors",
        effect: "Allow",
        actions: ["codecommit:GitPull", "codecommit:GitPush", "codecommit:GetRepository", "codecommit:UpdateDefaultBranch"],
        resources: [arn("codecommit", "*")],
        condition: [{ test: "StringEquals", variable: "aws:ResourceTag/backlog-mirror:stack", values: ["backlog-mirror"] }],
      },
      {
        // an incomplete sync starts the next build of its own project (lib/buildspec/mirror-sync.sh)
        sid: "ContinueIncompleteSync",
        effect: "Allow",
        actions: ["codebuild:StartBuild"],
        resources: [arn("codebuild", "project/backlog-mirror-mirror-*")],
      },
      {
        sid: "SaveBackupBundles",
        effect: "Allow",
        actions: ["s3:PutObject"],
        resources: [expect.stringMatching(/^\$\{aws_s3_bucket\.[A-Za-z0-9_]+\.arn\}\/backups\/\*$/)],
      },
      // The projects' source: the build scripts' folder (lib/build-scripts.ts).
      { sid: "DownloadBuildScripts", effect: "Allow", actions: ["s3:GetObject", "s3:GetObjectVersion"], resources: [expect.stringMatching(/^\$\{aws_s3_bucket\.[A-Za-z0-9_]+\.arn\}\/tools\/\*$/)] },
      { sid: "LocateBuildScriptsBucket", effect: "Allow", actions: ["s3:GetBucketAcl", "s3:GetBucketLocation"], resources: [expect.stringMatching(/^\$\{aws_s3_bucket\.[A-Za-z0-9_]+\.arn\}$/)] },
      {
        sid: "ListBuildScripts",
        effect: "Allow",
        actions: ["s3:ListBucket"],
        resources: [expect.stringMatching(/^\$\{aws_s3_bucket\.[A-Za-z0-9_]+\.arn\}$/)],
        condition: [{ test: "StringLike", variable: "s3:prefix", values: ["tools/*"] }],
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
    ]);
    // The syncs publish no metric (the safety net does): no cloudwatch action at all.
    expect(JSON.stringify(statements(synth, "mirror-sync"))).not.toContain("cloudwatch:");
  });

  test("may place network interfaces only in the configured subnets, for CodeBuild", () => {
    expect(statements(synth, "vpc-access")).toEqual([
      {
        sid: "VpcNetworkInterfaces",
        effect: "Allow",
        actions: [
          "ec2:CreateNetworkInterface",
          "ec2:DeleteNetworkInterface",
          "ec2:DescribeDhcpOptions",
          "ec2:DescribeNetworkInterfaces",
          "ec2:DescribeSecurityGroups",
          "ec2:DescribeSubnets",
          "ec2:DescribeVpcs",
        ],
        resources: ["*"],
      },
      {
        sid: "VpcNetworkInterfacePermission",
        effect: "Allow",
        actions: ["ec2:CreateNetworkInterfacePermission"],
        resources: [arn("ec2", "network-interface/*")],
        condition: [
          {
            test: "StringEquals",
            variable: "ec2:Subnet",
            values: [arn("ec2", "subnet/subnet-0123456789abcdef0"), arn("ec2", "subnet/subnet-0fedcba9876543210")],
          },
          { test: "StringEquals", variable: "ec2:AuthorizedService", values: ["codebuild.amazonaws.com"] },
        ],
      },
    ]);
  });

  test("grants no logs action on *, and no action at all on * outside the documented exceptions", () => {
    const all = resources(synth, "aws_iam_role_policy").flatMap((p) => policyDocument(synth, p.policy).statement);
    const onStar = all.filter((s: any) => s.resources.includes("*")).map((s: any) => s.sid);
    // Build role and verify role each: SSM decryption (kms:ViaService), the EC2 ENI actions; the
    // verify role also publishes its metric (cloudwatch:namespace).
    expect(onStar.sort()).toEqual([
      "DecryptSecureStrings",
      "DecryptSecureStrings",
      "PublishHealthMetrics",
      "VpcNetworkInterfaces",
      "VpcNetworkInterfaces",
    ]);
    // Reading logs: only the alert state machine, for the sync log groups' error lines.
    const readers = all.filter((s: any) => s.actions.some((a: string) => a.startsWith("logs:") && a !== "logs:CreateLogStream" && a !== "logs:PutLogEvents"));
    expect(readers.map((s: any) => [s.sid, s.actions, s.resources])).toEqual([
      ["ReadSyncErrorLines", ["logs:FilterLogEvents"], [arn("logs", "log-group:/aws/codebuild/backlog-mirror-mirror-*")]],
    ]);
  });

  test("gets the Session Manager channel actions only when debug sessions are allowed", () => {
    expect(JSON.stringify(synth.data)).not.toContain("ssmmessages");
    const s = synthStack({ ...exampleConfig(), build: { allowDebugSessions: true } });
    expect(statements(s, "mirror-sync").find((st: any) => st.sid === "DebugSessions")).toEqual({
      sid: "DebugSessions",
      effect: "Allow",
      actions: [
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
      ],
      resources: ["*"],
    });
  });

  test("has the same policies for 1 and for 3 repositories (nothing grows with the repositories)", () => {
    const three = synthStack(configWithRepositories(3));
    for (const name of ["mirror-sync", "vpc-access", "start-build"]) {
      expect(JSON.stringify(statements(three, name))).toBe(JSON.stringify(statements(synth, name)));
    }
  });

  test("every CodeCommit mirror carries the stack tag the push grant is scoped by", () => {
    const three = synthStack(configWithRepositories(3));
    for (const repo of resources(three, "aws_codecommit_repository")) {
      expect(repo.tags).toEqual({ "backlog-mirror:stack": "backlog-mirror" });
    }
  });
});

describe("API Gateway role", () => {
  test("can be assumed by API Gateway", () => {
    expect(policyDocument(synth, role(synth, "backlog-mirror-webhook").assume_role_policy).statement).toEqual([
      { effect: "Allow", actions: ["sts:AssumeRole"], principals: [{ type: "Service", identifiers: ["apigateway.amazonaws.com"] }] },
    ]);
  });

  test("may only start the stack's sync projects (prefix NAME-mirror-)", () => {
    expect(statements(synth, "start-build")).toEqual([
      {
        sid: "StartSyncBuilds",
        effect: "Allow",
        actions: ["codebuild:StartBuild"],
        resources: [arn("codebuild", "project/backlog-mirror-mirror-*")],
      },
    ]);
    expect(policy(synth, "start-build").role).toBe(`\${aws_iam_role.${Object.entries(synth.resource.aws_iam_role).find(([, r]) => r.name === "backlog-mirror-webhook")![0]}.id}`);
  });
});
