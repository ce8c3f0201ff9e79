/** Git LFS mirroring (issue 19, setting `lfs`): validation, the sync projects' settings, the consumers' output. */
import { ConfigError, validateStackConfig } from "../lib/validation";
import { exampleConfig, synthStack } from "../test/support/synth";

const withLfs = (mutate: (c: any) => void = () => undefined): any => {
  const c: any = exampleConfig();
  c.lfs = { credentialsParameter: "/backlog/lfs-credentials" };
  c.repositories = [...c.repositories, { projectKey: "OPS", repository: "infra", lfs: false }];
  mutate(c);
  return c;
};

const problems = (config: unknown): string[] => {
  try {
    validateStackConfig(config);
    return [];
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.problems;
  }
};

test.each([
  [
    "a credentials parameter without a leading slash",
    (c: any) => (c.lfs = { credentialsParameter: "backlog/lfs" }),
    '`lfs.credentialsParameter` must be the name of an SSM parameter holding the Backlog user and password for Git LFS over HTTPS (USER:PASSWORD): it starts with "/" and has only letters, digits and _ . - / (at most 1011 characters), and does not start with /aws or /ssm, got: "backlog/lfs"',
  ],
  ["an lfs object without its parameter", (c: any) => (c.lfs = {}), '`lfs.credentialsParameter` must be the name of an SSM parameter holding the Backlog user and password for Git LFS over HTTPS (USER:PASSWORD): it starts with "/" and has only letters, digits and _ . - / (at most 1011 characters), and does not start with /aws or /ssm, got: nothing'],
  ["a repository's lfs that is not a boolean", (c: any) => (c.repositories[1].lfs = "no"), '`repositories[1].lfs` must be true or false, got: "no"'],
  [
    "a repository that asks for lfs in a stack without it",
    (c: any) => {
      delete c.lfs;
      c.repositories[1].lfs = true;
    },
    "`repositories[1].lfs` must not be true while the stack has no `lfs` setting (set lfs.credentialsParameter to mirror LFS objects, or remove repositories[].lfs), got: true",
  ],
])("refuses %s", (_label, mutate, message) => {
  expect(problems(withLfs(mutate))).toEqual([message]);
});

test("a stack without lfs gives its sync projects no LFS setting and creates no read policy", () => {
  const synth = synthStack(exampleConfig());
  const names = Object.values(synth.resource.aws_codebuild_project).flatMap((p: any) => (p.environment.environment_variable ?? []).map((v: any) => v.name));
  expect(names.filter((n: string) => n.startsWith("LFS_"))).toEqual([]);
  expect(synth.resource.aws_iam_policy).toBeUndefined();
  expect(synth.output?.lfs).toBeUndefined();
});

test("with lfs, every sync project names the credentials parameter, and each repository its LFS server (empty when it opted out)", () => {
  const synth = synthStack(withLfs());
  const project = Object.values(synth.resource.aws_codebuild_project).find((p: any) => p.for_each !== undefined) as any;
  const vars = Object.fromEntries(project.environment.environment_variable.map((v: any) => [v.name, v.value]));
  expect(vars.LFS_CREDENTIALS_PARAMETER).toBe("/backlog/lfs-credentials");
  expect(vars.LFS_ENDPOINT).toBe("${each.value.lfs_endpoint}");
  const local = Object.values(synth.locals ?? {}).find((l: any) => l["OPS/infra"]?.mirror_path !== undefined) as any;
  expect(local["DEMO/web-app"].lfs_endpoint).toBe("https://example-space.backlog.jp/git/DEMO/web-app.git/info/lfs");
  expect(local["OPS/infra"].lfs_endpoint).toBe("");
  // The credentials are read at run time, never through env.parameter-store (which would fail the build before the sync).
  expect(project.source.buildspec).not.toContain("lfs-credentials");
});

test("with lfs, the consumers get one read policy per mirrored repository and the commands for git lfs pull", () => {
  const synth = synthStack(withLfs());
  const [policy] = Object.values(synth.resource.aws_iam_policy) as any[];
  expect(policy.name_prefix).toBe("backlog-mirror-lfs-read-");
  const value = synth.output.lfs.value;
  expect(Object.keys(value)).toEqual(["DEMO/web-app"]);
  const commands = value["DEMO/web-app"].commands as string[];
  expect(commands.slice(1)).toEqual([
    "git config lfs.standalonetransferagent backlog-mirror",
    "git config lfs.customtransfer.backlog-mirror.path /tmp/backlog-mirror-lfs-agent.sh",
    expect.stringMatching(/^git config lfs\.customtransfer\.backlog-mirror\.args s3:\/\/\$\{aws_s3_bucket\.[A-Za-z0-9_]+\.bucket\}\/lfs\/DEMO\/web-app\/objects$/),
  ]);
  expect(commands[0]).toMatch(/^aws s3 cp --only-show-errors s3:\/\/\$\{aws_s3_bucket\.[A-Za-z0-9_]+\.bucket\}\/tools\/[0-9a-f]{64}\/lfs-s3-agent\.sh \/tmp\/backlog-mirror-lfs-agent\.sh && chmod \+x /);
});

