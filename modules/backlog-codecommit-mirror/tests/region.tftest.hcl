# The provider's region is no input of the module, so no variable can validate it: data.aws_region
# carries a postcondition instead (lib/regions.ts: CodeBuild runs ARM_CONTAINER builds only in the
# regions the CodeBuild documentation lists, "Build environment compute modes and types").

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name = "backlog-mirror"
  backlog = {
    space_key           = "example-space"
    domain              = "backlog.jp"
    ssh_key_parameter   = "/backlog-mirror/ssh-key"
    host_keys_parameter = "/backlog-mirror/host-keys"
  }
  vpc_id       = "vpc-0123456789abcdef0"
  subnet_ids   = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
  repositories = [{ project_key = "DEMO", repository = "web-app" }]
}

run "tokyo_plans" {
  command = plan

  override_data {
    target = data.aws_region.Mirror_Region
    values = { id = "ap-northeast-1" }
  }
}

run "canada_central_is_refused" {
  command = plan

  override_data {
    target = data.aws_region.Mirror_Region
    values = { id = "ca-central-1" }
  }

  expect_failures = [data.aws_region.Mirror_Region]
}
