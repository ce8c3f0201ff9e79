# terraform test (offline: mock_provider): the ref selection (sync.refs, repositories[*].refs) and
# its validation. `npm run test:module` runs it.

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
    { project_key = "DEMO", repository = "web-app" },
    { project_key = "OPS", repository = "tools", refs = { include = ["refs/heads/main", "refs/tags/v*"] } },
  ]
}

run "every_branch_and_tag_by_default" {
  command = plan

  assert {
    condition     = [for v in aws_codebuild_project.Mirror_Repository_Project["DEMO/web-app"].environment[0].environment_variable : v.value if v.name == "REF_INCLUDE"] == ["refs/heads/*,refs/tags/*"]
    error_message = "without a selection, every branch and tag is mirrored"
  }
  assert {
    condition     = [for v in aws_codebuild_project.Mirror_Repository_Project["DEMO/web-app"].environment[0].environment_variable : v.value if v.name == "REF_EXCLUDE"] == ["-"]
    error_message = "without a selection, nothing is excluded"
  }
}

run "a_repository_selection_replaces_the_stack_one" {
  command = plan

  variables {
    sync = { refs = { exclude = ["refs/heads/wip/*"] } }
  }

  assert {
    condition     = [for v in aws_codebuild_project.Mirror_Repository_Project["OPS/tools"].environment[0].environment_variable : "${v.name}=${v.value}" if startswith(v.name, "REF_")] == ["REF_INCLUDE=refs/heads/main,refs/tags/v*", "REF_EXCLUDE=-"]
    error_message = "repositories[*].refs replaces sync.refs, exclude included"
  }
  assert {
    condition     = [for v in aws_codebuild_project.Mirror_Repository_Project["DEMO/web-app"].environment[0].environment_variable : "${v.name}=${v.value}" if startswith(v.name, "REF_")] == ["REF_INCLUDE=refs/heads/*,refs/tags/*", "REF_EXCLUDE=refs/heads/wip/*"]
    error_message = "sync.refs applies to the repositories without their own"
  }
  assert {
    condition     = strcontains(aws_s3_object.Mirror_SafetyNet_RepositoryList[0].content, "OPS/tools tools backlog-mirror-mirror-tools refs/heads/main,refs/tags/v* -\n")
    error_message = "the safety net's list carries each repository's selection"
  }
}

run "a_pattern_outside_heads_and_tags_is_refused" {
  command = plan
  variables {
    sync = { refs = { include = ["refs/heads/*", "refs/pull/*"] } }
  }
  expect_failures = [var.sync]
}

run "excluding_every_branch_is_refused" {
  command = plan
  variables {
    sync = { refs = { exclude = ["refs/heads/*"] } }
  }
  expect_failures = [var.sync]
}

run "a_repository_selection_without_a_branch_is_refused" {
  command = plan
  variables {
    repositories = [{ project_key = "DEMO", repository = "web-app", refs = { include = ["refs/tags/*"] } }]
  }
  expect_failures = [var.repositories]
}
