# terraform test (offline: mock_provider): the resources each option adds or removes, and the
# variables' validation. Run with `terraform init -backend=false && terraform test` in the module's
# directory; `npm run test:module` runs it.

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
  vpc_id     = "vpc-0123456789abcdef0"
  subnet_ids = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
  repositories = [
    { project_key = "DEMO", repository = "web-app", codecommit_repository = "demo-web-app" },
    { project_key = "OPS", repository = "tools" },
  ]
}

run "defaults" {
  command = plan

  assert {
    condition     = toset(keys(aws_codebuild_project.Mirror_Repository_Project)) == toset(["DEMO/web-app", "OPS/tools"])
    error_message = "one sync project per repository, keyed PROJECT/REPO"
  }
  assert {
    condition     = aws_codecommit_repository.Mirror_Repository_Repository["DEMO/web-app"].repository_name == "demo-web-app" && aws_codecommit_repository.Mirror_Repository_Repository["OPS/tools"].repository_name == "tools"
    error_message = "codecommit_repository names the CodeCommit repository, else the Backlog name"
  }
  assert {
    condition     = aws_codebuild_project.Mirror_Repository_Project["OPS/tools"].name == "backlog-mirror-mirror-tools"
    error_message = "the sync project is NAME-mirror-CODECOMMIT"
  }
  assert {
    condition     = length(aws_codebuild_project.Mirror_SafetyNet_Project) == 1 && length(aws_cloudwatch_metric_alarm.Mirror_SafetyNet_OutOfSyncAlarm) == 1
    error_message = "the safety net is on by default"
  }
  assert {
    condition     = length(aws_api_gateway_rest_api_policy.Mirror_Webhook_Policy) == 1 && length(aws_wafv2_web_acl.Mirror_WebhookProtection_WebAcl) == 0
    error_message = "by default the webhook admits Backlog's addresses only, without a web ACL"
  }
  assert {
    condition     = length(aws_sns_topic_subscription.Mirror_Alerts_Email) == 0
    error_message = "no e-mail subscription unless alert_emails lists one"
  }
  assert {
    condition     = length(aws_efs_mount_target.Mirror_Storage_MountTarget) == 1
    error_message = "one mount target per availability zone of the subnets (the mock puts both in one)"
  }
}

run "every_option_switched" {
  command = plan

  variables {
    webhook      = { allow_any_source = true, waf_rate_limit_per_5_minutes = 2000 }
    resync       = { enabled = false }
    alert_emails = ["ops@example.com", "dev@example.com"]
    build        = { allow_debug_sessions = true, timeout_minutes = 60 }
  }

  assert {
    condition     = length(aws_codebuild_project.Mirror_SafetyNet_Project) == 0 && length(aws_cloudwatch_event_rule.Mirror_SafetyNet_Schedule) == 0
    error_message = "resync.enabled = false removes the safety net"
  }
  assert {
    condition     = length(aws_api_gateway_rest_api_policy.Mirror_Webhook_Policy) == 0
    error_message = "allow_any_source removes the resource policy"
  }
  assert {
    condition     = length(aws_wafv2_web_acl.Mirror_WebhookProtection_WebAcl) == 1 && length(aws_wafv2_web_acl_association.Mirror_WebhookProtection_WebAclAssociation) == 1
    error_message = "waf_rate_limit_per_5_minutes adds the web ACL and its association"
  }
  assert {
    condition     = length(aws_sns_topic_subscription.Mirror_Alerts_Email) == 2
    error_message = "one subscription per alert e-mail"
  }
  assert {
    condition     = aws_codebuild_project.Mirror_Repository_Project["DEMO/web-app"].build_timeout == 60
    error_message = "build.timeout_minutes is the sync project's timeout"
  }
}

run "pinned_host_keys_are_project_variables" {
  command = plan

  variables {
    backlog = {
      space_key         = "example-space"
      domain            = "backlog.com"
      ssh_key_parameter = "/backlog-mirror/ssh-key"
      host_keys         = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"]
    }
  }

  assert {
    condition     = contains([for v in aws_codebuild_project.Mirror_Repository_Project["OPS/tools"].environment[0].environment_variable : v.name], "BACKLOG_HOST_KEYS")
    error_message = "pinned keys reach the sync as BACKLOG_HOST_KEYS"
  }
  assert {
    condition     = !strcontains(aws_codebuild_project.Mirror_Repository_Project["OPS/tools"].source[0].buildspec, "BACKLOG_HOST_KEYS: /")
    error_message = "without host_keys_parameter the buildspec reads no host-key parameter"
  }
}

run "a_bad_name_is_refused" {
  command = plan

  variables {
    name = "Backlog_Mirror"
  }

  expect_failures = [var.name]
}

run "two_host_key_sources_are_refused" {
  command = plan

  variables {
    backlog = {
      space_key           = "example-space"
      domain              = "backlog.jp"
      ssh_key_parameter   = "/backlog-mirror/ssh-key"
      host_keys_parameter = "/backlog-mirror/host-keys"
      scan_host_key       = true
    }
  }

  expect_failures = [var.backlog]
}

run "a_repository_listed_twice_is_refused" {
  command = plan

  variables {
    repositories = [
      { project_key = "DEMO", repository = "web-app" },
      { project_key = "DEMO", repository = "Web-App" },
    ]
  }

  expect_failures = [var.repositories]
}

run "lfs_mirrors_the_objects_of_the_repositories_that_do_not_opt_out" {
  command = plan

  variables {
    lfs = { credentials_parameter = "/backlog-mirror/lfs-credentials" }
    repositories = [
      { project_key = "DEMO", repository = "web-app", codecommit_repository = "demo-web-app" },
      { project_key = "OPS", repository = "tools", lfs = false },
    ]
  }

  assert {
    condition     = toset(keys(aws_iam_policy.Mirror_Lfs_ReadPolicy)) == toset(["DEMO/web-app"])
    error_message = "one consumer read policy per repository that mirrors its LFS objects"
  }
  assert {
    condition     = local.Mirror_Repository_Instances["DEMO/web-app"].lfs_endpoint == "https://example-space.backlog.jp/git/DEMO/web-app.git/info/lfs" && local.Mirror_Repository_Instances["OPS/tools"].lfs_endpoint == ""
    error_message = "each sync project gets its repository's LFS server, empty when it opted out"
  }
  assert {
    condition     = contains([for s in data.aws_iam_policy_document.Mirror_Iam_BuildSyncDocument.statement : s.sid], "StoreLfsObjects")
    error_message = "the sync role may store LFS objects"
  }
}

run "without_lfs_nothing_is_mirrored" {
  command = plan

  assert {
    condition     = length(aws_iam_policy.Mirror_Lfs_ReadPolicy) == 0 && !contains([for s in data.aws_iam_policy_document.Mirror_Iam_BuildSyncDocument.statement : s.sid], "StoreLfsObjects")
    error_message = "without lfs: no read policy, no LFS grant"
  }
}

run "a_repository_cannot_ask_for_lfs_without_the_setting" {
  command = plan

  variables {
    repositories = [{ project_key = "DEMO", repository = "web-app", lfs = true }]
  }
  expect_failures = [var.repositories]
}

run "without_a_fleet_every_build_places_itself_in_the_vpc" {
  command = plan

  assert {
    condition     = length(aws_codebuild_fleet.Mirror_Fleet_Resource) == 0 && length(aws_iam_role.Mirror_Fleet_Role) == 0
    error_message = "no fleet and no fleet role unless build.fleet is set"
  }
  assert {
    condition     = length(aws_codebuild_project.Mirror_Repository_Project["OPS/tools"].vpc_config) == 1 && length(aws_codebuild_project.Mirror_Repository_Project["OPS/tools"].environment[0].fleet) == 0
    error_message = "without a fleet a sync project has its own vpc_config"
  }
  assert {
    condition     = length(aws_codebuild_project.Mirror_SafetyNet_Project[0].vpc_config) == 1 && aws_codebuild_project.Mirror_SafetyNet_Project[0].environment[0].compute_type == "BUILD_GENERAL1_SMALL"
    error_message = "without a fleet the safety net runs on-demand, small, in the VPC"
  }
}

run "a_fleet_runs_the_syncs_and_the_safety_net" {
  command = plan

  variables {
    build = { compute_type = "BUILD_GENERAL1_MEDIUM", fleet = { base_capacity = 2, overflow = "queue" } }
  }

  assert {
    condition     = aws_codebuild_fleet.Mirror_Fleet_Resource[0].base_capacity == 2 && aws_codebuild_fleet.Mirror_Fleet_Resource[0].overflow_behavior == "QUEUE"
    error_message = "build.fleet gives the fleet's capacity and overflow behavior"
  }
  assert {
    condition     = aws_codebuild_fleet.Mirror_Fleet_Resource[0].environment_type == "ARM_CONTAINER" && aws_codebuild_fleet.Mirror_Fleet_Resource[0].compute_type == "BUILD_GENERAL1_MEDIUM" && aws_codebuild_fleet.Mirror_Fleet_Resource[0].name == "backlog-mirror-fleet"
    error_message = "the fleet is ARM, of the sync builds' compute type"
  }
  assert {
    condition     = toset(aws_codebuild_fleet.Mirror_Fleet_Resource[0].vpc_config[0].subnets) == toset(["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]) && aws_codebuild_fleet.Mirror_Fleet_Resource[0].vpc_config[0].vpc_id == "vpc-0123456789abcdef0"
    error_message = "the fleet is in the stack's VPC and subnets"
  }
  assert {
    condition     = length(aws_iam_role.Mirror_Fleet_Role) == 1 && length(aws_iam_role_policy.Mirror_Fleet_RolePolicy) == 1
    error_message = "the fleet has its service role"
  }
  assert {
    condition     = alltrue([for p in aws_codebuild_project.Mirror_Repository_Project : length(p.environment[0].fleet) == 1 && length(p.vpc_config) == 0])
    error_message = "every sync project runs on the fleet, without a vpc_config of its own (CreateProject: do not provide vpcConfig with a fleet)"
  }
  assert {
    condition     = length(aws_codebuild_project.Mirror_SafetyNet_Project[0].environment[0].fleet) == 1 && length(aws_codebuild_project.Mirror_SafetyNet_Project[0].vpc_config) == 0 && aws_codebuild_project.Mirror_SafetyNet_Project[0].environment[0].compute_type == "BUILD_GENERAL1_MEDIUM"
    error_message = "the safety net runs on the fleet, with the fleet's compute type"
  }
}

run "a_fleet_overflows_on_demand_by_default" {
  command = plan

  variables {
    build = { fleet = { base_capacity = 1 } }
  }

  assert {
    condition     = aws_codebuild_fleet.Mirror_Fleet_Resource[0].overflow_behavior == "ON_DEMAND" && aws_codebuild_fleet.Mirror_Fleet_Resource[0].compute_type == "BUILD_GENERAL1_SMALL"
    error_message = "overflow defaults to on-demand"
  }
}

run "a_fleet_larger_than_the_repositories_is_refused" {
  command = plan

  variables {
    build = { fleet = { base_capacity = 3 } }
  }
  expect_failures = [var.build]
}

run "an_unknown_fleet_overflow_is_refused" {
  command = plan

  variables {
    build = { fleet = { base_capacity = 1, overflow = "ON_DEMAND" } }
  }
  expect_failures = [var.build]
}
