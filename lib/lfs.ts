/**
 * Git LFS for the consumers of the mirrors (setting `lfs`, docs/lfs.md): per repository that
 * mirrors its LFS objects, an IAM managed policy that lets a consumer's build role read them from
 * the stack's bucket (`lfs/PROJECT/REPO/objects/*`) and download the transfer agent
 * (lib/buildspec/lfs-s3-agent.sh, in the build scripts' folder), and the commands a consumer runs
 * before `git lfs pull`. The sync side (what the sync builds need) is `lfsSyncStatements` in lib/iam.ts.
 *
 * The policies are one `for_each` resource keyed `PROJECT/REPO` (adding a repository adds its
 * instance only), each with its own policy document (one `for_each` data source over the same map).
 */
import { DataAwsIamPolicyDocument } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { IamPolicy } from "@cdktf/provider-aws/lib/iam-policy";
import { TerraformIterator, TerraformLocal, Token, propertyAccess, ref } from "cdktf";
import { Construct } from "constructs";
import { BUILD_SCRIPT_FILES } from "./build-scripts";
import { lfsObjectsPrefix, repositoryKey } from "./naming";
import type { RepositoryMirrorSpec } from "./props";
import { hclTemplate } from "./terraform-values";

/** The transfer agent's name in a consumer's git configuration (`lfs.customtransfer.NAME`). */
export const LFS_AGENT_NAME = "backlog-mirror";

/** Where a consumer's build puts the agent it downloads. */
export const LFS_AGENT_LOCAL_PATH = "/tmp/backlog-mirror-lfs-agent.sh";

/** Actions of a consumer's read policy. */
export const LFS_CONSUMER_ACTIONS = { read: ["s3:GetObject"], decrypt: ["kms:Decrypt"] } as const;

/** The repositories whose LFS objects a stack mirrors: all of them unless `lfs: false`, none without `lfs`. */
export function lfsRepositories(lfsOn: boolean, repositories: readonly RepositoryMirrorSpec[]): RepositoryMirrorSpec[] {
  return lfsOn ? repositories.filter((r) => r.lfs !== false) : [];
}

/** `s3://BUCKET/lfs/PROJECT/REPO/objects`: the agent's argument for one repository. */
export function lfsObjectsUri(bucketName: string, repo: Pick<RepositoryMirrorSpec, "projectKey" | "repository">): string {
  return `s3://${bucketName}/${lfsObjectsPrefix(repo).replace(/\/$/, "")}`;
}

/**
 * The commands a consumer's buildspec runs in its clone of the CodeCommit copy before
 * `git lfs pull`: download the agent, then the three `git config` lines that make git-lfs use it
 * without any LFS server.
 */
export function lfsConsumerCommands(agentUri: string, objectsUri: string): string[] {
  return [
    `aws s3 cp --only-show-errors ${agentUri} ${LFS_AGENT_LOCAL_PATH} && chmod +x ${LFS_AGENT_LOCAL_PATH}`,
    `git config lfs.standalonetransferagent ${LFS_AGENT_NAME}`,
    `git config lfs.customtransfer.${LFS_AGENT_NAME}.path ${LFS_AGENT_LOCAL_PATH}`,
    `git config lfs.customtransfer.${LFS_AGENT_NAME}.args ${objectsUri}`,
  ];
}

/** Props of {@link MirrorLfs}. */
export interface MirrorLfsProps {
  /** The stack's name: the policies' name prefix. */
  readonly name: string;
  /**
   * The repositories that mirror their LFS objects ({@link lfsRepositories}); at least one. Or (the
   * module) the HCL list of the stack's repositories, whose `lfs_endpoint` is "" for those that do not.
   */
  readonly repositories: readonly RepositoryMirrorSpec[] | { readonly hcl: string };
  readonly bucketName: string;
  readonly bucketArn: string;
  /** `tools/SHA256/`: the build scripts' folder (lib/build-scripts.ts), where the agent is. */
  readonly scriptsFolder: string;
  /** The stack's customer-managed key, which encrypts the bucket's objects. @default - SSE-S3 */
  readonly kmsKeyArn?: string;
  /** The stack's region, for the KMS grant's `kms:ViaService` (S3). */
  readonly region: string;
}

/** What a consumer of one repository's LFS objects needs. */
export interface LfsConsumer {
  /** ARN of the managed policy to attach to the consumer's build role. */
  readonly readPolicyArn: string;
  /** `s3://BUCKET/lfs/PROJECT/REPO/objects`. */
  readonly objectsUri: string;
  /** `s3://BUCKET/tools/SHA256/lfs-s3-agent.sh`. */
  readonly agentUri: string;
  /** The commands to run before `git lfs pull` ({@link lfsConsumerCommands}). */
  readonly commands: string[];
}

/** The consumers' read policies, one per repository that mirrors its LFS objects. */
export class MirrorLfs extends Construct {
  public readonly policy: IamPolicy;
  /** Per repository key (`PROJECT/REPO`), when the repositories are known at synthesis (the stack). */
  public readonly consumers: ReadonlyMap<string, LfsConsumer>;
  /** The value of the `lfs` output: per `PROJECT/REPO`, read_policy_arn, objects_uri, agent_uri and commands. */
  public readonly consumersOutput: unknown;

  constructor(scope: Construct, id: string, props: MirrorLfsProps) {
    super(scope, id);
    const agentKey = `${props.scriptsFolder}${BUILD_SCRIPT_FILES.LfsAgent}`;
    const instance = (r: Pick<RepositoryMirrorSpec, "projectKey" | "repository">) => ({
      objects_arn: `${props.bucketArn}/${lfsObjectsPrefix(r)}*`,
      description: `Read the Git LFS objects of Backlog ${repositoryKey(r)} mirrored by ${props.name}`,
    });
    const repos = props.repositories;
    const fields = { projectKey: "${r.project_key}", repository: "${r.repository}" };
    const expression = Array.isArray(repos)
      ? undefined
      : `{ for r in ${(repos as { hcl: string }).hcl} : r.key => { ${Object.entries(instance(fields))
          .map(([k, v]) => `${k} = ${hclTemplate(v)}`)
          .join(", ")} } if r.lfs_endpoint != "" }`;
    const instances = new TerraformLocal(
      this,
      "Instances",
      expression !== undefined
        ? Token.asAny(ref(expression))
        : Object.fromEntries((repos as readonly RepositoryMirrorSpec[]).map((r) => [repositoryKey(r), instance(r)])),
    );
    const each = TerraformIterator.fromMap(instances.asAnyMap);
    const document = new DataAwsIamPolicyDocument(this, "Document", {
      forEach: each,
      statement: [
        { sid: "ReadLfsObjects", effect: "Allow", actions: [...LFS_CONSUMER_ACTIONS.read], resources: [each.getString("objects_arn")] },
        { sid: "DownloadLfsAgent", effect: "Allow", actions: [...LFS_CONSUMER_ACTIONS.read], resources: [`${props.bucketArn}/${agentKey}`] },
        ...(props.kmsKeyArn === undefined
          ? []
          : [
              {
                sid: "DecryptLfsObjects",
                effect: "Allow",
                actions: [...LFS_CONSUMER_ACTIONS.decrypt],
                resources: [props.kmsKeyArn],
                condition: [{ test: "StringEquals", variable: "kms:ViaService", values: [`s3.${props.region}.amazonaws.com`] }],
              },
            ]),
      ],
    });
    this.policy = new IamPolicy(this, "ReadPolicy", {
      forEach: each,
      namePrefix: `${props.name}-lfs-read-`,
      description: each.getString("description"),
      policy: Token.asString(propertyAccess(document, [each.key, "json"])),
    });
    const agentUri = `s3://${props.bucketName}/${agentKey}`;
    const known = Array.isArray(repos) ? (repos as readonly RepositoryMirrorSpec[]) : [];
    this.consumers = new Map(
      known.map((r) => {
        const objectsUri = lfsObjectsUri(props.bucketName, r);
        return [
          repositoryKey(r),
          {
            readPolicyArn: Token.asString(propertyAccess(this.policy, [repositoryKey(r), "arn"])),
            objectsUri,
            agentUri,
            commands: lfsConsumerCommands(agentUri, objectsUri),
          },
        ];
      }),
    );
    // The same, as one `for` expression over the policies (the value of the `lfs` output).
    const objectsUri = lfsObjectsUri(props.bucketName, { projectKey: "${split(\"/\", k)[0]}", repository: "${split(\"/\", k)[1]}" });
    const commands = lfsConsumerCommands(agentUri, objectsUri).map(hclTemplate).join(", ");
    this.consumersOutput = Token.asAny(
      ref(
        `{ for k, v in ${instances.fqn} : k => { read_policy_arn = ${this.policy.fqn}[k].arn, objects_uri = ${hclTemplate(objectsUri)}, agent_uri = ${hclTemplate(agentUri)}, commands = [${commands}] } }`,
      ),
    );
  }
}
