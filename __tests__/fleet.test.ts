/**
 * The optional reserved-capacity fleet (`build.fleet`, lib/fleet.ts): off by default; when set, one
 * ARM fleet in the stack's subnets and build security group, with its own service role, that every
 * sync project and the safety net's project run on (CreateProject: no vpcConfig with a fleet).
 */
import { dataRef, exampleConfig, onlyResource, policyDocument, problemsOf, refOf, resources, synthStack, type Synth } from "../test/support/synth";

const withFleet = (fleet: Record<string, unknown>, extra: Record<string, unknown> = {}): Synth =>
  synthStack({ ...exampleConfig(), ...extra, build: { ...(extra.build as object), fleet } } as never);

const projects = (s: Synth) => resources(s, "aws_codebuild_project");
const fleets = (s: Synth) => Object.values(s.resource.aws_codebuild_fleet ?? {});
const fleetRef = (s: Synth) => `\${aws_codebuild_fleet.${Object.keys(s.resource.aws_codebuild_fleet)[0]}.arn}`;
const roleNamed = (s: Synth, name: string) => Object.entries(s.resource.aws_iam_role).find(([, r]) => r.name === name);

describe("without build.fleet", () => {
  const s = synthStack(exampleConfig());

  test("there is no fleet, no fleet role and no fleet_arn output", () => {
    expect(s.resource.aws_codebuild_fleet).toBeUndefined();
    expect(roleNamed(s, "backlog-mirror-codebuild-fleet")).toBeUndefined();
    expect(s.output.fleet_arn).toBeUndefined();
  });

  test("every project places its builds in the VPC itself", () => {
    expect(projects(s).length).toBe(2);
    for (const p of projects(s)) {
      expect(p.environment.fleet).toBeUndefined();
      expect(p.vpc_config.subnets).toEqual(["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]);
    }
  });
});

describe("with build.fleet = { baseCapacity: 1 }", () => {
  const s = withFleet({ baseCapacity: 1 });
  const plain = synthStack(exampleConfig());
  const buildGroup = projects(plain)[0].vpc_config.security_group_ids;

  test("one ARM fleet NAME-fleet of one instance, of the sync builds' compute type, overflowing on demand", () => {
    expect(fleets(s).length).toBe(1);
    const f = fleets(s)[0];
    expect(f).toMatchObject({
      name: "backlog-mirror-fleet",
      base_capacity: 1,
      environment_type: "ARM_CONTAINER",
      compute_type: "BUILD_GENERAL1_SMALL",
      overflow_behavior: "ON_DEMAND",
    });
  });

  test("the fleet is in the stack's VPC, subnets and build security group", () => {
    expect(fleets(s)[0].vpc_config).toEqual([
      { vpc_id: "vpc-0123456789abcdef0", subnets: ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"], security_group_ids: buildGroup },
    ]);
  });

  test("every sync project and the safety net run on the fleet, without a vpc_config of their own", () => {
    const all = projects(s);
    expect(all.map((p) => p.name).sort()).toEqual(["backlog-mirror-mirror-demo-web-app", "backlog-mirror-verify"]);
    for (const p of all) {
      expect(p.environment.fleet).toEqual({ fleet_arn: fleetRef(s) });
      expect(p.vpc_config).toBeUndefined();
      expect(p.environment.type).toBe("ARM_CONTAINER");
    }
  });

  test("the fleet has its own service role, which only CodeBuild acting for this account may assume", () => {
    const [id, role] = roleNamed(s, "backlog-mirror-codebuild-fleet")!;
    expect(fleets(s)[0].fleet_service_role).toBe(`\${aws_iam_role.${id}.arn}`);
    expect(policyDocument(s, role.assume_role_policy).statement).toEqual([
      {
        effect: "Allow",
        actions: ["sts:AssumeRole"],
        principals: [{ type: "Service", identifiers: ["codebuild.amazonaws.com"] }],
        condition: [{ test: "StringEquals", variable: "aws:SourceAccount", values: [dataRef(s, "aws_caller_identity", "account_id")] }],
      },
    ]);
  });

  test("the role may manage the instances' network interfaces, and grant their permission in the stack's subnets only", () => {
    const [id] = roleNamed(s, "backlog-mirror-codebuild-fleet")!;
    const policies = Object.entries(s.resource.aws_iam_role_policy).filter(([, p]) => p.role === `\${aws_iam_role.${id}.id}`);
    expect(policies.map(([, p]) => p.name)).toEqual(["fleet-network"]);
    expect(fleets(s)[0].depends_on).toEqual([`aws_iam_role_policy.${policies[0][0]}`]);
    const statements = policyDocument(s, policies[0][1].policy).statement;
    expect(statements.map((st: any) => [st.sid, st.actions, st.resources])).toEqual([
      [
        "FleetNetworkInterfaces",
        [
          "ec2:CreateNetworkInterface",
          "ec2:DeleteNetworkInterface",
          "ec2:DescribeDhcpOptions",
          "ec2:DescribeNetworkInterfaces",
          "ec2:DescribeSecurityGroups",
          "ec2:DescribeSubnets",
          "ec2:DescribeVpcs",
          "ec2:ModifyNetworkInterfaceAttribute",
        ],
        ["*"],
      ],
      ["FleetNetworkInterfacePermission", ["ec2:CreateNetworkInterfacePermission"], [expect.stringMatching(/:ec2:.*:network-interface\/\*$/)]],
    ]);
    expect(statements[1].condition).toEqual([
      {
        test: "StringEquals",
        variable: "ec2:Subnet",
        values: [expect.stringMatching(/:subnet\/subnet-0123456789abcdef0$/), expect.stringMatching(/:subnet\/subnet-0fedcba9876543210$/)],
      },
    ]);
  });

  test("the build roles keep their VPC grants (on-demand overflow builds need them: CreateFleet overflowBehavior)", () => {
    const vpcPolicies = Object.values(s.resource.aws_iam_role_policy).filter((p) => p.name === "vpc-access");
    expect(vpcPolicies.length).toBe(2);
  });

  test("its ARN is the stack's fleet_arn output", () => {
    expect(s.output.fleet_arn.value).toBe(fleetRef(s));
    expect(s.output.fleet_arn.description).toMatch(/fleet/);
  });
});

test("overflow queue is the fleet's QUEUE, and the fleet and the safety net take a larger sync compute type", () => {
  const s = withFleet({ baseCapacity: 2, overflow: "queue" }, {
    build: { computeType: "BUILD_GENERAL1_MEDIUM" },
    repositories: [{ projectKey: "DEMO", repository: "web-app" }, { projectKey: "OPS", repository: "tools" }],
  });
  expect(fleets(s)[0]).toMatchObject({ base_capacity: 2, overflow_behavior: "QUEUE", compute_type: "BUILD_GENERAL1_MEDIUM" });
  const verify = projects(s).find((p) => p.name === "backlog-mirror-verify")!;
  expect(verify.environment.compute_type).toBe("BUILD_GENERAL1_MEDIUM");
});

test("with a created VPC, the fleet is in its private subnets", () => {
  const config: any = exampleConfig();
  delete config.network;
  config.build = { fleet: { baseCapacity: 1 } };
  const s = synthStack(config);
  const subnets = fleets(s)[0].vpc_config[0].subnets;
  const privateSubnets = Object.entries(s.resource.aws_subnet).filter(([n]) => /Private/.test(n));
  expect(privateSubnets.length).toBe(2);
  expect(subnets).toEqual(privateSubnets.map(([n]) => `\${aws_subnet.${n}.id}`));
  expect(fleets(s)[0].vpc_config[0].vpc_id).toBe(refOf(s, "aws_vpc", onlyResource(s, "aws_vpc")));
});

describe("validation of build.fleet", () => {
  test.each<[string, unknown, string]>([
    ["no capacity", {}, "`build.fleet.baseCapacity` must be a whole number from 1 to 200, got: nothing"],
    ["a capacity of 0", { baseCapacity: 0 }, "`build.fleet.baseCapacity` must be a whole number from 1 to 200, got: 0"],
    ["a fractional capacity", { baseCapacity: 1.5 }, "`build.fleet.baseCapacity` must be a whole number from 1 to 200, got: 1.5"],
    ["a capacity as a string", { baseCapacity: "1" }, '`build.fleet.baseCapacity` must be a whole number from 1 to 200, got: "1" (a number, not a string: write 1 without quotes)'],
    ["more instances than repositories", { baseCapacity: 2 }, "`build.fleet.baseCapacity` must be a whole number from 1 to the number of repositories (1), got: 2"],
    ["CodeBuild's spelling of the overflow", { baseCapacity: 1, overflow: "ON_DEMAND" }, '`build.fleet.overflow` must be "on-demand" or "queue", got: "ON_DEMAND"'],
    ["an unknown key", { baseCapacity: 1, instances: 2 }, '`build.fleet` has unknown key(s) "instances"; allowed: baseCapacity, overflow'],
    ["not an object", 1, "`build.fleet` must be an object with baseCapacity (and optionally overflow), got: 1"],
  ])("%s is refused", (_, fleet, message) => {
    expect(problemsOf((c) => (c.build = { fleet }))).toEqual([message]);
  });

  test("a fleet of one instance per repository is accepted", () => {
    expect(() => withFleet({ baseCapacity: 1, overflow: "queue" })).not.toThrow();
  });
});
