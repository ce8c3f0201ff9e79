import { renderBuildspec } from "../lib/buildspec";
import { BUILD_TOOLS_PREFIX, buildScriptsFolder } from "../lib/build-scripts";
import {
  configWithRepositories,
  exampleConfig,
  instances,
  onlyResource,
  refOf,
  resourceAddressOf,
  resources,
  synthStack,
  onlyResourceOutsideSafetyNet,
} from "../test/support/synth";

const synth = synthStack(exampleConfig());
const project = onlyResourceOutsideSafetyNet(synth, "aws_codebuild_project");

describe("sync project", () => {
  test("is named after the prefix and the CodeCommit repository, with the build scripts' folder as its source and no artifacts", () => {
    expect(project.name).toBe("backlog-mirror-mirror-demo-web-app");
    expect(project.source.type).toBe("S3");
    expect(project.source.location).toBe(`${refOf(synth, "aws_s3_bucket", onlyResource(synth, "aws_s3_bucket"), "bucket")}/${buildScriptsFolder()}`);
    expect(project.artifacts).toEqual({ type: "NO_ARTIFACTS" });
    expect(project.project_visibility).toBe("PRIVATE");
  });

  test("runs on the current ARM standard image, small, not privileged (CodeBuild mounts EFS itself)", () => {
    expect(project.environment).toEqual({
      type: "ARM_CONTAINER",
      image: "aws/codebuild/amazonlinux-aarch64-standard:4.0",
      compute_type: "BUILD_GENERAL1_SMALL",
      image_pull_credentials_type: "CODEBUILD",
      privileged_mode: false,
      // the repository's settings, as the sync script reads them (lib/buildspec/mirror-sync.sh's header)
      environment_variable: [
        { name: "BACKUP_BUCKET", type: "PLAINTEXT", value: refOf(synth, "aws_s3_bucket", onlyResource(synth, "aws_s3_bucket"), "bucket") },
        { name: "BACKLOG_HOST", type: "PLAINTEXT", value: "example-space.git.backlog.jp" },
        { name: "HOST_KEY_MODE", type: "PLAINTEXT", value: "pinned" },
        { name: "LOCK_TIMEOUT_SECONDS", type: "PLAINTEXT", value: "90" },
        { name: "ALLOW_EMPTY_SOURCE", type: "PLAINTEXT", value: "false" },
        { name: "BACKLOG_REMOTE", type: "PLAINTEXT", value: "example-space@example-space.git.backlog.jp:/DEMO/web-app.git" },
        { name: "CODECOMMIT_REPOSITORY", type: "PLAINTEXT", value: "demo-web-app" },
        { name: "MIRROR_PATH", type: "PLAINTEXT", value: "DEMO/web-app.git" },
        // Every branch and tag by default (sync.refs).
        { name: "REF_INCLUDE", type: "PLAINTEXT", value: "refs/heads/*,refs/tags/*" },
        { name: "REF_EXCLUDE", type: "PLAINTEXT", value: "-" },
      ],
    });
  });

  test("runs in the configured VPC and subnets with the build security group", () => {
    const buildSg = resources(synth, "aws_security_group").find((g) => g.name === "backlog-mirror-codebuild")!;
    expect(project.vpc_config).toEqual({
      vpc_id: "vpc-0123456789abcdef0",
      subnets: ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"],
      security_group_ids: [refOf(synth, "aws_security_group", buildSg)],
    });
  });

  test("mounts the shared EFS file system at /mnt/shared as repo_dir", () => {
    const fs = onlyResource(synth, "aws_efs_file_system");
    expect(project.file_system_locations).toEqual([
      {
        type: "EFS",
        identifier: "repo_dir",
        location: `${refOf(synth, "aws_efs_file_system", fs, "dns_name")}:/`,
        mount_point: "/mnt/shared",
      },
    ]);
  });

  test("has no build cache (the buildspec caches nothing; the mirror is on EFS), logs to its own log group", () => {
    const logGroup = onlyResourceOutsideSafetyNet(synth, "aws_cloudwatch_log_group");
    expect(project).not.toHaveProperty("cache");
    expect(logGroup).toMatchObject({ name: "/aws/codebuild/backlog-mirror-mirror-demo-web-app", retention_in_days: 30 });
    expect(project.logs_config).toEqual({
      cloudwatch_logs: { status: "ENABLED", group_name: refOf(synth, "aws_cloudwatch_log_group", logGroup, "name") },
    });
  });

  test("times out after 5 minutes, 10 in the queue, and has no project concurrency limit (builds queue and take the mirror lock)", () => {
    expect(project).toMatchObject({ build_timeout: 5, queued_timeout: 10 });
    expect(project).not.toHaveProperty("concurrent_build_limit");
  });

  test("uses the build role and waits for its VPC policy, the mount targets and the build scripts", () => {
    const role = resources(synth, "aws_iam_role").find((r) => r.name === "backlog-mirror-codebuild")!;
    expect(project.service_role).toBe(refOf(synth, "aws_iam_role", role, "arn"));
    const vpcPolicy = resources(synth, "aws_iam_role_policy").find((p) => p.name === "vpc-access")!;
    const mountTargets = resources(synth, "aws_efs_mount_target");
    expect(project.depends_on.sort()).toEqual(
      [
        ...new Set([
          resourceAddressOf(synth, "aws_iam_role_policy", vpcPolicy),
          ...mountTargets.map((m) => resourceAddressOf(synth, "aws_efs_mount_target", m)),
          ...resources(synth, "aws_s3_object")
            .filter((o) => String(o.key).startsWith(BUILD_TOOLS_PREFIX))
            .map((o) => resourceAddressOf(synth, "aws_s3_object", o)),
        ]),
      ].sort(),
    );
  });

  test("build settings from the configuration reach the project", () => {
    const config = {
      ...exampleConfig(),
      build: { timeoutMinutes: 20, queuedTimeoutMinutes: 30, computeType: "BUILD_GENERAL1_MEDIUM" as const, concurrentBuildLimit: 2 },
    };
    const p = onlyResourceOutsideSafetyNet(synthStack(config), "aws_codebuild_project");
    expect(p).toMatchObject({ build_timeout: 20, queued_timeout: 30, concurrent_build_limit: 2 });
    expect(p.environment.compute_type).toBe("BUILD_GENERAL1_MEDIUM");
  });
});

describe("CodeCommit repository", () => {
  test("is created with the configured name and a description that says it is a mirror", () => {
    const repo = onlyResource(synth, "aws_codecommit_repository");
    expect(repo.repository_name).toBe("demo-web-app");
    expect(repo.description).toBe(
      "Mirror of Backlog example-space@example-space.git.backlog.jp:/DEMO/web-app.git, written by the sync build backlog-mirror-mirror-demo-web-app. Do not push here.",
    );
  });

  test("defaults to the Backlog repository name", () => {
    const config = exampleConfig();
    config.repositories = [{ projectKey: "DEMO", repository: "web-app" }];
    expect(onlyResource(synthStack(config), "aws_codecommit_repository").repository_name).toBe("web-app");
  });
});

describe("one and three repositories", () => {
  const count = (n: number) => {
    const s = synthStack(configWithRepositories(n));
    // The safety net's own project and log group are one per stack (__tests__/safety-net.test.ts).
    const outside = (address: string) => !/_SafetyNet_/.test(address);
    return {
      synth: s,
      resources: Object.fromEntries(Object.entries(s.resource).map(([type, byName]) => [type, Object.keys(byName).filter(outside).length])),
      instances: Object.fromEntries(Object.keys(s.resource).map((type) => [type, instances(s, type).filter((i) => outside(i.address)).length])),
    };
  };
  const one = count(1);
  const three = count(3);

  test.each([
    "aws_codecommit_repository",
    "aws_codebuild_project",
    "aws_cloudwatch_log_group",
  ])("%s is one resource with an instance per repository, keyed PROJECT/REPO", (type) => {
    expect([one.resources[type], three.resources[type]]).toEqual([1, 1]);
    expect([one.instances[type], three.instances[type]]).toEqual([1, 3]);
    expect(instances(three.synth, type).filter((i) => !/_SafetyNet_/.test(i.address)).map((i) => i.key).sort()).toEqual(["DEMO/repo-1", "DEMO/repo-3", "OPS/repo-2"]);
  });

  test("every sync project carries the same buildspec; the repositories differ only in their for_each values", () => {
    const projects = resources(three.synth, "aws_codebuild_project").filter((p) => !p.name.endsWith("-verify"));
    expect(new Set(projects.map((p) => p.source.buildspec)).size).toBe(1);
    const config = configWithRepositories(3);
    expect(projects[0].source.buildspec).toBe(renderBuildspec({ sshKeyParameter: config.backlog.sshKeyParameter, hostKeysParameter: { value: config.backlog.hostKeysParameter ?? "", when: config.backlog.hostKeysParameter !== undefined } }));
    const withoutSettings = (p: Record<string, any>) => {
      const { name: _n, description: _d, logs_config: _l, environment, ...rest } = p;
      return { ...rest, environment: { ...environment, environment_variable: environment.environment_variable.filter((v: any) => !["BACKLOG_REMOTE", "CODECOMMIT_REPOSITORY", "MIRROR_PATH"].includes(v.name)) } };
    };
    expect(withoutSettings(projects[1])).toEqual(withoutSettings(projects[0]));
    expect(withoutSettings(projects[2])).toEqual(withoutSettings(projects[0]));
  });

  test("adding a repository moves no other address", () => {
    const addresses = (s: typeof one.synth) => Object.entries(s.resource).flatMap(([type, byName]) => Object.keys(byName).map((n) => `${type}.${n}`));
    const before = addresses(count(2).synth);
    expect(addresses(three.synth).filter((a) => !before.includes(a))).toEqual([]);
  });

  test.each([
    "aws_api_gateway_rest_api",
    "aws_api_gateway_resource",
    "aws_api_gateway_method",
    "aws_api_gateway_integration",
    "aws_api_gateway_method_response",
    "aws_api_gateway_integration_response",
    "aws_api_gateway_deployment",
    "aws_api_gateway_stage",
    "aws_efs_file_system",
    "aws_s3_bucket",
    "aws_s3_bucket_policy",
    "aws_security_group",
    "aws_iam_role",
    "aws_iam_role_policy",
    "aws_efs_mount_target",
  ])("%s is shared", (type) => {
    expect(three.instances[type]).toBe(one.instances[type]);
  });
});

describe("upgrade from one construct per repository", () => {
  // The addresses main at 8c93dbf (the last commit with one construct per repository) synthesized
  // for config/example.json; test/integration/migration.test.ts applies that shape and re-plans.
  test("moves each of the earlier per-repository addresses to its instance, and nothing else", () => {
    expect(synth.moved).toEqual([
      { from: "aws_codecommit_repository.Mirror_DEMO-web-app_Repository_1E02D482", to: 'aws_codecommit_repository.Mirror_Repositories_Repository_17A3FDA0["DEMO/web-app"]' },
      { from: "aws_cloudwatch_log_group.Mirror_DEMO-web-app_LogGroup_C9A879DE", to: 'aws_cloudwatch_log_group.Mirror_Repositories_LogGroup_D0AEDD7E["DEMO/web-app"]' },
      { from: "aws_codebuild_project.Mirror_DEMO-web-app_Project_16116904", to: 'aws_codebuild_project.Mirror_Repositories_Project_F99E4F98["DEMO/web-app"]' },
    ]);
    for (const { to } of synth.moved ?? []) {
      const type = to.split(".")[0];
      expect(instances(synth, type).map((i) => i.address)).toContain(to);
    }
  });
});
