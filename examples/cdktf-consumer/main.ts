/**
 * A CDKTF app of another team that uses the mirror as an npm package: it imports the construct and
 * its props type by the package's name, adds its own provider, backend and outputs, and synthesizes.
 *
 *   (in the repository root)   npm pack            → backlog-codecommit-mirror-0.1.0.tgz
 *   (here)                     npm install && npm run synth   → cdktf.out/stacks/platform-mirror/cdk.tf.json
 */
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { BacklogCodeCommitMirror, type BacklogCodeCommitMirrorProps } from "backlog-codecommit-mirror";
import { App, S3Backend, TerraformOutput, TerraformStack } from "cdktf";
import type { Construct } from "constructs";

const props: BacklogCodeCommitMirrorProps = {
  name: "platform",
  backlog: {
    spaceKey: "platform-team",
    domain: "backlog.com",
    sshKeyParameter: "/platform/backlog/ssh-key",
    hostKeysParameter: "/platform/backlog/host-keys",
  },
  network: { vpcId: "vpc-0a1b2c3d4e5f60718", subnetIds: ["subnet-0a1b2c3d4e5f60718", "subnet-08f7e6d5c4b3a2910"] },
  repositories: [
    { projectKey: "PLAT", repository: "service-catalog" },
    { projectKey: "PLAT", repository: "runbooks", codecommitRepository: "platform-runbooks" },
  ],
};

class PlatformMirrorStack extends TerraformStack {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    new AwsProvider(this, "aws", { region: "ap-northeast-1" });
    new S3Backend(this, { bucket: "platform-terraform-state", key: "mirror/terraform.tfstate", region: "ap-northeast-1", encrypt: true });
    // State locking with an S3 lock object, stable from Terraform 1.11 (experimental in 1.10);
    // CDKTF 0.21's S3Backend has no typed field for it.
    this.addOverride("terraform.backend.s3.use_lockfile", true);
    this.addOverride("terraform.required_version", ">= 1.11");

    const mirror = new BacklogCodeCommitMirror(this, "Mirror", props);
    new TerraformOutput(this, "webhook_urls", {
      description: "Paste into Backlog: Project settings → Git → repository → Webhook URL",
      value: Object.fromEntries(mirror.repositories.map((r) => [r.key, r.webhookUrl])),
    });
  }
}

const app = new App();
new PlatformMirrorStack(app, "platform-mirror");
app.synth();
