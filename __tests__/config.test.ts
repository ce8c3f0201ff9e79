import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Testing } from "cdktf";
import { PlatformStack } from "../examples/construct-in-your-app/main";
import { BacklogCodeCommitMirror } from "../lib/mirror";
import { loadStackConfig } from "../lib/stack-config";
import { ARM_CONTAINER_REGIONS_ALLOWED } from "../lib/regions";
import { validateStackConfig } from "../lib/validation";
import { ROOT, builtApp, exampleConfig, instances, problemsOf, synthStack, synthesizing } from "../test/support/synth";

type Mutation = (c: any) => void;

/** What `region` allows, as the message names it (the list is lib/regions.ts's). */
const ARM_REGIONS = ARM_CONTAINER_REGIONS_ALLOWED;


describe("configuration validation", () => {
  test.each<[string, Mutation, string]>([
    ["a region that is not a region code", (c) => (c.region = "tokyo"), `\`region\` must be ${ARM_REGIONS}, got: "tokyo"`],
    // CodeBuild's documentation lists the regions with ARM_CONTAINER builds; Canada (Central) is not one.
    ["a region without CodeBuild ARM builds", (c) => (c.region = "ca-central-1"), `\`region\` must be ${ARM_REGIONS}, got: "ca-central-1"`],
    [
      "an upper-case name prefix",
      (c) => (c.name = "Backlog_Mirror"),
      '`name` must be 2-24 characters: lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen, got: "Backlog_Mirror"',
    ],
    [
      "a name with a -mirror- segment (its prefix would cover another stack's projects)",
      (c) => (c.name = "team-mirror-a"),
      '`name` must not contain "-mirror-" (the sync projects are named NAME-mirror-..., and IAM grants are scoped by that prefix), got: "team-mirror-a"',
    ],
    [
      "more source ranges than the REST API resource policy quota holds in the longest region",
      (c) => (c.webhook = { additionalSourceIps: Array.from({ length: 352 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`) }),
      "`webhook` must allow at most 370 source address ranges in all (allowedSourceIps, or Backlog's 19 default ranges, plus additionalSourceIps), got 371: the REST API resource policy would need up to 8213 characters, over API Gateway's quota \"Length, in characters, of API Gateway resource policy\" (8192); merge ranges, or raise the quota and keep fewer ranges here",
    ],
    [
      "a retention CloudWatch does not accept",
      (c) => (c.logRetentionDays = 10),
      "`logRetentionDays` must be one of the retention periods CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653), got: 10",
    ],
    [
      "a space key that would inject shell",
      (c) => (c.backlog.spaceKey = "x;rm -rf /"),
      '`backlog.spaceKey` must be a Backlog space key: 1-63 letters, digits and hyphens, not starting or ending with a hyphen, got: "x;rm -rf /"',
    ],
    [
      "an unknown Backlog domain",
      (c) => (c.backlog.domain = "backlog.io"),
      '`backlog.domain` must be "backlog.jp", "backlog.com" or "backlogtool.com", got: "backlog.io"',
    ],
    [
      "an SSM parameter name without the leading slash",
      (c) => (c.backlog.sshKeyParameter = "backlog/key"),
      '`backlog.sshKeyParameter` must be the name of an SSM parameter holding the SSH private key: it starts with "/" and has only letters, digits and _ . - / (at most 1011 characters), and does not start with /aws or /ssm, got: "backlog/key"',
    ],
    [
      "no source for the host key",
      (c) => delete c.backlog.hostKeysParameter,
      "`backlog` must name exactly one source of the Backlog host key: hostKeys (pinned keys), hostKeysParameter (pinned keys in SSM) or scanHostKey: true (trust on every build, not recommended), got: none",
    ],
    [
      "a pinned key with a host name in front",
      (c) => {
        delete c.backlog.hostKeysParameter;
        c.backlog.hostKeys = ["example.git.backlog.jp ssh-ed25519 AAAA"];
      },
      '`backlog.hostKeys[0]` must be an SSH public key "TYPE BASE64" with TYPE one of ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa (no host name, no comment), got: "example.git.backlog.jp ssh-ed25519 AAAA"',
    ],
    ["a malformed VPC id", (c) => (c.network.vpcId = "vpc-123"), '`network.vpcId` must be a VPC id "vpc-" followed by 8 or 17 hex digits, got: "vpc-123"'],
    [
      "a single subnet",
      (c) => (c.network.subnetIds = ["subnet-0123456789abcdef0"]),
      '`network.subnetIds` must list at least 2 private subnets (in different availability zones), got: ["subnet-0123456789abcdef0"]',
    ],
    [
      "the same subnet twice",
      (c) => (c.network.subnetIds = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef0"]),
      '`network.subnetIds[1]` must not repeat a subnet id, got: "subnet-0123456789abcdef0"',
    ],
    ["no repository", (c) => (c.repositories = []), "`repositories` must list at least one repository, got: []"],
    [
      "a lower-case project key",
      (c) => (c.repositories[0].projectKey = "demo"),
      '`repositories[0].projectKey` must be a Backlog project key: an upper-case letter, then upper-case letters, digits or _ (at most 25 characters), got: "demo"',
    ],
    [
      "a repository name with a command substitution",
      (c) => (c.repositories[0].repository = "$(reboot)"),
      '`repositories[0].repository` must be a Backlog repository name: 1-100 letters, digits, _ . and -, not starting with . or -, got: "$(reboot)"',
    ],
    [
      "the same repository twice",
      (c) => c.repositories.push({ ...c.repositories[0] }),
      '`repositories[1].repository` must be unique, but the Backlog repository "DEMO/web-app" is also used by repositories[0], got: "web-app"',
    ],
    [
      "two projects' repositories that default to the same CodeCommit name",
      (c) => (c.repositories = [{ projectKey: "A", repository: "app" }, { projectKey: "B", repository: "app" }]),
      '`repositories[1].codecommitRepository` must be unique, but the CodeCommit repository name "app" is also used by repositories[0]; set codecommitRepository to tell them apart, got: nothing (defaults to "app")',
    ],
    [
      "CodeCommit names that collide as CodeBuild project names",
      (c) => (c.repositories = [{ projectKey: "A", repository: "a.b" }, { projectKey: "A", repository: "a_b" }]),
      '`repositories[1].codecommitRepository` must be unique, but the CodeBuild project name "backlog-mirror-mirror-a_b" is also used by repositories[0]; set codecommitRepository to tell them apart, got: nothing (defaults to "a_b")',
    ],
    [
      "an invalid state bucket name",
      (c) => (c.state.bucket = "My_Bucket"),
      '`state.bucket` must be an S3 bucket name: 3-63 lower-case letters, digits, . and -, starting and ending with a letter or digit, got: "My_Bucket"',
    ],
    ["no state settings", (c) => delete c.state, "`state` must be an object with bucket, key and region, got: nothing"],
    [
      "a misspelt key",
      (c) => (c.regoin = "ap-northeast-1"),
      'the configuration has unknown key(s) "regoin"; allowed: region, name, logRetentionDays, backlog, network, webhook, resync, sync, lfs, backups, alerts, encryption, repositories, build, state, tags',
    ],
    [
      "a tag in the aws: namespace",
      (c) => (c.tags = { "aws:owner": "me" }),
      '`tags` key "aws:owner" must be a tag key of 1-128 letters, digits, spaces and _.:/=+-@, not starting with aws:',
    ],
    ["a build timeout under 5 minutes", (c) => (c.build = { timeoutMinutes: 1 }), "`build.timeoutMinutes` must be a whole number from 5 to 480, got: 1"],
  ])("rejects %s", (_label, mutate, message) => {
    expect(problemsOf(mutate)).toEqual([message]);
  });

  // Backlog's API reference ("Get List of Git Repositories") shows a space on backlogtool.com:
  // "sshUrl":"xx@xx.git.backlogtool.com:/BLG/app.git".
  test.each(["backlog.jp", "backlog.com", "backlogtool.com"])("accepts a space on %s and clones from SPACE.git.DOMAIN", (domain) => {
    const config = exampleConfig();
    const stack = synthStack(validateStackConfig({ ...config, backlog: { ...config.backlog, domain } }));
    // Every project (the sync projects and the verifier) has it as its environment variable BACKLOG_HOST.
    const projects = Object.values(stack.resource.aws_codebuild_project as Record<string, any>);
    const hosts = projects.flatMap((p) => (p.environment.environment_variable as Array<{ name: string; value: string }>).filter((v) => v.name === "BACKLOG_HOST").map((v) => v.value));
    expect(hosts.length).toBe(projects.length);
    expect(new Set(hosts)).toEqual(new Set([`${config.backlog.spaceKey}.git.${domain}`]));
  });

  test("reports every bad field at once", () => {
    expect(
      problemsOf((c) => {
        c.region = "x";
        c.backlog.domain = "y";
      }),
    ).toEqual([
      `\`region\` must be ${ARM_REGIONS}, got: "x"`,
      '`backlog.domain` must be "backlog.jp", "backlog.com" or "backlogtool.com", got: "y"',
    ]);
  });

  test("names the file and the JSON error for a file that is not JSON", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "mirror-config-"));
    const file = path.join(dir, "bad.json");
    writeFileSync(file, "{ not json");
    expect(() => loadStackConfig(file)).toThrow(`Invalid configuration file ${file}:\n  - JSON syntax error at line 1, column 3:`);
  });

  test("the construct validates its props too, and accepts tokens for VPC and subnet ids", () => {
    const { region: _r, state: _s, tags: _t, ...props } = exampleConfig();
    expect(() =>
      Testing.synthScope((scope) => new BacklogCodeCommitMirror(scope, "M", { ...props, name: "X" })),
    ).toThrow("Invalid BacklogCodeCommitMirror props:\n  - `name` must be 2-24 characters");
    const synth = synthesizing(() => JSON.parse(Testing.synth(new PlatformStack(Testing.app(), "platform"))));
    expect(Object.values<any>(synth.resource.aws_codebuild_project)[0].vpc_config.vpc_id).toMatch(/^\$\{aws_vpc\.Vpc\.id\}$/);
  });
});

describe("the app on the command line", () => {
  const run = (configFile: string, outdir: string) =>
    spawnSync(process.execPath, [builtApp()], {
      cwd: ROOT,
      env: { ...process.env, MIRROR_CONFIG: configFile, CDKTF_OUTDIR: outdir },
      encoding: "utf8",
    });

  test("exits non-zero with the field's message and writes nothing for a bad configuration", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "mirror-bad-"));
    const config: any = exampleConfig();
    config.backlog.spaceKey = "bad key";
    const file = path.join(dir, "config.json");
    writeFileSync(file, JSON.stringify(config));
    const outdir = path.join(dir, "out");
    const result = run(file, outdir);
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe(
      `Invalid configuration file ${file}:\n  - \`backlog.spaceKey\` must be a Backlog space key: 1-63 letters, digits and hyphens, not starting or ending with a hyphen, got: "bad key"`,
    );
    expect(existsSync(outdir)).toBe(false);
  });

  test("writes the stack for a good configuration", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "mirror-good-"));
    const outdir = path.join(dir, "out");
    const result = run(path.join(ROOT, "examples", "multi-repository", "config.json"), outdir);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(readdirSync(path.join(outdir, "stacks"))).toEqual(["backlog-codecommit-mirror"]);
  });
});

describe("shipped configurations", () => {
  const files = [
    ...readdirSync(path.join(ROOT, "config"))
      .filter((f) => f.endsWith(".json"))
      .map((f) => path.join(ROOT, "config", f)),
    ...readdirSync(path.join(ROOT, "examples"))
      .map((d) => path.join(ROOT, "examples", d, "config.json"))
      .filter(existsSync),
  ];

  test("include the example, the sandbox's, the multi-repository example and the new-VPC example", () => {
    expect(files.map((f) => path.relative(ROOT, f)).sort()).toEqual([
      "config/example.json",
      "config/sandbox.json",
      "examples/multi-repository/config.json",
      "examples/new-vpc/config.json",
    ]);
  });

  test.each(files.map((f) => [path.relative(ROOT, f), f]))("%s validates and synthesizes", (_rel, file) => {
    const synth = synthStack(loadStackConfig(file));
    const syncProjects = instances(synth, "aws_codebuild_project").filter((i) => !/_SafetyNet_/.test(i.address));
    expect(syncProjects.length).toBe(loadStackConfig(file).repositories.length);
  });
});
