/**
 * The module's validation blocks against the configuration rules (lib/validation.ts): every bad
 * value below is refused by the construct's validation AND by `terraform validate` of a root module
 * that passes it to the module (with the module's own error message); the good ones pass both.
 * One root module holds every case, one file per case, so a single init + validate checks them all.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { BacklogCodeCommitMirrorProps } from "../../lib/props";
import { ConfigError, validateMirrorProps } from "../../lib/validation";
import { staleFiles } from "../../scripts/build-module";
import { copyModule } from "./support/module-copy";
import { Terraform, terraformEnv } from "../../tools/terraform/terraform";
import { providerMirror, requireTerraform, writeCliConfig } from "../../tools/terraform/tools";
import { type Props, moduleArgs } from "./support/args";

const base = (): Props => ({
  name: "backlog-mirror",
  logRetentionDays: 30,
  backlog: { spaceKey: "example-space", domain: "backlog.jp", sshKeyParameter: "/backlog-mirror/ssh-key", hostKeysParameter: "/backlog-mirror/host-keys" },
  network: { vpcId: "vpc-0123456789abcdef0", subnetIds: ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"] },
  repositories: [
    { projectKey: "DEMO", repository: "web-app", codecommitRepository: "demo-web-app" },
    { projectKey: "OPS", repository: "tools" },
  ],
});

type Case = [string, (p: Props) => void, string];

const BAD: Case[] = [
  ["an upper-case name", (p) => (p.name = "Backlog_Mirror"), "name must be 2-24 characters"],
  ["a retention CloudWatch refuses", (p) => (p.logRetentionDays = 10), "log_retention_days must be one of the retention periods"],
  ["a space key that would inject shell", (p) => (p.backlog.spaceKey = "x;rm -rf /"), "backlog.space_key must be a Backlog space key"],
  ["an unknown Backlog domain", (p) => (p.backlog.domain = "backlog.io"), 'backlog.domain must be "backlog.jp", "backlog.com" or "backlogtool.com"'],
  ["a parameter name without the slash", (p) => (p.backlog.sshKeyParameter = "backlog/key"), "backlog.ssh_key_parameter must be the name of an SSM parameter"],
  ["a reserved parameter name", (p) => (p.backlog.sshKeyParameter = "/aws/key"), "backlog.ssh_key_parameter must be the name of an SSM parameter holding the SSH private key"],
  ["a bad host-key parameter name", (p) => (p.backlog.hostKeysParameter = "/ssm/x"), "backlog.host_keys_parameter must be the name of an SSM parameter holding the pinned host keys"],
  ["no host-key source", (p) => delete p.backlog.hostKeysParameter, "backlog must name exactly one source of the Backlog host key"],
  ["two host-key sources", (p) => (p.backlog.scanHostKey = true), "backlog must name exactly one source of the Backlog host key"],
  [
    "a pinned key with a host name in front",
    (p) => {
      delete p.backlog.hostKeysParameter;
      p.backlog.hostKeys = ["example.git.backlog.jp ssh-ed25519 AAAA"];
    },
    "backlog.host_keys[*] must be an SSH public key",
  ],
  [
    "pinned keys over the buildspec's room (2,001 characters)",
    (p) => {
      delete p.backlog.hostKeysParameter;
      p.backlog.hostKeys = [`ssh-rsa ${"A".repeat(1000)}`, `ssh-rsa ${"B".repeat(984)}`];
    },
    "backlog.host_keys must hold at most 2000 characters together",
  ],
  ["a VPC id that is not one", (p) => (p.network.vpcId = "vpc-123"), "vpc_id must be a VPC id"],
  ["one subnet", (p) => (p.network.subnetIds = ["subnet-0123456789abcdef0"]), "subnet_ids must list 2 to 16 private subnets"],
  ["a subnet twice", (p) => (p.network.subnetIds = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef0"]), "subnet_ids must not repeat a subnet id"],
  ["a subnet id that is not one", (p) => (p.network.subnetIds = ["subnet-0123456789abcdef0", "sn-1"]), "subnet_ids[*] must be a subnet id"],
  ["no repository", (p) => (p.repositories = []), "repositories must list 1 to 200 repositories"],
  ["a lower-case project key", (p) => (p.repositories[0].projectKey = "demo"), "repositories[*].project_key must be a Backlog project key"],
  ["a repository name with .git", (p) => (p.repositories[0].repository = "web.git"), 'repositories[*].repository must not end in ".git"'],
  ["a CodeCommit name of ..", (p) => (p.repositories[0].codecommitRepository = ".."), 'repositories[*].codecommit_repository must not be "." or ".."'],
  ["a repository twice", (p) => p.repositories.push({ projectKey: "DEMO", repository: "web-app", codecommitRepository: "other" }), "repositories must not list a Backlog repository twice"],
  ["two repositories with one CodeCommit name", (p) => (p.repositories[1].codecommitRepository = "demo-web-app"), "repositories must give every repository its own CodeCommit name"],
  [
    "two CodeCommit names that give one project name",
    (p) => {
      p.repositories[0].codecommitRepository = "a.b";
      p.repositories[1].codecommitRepository = "a_b";
    },
    "repositories must give every repository its own CodeCommit name",
  ],
  ["a build timeout under 5 minutes", (p) => (p.build = { timeoutMinutes: 4 }), "build.timeout_minutes must be a whole number from 5 to 480"],
  ["a fractional queue timeout", (p) => (p.build = { queuedTimeoutMinutes: 7.5 }), "build.queued_timeout_minutes must be a whole number from 5 to 480"],
  ["an x86 compute type", (p) => (p.build = { computeType: "BUILD_GENERAL1_2XLARGE" }), "build.compute_type must be one of"],
  ["a fleet of no instance", (p) => (p.build = { fleet: { baseCapacity: 0 } }), "build.fleet.base_capacity must be a whole number from 1 to 200"],
  // (A fleet larger than the repositories: that block reads var.repositories too, which `terraform
  // validate` does not evaluate; tests/options.tftest.hcl plans it, a_fleet_larger_than_the_repositories_is_refused.)
  ["CodeBuild's spelling of the fleet's overflow", (p) => (p.build = { fleet: { baseCapacity: 1, overflow: "ON_DEMAND" } }), 'build.fleet.overflow must be "on-demand" or "queue"'],
  ["a CIDR with a /33", (p) => (p.webhook = { allowedSourceIps: ["10.0.0.0/33"] }), "must be an IPv4 CIDR block"],
  ["an empty allow list", (p) => (p.webhook = { allowedSourceIps: [] }), "webhook.allowed_source_ips must list at least one address range"],
  ["an open API with an allow list", (p) => (p.webhook = { allowAnySource: true, additionalSourceIps: ["203.0.113.0/24"] }), "webhook.allow_any_source must not be true"],
  ["a burst below the rate", (p) => (p.webhook = { throttleRateLimit: 50, throttleBurstLimit: 20 }), "webhook.throttle_burst_limit must be at least throttle_rate_limit"],
  ["a WAF limit under 100", (p) => (p.webhook = { wafRateLimitPer5Minutes: 50 }), "webhook.waf_rate_limit_per_5_minutes must be a whole number from 100"],
  ["a schedule EventBridge refuses", (p) => (p.resync = { schedule: "every hour" }), "resync.schedule must be an EventBridge schedule expression"],
  ["an out-of-sync alarm of one hour", (p) => (p.resync = { outOfSyncAlarmHours: 1 }), "resync.out_of_sync_alarm_hours must be a whole number from 2 to 168"],
  ["a daily schedule with the 25-hour alarm", (p) => (p.resync = { schedule: "rate(1 day)" }), "resync.out_of_sync_alarm_hours must be at least twice the schedule's interval"],
  ["backups kept for no day", (p) => (p.backups = { retentionDays: 0 }), "backups.retention_days must be a whole number from 1 to 3650"],
  ["an address that is not e-mail", (p) => (p.alerts = { emails: ["not-an-email"] }), "alert_emails[*] must be an e-mail address"],
];

const GOOD: Array<[string, (p: Props) => void]> = [
  ["the base settings", () => undefined],
  [
    "pinned keys inline",
    (p) => {
      delete p.backlog.hostKeysParameter;
      p.backlog.hostKeys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl", "ecdsa-sha2-nistp256 AAAAE2VjZHNh"];
    },
  ],
  [
    "every option set",
    (p) => {
      delete p.backlog.hostKeysParameter;
      p.backlog.scanHostKey = true;
      p.build = { timeoutMinutes: 480, queuedTimeoutMinutes: 5, computeType: "BUILD_GENERAL1_MEDIUM", allowDebugSessions: true };
      p.webhook = { allowedSourceIps: ["203.0.113.0/24"], additionalSourceIps: ["198.51.100.7/32"], throttleRateLimit: 100, throttleBurstLimit: 200, wafRateLimitPer5Minutes: 2000 };
      p.resync = { schedule: "cron(0 * * * ? *)", enabled: false };
      p.alerts = { emails: ["ops@example.com"] };
      p.logRetentionDays = 3653;
    },
  ],
  [
    "pinned keys filling the buildspec's room (2,000 characters)",
    (p) => {
      delete p.backlog.hostKeysParameter;
      p.backlog.hostKeys = [`ssh-rsa ${"A".repeat(1000)}`, `ssh-rsa ${"B".repeat(983)}`];
    },
  ],
  ["an open API", (p) => (p.webhook = { allowAnySource: true })],
  ["a space on backlogtool.com (Backlog API reference, Get List of Git Repositories)", (p) => (p.backlog.domain = "backlogtool.com")],
  ["a daily safety net with a two-day alarm", (p) => (p.resync = { schedule: "rate(1 day)", outOfSyncAlarmHours: 48 })],
  ["a queueing fleet of one instance per repository", (p) => (p.build = { fleet: { baseCapacity: 2, overflow: "queue" } })],
];

function zodProblems(p: Props): string[] {
  try {
    validateMirrorProps(p as BacklogCodeCommitMirrorProps);
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
}

describe("module validation blocks and the configuration rules", () => {
  const work = mkdtempSync(path.join(tmpdir(), "mirror-module-validation-"));
  const root = path.join(work, "root");
  const diagnostics = new Map<string, Array<{ severity: string; summary: string; detail: string }>>();
  const fileOf = (i: number, kind: string) => `${kind}_${String(i).padStart(2, "0")}.tf.json`;

  beforeAll(async () => {
    requireTerraform();
    copyModule(path.join(work, "module"));
    mkdirSync(root);
    writeFileSync(path.join(root, "providers.tf.json"), JSON.stringify({ provider: { aws: { region: "ap-northeast-1" } } }));
    const cases: Array<[string, Props]> = [
      ...BAD.map(([, mutate], i): [string, Props] => {
        const p = base();
        mutate(p);
        return [fileOf(i, "bad"), p];
      }),
      ...GOOD.map(([, mutate], i): [string, Props] => {
        const p = base();
        mutate(p);
        return [fileOf(i, "good"), p];
      }),
    ];
    for (const [file, p] of cases) {
      const name = file.replace(/\.tf\.json$/, "");
      writeFileSync(path.join(root, file), JSON.stringify({ module: { [name]: { source: "../module", ...moduleArgs(p) } } }, null, 1));
    }
    const tf = new Terraform(root, terraformEnv(writeCliConfig(providerMirror()), {}));
    await tf.run(["init", "-input=false", "-backend=false"]);
    const result = await tf.run(["validate", "-json"], [0, 1]);
    for (const d of JSON.parse(result.stdout).diagnostics ?? []) {
      const file = path.basename(d.range?.filename ?? "none");
      diagnostics.set(file, [...(diagnostics.get(file) ?? []), d]);
    }
  }, 120_000);

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  test.each(BAD.map((c, i) => [c[0], i, c[2]] as const))("%s is refused by both", (_, i, message) => {
    const p = base();
    BAD[i][1](p);
    expect(zodProblems(p).length).toBeGreaterThan(0);
    const found = diagnostics.get(fileOf(i, "bad")) ?? [];
    expect(found.map((d) => `${d.summary}: ${d.detail}`).join("\n")).toContain(message);
    expect(found.every((d) => d.summary === "Invalid value for variable")).toBe(true);
  });

  test.each(GOOD.map((c, i) => [c[0], i] as const))("%s is accepted by both", (_, i) => {
    const p = base();
    GOOD[i][1](p);
    expect(zodProblems(p)).toEqual([]);
    expect(diagnostics.get(fileOf(i, "good")) ?? []).toEqual([]);
  });

  test("no diagnostic outside the case files", () => {
    expect([...diagnostics.keys()].filter((f) => !/^(bad|good)_\d+\.tf\.json$/.test(f))).toEqual([]);
  });
});

/**
 * The committed module: what `npm run build:module` writes (CI fails on a stale copy), `terraform fmt`
 * clean, and its own `terraform test` files (tests/*.tftest.hcl: the resources each option adds, the
 * variables' validation, the region postcondition) pass offline with mock_provider.
 */
describe("the committed module", () => {
  const work = mkdtempSync(path.join(tmpdir(), "mirror-module-test-"));
  const dir = path.join(work, "module");

  beforeAll(() => {
    requireTerraform();
    copyModule(dir);
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  test("is what npm run build:module writes (run it and commit the result when this fails)", () => {
    expect(staleFiles()).toEqual([]);
  }, 120_000);

  test("is terraform fmt clean, tests included", async () => {
    const tf = new Terraform(dir, terraformEnv(writeCliConfig(providerMirror(), work), {}));
    const result = await tf.run(["fmt", "-check", "-recursive", "-no-color"], [0, 3]);
    expect(result.stdout.trim()).toBe("");
    expect(result.code).toBe(0);
  });

  test("passes its terraform test files offline", async () => {
    const tf = new Terraform(dir, terraformEnv(writeCliConfig(providerMirror(), work), {}));
    await tf.run(["init", "-input=false", "-backend=false"]);
    const result = await tf.run(["test", "-no-color"], [0, 1]);
    const output = result.stdout + result.stderr;
    for (const run of [
      "defaults",
      "every_option_switched",
      "a_bad_name_is_refused",
      "tokyo_plans",
      "canada_central_is_refused",
      "without_a_fleet_every_build_places_itself_in_the_vpc",
      "a_fleet_runs_the_syncs_and_the_safety_net",
      "a_fleet_larger_than_the_repositories_is_refused",
      "every_branch_and_tag_by_default",
      "a_repository_selection_replaces_the_stack_one",
      "a_pattern_outside_heads_and_tags_is_refused",
      "excluding_every_branch_is_refused",
      "a_repository_selection_without_a_branch_is_refused",
    ]) {
      expect(output).toContain(`run "${run}"... pass`);
    }
    expect(output).toMatch(/Success! \d+ passed, 0 failed/);
    expect(result.code).toBe(0);
  }, 180_000);
});
