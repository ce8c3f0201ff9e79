/**
 * Parts of `npm run preflight` that need no AWS endpoint: the host-key line rules (as the build's
 * shell reads them), the ssh-keyscan line per Backlog domain, and the CodeBuild quota rule. The
 * checks against an account run on the emulator in test/integration/sandbox.test.ts; Service Quotas
 * is the one API the emulator does not implement, so its rule is tested here with a stand-in client.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { GetAWSDefaultServiceQuotaCommand, GetServiceQuotaCommand } from "@aws-sdk/client-service-quotas";
import { ARM_CONTAINER_REGIONS_ALLOWED } from "../lib/regions";
import { runCommand } from "../scripts/ops/command";
import { type Clients, checkQuota, checkVpcDns, hostKeyProblem, keyscanLine, preflightCommand } from "../scripts/preflight";
import { exampleConfig } from "../test/support/synth";

function ed25519Line(): string {
  const raw = generateKeyPairSync("ed25519").publicKey.export({ format: "der", type: "spki" }).subarray(-32);
  const field = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return `ssh-ed25519 ${Buffer.concat([field(Buffer.from("ssh-ed25519")), field(raw)]).toString("base64")}`;
}

const HOST = "acme.git.backlog.com";

describe("host-key lines", () => {
  const good = ed25519Line();
  test.each<[string, string, string | undefined]>([
    ["TYPE BASE64", good, undefined],
    ["TYPE BASE64 comment", `${good} acme`, undefined],
    ["the configured host first, as ssh-keyscan prints it", `${HOST} ${good}`, undefined],
    ["another host first", `other.git.backlog.jp ${good}`, `is for host other.git.backlog.jp, not ${HOST}: fetch the keys of ${HOST}`],
    ["a hashed host name", `|1|abc= ${good}`, `has a hashed host name, which cannot be checked against ${HOST}: give it as "TYPE BASE64"`],
    ["a blob of another type", `ssh-rsa ${good.split(" ")[1]}`, 'is not a valid ssh-rsa key (its blob names "ssh-ed25519")'],
    ["no key", "ssh-ed25519", "has no base64 key after ssh-ed25519"],
    ["not a key at all", "hello world", 'is not "TYPE BASE64" or "HOST TYPE BASE64"'],
    // The configuration's own rule (lib/rules.ts HOST_KEY_TYPES): no DSA, no security-key types.
    ["a DSA key, which the configuration refuses too", `ssh-dss ${good.split(" ")[1]}`, 'is not "TYPE BASE64" or "HOST TYPE BASE64"'],
  ])("%s", (_name, line, problem) => {
    expect(hostKeyProblem(line, HOST)).toBe(problem);
  });
});

test.each([
  ["backlog.jp", "ssh-keyscan acme.git.backlog.jp 2>/dev/null | cut -d' ' -f2- > host-keys.txt"],
  ["backlog.com", "ssh-keyscan acme.git.backlog.com 2>/dev/null | cut -d' ' -f2- > host-keys.txt"],
  ["backlogtool.com", "ssh-keyscan acme.git.backlogtool.com 2>/dev/null | cut -d' ' -f2- > host-keys.txt"],
] as const)("the ssh-keyscan line names SPACE.git.%s", (domain, line) => {
  expect(keyscanLine({ backlog: { ...exampleConfig().backlog, spaceKey: "acme", domain } })).toBe(line);
});

describe("CodeBuild ARM concurrency quotas (a stand-in for Service Quotas; test/integration/preflight-quota.test.ts asks the emulator)", () => {
  /** Answers GetServiceQuota from `applied` and GetAWSDefaultServiceQuota from `defaults` (by quota code), NoSuchResource otherwise. */
  const withQuotas = (applied: Record<string, number>, defaults: Record<string, number> = {}): Clients =>
    ({
      quotas: {
        send: async (command: object) => {
          const { QuotaCode, ServiceCode } = (command as { input: { QuotaCode: string; ServiceCode: string } }).input;
          expect(ServiceCode).toBe("codebuild");
          const table = command instanceof GetServiceQuotaCommand ? applied : command instanceof GetAWSDefaultServiceQuotaCommand ? defaults : {};
          if (table[QuotaCode] === undefined) throw Object.assign(new Error("no such quota"), { name: "NoSuchResourceException" });
          return { Quota: { QuotaCode, Value: table[QuotaCode] } };
        },
      },
    }) as unknown as Clients;
  const config = (repos: number, build?: Record<string, unknown>, resync?: Record<string, unknown>) => ({
    ...exampleConfig(),
    repositories: Array.from({ length: repos }, (_, i) => ({ projectKey: "DEMO", repository: `r${i}` })),
    build,
    resync,
  });
  const SMALL = "L-5ED1D25B";
  const MEDIUM = "L-DF544FF3";

  test("enough: one sync per repository plus the verify build, on ARM small", async () => {
    const findings = await checkQuota(config(3) as never, withQuotas({ [SMALL]: 4 }));
    expect(findings).toEqual([
      {
        level: "ok",
        resource: `CodeBuild quota "Concurrently running builds for ARM/Small environment" (${SMALL})`,
        message: expect.stringMatching(/^is 4, enough: the design needs 4 \(3 sync\(s\) may run at once .*backlog-mirror-verify runs on ARM small alongside them\)$/),
      },
    ]);
  });

  test("a quota of 1 (a new account's) is an error, even for one repository: it names the quota, says why and gives the request line", async () => {
    const [finding] = await checkQuota(config(1) as never, withQuotas({ [SMALL]: 1 }));
    expect(finding.level).toBe("error");
    expect(finding.resource).toBe(`CodeBuild quota "Concurrently running builds for ARM/Small environment" (${SMALL})`);
    expect(finding.message).toContain("is 1; the design needs 2: 1 sync(s) may run at once");
    expect(finding.message).toContain("backlog-mirror-verify runs on ARM small alongside them");
    expect(finding.message).toContain("a queued sync is dropped after build.queuedTimeoutMinutes (10)");
    expect(finding.message).toContain(`aws service-quotas request-service-quota-increase --service-code codebuild --quota-code ${SMALL} --desired-value 2 --region ap-northeast-1`);
  });

  test("fewer than the repositories is an error", async () => {
    const [finding] = await checkQuota(config(8) as never, withQuotas({ [SMALL]: 5 }));
    expect([finding.level, finding.message]).toEqual(["error", expect.stringContaining("is 5; the design needs 9")]);
  });

  test("without the safety net, the syncs alone", async () => {
    const [finding] = await checkQuota(config(2, undefined, { enabled: false }) as never, withQuotas({ [SMALL]: 2 }));
    expect([finding.level, finding.message]).toEqual(["ok", "is 2, enough: the design needs 2 (2 sync(s) may run at once (one per repository: the safety net starts every repository that differs, each push its repository's))"]);
  });

  test("syncs on ARM medium: the medium quota for them, the small one for the verify build", async () => {
    const findings = await checkQuota(config(3, { computeType: "BUILD_GENERAL1_MEDIUM" }) as never, withQuotas({ [MEDIUM]: 2, [SMALL]: 1 }));
    expect(findings.map((f) => [f.level, f.resource, f.message.split(":")[0]])).toEqual([
      ["error", `CodeBuild quota "Concurrently running builds for ARM/Medium environment" (${MEDIUM})`, "is 2; the design needs 3"],
      ["ok", `CodeBuild quota "Concurrently running builds for ARM/Small environment" (${SMALL})`, "is 1, enough"],
    ]);
  });

  test("no applied value: the default is used, and said so", async () => {
    const [finding] = await checkQuota(config(1) as never, withQuotas({}, { [SMALL]: 1 }));
    expect([finding.level, finding.message]).toEqual(["error", expect.stringContaining("is 1 (the default: no applied value); the design needs 2")]);
  });

  test("a project limit above the account's", async () => {
    const [finding] = await checkQuota(config(1, { concurrentBuildLimit: 10 }) as never, withQuotas({ [SMALL]: 5 }));
    expect([finding.level, finding.message]).toEqual(["error", expect.stringContaining("is 5, below build.concurrentBuildLimit 10")]);
  });

  test("not answered at all: a warning with what the design needs", async () => {
    const [finding] = await checkQuota(config(1) as never, withQuotas({}));
    expect([finding.level, finding.message]).toEqual(["warning", expect.stringContaining("not answered by Service Quotas in ap-northeast-1: check it in the console before apply; the design needs 2")]);
  });
});

// CodeBuild runs ARM_CONTAINER builds only in the regions its documentation lists (lib/regions.ts);
// preflight refuses any other region from the configuration, before it calls AWS at all.
test("preflight names the region field, the allowed regions and the given one, and calls no AWS endpoint", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "preflight-region-"));
  const file = path.join(dir, "config.json");
  writeFileSync(file, JSON.stringify({ ...exampleConfig(), region: "ca-central-1" }));
  const stdout: string[] = [];
  const stderr: string[] = [];
  // In process, through the commands' runner (what main() runs); an endpoint that refuses
  // connections: a call to AWS would fail differently.
  const code = await runCommand(
    preflightCommand,
    [],
    { ...process.env, MIRROR_CONFIG: file, AWS_ENDPOINT_URL: "http://127.0.0.1:9", AWS_ACCESS_KEY_ID: "x", AWS_SECRET_ACCESS_KEY: "x" },
    { out: (line = "") => stdout.push(line), err: (line) => stderr.push(line) },
  );
  expect(code).toBe(2);
  expect(`${stderr.join("\n")}\n`).toContain(`  - \`region\` must be ${ARM_CONTAINER_REGIONS_ALLOWED}, got: "ca-central-1"\n`);
  expect(stdout.join("\n")).not.toContain("preflight of");
});

// Builds mount EFS by its DNS name, which resolves only in a VPC with DNS resolution and DNS
// hostnames on (EFS User Guide, "Mounting on Amazon EC2 with a DNS name"). The emulator case is in
// test/integration/sandbox.test.ts; this stand-in answers DescribeVpcAttribute as EC2 does.
describe("VPC DNS attributes (stand-in for EC2 DescribeVpcAttribute)", () => {
  const VPC = "vpc-0123456789abcdef0";
  const ec2 = (support: boolean, hostnames: boolean): Pick<Clients, "ec2"> =>
    ({
      ec2: {
        send: async (command: { input: { VpcId: string; Attribute: string } }) => {
          expect(command.input.VpcId).toBe(VPC);
          return command.input.Attribute === "enableDnsSupport"
            ? { VpcId: VPC, EnableDnsSupport: { Value: support } }
            : { VpcId: VPC, EnableDnsHostnames: { Value: hostnames } };
        },
      },
    }) as unknown as Pick<Clients, "ec2">;
  const fix = (flag: string) => `aws ec2 modify-vpc-attribute --vpc-id ${VPC} ${flag} '{"Value":true}'`;

  test.each<[string, boolean, boolean, string[]]>([
    ["both on", true, true, []],
    [
      "DNS hostnames off (a new VPC's default)",
      true,
      false,
      [`enableDnsHostnames is off: the builds mount EFS by its DNS name, which resolves only with DNS hostnames on (EFS User Guide, "Mounting on Amazon EC2 with a DNS name"): ${fix("--enable-dns-hostnames")}`],
    ],
    [
      "both off",
      false,
      false,
      [
        `enableDnsSupport is off: the builds mount EFS by its DNS name, which resolves only with DNS resolution on (EFS User Guide, "Mounting on Amazon EC2 with a DNS name"): ${fix("--enable-dns-support")}`,
        `enableDnsHostnames is off: the builds mount EFS by its DNS name, which resolves only with DNS hostnames on (EFS User Guide, "Mounting on Amazon EC2 with a DNS name"): ${fix("--enable-dns-hostnames")}`,
      ],
    ],
  ])("%s", async (_name, support, hostnames, errors) => {
    const findings = await checkVpcDns(VPC, ec2(support, hostnames));
    expect(findings.filter((f) => f.level === "error").map((f) => f.message)).toEqual(errors);
    expect(findings.every((f) => f.resource === `${VPC} (network.vpcId)`)).toBe(true);
  });
});
