/**
 * Using the construct inside your own CDKTF app: here the VPC and subnets come from the same app
 * (their ids are tokens, resolved by Terraform), and the outputs are chosen by the app.
 *
 * Synthesize with: node --import tsx examples/construct-in-your-app/main.ts
 */
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Subnet } from "@cdktf/provider-aws/lib/subnet";
import { Vpc } from "@cdktf/provider-aws/lib/vpc";
import { App, TerraformOutput, TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import { BacklogCodeCommitMirror } from "../../lib";

export class PlatformStack extends TerraformStack {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    new AwsProvider(this, "aws", { region: "us-west-2" });

    const vpc = new Vpc(this, "Vpc", { cidrBlock: "10.20.0.0/16", tags: { Name: "platform" } });
    const subnets = ["us-west-2a", "us-west-2b"].map(
      (az, i) =>
        new Subnet(this, `Private${i}`, { vpcId: vpc.id, availabilityZone: az, cidrBlock: `10.20.${i}.0/24` }),
    );

    const mirror = new BacklogCodeCommitMirror(this, "BacklogMirror", {
      name: "platform",
      backlog: {
        spaceKey: "platform-team",
        domain: "backlog.jp",
        sshKeyParameter: "/platform/backlog/ssh-key",
        hostKeysParameter: "/platform/backlog/host-keys",
      },
      network: { vpcId: vpc.id, subnetIds: subnets.map((s) => s.id) },
      repositories: [{ projectKey: "PLAT", repository: "service-catalog" }],
    });

    for (const repo of mirror.repositories) {
      new TerraformOutput(this, `webhook-${repo.codecommitRepositoryName}`, { value: repo.webhookUrl });
    }
  }
}

if (require.main === module) {
  const app = new App();
  new PlatformStack(app, "platform");
  app.synth();
}
