/**
 * The emulator refuses what AWS refuses (tools/emulator/moto_launcher.py, "Quotas AWS enforces and
 * stock moto does not"): for each quota the product relies on, the limit is accepted and one past
 * it is refused with the error code and HTTP status AWS answers, so that Terraform fails on the
 * emulator where it would fail on AWS. One emulator for the whole file, driven with the AWS SDK.
 *
 * Sources (AWS documentation):
 * - IAM and AWS STS quotas: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
 * - Amazon EventBridge quotas: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html
 * - Quotas for configuring and running a REST API in API Gateway:
 *   https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-execution-service-limits-table.html
 * - API Gateway resource policy examples (abbreviated `execute-api:/*` expanded on save):
 *   https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-resource-policies-examples.html
 * - EFS CreateMountTarget (one mount target per Availability Zone, MountTargetConflict 409):
 *   https://docs.aws.amazon.com/efs/latest/ug/API_CreateMountTarget.html
 * - CodeBuild inline buildspec at most 25,600 characters, InvalidInputException "Max buildspec length
 *   is 25600": not in CodeBuild's documentation; met by aws-cdk, https://github.com/aws/aws-cdk/pull/14974
 */
import { APIGatewayClient, CreateResourceCommand, CreateRestApiCommand, GetRestApiCommand, UpdateRestApiCommand } from "@aws-sdk/client-api-gateway";
import { CreateProjectCommand, UpdateProjectCommand, BatchGetProjectsCommand } from "@aws-sdk/client-codebuild";
import { CreateSubnetCommand, CreateVpcCommand } from "@aws-sdk/client-ec2";
import { CreateFileSystemCommand, CreateMountTargetCommand, DescribeMountTargetsCommand } from "@aws-sdk/client-efs";
import { PutRuleCommand } from "@aws-sdk/client-eventbridge";
import {
  AttachRolePolicyCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  CreateRoleCommand,
  ListAttachedRolePoliciesCommand,
  PutRolePolicyCommand,
} from "@aws-sdk/client-iam";
import { type Emulator, EMULATOR_ENV, startEmulator } from "../../tools/emulator/moto";
import { type Clients, REGION, destroyClients, emulatorClients } from "../../tools/terraform/aws";
import { requireMoto } from "../../tools/terraform/tools";

/** The emulator's account (moto's default). */
const ACCOUNT = "123456789012";

// The quotas as documented (see the sources above); the emulator must refuse one past each.
const ROLE_INLINE_POLICIES = 10_240;
const MANAGED_POLICY = 6_144;
const MANAGED_POLICIES_PER_ROLE = 10;
const EVENT_PATTERN = 2_048;
const RESOURCES_PER_API = 300;
const RESOURCE_POLICY = 8_192;
const INLINE_BUILDSPEC = 25_600;

let emulator: Emulator;
let clients: Clients;

beforeAll(async () => {
  requireMoto();
  emulator = await startEmulator();
  clients = emulatorClients(emulator.endpoint);
}, 60_000);

afterAll(async () => {
  if (clients !== undefined) destroyClients(clients);
  await emulator?.stop();
});

/** The error a call is refused with: its name, HTTP status and message. */
async function refusal(call: Promise<unknown>): Promise<{ name: string; status: number | undefined; message: string }> {
  try {
    await call;
  } catch (e) {
    const error = e as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: error.name, status: error.$metadata?.httpStatusCode, message: error.message };
  }
  throw new Error("the call was accepted");
}

/** Characters IAM counts in a policy: all but white space. */
const iamSize = (document: string): number => document.replace(/\s/g, "").length;

/**
 * A pretty-printed (white space included) IAM policy of exactly `size` non-white-space characters:
 * one statement whose resource ARN is padded to the size.
 */
function iamPolicy(size: number, sid = "Padded"): string {
  const make = (pad: number) =>
    JSON.stringify(
      { Version: "2012-10-17", Statement: [{ Sid: sid, Effect: "Allow", Action: "s3:GetObject", Resource: `arn:aws:s3:::bucket/${"k".repeat(pad)}` }] },
      null,
      2,
    );
  const document = make(size - iamSize(make(0)));
  expect(iamSize(document)).toBe(size);
  expect(document.length).toBeGreaterThan(size); // the white space is not counted
  return document;
}

const trustCodeBuild = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { Service: "codebuild.amazonaws.com" }, Action: "sts:AssumeRole" }],
});

describe("IAM (IAM and AWS STS quotas)", () => {
  test(`a role's inline policies together: ${ROLE_INLINE_POLICIES} characters (white space not counted) are accepted, one more is refused with LimitExceeded 409`, async () => {
    const { iam } = clients;
    await iam.send(new CreateRoleCommand({ RoleName: "inline-quota", AssumeRolePolicyDocument: trustCodeBuild }));
    const put = (name: string, document: string) =>
      iam.send(new PutRolePolicyCommand({ RoleName: "inline-quota", PolicyName: name, PolicyDocument: document }));
    const half = 5_000;
    await put("first", iamPolicy(half));
    // The quota is on the sum: the second policy fills it to the limit minus one, then to the limit.
    await put("second", iamPolicy(ROLE_INLINE_POLICIES - half - 1));
    await put("second", iamPolicy(ROLE_INLINE_POLICIES - half)); // replacing a policy counts it once
    const refused = await refusal(put("second", iamPolicy(ROLE_INLINE_POLICIES - half + 1)));
    expect(refused).toEqual({
      name: "LimitExceededException",
      status: 409,
      message: `Maximum policy size of ${ROLE_INLINE_POLICIES} bytes exceeded for role inline-quota`,
    });
    // A third policy of any size no longer fits.
    expect((await refusal(put("third", iamPolicy(200)))).name).toBe("LimitExceededException");
  });

  test(`a managed policy: ${MANAGED_POLICY} characters are accepted, one more is refused with LimitExceeded 409 (CreatePolicy and CreatePolicyVersion)`, async () => {
    const { iam } = clients;
    await iam.send(new CreatePolicyCommand({ PolicyName: "below-quota", PolicyDocument: iamPolicy(MANAGED_POLICY - 1) }));
    const created = await iam.send(new CreatePolicyCommand({ PolicyName: "at-quota", PolicyDocument: iamPolicy(MANAGED_POLICY) }));
    const expected = { name: "LimitExceededException", status: 409, message: `Cannot exceed quota for PolicySize: ${MANAGED_POLICY}` };
    expect(await refusal(iam.send(new CreatePolicyCommand({ PolicyName: "over-quota", PolicyDocument: iamPolicy(MANAGED_POLICY + 1) })))).toEqual(
      expected,
    );
    const arn = created.Policy!.Arn!;
    await iam.send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: iamPolicy(MANAGED_POLICY, "Second") }));
    expect(await refusal(iam.send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: iamPolicy(MANAGED_POLICY + 1) })))).toEqual(
      expected,
    );
  });

  test(`managed policies attached to a role: ${MANAGED_POLICIES_PER_ROLE} are accepted, one more is refused with LimitExceeded 409`, async () => {
    const { iam } = clients;
    await iam.send(new CreateRoleCommand({ RoleName: "attach-quota", AssumeRolePolicyDocument: trustCodeBuild }));
    const arns: string[] = [];
    for (let i = 0; i <= MANAGED_POLICIES_PER_ROLE; i++) {
      const { Policy } = await iam.send(new CreatePolicyCommand({ PolicyName: `attach-${i}`, PolicyDocument: iamPolicy(200) }));
      arns.push(Policy!.Arn!);
    }
    const attach = (arn: string) => iam.send(new AttachRolePolicyCommand({ RoleName: "attach-quota", PolicyArn: arn }));
    for (const arn of arns.slice(0, MANAGED_POLICIES_PER_ROLE)) await attach(arn);
    await attach(arns[0]); // attaching an attached policy again adds nothing
    expect(await refusal(attach(arns[MANAGED_POLICIES_PER_ROLE]))).toEqual({
      name: "LimitExceededException",
      status: 409,
      message: `Cannot exceed quota for PoliciesPerRole: ${MANAGED_POLICIES_PER_ROLE}`,
    });
    const { AttachedPolicies = [] } = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: "attach-quota" }));
    expect(AttachedPolicies).toHaveLength(MANAGED_POLICIES_PER_ROLE);
  });
});

test(`EventBridge (event pattern size): a pattern of ${EVENT_PATTERN} characters is accepted, one more is refused with ValidationException 400`, async () => {
  const pattern = (size: number) => {
    const make = (pad: number) => JSON.stringify({ source: ["aws.codebuild"], detail: { "project-name": [{ prefix: "p".repeat(pad) }] } });
    const text = make(size - make(0).length);
    expect(text).toHaveLength(size);
    return text;
  };
  const put = (name: string, size: number) => clients.events.send(new PutRuleCommand({ Name: name, EventPattern: pattern(size) }));
  await put("below-quota", EVENT_PATTERN - 1);
  await put("at-quota", EVENT_PATTERN);
  expect(await refusal(put("over-quota", EVENT_PATTERN + 1))).toEqual({
    name: "ValidationException",
    status: 400,
    message: `1 validation error detected: Value at 'eventPattern' failed to satisfy constraint: Member must have length less than or equal to ${EVENT_PATTERN}`,
  });
});

describe("API Gateway REST API (quotas for configuring and running a REST API)", () => {
  /** No SDK retries: a 429 would otherwise be retried as throttling. */
  const apigateway = () =>
    new APIGatewayClient({
      endpoint: emulator.endpoint,
      region: REGION,
      credentials: { accessKeyId: EMULATOR_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: EMULATOR_ENV.AWS_SECRET_ACCESS_KEY },
      maxAttempts: 1,
    });

  test(`resources per API: ${RESOURCES_PER_API} (the root included) are accepted, one more is refused with LimitExceededException 429`, async () => {
    const client = apigateway();
    try {
      const api = await client.send(new CreateRestApiCommand({ name: "resource-quota" }));
      // Two levels, as a /{project}/{repo} design would have them: the root, 1 + 148 children + 150.
      const project = await client.send(new CreateResourceCommand({ restApiId: api.id, parentId: api.rootResourceId, pathPart: "project" }));
      for (let i = 0; i < 148; i++) {
        await client.send(new CreateResourceCommand({ restApiId: api.id, parentId: api.rootResourceId, pathPart: `p${i}` }));
      }
      for (let i = 0; i < RESOURCES_PER_API - 150; i++) {
        await client.send(new CreateResourceCommand({ restApiId: api.id, parentId: project.id, pathPart: `r${i}` }));
      }
      expect(
        await refusal(client.send(new CreateResourceCommand({ restApiId: api.id, parentId: project.id, pathPart: "one-too-many" }))),
      ).toEqual({
        name: "LimitExceededException",
        status: 429,
        message: "Maximum number of Resources for this API has been reached. Please contact AWS if you need additional Resources.",
      });
    } finally {
      client.destroy();
    }
  }, 60_000);

  const policyOf = (resource: string, padTo?: number) => {
    const make = (pad: number) =>
      JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          { Effect: "Allow", Principal: "*", Action: "execute-api:Invoke", Resource: resource },
          { Sid: "x".repeat(pad), Effect: "Deny", Principal: "*", Action: "execute-api:Invoke", NotResource: [resource] },
        ],
      });
    return padTo === undefined ? make(1) : make(padTo - make(0).length);
  };
  /** The policy GetRestApi returns, unescaped (API Gateway answers it JSON-escaped). */
  const storedPolicy = async (client: APIGatewayClient, restApiId: string): Promise<string> => {
    const { policy } = await client.send(new GetRestApiCommand({ restApiId }));
    return JSON.parse(`"${policy}"`) as string;
  };
  const setPolicy = (client: APIGatewayClient, restApiId: string, policy: string) =>
    client.send(new UpdateRestApiCommand({ restApiId, patchOperations: [{ op: "replace", path: "/policy", value: policy }] }));

  test("the resource policy is stored with execute-api:/... expanded to the API's full ARN (Resource and NotResource), as API Gateway saves it", async () => {
    const client = apigateway();
    try {
      const api = await client.send(new CreateRestApiCommand({ name: "policy-expansion" }));
      await setPolicy(client, api.id!, policyOf("execute-api:/*"));
      const stored = JSON.parse(await storedPolicy(client, api.id!)) as { Statement: Array<{ Resource?: string; NotResource?: string[] }> };
      const arn = `arn:aws:execute-api:${REGION}:${ACCOUNT}:${api.id}/*`;
      expect(stored.Statement[0].Resource).toBe(arn);
      expect(stored.Statement[1].NotResource).toEqual([arn]);
      // The full form is stored as given; so is a policy passed to CreateRestApi, expanded too.
      await setPolicy(client, api.id!, policyOf(`arn:aws:execute-api:${REGION}:${ACCOUNT}:${api.id}/prod/POST/*`));
      expect(await storedPolicy(client, api.id!)).toBe(policyOf(`arn:aws:execute-api:${REGION}:${ACCOUNT}:${api.id}/prod/POST/*`));
      const created = await client.send(new CreateRestApiCommand({ name: "policy-on-create", policy: policyOf("execute-api:/prod/POST/*") }));
      expect(await storedPolicy(client, created.id!)).toContain(`"arn:aws:execute-api:${REGION}:${ACCOUNT}:${created.id}/prod/POST/*"`);
    } finally {
      client.destroy();
    }
  });

  test(`the resource policy: ${RESOURCE_POLICY} characters (as stored) are accepted, one more is refused with BadRequestException 400 and the previous policy kept`, async () => {
    const client = apigateway();
    try {
      const api = await client.send(new CreateRestApiCommand({ name: "policy-quota" }));
      const full = `arn:aws:execute-api:${REGION}:${ACCOUNT}:${api.id}/*`;
      await setPolicy(client, api.id!, policyOf(full, RESOURCE_POLICY - 1));
      const atLimit = policyOf(full, RESOURCE_POLICY);
      await setPolicy(client, api.id!, atLimit);
      expect(await storedPolicy(client, api.id!)).toHaveLength(RESOURCE_POLICY);
      const refused = await refusal(setPolicy(client, api.id!, policyOf(full, RESOURCE_POLICY + 1)));
      expect(refused).toMatchObject({ name: "BadRequestException", status: 400 });
      expect(refused.message).toContain(`(${RESOURCE_POLICY})`);
      expect(await storedPolicy(client, api.id!)).toBe(atLimit);
      // The short form counts as stored (expanded): a short policy at the limit is over it once saved.
      const short = policyOf("execute-api:/*", RESOURCE_POLICY - (full.length - "execute-api:/*".length) * 2 + 1);
      expect(short.length).toBeLessThan(RESOURCE_POLICY);
      expect((await refusal(setPolicy(client, api.id!, short))).name).toBe("BadRequestException");
      expect((await refusal(client.send(new CreateRestApiCommand({ name: "too-big", policy: short })))).name).toBe("BadRequestException");
    } finally {
      client.destroy();
    }
  });
});

test("EFS: one mount target per Availability Zone; a second subnet of the same AZ is refused with MountTargetConflict 409", async () => {
  const { ec2, efs } = clients;
  const { Vpc } = await ec2.send(new CreateVpcCommand({ CidrBlock: "10.77.0.0/16" }));
  const subnet = async (cidr: string, az: string) =>
    (await ec2.send(new CreateSubnetCommand({ VpcId: Vpc!.VpcId, CidrBlock: cidr, AvailabilityZone: `${REGION}${az}` }))).Subnet!.SubnetId!;
  const [a1, a2, c1] = [await subnet("10.77.1.0/24", "a"), await subnet("10.77.2.0/24", "a"), await subnet("10.77.3.0/24", "c")];
  const { FileSystemId } = await efs.send(new CreateFileSystemCommand({ CreationToken: "mount-target-per-az" }));
  await efs.send(new CreateMountTargetCommand({ FileSystemId, SubnetId: a1 }));
  await efs.send(new CreateMountTargetCommand({ FileSystemId, SubnetId: c1 }));
  expect(await refusal(efs.send(new CreateMountTargetCommand({ FileSystemId, SubnetId: a2 })))).toEqual({
    name: "MountTargetConflict",
    status: 409,
    message: "mount target already exists in this AZ",
  });
  const { MountTargets = [] } = await efs.send(new DescribeMountTargetsCommand({ FileSystemId }));
  expect(MountTargets.map((m) => m.SubnetId).sort()).toEqual([a1, c1].sort());
});

test(`CodeBuild (inline buildspec): ${INLINE_BUILDSPEC} characters are accepted, one more is refused with InvalidInputException 400 (CreateProject and UpdateProject)`, async () => {
  const buildspec = (size: number) => {
    const head = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo ";
    return `${head}${"x".repeat(size - head.length)}`;
  };
  const project = (name: string, size: number) => ({
    name,
    source: { type: "NO_SOURCE" as const, buildspec: buildspec(size) },
    artifacts: { type: "NO_ARTIFACTS" as const },
    environment: { type: "ARM_CONTAINER" as const, image: "aws/codebuild/amazonlinux-aarch64-standard:4.0", computeType: "BUILD_GENERAL1_SMALL" as const },
    serviceRole: `arn:aws:iam::${ACCOUNT}:role/buildspec-quota`,
  });
  await clients.codebuild.send(new CreateProjectCommand(project("buildspec-at-quota", INLINE_BUILDSPEC)));
  const tooLong = { name: "InvalidInputException", status: 400, message: `Max buildspec length is ${INLINE_BUILDSPEC}` };
  expect(await refusal(clients.codebuild.send(new CreateProjectCommand(project("buildspec-over-quota", INLINE_BUILDSPEC + 1))))).toEqual(tooLong);
  expect(await refusal(clients.codebuild.send(new UpdateProjectCommand(project("buildspec-at-quota", INLINE_BUILDSPEC + 1))))).toEqual(tooLong);
  const { projects = [] } = await clients.codebuild.send(new BatchGetProjectsCommand({ names: ["buildspec-at-quota", "buildspec-over-quota"] }));
  // The refused project does not exist; the refused update changed nothing.
  expect(projects.map((p) => [p.name, p.source?.buildspec?.length])).toEqual([["buildspec-at-quota", INLINE_BUILDSPEC]]);
});
